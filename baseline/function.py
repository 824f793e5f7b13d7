"""The state of one function's direct emission (``FunctionEmitter``) and what the
handlers share: value names, types, metadata suffixes, the control frames.

See ``emitter`` for the design.  The handlers (``control``, ``memory``, ``numeric``)
are plain functions ``(emitter, immediate) -> None`` over this state."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from pyjitwasm.jit import abi
from pyjitwasm.jit.lower import function_type
from pyjitwasm.jit.lower_debug import FunctionLocations
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.translate.tier_table import COUNTER_PARKED, COUNTER_SIZE
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import BLOCKTYPE_EMPTY, OPS

# wasm value type -> LLVM type; the types the emitter covers.
WASM_TO_LLVM = {0x7F: "i32", 0x7E: "i64", 0x7D: "float", 0x7C: "double"}
# LLVM type -> the first letter of its values' names, and back: the operand stack holds
# names only, and ``select`` (untyped) reads its operands' type from their names.
PREFIX = {"i32": "%i", "i64": "%l", "float": "%f", "double": "%d"}
TYPE_OF_LETTER = {"i": "i32", "l": "i64", "f": "float", "d": "double"}
BITS = {"i32": 32, "i64": 64, "float": 32, "double": 64}
SUFFIX = {"i32": "i32", "i64": "i64", "float": "f32", "double": "f64"}

HEAP = ", !tbaa !3"  # jit/lower.module_metadata: the wasm heap's TBAA type
RUNTIME = ", !tbaa !5"  # runtime data (vmctx, tables, globals, counters)
INVARIANT = ", !tbaa !5, !invariant.load !0"
FENCE = '  call void asm sideeffect "", "~{memory}"()'
UNLIKELY = '!prof !{!"branch_weights", i32 1, i32 1048576}'
TRAP_SYMBOL = abi.TRAP_SYMBOL


class Unsupported(Exception):
    """The function uses something the emitter does not cover (it takes the IR path)."""


def wasm_type(valtype: int) -> str:
    """The LLVM type of a wasm value type the emitter covers (else Unsupported)."""
    ty = WASM_TO_LLVM.get(valtype)
    if ty is None:
        raise Unsupported(f"value type 0x{valtype:x}")
    return ty


def type_of(value: str) -> str:
    """The LLVM type of an operand-stack value (a literal is an ``i32``)."""
    return "i32" if value[0] != "%" else TYPE_OF_LETTER[value[1]]


def signed(value: int, bits: int) -> int:
    """The two's complement reading of a ``bits``-wide constant (LLVM's literals)."""
    return value - (1 << bits) if value >> (bits - 1) else value


def double_literal(value: float) -> str:
    """An exact LLVM literal for a float or double constant (hex of the double)."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    return f"0x{bits:016X}"


class Frame:
    """One open control construct."""

    __slots__ = ("kind", "end", "header", "results", "height", "else_label", "else_args",
                 "incoming", "slots")

    def __init__(self, kind: str, end: str, results: list[str], height: int) -> None:
        self.kind = kind  # "block", "loop", "if", "else", "function"
        self.end = end  # label of the code after the construct
        self.header = ""  # a loop's header label
        self.results = results  # LLVM types of the results
        self.height = height  # operand stack height below the construct's params
        self.else_label = ""
        self.else_args: list[str] = []
        self.incoming: list[tuple[str, list[str]]] = []  # (from label, results)
        self.slots: list[tuple[str, str]] = []  # a loop's param slots: (alloca, type)


Handler = Callable[["FunctionEmitter", Any], None]


