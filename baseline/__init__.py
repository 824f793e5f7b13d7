"""Tier 0 without the IR: wasm function bodies straight to LLVM text (``emitter``), and
the one hook the compile driver calls to use it (``tier0``).  Opt-in with
``PYJITWASM_TIER0_DIRECT=1``; see docs/jit-design.md, "A direct tier 0"."""
