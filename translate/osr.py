"""On-stack replacement entries: tier-1 code that starts a function at a loop header.

Tier-0 code running a long loop (a ``bench/`` program's ``run``, a CLI's ``main``) calls
the runtime at a loop header; once the runtime has compiled an *OSR entry* for that
(function, loop), the tier-0 frame calls it and returns what it returns.  The entry is
the whole function translated again with one difference: it begins at the loop header,
with the locals read from the tier-0 frame.

ABI (the contract with ``x64/``, which makes the call): machine code
``R entry(uint64_t vmctx, uint64_t locals)``, ``R`` the function's single result (in
rax or xmm0 as for any wasm function) or void; ``locals`` is the address of local 0's
8-byte slot and local ``i``'s slot is ``LOCAL_SLOT_SIZE * i`` bytes *below* it (x64's
frame keeps local ``i`` at ``[rbp - 32 - 8i]``).  An i32 or f32 is in the low 4 bytes of
its slot (the high 4 are garbage), an i64 or f64 fills it.  In IR the signature is
``(i64 vmctx, i64 locals) -> results`` with the second parameter's purpose
``OSR_LOCALS_PURPOSE``: the lowering passes it where other wasm functions take their
caller's vmctx (``jit/lower.py``), so it arrives in rsi as the C signature says.  The
symbol is ``wasm_osr_{func_index}_{loop_offset}``, never a normal function's.

How the IR is built (hooks the translator calls; each does nothing for normal code):
- ``FunctionState`` made with ``osr_loop`` has the OSR signature and no locals yet;
- :func:`at_body_start`, after the function-entry checks (epoch/fuel: the entry is a
  function entry for them), loads every local from its slot (an i32/f32 with a 4-byte
  load of the slot's low half, so the garbage is never read), defines the locals' SSA
  variables with those values and keeps the current block as the *launch* block, left
  open; the body is then translated as usual from a fresh block that has no
  predecessor (sealed at once: the SSA builder reads every variable there as zero), so
  the code before the loop exists in the IR but is unreachable: the lowering emits only
  blocks reachable from the entry, and the verifier only asks a definition of values
  used in unreachable blocks;
- :func:`enter_loop`, when the ``loop`` at ``loop_offset`` is translated (its header is
  made and the dead path's jump into it emitted), checks that the operand stack is empty
  and the loop takes no parameters, then ends the launch block with a jump to the
  header: the header is sealed only after its back-edges, so it just gets one more
  predecessor, and the SSA builder's header parameters take the loaded locals on that
  edge;
- :func:`at_body_end` refuses an entry whose loop the translator never reached (it was
  in code after an unconditional branch).
Everything after the header (iterations, enclosing blocks, outer loops, the return)
is the function's own translation: the entry returns the function's result to its
caller.  Tier-up counters are never enabled for it; calls go through code slots.
"""

from __future__ import annotations

from pyjitwasm.ir.function import Block
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.osr_abi import (
    LOCAL_SLOT_SIZE,
    OSR_LOCALS_PURPOSE,
    OsrError,
    osr_function_name,
    osr_signature,
)
from pyjitwasm.translate.state import FunctionState, OsrState
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr, WasmModule
from pyjitwasm.wasm.opcodes import BLOCKTYPE_EMPTY
from pyjitwasm.wasm.types import F32, F64, I32, I64

_SLOT_TYPES = frozenset((I32, I64, F32, F64))


def check_osr_loop(module: WasmModule, func_index: int, loop_offset: int) -> None:
    """Raise :class:`OsrError` unless defined function ``func_index`` (index space) can
    have an OSR entry at the ``loop`` whose ``Instr.offset`` is ``loop_offset``: at most
    one result, every local (parameters, then declared locals) an i32, i64, f32 or f64,
    and the loop's block type without parameters.  (That the operand stack is empty at
    the loop is checked when the translation gets there.)"""
    first = module.num_imported_funcs
    k = func_index - first
    if not 0 <= k < len(module.codes):
        raise OsrError(f"function {func_index} is not defined by the module")
    ftype = module.types[module.funcs[k]]
    where = f"function {func_index}"
    if len(ftype.results) > 1:
        raise OsrError(f"{where} has {len(ftype.results)} results: an OSR entry returns "
                       "at most one")
    body = module.codes[k]
    for index, valtype in enumerate((*ftype.params, *body.locals)):
        if valtype not in _SLOT_TYPES:
            raise OsrError(f"{where}: local {index} is not an i32, i64, f32 or f64: "
                           "it has no slot an OSR entry can read")
    loop = _loop_at(body.instrs, loop_offset)
    if loop is None:
        raise OsrError(f"{where} has no loop instruction at offset {loop_offset}")
    blocktype = loop.imm.blocktype
    if blocktype != BLOCKTYPE_EMPTY and blocktype >= 0 and module.types[blocktype].params:
        raise OsrError(f"{where}: the loop at offset {loop_offset} takes parameters")


def _loop_at(instrs: list[Instr], offset: int) -> Instr | None:
    for instr in instrs:
        if instr.offset == offset:
            return instr if instr.op == op.LOOP else None
    return None


# Hooks (``translator`` and ``control`` call them for every function; they act only on
# an OSR entry's translation, ``t.osr`` set). ------------------------------------------


def at_body_start(t: FunctionState) -> None:
    """Hook: the function-entry code is emitted (the current block follows it).  Load
    the locals, keep the current block as the launch block, continue in a dead one."""
    osr = t.osr
    if osr is None:
        return
    fb = t.fb
    ins = t.ins()
    for index, valtype in enumerate((*t.ftype.params, *t.body.locals)):
        ty = from_wasm(valtype)
        var = fb.declare_var(ty)
        # A 4-byte load of an i32/f32 slot reads its low half (little endian).
        fb.def_var(var, ins.load(ty, TRUSTED, osr.locals_ptr, -LOCAL_SLOT_SIZE * index))
        t.locals.append(var)
    osr.launch = fb.current
    dead = fb.create_block()
    fb.seal_block(dead)  # no predecessor, ever: unreachable
    fb.switch_to_block(dead)


def enter_loop(t: FunctionState, instr: Instr, header: Block, params: int) -> None:
    """Hook: ``instr`` (a ``loop``) has its header block ``header``, which is not yet
    current; when it is the OSR entry's loop, the launch block jumps to it."""
    osr = t.osr
    if osr is None or instr.offset != osr.loop_offset:
        return
    where = f"function {t.func_index}, loop at offset {instr.offset}"
    if params:
        raise OsrError(f"{where}: the loop takes parameters")
    if t.stack:
        raise OsrError(f"{where}: the operand stack holds {len(t.stack)} value(s) at the "
                       "loop, which an OSR entry cannot take over")
    assert osr.launch is not None and not osr.entered
    fb = t.fb
    fb.switch_to_block(osr.launch)
    t.ins().jump(header, [])
    osr.entered = True


def at_body_end(t: FunctionState) -> None:
    """Hook: the body is translated (before the builder is finalized)."""
    osr = t.osr
    if osr is not None and not osr.entered:
        raise OsrError(f"function {t.func_index}: the loop at offset {osr.loop_offset} is "
                       "in unreachable code")


__all__ = ["LOCAL_SLOT_SIZE", "OSR_LOCALS_PURPOSE", "OsrError", "OsrState", "at_body_end",
           "at_body_start", "check_osr_loop", "enter_loop", "osr_function_name",
           "osr_signature"]
