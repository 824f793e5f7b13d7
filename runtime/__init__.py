"""Engine-independent runtime objects: memories, tables, globals, functions, instances,
instantiation, and traps. The interpreter and the JIT share them."""

from pyjitwasm.runtime.errors import Frame, InstantiationError, LinkError, Trap
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import FuncInstance, ModuleInstance
from pyjitwasm.runtime.instantiation import InstanceAllocator, PlainAllocator, instantiate
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance

__all__ = [
    "BytearrayMemory",
    "Frame",
    "FuncInstance",
    "GlobalInstance",
    "InstanceAllocator",
    "InstantiationError",
    "LinkError",
    "ListTable",
    "MemoryInstance",
    "ModuleInstance",
    "PlainAllocator",
    "StoreContext",
    "TableInstance",
    "Trap",
    "instantiate",
]
