"""Tier 0 without the IR: one wasm function body straight to LLVM IR text.

A baseline compiler in the manner of V8's Liftoff or Wasmtime's Winch, except that what
it writes is LLVM text for LLVM's cheapest configuration.  The body is read once; the
wasm operand stack is a Python list of LLVM value names (an ``i32`` constant is its
decimal literal, folded into its uses); locals live in ``alloca`` slots (LLVM's level-0
code generation keeps values in memory anyway, and no SSA construction is needed);
inside one basic block a local's current value is remembered, so a ``local.get`` after
a ``local.set`` or another ``local.get`` loads nothing.  A block's results meet in
``phi`` nodes (every edge into a block's end is a forward edge, known by the time the
end is reached); a loop's parameters go through ``alloca`` slots.

The code has the ABI and the behaviour of the IR path's tier-0 code
(``translate/`` + ``ir/legalize.py`` + ``jit/lower.py`` with tier counters), so the two
share a batch and a slot table: the same function symbol, parameters and results
(``jit/abi.py``), the stack-limit prologue, every call through a code slot, the
tier-up counter at entry and at loop headers (``translate/tiering.py``), static heaps
unchecked behind their guard pages and dynamic heaps checked against their length
(``translate/memory.py``, ``ir/legalize.py``), heap accesses ``volatile`` with a
compiler fence before each trap branch, trap calls with a site number each
(``abi.trap_operand``), and ``call_indirect``'s checks in wasm's order.

What it does not cover makes :func:`emit_function` return None, and the function takes
the IR path (per-function fallback): SIMD and reference types, memory64 and tables of
64-bit indices, bulk memory instructions other than ``memory.fill``/``memory.copy``
(inline form), table instructions, tail calls, multi-value function
results (block results of any count are covered), and any function when epoch or fuel
checks are compiled in.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.jit import abi
from pyjitwasm.jit.lower import function_type
from pyjitwasm.jit.lower_debug import FunctionLocations
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.env import ModuleInfo, uses_static_heap
from pyjitwasm.translate.tiering import COUNTER_PARKED, COUNTER_SIZE
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import BLOCKTYPE_EMPTY, OPS

# wasm value type -> LLVM type; the types the emitter covers.
_LLVM = {0x7F: "i32", 0x7E: "i64", 0x7D: "float", 0x7C: "double"}
# LLVM type -> the first letter of its values' names, and back: the operand stack holds
# names only, and ``select`` (untyped) reads its operands' type from their names.
_PREFIX = {"i32": "%i", "i64": "%l", "float": "%f", "double": "%d"}
_TYPE_OF_LETTER = {"i": "i32", "l": "i64", "f": "float", "d": "double"}
_BITS = {"i32": 32, "i64": 64, "float": 32, "double": 64}
_SUFFIX = {"i32": "i32", "i64": "i64", "float": "f32", "double": "f64"}

_HEAP = ", !tbaa !3"  # jit/lower.module_metadata: the wasm heap's TBAA type
_RUNTIME = ", !tbaa !5"  # runtime data (vmctx, tables, globals, counters)
_INVARIANT = ", !tbaa !5, !invariant.load !0"
_FENCE = '  call void asm sideeffect "", "~{memory}"()'
_UNLIKELY = '!prof !{!"branch_weights", i32 1, i32 1048576}'
_TRAP_SYMBOL = abi.TRAP_SYMBOL


class Unsupported(Exception):
    """The function uses something the emitter does not cover (it takes the IR path)."""


def _type(valtype: int) -> str:
    ty = _LLVM.get(valtype)
    if ty is None:
        raise Unsupported(f"value type 0x{valtype:x}")
    return ty


def _type_of(value: str) -> str:
    return "i32" if value[0] != "%" else _TYPE_OF_LETTER[value[1]]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _double_literal(value: float) -> str:
    """An exact LLVM literal for a float or double constant (hex of the double)."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    return f"0x{bits:016X}"


