"""Wasm to IR: the translator, the vmctx layout compiled code addresses, and the libcalls.

This stage knows both the wasm layer and the IR; the IR itself knows nothing of wasm
(as ``cranelift-wasm`` sits on top of ``cranelift-codegen``).
"""
