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
from collections.abc import Callable
from dataclasses import dataclass

from pyjitwasm.ir.entities import (
    Block,
    FuncRef,
    GlobalValue,
    Heap,
    Inst,
    SigRef,
    Table,
    Value,
)
from pyjitwasm.ir.function import (
    AbiParam,
    ExtFuncData,
    Function,
    GlobalValueData,
    HeapData,
    Signature,
    TableData,
)
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import (
    OPCODES,
    Binary,
    BinaryImm,
    BlockCall,
    Brif,
    BrTable,
    Call,
    CallIndirect,
    CondTrap,
    FloatCompare,
    FuncAddr,
    HeapAddr,
    InsertLane,
    InstructionData,
    IntAddTrap,
    IntCompare,
    IntCompareImm,
    Jump,
    Load,
    MemMove,
    MemSet,
    MultiAry,
    Nullary,
    Shuffle,
    Store,
    TableAddr,
    Ternary,
    Trap,
    Unary,
    UnaryConst,
    UnaryGlobalValue,
    UnaryIeee32,
    UnaryIeee64,
    UnaryImm,
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import POINTER, TYPES_BY_NAME, Type
from pyjitwasm.ir.typing import TypingError, result_types


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
        bits: int = struct.unpack(fmt[1], struct.pack(fmt[0], float(text)))[0]
        return bits

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
                if self.tok.text in ("vmctx", "osr_locals"):  # AbiParam's purposes
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
        pending: list[_Pending] = []
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
                sig = SigRef(self.entity("sig"))
                func.ext_funcs.append(ExtFuncData(ext_name, sig, self.accept("cold")))

    def global_value(self) -> GlobalValueData:
        word = self.ident()
        if word == "vmctx":
            return GlobalValueData("vmctx", POINTER)
        op, _, tyname = word.partition(".")
        if tyname not in TYPES_BY_NAME:
            raise self.error(f"global value needs a type: {word!r}")
        ty = TYPES_BY_NAME[tyname]
        if op == "load":
            flags = self.flags()
            base = GlobalValue(self.entity("gv"))
            return GlobalValueData("load", ty, base, self.offset(), flags)
        if op == "iadd_imm":
            base = GlobalValue(self.entity("gv"))
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
        base = GlobalValue(self.entity("gv"))
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
        base = GlobalValue(self.entity("gv"))
        self.expect(",")
        self.key("bound")
        bound = GlobalValue(self.entity("gv"))
        self.expect(",")
        self.key("element_size")
        size = self.integer()
        self.expect(",")
        self.key("index_type")
        return TableData(base, bound, size, self.type())

    def block(self, func: Function, pending: list[_Pending]) -> None:
        block = Block(self.entity("block"))
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
            pending.append(_Pending(inst, results, line))

    def value(self) -> Value:
        return Value(self.entity("v"))

    def values(self) -> list[Value]:
        out = [self.value()]
        while self.accept(","):
            out.append(self.value())
        return out

    def block_call(self) -> BlockCall:
        block = Block(self.entity("block"))
        args: list[Value] = []
        if self.accept("("):
            if not self.accept(")"):
                args = self.values()
                self.expect(")")
        return BlockCall(block, tuple(args))

    def call_args(self) -> list[Value]:
        self.expect("(")
        if self.accept(")"):
            return []
        args = self.values()
        self.expect(")")
        return args

    def instruction(self, func: Function) -> InstructionData:
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
        # The instruction formats hold a controlling type only where the opcode takes one.
        if info.ctrl and ctrl is None:
            raise self.error(f"{opcode} needs a controlling type")
        if ctrl is not None and not info.ctrl:
            raise self.error(f"{opcode} takes no controlling type")
        return _FORMAT_PARSERS[info.format](self, opcode, ctrl)

    # One method per instruction format: the operands after ``opcode[.ctrl]``; ``ctrl``
    # is present exactly when the opcode takes one (``instruction`` checked).

    def unary_imm(self, opcode: str, ctrl: Type | None) -> InstructionData:
        value = self.integer()
        bits = ctrl.bits if ctrl is not None else 64
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise self.error(f"iconst immediate {value} does not fit {ctrl}")
        return UnaryImm(opcode, _required(ctrl), value & ((1 << bits) - 1))

    def ieee32(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return UnaryIeee32(opcode, self.float_bits(32))

    def ieee64(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return UnaryIeee64(opcode, self.float_bits(64))

    def vconst(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return UnaryConst(opcode, _required(ctrl), self.integer())

    def nullary(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return Nullary(opcode, _required(ctrl))

    def optional_values(self) -> tuple[Value, ...]:
        return tuple(self.values()) if _entity("v", self.tok.text) is not None else ()

    def operands(self, opcode: str, count: int) -> tuple[Value, ...]:
        args = self.optional_values()
        if len(args) != count:
            raise self.error(f"{opcode} takes {count} operand(s), got {len(args)}")
        return args

    def unary(self, opcode: str, ctrl: Type | None) -> InstructionData:
        (arg,) = self.operands(opcode, 1)
        return Unary(opcode, ctrl, arg)

    def binary(self, opcode: str, ctrl: Type | None) -> InstructionData:
        a, b = self.operands(opcode, 2)
        return Binary(opcode, (a, b))

    def ternary(self, opcode: str, ctrl: Type | None) -> InstructionData:
        a, b, c = self.operands(opcode, 3)
        return Ternary(opcode, (a, b, c))

    def multiary(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return MultiAry(opcode, self.optional_values())

    def binary_imm(self, opcode: str, ctrl: Type | None) -> InstructionData:
        arg = self.value()
        self.expect(",")
        return BinaryImm(opcode, arg, self.integer())

    def int_compare(self, opcode: str, ctrl: Type | None) -> InstructionData:
        cond = self.ident()
        a, b = self.value_pair()
        return IntCompare(opcode, cond, (a, b))

    def float_compare(self, opcode: str, ctrl: Type | None) -> InstructionData:
        cond = self.ident()
        a, b = self.value_pair()
        return FloatCompare(opcode, cond, (a, b))

    def int_compare_imm(self, opcode: str, ctrl: Type | None) -> InstructionData:
        cond = self.ident()
        arg = self.value()
        self.expect(",")
        return IntCompareImm(opcode, cond, arg, self.integer())

    def value_pair(self) -> tuple[Value, Value]:
        a = self.value()
        self.expect(",")
        return a, self.value()

    def load(self, opcode: str, ctrl: Type | None) -> InstructionData:
        flags = self.flags()
        address = self.value()
        return Load(opcode, _required(ctrl), flags, address, self.offset())

    def store(self, opcode: str, ctrl: Type | None) -> InstructionData:
        flags = self.flags()
        value, address = self.value_pair()
        return Store(opcode, flags, value, address, self.offset())

    def heap_addr(self, opcode: str, ctrl: Type | None) -> InstructionData:
        heap = Heap(self.entity("heap"))
        self.expect(",")
        index = self.value()
        self.expect(",")
        offset = self.integer()
        self.expect(",")
        return HeapAddr(opcode, _required(ctrl), heap, index, offset, self.integer())

    def table_addr(self, opcode: str, ctrl: Type | None) -> InstructionData:
        table = Table(self.entity("table"))
        self.expect(",")
        index = self.value()
        self.expect(",")
        return TableAddr(opcode, _required(ctrl), table, index, self.integer())

    def global_value_inst(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return UnaryGlobalValue(opcode, _required(ctrl), GlobalValue(self.entity("gv")))

    def func_addr(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return FuncAddr(opcode, _required(ctrl), FuncRef(self.entity("fn")))

    def memmove(self, opcode: str, ctrl: Type | None) -> InstructionData:
        dst, src, size = self.operands(opcode, 3)
        return MemMove(opcode, dst, src, size)

    def memset(self, opcode: str, ctrl: Type | None) -> InstructionData:
        dst, byte, size = self.operands(opcode, 3)
        return MemSet(opcode, dst, byte, size)

    def call(self, opcode: str, ctrl: Type | None) -> InstructionData:
        fn = FuncRef(self.entity("fn"))
        return Call(opcode, fn, tuple(self.call_args()))

    def call_indirect(self, opcode: str, ctrl: Type | None) -> InstructionData:
        sig = SigRef(self.entity("sig"))
        self.expect(",")
        callee = self.value()
        return CallIndirect(opcode, sig, callee, tuple(self.call_args()))

    def jump(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return Jump(opcode, self.block_call())

    def brif(self, opcode: str, ctrl: Type | None) -> InstructionData:
        cond = self.value()
        self.expect(",")
        then = self.block_call()
        self.expect(",")
        return Brif(opcode, cond, then, self.block_call())

    def br_table(self, opcode: str, ctrl: Type | None) -> InstructionData:
        index = self.value()
        self.expect(",")
        default = self.block_call()
        self.expect(",")
        self.expect("[")
        table: list[Block] = []
        if not self.accept("]"):
            table.append(Block(self.entity("block")))
            while self.accept(","):
                table.append(Block(self.entity("block")))
            self.expect("]")
        return BrTable(opcode, index, default, tuple(table))

    def trap(self, opcode: str, ctrl: Type | None) -> InstructionData:
        return Trap(opcode, self.trap_code())

    def cond_trap(self, opcode: str, ctrl: Type | None) -> InstructionData:
        cond = self.value()
        self.expect(",")
        return CondTrap(opcode, cond, self.trap_code())

    def insert_lane(self, opcode: str, ctrl: Type | None) -> InstructionData:
        a, b = self.value_pair()
        self.expect(",")
        return InsertLane(opcode, (a, b), self.integer())

    def shuffle(self, opcode: str, ctrl: Type | None) -> InstructionData:
        a, b = self.value_pair()
        self.expect(",")
        self.expect("[")
        mask: list[int] = []
        if not self.accept("]"):
            mask.append(self.integer())
            while self.accept(","):
                mask.append(self.integer())
            self.expect("]")
        return Shuffle(opcode, (a, b), tuple(mask))

    def int_add_trap(self, opcode: str, ctrl: Type | None) -> InstructionData:
        a, b = self.value_pair()
        self.expect(",")
        return IntAddTrap(opcode, (a, b), self.trap_code())


def _required(ctrl: Type | None) -> Type:
    """The controlling type of an opcode that takes one (``instruction`` checked)."""
    assert ctrl is not None
    return ctrl


_FormatParser = Callable[[_Parser, str, Type | None], InstructionData]

_FORMAT_PARSERS: dict[str, _FormatParser] = {
    "unary_imm": _Parser.unary_imm,
    "ieee32": _Parser.ieee32,
    "ieee64": _Parser.ieee64,
    "vconst": _Parser.vconst,
    "nullary": _Parser.nullary,
    "unary": _Parser.unary,
    "binary": _Parser.binary,
    "ternary": _Parser.ternary,
    "multiary": _Parser.multiary,
    "binary_imm": _Parser.binary_imm,
    "int_compare": _Parser.int_compare,
    "float_compare": _Parser.float_compare,
    "int_compare_imm": _Parser.int_compare_imm,
    "load": _Parser.load,
    "store": _Parser.store,
    "heap_addr": _Parser.heap_addr,
    "table_addr": _Parser.table_addr,
    "global_value": _Parser.global_value_inst,
    "func_addr": _Parser.func_addr,
    "memmove": _Parser.memmove,
    "memset": _Parser.memset,
    "call": _Parser.call,
    "call_indirect": _Parser.call_indirect,
    "jump": _Parser.jump,
    "brif": _Parser.brif,
    "br_table": _Parser.br_table,
    "trap": _Parser.trap,
    "cond_trap": _Parser.cond_trap,
    "int_add_trap": _Parser.int_add_trap,
    "insert_lane": _Parser.insert_lane,
    "shuffle": _Parser.shuffle,
}
"""The operand parser of each instruction format named in the opcode table."""


@dataclass(slots=True)
class _Pending:
    """An instruction whose results are not typed yet: their numbers as written, and the
    line it is on."""

    inst: Inst
    results: list[int]
    line: int


def _infer_results(func: Function, pending: list[_Pending]) -> None:
    """Type every instruction's results, repeating over the instructions whose operands
    were not typed yet (uses above definitions)."""
    dfg = func.dfg
    todo = pending
    while todo:
        waiting = []
        for item in todo:
            data = dfg.insts[item.inst]
            args = data.arguments()
            if not all(dfg.value_exists(v) for v in args):
                waiting.append(item)
                continue
            try:
                types = result_types(func, data, [dfg.value_type(v) for v in args])
            except TypingError as e:
                # Keep ill-typed code readable so the verifier can report on it: guess
                # the results from the controlling type or the first operand.
                guess = data.ctrl_type or (dfg.value_type(args[0]) if args else None)
                if guess is None:
                    raise ParseError(str(e), item.line) from None
                types = [guess] * len(item.results)
            if len(types) != len(item.results):
                raise ParseError(f"{data.opcode} has {len(types)} result(s), "
                                 f"{len(item.results)} written", item.line)
            for ty, n in zip(types, item.results, strict=True):
                try:
                    dfg.add_result(item.inst, ty, n)
                except ValueError as e:
                    raise ParseError(str(e), item.line) from None
        if len(waiting) == len(todo):
            first = waiting[0]
            missing = [v for v in dfg.insts[first.inst].arguments() if not dfg.value_exists(v)]
            raise ParseError(f"use of undefined value v{missing[0]}", first.line)
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