class _Frame:
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
    """Writes the LLVM text of one function (see the module docstring).  One instance
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
        self.frames: list[_Frame] = []
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
        self.counting = True

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
            f"  {name} = load {ty}, ptr {name}.a, align 8{_INVARIANT}"])

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
        out.append(_FENCE)
        out.append(f"  br i1 {cond}, label %{trap}, label %{cont}, {_UNLIKELY}")
        self.open(cont, keep=True)

    def trap(self, code: int) -> None:
        operand = abi.trap_operand(code, len(self.traps) + 1)
        self.traps.append(("", operand, ""))  # a site number, no block
        self.out.append(f"  call void @{_TRAP_SYMBOL}(ptr %vmctx, i32 {operand}){self.dbg}")
        self.out.append("  unreachable")
        self.reachable = False

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
        out.append(f"  store i32 %k{n}, ptr {counter}, align 4{_RUNTIME}")
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
            return [], [_type(blocktype & 0x7F)]
        ftype = self.info.module.types[blocktype]
        return [_type(p) for p in ftype.params], [_type(r) for r in ftype.results]

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

    def close_frame(self, frame: _Frame) -> None:
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
            name = self.fresh(_PREFIX[ty])
            edges = ", ".join(f"[ {values[i]}, %{label} ]" for label, values in incoming)
            self.out.append(f"  {name} = phi {ty} {edges}")
            self.stack.append(name)

    # The function ------------------------------------------------------------------------

    def emit(self, name: str, linkage: str) -> str:
        info = self.info
        module = info.module
        first = info.num_imported_funcs
        body = module.codes[self.func_index - first]
        ftype = info.func_types[self.func_index]
        if len(ftype.results) > 1:
            raise Unsupported("multi-value results")
        params = [_type(p) for p in ftype.params]
        results = [_type(r) for r in ftype.results]
        local_types = params + [_type(t) for t in body.locals]
        self.local_types = local_types
        out = self.out
        # Parameters are named by their type's letter too (``_type_of``).
        args = ", ".join(f"{ty} {_PREFIX[ty]}a{i}" for i, ty in enumerate(params))
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
                self.fixed[i] = f"{_PREFIX[ty]}a{i}"
                continue
            self.allocas.append(f"  %L{i} = alloca {ty}")
            initial = f"{_PREFIX[ty]}a{i}" if i < len(params) else _ZERO[ty]
            out.append(f"  store {ty} {initial}, ptr %L{i}")
        self.cache = self.fixed.copy()
        self.frames.append(_Frame("function", "", results, 0))
        # The entry count (translate/tiering.count_function_entry).
        counter = self.counter_address()
        out.append(f"  %k0 = load i32, ptr {counter}, align 4{_RUNTIME}")
        self.count_down("%k0")
        handlers = HANDLERS
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
                out.append(f"  call void @{_TRAP_SYMBOL}(ptr %vmctx, i32 {operand}){dbg}")
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
                end(self, None)
        elif code == op.ELSE and not self.dead_depth:
            else_(self, None)


_ZERO = {"i32": "0", "i64": "0", "float": "0.0", "double": "0.0"}


# Control ------------------------------------------------------------------------------

def block(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    e.frames.append(_Frame("block", e.fresh("E"), results, len(e.stack) - len(params)))


def loop(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    stack = e.stack
    frame = _Frame("loop", "", results, len(stack) - len(params))
    out = e.out
    if params:
        values = stack[len(stack) - len(params):]
        del stack[len(stack) - len(params):]
        for ty, value in zip(params, values, strict=True):
            slot = e.fresh("%s")
            e.allocas.append(f"  {slot} = alloca {ty}")
            out.append(f"  store {ty} {value}, ptr {slot}")
            frame.slots.append((slot, ty))
    frame.header = e.fresh("H")
    out.append(f"  br label %{frame.header}")
    e.open(frame.header)
    for slot, ty in frame.slots:
        name = e.fresh(_PREFIX[ty])
        out.append(f"  {name} = load {ty}, ptr {slot}")
        stack.append(name)
    e.frames.append(frame)
    e.has_loop = True
    count = e.fresh("%n")
    out.append(f"  {count} = load i32, ptr %count, align 4")
    e.count_down(count)


def if_(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    cond = e.condition(e.stack.pop())
    stack = e.stack
    frame = _Frame("if", e.fresh("E"), results, len(stack) - len(params))
    frame.else_label = e.fresh("F")
    frame.else_args = stack[len(stack) - len(params):] if params else []
    then = e.fresh("I")
    e.out.append(f"  br i1 {cond}, label %{then}, label %{frame.else_label}")
    e.frames.append(frame)
    e.open(then)


def else_(e: FunctionEmitter, imm: Any) -> None:
    frame = e.frames[-1]
    if e.reachable:
        e.branch(0)
    del e.stack[frame.height:]
    e.stack.extend(frame.else_args)
    frame.kind = "else"
    e.open(frame.else_label)
    e.reachable = True


def end(e: FunctionEmitter, imm: Any) -> None:
    frame = e.frames.pop()
    kind = frame.kind
    if kind == "loop":
        return  # falls through with its results on the stack (or stays dead)
    if kind == "function":
        if e.reachable:
            e.return_values(frame.results)
        e.reachable = False
        return
    if e.reachable:
        e.frames.append(frame)
        e.branch(0)
        e.frames.pop()
    del e.stack[frame.height:]
    if kind == "if":
        # No else: the else edge forwards the params as the results.
        e.open(frame.else_label)
        frame.incoming.append((frame.else_label, frame.else_args))
        e.out.append(f"  br label %{frame.end}")
    e.close_frame(frame)


def br(e: FunctionEmitter, depth: int) -> None:
    e.branch(depth)
    e.reachable = False


def br_if(e: FunctionEmitter, depth: int) -> None:
    cond = e.condition(e.stack.pop())
    frame = e.frames[-1 - depth]
    out = e.out
    nxt = e.fresh("B")
    if frame.kind == "block" or frame.kind == "if" or frame.kind == "else":
        count = len(frame.results)
        stack = e.stack
        frame.incoming.append((e.label, stack[len(stack) - count:] if count else []))
        out.append(f"  br i1 {cond}, label %{frame.end}, label %{nxt}")
    elif frame.kind == "loop" and not frame.slots:
        out.append(f"  br i1 {cond}, label %{frame.header}, label %{nxt}")
    else:
        taken = e.fresh("J")
        out.append(f"  br i1 {cond}, label %{taken}, label %{nxt}")
        e.open(taken)
        e.branch(depth)
        e.open(nxt)
        return
    e.open(nxt, keep=True)


def br_table(e: FunctionEmitter, imm: Any) -> None:
    depths, default = imm
    index = e.stack.pop()
    targets: dict[int, str] = {}
    edges: list[tuple[int, str]] = []
    for depth in (*depths, default):
        if depth in targets:
            continue
        frame = e.frames[-1 - depth]
        if frame.kind == "loop" and not frame.slots:
            targets[depth] = frame.header
        elif frame.kind in ("block", "if", "else") and not frame.results:
            targets[depth] = frame.end
            frame.incoming.append((e.label, []))
        else:
            targets[depth] = e.fresh("W")
            edges.append((depth, targets[depth]))
    cases = " ".join(f"i32 {i}, label %{targets[d]}" for i, d in enumerate(depths))
    e.out.append(f"  switch i32 {index}, label %{targets[default]} [ {cases} ]")
    for depth, label in edges:
        e.open(label)
        e.branch(depth)
    e.reachable = False


def return_(e: FunctionEmitter, imm: Any) -> None:
    e.return_values(e.frames[0].results)
    e.reachable = False


def unreachable(e: FunctionEmitter, imm: Any) -> None:
    e.trap(TrapCode.UNREACHABLE)


def nop(e: FunctionEmitter, imm: Any) -> None:
    pass


def drop(e: FunctionEmitter, imm: Any) -> None:
    e.stack.pop()


def select(e: FunctionEmitter, imm: Any) -> None:
    stack = e.stack
    cond = e.condition(stack.pop())
    b = stack.pop()
    a = stack.pop()
    ty = _type(imm[0]) if imm else _type_of(a if a[0] == "%" else b)
    name = e.fresh(_PREFIX[ty])
    e.out.append(f"  {name} = select i1 {cond}, {ty} {a}, {ty} {b}")
    stack.append(name)


# Variables --------------------------------------------------------------------------------

def local_get(e: FunctionEmitter, index: int) -> None:
    value = e.cache.get(index)
    if value is None:
        ty = e.local_types[index]
        value = e.fresh(_PREFIX[ty])
        e.out.append(f"  {value} = load {ty}, ptr %L{index}")
        e.cache[index] = value
    e.stack.append(value)


def local_set(e: FunctionEmitter, index: int) -> None:
    value = e.stack.pop()
    e.out.append(f"  store {e.local_types[index]} {value}, ptr %L{index}")
    e.cache[index] = value


def local_tee(e: FunctionEmitter, index: int) -> None:
    value = e.stack[-1]
    e.out.append(f"  store {e.local_types[index]} {value}, ptr %L{index}")
    e.cache[index] = value


def _global_address(e: FunctionEmitter, index: int) -> tuple[str, str, bool]:
    gtype = e.info.global_types[index]
    ty = _type(gtype.valtype)
    imported = e.layout.num_imported_globals
    if index < imported:
        address = e.vmctx_field(e.layout.imported_global(index))
    else:
        address = e.field_address("%vmctx", e.layout.global_(index - imported))
    return address, ty, gtype.mutable


def global_get(e: FunctionEmitter, index: int) -> None:
    address, ty, mutable = _global_address(e, index)
    name = e.fresh(_PREFIX[ty])
    e.out.append(f"  {name} = load {ty}, ptr {address}, align 8"
                 f"{_RUNTIME if mutable else _INVARIANT}")
    e.stack.append(name)


def global_set(e: FunctionEmitter, index: int) -> None:
    address, ty, _ = _global_address(e, index)
    e.out.append(f"  store {ty} {e.stack.pop()}, ptr {address}, align 8{_RUNTIME}")


# Memory ------------------------------------------------------------------------------------

def _memory(e: FunctionEmitter, memory: int) -> tuple[str, str, bool]:
    """(address of the base pointer, address of the length, static?) of ``memory``."""
    mtype = e.info.memory_types[memory]
    if mtype.is_64:
        raise Unsupported("memory64")
    layout = e.layout
    if memory < layout.num_imported_memories:
        owner = e.vmctx_field(layout.imported_memory(memory))
        at = 0
    else:
        owner, at = "%vmctx", layout.memory(memory - layout.num_imported_memories)
    base = e.field_address(owner, at + vm.MEMORY_DEF_BASE)
    length = e.field_address(owner, at + vm.MEMORY_DEF_LENGTH)
    return base, length, uses_static_heap(e.info.config.style, mtype)


def _address(e: FunctionEmitter, memarg: Any, size: int) -> str:
    """Pop the index; the checked address of a ``size``-byte access (``ir/legalize``'s
    ``heap_addr``)."""
    index = e.stack.pop()
    base_at, length_at, static = _memory(e, memarg.memory)
    offset = memarg.offset
    out = e.out
    n = e.fresh("")
    if index[0] == "%":
        out.append(f"  %x{n} = zext i32 {index} to i64")
        index64 = f"%x{n}"
    else:
        index64 = str(int(index) & 0xFFFFFFFF)
    end = offset + size
    config = e.info.config
    if static:
        if (1 << 32) - 1 + end > config.static_bound + config.guard:
            if end > config.static_bound:
                cond = "true"
            else:
                cond = f"%xc{n}"
                out.append(f"  {cond} = icmp ugt i64 {index64}, {config.static_bound - end}")
            e.trap_if(cond, TrapCode.MEMORY_OUT_OF_BOUNDS)
        base = e.hoist(f"mb{memarg.memory}", lambda name: [
            f"  {name} = load ptr, ptr {base_at}, align 8{_INVARIANT}"])
    else:
        out.append(f"  %xe{n} = add i64 {index64}, {end}")
        out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{_RUNTIME}")
        out.append(f"  %xc{n} = icmp ugt i64 %xe{n}, %xl{n}")
        e.trap_if(f"%xc{n}", TrapCode.MEMORY_OUT_OF_BOUNDS)
        base = f"%xb{n}"
        out.append(f"  {base} = load ptr, ptr {base_at}, align 8{_RUNTIME}")
    out.append(f"  %p{n} = getelementptr i8, ptr {base}, i64 {index64}")
    if offset:
        out.append(f"  %q{n} = getelementptr i8, ptr %p{n}, i64 {offset}")
        return f"%q{n}"
    return f"%p{n}"


def _load(ty: str, size: int, extend: str) -> Handler:
    narrow = f"i{size * 8}"

    def handle(e: FunctionEmitter, memarg: Any) -> None:
        address = _address(e, memarg, size)
        name = e.fresh(_PREFIX[ty])
        if extend:
            e.out.append(f"  {name}.n = load volatile {narrow}, ptr {address}, align 1{_HEAP}"
                         f"{e.dbg}")
            e.out.append(f"  {name} = {extend} {narrow} {name}.n to {ty}")
        else:
            e.out.append(f"  {name} = load volatile {ty}, ptr {address}, align 1{_HEAP}{e.dbg}")
        e.stack.append(name)
    return handle


def _store(ty: str, size: int, narrowing: bool) -> Handler:
    narrow = f"i{size * 8}"

    def handle(e: FunctionEmitter, memarg: Any) -> None:
        value = e.stack.pop()
        address = _address(e, memarg, size)
        if narrowing:
            name = e.fresh("%x")
            e.out.append(f"  {name} = trunc {ty} {value} to {narrow}")
            e.out.append(f"  store volatile {narrow} {name}, ptr {address}, align 1{_HEAP}"
                         f"{e.dbg}")
        else:
            e.out.append(f"  store volatile {ty} {value}, ptr {address}, align 1{_HEAP}{e.dbg}")
    return handle


def memory_size(e: FunctionEmitter, memory: int) -> None:
    _, length_at, _ = _memory(e, memory)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = load i64, ptr {length_at}, align 8{_RUNTIME}")
    shift = e.info.memory_types[memory].page_size_log2
    out.append(f"  %xs{n} = lshr i64 %x{n}, {shift}")
    out.append(f"  %i{n} = trunc i64 %xs{n} to i32")
    e.stack.append(f"%i{n}")


def memory_grow(e: FunctionEmitter, memory: int) -> None:
    _memory(e, memory)  # coverage check
    delta = e.stack.pop()
    grow = e.libcall(lc.MEMORY_GROW)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = zext i32 {delta} to i64")
    out.append(f"  %xr{n} = call i64 {grow}(ptr %vmctx, i64 {memory}, i64 %x{n}){e.dbg}")
    out.append(f"  %i{n} = trunc i64 %xr{n} to i32")
    e.stack.append(f"%i{n}")


def _memory_base(e: FunctionEmitter, memory: int, base_at: str, static: bool) -> str:
    """Memory ``memory``'s base address: loaded once for a static heap (it never
    moves), at each use for a dynamic one (``memory.grow`` may move it)."""
    if static:
        return e.hoist(f"mb{memory}", lambda name: [
            f"  {name} = load ptr, ptr {base_at}, align 8{_INVARIANT}"])
    base = e.fresh("%xb")
    e.out.append(f"  {base} = load ptr, ptr {base_at}, align 8{_RUNTIME}")
    return base


def _range_check(e: FunctionEmitter, length_at: str, start: str, size: str) -> str:
    """An i1: the byte range [start, start + size) of i64 values that come from i32s
    (so the sum cannot wrap) ends past the memory's current length."""
    n = e.fresh("")
    out = e.out
    out.append(f"  %xe{n} = add i64 {start}, {size}")
    out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{_RUNTIME}")
    out.append(f"  %xc{n} = icmp ugt i64 %xe{n}, %xl{n}")
    return f"%xc{n}"


