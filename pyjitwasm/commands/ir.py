"""``pyjitwasm ir FILE [--func N] [--legalized] [--static-heaps]``: print the IR of a
module's defined functions (validated first), optionally legalized.

Exit status: 0 printed, 1 unreadable/malformed/invalid module or no such function, 2 an
instruction the translator does not handle yet (SIMD, tail calls), 3 an internal error
(the IR failed verification)."""

from __future__ import annotations

import argparse
import sys

from pyjitwasm.commands.loading import load_module
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import VerifierError, verify
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ir", help="print the compiler's IR for a .wasm module")
    p.add_argument("file", help="the .wasm module")
    p.add_argument("--func", type=int, metavar="N", dest="func_index",
                   help="only function N (index in the function index space)")
    p.add_argument("--legalized", action="store_true", help="print the IR after legalization")
    p.add_argument("--static-heaps", action="store_true",
                   help="32-bit memories as static heaps (4 GiB reservation, 2 GiB guard)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    module = load_module(args.file)
    first = module.num_imported_funcs
    indices = range(first, first + len(module.codes))
    if args.func_index is not None:
        if args.func_index not in indices:
            print(f"{args.file}: no defined function {args.func_index} "
                  f"(defined: {first}..{first + len(module.codes) - 1})", file=sys.stderr)
            return 1
        indices = range(args.func_index, args.func_index + 1)
    info = ModuleInfo(module, HeapConfig("static") if args.static_heaps else HeapConfig())
    texts = []
    for index in indices:
        try:
            func = translate_function(module, index, info=info)
            verify(func)
            if args.legalized:
                legalize(func)
                verify(func)
        except NotImplementedError as e:
            print(f"{args.file}: function {index}: {e}", file=sys.stderr)
            return 2
        except VerifierError as e:
            print(f"{args.file}: function {index}: internal error: {e}", file=sys.stderr)
            return 3
        texts.append(print_function(func))
    sys.stdout.write("\n".join(texts))
    return 0
