"""Lowering legalized IR functions to LLVM IR text.

One IR function becomes one LLVM function with the ABI of ``jit/abi.py``:
``R @name(ptr %vmctx, ptr %caller_vmctx, params...)``.  The IR's own vmctx parameter is
the first; the second, the caller's vmctx, is added here, and every call to another wasm
function passes the current vmctx as the callee's ``caller_vmctx``.  Except in an
on-stack-replacement entry (``translate/osr.py``): its second IR parameter, of purpose
``"osr_locals"``, is the second LLVM parameter itself, so the entry is the C function
``R entry(uint64_t vmctx, uint64_t locals)`` that tier-0 code calls.

Mapping decisions:

* IR values are ``%vN``.  Constants are folded into their uses as literals.  ``icmp``,
  ``fcmp`` and ``is_null`` produce an ``i1`` (``%vN.c``) next to the IR's ``i8``, so
  branches, selects and traps on a comparison test the ``i1`` directly.
* Pointers are ``i64`` in the IR.  Values used as addresses (loads, stores, callees,
  vmctx arguments) also get a ``ptr`` form ``%vN.p`` derived the way LLVM's alias
  analysis understands: ``getelementptr`` from the vmctx parameter or from a loaded
  pointer, ``inttoptr`` only as a last resort.
* Memory accesses: ``aligned`` flags give natural alignment, anything else ``align 1``.
  Accesses marked ``notrap`` touch runtime data (vmctx, tables, globals), the others the
  wasm heap; each group gets its own TBAA type so that heap stores never invalidate a
  loaded memory base or length.  ``readonly`` loads are ``!invariant.load``.  Heap
  accesses are ``volatile``: LLVM takes loads and stores as non-trapping and would delete
  a load whose value ends up unused, or change how often and in which order accesses run,
  while on a static heap an access may be the very instruction that must fault in the
  guard pages (and the memory effects before a trap are observable).
* ``trapz``/``trapnz`` branch to one cold block per trap code that calls
  ``pyjitwasm_trap(vmctx, code)``; the prologue checks the stack limit (``abi``). In a
  function whose heap accesses may fault, each such branch is preceded by a compiler
  memory fence, so no heap access moves across a trap check and traps keep wasm's order.
* Block parameters become phi nodes; unreachable blocks are dropped.
* ``memmove``/``memset`` are ``llvm.memmove``/``llvm.memset`` (the translator has
  checked their ranges).  They write wasm memory without being heap accesses LLVM could
  see as faulting, so in a function whose heap accesses may fault each is preceded by
  the same compiler memory fence: an earlier access that must fault happens first.

Legalized IR is expected (``ir/legalize.py``): divisions, remainders, float-to-int
conversions and shifts are emitted as the plain LLVM instructions, whose bad inputs the
legalizer has already excluded.  ``heap_addr``, ``table_addr`` and ``global_value`` are
rejected.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from pyjitwasm.ir import types as t
from pyjitwasm.ir.entities import Block, FuncRef, Inst, Value
from pyjitwasm.ir.function import Function, Signature
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import (
    OPCODES,
    Binary,
    BinaryImm,
    Brif,
    BrTable,
    Call,
    CallIndirect,
    CondTrap,
    FloatCompare,
    FuncAddr,
    InstructionData,
    IntAddTrap,
    IntCompare,
    IntCompareImm,
    Jump,
    Load,
    MemMove,
    MemSet,
    Nullary,
    Store,
    Ternary,
    Trap,
    Unary,
    UnaryConst,
    UnaryIeee32,
    UnaryIeee64,
    UnaryImm,
    spec,
)
from pyjitwasm.jit import abi
from pyjitwasm.jit.lower_debug import FunctionLocations
from pyjitwasm.jit.lower_simd import SIMD_LOWERINGS, vector_icmp
from pyjitwasm.jit.lower_simd_float import SIMD_FLOAT_LOWERINGS, saturating_vector
from pyjitwasm.jit.lower_simd_relaxed import SIMD_RELAXED_LOWERINGS
from pyjitwasm.jit.lower_types import (
    LLVM_TYPES,
    f32_literal,
    f64_literal,
    int_literal,
    intrinsic_suffix,
    lanes_of,
    llvm_type,
    splat,
    vector_literal,
)
from pyjitwasm.jit.simd_branch_hints import reduction_branch_weights

LIBCALL_PREFIX = "libcall_"
"""External functions with this prefix are runtime entry points with the C ABI
``(ptr vmctx, args...)``; every other callee is a wasm function (wasm ABI)."""

ATTRIBUTES = abi.WASM_FUNCTION_ATTRS
"""Attributes of every function the JIT emits (group ``#0``)."""

# Numbered metadata the emitted functions refer to (see ``module_metadata``).
_MD_EMPTY = "!0"
_MD_TBAA_HEAP = "!3"
_MD_TBAA_RUNTIME = "!5"
_UNLIKELY = '!prof !{!"branch_weights", i32 1, i32 1048576}'
# The access attributes ``access`` spells, made once.
_TBAA_HEAP = f", !tbaa {_MD_TBAA_HEAP}"
_TBAA_RUNTIME = f", !tbaa {_MD_TBAA_RUNTIME}"
_ALIGNMENTS = {size: f"align {size}" for size in range(1, 9)}

_FCMP = {"eq": "oeq", "ne": "une", "lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge",
         "ord": "ord", "uno": "uno", "one": "one", "ueq": "ueq", "ult": "ult", "ule": "ule",
         "ugt": "ugt", "uge": "uge"}
_INT_BINARY = {"iadd": "add", "isub": "sub", "imul": "mul", "band": "and", "bor": "or",
               "bxor": "xor", "sdiv": "sdiv", "udiv": "udiv", "srem": "srem", "urem": "urem",
               "ishl": "shl", "ushr": "lshr", "sshr": "ashr"}
_INT_BINARY_IMM = {"iadd_imm": "add", "imul_imm": "mul", "band_imm": "and", "bor_imm": "or",
                   "bxor_imm": "xor", "ishl_imm": "shl", "ushr_imm": "lshr", "sshr_imm": "ashr"}
_FLOAT_BINARY = {"fadd": "fadd", "fsub": "fsub", "fmul": "fmul", "fdiv": "fdiv"}
# Float operations that are one call of an LLVM intrinsic, by the intrinsic's base name.
_FLOAT_INTRINSICS = {"fcopysign": "copysign", "fabs": "fabs", "sqrt": "sqrt", "ceil": "ceil",
                     "floor": "floor", "trunc": "trunc", "nearest": "roundeven"}
# The bit-counting intrinsics, and whether they take the "zero is poison" flag.
_BIT_COUNTS = {"clz": ("ctlz", True), "ctz": ("cttz", True), "popcnt": ("ctpop", False)}
_CONVERSIONS = {"ireduce": "trunc", "uextend": "zext", "sextend": "sext", "fpromote": "fpext",
                "fdemote": "fptrunc", "fcvt_to_sint": "fptosi", "fcvt_to_uint": "fptoui",
                "fcvt_from_sint": "sitofp", "fcvt_from_uint": "uitofp"}
_NOT_LEGALIZED = ("heap_addr", "table_addr", "global_value")
_SHIFTS = frozenset({"ishl", "ushr", "sshr"})


# The instructions whose machine code may be where a backtrace stops (a call's return
# address, a trap call, a faulting heap access: loads and stores not marked ``notrap``
# too), by format: only
# they carry a debug location (``lower_debug.py``).  Leaving the others out keeps the
# metadata small; the line table is only ever read at these instructions' addresses.
_LOCATED: dict[type[InstructionData], bool] = {
    Call: True, CallIndirect: True, Trap: True, CondTrap: True, IntAddTrap: True,
}


class LoweringError(Exception):
    """The IR cannot be lowered (not legalized, or an operation without a lowering)."""


# The formats ``prepare_inst`` names results of (constants, comparisons, unary ops).
_PREPARED_FORMATS = frozenset({UnaryImm, UnaryIeee32, UnaryIeee64, UnaryConst, Nullary,
                               IntCompare, IntCompareImm, FloatCompare, Unary})


def module_metadata() -> str:
    """The metadata nodes lowered functions refer to; once per LLVM module."""
    return (
        f"{_MD_EMPTY} = !{{}}\n"
        '!1 = !{!"pyjitwasm tbaa"}\n'
        '!2 = !{!"wasm heap", !1, i64 0}\n'
        f"{_MD_TBAA_HEAP} = !{{!2, !2, i64 0}}\n"
        '!4 = !{!"runtime data", !1, i64 0}\n'
        f"{_MD_TBAA_RUNTIME} = !{{!4, !4, i64 0}}\n"
    )


def attributes() -> str:
    """The attribute group ``#0`` every emitted function uses; once per LLVM module."""
    return f"attributes #0 = {{ {ATTRIBUTES} }}\n"


OSR_LOCALS_PURPOSE = "osr_locals"
"""The purpose of an OSR entry's locals parameter (``translate/osr_abi.py``'s name for
it; this stage may not import that one)."""


def _takes_caller_register(sig: Signature) -> bool:
    """Whether the function's second IR parameter is passed where wasm functions take
    their caller's vmctx (an OSR entry's locals): then no ``%caller_vmctx`` is added."""
    return len(sig.params) > 1 and sig.params[1].purpose == OSR_LOCALS_PURPOSE


def return_type(types: list[t.Type]) -> str:
    """The LLVM return type of a function returning ``types``: several results are a
    struct of their carriers (``abi.result_carriers``: no float on the x87 stack)."""
    if not types:
        return "void"
    if len(types) == 1:
        return llvm_type(types[0])
    return "{ " + ", ".join(llvm_type(ty) for ty in abi.result_carriers(types)) + " }"


def is_wasm_callee(name: str) -> bool:
    """Whether a directly called external function uses the wasm ABI."""
    return not name.startswith(LIBCALL_PREFIX)


def function_type(sig: Signature, wasm_abi: bool) -> tuple[str, list[str]]:
    """(return type, parameter types) of a callee with IR signature ``sig``."""
    params = ["ptr" if p.purpose == "vmctx" else llvm_type(p.type) for p in sig.params]
    if wasm_abi:
        if not sig.params or sig.params[0].purpose != "vmctx":
            raise LoweringError("a wasm-ABI signature must start with the vmctx parameter")
        params.insert(1, "ptr")
    return return_type(sig.returns), params


@dataclass
class Declarations:
    """``declare`` lines a module needs, collected while lowering its functions."""

    lines: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, line: str) -> None:
        self.lines.setdefault(name, line)

    def intrinsic(self, name: str, ret: str, params: list[str]) -> str:
        """Declare intrinsic ``@name`` and return ``@name``."""
        self.add(name, f"declare {ret} @{name}({', '.join(params)}) nounwind")
        return "@" + name

    def text(self, defined: AbstractSet[str] = frozenset()) -> str:
        """Every declaration except those of functions the module defines."""
        return "".join(line + "\n" for name, line in self.lines.items() if name not in defined)


