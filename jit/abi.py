"""The calling convention between compiled WebAssembly, the runtime and the host.

Compiled wasm function:   ``R @f(ptr %vmctx, ptr %caller_vmctx, P0 %a0, P1 %a1, ...)``
where ``R`` is ``void``, the single result type, or a literal struct of the results'
carriers (``result_carriers``).  The caller's vmctx rides along so host functions can
see their caller's instance.

Results and the x87 stack: LLVM returns a struct's floats and vectors in XMM0 and XMM1
(vectors also XMM2, XMM3), but a third or fourth scalar float in the x87 registers ST0,
ST1, and loading a signalling NaN there quiets it.  So when more than two results are
floats or vectors, every scalar float result travels as the integer of its width (its
bits, ``bitcast`` on both sides): ``(f32, f32, f32)`` is returned as ``{ i32, i32, i32 }``.

Values array (host <-> wasm): 16-byte slots (enough for a v128), slot ``i`` at byte
``16 * i``; an i32/f32 occupies the low 4 bytes, i64/f64/r64 the low 8.

Signatures here are IR value types (``i32``, ``i64``, ``f32``, ``f64``, ``v128``, and
``r64`` for both wasm reference types); whoever starts from a wasm signature converts it
first (``translate.module_info.ir_value_types``), so the back end knows nothing of wasm.

Entry shim (one per signature): ``void @shim(ptr %callee, ptr %vmctx, ptr %values)``
loads the arguments from the values array, calls ``callee`` and stores the results back
into slots 0.., which is what ``pyjitwasm_invoke(shim, callee, vmctx, values)`` runs.

Host shim (one per signature): a wasm-ABI function whose "vmctx" is a host-function
context (``HOST_INDEX_OFFSET`` holds the index in the runtime's host-function registry);
it spills the arguments into a values array on its stack and calls
``pyjitwasm_host_call(caller_vmctx, index, values)``, then reloads the results.

Every function this module emits, and every wasm function the code generator emits,
must carry ``WASM_FUNCTION_ATTRS``: "disable-tail-calls" keeps LLVM from turning
runaway recursion into a loop (wasm requires it to exhaust the stack and trap).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyjitwasm.ir.types import F32, F64, I32, I64, R64, V128, Type

SLOT_SIZE = 16
TRAP_SYMBOL = "pyjitwasm_trap"
HOST_CALL_SYMBOL = "pyjitwasm_host_call"
STACK_LIMIT_TLS_SYMBOL = "pyjitwasm_stack_limit_tls"
"""An absolute symbol whose "address" is the offset of the running thread's stack limit
from the thread pointer (the runtime defines it when it links compiled code)."""
# Byte offset of the u32 host-function index inside a host-function context.
HOST_INDEX_OFFSET = 8
WASM_FUNCTION_ATTRS = ('"disable-tail-calls"="true" "frame-pointer"="all" '
                       '"probe-stack"="inline-asm" nounwind')
"""Attributes of every function the JIT emits: LLVM must not turn runaway recursion into a
loop (wasm must exhaust the stack and trap), frame pointers make trap backtraces a walk
of the frame chain, and a frame larger than a page is allocated page by page, touching
each ("probe-stack"): the prologue moves the stack pointer before the function's stack
check runs, and a frame larger than what the runtime keeps below the limit (64 KiB)
would otherwise step over the thread stack's guard page into whatever is mapped below;
probed, it faults in the guard page, which the fault handler turns into a stack-overflow
trap (``runtime/native/native.c``)."""

# The value types that cross the ABI and how LLVM carries them.
_LLVM_TYPES = {
    I32: "i32",
    I64: "i64",
    F32: "float",
    F64: "double",
    V128: "<2 x i64>",
    R64: "ptr",
}

RUNTIME_DECLARATIONS = f"""\
declare void @{TRAP_SYMBOL}(ptr, i32) noreturn nounwind cold
declare void @{HOST_CALL_SYMBOL}(ptr, i32, ptr) nounwind
declare ptr @llvm.stacksave.p0()
declare ptr @llvm.thread.pointer.p0()
@{STACK_LIMIT_TLS_SYMBOL} = external global i8
"""


def llvm_type(ty: Type) -> str:
    """The LLVM IR type that carries a value of IR type ``ty`` across the ABI."""
    return _LLVM_TYPES[ty]


# The integer type that carries a float result's bits (see the module docstring).
_FLOAT_CARRIERS = {F32: I32, F64: I64}


def result_carriers(results: Sequence[Type]) -> tuple[Type, ...]:
    """The types that carry ``results`` back to the caller: the results themselves,
    except that when more than two of several results are floats or vectors (so a float
    could be returned on the x87 stack, which quiets signalling NaNs) each scalar float
    is carried as the integer of its width."""
    sse_class = sum(1 for r in results if r.is_float or r.is_vector)
    if len(results) < 2 or sse_class <= 2:
        return tuple(results)
    return tuple(_FLOAT_CARRIERS.get(r, r) for r in results)


def return_type(results: Sequence[Type]) -> str:
    """The LLVM return type of a function with these results."""
    if not results:
        return "void"
    if len(results) == 1:
        return llvm_type(results[0])
    return "{ " + ", ".join(llvm_type(r) for r in result_carriers(results)) + " }"


def signature_tag(params: Sequence[Type], results: Sequence[Type]) -> str:
    """A symbol-safe name for a signature, e.g. ``i32_i32__i64``."""
    return "_".join(p.name for p in params) + "__" + "_".join(r.name for r in results)


def _align(ty: Type) -> int:
    return 16 if ty == V128 else 8


def _slot_address(name: str, base: str, index: int) -> str:
    return f"  {name} = getelementptr inbounds i8, ptr {base}, i64 {index * SLOT_SIZE}"


def _load_slots(types: Sequence[Type], base: str, prefix: str) -> tuple[list[str], list[str]]:
    lines, names = [], []
    for i, t in enumerate(types):
        ty = llvm_type(t)
        lines.append(_slot_address(f"%{prefix}p{i}", base, i))
        lines.append(f"  %{prefix}{i} = load {ty}, ptr %{prefix}p{i}, align {_align(t)}")
        names.append(f"{ty} %{prefix}{i}")
    return lines, names


def _store_values(types: Sequence[Type], value: str, base: str, prefix: str) -> list[str]:
    """Store a function's results (``value``) into slots; a result carried as an integer
    (``result_carriers``) is stored as one, which leaves the same bits in the slot."""
    lines = []
    for i, t in enumerate(result_carriers(types)):
        ty = llvm_type(t)
        lines.append(_slot_address(f"%{prefix}p{i}", base, i))
        if len(types) == 1:
            item = value
        else:
            lines.append(f"  %{prefix}{i} = extractvalue {return_type(types)} {value}, {i}")
            item = f"%{prefix}{i}"
        lines.append(f"  store {ty} {item}, ptr %{prefix}p{i}, align {_align(t)}")
    return lines


def entry_shim_ir(name: str, params: Sequence[Type], results: Sequence[Type]) -> str:
    """LLVM IR defining the entry shim ``@name`` for one signature."""
    ret = return_type(results)
    loads, args = _load_slots(params, "%values", "a")
    call_args = ", ".join(["ptr %vmctx", "ptr %vmctx", *args])
    lines = [f"define void @{name}(ptr %callee, ptr %vmctx, ptr %values) #0 {{", *loads]
    if results:
        lines.append(f"  %r = call {ret} %callee({call_args})")
        lines += _store_values(results, "%r", "%values", "s")
    else:
        lines.append(f"  call void %callee({call_args})")
    lines += ["  ret void", "}"]
    return "\n".join(lines) + "\n"


def host_shim_ir(name: str, params: Sequence[Type], results: Sequence[Type]) -> str:
    """LLVM IR defining a wasm-ABI function that forwards to the host through
    ``pyjitwasm_host_call`` (its vmctx argument is a host-function context)."""
    ret = return_type(results)
    formal = ", ".join(f"{llvm_type(t)} %p{i}" for i, t in enumerate(params))
    formal = ", " + formal if formal else ""
    slots = max(len(params), len(results), 1)
    lines = [
        f"define {ret} @{name}(ptr %hostctx, ptr %caller{formal}) #0 {{",
        f"  %values = alloca [{slots} x <2 x i64>], align 16",
        f"  %ip = getelementptr inbounds i8, ptr %hostctx, i64 {HOST_INDEX_OFFSET}",
        "  %index = load i32, ptr %ip, align 4",
    ]
    for i, t in enumerate(params):
        lines.append(f"  %sp{i} = getelementptr inbounds i8, ptr %values, i64 {i * SLOT_SIZE}")
        lines.append(f"  store {llvm_type(t)} %p{i}, ptr %sp{i}, align {_align(t)}")
    lines.append(f"  call void @{HOST_CALL_SYMBOL}(ptr %caller, i32 %index, ptr %values)")
    if not results:
        lines.append("  ret void")
    elif len(results) == 1:
        loads, _ = _load_slots(results, "%values", "r")
        lines += loads + [f"  ret {ret} %r0"]
    else:
        # Results carried as integers are read from their slots as integers.
        carriers = result_carriers(results)
        loads, _ = _load_slots(carriers, "%values", "r")
        lines += loads
        agg = "undef"
        for i, t in enumerate(carriers):
            lines.append(f"  %agg{i} = insertvalue {ret} {agg}, {llvm_type(t)} %r{i}, {i}")
            agg = f"%agg{i}"
        lines.append(f"  ret {ret} {agg}")
    lines.append("}")
    return "\n".join(lines) + "\n"


_UNLIKELY = '!prof !{!"branch_weights", i32 1, i32 100000}'

TRAP_SITE_SHIFT = 8
"""The trap code is the low byte of ``pyjitwasm_trap``'s code operand; the bits above
may number the trap site (``trap_operand``), which the runtime ignores."""


def trap_operand(code: int, site: int) -> int:
    """The code operand of a trap call at trap site ``site`` of its function: distinct
    sites make distinct calls, which LLVM never merges into one (a merged call would
    lose the source location of each).  Sites wrap below 2**23 (the operand is an
    i32); a collision only risks one merge."""
    return code | ((site % (1 << 23)) << TRAP_SITE_SHIFT)


def stack_check_ir(vmctx: str = "%vmctx", label: str = "body", trap_suffix: str = "") -> str:
    """Prologue lines comparing the stack pointer with the running thread's stack limit
    (a thread-local word at offset ``STACK_LIMIT_TLS_SYMBOL`` from the thread pointer,
    set by the thread's outermost entry into wasm: threads sharing a store each have
    their own); they end with a branch to ``label`` (which the caller then opens).
    ``trap_suffix`` ends the trap call's line (e.g. its ``!dbg`` attachment)."""
    return (
        "  %sp.raw = call ptr @llvm.stacksave.p0()\n"
        "  %sp = ptrtoint ptr %sp.raw to i64\n"
        "  %tp = call ptr @llvm.thread.pointer.p0()\n"
        "  %stack.limit.at = getelementptr i8, ptr %tp, "
        f"i64 ptrtoint (ptr @{STACK_LIMIT_TLS_SYMBOL} to i64)\n"
        "  %stack.limit = load i64, ptr %stack.limit.at, align 8\n"
        "  %stack.low = icmp ult i64 %sp, %stack.limit\n"
        f"  br i1 %stack.low, label %stack.overflow, label %{label}, {_UNLIKELY}\n"
        "stack.overflow:\n"
        f"  call void @{TRAP_SYMBOL}(ptr {vmctx}, i32 0){trap_suffix}\n"
        "  unreachable\n"
        f"{label}:\n"
    )


def attributes_ir() -> str:
    """The attribute group ``#0`` the functions above refer to."""
    return f"attributes #0 = {{ {WASM_FUNCTION_ATTRS} }}\n"
