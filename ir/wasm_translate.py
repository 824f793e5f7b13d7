"""Translate wasm function bodies to IR.

Locals become FunctionBuilder variables; a block's results (a loop's parameters) become
parameters of its exit (header) block; code after an unconditional branch is skipped
until the enclosing construct ends. Memory accesses go through ``heap_addr``; globals,
memories and imported functions are reached through vmctx (see ``vmctx``); memory.grow
is a libcall. Not translated yet (raise ``NotImplementedError``): call_indirect, table
instructions, ref.func, bulk memory and SIMD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr, WasmModule
from pyjitwasm.wasm.opcodes import OPS, BlockImm, MemArg
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import FuncType

from .frontend import FunctionBuilder
from .function import (
    AbiParam,
    ExtFuncData,
    Function,
    GlobalValueData,
    HeapData,
    Signature,
    Value,
)
from .immediates import TRUSTED, WASM_HEAP, MemFlags
from .types import F32, F64, I8, I32, I64, POINTER, Type, from_wasm, int_type
from .vmctx import MEMORY_BASE_OFFSET, MEMORY_LENGTH_OFFSET, VMContextLayout

READONLY = MemFlags(notrap=True, aligned=True, readonly=True)


@dataclass(frozen=True, slots=True)
class HeapConfig:
    """How linear memories are bounds-checked: ``dynamic`` (explicit checks against the
    current length, always safe) or ``static`` (a reservation of ``static_bound`` bytes
    plus ``guard`` bytes of faulting pages, for 32-bit memories only)."""

    style: str = "dynamic"
    static_bound: int = 1 << 32
    guard: int = 1 << 31


def function_signature(ftype: FuncType) -> Signature:
    """The IR signature of a wasm function: vmctx first, then the wasm parameters."""
    return Signature([AbiParam(POINTER, "vmctx")] + [AbiParam(from_wasm(t)) for t in ftype.params],
                     [from_wasm(t) for t in ftype.results])


def function_name(index: int) -> str:
    """The symbol name compiled code uses for function ``index``."""
    return f"wasm_func_{index}"


def translate_module(module: WasmModule, config: HeapConfig | None = None) -> list[Function]:
    """IR for every function the module defines, in index order."""
    first = module.num_imported_funcs
    return [translate_function(module, first + i, config) for i in range(len(module.codes))]


def translate_function(module: WasmModule, func_index: int,
                       config: HeapConfig | None = None) -> Function:
    """IR for defined function ``func_index`` (an index in the function index space)."""
    return _Translator(module, func_index, config or HeapConfig()).run()


@dataclass(slots=True)
class _Frame:
    kind: str  # "block", "loop", "if", "else", "function"
    params: list[Type]
    results: list[Type]
    dest: int  # block a branch to this frame goes to
    exit: int  # block after the construct
    height: int  # operand stack height below the params
    else_block: int | None = None
    else_args: list[Value] = field(default_factory=list)
    exit_reached: bool = False  # some branch or fall-through reaches exit
    reachable_at_start: bool = True

    @property
    def branch_types(self) -> list[Type]:
        return self.params if self.kind == "loop" else self.results


class _Translator:
    def __init__(self, module: WasmModule, func_index: int, config: HeapConfig) -> None:
        self.module = module
        self.func_index = func_index
        self.config = config
        self.layout = VMContextLayout.for_module(module)
        self.ftypes = module.func_types()
        self.ftype = self.ftypes[func_index]
        self.body = module.codes[func_index - module.num_imported_funcs]
        self.func = Function(function_name(func_index), function_signature(self.ftype))
        self.fb = FunctionBuilder(self.func)
        self.stack: list[Value] = []
        self.frames: list[_Frame] = []
        self.reachable = True
        self.dead_depth = 0  # constructs opened inside unreachable code
        self.vmctx_gv = self.func.vmctx_global()
        self._heaps: dict[int, int] = {}
        self._heap_length: dict[int, int] = {}  # memory -> global value of its length
        self._global_ptrs: dict[int, int] = {}
        self._ext: dict[str, int] = {}
        self._sigs: dict[tuple, int] = {}

    # Setup ------------------------------------------------------------------------------

    def run(self) -> Function:
        fb = self.fb
        entry = fb.create_block()
        params = fb.append_block_params_for_function_params(entry)
        fb.switch_to_block(entry)
        fb.seal_block(entry)
        self.vmctx = params[0]
        self.locals: list[int] = []
        for t, value in zip(self.ftype.params, params[1:], strict=True):
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, value)
            self.locals.append(var)
        for t in self.body.locals:
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, fb.ins().zero(from_wasm(t)))
            self.locals.append(var)
        results = [from_wasm(t) for t in self.ftype.results]
        exit_block = self._block_with_params(results)
        self.frames.append(_Frame("function", [], results, exit_block, exit_block, 0))
        for instr in self.body.instrs:
            self.translate(instr)
        fb.finalize()
        return self.func

    def _block_with_params(self, types: list[Type]) -> int:
        block = self.fb.create_block()
        for t in types:
            self.fb.append_block_param(block, t)
        return block

    def _block_types(self, imm: BlockImm) -> tuple[list[Type], list[Type]]:
        bt = imm.blocktype
        if bt == op.BLOCKTYPE_EMPTY:
            return [], []
        if bt < 0:
            return [], [from_wasm(bt & 0x7F)]
        ftype = self.module.types[bt]
        return [from_wasm(t) for t in ftype.params], [from_wasm(t) for t in ftype.results]

    # Declarations -----------------------------------------------------------------------

    def heap(self, memory: int) -> int:
        if memory not in self._heaps:
            func = self.func
            definition = func.create_global_value(GlobalValueData(
                "load", POINTER, self.vmctx_gv, self.layout.memory(memory), READONLY))
            base = func.create_global_value(GlobalValueData(
                "load", POINTER, definition, MEMORY_BASE_OFFSET, TRUSTED))
            length = func.create_global_value(GlobalValueData(
                "load", POINTER, definition, MEMORY_LENGTH_OFFSET, TRUSTED))
            mtype = self.module.memory_types()[memory]
            index_type = I64 if mtype.is_64 else I32
            if self.config.style == "static" and not mtype.is_64:
                data = HeapData("static", base, self.config.static_bound, self.config.guard,
                                index_type)
            else:
                data = HeapData("dynamic", base, length, 0, index_type)
            self._heaps[memory] = func.create_heap(data)
            self._heap_length[memory] = length
        return self._heaps[memory]

    def global_ptr(self, index: int) -> int:
        if index not in self._global_ptrs:
            self._global_ptrs[index] = self.func.create_global_value(GlobalValueData(
                "load", POINTER, self.vmctx_gv, self.layout.global_(index), READONLY))
        return self._global_ptrs[index]

    def signature(self, sig: Signature) -> int:
        key = (tuple(sig.params), tuple(sig.returns))
        if key not in self._sigs:
            self._sigs[key] = self.func.import_signature(sig)
        return self._sigs[key]

    def ext_func(self, name: str, sig: Signature) -> int:
        if name not in self._ext:
            self._ext[name] = self.func.import_function(ExtFuncData(name, self.signature(sig)))
        return self._ext[name]

    # Stack helpers -----------------------------------------------------------------------

    def pop(self) -> Value:
        return self.stack.pop()

    def popn(self, n: int) -> list[Value]:
        if n == 0:
            return []
        values = self.stack[-n:]
        del self.stack[-n:]
        return values

    def push(self, v: Value) -> None:
        self.stack.append(v)

    # Control ---------------------------------------------------------------------------

    def translate(self, instr: Instr) -> None:
        code = instr.op
        if not self.reachable:
            self.translate_unreachable(instr)
            return
        if code in _CONTROL:
            getattr(self, _CONTROL[code])(instr)
        else:
            self.translate_operator(instr)

    def translate_unreachable(self, instr: Instr) -> None:
        code = instr.op
        if code in (op.BLOCK, op.LOOP, op.IF):
            self.dead_depth += 1
        elif code == op.END and self.dead_depth:
            self.dead_depth -= 1
        elif code == op.ELSE and not self.dead_depth:
            self.op_else(instr)
        elif code == op.END:
            self.op_end(instr)

    def op_block(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        exit_block = self._block_with_params(results)
        self.frames.append(_Frame("block", params, results, exit_block, exit_block,
                                  len(self.stack) - len(params)))

    def op_loop(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        header = self._block_with_params(params)
        exit_block = self._block_with_params(results)
        args = self.popn(len(params))
        self.fb.ins().jump(header, args)
        self.frames.append(_Frame("loop", params, results, header, exit_block, len(self.stack)))
        self.fb.switch_to_block(header)
        self.stack.extend(self.func.dfg.block_params[header])

    def op_if(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        cond = self.pop()
        then_block = self.fb.create_block()
        else_block = self._block_with_params(params)
        exit_block = self._block_with_params(results)
        args = list(self.stack[len(self.stack) - len(params):]) if params else []
        self.fb.ins().brif(cond, then_block, [], else_block, args)
        self.fb.seal_block(then_block)
        self.fb.switch_to_block(then_block)
        self.frames.append(_Frame("if", params, results, exit_block, exit_block,
                                  len(self.stack) - len(params), else_block, args))

    def op_else(self, instr: Instr) -> None:
        frame = self.frames[-1]
        if self.reachable:
            self.fb.ins().jump(frame.exit, self.popn(len(frame.results)))
            frame.exit_reached = True
        del self.stack[frame.height:]
        frame.kind = "else"
        self.fb.switch_to_block(frame.else_block)  # type: ignore[arg-type]
        self.fb.seal_block(frame.else_block)  # type: ignore[arg-type]
        self.stack.extend(self.func.dfg.block_params[frame.else_block])  # type: ignore[index]
        self.reachable = True

    def op_end(self, instr: Instr) -> None:
        frame = self.frames.pop()
        if self.reachable:
            self.fb.ins().jump(frame.exit, self.popn(len(frame.results)))
            frame.exit_reached = True
        del self.stack[frame.height:]
        if frame.kind == "if":
            # No else: the else block forwards the params as the results (types match).
            self.fb.switch_to_block(frame.else_block)  # type: ignore[arg-type]
            self.fb.seal_block(frame.else_block)  # type: ignore[arg-type]
            self.fb.ins().jump(frame.exit, self.func.dfg.block_params[frame.else_block])  # type: ignore[index]
            frame.exit_reached = True
        if frame.kind == "loop":
            self.fb.seal_block(frame.dest)
        self.fb.seal_block(frame.exit)
        if frame.exit_reached:
            self.fb.switch_to_block(frame.exit)
            self.stack.extend(self.func.dfg.block_params[frame.exit])
            self.reachable = True
        else:
            self.reachable = False
        if frame.kind == "function":
            if self.reachable:
                self.fb.ins().return_(self.popn(len(frame.results)))
            self.reachable = False

    def _branch_target(self, depth: int) -> _Frame:
        frame = self.frames[-1 - depth]
        if frame.kind != "loop":
            frame.exit_reached = True
        return frame

    def op_br(self, instr: Instr) -> None:
        frame = self._branch_target(instr.imm)
        args = list(self.stack[len(self.stack) - len(frame.branch_types):]) \
            if frame.branch_types else []
        self.fb.ins().jump(frame.dest, args)
        self.reachable = False

    def op_br_if(self, instr: Instr) -> None:
        cond = self.pop()
        frame = self._branch_target(instr.imm)
        args = list(self.stack[len(self.stack) - len(frame.branch_types):]) \
            if frame.branch_types else []
        next_block = self.fb.create_block()
        self.fb.ins().brif(cond, frame.dest, args, next_block, [])
        self.fb.seal_block(next_block)
        self.fb.switch_to_block(next_block)

    def op_br_table(self, instr: Instr) -> None:
        depths, default = instr.imm
        index = self.pop()
        # Targets may differ in arity (each takes the top of the stack it needs); those
        # that take values are reached through a forwarding block, as br_table carries
        # no arguments.
        targets: dict[int, int] = {}
        forwards: list[tuple[int, int]] = []
        for depth in [*depths, default]:
            if depth in targets:
                continue
            frame = self._branch_target(depth)
            if frame.branch_types:
                targets[depth] = self.fb.create_block()
                forwards.append((depth, targets[depth]))
            else:
                targets[depth] = frame.dest
        self.fb.ins().br_table(index, targets[default], [targets[d] for d in depths])
        for depth, edge in forwards:
            frame = self.frames[-1 - depth]
            arity = len(frame.branch_types)
            self.fb.seal_block(edge)
            self.fb.switch_to_block(edge)
            self.fb.ins().jump(frame.dest, self.stack[len(self.stack) - arity:])
        self.reachable = False

    def op_return(self, instr: Instr) -> None:
        self.fb.ins().return_(self.popn(len(self.ftype.results)))
        self.reachable = False

    def op_unreachable(self, instr: Instr) -> None:
        self.fb.ins().trap(TrapCode.UNREACHABLE)
        self.reachable = False

    def op_nop(self, instr: Instr) -> None:
        pass

    # Operators ---------------------------------------------------------------------------

    def translate_operator(self, instr: Instr) -> None:
        code, imm = instr.op, instr.imm
        name = OPS[code].name
        ins = self.fb.ins()
        simple = _SIMPLE.get(name)
        if simple is not None:
            kind, ir_op, ty = simple
            if kind == "binary":
                b, a = self.pop(), self.pop()
                self.push(ins.binary(ir_op, a, b))
            elif kind == "unary":
                self.push(ins.unary(ir_op, self.pop(), ty))
            elif kind == "icmp":
                b, a = self.pop(), self.pop()
                self.push(ins.uextend(I32, ins.icmp(ir_op, a, b)))
            elif kind == "fcmp":
                b, a = self.pop(), self.pop()
                self.push(ins.uextend(I32, ins.fcmp(ir_op, a, b)))
            elif kind == "eqz":
                self.push(ins.uextend(I32, ins.icmp_imm("eq", self.pop(), 0)))
            elif kind == "extend_s":  # iN.extendM_s: narrow to M bits, sign-extend back
                narrow = ins.ireduce(int_type(int(ir_op)), self.pop())
                self.push(ins.sextend(ty, narrow))
            return
        if code == op.I32_CONST:
            self.push(ins.iconst(I32, imm))
        elif code == op.I64_CONST:
            self.push(ins.iconst(I64, imm))
        elif code == op.F32_CONST:
            self.push(ins.f32const(imm))
        elif code == op.F64_CONST:
            self.push(ins.f64const(imm))
        elif code == op.LOCAL_GET:
            self.push(self.fb.use_var(self.locals[imm]))
        elif code == op.LOCAL_SET:
            self.fb.def_var(self.locals[imm], self.pop())
        elif code == op.LOCAL_TEE:
            self.fb.def_var(self.locals[imm], self.stack[-1])
        elif code == op.DROP:
            self.pop()
        elif code in (op.SELECT, op.SELECT_T):
            cond, b, a = self.pop(), self.pop(), self.pop()
            self.push(ins.select(cond, a, b))
        elif code == op.GLOBAL_GET:
            ty = from_wasm(self.module.global_types()[imm].valtype)
            ptr = ins.global_value(self.global_ptr(imm))
            self.push(self.fb.ins().load(ty, TRUSTED, ptr))
        elif code == op.GLOBAL_SET:
            ptr = ins.global_value(self.global_ptr(imm))
            self.fb.ins().store(TRUSTED, self.pop(), ptr)
        elif code == op.CALL:
            self.call(imm)
        elif code == op.MEMORY_SIZE:
            self.memory_size(imm)
        elif code == op.MEMORY_GROW:
            self.memory_grow(imm)
        elif code == op.REF_NULL:
            self.push(ins.null(POINTER_REF))
        elif code == op.REF_IS_NULL:
            self.push(ins.uextend(I32, ins.unary("is_null", self.pop())))
        elif OPS[code].imm == op.Imm.MEMARG and code < op.FD:
            self.memory_access(name, imm)
        else:
            raise NotImplementedError(f"translation of {name} is not implemented yet")

    def memory_address(self, memarg: MemArg, size: int) -> Value:
        heap = self.heap(memarg.memory)
        index = self.pop()
        offset = memarg.offset
        ins = self.fb.ins()
        if offset >= 1 << 32:
            # heap_addr takes a u32 offset: add the high part first, trapping on wrap.
            high = offset & ~0xFFFFFFFF
            index = ins.uadd_overflow_trap(index, ins.iconst(I64, high),
                                           TrapCode.MEMORY_OUT_OF_BOUNDS)
            offset &= 0xFFFFFFFF
        return self.fb.ins().heap_addr(heap, index, offset, size)

    def memory_access(self, name: str, memarg: MemArg) -> None:
        info = op.OPS_BY_NAME[name]
        size = info.access_size
        params, results = info.sig  # type: ignore[misc]
        if results:  # a load
            ty = from_wasm(results[0])
            addr = self.memory_address(memarg, size)
            if size * 8 < ty.bits and ty.is_int:
                signed = "s" if name.endswith("_s") else "u"
                opcode = f"{signed}load{size * 8}"
            else:
                opcode = "load"
            self.push(self.fb.ins().load(ty, WASM_HEAP, addr, 0, opcode))
        else:
            value = self.pop()
            ty = from_wasm(params[0])
            addr = self.memory_address(memarg, size)
            opcode = f"istore{size * 8}" if size * 8 < ty.bits and ty.is_int else "store"
            self.fb.ins().store(WASM_HEAP, value, addr, 0, opcode)

    def call(self, index: int) -> None:
        ftype = self.ftypes[index]
        args = self.popn(len(ftype.params))
        sig = function_signature(ftype)
        ins = self.fb.ins()
        if index >= self.module.num_imported_funcs:
            fn = self.ext_func(function_name(index), sig)
            results = ins.call(fn, [self.vmctx, *args])
        else:
            code = ins.load(POINTER, READONLY, self.vmctx,
                            self.layout.imported_func_code(index))
            callee_vmctx = self.fb.ins().load(POINTER, READONLY, self.vmctx,
                                              self.layout.imported_func_vmctx(index))
            results = self.fb.ins().call_indirect(self.signature(sig), code,
                                                  [callee_vmctx, *args])
        self.stack.extend(results)

    def memory_size(self, memory: int) -> None:
        self.heap(memory)
        ins = self.fb.ins()
        length = ins.global_value(self._heap_length[memory])
        pages = self.fb.ins().ushr_imm(length, 16)
        if not self.module.memory_types()[memory].is_64:
            pages = self.fb.ins().ireduce(I32, pages)
        self.push(pages)

    def memory_grow(self, memory: int) -> None:
        is_64 = self.module.memory_types()[memory].is_64
        delta = self.pop()
        ins = self.fb.ins()
        if not is_64:
            delta = ins.uextend(I64, delta)
        sig = Signature([AbiParam(POINTER, "vmctx"), AbiParam(I64), AbiParam(I64)], [I64])
        fn = self.ext_func("libcall_memory_grow", sig)
        (old,) = self.fb.ins().call(fn, [self.vmctx, self.fb.ins().iconst(I64, memory), delta])
        self.push(old if is_64 else self.fb.ins().ireduce(I32, old))


POINTER_REF = from_wasm(0x70)

_CONTROL = {
    op.BLOCK: "op_block", op.LOOP: "op_loop", op.IF: "op_if", op.ELSE: "op_else",
    op.END: "op_end", op.BR: "op_br", op.BR_IF: "op_br_if", op.BR_TABLE: "op_br_table",
    op.RETURN: "op_return", op.UNREACHABLE: "op_unreachable", op.NOP: "op_nop",
}


def _simple_ops() -> dict[str, tuple[str, str, Type | None]]:
    table: dict[str, tuple[str, str, Type | None]] = {}
    int_bin = {"add": "iadd", "sub": "isub", "mul": "imul", "div_s": "sdiv", "div_u": "udiv",
               "rem_s": "srem", "rem_u": "urem", "and": "band", "or": "bor", "xor": "bxor",
               "shl": "ishl", "shr_s": "sshr", "shr_u": "ushr", "rotl": "rotl", "rotr": "rotr"}
    int_cmp = {"eq": "eq", "ne": "ne", "lt_s": "slt", "lt_u": "ult", "gt_s": "sgt",
               "gt_u": "ugt", "le_s": "sle", "le_u": "ule", "ge_s": "sge", "ge_u": "uge"}
    float_bin = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv", "min": "fmin",
                 "max": "fmax", "copysign": "fcopysign"}
    float_un = {"abs": "fabs", "neg": "fneg", "ceil": "ceil", "floor": "floor",
                "trunc": "trunc", "nearest": "nearest", "sqrt": "sqrt"}
    float_cmp = {"eq": "eq", "ne": "ne", "lt": "lt", "gt": "gt", "le": "le", "ge": "ge"}
    for t in ("i32", "i64"):
        for k, v in int_bin.items():
            table[f"{t}.{k}"] = ("binary", v, None)
        for k, v in int_cmp.items():
            table[f"{t}.{k}"] = ("icmp", v, None)
        for k in ("clz", "ctz", "popcnt"):
            table[f"{t}.{k}"] = ("unary", k, None)
        table[f"{t}.eqz"] = ("eqz", "", None)
    for t in ("f32", "f64"):
        for k, v in float_bin.items():
            table[f"{t}.{k}"] = ("binary", v, None)
        for k, v in float_un.items():
            table[f"{t}.{k}"] = ("unary", v, None)
        for k, v in float_cmp.items():
            table[f"{t}.{k}"] = ("fcmp", v, None)
    types = {"i32": I32, "i64": I64, "f32": F32, "f64": F64}
    for dst in ("i32", "i64"):
        for src in ("f32", "f64"):
            for s in ("s", "u"):
                sign = "sint" if s == "s" else "uint"
                table[f"{dst}.trunc_{src}_{s}"] = ("unary", f"fcvt_to_{sign}", types[dst])
                table[f"{dst}.trunc_sat_{src}_{s}"] = ("unary", f"fcvt_to_{sign}_sat",
                                                       types[dst])
                table[f"{src}.convert_{dst}_{s}"] = ("unary", f"fcvt_from_{sign}", types[src])
    table["i32.wrap_i64"] = ("unary", "ireduce", I32)
    table["i64.extend_i32_s"] = ("unary", "sextend", I64)
    table["i64.extend_i32_u"] = ("unary", "uextend", I64)
    table["f32.demote_f64"] = ("unary", "fdemote", F32)
    table["f64.promote_f32"] = ("unary", "fpromote", F64)
    for a, b in (("i32", "f32"), ("i64", "f64"), ("f32", "i32"), ("f64", "i64")):
        table[f"{a}.reinterpret_{b}"] = ("unary", "bitcast", types[a])
    for t, bits in (("i32", (8, 16)), ("i64", (8, 16, 32))):
        for n in bits:
            table[f"{t}.extend{n}_s"] = ("extend_s", str(n), types[t])
    return table


_SIMPLE = _simple_ops()

__all__ = ["HeapConfig", "translate_function", "translate_module", "function_signature",
           "function_name", "I8"]