def _widen(e: FunctionEmitter, value: str) -> str:
    if value[0] != "%":
        return str(int(value) & 0xFFFFFFFF)
    name = e.fresh("%x")
    e.out.append(f"  {name} = zext i32 {value} to i64")
    return name


def memory_fill(e: FunctionEmitter, memory: int) -> None:
    """Checked against the current length (nothing is written out of bounds), then
    ``llvm.memset`` (``translate/memory.py``'s inline form)."""
    if not e.info.config.inline_bulk_memory:
        raise Unsupported("memory.fill through the libcall")
    base_at, length_at, static = _memory(e, memory)
    stack = e.stack
    length, value, dst = stack.pop(), stack.pop(), stack.pop()
    start, size = _widen(e, dst), _widen(e, length)
    e.trap_if(_range_check(e, length_at, start, size), TrapCode.MEMORY_OUT_OF_BOUNDS)
    base = _memory_base(e, memory, base_at, static)
    n = e.fresh("")
    out = e.out
    out.append(f"  %xa{n} = getelementptr i8, ptr {base}, i64 {start}")
    out.append(f"  %xv{n} = trunc i32 {value} to i8")
    fn = e.intrinsic("llvm.memset.p0.i64", "void", "ptr, i8, i64, i1")
    out.append(_FENCE)
    out.append(f"  call void {fn}(ptr %xa{n}, i8 %xv{n}, i64 {size}, i1 false)")


