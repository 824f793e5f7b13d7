"""The IR text format, reading side.

Grammar (``;`` starts a comment to the end of the line)::

    function   := "function" NAME sig "{" decl* block* "}"
    sig        := "(" [param ("," param)*] ")" ["->" type ("," type)*]
    param      := type ["vmctx"]
    decl       := "gvN" "=" ("vmctx" | "load.T" flag* "gvM" [offset] | "iadd_imm.T" "gvM" "," int)
                | "heapN" "=" ("static"|"dynamic") "base=gvB," "bound=" (int|gvL) ","
                      "offset_guard=" int "," "index_type=" type
                | "tableN" "=" "dynamic" "base=gvB," "bound=gvL," "element_size=" int ","
                      "index_type=" type
                | "sigN" "=" sig
                | "fnN" "=" NAME "sigM"
    block      := "blockN" ["(" "vK" ":" type ("," "vK" ":" type)* ")"] ":" inst*
    inst       := [values "="] opcode["." type] operands (per format, see ``printer``)

Value and block numbers are kept as written. Result types are inferred from the
operands, so a value may be used above its definition in the text.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from pyjitwasm.ir.function import (
    AbiParam,
    BlockCall,
    ExtFuncData,
    Function,
    GlobalValueData,
    HeapData,
    InstData,
    Signature,
    TableData,
)
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import OPCODES
from pyjitwasm.ir.types import TYPES_BY_NAME, Type
from pyjitwasm.ir.typing import TypingError, result_types
from pyjitwasm.wasm.traps import TrapCode


class ParseError(Exception):
    """Malformed IR text."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+) | (?P<nl>\n) | (?P<comment>;[^\n]*)
    | (?P<name>%[A-Za-z0-9_.$\-]+)
    | (?P<arrow>->)
    | (?P<special>[-+]?(?:inf|nan:0x[0-9a-fA-F]+)\b)
    | (?P<number>-?(?:0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<punct>[(){}\[\],:=+])
    """,
    re.VERBOSE,
)


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    line: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}", line)
        kind = m.lastgroup
        assert kind is not None
        if kind == "nl":
            line += 1
        elif kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), line))
        pos = m.end()
    tokens.append(Token("eof", "", line))
    return tokens


def _entity(prefix: str, text: str) -> int | None:
    if text.startswith(prefix) and text[len(prefix):].isdigit():
        return int(text[len(prefix):])
    return None


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    # Token helpers ----------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, message: str) -> ParseError:
        return ParseError(message, self.tok.line)

    def next(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.tok.text == text and self.tok.kind in ("punct", "arrow", "ident"):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise self.error(f"expected {text!r}, found {self.tok.text or 'end of input'!r}")

    def ident(self) -> str:
        if self.tok.kind != "ident":
            raise self.error(f"expected a word, found {self.tok.text or 'end of input'!r}")
        return self.next().text

    def entity(self, prefix: str) -> int:
        n = _entity(prefix, self.tok.text) if self.tok.kind == "ident" else None
        if n is None:
            raise self.error(f"expected {prefix}N, found {self.tok.text!r}")
        self.pos += 1
        return n

    def integer(self) -> int:
        if self.tok.kind != "number" or "." in self.tok.text or (
            "e" in self.tok.text.lower() and "x" not in self.tok.text.lower()
        ):
            raise self.error(f"expected an integer, found {self.tok.text!r}")
        return int(self.next().text.replace("_", ""), 0)

    def type(self) -> Type:
        name = self.ident()
        if name not in TYPES_BY_NAME:
            raise ParseError(f"unknown type {name!r}", self.tokens[self.pos - 1].line)
        return TYPES_BY_NAME[name]

    def trap_code(self) -> TrapCode:
        name = self.ident()
        try:
            return TrapCode[name.upper()]
        except KeyError:
            raise ParseError(f"unknown trap code {name!r}",
                             self.tokens[self.pos - 1].line) from None

    def offset(self) -> int:
        if self.accept("+"):
            return self.integer()
        if self.tok.kind == "number" and self.tok.text.startswith("-"):
            return self.integer()
        return 0

    def flags(self) -> MemFlags:
        names = []
        while self.tok.kind == "ident" and self.tok.text in MemFlags.flag_names():
            names.append(self.next().text)
        return MemFlags(**{n: True for n in names})

    def float_bits(self, width: int) -> int:
        tok = self.next()
        text = tok.text
        if tok.kind == "special" and "nan" in text:
            return int(text.split(":")[1], 16)
        if tok.kind not in ("special", "number") or "x" in text.lower():
            raise ParseError(f"expected a float, found {text!r}", tok.line)
        fmt = ("<f", "<I") if width == 32 else ("<d", "<Q")
        return struct.unpack(fmt[1], struct.pack(fmt[0], float(text)))[0]

    # Grammar ----------------------------------------------------------------------------

    def functions(self) -> list[Function]:
        funcs = []
        while self.tok.kind != "eof":
            funcs.append(self.function())
        return funcs

    def signature(self) -> Signature:
        sig = Signature()
        self.expect("(")
        if not self.accept(")"):
            while True:
                ty = self.type()
                purpose = "normal"
                if self.tok.text == "vmctx":
                    purpose = self.next().text
                sig.params.append(AbiParam(ty, purpose))
                if self.accept(")"):
                    break
                self.expect(",")
        if self.tok.kind == "arrow":
            self.next()
            sig.returns.append(self.type())
            while self.accept(","):
                sig.returns.append(self.type())
        return sig

    def function(self) -> Function:
        self.expect("function")
        if self.tok.kind != "name":
            raise self.error("expected the function's %name")
        name = self.next().text[1:]
        func = Function(name, self.signature())
        self.expect("{")
        self.declarations(func)
        pending: list[tuple[int, list[int], int]] = []  # inst, result numbers, line
        while not self.accept("}"):
            self.block(func, pending)
        _infer_results(func, pending)
        return func

    def declarations(self, func: Function) -> None:
        while self.tok.kind == "ident":
            text = self.tok.text
            kinds = (("gv", func.global_values), ("heap", func.heaps), ("table", func.tables),
                     ("sig", func.signatures), ("fn", func.ext_funcs))
            found = [(p, items) for p, items in kinds if _entity(p, text) is not None]
            if not found:
                return
            prefix, items = found[0]
            n = _entity(prefix, text)
            if n != len(items):
                raise self.error(f"{text} declared out of order (expected {prefix}{len(items)})")
            self.next()
            self.expect("=")
            if prefix == "gv":
                func.global_values.append(self.global_value())
            elif prefix == "heap":
                func.heaps.append(self.heap())
            elif prefix == "table":
                func.tables.append(self.table())
            elif prefix == "sig":
                func.signatures.append(self.signature())
            else:
                if self.tok.kind != "name":
                    raise self.error("expected the external function's %name")
                ext_name = self.next().text[1:]
                func.ext_funcs.append(ExtFuncData(ext_name, self.entity("sig")))

    def global_value(self) -> GlobalValueData:
        word = self.ident()
        if word == "vmctx":
            from pyjitwasm.ir.types import POINTER

            return GlobalValueData("vmctx", POINTER)
        op, _, tyname = word.partition(".")
        if tyname not in TYPES_BY_NAME:
            raise self.error(f"global value needs a type: {word!r}")
        ty = TYPES_BY_NAME[tyname]
        if op == "load":
            flags = self.flags()
            base = self.entity("gv")
            return GlobalValueData("load", ty, base, self.offset(), flags)
        if op == "iadd_imm":
            base = self.entity("gv")
            self.expect(",")
            return GlobalValueData("iadd_imm", ty, base, self.integer())
        raise self.error(f"unknown global value kind {op!r}")

    def key(self, name: str) -> None:
        self.expect(name)
        self.expect("=")

    def heap(self) -> HeapData:
        style = self.ident()
        if style not in ("static", "dynamic"):
            raise self.error(f"heap style must be static or dynamic, not {style!r}")
        self.key("base")
        base = self.entity("gv")
        self.expect(",")
        self.key("bound")
        bound = self.integer() if style == "static" else self.entity("gv")
        self.expect(",")
        self.key("offset_guard")
        guard = self.integer()
        self.expect(",")
        self.key("index_type")
        return HeapData(style, base, bound, guard, self.type())

    def table(self) -> TableData:
        self.expect("dynamic")
        self.key("base")
        base = self.entity("gv")
        self.expect(",")
        self.key("bound")
        bound = self.entity("gv")
        self.expect(",")
        self.key("element_size")
        size = self.integer()
        self.expect(",")
        self.key("index_type")
        return TableData(base, bound, size, self.type())

    def block(self, func: Function, pending: list) -> None:  # type: ignore[type-arg]
        block = self.entity("block")
        func.dfg.ensure_block(block)
        if func.layout.is_inserted(block):
            raise self.error(f"block{block} defined twice")
        func.layout.append_block(block)
        if self.accept("("):
            while True:
                v = self.entity("v")
                self.expect(":")
                try:
                    func.dfg.append_block_param(block, self.type(), v)
                except ValueError as e:
                    raise self.error(str(e)) from None
                if self.accept(")"):
                    break
                self.expect(",")
        self.expect(":")
        while self.tok.kind == "ident" and _entity("block", self.tok.text) is None:
            line = self.tok.line
            results: list[int] = []
            if _entity("v", self.tok.text) is not None:
                results.append(self.entity("v"))
                while self.accept(","):
                    results.append(self.entity("v"))
                self.expect("=")
            data = self.instruction(func)
            inst = func.dfg.make_inst(data)
            func.layout.insert_inst(inst, block)
            pending.append((inst, results, line))

    def values(self) -> list[int]:
        out = [self.entity("v")]
        while self.accept(","):
            out.append(self.entity("v"))
        return out

    def block_call(self) -> BlockCall:
        block = self.entity("block")
        args: list[int] = []
        if self.accept("("):
            if not self.accept(")"):
                args = self.values()
                self.expect(")")
        return BlockCall(block, args)

    def call_args(self) -> list[int]:
        self.expect("(")
        if self.accept(")"):
            return []
        args = self.values()
        self.expect(")")
        return args

    def instruction(self, func: Function) -> InstData:
        word = self.ident()
        opcode, dot, tyname = word.partition(".")
        info = OPCODES.get(opcode)
        if info is None:
            raise self.error(f"unknown opcode {opcode!r}")
        ctrl = None
        if dot:
            if tyname not in TYPES_BY_NAME:
                raise self.error(f"unknown type {tyname!r}")
            ctrl = TYPES_BY_NAME[tyname]
        data = InstData(opcode, ctrl_type=ctrl)
        fmt = info.format
        if fmt == "unary_imm":
            value = self.integer()
            bits = ctrl.bits if ctrl is not None else 64
            if not -(1 << (bits - 1)) <= value < (1 << bits):
                raise self.error(f"iconst immediate {value} does not fit {ctrl}")
            data.imm = value & ((1 << bits) - 1)
        elif fmt in ("ieee32", "ieee64"):
            data.imm = self.float_bits(32 if fmt == "ieee32" else 64)
        elif fmt == "vconst":
            data.imm = self.integer()
        elif fmt == "nullary":
            pass
        elif fmt in ("unary", "binary", "ternary", "multiary"):
            if _entity("v", self.tok.text) is not None:
                data.args = self.values()
        elif fmt == "binary_imm":
            data.args = [self.entity("v")]
            self.expect(",")
            data.imm = self.integer()
        elif fmt in ("int_compare", "float_compare", "int_compare_imm"):
            data.cond = self.ident()
            if fmt == "int_compare_imm":
                data.args = [self.entity("v")]
                self.expect(",")
                data.imm = self.integer()
            else:
                data.args = self.values()
        elif fmt == "load":
            data.flags = self.flags()
            data.args = [self.entity("v")]
            data.imm = self.offset()
        elif fmt == "store":
            data.flags = self.flags()
            value = self.entity("v")
            self.expect(",")
            data.args = [value, self.entity("v")]
            data.imm = self.offset()
        elif fmt == "heap_addr":
            data.entity = self.entity("heap")
            self.expect(",")
            data.args = [self.entity("v")]
            self.expect(",")
            data.imm = self.integer()
            self.expect(",")
            data.size = self.integer()
        elif fmt == "table_addr":
            data.entity = self.entity("table")
            self.expect(",")
            data.args = [self.entity("v")]
            self.expect(",")
            data.imm = self.integer()
        elif fmt == "global_value":
            data.entity = self.entity("gv")
        elif fmt == "func_addr":
            data.entity = self.entity("fn")
        elif fmt == "call":
            data.entity = self.entity("fn")
            data.args = self.call_args()
        elif fmt == "call_indirect":
            data.entity = self.entity("sig")
            self.expect(",")
            callee = self.entity("v")
            data.args = [callee, *self.call_args()]
        elif fmt == "jump":
            data.dests = [self.block_call()]
        elif fmt == "brif":
            data.args = [self.entity("v")]
            self.expect(",")
            then = self.block_call()
            self.expect(",")
            data.dests = [then, self.block_call()]
        elif fmt == "br_table":
            data.args = [self.entity("v")]
            self.expect(",")
            data.dests = [self.block_call()]
            self.expect(",")
            self.expect("[")
            if not self.accept("]"):
                data.table.append(self.entity("block"))
                while self.accept(","):
                    data.table.append(self.entity("block"))
                self.expect("]")
        elif fmt == "trap":
            data.trap = self.trap_code()
        elif fmt == "cond_trap":
            data.args = [self.entity("v")]
            self.expect(",")
            data.trap = self.trap_code()
        elif fmt == "int_add_trap":
            a = self.entity("v")
            self.expect(",")
            b = self.entity("v")
            self.expect(",")
            data.args = [a, b]
            data.trap = self.trap_code()
        else:  # pragma: no cover
            raise AssertionError(fmt)
        return data


def _infer_results(func: Function, pending: list[tuple[int, list[int], int]]) -> None:
    """Type every instruction's results, repeating over the instructions whose operands
    were not typed yet (uses above definitions)."""
    dfg = func.dfg
    todo = pending
    while todo:
        waiting = []
        for inst, numbers, line in todo:
            data = dfg.insts[inst]
            if not all(dfg.value_exists(v) for v in data.args):
                waiting.append((inst, numbers, line))
                continue
            try:
                types = result_types(func, data, [dfg.value_type(v) for v in data.args])
            except TypingError as e:
                # Keep ill-typed code readable so the verifier can report on it: guess
                # the results from the controlling type or the first operand.
                guess = data.ctrl_type or (dfg.value_type(data.args[0]) if data.args else None)
                if guess is None:
                    raise ParseError(str(e), line) from None
                types = [guess] * len(numbers)
            if len(types) != len(numbers):
                raise ParseError(f"{data.opcode} has {len(types)} result(s), "
                                 f"{len(numbers)} written", line)
            for ty, n in zip(types, numbers, strict=True):
                try:
                    dfg.add_result(inst, ty, n)
                except ValueError as e:
                    raise ParseError(str(e), line) from None
        if len(waiting) == len(todo):
            inst, _, line = waiting[0]
            missing = [v for v in dfg.insts[inst].args if not dfg.value_exists(v)]
            raise ParseError(f"use of undefined value v{missing[0]}", line)
        todo = waiting


def parse_functions(text: str) -> list[Function]:
    """Every function in ``text``."""
    return _Parser(text).functions()


def parse_function(text: str) -> Function:
    """The single function in ``text``."""
    funcs = parse_functions(text)
    if len(funcs) != 1:
        raise ParseError(f"expected one function, found {len(funcs)}", 1)
    return funcs[0]
