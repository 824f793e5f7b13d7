"""The interpreter's dispatch loop.

Wasm-to-wasm calls never recurse in Python: each activation is a tuple on an explicit
frame list, so the call-depth limit traps cleanly as "call stack exhausted". Calls from
wasm into the host (and back) do recurse in Python; their nesting is bounded by the
store's ``max_host_nesting`` and any RecursionError is turned into the same trap.
"""

from __future__ import annotations

import struct
from typing import Any

from pyjitwasm.interp import code as C
from pyjitwasm.interp.code import CompiledFunction
from pyjitwasm.interp.compile import ModuleCode
from pyjitwasm.interp.memops import memory_grow
from pyjitwasm.runtime.errors import Frame, Trap
from pyjitwasm.runtime.instance import FuncInstance, ModuleInstance
from pyjitwasm.wasm.traps import TrapCode

_MEMORY_ACCESS_OPS = frozenset({C.LOAD, C.STORE, C.LOADX, C.STOREX, C.LOADN, C.STOREN})


def compiled_for(func: FuncInstance) -> CompiledFunction:
    """The compiled form of a wasm function (compiled on first use)."""
    compiled = func.compiled
    if compiled is None:
        inst = func.instance
        assert inst is not None
        cache = inst.code_cache
        if isinstance(cache, ModuleCode):
            module_code = cache
        else:
            module_code = ModuleCode(inst.module)
            inst.code_cache = module_code
        compiled = func.compiled = module_code.get(func.code_slot)
    return compiled


def invoke(func: FuncInstance, args: list[Any]) -> list[Any]:
    """Call a function with arguments in the runtime representation; return its results.

    Arguments are assumed to match the function's type (the API layer checks them).
    """
    if func.host is not None:
        return func.host(None, list(args))
    return _run(func, args)


def _frame_of(func: FuncInstance, pc: int) -> Frame:
    inst = func.instance
    compiled = func.compiled
    module_offset = None
    func_offset = None
    if compiled is not None and 0 < pc <= len(compiled.offsets):
        module_offset = compiled.offsets[pc - 1]
        func_offset = module_offset - compiled.body_offset
    return Frame(
        func.index,
        func.name,
        inst.name if inst is not None else None,
        func_offset,
        module_offset,
    )


def backtrace(func: FuncInstance, pc: int, frames: list[tuple[Any, ...]]) -> list[Frame]:
    """The wasm backtrace, innermost first, of a run stopped in ``func`` at ``pc``."""
    trace = [_frame_of(func, pc)]
    for caller, _code, caller_pc, _stack in reversed(frames):
        trace.append(_frame_of(caller, caller_pc))
    return trace


def _trap_with_frames(code: TrapCode, func: FuncInstance, pc: int,
                      frames: list[tuple[Any, ...]]) -> Trap:
    trap = Trap(code)
    trap.frames.extend(backtrace(func, pc, frames))
    return trap


def _context(inst: ModuleInstance) -> tuple[Any, ...]:
    mems = inst.memories
    mem0 = mems[0] if mems else None
    return inst, inst.funcs, inst.globals, mems, mem0, (mem0.data if mem0 is not None else None)