def memory_copy(e: FunctionEmitter, imm: tuple[int, int]) -> None:
    """Both ranges checked (nothing is written out of bounds), then ``llvm.memmove``."""
    if not e.info.config.inline_bulk_memory:
        raise Unsupported("memory.copy through the libcall")
    dst_memory, src_memory = imm
    dst_base_at, dst_length_at, dst_static = _memory(e, dst_memory)
    src_base_at, src_length_at, src_static = _memory(e, src_memory)
    stack = e.stack
    length, src, dst = stack.pop(), stack.pop(), stack.pop()
    to, origin, size = _widen(e, dst), _widen(e, src), _widen(e, length)
    dst_oob = _range_check(e, dst_length_at, to, size)
    src_oob = _range_check(e, src_length_at, origin, size)
    either = e.fresh("%xo")
    e.out.append(f"  {either} = or i1 {dst_oob}, {src_oob}")
    e.trap_if(either, TrapCode.MEMORY_OUT_OF_BOUNDS)
    dst_base = _memory_base(e, dst_memory, dst_base_at, dst_static)
    src_base = dst_base if src_memory == dst_memory else \
        _memory_base(e, src_memory, src_base_at, src_static)
    n = e.fresh("")
    out = e.out
    out.append(f"  %xd{n} = getelementptr i8, ptr {dst_base}, i64 {to}")
    out.append(f"  %xs{n} = getelementptr i8, ptr {src_base}, i64 {origin}")
    fn = e.intrinsic("llvm.memmove.p0.p0.i64", "void", "ptr, ptr, i64, i1")
    out.append(_FENCE)
    out.append(f"  call void {fn}(ptr %xd{n}, ptr %xs{n}, i64 {size}, i1 false)")


# Calls -------------------------------------------------------------------------------------

