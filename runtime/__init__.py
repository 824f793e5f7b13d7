"""Engine-independent runtime objects: memories, tables, globals, functions, instances,
instantiation, and traps. The interpreter and the JIT share them."""

from pyjitwasm.runtime.errors import Frame, InstantiationError, LinkError, Trap
from pyjitwasm.runtime.functions import FuncInstance
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import ModuleInstance, instantiate
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance

__all__ = [
    "Frame",
    "FuncInstance",
    "GlobalInstance",
    "InstantiationError",
    "LinkError",
    "MemoryInstance",
    "ModuleInstance",
    "StoreContext",
    "TableInstance",
    "Trap",
    "instantiate",
]