def returns_in_registers(returns: Sequence[t.Type]) -> bool:
    """Whether results come back in registers on x86-64: at most two integer-class and
    two SSE-class carriers (``abi.result_carriers``; LLVM has a few more registers, this
    stays within what is certain).  More are returned through a hidden pointer, where
    LLVM cannot honour ``musttail`` (it aborts the process), so such tail calls become an
    ordinary call and return."""
    carriers = abi.result_carriers(returns)
    sse_class = sum(1 for r in carriers if r.is_float or r.is_vector)
    return sse_class <= 2 and len(carriers) - sse_class <= 2


def lower_function(func: Function, declarations: Declarations | None = None,
                   linkage: str = "", locations: FunctionLocations | None = None,
                   trap_sites: bool = False) -> str:
    """The LLVM IR text defining ``func`` (legalized IR).

    ``declarations`` collects the external functions and intrinsics it uses (a module
    emits them once); ``linkage`` is e.g. ``"internal"``.  The text refers to attribute
    group ``#0`` and to the metadata of :func:`module_metadata`.  With ``locations``
    the instructions that may stop a backtrace carry the debug location of their IR
    instruction's source location (``jit/lower_debug.py``).  ``trap_sites``: each
    source location trapping with a code gets a trap block of its own, and every trap
    call a distinct site number (``abi.trap_operand``), so that no two trap sites share
    machine code and the line table can tell them apart; give it whether or not
    ``locations`` are given, so the machine code is the same either way."""
    return _FunctionLowering(func, declarations or Declarations(), linkage, locations,
                             trap_sites).run()