def _call_with(e: FunctionEmitter, code: str, callee_vmctx: str, ftype: Any) -> None:
    if len(ftype.results) > 1:
        raise Unsupported("multi-value call")
    params = [_type(p) for p in ftype.params]
    stack = e.stack
    count = len(params)
    values = stack[len(stack) - count:] if count else []
    if count:
        del stack[len(stack) - count:]
    args = "".join(f", {ty} {v}" for ty, v in zip(params, values, strict=True))
    if ftype.results:
        ty = _type(ftype.results[0])
        name = e.fresh(_PREFIX[ty])
        e.out.append(f"  {name} = call {ty} {code}(ptr {callee_vmctx}, ptr %vmctx{args}){e.dbg}")
        stack.append(name)
    else:
        e.out.append(f"  call void {code}(ptr {callee_vmctx}, ptr %vmctx{args}){e.dbg}")


def call(e: FunctionEmitter, index: int) -> None:
    info = e.info
    ftype = info.func_types[index]
    imported = info.num_imported_funcs
    n = e.fresh("")
    out = e.out
    if index >= imported:
        slots = e.vmctx_field(e.layout.code_slots)
        out.append(f"  %xp{n} = getelementptr i8, ptr {slots}, i64 {vm.WORD * (index - imported)}")
        out.append(f"  %xf{n} = load ptr, ptr %xp{n}, align 8{_RUNTIME}")
        _call_with(e, f"%xf{n}", "%vmctx", ftype)
    else:
        at = e.layout.imported_func(index)
        slot = e.vmctx_field(at + vm.FUNC_IMPORT_SLOT)
        callee = e.vmctx_field(at + vm.FUNC_IMPORT_VMCTX)
        out.append(f"  %xf{n} = load ptr, ptr {slot}, align 8{_RUNTIME}")
        _call_with(e, f"%xf{n}", callee, ftype)


def call_indirect(e: FunctionEmitter, imm: Any) -> None:
    type_index, table = imm
    ttype = e.info.table_types[table]
    if ttype.is_64 or ttype.elem_type != 0x70:
        raise Unsupported("table type")
    ftype = e.info.module.types[type_index]
    index = e.stack.pop()
    layout = e.layout
    if table < layout.num_imported_tables:
        owner, at = e.vmctx_field(layout.imported_table(table)), 0
    else:
        owner, at = "%vmctx", layout.table(table - layout.num_imported_tables)
    elements_at = e.field_address(owner, at + vm.TABLE_DEF_ELEMENTS)
    length_at = e.field_address(owner, at + vm.TABLE_DEF_LENGTH)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = zext i32 {index} to i64")
    out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{_RUNTIME}")
    out.append(f"  %xc{n} = icmp uge i64 %x{n}, %xl{n}")
    e.trap_if(f"%xc{n}", TrapCode.UNDEFINED_ELEMENT)
    out.append(f"  %xb{n} = load ptr, ptr {elements_at}, align 8{_RUNTIME}")
    out.append(f"  %xa{n} = getelementptr i64, ptr %xb{n}, i64 %x{n}")
    out.append(f"  %xe{n} = load i64, ptr %xa{n}, align 8{_RUNTIME}")
    out.append(f"  %xd{n} = and i64 %xe{n}, -2")
    out.append(f"  %xz{n} = icmp ne i64 %xe{n}, 0")
    here = e.label
    out.append(f"  br i1 %xz{n}, label %D{n}, label %Z{n}")
    out.append(f"Z{n}:")
    lazy = e.libcall(lc.TABLE_LAZY_INIT)
    out.append(f"  %xi{n} = call i64 {lazy}(ptr %vmctx, i64 {table}, i64 %x{n}){e.dbg}")
    out.append(f"  br label %D{n}")
    e.open(f"D{n}", keep=True)
    out.append(f"  %xr{n} = phi i64 [ %xd{n}, %{here} ], [ %xi{n}, %Z{n} ]")
    out.append(f"  %xn{n} = icmp eq i64 %xr{n}, 0")
    e.trap_if(f"%xn{n}", TrapCode.INDIRECT_CALL_TO_NULL)
    out.append(f"  %xq{n} = inttoptr i64 %xr{n} to ptr")
    out.append(f"  %xsa{n} = getelementptr i8, ptr %xq{n}, i64 {vm.FUNC_REF_SIGNATURE}")
    out.append(f"  %xs{n} = load i32, ptr %xsa{n}, align 4{_INVARIANT}")
    expected = e.vmctx_field(layout.signature_id(type_index), "i32")
    out.append(f"  %xm{n} = icmp ne i32 %xs{n}, {expected}")
    e.trap_if(f"%xm{n}", TrapCode.BAD_SIGNATURE)
    out.append(f"  %xo{n} = load ptr, ptr %xq{n}, align 8{_INVARIANT}")
    out.append(f"  %xva{n} = getelementptr i8, ptr %xq{n}, i64 {vm.FUNC_REF_VMCTX}")
    out.append(f"  %xv{n} = load ptr, ptr %xva{n}, align 8{_INVARIANT}")
    out.append(f"  %xf{n} = load ptr, ptr %xo{n}, align 8{_RUNTIME}")
    _call_with(e, f"%xf{n}", f"%xv{n}", ftype)


# Numbers -----------------------------------------------------------------------------------

def i32_const(e: FunctionEmitter, value: int) -> None:
    e.stack.append(str(_signed(value, 32)))


def i64_const(e: FunctionEmitter, value: int) -> None:
    name = e.fresh("%l")
    e.out.append(f"  {name} = add i64 0, {_signed(value, 64)}")
    e.stack.append(name)


def _float_const(ty: str, fmt: str) -> Handler:
    bits_ty = "i32" if ty == "float" else "i64"
    width = _BITS[ty]
    raw = "<I" if ty == "float" else "<Q"

    def handle(e: FunctionEmitter, bits: int) -> None:
        name = e.fresh(_PREFIX[ty])
        e.out.append(f"  {name} = bitcast {bits_ty} {_signed(bits, width)} to {ty}")
        (e.float_consts[name],) = struct.unpack(fmt, struct.pack(raw, bits))
        e.stack.append(name)
    return handle


def _binary(ty: str, instruction: str) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        e.n += 1
        name = f"{prefix}{e.n}"
        e.out.append(f"  {name} = {instruction} {ty} {a}, {b}")
        stack.append(name)
    return handle


