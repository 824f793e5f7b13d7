"""The runtime half of the JIT: natively backed memories, tables and globals, the vmctx
and instantiation of compiled modules, and calls between Python and compiled code.

Modules: ``vm`` (address-space reservations), ``memory``/``table``/``globals`` (runtime
objects with the same interface as the interpreter's, backed by native memory compiled
code reads), ``store`` (per-store JIT state: references, host functions, signature ids),
``values`` (runtime values <-> native slots), ``shims`` (per-signature host shims),
``compile_module`` (a wasm module to machine code: translation, then the back end),
``instance`` (vmctx building and instantiation), ``call``/``callers`` (entering compiled
code from Python), ``codemap`` (program counters -> wasm functions for backtraces).
"""
