"""Compiling and loading on-stack-replacement entries (``translate/osr.py`` builds their
IR; ``module_code.ModuleCode.request_osr`` asks for them, ``osr_entry`` hands them out).

An OSR entry of (defined function, loop offset) is compiled alone, at tier 1 (the
``opt_level`` pipeline, with ``codegen_options_for``'s rules for huge functions), as an
object of its own, and linked by the loader tier-1 batches use.  The result is a
``CompiledModule`` whose one function is the entry, under the function's wasm index:
the code map then names the function in a backtrace through the entry, and a
guard-page fault inside it is known.  Its source lines (the wasm offsets of a
backtrace) are found as a batch's are, by compiling the entry again with debug
locations when a backtrace first needs them.  Entries are not kept in the code cache:
a warm start loads the function's tier-1 code, which its next call enters anyway.

In a module with a compile worker (``compile_worker.py``) the compile half,
:func:`emit_osr_object`, runs in the worker process and this process only links the
object it sends back (:func:`load_osr_entry`), as it links the worker's batches.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from pyjitwasm.jit.compiler import (
    CompileTimings,
    FunctionToCompile,
    ObjectCode,
    SourceLines,
    emit_object,
    load_object_code,
    locate_in_object,
)
from pyjitwasm.runtime.jit.compile_module import (
    TIER1,
    CompiledModule,
    CompileOptions,
    codegen_options_for,
)
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.wasm.module import WasmModule


def emit_osr_object(module: WasmModule, func_index: int, loop_offset: int,
                    options: CompileOptions, info: ModuleInfo, timings: CompileTimings,
                    source_locations: bool = False) -> ObjectCode:
    """The object of the OSR entry of defined function ``func_index`` at the loop at
    ``loop_offset`` (``OsrError`` for a loop that cannot have one); stage times go to
    ``timings``.  ``source_locations``: with a line table (the same machine code)."""
    # Imported on first use, as compile_module.emit_batch imports the translator.
    from pyjitwasm.translate.translator import translate_osr_entry

    t0 = time.perf_counter()
    func = translate_osr_entry(module, func_index, loop_offset, info=info)
    timings.translate += time.perf_counter() - t0
    codegen = codegen_options_for(module, [func_index], options, TIER1)
    if source_locations:
        codegen = replace(codegen, source_locations=True, keep_llvm_ir=False)
    code, _ = emit_object([FunctionToCompile(func_index, func)], (), codegen, timings)
    return code


def compile_osr_entry(module: WasmModule, func_index: int, loop_offset: int,
                      options: CompileOptions, symbols: Mapping[str, int] | None = None,
                      info: ModuleInfo | None = None) -> CompiledModule:
    """Compile and link the OSR entry of defined function ``func_index`` at the loop at
    ``loop_offset``: a one-function ``CompiledModule`` (tier 1, no entry shims) whose
    ``function_address(func_index)`` is the entry.  Register it with the code map
    before any code can call it, and keep it while any may run it."""
    if info is None:
        info = options.module_info(module)
    timings = CompileTimings()
    code = emit_osr_object(module, func_index, loop_offset, options, info, timings)
    return load_osr_entry(module, func_index, loop_offset, code, options, symbols, info,
                          timings)


def load_osr_entry(module: WasmModule, func_index: int, loop_offset: int, code: ObjectCode,
                   options: CompileOptions, symbols: Mapping[str, int] | None = None,
                   info: ModuleInfo | None = None,
                   timings: CompileTimings | None = None) -> CompiledModule:
    """Link the object of an OSR entry (:func:`emit_osr_object`'s, made in this process
    or in a compile worker) into this process, as :func:`compile_osr_entry` returns it.
    Linking loads no LLVM (``jit/objload.py``); only a backtrace's source lines do, by
    compiling the entry again."""
    if info is None:
        info = options.module_info(module)
    timings = timings or CompileTimings()
    loaded = load_object_code(code, options.codegen_options(TIER1).llvm_pipeline, timings,
                              symbols)
    placed = loaded.functions
    if func_index not in placed:
        from pyjitwasm.translate.osr_abi import OsrError

        raise OsrError(f"the OSR entry of function {func_index} at {loop_offset} was "
                       "compiled without its symbol")

    def locate() -> dict[int, SourceLines]:
        again = emit_osr_object(module, func_index, loop_offset, options,
                                options.module_info(module), CompileTimings(),
                                source_locations=True)
        return locate_in_object(again.obj, placed, check=True)

    return CompiledModule(module=module, layout=info.layout, code=loaded.code,
                          functions=placed, shims={}, timings=timings, tier=TIER1,
                          locate=locate, osr_entry=True)


__all__ = ["compile_osr_entry", "emit_osr_object", "load_osr_entry"]