def _shift(ty: str, instruction: str) -> Handler:
    prefix = _PREFIX[ty]
    mask = _BITS[ty] - 1

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        n = e.fresh("")
        if b[0] == "%":
            e.out.append(f"  %x{n} = and {ty} {b}, {mask}")
            b = f"%x{n}"
        else:
            b = str(int(b) & mask)
        e.out.append(f"  {prefix}{n} = {instruction} {ty} {a}, {b}")
        stack.append(f"{prefix}{n}")
    return handle


def _compare(ty: str, predicate: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        e.n += 1
        n = e.n
        e.out.append(f"  %c{n} = icmp {predicate} {ty} {a}, {b}")
        e.out.append(f"  %i{n} = zext i1 %c{n} to i32")
        e.bools[f"%i{n}"] = f"%c{n}"
        stack.append(f"%i{n}")
    return handle


def _eqz(ty: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        e.n += 1
        n = e.n
        e.out.append(f"  %c{n} = icmp eq {ty} {a}, 0")
        e.out.append(f"  %i{n} = zext i1 %c{n} to i32")
        e.bools[f"%i{n}"] = f"%c{n}"
        e.stack.append(f"%i{n}")
    return handle


def _division(ty: str, instruction: str) -> Handler:
    """Divisions and remainders with wasm's traps (``ir/legalize``'s ``sdiv``/``srem``/
    ``unsigned_div``): a zero divisor, ``MIN / -1``; ``MIN rem -1`` is 0."""
    prefix = _PREFIX[ty]
    bits = _BITS[ty]
    minimum = -(1 << (bits - 1))

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        out = e.out
        n = e.fresh("")
        constant = None if b[0] == "%" else int(b)
        if constant is None or constant == 0:
            out.append(f"  %xz{n} = icmp eq {ty} {b}, 0")
            e.trap_if(f"%xz{n}", TrapCode.INTEGER_DIVISION_BY_ZERO)
        if instruction == "sdiv" and (constant is None or constant == -1):
            out.append(f"  %xa{n} = icmp eq {ty} {a}, {minimum}")
            out.append(f"  %xb{n} = icmp eq {ty} {b}, -1")
            out.append(f"  %xo{n} = and i1 %xa{n}, %xb{n}")
            e.trap_if(f"%xo{n}", TrapCode.INTEGER_OVERFLOW)
        if instruction == "srem" and constant is None:
            out.append(f"  %xm{n} = icmp eq {ty} {b}, -1")
            out.append(f"  %xs{n} = select i1 %xm{n}, {ty} 1, {ty} {b}")
            b = f"%xs{n}"
        elif instruction == "srem" and constant == -1:
            b = "1"
        out.append(f"  {prefix}{n} = {instruction} {ty} {a}, {b}")
        stack.append(f"{prefix}{n}")
    return handle


def _unary_intrinsic(ty: str, base: str, extra: str = "") -> Handler:
    prefix = _PREFIX[ty]
    params = f"{ty}, i1" if extra else ty

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{_SUFFIX[ty]}", ty, params)
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}{extra})")
        e.stack.append(name)
    return handle


def _rotate(ty: str, base: str) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{_SUFFIX[ty]}", ty, f"{ty}, {ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}, {ty} {a}, {ty} {b})")
        e.stack.append(name)
    return handle


def _convert(src: str, dst: str, instruction: str) -> Handler:
    prefix = _PREFIX[dst]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = {instruction} {src} {a} to {dst}")
        e.stack.append(name)
    return handle


def _extend_narrow(ty: str, bits: int) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        n = e.fresh("")
        e.out.append(f"  %x{n} = trunc {ty} {a} to i{bits}")
        e.out.append(f"  {prefix}{n} = sext i{bits} %x{n} to {ty}")
        e.stack.append(f"{prefix}{n}")
    return handle


def _float_binary(ty: str, instruction: str) -> Handler:
    """fadd/fsub/fmul/fdiv; with an identity constant operand LLVM may fold the
    operation away and let a signalling NaN through, so the result is canonicalized
    then (``jit/lower.py``'s ``float_binary``)."""
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        name = e.fresh(prefix)
        consts = e.float_consts
        folds = False
        if b in consts:
            value = consts[b]
            folds = (instruction in ("fmul", "fdiv") and value in (1.0, -1.0)) or \
                (instruction in ("fadd", "fsub") and value == 0.0)
        if a in consts and not folds:
            value = consts[a]
            folds = (instruction == "fmul" and value in (1.0, -1.0)) or \
                (instruction in ("fadd", "fsub") and value == 0.0)
        if folds:
            fn = e.intrinsic(f"llvm.canonicalize.{_SUFFIX[ty]}", ty, ty)
            e.out.append(f"  {name}.r = {instruction} {ty} {a}, {b}")
            e.out.append(f"  {name} = call {ty} {fn}({ty} {name}.r)")
        else:
            e.out.append(f"  {name} = {instruction} {ty} {a}, {b}")
        stack.append(name)
    return handle


