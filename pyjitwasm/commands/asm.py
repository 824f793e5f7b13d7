"""``pyjitwasm asm FILE [--func N] [--opt-level L] [--dynamic-heaps] [--llvm]
[--relaxed-simd-deterministic] [--epoch] [--fuel]``: compile a
module with the JIT and print each function's legalized IR beside its x86-64 machine
code (disassembled with capstone)."""

from __future__ import annotations

import argparse
import ctypes
import sys

from pyjitwasm.commands.loading import CommandError, load_module
from pyjitwasm.ir.printer import print_function
from pyjitwasm.runtime.jit.compile_module import CompiledModule, CompileOptions, compile_module


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("asm", help="print the JIT's IR and machine code for a .wasm module")
    p.add_argument("file", help="the .wasm module")
    p.add_argument("--func", type=int, metavar="N", dest="func_index",
                   help="only function N (index in the function index space)")
    p.add_argument("--opt-level", type=int, default=1, choices=(0, 1, 2, 3),
                   help="LLVM optimization level (default 1)")
    p.add_argument("--dynamic-heaps", action="store_true",
                   help="bounds-check 32-bit memories explicitly instead of guard pages")
    p.add_argument("--llvm", action="store_true", help="also print the LLVM IR module")
    p.add_argument("--relaxed-simd-deterministic", action="store_true",
                   help="relaxed SIMD with Wasmtime's deterministic results (default: the "
                        "host's native instructions, as Config's default)")
    p.add_argument("--epoch", action="store_true",
                   help="with epoch interruption checks (Config.epoch_interruption)")
    p.add_argument("--fuel", action="store_true",
                   help="with fuel metering (Config.consume_fuel)")
    p.set_defaults(func=run)


def _symbols() -> dict[str, int]:
    """Addresses for the runtime symbols the code links to (every libcall included)."""
    from pyjitwasm.libcalls import symbol_addresses

    return symbol_addresses()


def disassemble(compiled: CompiledModule, func_index: int, names: dict[int, str]) -> list[str]:
    """The machine code of one compiled function as text lines."""
    import capstone

    code = compiled.functions[func_index]
    data = ctypes.string_at(code.start, code.size)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    lines = []
    loaded: dict[str, int] = {}  # register -> constant from the last ``movabs``
    for insn in md.disasm(data, code.start):
        text = f"  {insn.address - code.start:6x}:  {insn.mnemonic:8s} {insn.op_str}"
        if insn.mnemonic == "movabs":
            reg, _, value = insn.op_str.partition(", ")
            if value.startswith("0x"):
                loaded[reg] = int(value, 16)
        elif insn.mnemonic in ("call", "jmp"):
            operand = insn.op_str
            target = int(operand, 16) if operand.startswith("0x") else loaded.get(operand)
            if target is not None and target in names:
                text += f"    ; {names[target]}"
        lines.append(text.rstrip())
    return lines


def run(args: argparse.Namespace) -> int:
    module = load_module(args.file)
    first = module.num_imported_funcs
    defined = range(first, first + len(module.codes))
    if args.func_index is not None and args.func_index not in defined:
        raise CommandError(f"{args.file}: no defined function {args.func_index} "
                           f"(defined: {first}..{first + len(module.codes) - 1})")
    options = CompileOptions(heap_style="dynamic" if args.dynamic_heaps else "static",
                             opt_level=args.opt_level, keep_ir=True,
                             relaxed_simd_deterministic=args.relaxed_simd_deterministic,
                             epoch_interruption=args.epoch, consume_fuel=args.fuel)
    symbols = _symbols()
    try:
        compiled = compile_module(module, options, symbols)
    except NotImplementedError as e:
        raise CommandError(f"{args.file}: cannot compile: {e}") from e
    try:
        names = {address: name for name, address in symbols.items()}
        names.update({code.start: code.symbol for code in compiled.functions.values()})
        out = []
        if args.llvm:
            out.append(compiled.llvm_ir)
        indices = defined if args.func_index is None else [args.func_index]
        for index in indices:
            out.append(f";; function {index}")
            out.append(print_function(compiled.ir_functions[index]).rstrip("\n"))
            code = compiled.functions.get(index)
            if code is None:
                out.append(";; (no machine code: inlined everywhere and removed)")
                continue
            out.append(f";; machine code: {code.size} bytes at 0x{code.start:x}")
            out.extend(disassemble(compiled, index, names))
            out.append("")
        sys.stdout.write("\n".join(out) + "\n")
    finally:
        compiled.release()
    return 0
