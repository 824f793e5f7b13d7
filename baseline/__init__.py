"""Tier 0 without the IR: wasm function bodies straight to LLVM text (``emitter``), and
the one hook the compile driver calls to use it (``tier0``).  The default
tier 0 (``PYJITWASM_TIER0_DIRECT=0`` or ``Config(direct_tier0=False)`` turns it off);
see docs/jit-design.md, "A direct tier 0"."""
