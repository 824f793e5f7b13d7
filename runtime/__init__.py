"""Engine-independent runtime objects: memories, tables, globals, functions, instances,
instantiation, and traps. The interpreter and the JIT share them."""

from .errors import Frame, InstantiationError, LinkError, Trap
from .functions import FuncInstance
from .globals import GlobalInstance
from .instance import ModuleInstance, instantiate
from .memory import MemoryInstance
from .store import StoreContext
from .table import TableInstance

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
