"""The per-store WASI state: arguments, environment and the descriptor table."""

from __future__ import annotations

import os
import time
import weakref
from typing import Any

from pyjitwasm.store import Store, store_of
from pyjitwasm.wasi.config import WasiConfig
from pyjitwasm.wasi.constants import Errno, Filetype
from pyjitwasm.wasi.descriptors import (
    CustomStream,
    Descriptor,
    FileStream,
    HostFile,
    InheritedStream,
    NullStream,
)
from pyjitwasm.wasi.errors import WasiErrno
from pyjitwasm.wasm.errors import WasmError

# A guest may hold at most this many descriptors (host descriptors are a shared resource).
MAX_DESCRIPTORS = 1024
_PREOPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class WasiContext:
    """What one store's WASI functions operate on, built from a WasiConfig."""

    def __init__(self, config: WasiConfig) -> None:
        self.args = [a.encode("utf-8") for a in config.argv]
        self.env = [f"{k}={v}".encode() for k, v in config.env]
        self.fds: dict[int, Descriptor] = {}
        self.start_ns = time.monotonic_ns()
        try:
            for index in range(3):
                self.fds[index] = _open_stream(config, index)
            for preopen in config.preopens:
                host_fd = os.open(preopen.host_path, _PREOPEN_FLAGS)
                fd = self.allocate_fd()
                dir_rights = preopen.dir_perms.rights
                self.fds[fd] = HostFile(host_fd, Filetype.DIRECTORY, dir_rights,
                                        dir_rights | preopen.file_perms.rights,
                                        preopen_name=preopen.guest_path)
        except BaseException:
            self.close()
            raise

    def get(self, fd: int) -> Descriptor:
        """The descriptor ``fd``; BADF when it is not open."""
        entry = self.fds.get(fd)
        if entry is None:
            raise WasiErrno(Errno.BADF)
        return entry

    def get_dir(self, fd: int) -> HostFile:
        """The directory descriptor ``fd`` (for path operations); NOTDIR if it is not one."""
        entry = self.get(fd)
        if not isinstance(entry, HostFile) or not entry.is_directory:
            raise WasiErrno(Errno.NOTDIR)
        return entry

    def allocate_fd(self) -> int:
        """The lowest free descriptor number (as POSIX does)."""
        for fd in range(MAX_DESCRIPTORS):
            if fd not in self.fds:
                return fd
        raise WasiErrno(Errno.MFILE)

    def close(self) -> None:
        """Close every host resource the guest still holds."""
        for entry in self.fds.values():
            try:
                entry.close()
            except OSError:
                pass
        self.fds.clear()


def _open_stream(config: WasiConfig, index: int) -> Descriptor:
    setting, is_path = config.stream(index)
    if setting is None:
        return NullStream(index)
    if callable(setting):
        return CustomStream(index, setting)
    if not is_path:
        return InheritedStream(index)
    file = open(setting, "rb" if index == 0 else "wb", buffering=0)  # noqa: SIM115
    return FileStream(index, file)


_contexts: weakref.WeakKeyDictionary[Store, WasiContext] = weakref.WeakKeyDictionary()


def set_wasi(store: Any, config: WasiConfig) -> None:
    """Give ``store`` a WASI environment built from ``config`` (``Store.set_wasi``).

    Host files and directories are opened now (OSError if one cannot be); they are
    closed when the store is collected or set_wasi is called again.
    """
    if not isinstance(config, WasiConfig):
        raise TypeError("expected a WasiConfig")
    store = store_of(store)
    context = WasiContext(config)
    old = _contexts.get(store)
    if old is not None:
        old.close()
    _contexts[store] = context
    weakref.finalize(store, context.close)


def wasi_context(store: Any) -> WasiContext:
    """The WASI state of ``store`` (or a Caller's store); WasmError if set_wasi was not
    called."""
    context = _contexts.get(store_of(store))
    if context is None:
        raise WasmError("this store has no WASI configuration: call store.set_wasi(config)")
    return context
