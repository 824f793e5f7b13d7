"""The native half of the runtime: entering compiled code and leaving it abnormally.

``_native`` is a cffi extension (runtime/native/native.c, built by build_ffi.py).  This
module wraps it: :func:`invoke` runs a compiled function through its signature's entry
shim and turns a trap into :class:`~pyjitwasm.runtime.errors.Trap`, a failed host
function into the very exception object it raised.  Host functions live in a process-wide
registry; compiled code reaches them by index (see ``jit/abi.py``).

The SIGSEGV/SIGBUS handler is installed when this module is imported.  Install it after
anything else that handles those signals (Python's faulthandler included): the handler
forwards faults that are not guard-page hits in compiled code to the previous handler,
but a handler installed later would see our faults first.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.jit.objload import RELOCATION_RECORD, install_image_linker, link_refused
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.wasm.traps import TrapCode

try:
    from pyjitwasm.runtime.native._native import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "pyjitwasm's native runtime helper is not built; run "
        "`python runtime/native/build_ffi.py` or reinstall the package"
    ) from exc

# The C types the runtime names most, parsed now: cffi parses a type string on its first
# use (3-10 us each), which otherwise falls in a module's first instantiation and call.
for _c_type in ("uintptr_t", "uint64_t *", "uint32_t *", "int32_t *", "int64_t *",
                "double *", "char *", "uint64_t[]", "int32_t[]", "char[]", "uint8_t[]",
                "size_t *"):
    ffi.typeof(_c_type)
del _c_type

STATUS_OK = 0
_M64 = (1 << 64) - 1
STATUS_HOST_EXCEPTION = -1

HostFunction = Callable[[int, int], None]
"""A host function as compiled code sees it: ``fn(caller_vmctx, values_address)``;
it reads its arguments from and writes its results to the values array."""

BufferedHostFunction = Callable[[memoryview], None]
"""A buffered host function: ``fn(buffer)`` where ``buffer`` is this thread's host buffer
(see :func:`register_buffered_host_function`)."""

HOST_BUFFER_HEADER = 16
"""Byte offset of slot 0 in the host buffer; the caller's vmctx is the u64 at offset 0."""
HOST_BUFFER_SLOTS = (lib.pyjitwasm_host_buffer_size() - HOST_BUFFER_HEADER) // 16
"""How many 16-byte slots the host buffer has (a signature needing more is unbuffered)."""

_host_functions: list[HostFunction | None] = []
# Weak references: the process-wide registry must not keep a store's functions alive.
_buffered_functions: list[weakref.ref[BufferedHostFunction] | None] = []
_free_host_slots: list[int] = []
# Reentrant: a collection while a thread holds it (any allocation may start one) can run
# a dropped store's finalizer, which unregisters its host functions on that thread
# (``runtime/jit/store.py``); with a plain lock that waited for itself forever.
_registry_lock = threading.RLock()
_pending = threading.local()
_thread = threading.local()


def _allocate_host_index() -> int:
    if _free_host_slots:
        return _free_host_slots.pop()
    _host_functions.append(None)
    _buffered_functions.append(None)
    return len(_host_functions) - 1


def register_host_function(fn: HostFunction) -> int:
    """Add ``fn`` to the registry and return the index compiled code calls it by."""
    with _registry_lock:
        index = _allocate_host_index()
        _host_functions[index] = fn
        lib.pyjitwasm_set_host_arity(index, -1, -1)
    return index


def register_buffered_host_function(fn: BufferedHostFunction, params: int,
                                    results: int) -> int:
    """Add a host function that exchanges values through the per-thread host buffer and
    return its index.

    The native side copies the ``params`` argument slots into this thread's buffer (slot
    ``i`` at byte ``HOST_BUFFER_HEADER + 16 * i``, the caller's vmctx as the u64 at 0),
    calls ``fn(buffer)`` and copies ``results`` slots back from the same place.  ``fn``
    must read every argument before it runs anything that may call wasm (a nested host
    call reuses the buffer) and write its results last.  The registry holds ``fn``
    weakly: the caller keeps it alive for as long as compiled code may call it.
    Raises ValueError when the slots do not fit (use :func:`register_host_function`)."""
    if not (0 <= params <= HOST_BUFFER_SLOTS and 0 <= results <= HOST_BUFFER_SLOTS):
        raise ValueError(f"{params} -> {results} slots do not fit the host buffer")
    ref = weakref.ref(fn)  # made before the lock: an allocation may start a collection
    with _registry_lock:
        index = _allocate_host_index()
        _buffered_functions[index] = ref
        if lib.pyjitwasm_set_host_arity(index, params, results) != 0:
            _buffered_functions[index] = None
            _free_host_slots.append(index)
            raise MemoryError("could not register a host function")
    return index


