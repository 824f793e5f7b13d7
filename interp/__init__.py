"""The reference interpreter: runs validated modules instruction by instruction."""

from pyjitwasm.interp.compile import ModuleCode, compile_function
from pyjitwasm.interp.machine import backtrace, compiled_for, invoke

__all__ = ["ModuleCode", "backtrace", "compile_function", "compiled_for", "invoke"]
