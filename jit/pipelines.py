"""The LLVM configurations the JIT compiles with, by name (no LLVM needed to name one:
``codeload`` runs them).  See docs/jit-design.md for the measurements behind each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LLVMPipeline:
    """One LLVM configuration: middle-end passes, then code generation.

    ``passes``: ``"none"``; ``"minimal"`` (instcombine, simplifycfg: tier 0);
    ``"standard"`` (SROA, instcombine, simplifycfg, NewGVN, DCE: opt level 1, tier 1);
    ``"large"`` (``"standard"`` without NewGVN, for batches with a large function);
    ``"promote"`` (SROA, then ``"minimal"``: tier 0's direct emitter, ``baseline/``);
    ``"O2"``/``"O3"`` (LLVM's own pipelines).  ``codegen_level``: the target machine's
    level (0 = fast instruction selection and the fast register allocator).
    ``optimize_regalloc``: at codegen level 0, use the greedy register allocator and
    the passes around it (LLVM's ``-optimize-regalloc``, set per code generation: see
    :func:`emit_machine_code`; the other levels always do).  See docs/jit-design.md for
    the measurements behind tier 0."""

    passes: str
    codegen_level: int
    optimize_regalloc: bool = False

    def __post_init__(self) -> None:
        if self.passes not in PASS_SETS:
            raise ValueError(f"unknown pass set {self.passes!r}; expected one of "
                             f"{sorted(PASS_SETS)}")
        if not 0 <= self.codegen_level <= 3:
            raise ValueError(f"codegen level {self.codegen_level} is not 0..3")

    @staticmethod
    def for_level(opt_level: int) -> LLVMPipeline:
        """The pipeline of an optimization level: 0 nothing, 1 the hand-picked pipeline
        with level-2 code generation, 2 and 3 LLVM's standard pipelines."""
        if opt_level == 0:
            return LLVMPipeline("none", 0)
        if opt_level == 1:
            return LLVMPipeline("standard", 2)
        if opt_level in (2, 3):
            return LLVMPipeline(f"O{opt_level}", opt_level)
        raise ValueError(f"optimization level {opt_level} is not 0..3")

    @staticmethod
    def parse(text: str) -> LLVMPipeline:
        """``"passes,codegen_level[,regalloc]"`` (what ``bench/tier_configs.py`` takes)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "regalloc"):
            raise ValueError(f"expected PASSES,LEVEL[,regalloc], not {text!r}")
        return LLVMPipeline(parts[0], int(parts[1]), len(parts) == 3)

    def __str__(self) -> str:
        return f"{self.passes},{self.codegen_level}" + (",regalloc" if self.optimize_regalloc
                                                         else "")


PASS_SETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "minimal": ("add_instruction_combine_pass", "add_simplify_cfg_pass"),
    "standard": ("add_sroa_pass", "add_instruction_combine_pass", "add_simplify_cfg_pass",
                 "add_new_gvn_pass", "add_dead_code_elimination_pass"),
    # NewGVN's time and memory grow about quadratically with a function's size (CPython
    # 3.12 for WASI: 14 s and 4.5 GB for one 42k-instruction function, the other passes
    # 0.2 s and 6 MB), so batches with a large function leave it out.
    "large": ("add_sroa_pass", "add_instruction_combine_pass", "add_simplify_cfg_pass",
              "add_dead_code_elimination_pass"),
    "O2": (),
    "O3": (),
    # "minimal" after SROA, for tier 0's direct emitter (baseline/), whose text keeps
    # locals in allocas: its batches with a loop (docs/jit-design.md, "A direct tier 0").
    "promote": ("add_sroa_pass", "add_instruction_combine_pass", "add_simplify_cfg_pass"),
}
"""The hand-picked pass lists (O2/O3 are LLVM's own pipelines, built per run)."""

TIER0_PIPELINE = LLVMPipeline("minimal", 0, optimize_regalloc=True)
"""Tier 0 for a batch with a loop: the cheapest configuration that still makes decent
code (chosen by ``bench/tier_configs.py``; the table is in docs/jit-design.md): a loop's
first run stays at tier 0 to its end (no on-stack replacement)."""

TIER0_LOOP_FREE_PIPELINE = LLVMPipeline("none", 0)
"""Tier 0 for a batch without loops: no passes, the fast instruction selector and
register allocator: less than half the LLVM time of ``TIER0_PIPELINE``, for code that
runs each instruction once per call (a caller's loop makes the function hot, and tier 1
soon replaces it)."""


__all__ = ["PASS_SETS", "TIER0_LOOP_FREE_PIPELINE", "TIER0_PIPELINE", "LLVMPipeline"]