def _min_max(ty: str, base: str) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{_SUFFIX[ty]}", ty, f"{ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        out = e.out
        out.append(f"  {name}.m = call {ty} {fn}({ty} {a}, {ty} {b})")
        out.append(f"  {name}.u = fcmp uno {ty} {a}, {b}")
        out.append(f"  {name}.q = fadd {ty} {a}, {b}")
        out.append(f"  {name} = select i1 {name}.u, {ty} {name}.q, {ty} {name}.m")
        e.stack.append(name)
    return handle


def _fcompare(ty: str, predicate: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        b = e.stack.pop()
        a = e.stack.pop()
        n = e.fresh("")
        e.out.append(f"  %c{n} = fcmp {predicate} {ty} {a}, {b}")
        e.out.append(f"  %i{n} = zext i1 %c{n} to i32")
        e.bools[f"%i{n}"] = f"%c{n}"
        e.stack.append(f"%i{n}")
    return handle


def _fneg(ty: str) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        name = e.fresh(prefix)
        e.out.append(f"  {name} = fneg {ty} {e.stack.pop()}")
        e.stack.append(name)
    return handle


def _copysign(ty: str) -> Handler:
    prefix = _PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.copysign.{_SUFFIX[ty]}", ty, f"{ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}, {ty} {b})")
        e.stack.append(name)
    return handle


def promote(e: FunctionEmitter, imm: Any) -> None:
    name = e.fresh("%d")
    e.out.append(f"  {name} = fpext float {e.stack.pop()} to double")
    e.promoted.add(name)
    e.stack.append(name)


def demote(e: FunctionEmitter, imm: Any) -> None:
    a = e.stack.pop()
    name = e.fresh("%f")
    if a in e.promoted:
        # LLVM folds demote(promote(x)) to x, passing a signalling NaN through.
        fn = e.intrinsic("llvm.canonicalize.f32", "float", "float")
        e.out.append(f"  {name}.r = fptrunc double {a} to float")
        e.out.append(f"  {name} = call float {fn}(float {name}.r)")
    else:
        e.out.append(f"  {name} = fptrunc double {a} to float")
    e.stack.append(name)


def _saturating(src: str, dst: str, signed: bool) -> Handler:
    prefix = _PREFIX[dst]
    base = "fptosi" if signed else "fptoui"

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.sat.{_SUFFIX[dst]}.{_SUFFIX[src]}", dst, src)
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {dst} {fn}({src} {e.stack.pop()})")
        e.stack.append(name)
    return handle


def _trapping_truncation(src: str, dst: str, signed: bool) -> Handler:
    """A float to integer truncation that traps on NaN (bad conversion) and on a value
    whose truncation is out of range (integer overflow)."""
    prefix = _PREFIX[dst]
    bits = _BITS[dst]
    if signed:
        low = -float(1 << (bits - 1)) - 1.0
        fmt = "<f" if src == "float" else "<d"
        exact = struct.unpack(fmt, struct.pack(fmt, low))[0] == low and \
            low == -(1 << (bits - 1)) - 1
        low_test = f"fcmp ogt {src} %A, {_double_literal(low)}" if exact else \
            f"fcmp oge {src} %A, {_double_literal(-float(1 << (bits - 1)))}"
        high = float(1 << (bits - 1))
        instruction = "fptosi"
    else:
        low_test = f"fcmp ogt {src} %A, {_double_literal(-1.0)}"
        high = float(1 << bits)
        instruction = "fptoui"
    high_test = f"fcmp olt {src} %A, {_double_literal(high)}"

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        n = e.fresh("")
        out = e.out
        out.append(f"  %xu{n} = fcmp uno {src} {a}, {a}")
        e.trap_if(f"%xu{n}", TrapCode.BAD_CONVERSION_TO_INTEGER)
        out.append(f"  %xl{n} = {low_test.replace('%A', a)}")
        out.append(f"  %xh{n} = {high_test.replace('%A', a)}")
        out.append(f"  %xi{n} = and i1 %xl{n}, %xh{n}")
        out.append(f"  %xo{n} = xor i1 %xi{n}, true")
        e.trap_if(f"%xo{n}", TrapCode.INTEGER_OVERFLOW)
        out.append(f"  {prefix}{n} = {instruction} {src} {a} to {dst}")
        e.stack.append(f"{prefix}{n}")
    return handle


def _build_handlers() -> dict[int, Handler]:
    h: dict[int, Handler] = {
        op.UNREACHABLE: unreachable, op.NOP: nop, op.BLOCK: block, op.LOOP: loop,
        op.IF: if_, op.ELSE: else_, op.END: end, op.BR: br, op.BR_IF: br_if,
        op.BR_TABLE: br_table, op.RETURN: return_, op.CALL: call,
        op.CALL_INDIRECT: call_indirect, op.DROP: drop, op.SELECT: select,
        op.SELECT_T: select, op.LOCAL_GET: local_get, op.LOCAL_SET: local_set,
        op.LOCAL_TEE: local_tee, op.GLOBAL_GET: global_get, op.GLOBAL_SET: global_set,
        op.MEMORY_SIZE: memory_size, op.MEMORY_GROW: memory_grow,
        op.MEMORY_FILL: memory_fill, op.MEMORY_COPY: memory_copy,
        op.I32_CONST: i32_const, op.I64_CONST: i64_const,
        op.F32_CONST: _float_const("float", "<f"), op.F64_CONST: _float_const("double", "<d"),
        op.F64_PROMOTE_F32: promote, op.F32_DEMOTE_F64: demote,
    }
    loads = {
        op.I32_LOAD: ("i32", 4, ""), op.I64_LOAD: ("i64", 8, ""),
        op.F32_LOAD: ("float", 4, ""), op.F64_LOAD: ("double", 8, ""),
        op.I32_LOAD8_S: ("i32", 1, "sext"), op.I32_LOAD8_U: ("i32", 1, "zext"),
        op.I32_LOAD16_S: ("i32", 2, "sext"), op.I32_LOAD16_U: ("i32", 2, "zext"),
        op.I64_LOAD8_S: ("i64", 1, "sext"), op.I64_LOAD8_U: ("i64", 1, "zext"),
        op.I64_LOAD16_S: ("i64", 2, "sext"), op.I64_LOAD16_U: ("i64", 2, "zext"),
        op.I64_LOAD32_S: ("i64", 4, "sext"), op.I64_LOAD32_U: ("i64", 4, "zext"),
    }
    for code, (ty, size, extend) in loads.items():
        h[code] = _load(ty, size, extend)
    stores = {
        op.I32_STORE: ("i32", 4, False), op.I64_STORE: ("i64", 8, False),
        op.F32_STORE: ("float", 4, False), op.F64_STORE: ("double", 8, False),
        op.I32_STORE8: ("i32", 1, True), op.I32_STORE16: ("i32", 2, True),
        op.I64_STORE8: ("i64", 1, True), op.I64_STORE16: ("i64", 2, True),
        op.I64_STORE32: ("i64", 4, True),
    }
    for code, (ty, size, narrowing) in stores.items():
        h[code] = _store(ty, size, narrowing)
    for ty, p in (("i32", "I32_"), ("i64", "I64_")):
        def o(name: str, p: str = p) -> int:
            return int(getattr(op, p + name))
        for name, instruction in (("ADD", "add"), ("SUB", "sub"), ("MUL", "mul"),
                                  ("AND", "and"), ("OR", "or"), ("XOR", "xor")):
            h[o(name)] = _binary(ty, instruction)
        for name, instruction in (("SHL", "shl"), ("SHR_S", "ashr"), ("SHR_U", "lshr")):
            h[o(name)] = _shift(ty, instruction)
        for name, instruction in (("DIV_S", "sdiv"), ("DIV_U", "udiv"), ("REM_S", "srem"),
                                  ("REM_U", "urem")):
            h[o(name)] = _division(ty, instruction)
        for name, predicate in (("EQ", "eq"), ("NE", "ne"), ("LT_S", "slt"), ("LT_U", "ult"),
                                ("GT_S", "sgt"), ("GT_U", "ugt"), ("LE_S", "sle"),
                                ("LE_U", "ule"), ("GE_S", "sge"), ("GE_U", "uge")):
            h[o(name)] = _compare(ty, predicate)
        h[o("EQZ")] = _eqz(ty)
        h[o("CLZ")] = _unary_intrinsic(ty, "ctlz", ", i1 false")
        h[o("CTZ")] = _unary_intrinsic(ty, "cttz", ", i1 false")
        h[o("POPCNT")] = _unary_intrinsic(ty, "ctpop")
        h[o("ROTL")] = _rotate(ty, "fshl")
        h[o("ROTR")] = _rotate(ty, "fshr")
        h[o("EXTEND8_S")] = _extend_narrow(ty, 8)
        h[o("EXTEND16_S")] = _extend_narrow(ty, 16)
    h[op.I64_EXTEND32_S] = _extend_narrow("i64", 32)
    h[op.I32_WRAP_I64] = _convert("i64", "i32", "trunc")
    h[op.I64_EXTEND_I32_S] = _convert("i32", "i64", "sext")
    h[op.I64_EXTEND_I32_U] = _convert("i32", "i64", "zext")
    h[op.I32_REINTERPRET_F32] = _convert("float", "i32", "bitcast")
    h[op.I64_REINTERPRET_F64] = _convert("double", "i64", "bitcast")
    h[op.F32_REINTERPRET_I32] = _convert("i32", "float", "bitcast")
    h[op.F64_REINTERPRET_I64] = _convert("i64", "double", "bitcast")
    for ty, p in (("float", "F32_"), ("double", "F64_")):
        def f(name: str, p: str = p) -> int:
            return int(getattr(op, p + name))
        for name, instruction in (("ADD", "fadd"), ("SUB", "fsub"), ("MUL", "fmul"),
                                  ("DIV", "fdiv")):
            h[f(name)] = _float_binary(ty, instruction)
        h[f("MIN")] = _min_max(ty, "minimum")
        h[f("MAX")] = _min_max(ty, "maximum")
        for name, predicate in (("EQ", "oeq"), ("NE", "une"), ("LT", "olt"), ("GT", "ogt"),
                                ("LE", "ole"), ("GE", "oge")):
            h[f(name)] = _fcompare(ty, predicate)
        for name, base in (("ABS", "fabs"), ("SQRT", "sqrt"), ("CEIL", "ceil"),
                           ("FLOOR", "floor"), ("TRUNC", "trunc"), ("NEAREST", "roundeven")):
            h[f(name)] = _unary_intrinsic(ty, base)
        h[f("NEG")] = _fneg(ty)
        h[f("COPYSIGN")] = _copysign(ty)
        for src_name, src in (("I32", "i32"), ("I64", "i64")):
            h[f(f"CONVERT_{src_name}_S")] = _convert(src, ty, "sitofp")
            h[f(f"CONVERT_{src_name}_U")] = _convert(src, ty, "uitofp")
    for dst_name, dst in (("I32", "i32"), ("I64", "i64")):
        for src_name, src in (("F32", "float"), ("F64", "double")):
            for sign, signed in (("S", True), ("U", False)):
                h[getattr(op, f"{dst_name}_TRUNC_{src_name}_{sign}")] = \
                    _trapping_truncation(src, dst, signed)
                h[getattr(op, f"{dst_name}_TRUNC_SAT_{src_name}_{sign}")] = \
                    _saturating(src, dst, signed)
    return h


HANDLERS: dict[int, Handler] = _build_handlers()
"""The one table: wasm opcode -> emitter.  An opcode not in it is not covered."""


def emit_function(info: ModuleInfo, func_index: int, name: str, linkage: str,
                  declarations: dict[str, str],
                  locations: FunctionLocations | None = None) -> str | None:
    """The LLVM text defining wasm function ``func_index`` as ``@name`` (tier-0 code,
    the IR path's ABI), or None when the function uses something not covered (the
    caller then takes the IR path).  ``declarations`` receives the ``declare`` lines the
    text needs (name -> line), added only when the function is covered.  ``locations``:
    give the instructions a backtrace may stop at their wasm offsets as debug locations
    (the machine code is the same either way)."""
    if info.checks.epoch or info.checks.fuel:
        return None
    emitter = FunctionEmitter(info, func_index, {}, locations)
    try:
        text = emitter.emit(name, linkage)
    except Unsupported:
        return None
    for key, line in emitter.declarations.items():
        declarations.setdefault(key, line)
    return text


__all__ = ["HANDLERS", "FunctionEmitter", "Unsupported", "emit_function"]
