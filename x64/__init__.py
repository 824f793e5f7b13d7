"""A single-pass x86-64 tier 0 (opt-in): wasm function bodies straight to machine code
in an ELF64 relocatable object, no LLVM (``PYJITWASM_TIER0_X64=1``).  See ``tier0``."""
