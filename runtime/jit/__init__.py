"""The JIT engine's natively backed runtime objects, vmctx and instantiation."""