def unregister_host_function(index: int) -> None:
    """Free a registry slot (compiled code must no longer call it)."""
    with _registry_lock:
        lib.pyjitwasm_set_host_arity(index, -1, -1)
        _host_functions[index] = None
        _buffered_functions[index] = None
        _free_host_slots.append(index)


def thread_host_buffer() -> memoryview:
    """This thread's host buffer (made on the thread's first use)."""
    try:
        return _thread.host_buffer
    except AttributeError:
        address = lib.pyjitwasm_thread_host_buffer()
        view = memoryview(ffi.buffer(ffi.cast("char *", address),
                                     lib.pyjitwasm_host_buffer_size()))
        _thread.host_buffer = view
        return view


@ffi.def_extern(error=-2)
def pyjitwasm_py_host_call(vmctx: int, index: int, values: int) -> int:
    # Never let an exception escape: C decides to longjmp only after we have returned.
    try:
        fn = _host_functions[index]
        if fn is None:
            raise RuntimeError(f"host function {index} was unregistered")
        fn(vmctx, values)
        return 0
    except BaseException as exc:  # noqa: B036 - must carry KeyboardInterrupt too
        _pending.exception = exc
        return -1


@ffi.def_extern(error=-2)
def pyjitwasm_py_host_call_buffered(index: int) -> int:
    try:
        try:
            buffer = _thread.host_buffer
        except AttributeError:
            buffer = thread_host_buffer()
        ref = _buffered_functions[index]
        fn = None if ref is None else ref()
        if fn is None:
            raise RuntimeError(f"host function {index} is gone (unregistered or its store "
                               "was collected)")
        fn(buffer)
        return 0
    except BaseException as exc:  # noqa: B036 - must carry KeyboardInterrupt too
        _pending.exception = exc
        return -1


LibcallHandler = Callable[[int, int, int, int, int, int], int]
"""A libcall as the runtime implements it: ``fn(vmctx, a0, a1, a2, a3, a4) -> result``
(five u64 arguments, the unused ones 0; see ``libcall_address``)."""

_libcall_handlers: list[LibcallHandler | None] = []


def set_libcall_handler(which: int, fn: LibcallHandler) -> None:
    """Install the implementation of libcall number ``which`` (its index in
    ``pyjitwasm.translate.libcalls.LIBCALLS``)."""
    while len(_libcall_handlers) <= which:
        _libcall_handlers.append(None)
    _libcall_handlers[which] = fn


def libcall_address(which: int) -> int:
    """Address of the C entry point of libcall number ``which`` (0 if there is none)."""
    return lib.pyjitwasm_libcall_address(which)


def _libcall_failed(exc: BaseException) -> None:
    _pending.exception = exc
    lib.pyjitwasm_fail_libcall()


def _libcall_onerror(exc_type: Any, exc: BaseException | None, tb: Any) -> None:
    # cffi could not convert the result: fail the libcall instead of printing.
    _libcall_failed(exc if exc is not None else exc_type())


@ffi.def_extern(error=0, onerror=_libcall_onerror)
def pyjitwasm_py_libcall(which: int, vmctx: int, a0: int, a1: int, a2: int, a3: int,
                         a4: int) -> int:
    # Like host calls: never raise into C; C abandons the compiled frames afterwards.
    try:
        fn = _libcall_handlers[which]
        if fn is None:
            raise RuntimeError(f"libcall {which} has no implementation")
        return fn(vmctx, a0, a1, a2, a3, a4)
    except BaseException as exc:  # noqa: B036 - must carry KeyboardInterrupt too
        _libcall_failed(exc)
        return 0


LazyCompileHandler = Callable[[int, int, int, int], int]
"""Compiles a function on its first call: ``fn(first, second, defined_index, stack_room)
-> code address`` (see :func:`set_lazy_compile_handler`)."""

