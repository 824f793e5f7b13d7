"""The compile driver's hook for the direct tier-0 emitter (``emitter``).

``runtime/jit/compile_module.emit_batch`` asks :func:`direct_tier0` once per tier-0
batch; when the switch is on it gets a :class:`DirectTier0`, which writes each function
of the batch straight to LLVM text, or returns None for a function it does not cover
(that one is translated to IR as before: per-function fallback), and which picks the
LLVM configuration for the batch's text.

Switch: ``CompileOptions.tier0_direct`` (on unless ``PYJITWASM_TIER0_DIRECT=0``; off
when the IR is kept, ``keep_ir``).  ``PYJITWASM_TIER0_DIRECT_PIPELINE``
(``PASSES,LEVEL[,regalloc]``) overrides the LLVM configuration of batches with direct
functions (for measurements).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pyjitwasm.baseline.emitter import emit_function
from pyjitwasm.jit.compiler import CodegenOptions
from pyjitwasm.jit.lower_debug import FunctionLocations
from pyjitwasm.jit.lowered import LoweredFunction
from pyjitwasm.jit.pipelines import TIER0_PIPELINE, LLVMPipeline
from pyjitwasm.translate.module_info import ModuleInfo, function_name
from pyjitwasm.wasm.loops import has_nested_loop
from pyjitwasm.wasm.module import FunctionBody


@dataclass
class DirectStats:
    """What the direct emitter did in this process (for measurements and tests)."""

    functions: int = 0
    fallbacks: int = 0
    instructions: int = 0
    fallback_instructions: int = 0


STATS = DirectStats()

DIRECT_LOOP_PIPELINE = LLVMPipeline("promote", 0)
"""Tier 0 for a batch with a loop when its text comes from the direct emitter: SROA
puts the locals' allocas back in SSA form, then ``TIER0_PIPELINE``'s passes, and code
generation with the fast register allocator.  The greedy allocator (``promote,0,
regalloc``) makes tier-0 loops as fast as the IR path's tier 0, but it was the largest
single cost of a cold start: without it CPython for WASI's first result came 26% sooner
and Graphviz's 38% (14.0 -> 10.3 s, 3.9 -> 2.4 s), for loops 1.6-2.9x slower until
tier-up; small batches with nested loops keep it (``DIRECT_NESTED_LOOP_PIPELINE``).
Loop-free batches stay at ``TIER0_LOOP_FREE_PIPELINE`` (no passes: allocas and all).
See docs/jit-design.md, "A direct tier 0"."""


DIRECT_NESTED_LOOP_PIPELINE = LLVMPipeline("promote", 0, optimize_regalloc=True)
"""Tier 0 for a small batch (at most ``GREEDY_NESTED_LOOP_INSTRUCTIONS``) with a loop
inside a loop, from the direct emitter: ``DIRECT_LOOP_PIPELINE`` with the greedy
register allocator, whose tier-0 loops run as fast as the IR path's.  Nested loops are
where one call runs long at tier 0 ("a hot loop that runs once": the bench/ programs'
``run``), and a small batch is where the greedy allocator costs little: with it the
start-up bench's first ``run`` calls are as before (sieve 0.26 s against 0.76 with the
fast allocator), while CPython's and Graphviz's first results keep most of what the
fast allocator gained (10.7 and 2.6 s, against 10.3 and 2.4 with the fast allocator
everywhere and 14.0 and 3.9 with the greedy one for every batch with a loop)."""

GREEDY_NESTED_LOOP_INSTRUCTIONS = 600
"""The largest batch (wasm instructions) ``DIRECT_NESTED_LOOP_PIPELINE`` is for: 1,500
lost a third of Graphviz's gain (2.73 s against 2.59 at 600)."""


class DirectTier0:
    """The direct emitter for the tier-0 batches of one module (``info``)."""

    def __init__(self, info: ModuleInfo, pipeline: LLVMPipeline | None = None) -> None:
        self.info = info
        self.pipeline = pipeline
        self.emitted = 0  # functions of the current batch written directly

    def lower(self, index: int, internal: bool) -> LoweredFunction | None:
        """Function ``index`` as LLVM text, or None: translate it to IR instead."""
        name = function_name(index)
        declarations: dict[str, str] = {}
        linkage = "internal" if internal else ""
        info = self.info
        text = emit_function(info, index, name, linkage, declarations)
        size = self.info.module.codes[index - self.info.num_imported_funcs].instr_count
        if text is None:
            STATS.fallbacks += 1
            STATS.fallback_instructions += size
            return None
        STATS.functions += 1
        STATS.instructions += size
        self.emitted += 1

        def with_locations(locations: FunctionLocations) -> str:
            located = emit_function(info, index, name, linkage, {}, locations)
            assert located is not None  # covered a moment ago: the emitter is deterministic
            return located

        return LoweredFunction(index, name, text, declarations, internal, with_locations)

    def codegen_options(self, codegen: CodegenOptions,
                        bodies: Sequence[FunctionBody]) -> CodegenOptions:
        """The LLVM configuration for a batch (of function ``bodies``) of this emitter's
        text, from ``codegen`` (the IR path's choice for the batch): where the IR path
        would take ``TIER0_PIPELINE`` (a batch with a loop), ``DIRECT_NESTED_LOOP_PIPELINE``
        for a small batch with a loop inside a loop, else ``DIRECT_LOOP_PIPELINE``;
        otherwise the same (the size rules of ``codegen_options_for`` stand).
        ``PYJITWASM_TIER0_DIRECT_PIPELINE`` overrides them all."""
        if self.pipeline is not None:
            return replace(codegen, pipeline=self.pipeline)
        if codegen.llvm_pipeline == TIER0_PIPELINE:
            greedy = sum(body.instr_count for body in bodies) <= \
                GREEDY_NESTED_LOOP_INSTRUCTIONS and any(
                    has_nested_loop(body.instrs) for body in bodies)
            return replace(codegen, pipeline=DIRECT_NESTED_LOOP_PIPELINE if greedy
                           else DIRECT_LOOP_PIPELINE)
        return codegen


def direct_tier0(info: ModuleInfo) -> DirectTier0:
    """The direct emitter for a tier-0 batch of ``info``'s module."""
    setting = os.environ.get("PYJITWASM_TIER0_DIRECT_PIPELINE", "").strip()
    return DirectTier0(info, LLVMPipeline.parse(setting) if setting else None)


__all__ = ["DIRECT_LOOP_PIPELINE", "DIRECT_NESTED_LOOP_PIPELINE", "GREEDY_NESTED_LOOP_INSTRUCTIONS",
           "STATS", "DirectStats", "DirectTier0", "direct_tier0"]
