"""The runtime entry points compiled code calls (libcalls) and their addresses.

The list, signatures and contracts are the translator's (``ir/libcalls.py``): the first
argument is the calling instance's vmctx, entity numbers are in that module's index
spaces, indices/lengths/deltas arrive as u64, references as words (funcref = VMFuncRef
address, externref = handle, null = 0).  A libcall never traps: the fallible ones return
a status (0 = success) and the compiled code traps with the libcall's trap code.

Each libcall has a C entry point in ``runtime/native/native.c`` (``libcall_<name>``)
that forwards to the implementation below; if an implementation raises, the C side
abandons the compiled frames only after Python has returned and the exception reaches
the caller of the wasm code unchanged.

:func:`symbol_addresses` is what the compiler links against (symbols by name).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from pyjitwasm.runtime import native
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitState, JitStoreContext
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vmctx import JitModuleInstance, instance_by_vmctx
from pyjitwasm.translate import libcalls as ir_libcalls
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.tier_table import OSR_NEVER
from pyjitwasm.wasm.types import FUNCREF

STATUS_OK = 0
STATUS_OUT_OF_BOUNDS = 1

# Index of each libcall's C entry point (the LC_* enum of native.c).
_C_INDEX = {
    "memory_grow": 0,
    "table_lazy_init": 1,
    "memory_fill": 2,
    "memory_copy": 3,
    "memory_init": 4,
    "data_drop": 5,
    "table_grow": 6,
    "table_fill": 7,
    "table_copy": 8,
    "table_init": 9,
    "elem_drop": 10,
    "epoch_deadline_reached": 11,
    "out_of_fuel": 12,
    "tier_up": 13,
    "tier_up_loop": 14,
}


def _instance(vmctx: int) -> JitModuleInstance:
    inst = instance_by_vmctx(vmctx)
    if inst is None:
        raise RuntimeError(f"libcall from an unknown vmctx {vmctx:#x}")
    return inst


def _memory(inst: JitModuleInstance, memory: int) -> JitMemory:
    mem = inst.memories[memory]
    assert isinstance(mem, JitMemory)  # every memory of a JIT instance is one
    return mem


def _table(inst: JitModuleInstance, table: int) -> JitTable:
    t = inst.tables[table]
    assert isinstance(t, JitTable)  # every table of a JIT instance is one
    return t


# Memories ------------------------------------------------------------------------------


def memory_grow(vmctx: int, memory: int, delta: int) -> int:
    """Grow memory ``memory`` by ``delta`` pages: the old size in pages, or -1."""
    mem = _memory(_instance(vmctx), memory)
    return mem.grow(delta)


def memory_fill(vmctx: int, memory: int, dst: int, value: int, length: int) -> int:
    """Set ``length`` bytes at ``dst`` to ``value``; status."""
    mem = _memory(_instance(vmctx), memory)
    if dst + length > mem.byte_size:
        return STATUS_OUT_OF_BOUNDS
    if length:
        ctypes.memset(mem.base + dst, value & 0xFF, length)
    return STATUS_OK


def memory_copy(vmctx: int, dst_memory: int, src_memory: int, dst: int, src: int,
                length: int) -> int:
    """Copy ``length`` bytes (overlap-safe); status."""
    inst = _instance(vmctx)
    dmem = _memory(inst, dst_memory)
    smem = _memory(inst, src_memory)
    if src + length > smem.byte_size or dst + length > dmem.byte_size:
        return STATUS_OUT_OF_BOUNDS
    if length:
        ctypes.memmove(dmem.base + dst, smem.base + src, length)
    return STATUS_OK


def memory_init(vmctx: int, memory: int, segment: int, dst: int, src: int,
                length: int) -> int:
    """Copy ``length`` bytes of data segment ``segment`` from ``src`` to ``dst``; status."""
    inst = _instance(vmctx)
    mem = _memory(inst, memory)
    data = inst.datas[segment]
    if src + length > len(data) or dst + length > mem.byte_size:
        return STATUS_OUT_OF_BOUNDS
    if length:
        ctypes.memmove(mem.base + dst, data[src:src + length], length)
    return STATUS_OK


def data_drop(vmctx: int, segment: int) -> int:
    """Drop data segment ``segment`` (it then has length 0)."""
    _instance(vmctx).datas[segment] = b""
    return 0


# Tables --------------------------------------------------------------------------------


def _element_word(table: JitTable, ref: int) -> int:
    """The element word of reference word ``ref`` (SSA form: 0 is null)."""
    if table.type.elem_type == FUNCREF:
        return vm.FUNCREF_NULL if ref == 0 else ref | vm.FUNCREF_INIT_BIT
    return ref


def table_lazy_init(vmctx: int, table: int, index: int) -> int:
    """Materialize element ``index`` (it read as 0): its VMFuncRef address, or 0."""
    t = _table(_instance(vmctx), table)
    return t.word(index) & ~vm.FUNCREF_INIT_BIT


def table_grow(vmctx: int, table: int, init: int, delta: int) -> int:
    """Grow by ``delta`` elements set to ``init``: the old size, or -1."""
    t = _table(_instance(vmctx), table)
    return t.grow_word(delta, _element_word(t, init))


def table_fill(vmctx: int, table: int, dst: int, value: int, length: int) -> int:
    """Set ``length`` elements from ``dst`` to ``value``; status."""
    t = _table(_instance(vmctx), table)
    if dst + length > t.size:
        return STATUS_OUT_OF_BOUNDS
    word = _element_word(t, value)
    for i in range(dst, dst + length):
        t.set_word(i, word)
    return STATUS_OK


def table_copy(vmctx: int, dst_table: int, src_table: int, dst: int, src: int,
               length: int) -> int:
    """Copy ``length`` elements (overlap-safe); status."""
    inst = _instance(vmctx)
    dt, st = _table(inst, dst_table), _table(inst, src_table)
    if src + length > st.size or dst + length > dt.size:
        return STATUS_OUT_OF_BOUNDS
    if length:
        # A zero word means "initialize from this table's segments": never copy one.
        st.materialize_range(src, length)
        ctypes.memmove(dt.elements_address + 8 * dst, st.elements_address + 8 * src,
                       8 * length)
    return STATUS_OK


def table_init(vmctx: int, table: int, segment: int, dst: int, src: int, length: int) -> int:
    """Copy ``length`` references of element segment ``segment``; status."""
    inst = _instance(vmctx)
    t = _table(inst, table)
    items = inst.elems[segment]
    if src + length > len(items) or dst + length > t.size:
        return STATUS_OUT_OF_BOUNDS
    words = [t.encode(item) for item in items[src:src + length]]
    for i, word in enumerate(words):
        t.set_word(dst + i, word)
    return STATUS_OK


def elem_drop(vmctx: int, segment: int) -> int:
    """Drop element segment ``segment``."""
    _instance(vmctx).elems[segment] = []
    return 0


# Interruption ---------------------------------------------------------------------------


def _store_state(vmctx: int) -> JitState:
    context = _instance(vmctx).context
    assert isinstance(context, JitStoreContext)  # every JIT instance's is one
    return context.jit


def epoch_deadline_reached(vmctx: int) -> int:
    """An epoch check fired: 1 (trap "interrupt") when the engine's epoch is still at or
    past the store's deadline, 0 when the deadline moved on meanwhile."""
    return 1 if _store_state(vmctx).epoch_deadline_reached() else 0