_lazy_compile_handler: list[LazyCompileHandler | None] = [None]


def set_lazy_compile_handler(fn: LazyCompileHandler) -> None:
    """Install what a lazy-compile stub calls: ``fn(first, second, k, room)`` must make
    defined function ``k`` of the callee's module callable and return its code address.
    ``first`` and ``second`` are the call's first two argument registers: the callee's
    vmctx is ``first``, or ``second`` when the function returns its results through a
    hidden pointer passed first.  ``room``: bytes of native stack left below the caller.
    An
    exception it raises abandons the compiled frames and reaches the Python caller of
    the wasm code unchanged, like a host function's."""
    _lazy_compile_handler[0] = fn


def lazy_stubs_supported() -> bool:
    """Whether this platform has lazy-compile stubs (x86-64 today)."""
    return bool(lib.pyjitwasm_lazy_supported())


def fill_lazy_stubs(slots: int, count: int) -> None:
    """Point the ``count`` code slots at ``slots`` at the lazy-compile stubs 0..count-1."""
    if lib.pyjitwasm_lazy_fill_slots(ffi.cast("uint64_t *", slots), count) != 0:
        raise MemoryError("could not make lazy-compile stubs")


def native_stack_room() -> int:
    """Bytes of native stack left below the caller on this thread (an estimate from the
    thread's stack bounds; very large before the thread first entered wasm)."""
    return int(lib.pyjitwasm_stack_room())


def is_lazy_stub(address: int) -> bool:
    """Whether ``address`` is a lazy-compile stub."""
    return bool(lib.pyjitwasm_is_lazy_stub(address))


def _lazy_onerror(exc_type: Any, exc: BaseException | None, tb: Any) -> None:
    _pending.exception = exc if exc is not None else exc_type()


@ffi.def_extern(error=0, onerror=_lazy_onerror)
def pyjitwasm_py_lazy_compile(first: int, second: int, index: int, room: int) -> int:
    # 0 means failure: C then abandons the compiled frames (we have returned by then).
    try:
        fn = _lazy_compile_handler[0]
        if fn is None:
            raise RuntimeError("no lazy-compile handler is installed")
        code = fn(first, second, index, room)
        if not code:
            raise RuntimeError(f"lazy compilation of function {index} produced no code")
        return code
    except BaseException as exc:  # noqa: B036 - must carry KeyboardInterrupt too
        _pending.exception = exc
        return 0


def last_trap_pcs() -> list[int]:
    """Program counters in compiled code recorded by this thread's last trap (or failed
    host call / libcall), innermost first; return addresses are already minus one."""
    count = lib.pyjitwasm_trap_frame_count()
    if count <= 0:
        return []
    buf = ffi.new("uintptr_t[]", count)
    n = lib.pyjitwasm_trap_frames(buf, count)
    return list(buf[0:n])


def invoke(shim: int, callee: int, vmctx: int, values: int) -> None:
    """Run ``callee`` through its signature's entry ``shim`` with the arguments in
    ``values`` (results are written back there).

    Raises :class:`Trap` if the code trapped, or re-raises the exception a host function
    raised (the same object)."""
    status = lib.pyjitwasm_invoke(shim, callee, vmctx, values)
    if status:
        raise_for_status(status)


def raise_for_status(status: int) -> None:
    """Raise what a non-zero :func:`lib.pyjitwasm_invoke` status stands for."""
    if status == STATUS_HOST_EXCEPTION:
        exc = getattr(_pending, "exception", None)
        _pending.exception = None
        if exc is None:
            raise RuntimeError("host function failed without an exception")
        raise exc
    if status - 1 == TrapCode.INTERRUPT and sigint_interrupted():
        raise KeyboardInterrupt
    raise Trap(TrapCode(status - 1))


def trap_symbol_address() -> int:
    """Address of ``pyjitwasm_trap`` (what compiled code links its trap calls to)."""
    return lib.pyjitwasm_trap_address()


def host_call_symbol_address() -> int:
    """Address of ``pyjitwasm_host_call``."""
    return lib.pyjitwasm_host_call_address()


