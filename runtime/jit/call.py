"""Calling functions of a JIT store from Python with runtime-representation values.

A wasm function runs through its signature's generated caller (``callers.py``), made on
its first call; a host function is called directly.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.jit.callers import caller_for
from pyjitwasm.runtime.jit.store import JitFunc


def invoke(func: FuncInstance, args: list[Any]) -> list[Any]:
    """Call ``func`` with runtime-representation arguments; return its results."""
    if func.host is not None:
        return func.host(None, list(args))
    jf: JitFunc = func.compiled
    caller = jf.caller
    if caller is None:
        caller = jf.caller = caller_for(func)
    return caller(args)