class _FunctionLowering:
    def __init__(self, func: Function, decls: Declarations, linkage: str,
                 locations: FunctionLocations | None = None,
                 trap_sites: bool = False) -> None:
        self.func = func
        self.locations = locations
        self.separate_trap_sites = trap_sites
        self.dbg = ""  # the debug location suffix of the IR instruction being lowered
        self.srcloc = -1  # the source location of the IR instruction being lowered
        self.inline_traps = 0  # unconditional traps numbered so far (with trap sites)
        self.dfg = func.dfg
        self.decls = decls
        self.linkage = linkage
        self.lines: list[str] = []
        self.names: dict[Value, str] = {}  # operand spelling of each IR value
        self.bools: dict[Value, str] = {}  # i1 form of comparison results
        self.ptrs: dict[Value, str] = {}  # ptr forms that are not ``%vN.p``
        self.aliases: dict[Value, Value] = {}  # no-op bitcasts
        self.ptr_done: set[Value] = set()  # values whose ``%vN.p`` is emitted
        self.tmp = 0
        self.label = ""  # the LLVM block being filled
        self.incoming: dict[Block, list[tuple[str, list[str]]]] = {}
        # (trap code, source location or -1) -> (label, debug location of its call)
        self.trap_blocks: dict[tuple[int, int], tuple[str, str]] = {}
        # Whether the function has heap accesses that may fault (guard pages).
        self.faulting_accesses = False
        self.need_ptr: set[Value] = set()
        # Values of ``need_ptr`` whose integer form is never used (``int_uses``).
        self.ptr_only: set[Value] = set()
        self.order: list[Block] | None = None  # reachable blocks (``reachable_blocks``)

    # Helpers -------------------------------------------------------------------------

    def fresh(self, hint: str = "t") -> str:
        self.tmp += 1
        return f"%{hint}{self.tmp}"

    def emit(self, line: str) -> None:
        self.lines.append("  " + line + self.dbg)

    def start_block(self, label: str) -> None:
        self.lines.append(f"{label}:")
        self.label = label

    def type_of(self, v: Value) -> t.Type:
        dfg = self.dfg
        if not dfg.aliases:
            ty = dfg.value_types[v]
            if ty is not None:
                return ty
        return dfg.value_type(v)

    def resolve(self, v: Value) -> Value:
        if self.dfg.aliases:
            v = self.dfg.resolve(v)
        aliases = self.aliases
        while v in aliases:
            v = aliases[v]
        return v

    def op(self, v: Value) -> str:
        """The operand spelling of IR value ``v``."""
        if self.dfg.aliases or v in self.aliases:
            v = self.resolve(v)
        return self.names.get(v) or f"%v{v}"

    def typed(self, v: Value) -> str:
        """``v`` spelled with its LLVM type (``i32 %v7``)."""
        dfg = self.dfg
        if dfg.aliases or v in self.aliases:
            return f"{LLVM_TYPES[self.type_of(v)]} {self.op(v)}"
        # ``type_of`` and ``op``, written out: this runs for most operands.
        ty = dfg.value_types[v]
        if ty is None:
            ty = dfg.value_type(v)  # KeyError for an undefined value
        return f"{LLVM_TYPES[ty]} {self.names.get(v) or f'%v{v}'}"

    def cond(self, v: Value) -> str:
        """An ``i1`` that is true when integer ``v`` is nonzero."""
        v = self.resolve(v)
        if v in self.bools:
            return self.bools[v]
        name = self.fresh("c")
        self.emit(f"{name} = icmp ne {self.typed(v)}, 0")
        return name

    def ptr(self, v: Value) -> str:
        """The ``ptr`` form of i64 value ``v``."""
        if self.dfg.aliases or v in self.aliases:
            v = self.resolve(v)
        if v in self.ptrs:
            return self.ptrs[v]
        if v in self.need_ptr and v not in self.names:
            return f"%v{v}.p"
        if self.type_of(v) == t.R64:
            return self.op(v)
        name = self.fresh("p")
        self.emit(f"{name} = inttoptr i64 {self.op(v)} to ptr")
        return name

    @staticmethod
    def define(v: Value) -> str:
        """The name of the LLVM value that holds IR value ``v``."""
        return f"%v{v}"

    def result(self, inst: Inst) -> Value:
        return self.dfg.results[inst][0]

    def address(self, base: Value, offset: int) -> str:
        p = self.ptr(base)
        if not offset:
            return p
        name = self.fresh("a")
        self.emit(f"{name} = getelementptr i8, ptr {p}, i64 {offset}")
        return name

    # Driver --------------------------------------------------------------------------

    def run(self) -> str:
        func = self.func
        vmctx_index = func.vmctx_param_index()
        if vmctx_index != 0:
            raise LoweringError(f"%{func.name}: the first parameter must be the vmctx")
        self.analyze()
        entry = func.layout.entry
        assert entry is not None
        params = self.dfg.block_params[entry]
        formal = ["ptr %vmctx"]
        if not _takes_caller_register(func.signature):
            formal.append("ptr %caller_vmctx")
        for v in params[1:]:
            formal.append(f"{llvm_type(self.type_of(v))} {self.define(v)}")
        ret = return_type(func.signature.returns)
        linkage = self.linkage + " " if self.linkage else ""
        debug = f" !dbg !{self.locations.subprogram}" if self.locations else ""
        header = f"define {linkage}{ret} @{func.name}({', '.join(formal)}) #0{debug} {{"
        self.label = f"b{entry}"
        prologue = abi.stack_check_ir("%vmctx", self.label, self.entry_location())
        self.ptrs[params[0]] = "%vmctx"
        if params[0] not in self.ptr_only:
            self.emit(f"%v{params[0]} = ptrtoint ptr %vmctx to i64")
        # Each block's lines are joined as soon as it is lowered (the phis, known only
        # once every edge is, go between its label and that text): a huge function
        # holds one string per block, not one per line.
        self.emit_block_body(entry)
        block_text = {entry: self._take_lines()}
        for block in self.reachable_blocks():
            if block == entry:
                continue
            self.label = f"b{block}"
            self.emit_block_body(block)
            block_text[block] = self._take_lines()
        body: list[str] = []
        for block in self.reachable_blocks():
            if block != entry:
                body.append(f"b{block}:")
                body.extend(self.phis(block))
            body.append(block_text.pop(block))
        # Sites above those of the inline traps (numbered while the body was lowered).
        sites = enumerate(self.trap_blocks.items(), self.inline_traps + 1)
        for site, ((code, _), (label, dbg)) in sites:
            operand = abi.trap_operand(code, site) if self.separate_trap_sites else code
            body.append(f"{label}:")
            body.append(f"  call void @{abi.TRAP_SYMBOL}(ptr %vmctx, i32 {operand}){dbg}")
            body.append("  unreachable")
        return "\n".join([header, prologue.rstrip("\n"), *body, "}"]) + "\n"

    def _take_lines(self) -> str:
        """The lines emitted since the last call, as one string (and forget them)."""
        text = "\n".join(self.lines)
        self.lines.clear()
        return text

    def entry_location(self) -> str:
        """The debug location of a stack overflow on entry: the function's first
        instruction's (empty without locations)."""
        if self.locations is None:
            return ""
        entry = self.func.layout.entry_block()
        first = next(iter(self.func.layout.insts(entry)), None)
        return self.locations.suffix(-1 if first is None else self.dfg.srclocs[first])

    def analyze(self) -> None:
        """One pass over the instructions: find the values that need a ``ptr`` form and
        those of them whose integer form ``%vN`` is never used (``ptr_only``: used only
        as addresses, or as the base of address arithmetic whose own integer form is
        unused; they get only the ``ptr`` form, less text for LLVM to parse and, at tier
        0, which runs no passes, fewer instructions to select), and name the values
        ``prepare_inst`` spells specially."""
        dfg = self.dfg
        insts = dfg.insts
        need: list[Value] = []
        used: list[Value] = []  # operands read as integers (unresolved)
        adds: list[tuple[Value, tuple[Value, ...]]] = []  # iadd/iadd_imm: result, args
        results = dfg.results
        block_insts = self.func.layout.block_insts
        for block in self.reachable_blocks():
            for inst in block_insts[block]:
                data = insts[inst]
                kind = type(data)
                if kind is Load or kind is Store:
                    assert isinstance(data, Load | Store)
                    need.append(data.address)
                    if not data.flags.notrap:
                        self.faulting_accesses = True
                    if kind is Store:
                        assert isinstance(data, Store)
                        used.append(data.value)
                    continue
                if kind is MemMove:
                    assert isinstance(data, MemMove)
                    need += (data.dst, data.src)
                    used.append(data.size)
                    continue
                if kind is MemSet:
                    assert isinstance(data, MemSet)
                    need.append(data.dst)
                    used += (data.byte, data.size)
                    continue
                if (kind is Binary or kind is BinaryImm) and \
                        data.opcode in ("iadd", "iadd_imm"):
                    adds.append((results[inst][0], data.arguments()))
                    continue
                if kind in _PREPARED_FORMATS:
                    self.prepare_inst(inst, data)
                used += data.all_args()
        seen = self.need_ptr
        while need:
            v = self.resolve(need.pop())
            if v in seen or dfg.value_type(v) != t.I64:
                continue
            seen.add(v)
            definition = dfg.defining_inst(v)
            if isinstance(definition, Binary) and definition.opcode == "iadd":
                need.append(definition.args[0])
            elif isinstance(definition, BinaryImm) and definition.opcode == "iadd_imm":
                need.append(definition.arg)
        if not seen:
            return
        resolve = self.resolve
        bases: dict[Value, Value] = {}  # address arithmetic result -> its base
        for result, args in adds:
            result = resolve(result)
            if result in seen:
                bases[result] = resolve(args[0])
                used += args[1:]
            else:
                used += args
        if dfg.aliases or self.aliases:
            int_used = {resolve(v) for v in used}
        else:
            int_used = set(used)
        pending = [v for v in int_used if v in bases]
        while pending:
            base = bases[pending.pop()]
            if base not in int_used:
                int_used.add(base)
                if base in bases:
                    pending.append(base)
        self.ptr_only = seen - int_used

    def prepare_inst(self, inst: Inst, data: InstructionData) -> None:
        """Constants become literals, comparisons get an ``i1`` form, bitcasts between
        identical LLVM types vanish: the operand spellings are known before any use."""
        results = self.dfg.results[inst]
        kind = type(data)
        if kind is UnaryImm:
            assert isinstance(data, UnaryImm)
            self.names[results[0]] = int_literal(data.imm, data.ctrl_type.bits)
        elif kind is UnaryIeee32:
            assert isinstance(data, UnaryIeee32)
            self.names[results[0]] = f32_literal(data.bits)
        elif kind is UnaryIeee64:
            assert isinstance(data, UnaryIeee64)
            self.names[results[0]] = f64_literal(data.bits)
        elif kind is UnaryConst:
            assert isinstance(data, UnaryConst)
            self.names[results[0]] = vector_literal(data.ctrl_type, data.value)
        elif kind is Nullary:
            self.names[results[0]] = "null"
        elif kind is IntCompare or kind is IntCompareImm or kind is FloatCompare:
            if not self.type_of(results[0]).is_vector:  # lane-wise compares give a vector
                self.bools[results[0]] = f"%v{results[0]}.c"
        elif kind is Unary:
            assert isinstance(data, Unary)
            if data.opcode == "is_null":
                self.bools[results[0]] = f"%v{results[0]}.c"
            elif data.opcode == "bitcast" and data.ctrl_type is not None:
                src = self.type_of(data.arg)
                if llvm_type(src) == llvm_type(data.ctrl_type):
                    self.aliases[results[0]] = self.dfg.resolve(data.arg)

    def reachable_blocks(self) -> list[Block]:
        """The blocks reachable from the entry, in layout order (computed once)."""
        if self.order is not None:
            return self.order
        layout = self.func.layout
        entry = layout.entry_block()
        reached = {entry}
        work = [entry]
        while work:
            block = work.pop()
            last = layout.last_inst(block)
            if last is None:
                continue
            for succ in self.dfg.insts[last].successors():
                if succ not in reached:
                    reached.add(succ)
                    work.append(succ)
        self.order = [b for b in layout.blocks if b in reached]
        return self.order

    def phis(self, block: Block) -> list[str]:
        params = self.dfg.block_params[block]
        if not params:
            return []
        edges = self.incoming.get(block, [])
        lines = []
        for i, v in enumerate(params):
            pairs = ", ".join(f"[ {args[i]}, %{label} ]" for label, args in edges)
            lines.append(f"  %v{v} = phi {llvm_type(self.type_of(v))} {pairs}")
        return lines

    def emit_block_body(self, block: Block) -> None:
        for v in self.dfg.block_params[block]:
            if v in self.need_ptr and v not in self.ptrs:
                self.ptr_done.add(v)
                self.emit(f"%v{v}.p = inttoptr i64 %v{v} to ptr")
        insts = self.dfg.insts
        results = self.dfg.results
        srclocs = self.dfg.srclocs
        located = self.locations is not None
        need_ptr = self.need_ptr
        ptr_done = self.ptr_done
        lowerings = LOWERINGS
        for inst in self.func.layout.block_insts[block]:
            data = insts[inst]
            lowering = lowerings.get(data.opcode)
            if lowering is None:
                self.lower_inst(inst, data)  # raises the error
            else:
                # ``locate``, written out for the common case (no debug locations).
                if located:
                    self.locate(inst, data)
                else:
                    self.srcloc = srclocs[inst]
                lowering(self, inst, data)
            if need_ptr:
                for v in results[inst]:
                    if (v in need_ptr and v not in ptr_done and v not in self.names
                            and v not in self.aliases):
                        ptr_done.add(v)
                        self.emit(f"%v{v}.p = inttoptr i64 %v{v} to ptr")

    def edge(self, target: Block, args: Sequence[Value]) -> None:
        spelled = [self.op(a) for a in args] if args else []
        self.incoming.setdefault(target, []).append((self.label, spelled))

    def trap_label(self, code: int) -> str:
        """The cold block trapping with ``code``: one per code, or with trap sites one
        per code and source location."""
        key = (code, self.srcloc if self.separate_trap_sites else -1)
        block = self.trap_blocks.get(key)
        if block is None:
            label = f"trap.{code}.{len(self.trap_blocks)}" if self.separate_trap_sites \
                else f"trap.{code}"
            block = self.trap_blocks[key] = (label, self.dbg)
        return block[0]

    def fence_heap_accesses(self) -> None:
        """A compiler memory fence, in a function whose heap accesses may fault: LLVM
        takes loads and stores as non-trapping and would move a heap access across a
        trap check or a bulk memory write; with guard pages the access itself is a trap,
        so wasm's order of traps and memory effects needs this fence."""
        if self.faulting_accesses:
            self.emit('call void asm sideeffect "", "~{memory}"()')

    def conditional_trap(self, cond: str, code: int, trap_if: bool) -> None:
        self.fence_heap_accesses()
        self.tmp += 1
        cont = f"k{self.tmp}"
        trap = self.trap_label(code)
        then, other = (trap, cont) if trap_if else (cont, trap)
        weights = "i32 1, i32 1048576" if trap_if else "i32 1048576, i32 1"
        self.emit(f'br i1 {cond}, label %{then}, label %{other}, '
                  f'!prof !{{!"branch_weights", {weights}}}')
        self.start_block(cont)

    # Instructions --------------------------------------------------------------------

    def locate(self, inst: Inst, data: InstructionData) -> None:
        """Take ``inst``'s source location (and, with debug locations, its ``!dbg``
        suffix for the lines it emits)."""
        self.srcloc = self.dfg.srclocs[inst]
        if self.locations is not None:
            located = _LOCATED.get(type(data), False) or (
                isinstance(data, Load | Store) and not data.flags.notrap)
            self.dbg = self.locations.suffix(self.srcloc) if located else ""

    def lower_inst(self, inst: Inst, data: InstructionData) -> None:
        self.locate(inst, data)
        lowering = LOWERINGS.get(data.opcode)
        if lowering is None:
            if data.opcode in _NOT_LEGALIZED:
                raise LoweringError(f"%{self.func.name}: {data.opcode} must be legalized first")
            spec(data.opcode)  # KeyError for names that are not IR opcodes at all
            raise NotImplementedError(f"{data.opcode}: no LLVM lowering yet")
        lowering(self, inst, data)

    def simple(self, inst: Inst, expr: str) -> str:
        """Define ``inst``'s one result as ``expr``."""
        name = f"%v{self.dfg.results[inst][0]}"
        self.lines.append(f"  {name} = {expr}{self.dbg}")
        return name

    def intrinsic_call(self, inst: Inst, base: str, args: Sequence[Value]) -> None:
        ty = self.type_of(args[0])
        lty = llvm_type(ty)
        fn = self.decls.intrinsic(f"llvm.{base}.{intrinsic_suffix(ty)}", lty, [lty] * len(args))
        operands = ", ".join(self.typed(a) for a in args)
        self.simple(inst, f"call {lty} {fn}({operands})")

    # Constants (named by ``prepare_inst``)

    def constant(self, inst: Inst, data: InstructionData) -> None:
        pass

    # Integer arithmetic

    def int_binary(self, inst: Inst, data: InstructionData) -> None:
        """The integer operations of ``_INT_BINARY``."""
        assert isinstance(data, Binary)
        self.emit_int_binary(inst, data, _INT_BINARY[data.opcode])

    def emit_int_binary(self, inst: Inst, data: Binary, llvm_op: str) -> None:
        a, b = data.args
        if data.opcode in _SHIFTS:
            amount = self.shift_amount(self.type_of(a), b)
        else:
            amount = self.op(b)
        self.simple(inst, f"{llvm_op} {self.typed(a)}, {amount}")

    def shift_amount(self, ty: t.Type, amount: Value) -> str:
        """Shift amount ``amount`` (any scalar int) converted to ``ty``'s lanes."""
        lane = lanes_of(ty).lane_type
        have = self.type_of(amount)
        value = self.op(amount)
        if have.bits != lane.bits:
            name = self.fresh("s")
            cast = "zext" if have.bits < lane.bits else "trunc"
            self.emit(f"{name} = {cast} {self.typed(amount)} to {llvm_type(lane)}")
            value = name
        return self.splat_value(ty, lane, value)

    def splat_value(self, ty: t.Type, lane: t.Type, value: str) -> str:
        if not ty.is_vector:
            return value
        vty = llvm_type(lanes_of(ty))
        one = self.fresh("s")
        self.emit(f"{one} = insertelement {vty} poison, {llvm_type(lane)} {value}, i64 0")
        name = self.fresh("s")
        lanes = lanes_of(ty).lanes
        self.emit(f"{name} = shufflevector {vty} {one}, {vty} poison, "
                  f"<{lanes} x i32> zeroinitializer")
        return name

    def int_binary_imm(self, inst: Inst, data: InstructionData) -> None:
        """The operations of ``_INT_BINARY_IMM``."""
        assert isinstance(data, BinaryImm)
        self.emit_int_binary_imm(inst, data, _INT_BINARY_IMM[data.opcode])

    def emit_int_binary_imm(self, inst: Inst, data: BinaryImm, llvm_op: str) -> None:
        a = data.arg
        bits = self.type_of(a).bits
        imm = data.imm
        if llvm_op in ("shl", "lshr", "ashr"):
            imm &= bits - 1  # shift amounts count modulo the width
        self.simple(inst, f"{llvm_op} {self.typed(a)}, {int_literal(imm, bits)}")

    def band_not(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        a, b = data.args
        ty = self.type_of(a)
        inverted = self.fresh("n")
        self.emit(f"{inverted} = xor {self.typed(b)}, {splat(ty, '-1')}")
        self.simple(inst, f"and {self.typed(a)}, {inverted}")

    def bnot(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary)
        ty = self.type_of(data.arg)
        self.simple(inst, f"xor {self.typed(data.arg)}, {splat(ty, '-1')}")

    def ineg(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary)
        ty = self.type_of(data.arg)
        zero = "zeroinitializer" if ty.is_vector else "0"
        self.simple(inst, f"sub {llvm_type(ty)} {zero}, {self.op(data.arg)}")

    def mul_high(self, inst: Inst, data: InstructionData) -> None:
        """``umulhi``/``smulhi``: the high half of the double-width product."""
        assert isinstance(data, Binary)
        ext = "zext" if data.opcode == "umulhi" else "sext"
        a, b = data.args
        ty = lanes_of(self.type_of(a))
        lty = llvm_type(self.type_of(a))
        bits = ty.lane_bits
        wide_lane = f"i{2 * bits}"
        wide = f"<{ty.lanes} x {wide_lane}>" if ty.lanes > 1 else wide_lane
        xa, xb, prod, high = (self.fresh("m") for _ in range(4))
        self.emit(f"{xa} = {ext} {lty} {self.op(a)} to {wide}")
        self.emit(f"{xb} = {ext} {lty} {self.op(b)} to {wide}")
        self.emit(f"{prod} = mul {wide} {xa}, {xb}")
        shift = f"splat ({wide_lane} {bits})" if ty.lanes > 1 else str(bits)
        self.emit(f"{high} = lshr {wide} {prod}, {shift}")
        self.simple(inst, f"trunc {wide} {high} to {lty}")

    def bit_count(self, inst: Inst, data: InstructionData) -> None:
        """``clz``/``ctz``/``popcnt`` through ``llvm.ctlz``/``cttz``/``ctpop``."""
        assert isinstance(data, Unary)
        base, poison_arg = _BIT_COUNTS[data.opcode]
        a = data.arg
        ty = self.type_of(a)
        lty = llvm_type(ty)
        params = [lty, "i1"] if poison_arg else [lty]
        fn = self.decls.intrinsic(f"llvm.{base}.{intrinsic_suffix(ty)}", lty, params)
        extra = ", i1 false" if poison_arg else ""
        self.simple(inst, f"call {lty} {fn}({self.typed(a)}{extra})")

    def rotate(self, inst: Inst, data: InstructionData) -> None:
        """``rotl``/``rotr`` as funnel shifts of the value with itself."""
        assert isinstance(data, Binary)
        base = "fshl" if data.opcode == "rotl" else "fshr"
        a, b = data.args
        ty = self.type_of(a)
        lty = llvm_type(ty)
        amount = self.shift_amount(ty, b)
        fn = self.decls.intrinsic(f"llvm.{base}.{intrinsic_suffix(ty)}", lty, [lty] * 3)
        x = self.op(a)
        self.simple(inst, f"call {lty} {fn}({lty} {x}, {lty} {x}, {lty} {amount})")

    def compare_result(self, inst: Inst, i1: str) -> None:
        v = self.result(inst)
        self.bools[v] = i1
        name = self.define(v)
        self.emit(f"{name} = zext i1 {i1} to i8")

    def int_operand(self, v: Value) -> str:
        """``v`` as an integer operand (``ptrtoint`` for references)."""
        if self.type_of(v) != t.R64:
            return self.typed(v)
        name = self.fresh("r")
        self.emit(f"{name} = ptrtoint ptr {self.op(v)} to i64")
        return f"i64 {name}"

    def icmp(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, IntCompare)
        a, b = data.args
        if self.type_of(a).is_vector:
            vector_icmp(self, inst, data)
            return
        i1 = f"%v{self.result(inst)}.c"
        if self.type_of(a) == t.R64:
            self.emit(f"{i1} = icmp {data.cond} ptr {self.op(a)}, {self.op(b)}")
        else:
            self.emit(f"{i1} = icmp {data.cond} {self.typed(a)}, {self.op(b)}")
        self.compare_result(inst, i1)

    def icmp_imm(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, IntCompareImm)
        a = data.arg
        i1 = f"%v{self.result(inst)}.c"
        ty = self.type_of(a)
        bits = 64 if ty == t.R64 else ty.bits
        operand = self.int_operand(a)
        self.emit(f"{i1} = icmp {data.cond} {operand}, {int_literal(data.imm, bits)}")
        self.compare_result(inst, i1)

    def uadd_overflow_trap(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, IntAddTrap)
        a, b = data.args
        ty = self.type_of(a)
        lty = llvm_type(ty)
        fn = self.decls.intrinsic(f"llvm.uadd.with.overflow.{intrinsic_suffix(ty)}",
                                  f"{{ {lty}, i1 }}", [lty, lty])
        pair = self.fresh("o")
        self.emit(f"{pair} = call {{ {lty}, i1 }} {fn}({self.typed(a)}, {self.typed(b)})")
        self.simple(inst, f"extractvalue {{ {lty}, i1 }} {pair}, 0")
        carry = self.fresh("o")
        self.emit(f"{carry} = extractvalue {{ {lty}, i1 }} {pair}, 1")
        self.conditional_trap(carry, int(data.code), True)

    # Floating point

    def float_binary(self, inst: Inst, data: InstructionData) -> None:
        """fadd/fsub/fmul/fdiv. With an identity constant operand (x*1, x/1, x-0, x+-0,
        x*-1, x/-1, -0-x) LLVM folds the operation into ``x`` or ``fneg x``, which lets a
        signaling NaN through unquieted; wasm arithmetic must return a quiet NaN, so the
        result then goes through ``llvm.canonicalize`` (a multiply by 1 on x86). Other
        operations keep their plain form."""
        assert isinstance(data, Binary)
        opcode = data.opcode
        a, b = data.args
        expr = f"{_FLOAT_BINARY[opcode]} {self.typed(a)}, {self.op(b)}"
        if not self.folds_to_operand(opcode, a, b):
            self.simple(inst, expr)
            return
        self.canonicalized(inst, expr, self.type_of(a))

    def float_intrinsic(self, inst: Inst, data: InstructionData) -> None:
        """The operations of ``_FLOAT_INTRINSICS``: one call of the LLVM intrinsic."""
        self.intrinsic_call(inst, _FLOAT_INTRINSICS[data.opcode], data.arguments())

    def conversion(self, inst: Inst, data: InstructionData) -> None:
        """The conversions of ``_CONVERSIONS``: one LLVM cast."""
        assert isinstance(data, Unary)
        ty = self.type_of(self.dfg.results[inst][0])
        expr = f"{_CONVERSIONS[data.opcode]} {self.typed(data.arg)} to {LLVM_TYPES[ty]}"
        if data.opcode == "fdemote" and self.defining_opcode(data.arg) == "fpromote":
            # LLVM folds demote(promote(x)) to x, passing a signaling NaN through.
            self.canonicalized(inst, expr, ty)
        else:
            self.simple(inst, expr)

    def canonicalized(self, inst: Inst, expr: str, ty: t.Type) -> None:
        """Define the result as ``llvm.canonicalize(expr)``: a NaN comes out quiet."""
        lty = llvm_type(ty)
        raw = self.fresh("fo")
        self.emit(f"{raw} = {expr}")
        fn = self.decls.intrinsic(f"llvm.canonicalize.{intrinsic_suffix(ty)}", lty, [lty])
        self.simple(inst, f"call {lty} {fn}({lty} {raw})")

    def defining_opcode(self, v: Value) -> str | None:
        data = self.dfg.defining_inst(self.resolve(v))
        return None if data is None else data.opcode

    def float_const_values(self, v: Value) -> list[float]:
        """The lane values of a float constant operand (one for a scalar; a vector
        constant seen through bitcasts has one per lane), else an empty list."""
        data = self.dfg.defining_inst(self.resolve(v))
        value: float
        if isinstance(data, UnaryIeee32):
            (value,) = struct.unpack("<f", struct.pack("<I", data.bits))
            return [value]
        if isinstance(data, UnaryIeee64):
            (value,) = struct.unpack("<d", struct.pack("<Q", data.bits))
            return [value]
        ty = self.type_of(v)
        while isinstance(data, Unary) and data.opcode == "bitcast":
            data = self.dfg.defining_inst(self.resolve(data.arg))
        if isinstance(data, UnaryConst) and ty.kind == "float" and ty.is_vector:
            raw = data.value.to_bytes(16, "little")
            return list(struct.unpack("<4f" if ty.lane_bits == 32 else "<2d", raw))
        return []

    def folds_to_operand(self, opcode: str, a: Value, b: Value) -> bool:
        """Whether LLVM may fold ``a OP b`` (or some lanes of it) into one operand or its
        negation."""
        for lane in self.float_const_values(b):
            if opcode in ("fmul", "fdiv") and lane in (1.0, -1.0):
                return True
            if opcode in ("fadd", "fsub") and lane == 0.0:
                return True
        for lane in self.float_const_values(a):
            if opcode == "fmul" and lane in (1.0, -1.0):
                return True
            if opcode in ("fadd", "fsub") and lane == 0.0:
                return True
        return False

    def fneg(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary)
        self.simple(inst, f"fneg {self.typed(data.arg)}")

    def min_max(self, inst: Inst, data: InstructionData) -> None:
        """``llvm.minimum``/``maximum`` order -0 below +0 and propagate NaN, but pass a
        signaling NaN through unquieted on x86; wasm wants an arithmetic (quiet) NaN, so
        unordered operands take ``a + b`` instead (which quiets)."""
        assert isinstance(data, Binary)
        base = "minimum" if data.opcode == "fmin" else "maximum"
        a, b = data.args
        ty = self.type_of(a)
        lty = llvm_type(ty)
        fn = self.decls.intrinsic(f"llvm.{base}.{intrinsic_suffix(ty)}", lty, [lty, lty])
        picked, unordered, quieted = self.fresh("mm"), self.fresh("mm"), self.fresh("mm")
        self.emit(f"{picked} = call {lty} {fn}({self.typed(a)}, {self.typed(b)})")
        self.emit(f"{unordered} = fcmp uno {self.typed(a)}, {self.op(b)}")
        self.emit(f"{quieted} = fadd {self.typed(a)}, {self.op(b)}")
        cond_ty = f"<{lanes_of(ty).lanes} x i1>" if ty.is_vector else "i1"
        self.simple(inst, f"select {cond_ty} {unordered}, {lty} {quieted}, {lty} {picked}")

    def fcmp(self, inst: Inst, data: InstructionData) -> None:
        """Scalars: an ``i1`` and its ``i8``. Vectors: lanes of all ones or zeros (the
        ``<N x i1>`` sign-extended to the operands' lane width)."""
        assert isinstance(data, FloatCompare)
        a, b = data.args
        v = self.result(inst)
        i1 = f"%v{v}.c"
        self.emit(f"{i1} = fcmp {_FCMP[data.cond]} {self.typed(a)}, {self.op(b)}")
        ty = self.type_of(a)
        if ty.is_vector:
            self.bools.pop(v, None)  # not a branch condition
            lanes = f"<{ty.lanes} x i1>"
            self.simple(inst, f"sext {lanes} {i1} to {llvm_type(self.type_of(v))}")
            return
        self.compare_result(inst, i1)

    def saturating(self, inst: Inst, data: InstructionData) -> None:
        """``fcvt_to_sint_sat``/``fcvt_to_uint_sat`` through ``llvm.fpto[su]i.sat``
        (vectors: see ``lower_simd_float.saturating_vector``)."""
        assert isinstance(data, Unary)
        if self.type_of(data.arg).is_vector:
            saturating_vector(self, inst, data)
            return
        base = "fptosi" if data.opcode == "fcvt_to_sint_sat" else "fptoui"
        a = data.arg
        src = self.type_of(a)
        dst = self.type_of(self.result(inst))
        fn = self.decls.intrinsic(
            f"llvm.{base}.sat.{intrinsic_suffix(dst)}.{intrinsic_suffix(src)}",
            llvm_type(dst), [llvm_type(src)])
        self.simple(inst, f"call {llvm_type(dst)} {fn}({self.typed(a)})")

    def bitcast(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary)
        a = data.arg
        src, dst = self.type_of(a), self.type_of(self.result(inst))
        v = self.result(inst)
        if v in self.aliases:
            return
        if dst == t.R64:
            self.simple(inst, f"inttoptr {self.typed(a)} to ptr")
        elif src == t.R64:
            self.simple(inst, f"ptrtoint ptr {self.op(a)} to {llvm_type(dst)}")
        else:
            self.simple(inst, f"bitcast {self.typed(a)} to {llvm_type(dst)}")
        if v in self.need_ptr and src == t.R64:
            self.ptrs[v] = self.op(a)
            self.ptr_done.add(v)

    def select(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Ternary)
        c, a, b = data.args
        cond = self.cond(c)
        self.simple(inst, f"select i1 {cond}, {self.typed(a)}, {self.typed(b)}")

    def is_null(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary)
        i1 = f"%v{self.result(inst)}.c"
        self.emit(f"{i1} = icmp eq ptr {self.op(data.arg)}, null")
        self.compare_result(inst, i1)

    # Address arithmetic with pointer forms

    def iadd(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        v = self.dfg.results[inst][0]
        if v not in self.ptr_only:
            self.emit_int_binary(inst, data, "add")
        if v in self.need_ptr:
            a, b = data.args
            self.ptr_done.add(v)
            self.emit(f"%v{v}.p = getelementptr i8, ptr {self.ptr(a)}, {self.typed(b)}")

    def iadd_imm(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, BinaryImm)
        v = self.dfg.results[inst][0]
        if v not in self.ptr_only:
            self.emit_int_binary_imm(inst, data, "add")
        if v in self.need_ptr:
            self.ptr_done.add(v)
            self.emit(f"%v{v}.p = getelementptr i8, ptr {self.ptr(data.arg)}, "
                      f"i64 {int_literal(data.imm, 64)}")

    # Memory

    def access(self, flags: MemFlags, size: int) -> tuple[str, str]:
        """(alignment, metadata) of an access of ``size`` bytes. Runtime data is
        8-byte aligned at most (a v128 global slot need not be 16-byte aligned)."""
        align = _ALIGNMENTS[min(size, 8)] if flags.aligned else "align 1"
        return align, _TBAA_RUNTIME if flags.notrap else _TBAA_HEAP

    def load(self, inst: Inst, data: InstructionData) -> None:
        """``load`` and the sized, extending loads."""
        assert isinstance(data, Load)
        flags = data.flags
        v = self.dfg.results[inst][0]
        ty = self.type_of(v)
        size = OPCODES[data.opcode].access_size or ty.bits // 8
        align, metadata = self.access(flags, size)
        if flags.readonly:
            metadata += f", !invariant.load {_MD_EMPTY}"
        volatile = "" if flags.notrap else " volatile"
        addr = self.address(data.address, data.offset)
        if flags.atomic and data.opcode == "load":
            # LLVM neither hoists nor merges a monotonic load (unlike a plain one), and
            # unlike a volatile one it stays free to schedule around other accesses.
            if v in self.need_ptr:
                self.ptr_done.add(v)
                self.emit(f"%v{v}.p = load atomic ptr, ptr {addr} monotonic, {align}"
                          f"{metadata}")
                if v not in self.ptr_only:
                    self.simple(inst, f"ptrtoint ptr %v{v}.p to i64")
            else:
                self.simple(inst, f"load atomic {llvm_type(ty)}, ptr {addr} monotonic, "
                                  f"{align}{metadata}")
            return
        if data.opcode == "load":
            if v in self.need_ptr:
                self.ptr_done.add(v)
                self.emit(f"%v{v}.p = load{volatile} ptr, ptr {addr}, {align}{metadata}")
                if v not in self.ptr_only:
                    self.simple(inst, f"ptrtoint ptr %v{v}.p to i64")
            else:
                self.simple(inst, f"load{volatile} {llvm_type(ty)}, ptr {addr}, {align}"
                                  f"{metadata}")
            return
        narrow = f"i{size * 8}"
        raw = self.fresh("l")
        self.emit(f"{raw} = load{volatile} {narrow}, ptr {addr}, {align}{metadata}")
        ext = "sext" if data.opcode.startswith("s") else "zext"
        self.simple(inst, f"{ext} {narrow} {raw} to {llvm_type(ty)}")

    def store(self, inst: Inst, data: InstructionData) -> None:
        """``store`` and the sized, truncating stores."""
        assert isinstance(data, Store)
        flags = data.flags
        value = data.value
        ty = self.type_of(value)
        size = OPCODES[data.opcode].access_size or ty.bits // 8
        align, metadata = self.access(flags, size)
        addr = self.address(data.address, data.offset)
        operand = self.typed(value)
        if data.opcode != "store":
            narrow = f"i{size * 8}"
            name = self.fresh("n")
            self.emit(f"{name} = trunc {operand} to {narrow}")
            operand = f"{narrow} {name}"
        volatile = "" if flags.notrap else " volatile"
        self.emit(f"store{volatile} {operand}, ptr {addr}, {align}{metadata}")

    def memmove(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, MemMove)
        self.fence_heap_accesses()
        fn = self.decls.intrinsic("llvm.memmove.p0.p0.i64", "void", ["ptr", "ptr", "i64", "i1"])
        self.emit(f"call void {fn}(ptr {self.ptr(data.dst)}, ptr {self.ptr(data.src)}, "
                  f"{self.typed(data.size)}, i1 false)")

    def memset(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, MemSet)
        self.fence_heap_accesses()
        fn = self.decls.intrinsic("llvm.memset.p0.i64", "void", ["ptr", "i8", "i64", "i1"])
        self.emit(f"call void {fn}(ptr {self.ptr(data.dst)}, {self.typed(data.byte)}, "
                  f"{self.typed(data.size)}, i1 false)")

    # Calls

    def call_args(self, sig: Signature, args: Sequence[Value], wasm_abi: bool) -> str:
        parts = []
        for i, (p, a) in enumerate(zip(sig.params, args, strict=True)):
            if p.purpose == "vmctx":
                parts.append(f"ptr {self.ptr(a)}")
            else:
                parts.append(self.typed(a))
            if i == 0 and wasm_abi:
                parts.append("ptr %vmctx")  # the callee's caller_vmctx
        return ", ".join(parts)

    def emit_call(self, inst: Inst, callee: str, sig: Signature, args: Sequence[Value],
                  wasm_abi: bool, tail: bool = False) -> None:
        ret = return_type(sig.returns)
        operands = self.call_args(sig, args, wasm_abi)
        if tail:
            own = self.func.signature
            # (An OSR entry's LLVM parameters are not a wasm function's.)
            same = ([p.type for p in own.params] == [p.type for p in sig.params]
                    and own.returns == sig.returns and wasm_abi
                    and not _takes_caller_register(own))
            marker = "musttail " if same and returns_in_registers(sig.returns) else ""
            if ret == "void":
                self.emit(f"{marker}call void {callee}({operands})")
                self.emit("ret void")
            else:
                name = self.fresh("r")
                self.emit(f"{name} = {marker}call {ret} {callee}({operands})")
                self.emit(f"ret {ret} {name}")
            return
        results = self.dfg.inst_results(inst)
        if not results:
            self.emit(f"call void {callee}({operands})")
        elif len(results) == 1:
            self.simple(inst, f"call {ret} {callee}({operands})")
        else:
            whole = self.fresh("r")
            self.emit(f"{whole} = call {ret} {callee}({operands})")
            carriers = abi.result_carriers(sig.returns)
            for i, (v, carrier) in enumerate(zip(results, carriers, strict=True)):
                ty = self.type_of(v)
                if carrier == ty:
                    self.emit(f"{self.define(v)} = extractvalue {ret} {whole}, {i}")
                    continue
                bits = self.fresh("r")
                self.emit(f"{bits} = extractvalue {ret} {whole}, {i}")
                self.emit(f"{self.define(v)} = bitcast {llvm_type(carrier)} {bits} to "
                          f"{llvm_type(ty)}")

    def direct_callee(self, fn: FuncRef) -> tuple[str, Signature, bool]:
        ext = self.func.ext_funcs[fn]
        sig = self.func.signatures[ext.signature]
        wasm_abi = is_wasm_callee(ext.name)
        ret, params = function_type(sig, wasm_abi)
        # LLVM takes the paths to a call of a ``cold`` function as unlikely.
        attrs = " nounwind cold" if ext.cold else " nounwind"
        self.decls.add(ext.name, f"declare {ret} @{ext.name}({', '.join(params)}){attrs}")
        return "@" + ext.name, sig, wasm_abi

    def call(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Call)
        callee, sig, wasm_abi = self.direct_callee(data.func_ref)
        self.emit_call(inst, callee, sig, data.args, wasm_abi)

    def return_call(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Call)
        callee, sig, wasm_abi = self.direct_callee(data.func_ref)
        self.emit_call(inst, callee, sig, data.args, wasm_abi, tail=True)

    def call_indirect(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, CallIndirect)
        sig = self.func.signatures[data.sig_ref]
        self.emit_call(inst, self.ptr(data.callee), sig, data.args, True)

    def return_call_indirect(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, CallIndirect)
        sig = self.func.signatures[data.sig_ref]
        self.emit_call(inst, self.ptr(data.callee), sig, data.args, True, tail=True)

    def func_addr(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, FuncAddr)
        callee, _, _ = self.direct_callee(data.func_ref)
        v = self.result(inst)
        self.simple(inst, f"ptrtoint ptr {callee} to i64")
        self.ptrs[v] = callee
        self.ptr_done.add(v)

    # Control flow and traps

    def jump(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Jump)
        dest = data.destination
        self.edge(dest.block, dest.args)
        self.emit(f"br label %b{dest.block}")

    def brif(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Brif)
        then, other = data.then_dest, data.else_dest
        cond = self.cond(data.arg)
        if then.block == other.block:
            # Both edges would come from this block: merge the arguments with selects.
            merged = []
            for a, b in zip(then.args, other.args, strict=True):
                name = self.fresh("m")
                self.emit(f"{name} = select i1 {cond}, {self.typed(a)}, {self.typed(b)}")
                merged.append(name)
            self.incoming.setdefault(then.block, []).append((self.label, merged))
            self.emit(f"br label %b{then.block}")
            return
        self.edge(then.block, then.args)
        self.edge(other.block, other.args)
        hint = reduction_branch_weights(self.func, inst, data)
        self.emit(f"br i1 {cond}, label %b{then.block}, label %b{other.block}{hint}")

    def br_table(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, BrTable)
        default = data.default
        index = data.arg
        ity = llvm_type(self.type_of(index))
        for block in {default.block, *data.table}:
            self.incoming.setdefault(block, []).append((self.label, []))
        cases = " ".join(f"{ity} {i}, label %b{b}" for i, b in enumerate(data.table))
        self.emit(f"switch {self.typed(index)}, label %b{default.block} [ {cases} ]")

    def return_(self, inst: Inst, data: InstructionData) -> None:
        args = data.arguments()
        if not args:
            self.emit("ret void")
        elif len(args) == 1:
            self.emit(f"ret {self.typed(args[0])}")
        else:
            types = [self.type_of(a) for a in args]
            ret = return_type(types)
            agg = "undef"
            for i, (a, carrier) in enumerate(zip(args, abi.result_carriers(types),
                                                 strict=True)):
                operand = self.typed(a)
                if carrier != types[i]:
                    bits = self.fresh("agg")
                    self.emit(f"{bits} = bitcast {operand} to {llvm_type(carrier)}")
                    operand = f"{llvm_type(carrier)} {bits}"
                name = self.fresh("agg")
                self.emit(f"{name} = insertvalue {ret} {agg}, {operand}, {i}")
                agg = name
            self.emit(f"ret {ret} {agg}")

    def trap(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Trap)
        code = int(data.code)
        if self.separate_trap_sites:
            # A site number of its own, so this call is never merged with another.
            self.inline_traps += 1
            code = abi.trap_operand(code, self.inline_traps)
        self.emit(f"call void @{abi.TRAP_SYMBOL}(ptr %vmctx, i32 {code})")
        self.emit("unreachable")

    def cond_trap(self, inst: Inst, data: InstructionData) -> None:
        """``trapz``/``trapnz``."""
        assert isinstance(data, CondTrap)
        self.conditional_trap(self.cond(data.arg), int(data.code), data.opcode == "trapnz")


Lowering = Callable[[_FunctionLowering, Inst, InstructionData], None]

_F = _FunctionLowering
LOWERINGS: dict[str, Lowering] = {
    # Constants are operand literals (see ``prepare_inst``).
    "iconst": _F.constant, "f32const": _F.constant, "f64const": _F.constant,
    "vconst": _F.constant, "null": _F.constant,
    # Integer arithmetic.
    **{opcode: _F.int_binary for opcode in _INT_BINARY},
    "iadd": _F.iadd,
    **{opcode: _F.int_binary_imm for opcode in _INT_BINARY_IMM},
    "iadd_imm": _F.iadd_imm,
    "band_not": _F.band_not, "bnot": _F.bnot, "ineg": _F.ineg,
    "umulhi": _F.mul_high, "smulhi": _F.mul_high,
    "clz": _F.bit_count, "ctz": _F.bit_count, "popcnt": _F.bit_count,
    "rotl": _F.rotate, "rotr": _F.rotate,
    "icmp": _F.icmp, "icmp_imm": _F.icmp_imm,
    "uadd_overflow_trap": _F.uadd_overflow_trap,
    # Floating point.
    **{opcode: _F.float_binary for opcode in _FLOAT_BINARY},
    **{opcode: _F.float_intrinsic for opcode in _FLOAT_INTRINSICS},
    "fneg": _F.fneg, "fmin": _F.min_max, "fmax": _F.min_max, "fcmp": _F.fcmp,
    # Conversions.
    **{opcode: _F.conversion for opcode in _CONVERSIONS},
    "fcvt_to_sint_sat": _F.saturating, "fcvt_to_uint_sat": _F.saturating,
    "bitcast": _F.bitcast, "select": _F.select, "is_null": _F.is_null,
    # Memory.
    "load": _F.load, "uload8": _F.load, "sload8": _F.load, "uload16": _F.load,
    "sload16": _F.load, "uload32": _F.load, "sload32": _F.load,
    "store": _F.store, "istore8": _F.store, "istore16": _F.store, "istore32": _F.store,
    "memmove": _F.memmove, "memset": _F.memset,
    # Calls.
    "call": _F.call, "return_call": _F.return_call, "call_indirect": _F.call_indirect,
    "return_call_indirect": _F.return_call_indirect, "func_addr": _F.func_addr,
    # Control flow and traps.
    "jump": _F.jump, "brif": _F.brif, "br_table": _F.br_table, "return": _F.return_,
    "trap": _F.trap, "trapz": _F.cond_trap, "trapnz": _F.cond_trap,
    # SIMD lanes, shuffles, extending loads and integer vector operations (simd-int).
    **SIMD_LOWERINGS,
    # SIMD float, conversions, narrowing and widening (jit/lower_simd_float.py).
    **SIMD_FLOAT_LOWERINGS,
    # Relaxed SIMD, native mode (jit/lower_simd_relaxed.py).
    **SIMD_RELAXED_LOWERINGS,
}
"""The lowering of each opcode of legalized IR (``heap_addr``, ``table_addr`` and
``global_value`` have none: the legalizer removes them)."""


__all__ = ["ATTRIBUTES", "Declarations", "LoweringError", "attributes", "function_type",
           "is_wasm_callee", "lower_function", "module_metadata",
           "return_type"]
