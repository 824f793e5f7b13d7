"""Source locations through the back end: the line table of code compiled with debug
locations maps machine code back to each IR instruction's source location, debug
locations leave the machine code unchanged (so a recompile can locate code loaded
earlier), and code that differs from the loaded code gets no lines."""

from __future__ import annotations

from pyjitwasm.jit.compiler import (
    CodegenOptions,
    CompileTimings,
    FunctionToCompile,
    compile_functions,
    emit_object,
    locate_functions,
    locate_in_object,
)
from pyjitwasm.jit.dwarf_lines import _Sections, code_matches, read_line_rows
from pyjitwasm.jit.lower_objsyms import function_symbols
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.translate.translator import translate_module
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wat import wat2wasm

WAT = """
(module
  (memory 1)
  (func $a (export "a") (param i32 i32) (result i32)
    (i32.add (call $b (local.get 0)) (i32.div_s (local.get 0) (local.get 1))))
  (func $b (param i32) (result i32)
    (i32.add (i32.load (local.get 0)) (i32.div_u (local.get 0) (i32.load offset=8 (local.get 0)))))
)
"""


def units() -> tuple[object, list[FunctionToCompile]]:
    module = decode_module(wat2wasm(WAT))
    funcs = translate_module(module)
    return module, [FunctionToCompile(i, f) for i, f in enumerate(funcs)]


def test_every_ir_instruction_that_can_stop_a_backtrace_has_a_row() -> None:
    module, functions = units()
    offsets = {ins.offset for code in module.codes for ins in code.instrs}
    obj = emit_object(functions, [], CodegenOptions(source_locations=True),
                      CompileTimings())[0].obj
    lines = {row.line for row in read_line_rows(obj) if row.line}
    assert lines <= offsets
    calls_and_memory = {ins.offset for code in module.codes for ins in code.instrs
                        if ins.op in (0x10, 0x28, 0x6D, 0x6E)}  # call, load, div_s, div_u
    assert calls_and_memory <= lines


def test_debug_locations_do_not_change_the_code() -> None:
    _, plain = units()
    _, located = units()
    obj_plain = emit_object(plain, [], CodegenOptions(), CompileTimings())[0].obj
    obj_located = emit_object(located, [], CodegenOptions(source_locations=True),
                              CompileTimings())[0].obj
    for sym in function_symbols(obj_plain):
        twin = next(s for s in function_symbols(obj_located) if s.name == sym.name)
        assert twin.size == sym.size
        sections = _Sections(obj_plain)
        code = sections.data(sections.find(sym.section))[sym.offset:sym.offset + sym.size]
        assert code_matches(obj_located, twin.section, twin.offset, twin.size, code)


def test_a_recompile_locates_loaded_code_like_eager_locations() -> None:
    _, functions = units()
    compiled = compile_functions(functions, [], CodegenOptions(), CompileTimings(),
                                 symbol_addresses())
    assert compiled.source_lines == {}
    _, again = units()
    located = locate_functions(again, [], CodegenOptions(), compiled.functions)
    assert set(located) == set(compiled.functions)
    _, eager_units = units()
    eager_obj = emit_object(eager_units, [], CodegenOptions(source_locations=True),
                            CompileTimings())[0].obj
    expected = locate_in_object(eager_obj, compiled.functions)
    assert located == expected
    compiled.code.release()


def test_code_that_differs_from_the_loaded_code_gets_no_lines() -> None:
    _, functions = units()
    compiled = compile_functions(functions, [], CodegenOptions(), CompileTimings(),
                                 symbol_addresses())
    _, other = units()
    # Swap the two functions' bodies under their names: same symbols, other code.
    swapped = [FunctionToCompile(other[0].index, other[1].func),
               FunctionToCompile(other[1].index, other[0].func)]
    swapped[0].func.name, swapped[1].func.name = swapped[1].func.name, swapped[0].func.name
    assert locate_functions(swapped, [], CodegenOptions(), compiled.functions) == {}
    compiled.code.release()