def runtime_symbols() -> dict[str, int]:
    """The symbols compiled code imports from the native runtime, by name."""
    return {
        "pyjitwasm_trap": trap_symbol_address(),
        "pyjitwasm_host_call": host_call_symbol_address(),
        # Not an address: the offset of the thread's stack limit from the thread
        # pointer, which compiled prologues add to it (``jit/abi.stack_check_ir``).
        "pyjitwasm_stack_limit_tls": lib.pyjitwasm_stack_limit_tls_offset() & _M64,
    }


def register_code_range(start: int, end: int) -> None:
    """Tell the fault handler that [start, end) is compiled code."""
    if lib.pyjitwasm_register_code(start, end) != 0:
        raise MemoryError("could not register a code range")


def unregister_code_range(start: int, end: int) -> None:
    """Undo :func:`register_code_range` (before the code is freed)."""
    lib.pyjitwasm_unregister_code(start, end)


_LINK_IMAGE_TOO_LARGE = (1 << 64) - 1


def _symbol_array(symbols: Sequence[int]) -> Any:
    """``symbols`` as the C array of u64 the linker reads (NULL for none)."""
    return ffi.new("uint64_t[]", [address & _M64 for address in symbols]) \
        if symbols else ffi.NULL


def link_image(base: int, size: int, image: bytes | memoryview, records: bytes | memoryview,
               symbols: Sequence[int]) -> int:
    """``objload.ImageLinker`` in C (``link_image.c``): copy ``image`` to the ``size``
    writable bytes at ``base`` and apply its relocation records; 0, or the number of
    the first bad record (-1: an image larger than the mapping)."""
    count, extra = divmod(len(records), RELOCATION_RECORD.size)
    if extra:
        return -1
    addresses = _symbol_array(symbols)
    result = int(lib.pyjitwasm_link_image(
        base, size, ffi.from_buffer("uint8_t[]", image), len(image),
        ffi.from_buffer("uint8_t[]", records), count, addresses, len(symbols)))
    return -1 if result == _LINK_IMAGE_TOO_LARGE else result


def map_image(image: bytes | memoryview, code_size: int, total: int,
              records: bytes | memoryview, symbols: Sequence[int]) -> int:
    """``objload.ImageMapper`` in C (``link_image.c``'s ``pyjitwasm_map_image``): map,
    place and protect an image in one call; the mapping's address.  Raises
    ``UnsupportedObject`` for a bad record (``objload.link_refused``), ``MemoryError``
    when the mapping cannot be made, ``OSError`` when it cannot be protected (nothing
    is left mapped)."""
    count = len(records) // RELOCATION_RECORD.size
    addresses = _symbol_array(symbols)
    bad = ffi.new("size_t *")
    base = int(lib.pyjitwasm_map_image(
        code_size, total, ffi.from_buffer("uint8_t[]", image), len(image),
        ffi.from_buffer("uint8_t[]", records), count, addresses, len(symbols), bad))
    if base:
        return base
    if bad[0]:
        raise link_refused(-1 if bad[0] == _LINK_IMAGE_TOO_LARGE else int(bad[0]))
    error = ffi.errno
    if error == errno.ENOMEM:
        raise MemoryError(f"cannot map {total} bytes for compiled code")
    raise OSError(error, "mapping or protecting compiled code failed")


# Every image the JIT's own loader places is copied, relocated and protected here.
install_image_linker(link_image, map_image)


def register_heap_range(start: int, end: int) -> None:
    """Tell the fault handler that faults on [start, end) (a linear memory reservation
    including its guard pages) are out-of-bounds accesses."""
    if lib.pyjitwasm_register_heap(start, end) != 0:
        raise MemoryError("could not register a heap range")


def unregister_heap_range(start: int, end: int) -> None:
    """Undo :func:`register_heap_range` (before the reservation is unmapped)."""
    lib.pyjitwasm_unregister_heap(start, end)


def set_max_wasm_stack(nbytes: int) -> None:
    """The default stack budget, in bytes, shared by all nested wasm activations of a
    thread: used when the limits record of the vmctx entered first has none (a store's
    record holds its own, ``Config.max_wasm_stack``)."""
    lib.pyjitwasm_set_max_wasm_stack(nbytes)


def max_wasm_stack() -> int:
    """The current stack budget."""
    return lib.pyjitwasm_get_max_wasm_stack()