def out_of_fuel(vmctx: int) -> int:
    """A fuel check fired: 1 (trap "all fuel consumed") when the store's fuel is still
    used up, 0 when the host added some meanwhile."""
    return 1 if _store_state(vmctx).fuel_exhausted() else 0


# Tiers ---------------------------------------------------------------------------------


def tier_up(vmctx: int, defined_index: int) -> int:
    """Tier-0 function number ``defined_index`` of the caller's module is hot: queue it
    for tier 1 (``runtime/jit/module_code.py``); the calling code goes on at tier 0."""
    code = _instance(vmctx).compiled
    if isinstance(code, ModuleCode):
        code.request_tier_up(defined_index)
    return 0


def tier_up_loop(vmctx: int, defined_index: int, loop_offset: int, slot: int) -> int:
    """Tier-0 function number ``defined_index`` is hot in the loop at wasm offset
    ``loop_offset``, whose OSR slot is number ``slot`` of the function's: queue it for
    tier 1 and, where the runtime allows, that loop for on-stack replacement. The loop's
    OSR entry address, or ``OSR_PENDING`` / ``OSR_ELSEWHERE`` / ``OSR_NEVER``
    (``translate/tiering.py``)."""
    code = _instance(vmctx).compiled
    if isinstance(code, ModuleCode):
        return code.request_loop_tier_up(defined_index, loop_offset, slot)
    return OSR_NEVER


