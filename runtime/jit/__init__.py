"""The runtime half of the JIT: natively backed memories, tables and globals, the vmctx
and instantiation of compiled modules, and calls between Python and compiled code.

Modules, lowest first: ``vm`` (address-space reservations), ``codemap`` (program
counters -> wasm functions for backtraces), ``values`` (runtime values <-> native slots),
``hostcalls`` (per-signature entries of API host functions), ``shims`` (per-signature
entry and host shims), ``compile_module`` (wasm functions to machine code: translation,
then the back end), ``module_code`` (a module's code slots, compiled up front or lazily
on first call), ``vmctx`` (the instance with its vmctx, found again by address),
``store`` (per-store JIT state: references, host functions, signature ids),
``memory``/``table``/``globals`` (runtime objects with the interfaces of the
interpreter's, backed by native memory compiled code reads), ``instance`` (the JIT's
instance allocator), ``entry``/``callers``/``call`` (entering compiled code from Python).
"""