def install_sigint_handler() -> bool:
    """Let Ctrl-C stop compiled code: put the native SIGINT handler in front of Python's
    (see native.c).  Only from the main thread and only while Python's default handler
    (which raises KeyboardInterrupt) is in place: a program that installed its own
    handler keeps it untouched.  True if the native handler is in place afterwards."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False
    return lib.pyjitwasm_install_sigint_handler() >= 0


def prepare_thread() -> None:
    """Set this thread up for running compiled code (its signal stack, its stack's
    bounds) now instead of at its first call into wasm."""
    lib.pyjitwasm_prepare_thread()


def preload_library(path: str) -> bool:
    """Load the shared library at ``path`` and keep it loaded, without holding the GIL
    (a later ``ctypes.CDLL`` of it is then quick); whether it loaded."""
    return lib.pyjitwasm_preload_library(path.encode()) == 0


def os_error(what: str, errno: int) -> OSError:
    """The error of a failed system call ``what`` that set ``errno`` (``ffi.errno`` after
    a call through this helper, ``ctypes.get_errno()`` after a ctypes one)."""
    return OSError(errno, f"{what}: {os.strerror(errno)}")


def release_file_pages(path: str) -> int:
    """Drop the resident pages of this process's read-only, never-written mappings of the
    file at ``path`` (the canonical path, as /proc/self/maps shows it) from its page
    tables, without the GIL; the KiB dropped. The pages stay in the page cache and map
    again on their next use (native.c ``pyjitwasm_release_file_pages``)."""
    released = int(lib.pyjitwasm_release_file_pages(path.encode()))
    if released < 0:
        raise os_error("reading /proc/self/smaps", -released)
    return released


def sigint_interrupted() -> bool:
    """Whether this thread's last trap was a Ctrl-C (and forget it)."""
    return bool(lib.pyjitwasm_take_sigint())


def invoke_depth() -> int:
    """How many invokes are active on this thread (its host -> wasm nesting, all stores
    together)."""
    return lib.pyjitwasm_invoke_depth()


def thread_stack_limit() -> int:
    """This thread's native stack limit for wasm (0 before its first entry)."""
    return int(lib.pyjitwasm_thread_stack_limit())


if lib.pyjitwasm_install_signal_handlers() != 0:  # pragma: no cover
    raise OSError("could not install the SIGSEGV/SIGBUS handlers")


# Epoch poll pages (native.c, docs/jit-design.md §10) -----------------------------------


def poll_page_new(epoch_address: int, deadline_address: int) -> int:
    """A disarmed epoch poll page for the store whose deadline is the word at
    ``deadline_address``, in the engine whose epoch is the word at ``epoch_address``
    (both must stay valid until :func:`poll_page_free`)."""
    page = lib.pyjitwasm_poll_page_new(epoch_address, deadline_address)
    if not page:
        raise MemoryError("could not reserve an epoch poll page")
    return int(page)


def poll_page_sync(page: int) -> bool:
    """Arm the page (loads from it fault) if its store's deadline is reached, else
    disarm it, with the current epoch in its word 0; returns whether it is armed."""
    armed = lib.pyjitwasm_poll_page_sync(page)
    if armed < 0:
        raise OSError(f"could not change the protection of epoch poll page {page:#x}")
    return bool(armed)


def poll_page_disarm(page: int) -> None:
    """Make the page readable again (with the current epoch in its word 0)."""
    if lib.pyjitwasm_poll_page_disarm(page) != 0:
        raise OSError(f"could not change the protection of epoch poll page {page:#x}")


def poll_page_armed(page: int) -> bool:
    """Whether a load from the page faults now."""
    return bool(lib.pyjitwasm_poll_page_armed(page) == 1)


def poll_page_free(page: int) -> None:
    """Give the page back (disarmed) for another store."""
    lib.pyjitwasm_poll_page_free(page)


def poll_pages_publish(epoch_address: int) -> None:
    """The engine whose epoch is the word at ``epoch_address`` advanced it: copy it into
    its stores' poll pages, arming those whose deadline it reaches."""
    if lib.pyjitwasm_poll_pages_publish(epoch_address) != 0:
        raise OSError("could not change the protection of an epoch poll page")