IMPLEMENTATIONS: dict[str, Callable[..., int]] = {
    "memory_grow": memory_grow,
    "table_lazy_init": table_lazy_init,
    "memory_fill": memory_fill,
    "memory_copy": memory_copy,
    "memory_init": memory_init,
    "data_drop": data_drop,
    "table_grow": table_grow,
    "table_fill": table_fill,
    "table_copy": table_copy,
    "table_init": table_init,
    "elem_drop": elem_drop,
    "epoch_deadline_reached": epoch_deadline_reached,
    "out_of_fuel": out_of_fuel,
    "tier_up": tier_up,
    "tier_up_loop": tier_up_loop,
}


_ADAPTERS: dict[int, Callable[[Callable[..., int]], native.LibcallHandler]] = {
    0: lambda fn: lambda v, a, b, c, d, e: fn(v),
    1: lambda fn: lambda v, a, b, c, d, e: fn(v, a),
    2: lambda fn: lambda v, a, b, c, d, e: fn(v, a, b),
    3: lambda fn: lambda v, a, b, c, d, e: fn(v, a, b, c),
    4: lambda fn: lambda v, a, b, c, d, e: fn(v, a, b, c, d),
    5: lambda fn: fn,
}


def _handler(fn: Callable[..., int], nargs: int) -> native.LibcallHandler:
    """``fn`` taking its ``nargs`` arguments, as a handler given all five."""
    return _ADAPTERS[nargs](fn)


# Lazy compilation -----------------------------------------------------------------------


def lazy_compile(first: int, second: int, k: int, stack_room: int) -> int:
    """What lazy-compile stub ``k`` calls: the machine code of defined function number
    ``k`` of the callee's module, compiled now if it is not yet
    (``runtime/jit/module_code.py``).  The callee's vmctx is the call's first argument
    ``first``, or its second one when the first is the hidden pointer a function whose
    results do not fit in registers gets: that points into the caller's stack, never at
    an instance's vmctx, so the registry tells them apart."""
    inst = instance_by_vmctx(first) or instance_by_vmctx(second)
    if inst is None:
        raise RuntimeError(f"lazy compile from an unknown vmctx {first:#x} / {second:#x}")
    code = inst.compiled
    if not isinstance(code, ModuleCode):
        raise RuntimeError("a lazy-compile stub was called for a module without code slots")
    return code.compile_for_stub(k, stack_room)


def _install() -> dict[str, int]:
    addresses = native.runtime_symbols()
    for libcall in ir_libcalls.LIBCALLS:
        which = _C_INDEX[libcall.name]
        native.set_libcall_handler(which, _handler(IMPLEMENTATIONS[libcall.name],
                                                   len(libcall.params)))
        addresses[libcall.symbol] = native.libcall_address(which)
    native.set_lazy_compile_handler(lazy_compile)
    return addresses


_SYMBOLS = _install()


def symbol_addresses() -> dict[str, int]:
    """Every symbol compiled code may import, by name: ``pyjitwasm_trap``,
    ``pyjitwasm_host_call`` and ``libcall_<name>`` for each libcall."""
    return dict(_SYMBOLS)
