"""The compile driver's hook for the single-pass x86-64 tier 0.

``runtime/jit/compile_module.emit_batch`` asks :func:`x64_tier0_object` for a tier-0
batch when ``CompileOptions.tier0_x64`` is on (``PYJITWASM_TIER0_X64=1``; off by
default).  It compiles every function of the batch straight from wasm to x86-64
machine code (``function``, ``control``, ``integer``, ``floats``, ``memory``) and writes
one relocatable object (``elf``) with the ABI, symbols and relocations of LLVM's tier-0
objects, which the loader links unchanged; or it returns None when any function uses
something not covered (batch-level fallback: the whole batch then takes the LLVM path,
so covered and uncovered functions only ever meet through code slots).

Not covered (phase 1): SIMD, reference types and table instructions, bulk memory,
multi-value function results and ``if`` with parameters, memory64, memories other than
memory 0, dynamic heaps (``memory_style="dynamic"``, custom page sizes), offsets the
guard pages do not cover, saturating float-to-int conversions, tail calls, and any
function when epoch or fuel checks are compiled in; and hosts other than x86-64 Linux.
Without on-stack replacement (``PYJITWASM_OSR=0``), a small batch with a loop inside a
loop of a small module takes the LLVM path too (``NESTED_LOOP_BATCH_INSTRUCTIONS``,
``NESTED_LOOP_MODULE_BYTES``): a hot loop that runs once would stay in tier-0 code until
its function's next call, and there LLVM's code is 1.2-2.5x faster than this
compiler's (sieve, nbody, matmul at run scale 0.3; docs/jit-design.md, "A single-pass
x86-64 tier 0").  With it (the default), such a loop moves into tier-1 code through
its OSR entry (``FunctionCompiler.osr_stub``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from pyjitwasm.jit.compiler import CompileTimings, ObjectCode
from pyjitwasm.translate.module_info import ModuleInfo, function_name
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.loops import has_nested_loop
from pyjitwasm.x64 import control, floats, integer, memory
from pyjitwasm.x64.elf import LineSequence, ObjectFunction, write_object
from pyjitwasm.x64.function import FunctionCompiler, Handler, Unsupported

NESTED_LOOP_BATCH_INSTRUCTIONS = 600
"""Without OSR, a batch of at most this many wasm instructions with a loop inside a
loop takes the LLVM path (the rule and the size of ``baseline/tier0.py``'s
greedy-allocator batches)."""


NESTED_LOOP_MODULE_BYTES = 256 << 10
"""The rule above holds in modules smaller than this only.  A larger one is a program
of many functions (Graphviz, CPython for WASI), where a small nested-loop function is
rarely the whole run and tier-up replaces it at its next call: LLVM for those batches
cost Graphviz's cold start 0.1 s of CPU and 18 MB of peak memory (program and worker),
and loaded LLVM's code generator into the program's process (session 7)."""


def _nested_loops_too() -> bool:
    """Compile small batches with nested loops here too: unless on-stack replacement is
    off (``PYJITWASM_OSR=0``, see ``runtime/jit/module_code.py``), or with
    ``PYJITWASM_TIER0_X64_NESTED_LOOPS=1`` (neither is part of the code-cache key:
    both paths make correct tier-0 code)."""
    if os.environ.get("PYJITWASM_TIER0_X64_NESTED_LOOPS", "") == "1":
        return True
    return os.environ.get("PYJITWASM_OSR", "1").strip().lower() not in (
        "0", "false", "no", "off")


@dataclass
class X64Stats:
    """What the single-pass tier 0 did in this process (for measurements and tests)."""

    batches: int = 0
    functions: int = 0
    instructions: int = 0
    fallback_batches: int = 0
    fallback_functions: int = 0
    fallback_instructions: int = 0
    seconds: float = 0.0  # compiling and writing objects, fallbacks included
    reasons: dict[str, int] | None = None  # why batches fell back (first reason each)


STATS = X64Stats(reasons={})


@cache
def cpu_flags() -> frozenset[str]:
    """The host CPU's feature flags (``/proc/cpuinfo``); empty if unknown."""
    # Bytes: a text-mode open with an explicit encoding imports its codec module
    # (``encodings.ascii``, ~0.4 ms of a cold start's first call).
    try:
        with open("/proc/cpuinfo", "rb") as f:
            for line in f:
                if line.startswith(b"flags"):
                    return frozenset(line.split(b":", 1)[1].decode("ascii", "replace").split())
    except OSError:
        pass
    return frozenset()


