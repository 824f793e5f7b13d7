"""Tier 0 without the IR: one wasm function body straight to LLVM IR text.

A baseline compiler in the manner of V8's Liftoff or Wasmtime's Winch, except that what
it writes is LLVM text for LLVM's cheapest configuration.  The body is read once; the
wasm operand stack is a Python list of LLVM value names (an ``i32`` constant is its
decimal literal, folded into its uses); locals live in ``alloca`` slots (LLVM's level-0
code generation keeps values in memory anyway, and no SSA construction is needed);
inside one basic block a local's current value is remembered, so a ``local.get`` after
a ``local.set`` or another ``local.get`` loads nothing.  A block's results meet in
``phi`` nodes (every edge into a block's end is a forward edge, known by the time the
end is reached); a loop's parameters go through ``alloca`` slots.

The code has the ABI and the behaviour of the IR path's tier-0 code
(``translate/`` + ``ir/legalize.py`` + ``jit/lower.py`` with tier counters), so the two
share a batch and a slot table: the same function symbol, parameters and results
(``jit/abi.py``), the stack-limit prologue, every call through a code slot, the
tier-up counter at entry and at loop headers (``translate/tiering.py``), static heaps
unchecked behind their guard pages and dynamic heaps checked against their length
(``translate/memory.py``, ``ir/legalize.py``), heap accesses ``volatile`` with a
compiler fence before each trap branch, trap calls with a site number each
(``abi.trap_operand``), and ``call_indirect``'s checks in wasm's order.

What it does not cover makes :func:`emit_function` return None, and the function takes
the IR path (per-function fallback): SIMD and reference types, memory64 and tables of
64-bit indices, bulk memory instructions other than ``memory.fill``/``memory.copy``
(inline form), table instructions, tail calls, multi-value function
results (block results of any count are covered), and any function when epoch or fuel
checks are compiled in.

Modules: ``function`` (the per-function state and what handlers share), ``control``,
``memory`` and ``numeric`` (the handlers and their parts of the table), this one (the
table and the entry point) and ``tier0`` (the compile driver's hook).
"""

from __future__ import annotations

from pyjitwasm.baseline import control, memory, numeric
from pyjitwasm.baseline.function import FunctionEmitter, Handler, Unsupported
from pyjitwasm.jit.lower_debug import FunctionLocations
from pyjitwasm.translate.module_info import ModuleInfo

HANDLERS: dict[int, Handler] = {**control.HANDLERS, **memory.HANDLERS, **numeric.HANDLERS}
"""The one table: wasm opcode -> handler.  An opcode not in it is not covered."""


def emit_function(info: ModuleInfo, func_index: int, name: str, linkage: str,
                  declarations: dict[str, str],
                  locations: FunctionLocations | None = None) -> str | None:
    """The LLVM text defining wasm function ``func_index`` as ``@name`` (tier-0 code,
    the IR path's ABI), or None when the function uses something not covered (the
    caller then takes the IR path).  ``declarations`` receives the ``declare`` lines the
    text needs (name -> line), added only when the function is covered.  ``locations``:
    give the instructions a backtrace may stop at their wasm offsets as debug locations
    (the machine code is the same either way)."""
    if info.checks.epoch or info.checks.fuel:
        return None
    emitter = FunctionEmitter(info, func_index, {}, locations)
    try:
        text = emitter.emit(name, linkage, HANDLERS)
    except Unsupported:
        return None
    for key, line in emitter.declarations.items():
        declarations.setdefault(key, line)
    return text


__all__ = ["HANDLERS", "FunctionEmitter", "Unsupported", "emit_function"]
