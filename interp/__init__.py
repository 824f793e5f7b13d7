"""The reference interpreter: runs validated modules instruction by instruction."""

from .compile import ModuleCode, compile_function
from .machine import backtrace, compiled_for, invoke

__all__ = ["ModuleCode", "backtrace", "compile_function", "compiled_for", "invoke"]
