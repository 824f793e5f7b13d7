"""cffi builder for the native runtime helper (API mode, compiled at install time).

setup.py wires it with ``cffi_modules=["runtime/native/build_ffi.py:ffibuilder"]``. For a
build in place during development run ``python runtime/native/build_ffi.py``: it compiles
``_native.*.so`` next to this file (intermediate files go to a temporary directory).
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

CDEF = """
int pyjitwasm_invoke(uintptr_t shim, uintptr_t callee, uintptr_t vmctx, uintptr_t values);
void pyjitwasm_set_max_wasm_stack(size_t bytes);
size_t pyjitwasm_get_max_wasm_stack(void);
int pyjitwasm_invoke_depth(void);
intptr_t pyjitwasm_stack_limit_tls_offset(void);
uintptr_t pyjitwasm_thread_stack_limit(void);
int pyjitwasm_install_signal_handlers(void);
int pyjitwasm_install_sigint_handler(void);
int pyjitwasm_take_sigint(void);
void pyjitwasm_prepare_thread(void);
int pyjitwasm_preload_library(const char *path);
long pyjitwasm_release_file_pages(const char *path);
int pyjitwasm_register_code(uintptr_t start, uintptr_t end);
int pyjitwasm_unregister_code(uintptr_t start, uintptr_t end);
int pyjitwasm_register_heap(uintptr_t start, uintptr_t end);
int pyjitwasm_unregister_heap(uintptr_t start, uintptr_t end);
int pyjitwasm_is_code_address(uintptr_t addr);
uintptr_t pyjitwasm_trap_address(void);
uintptr_t pyjitwasm_host_call_address(void);
int pyjitwasm_trap_frames(uintptr_t *out, int max);
int pyjitwasm_trap_frame_count(void);
void pyjitwasm_clear_trap_frames(void);
uintptr_t pyjitwasm_libcall_address(uint32_t which);
uintptr_t pyjitwasm_thread_host_buffer(void);
size_t pyjitwasm_host_buffer_size(void);
int pyjitwasm_set_host_arity(uint32_t index, int params, int results);
void pyjitwasm_fail_libcall(void);
int pyjitwasm_lazy_supported(void);
uintptr_t pyjitwasm_lazy_stub(uint32_t index);
int pyjitwasm_lazy_fill_slots(uint64_t *slots, uint32_t count);
int pyjitwasm_is_lazy_stub(uintptr_t address);
uintptr_t pyjitwasm_stack_room(void);
uintptr_t pyjitwasm_poll_page_new(uintptr_t epoch, uintptr_t deadline);
int pyjitwasm_poll_page_sync(uintptr_t page);
int pyjitwasm_poll_page_disarm(uintptr_t page);
int pyjitwasm_poll_page_armed(uintptr_t page);
void pyjitwasm_poll_page_free(uintptr_t page);
int pyjitwasm_poll_pages_publish(uintptr_t epoch);
size_t pyjitwasm_link_image(uintptr_t base, size_t size, const uint8_t *image,
                            size_t image_size, const uint8_t *records, size_t count,
                            const uint64_t *symbols, size_t nsymbols);
uintptr_t pyjitwasm_map_image(size_t code_size, size_t total, const uint8_t *image,
                              size_t image_size, const uint8_t *records, size_t count,
                              const uint64_t *symbols, size_t nsymbols, size_t *bad);
uintptr_t pyjitwasm_vm_map(uintptr_t address, size_t size, int prot, int flags, int fd,
                           int64_t offset);
int pyjitwasm_vm_unmap(uintptr_t address, size_t size);
int pyjitwasm_vm_protect(uintptr_t address, size_t size, int prot);
int pyjitwasm_vm_advise(uintptr_t address, size_t size, int advice);
extern "Python" int pyjitwasm_py_host_call(uintptr_t vmctx, uint32_t index, uintptr_t values);
extern "Python" int pyjitwasm_py_host_call_buffered(uint32_t index);
extern "Python" int64_t pyjitwasm_py_libcall(uint32_t which, uintptr_t vmctx, uint64_t a0,
                                             uint64_t a1, uint64_t a2, uint64_t a3,
                                             uint64_t a4);
extern "Python" uintptr_t pyjitwasm_py_lazy_compile(uintptr_t first, uintptr_t second,
                                                    uint32_t index, uintptr_t room);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "pyjitwasm.runtime.native._native",
    # link_image.c: placing a linked image of compiled code (objload's link plans).
    (HERE / "native.c").read_text() + (HERE / "link_image.c").read_text(),
    extra_compile_args=["-O2", "-U_FORTIFY_SOURCE", "-fno-strict-aliasing",
                        "-fno-omit-frame-pointer"],
    libraries=["pthread", "dl"],
)


def build_in_place() -> pathlib.Path:
    """Compile the extension into this folder (development only) and return its path."""
    with tempfile.TemporaryDirectory(prefix="pyjitwasm-native-") as tmp:
        built = pathlib.Path(ffibuilder.compile(tmpdir=tmp, verbose=False))
        target = HERE / built.name
        install_built(built, target)
    return target


def install_built(built: pathlib.Path, target: pathlib.Path) -> None:
    """Put the extension ``built`` at ``target`` as a new file (written beside it, then
    renamed over it), as pip does: a process running the old one keeps its mapping of
    the old file.  Writing over the file itself changed the code under every process
    that had it loaded (a test run of the same checkout): a segfault in whichever of
    its threads ran native code next (``tests/runtime/test_race_lifetimes.py``)."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(built.read_bytes())
        os.chmod(temporary, 0o755)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


if __name__ == "__main__":
    print(build_in_place(), file=sys.stdout)