class FunctionEmitter:
    """Writes the LLVM text of one function (the design: ``emitter``).  One instance
    per function: :meth:`emit` returns the text, or raises :class:`Unsupported`."""

    def __init__(self, info: ModuleInfo, func_index: int, declarations: dict[str, str],
                 locations: FunctionLocations | None = None) -> None:
        self.info = info
        # With debug locations (``jit/lower_debug.py``), the instructions a backtrace may
        # stop at (calls, trap calls, heap accesses) carry their wasm offset as ``dbg``,
        # the suffix of the instruction being emitted; the code is the same without.
        self.locations = locations
        self.dbg = ""
        self.layout = info.layout
        self.func_index = func_index
        self.declarations = declarations  # name -> declare line (shared by the batch)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.frames: list[Frame] = []
        self.n = 0  # value and label counter
        self.label = "entry"
        self.cache: dict[int, str] = {}  # local -> its value in the current basic block
        self.fixed: dict[int, str] = {}  # parameters never written: local -> the argument
        self.count_lines: list[int] = []  # lines keeping the tier-up count for loops
        self.has_loop = False
        self.bools: dict[str, str] = {}  # an i32 made by zext of a compare -> the i1
        self.float_consts: dict[str, float] = {}
        self.promoted: set[str] = set()
        self.allocas: list[str] = []
        self.preamble: list[str] = []  # loads at the top of the entry block (invariant)
        self.hoisted: dict[str, str] = {}  # key -> name of a preamble value
        self.traps: list[tuple[str, int, str]] = []  # (label, trap operand, dbg)
        self.reachable = True
        self.dead_depth = 0
        self.handlers: Mapping[int, Handler] = {}

    # Names and lines ----------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def open(self, label: str, keep: bool = False) -> None:
        """Start basic block ``label``.  ``keep``: the block's predecessors are the
        current block and blocks it dominates, so the locals' remembered values stay
        valid (a trap check's continuation, a tier-up call's return)."""
        self.out.append(f"{label}:")
        self.label = label
        if not keep:
            self.cache = self.fixed.copy() if self.fixed else {}

    def declare(self, name: str, line: str) -> None:
        if name not in self.declarations:
            self.declarations[name] = line

    def intrinsic(self, name: str, ret: str, params: str) -> str:
        self.declare(name, f"declare {ret} @{name}({params}) nounwind")
        return "@" + name

    def libcall(self, call: lc.Libcall) -> str:
        ret, params = function_type(call.signature(), False)
        attrs = " nounwind cold" if call.cold else " nounwind"
        self.declare(call.symbol, f"declare {ret} @{call.symbol}({', '.join(params)}){attrs}")
        return "@" + call.symbol

    def hoist(self, key: str, lines: Callable[[str], list[str]]) -> str:
        """A value computed once at the top of the entry block (an invariant vmctx load):
        ``lines(name)`` makes its lines the first time ``key`` is asked for."""
        name = self.hoisted.get(key)
        if name is None:
            name = self.hoisted[key] = self.fresh("%h")
            self.preamble.extend(lines(name))
        return name

    def vmctx_field(self, offset: int, ty: str = "ptr") -> str:
        """An invariant ``ty`` field of the vmctx at ``offset``, loaded once."""
        return self.hoist(f"v{offset}{ty}", lambda name: [
            f"  {name}.a = getelementptr i8, ptr %vmctx, i64 {offset}",
            f"  {name} = load {ty}, ptr {name}.a, align 8{INVARIANT}"])

    def field_address(self, owner: str, offset: int) -> str:
        """The address ``owner + offset`` of a runtime field, computed once."""
        if offset == 0:
            return owner
        return self.hoist(f"a{owner}{offset}", lambda name: [
            f"  {name} = getelementptr i8, ptr {owner}, i64 {offset}"])

    # Traps and control helpers ---------------------------------------------------------

    def trap_if(self, cond: str, code: int) -> None:
        """Branch to a new trap site when the i1 ``cond`` holds; continue in a new block."""
        out = self.out
        trap = self.fresh("T")
        cont = self.fresh("K")
        self.traps.append((trap, abi.trap_operand(code, len(self.traps) + 1), self.dbg))
        out.append(FENCE)
        out.append(f"  br i1 {cond}, label %{trap}, label %{cont}, {UNLIKELY}")
        self.open(cont, keep=True)

    def trap(self, code: int) -> None:
        operand = abi.trap_operand(code, len(self.traps) + 1)
        self.traps.append(("", operand, ""))  # a site number, no block
        self.out.append(f"  call void @{TRAP_SYMBOL}(ptr %vmctx, i32 {operand}){self.dbg}")
        self.out.append("  unreachable")
        self.reachable = False

    def push_bool(self, compare: str) -> None:
        """Push wasm's i32 0/1 of the i1 comparison ``compare`` (the text after ``=``),
        remembering the i1 for a branch on it (:meth:`condition`)."""
        self.n += 1
        n = self.n
        self.out.append(f"  %c{n} = {compare}")
        self.out.append(f"  %i{n} = zext i1 %c{n} to i32")
        self.bools[f"%i{n}"] = f"%c{n}"
        self.stack.append(f"%i{n}")

    def condition(self, value: str) -> str:
        """The i1 of an i32 condition."""
        i1 = self.bools.get(value)
        if i1 is not None:
            out = self.out
            if out[-1] == f"  {value} = zext i1 {i1} to i32":
                out.pop()  # made just now and used only here: the i1 is enough
            return i1
        name = self.fresh("%c")
        self.out.append(f"  {name} = icmp ne i32 {value}, 0")
        return name

    def count_down(self, count: str) -> None:
        """Store ``count - 1`` as the function's tier-up count; call ``tier_up`` (once)
        when it goes negative (``translate/tiering.py``)."""
        out = self.out
        n = self.fresh("")
        counter = self.counter_address()
        tier_up = self.libcall(lc.TIER_UP)
        out.append(f"  %k{n} = add i32 {count}, -1")
        out.append(f"  store i32 %k{n}, ptr {counter}, align 4{RUNTIME}")
        self.count_lines.append(len(out))
        out.append(f"  store i32 %k{n}, ptr %count, align 4")
        out.append(f"  %kc{n} = icmp slt i32 %k{n}, 0")
        out.append(f"  br i1 %kc{n}, label %U{n}, label %R{n}")
        out.append(f"U{n}:")
        number = self.func_index - self.info.num_imported_funcs
        out.append(f"  call void {tier_up}(ptr %vmctx, i64 {number}){self.dbg}")
        self.count_lines.append(len(out))
        out.append(f"  store i32 {COUNTER_PARKED}, ptr %count, align 4")
        out.append(f"  br label %R{n}")
        self.open(f"R{n}", keep=True)

    def counter_address(self) -> str:
        table = self.vmctx_field(self.layout.tier_counters)
        offset = COUNTER_SIZE * (self.func_index - self.info.num_imported_funcs)
        return self.field_address(table, offset)

    def block_types(self, blocktype: int) -> tuple[list[str], list[str]]:
        if blocktype == BLOCKTYPE_EMPTY:
            return [], []
        if blocktype < 0:
            return [], [wasm_type(blocktype & 0x7F)]
        ftype = self.info.module.types[blocktype]
        return [wasm_type(p) for p in ftype.params], [wasm_type(r) for r in ftype.results]

    def branch(self, depth: int) -> None:
        """An unconditional branch to the frame ``depth`` levels out (its values are on
        top of the stack)."""
        frame = self.frames[-1 - depth]
        out = self.out
        stack = self.stack
        if frame.kind == "function":
            self.return_values(frame.results)
        elif frame.kind == "loop":
            if frame.slots:
                values = stack[len(stack) - len(frame.slots):]
                for (slot, ty), value in zip(frame.slots, values, strict=True):
                    out.append(f"  store {ty} {value}, ptr {slot}")
            out.append(f"  br label %{frame.header}")
        else:
            count = len(frame.results)
            frame.incoming.append((self.label, stack[len(stack) - count:] if count else []))
            out.append(f"  br label %{frame.end}")

    def return_values(self, results: list[str]) -> None:
        if not results:
            self.out.append("  ret void")
        else:
            self.out.append(f"  ret {results[0]} {self.stack[-1]}")

    def close_frame(self, frame: Frame) -> None:
        """Open ``frame``'s end label with phis of its results, if anything reaches it."""
        if not frame.incoming:
            self.reachable = False
            return
        self.open(frame.end)
        self.reachable = True
        incoming = frame.incoming
        if len(incoming) == 1:
            self.stack.extend(incoming[0][1])
            return
        for i, ty in enumerate(frame.results):
            name = self.fresh(PREFIX[ty])
            edges = ", ".join(f"[ {values[i]}, %{label} ]" for label, values in incoming)
            self.out.append(f"  {name} = phi {ty} {edges}")
            self.stack.append(name)

    # The function ------------------------------------------------------------------------

    def emit(self, name: str, linkage: str, handlers: Mapping[int, Handler]) -> str:
        """The function's text; raises :class:`Unsupported` for what ``handlers`` (opcode
        -> handler) does not cover."""
        self.handlers = handlers
        info = self.info
        module = info.module
        first = info.num_imported_funcs
        body = module.codes[self.func_index - first]
        ftype = info.func_types[self.func_index]
        if len(ftype.results) > 1:
            raise Unsupported("multi-value results")
        params = [wasm_type(p) for p in ftype.params]
        results = [wasm_type(r) for r in ftype.results]
        local_types = params + [wasm_type(t) for t in body.locals]
        self.local_types = local_types
        out = self.out
        # Parameters are named by their type's letter too (``type_of``).
        args = ", ".join(f"{ty} {PREFIX[ty]}a{i}" for i, ty in enumerate(params))
        ret = results[0] if results else "void"
        locations = self.locations
        debug = f" !dbg !{locations.subprogram}" if locations is not None else ""
        head = f"define {linkage + ' ' if linkage else ''}{ret} @{name}(ptr %vmctx, " \
               f"ptr %caller_vmctx{', ' + args if args else ''}) #0{debug} {{"
        out.append(head)
        alloca_at = len(out)
        out.append("")  # the allocas, filled in at the end
        instrs = body.instrs
        if locations is not None:
            # The entry checks belong to the first instruction (as in the IR path).
            self.dbg = locations.suffix(instrs[0].offset if instrs else -1)
        out.append(abi.stack_check_ir(label="body", trap_suffix=self.dbg).rstrip("\n"))
        self.label = "body"
        preamble_at = len(out)
        out.append("")  # the preamble, filled in at the end
        # A parameter the body never writes is its argument, no slot (most are).
        written = {x.imm for x in instrs if x.op == op.LOCAL_SET or x.op == op.LOCAL_TEE} \
            if params else set()
        for i, ty in enumerate(local_types):
            if i < len(params) and i not in written:
                self.fixed[i] = f"{PREFIX[ty]}a{i}"
                continue
            self.allocas.append(f"  %L{i} = alloca {ty}")
            initial = f"{PREFIX[ty]}a{i}" if i < len(params) else ZERO[ty]
            out.append(f"  store {ty} {initial}, ptr %L{i}")
        self.cache = self.fixed.copy()
        self.frames.append(Frame("function", "", results, 0))
        # The entry count (translate/tiering.count_function_entry).
        counter = self.counter_address()
        out.append(f"  %k0 = load i32, ptr {counter}, align 4{RUNTIME}")
        self.count_down("%k0")
        for instr in instrs:
            if self.reachable:
                handler = handlers.get(instr.op)
                if handler is None:
                    raise Unsupported(OPS[instr.op].name if instr.op in OPS else str(instr.op))
                if locations is not None:
                    self.dbg = locations.suffix(instr.offset)
                handler(self, instr.imm)
            else:
                self.skip(instr)
        for label, operand, dbg in self.traps:
            if label:
                out.append(f"{label}:")
                out.append(f"  call void @{TRAP_SYMBOL}(ptr %vmctx, i32 {operand}){dbg}")
                out.append("  unreachable")
        out.append("}")
        if self.has_loop:
            self.allocas.append("  %count = alloca i32")
        else:
            for line in self.count_lines:  # no loop header reads the count
                out[line] = ""
        out[alloca_at] = "\n".join(self.allocas)
        out[preamble_at] = "\n".join(self.preamble)
        return "\n".join(out) + "\n"

    def skip(self, instr: Instr) -> None:
        """Dead code: track nesting until the construct that made it dead ends."""
        code = instr.op
        if code in (op.BLOCK, op.LOOP, op.IF):
            self.dead_depth += 1
        elif code == op.END:
            if self.dead_depth:
                self.dead_depth -= 1
            else:
                self.handlers[op.END](self, None)
        elif code == op.ELSE and not self.dead_depth:
            self.handlers[op.ELSE](self, None)


ZERO = {"i32": "0", "i64": "0", "float": "0.0", "double": "0.0"}