@cache
def handlers() -> dict[int, Handler]:
    """The one table: wasm opcode -> handler, for this host's CPU (``popcnt`` and
    SSE4.1's ``roundss``/``roundsd`` are used only where the CPU has them)."""
    table = {**control.HANDLERS, **integer.HANDLERS, **memory.HANDLERS,
             **floats.handlers("sse4_1" in cpu_flags())}
    if "popcnt" not in cpu_flags():
        del table[op.I32_POPCNT]
        del table[op.I64_POPCNT]
    return table


@cache
def supported_host() -> bool:
    """x86-64 Linux (the ELF objects and the fs-relative stack limit are).  Asked once:
    ``platform``'s answers cost ~15 us a call, on every new shim signature; ``os.uname``
    is one system call."""
    return sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "AMD64")


def x64_tier0_object(info: ModuleInfo, indices: Sequence[int], with_lines: bool = False,
                     timings: CompileTimings | None = None) -> ObjectCode | None:
    """The tier-0 object of defined functions ``indices`` (the first one a global
    symbol, the others local, as ``emit_batch`` names them for a separate batch), or
    None when one of them is not covered.  ``with_lines``: add the (code offset ->
    wasm offset) line table (the code is the same either way)."""
    t0 = time.perf_counter()
    module = info.module
    first = info.num_imported_funcs
    size = sum(module.codes[i - first].instr_count for i in indices)
    if info.checks.epoch or info.checks.fuel or not supported_host():
        _fallback(indices, size, t0, "host or interruption checks")
        return None
    if size <= NESTED_LOOP_BATCH_INSTRUCTIONS and module.size < NESTED_LOOP_MODULE_BYTES \
            and not _nested_loops_too() and any(
                has_nested_loop(module.codes[i - first].instrs) for i in indices):
        # A small batch with a loop in a loop: where one call may run long at tier 0
        # ("a hot loop that runs once"), LLVM's tier 0 with the greedy register
        # allocator (baseline/tier0.py) makes code 1.2-2.5x faster than this
        # compiler's for little compile time.
        _fallback(indices, size, t0, "small batch with nested loops")
        return None
    table = handlers()
    code = bytearray()
    relocations: list[tuple[int, str]] = []
    functions: list[ObjectFunction] = []
    sequences: list[LineSequence] = []
    names: dict[int, str] = {}
    for index in indices:
        compiler = FunctionCompiler(info, index, code, relocations, with_lines)
        try:
            start = compiler.compile(table)
        except Unsupported as exc:
            _fallback(indices, size, t0, str(exc))
            return None
        name = function_name(index)
        names[index] = name
        functions.append(ObjectFunction(name, start, len(code) - start, index == indices[0]))
        if with_lines:
            sequences.append(LineSequence(compiler.lines, len(code)))
    obj = write_object(bytes(code), functions, relocations, sequences if with_lines else None)
    elapsed = time.perf_counter() - t0
    STATS.batches += 1
    STATS.functions += len(indices)
    STATS.instructions += size
    STATS.seconds += elapsed
    if timings is not None:
        timings.translate += elapsed
        timings.functions += len(indices)
    return ObjectCode(obj, names, ())


def _fallback(indices: Sequence[int], size: int, t0: float, reason: str) -> None:
    STATS.fallback_batches += 1
    STATS.fallback_functions += len(indices)
    STATS.fallback_instructions += size
    STATS.seconds += time.perf_counter() - t0
    if STATS.reasons is not None:
        STATS.reasons[reason] = STATS.reasons.get(reason, 0) + 1


__all__ = ["NESTED_LOOP_BATCH_INSTRUCTIONS", "NESTED_LOOP_MODULE_BYTES", "STATS", "X64Stats",
           "cpu_flags", "handlers", "supported_host", "x64_tier0_object"]
