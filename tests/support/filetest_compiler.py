"""The compiler as the file tests (and the IR-level JIT tests) see it.

Every call from the file tests into pyjitwasm's compiler stages goes through this module,
so that a change of the IR's internals, of the translator or of the back end touches
this file only. The entry points:

* ``parse_functions(text)`` (raises ``ParseError``, whose ``line`` counts the lines of
  ``text``) and ``print_function(func)``: the IR text format;
  ``same_function(a, b)``: structural equality of two functions;
* ``signature_types(func)``: a function's parameter and result type names, vmctx
  excluded (the names of the IR text format);
* ``verify(func)`` (raises) and ``verify_errors(func)`` (the messages);
* ``legalize(func)`` (in place);
* ``translate_wat(wat, heap_style, indices)``: wasm functions translated to IR;
* ``lower_to_llvm(funcs)``: the LLVM IR text of legalized functions (their definitions,
  then the declarations they need); ``verify_llvm_module(funcs)``: the whole LLVM module
  emitted for them parses and passes LLVM's verifier;
* ``CompiledFunctions(funcs)``: legalized functions compiled to machine code together
  and called with raw bits; ``call_outcome`` reports a trap by its IR name;
  ``compile_ir(text)``: the same from IR text (tests/jit uses it too).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

from pyjitwasm.ir import types as ir_types
from pyjitwasm.ir.function import Function
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import ParseError, parse_functions
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify, verify_errors
from pyjitwasm.jit.codeload import parse_ir
from pyjitwasm.jit.compiler import code_loader
from pyjitwasm.jit.lower import Declarations, lower_function
from pyjitwasm.jit.lower_module import emit_module
from pyjitwasm.jit.lowered import ShimSpec, entry_shim_name
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.native import invoke, runtime_symbols
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module

from support.jit_lower_harness import WASM_TOOLS, wat_to_wasm

# The wasm value type each IR type travels as through an entry shim.
# The value types the entry shims (jit/abi.py) carry.
_SHIM_TYPES = (ir_types.I32, ir_types.I64, ir_types.F32, ir_types.F64, ir_types.V128,
               ir_types.R64)
_SLOT = 16  # bytes per value in the entry shims' argument and result array


def same_function(a: Function, b: Function) -> bool:
    """Whether ``a`` and ``b`` are structurally equal (all the text format shows)."""
    return a.canonical() == b.canonical()


def signature_types(func: Function) -> tuple[list[str], list[str]]:
    """(parameter types, result types) of ``func`` as IR type names, without the vmctx
    parameter."""
    params = [str(p.type) for p in func.signature.params if p.purpose != "vmctx"]
    return params, [str(r) for r in func.signature.returns]


def translate_wat(wat: str, heap_style: str = "dynamic",
                  indices: Sequence[int] | None = None) -> list[Function]:
    """Assemble, decode and validate the module ``wat`` and translate the functions with
    the given indices (default: every defined one) with heaps of ``heap_style``."""
    module = decode_module(wat_to_wasm(wat))
    validate_module(module)
    info = ModuleInfo(module, HeapConfig(heap_style))
    if indices is None:
        first = module.num_imported_funcs
        indices = range(first, first + len(module.codes))
    return [translate_function(module, index, info=info) for index in indices]


def lower_to_llvm(funcs: Sequence[Function]) -> str:
    """The LLVM IR definitions of ``funcs`` (legalized), then the external functions and
    intrinsics they declare, as one text."""
    declarations = Declarations()
    parts = [lower_function(func, declarations) for func in funcs]
    defined = {func.name for func in funcs}
    declared = declarations.text(defined)
    if declared:
        parts.append(declared)
    return "\n".join(parts)


def verify_llvm_module(funcs: Sequence[Function]) -> None:
    """Emit the whole LLVM module of ``funcs`` and have LLVM parse and verify it (raises
    RuntimeError on invalid IR)."""
    parse_ir(emit_module([(func, "") for func in funcs]))


class CompiledFunctions:
    """IR functions (legalized, each with the vmctx first) compiled together into machine
    code; any of them can be called with raw bits through the entry shims.

    The vmctx they get is a zeroed buffer whose word 0 points at a zeroed limits record
    (the default stack budget), and there is no memory, table or global behind
    it, so the functions may use only what their IR itself provides."""

    def __init__(self, funcs: Sequence[Function], opt_level: int = 1,
                 vmctx_size: int = 256) -> None:
        for func in funcs:
            verify(func)
        self.functions = {func.name: func for func in funcs}
        self.first = funcs[0].name
        shims: dict[str, ShimSpec] = {}
        self._shim_of: dict[str, str] = {}
        for func in funcs:
            params = tuple(_shim_type(func, p.type) for p in func.signature.params[1:])
            results = tuple(_shim_type(func, r) for r in func.signature.returns)
            name = entry_shim_name(params, results)
            shims.setdefault(name, ShimSpec(name, params, results))
            self._shim_of[func.name] = name
        self.llvm_ir = emit_module([(func, "") for func in funcs], shims.values())
        self.code = code_loader(opt_level).load(self.llvm_ir, imports=runtime_symbols())
        self._vmctx = ctypes.create_string_buffer(vmctx_size)
        self._limits = ctypes.create_string_buffer(16)
        ctypes.c_uint64.from_address(ctypes.addressof(self._vmctx)).value = \
            ctypes.addressof(self._limits)
        slots = max(max(len(f.signature.params), len(f.signature.returns)) for f in funcs)
        self._values = ctypes.create_string_buffer(_SLOT * slots + 16)
        self._values_at = (ctypes.addressof(self._values) + 15) & ~15

    def call(self, name: str, *args: int) -> list[int]:
        """Call function ``name`` with its arguments (vmctx excluded) as bit patterns
        (taken modulo the width); its results as unsigned bit patterns. Raises Trap."""
        func = self.functions[name]
        params = [p.type for p in func.signature.params[1:]]
        if len(args) != len(params):
            raise TypeError(f"%{name} takes {len(params)} arguments, got {len(args)}")
        for slot, (ty, bits) in enumerate(zip(params, args, strict=True)):
            size = _bytes(ty)
            ctypes.memmove(self._values_at + _SLOT * slot,
                           (bits % (1 << (8 * size))).to_bytes(size, "little"), size)
        invoke(self.code.address(self._shim_of[name]), self.code.address(name),
               ctypes.addressof(self._vmctx), self._values_at)
        return [int.from_bytes(ctypes.string_at(self._values_at + _SLOT * slot, _bytes(ty)),
                               "little")
                for slot, ty in enumerate(func.signature.returns)]

    def call_outcome(self, name: str, *args: int) -> list[int] | str:
        """Like ``call``, but a trap comes back as its IR name (``integer_overflow``)."""
        try:
            return self.call(name, *args)
        except Trap as trap:
            return trap.trap_code.name.lower()

    def __call__(self, *args: int) -> list[int]:
        """Call the first function."""
        return self.call(self.first, *args)


def compile_ir(text: str, opt_level: int = 1) -> CompiledFunctions:
    """Parse the IR functions in ``text`` (legalized) and compile them together; calling
    the result calls the first one."""
    return CompiledFunctions(parse_functions(text), opt_level)


def _shim_type(func: Function, ty: ir_types.Type) -> ir_types.Type:
    if ty not in _SHIM_TYPES:
        raise TypeError(f"%{func.name}: {ty} values cannot pass through an entry shim "
                        f"(use one of {', '.join(map(str, _SHIM_TYPES))})")
    return ty


def _bytes(ty: ir_types.Type) -> int:
    return 8 if ty == ir_types.R64 else ty.bytes


__all__ = ["WASM_TOOLS", "CompiledFunctions", "Function", "ParseError", "compile_ir",
           "legalize", "lower_to_llvm",
           "parse_functions", "print_function", "same_function", "signature_types",
           "translate_wat", "verify", "verify_errors", "verify_llvm_module"]