def _run(entry: FuncInstance, args: list[Any]) -> list[Any]:
    ctx = entry.context
    base_depth = ctx.depth
    # frames holds the callers of the running function, so a run may have at most
    # ``limit`` of them besides the one running.
    limit = ctx.max_call_depth - base_depth - 1
    if limit < 0 or ctx.nesting >= ctx.max_host_nesting:
        raise Trap(TrapCode.STACK_OVERFLOW)
    ctx.nesting += 1

    func = entry
    cf = compiled_for(func)
    stack: list[Any] = list(args)
    stack += cf.zeros
    code = cf.code
    pc = 0
    frames: list[tuple[Any, ...]] = []
    assert func.instance is not None  # a wasm function (host functions return above)
    inst, funcs, globs, mems, mem0, mem = _context(func.instance)

    try:
        while True:
            op, a, b = code[pc]
            pc += 1
            if op == 0:  # LGET
                stack.append(stack[a])
            elif op == 1:  # CONST
                stack.append(a)
            elif op == 2:  # BIN
                y = stack.pop()
                stack[-1] = a(stack[-1], y)
            elif op == 32:  # LGET_CONST_BIN
                stack.append(b[1](stack[a], b[0]))
            elif op == 31:  # LGET_LGET
                stack.append(stack[a])
                stack.append(stack[b])
            elif op == 33:  # LGET_BIN
                stack[-1] = b(stack[-1], stack[a])
            elif op == 35:  # BIN_BR_IF
                y = stack.pop()
                if a(stack.pop(), y):
                    pc = b
            elif op == 34:  # CONST_BIN
                stack[-1] = b(stack[-1], a)
            elif op == 30:  # I32_EQZ_BR_IF
                if not stack.pop():
                    pc = a
            elif op == 3:  # LSET
                stack[a] = stack.pop()
            elif op == 4:  # LTEE
                stack[a] = stack[-1]
            elif op == 5:  # BR_IF
                if stack.pop():
                    pc = a
            elif op == 6:  # I32_ADD
                y = stack.pop()
                stack[-1] = (stack[-1] + y) & 0xFFFFFFFF
            elif op == 7:  # LOAD
                stack[-1] = a(mem, stack[-1] + b)[0]
            elif op == 8:  # STORE
                y = stack.pop()
                a(mem, stack.pop() + b, y)
            elif op == 9:  # UN
                stack[-1] = a(stack[-1])
            elif op == 10:  # JUMP
                pc = a
            elif op == 11:  # BR_UNLESS
                if not stack.pop():
                    pc = a
            # CALL CALL_INDIRECT RETURN_CALL RETURN_CALL_INDIRECT
            elif op == 12 or op == 24 or op == 36 or op == 37:
                if op == 12 or op == 36:  # CALL RETURN_CALL
                    f = funcs[a]
                else:
                    i = stack.pop()
                    elements = inst.tables[b].elements
                    if i >= len(elements):
                        raise Trap(TrapCode.UNDEFINED_ELEMENT)
                    f = elements[i]
                    if f is None:
                        raise Trap(TrapCode.INDIRECT_CALL_TO_NULL)
                    if f.type is not a and f.type != a:
                        raise Trap(TrapCode.BAD_SIGNATURE)
                if f.host is None:
                    callee = f.compiled
                    if callee is None:
                        callee = compiled_for(f)
                    n = callee.nparams
                    if n:
                        new = stack[-n:]
                        del stack[-n:]
                        new += callee.zeros
                    else:
                        new = callee.zeros.copy()
                    if op == 12 or op == 24:  # CALL CALL_INDIRECT (not tail calls)
                        if len(frames) >= limit:
                            raise Trap(TrapCode.STACK_OVERFLOW)
                        frames.append((func, code, pc, stack))
                    stack = new
                    code = callee.code
                    pc = 0
                    func = f
                    if f.instance is not inst:
                        inst, funcs, globs, mems, mem0, mem = _context(f.instance)
                else:
                    n = len(f.type.params)
                    if n:
                        hargs = stack[-n:]
                        del stack[-n:]
                    else:
                        hargs = []
                    ctx.depth = base_depth + len(frames) + 1
                    stack += f.host(inst, hargs)
                    if mem0 is not None:
                        mem = mem0.data
                    # A tail call to the host falls through to the RETURN after it.
            elif op == 13:  # RETURN
                if not frames:
                    return stack[len(stack) - a :]
                if a == 1:
                    y = stack[-1]
                    func, code, pc, stack = frames.pop()
                    stack.append(y)
                elif a == 0:
                    func, code, pc, stack = frames.pop()
                else:
                    vals = stack[-a:]
                    func, code, pc, stack = frames.pop()
                    stack += vals
                if func.instance is not inst:
                    inst, funcs, globs, mems, mem0, mem = _context(func.instance)
                elif mem0 is not None:
                    mem = mem0.data
            elif op == 14:  # GGET
                stack.append(globs[a].value)
            elif op == 15:  # GSET
                globs[a].value = stack.pop()
            elif op == 16:  # I32_SUB
                y = stack.pop()
                stack[-1] = (stack[-1] - y) & 0xFFFFFFFF
            elif op == 17:  # DROP
                stack.pop()
            elif op == 18:  # SELECT
                c = stack.pop()
                y = stack.pop()
                if not c:
                    stack[-1] = y
            elif op == 19:  # BR_ADJ
                del stack[b[0] : b[1]]
                pc = a
            elif op == 20:  # BR_IF_ADJ
                if stack.pop():
                    del stack[b[0] : b[1]]
                    pc = a
            elif op == 21:  # BR_TABLE
                i = stack.pop()
                if i >= len(a) - 1:
                    i = -1
                pc, base, end = a[i]
                del stack[base:end]
            elif op == 22:  # LOADX
                stack[-1] = a(mem, stack[-1] + b)
            elif op == 23:  # STOREX
                y = stack.pop()
                a(mem, stack.pop() + b, y)
            elif op == 25:  # MEMGROW
                memory_grow(stack, inst, a)
                mem = mem0.data
            elif op == 26:  # MISC
                a(stack, inst, b)
            elif op == 27:  # UNREACHABLE
                raise Trap(TrapCode.UNREACHABLE)
            elif op == 28:  # LOADN
                stack[-1] = a[0](mems[a[1]].data, stack[-1] + b)
            elif op == 29:  # STOREN
                y = stack.pop()
                a[0](mems[a[1]].data, stack.pop() + b, y)
            elif op == 38:  # METER
                if a:
                    ctx.fuel_consumed += a
                if b:
                    if b & 1 and ctx.fuel_consumed >= 0:  # CHECK_FUEL
                        raise Trap(TrapCode.OUT_OF_FUEL)
                    if b & 2 and ctx.epoch.cell[0] >= ctx.epoch_deadline:  # CHECK_EPOCH
                        raise Trap(TrapCode.INTERRUPT)
            else:
                raise AssertionError(f"bad interpreter opcode {op}")
    except Trap as trap:
        trap.frames.extend(backtrace(func, pc, frames))
        raise
    except (struct.error, OverflowError, IndexError):
        if code[pc - 1][0] not in _MEMORY_ACCESS_OPS:
            raise
        # Raised without a local naming it: the trap's traceback holds this frame,
        # and a local would make a cycle keeping the store alive until collected.
        raise _trap_with_frames(TrapCode.MEMORY_OUT_OF_BOUNDS, func, pc, frames) from None
    except RecursionError:
        raise _trap_with_frames(TrapCode.STACK_OVERFLOW, func, pc, frames) from None
    except Exception as exc:
        # A host function's exception crosses wasm frames unchanged; record where.
        trace = backtrace(func, pc, frames)
        existing = getattr(exc, "wasm_frames", None)
        try:
            if existing is None:
                exc.wasm_frames = trace  # type: ignore[attr-defined]  # ad-hoc attribute on any exception
            else:
                existing.extend(trace)
        except AttributeError:
            pass
        raise
    finally:
        ctx.nesting -= 1
        ctx.depth = base_depth
