"""The guest's open file descriptors: host files and directories, and stdio streams."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from pyjitwasm.wasi.constants import Errno, Filetype, Rights
from pyjitwasm.wasi.errors import WasiErrno

# The most bytes one read asks the host for, so a huge guest buffer cannot make the host
# allocate gigabytes at once (reads may be short; callers loop).
MAX_READ_CHUNK = 16 << 20


def filetype_of_mode(mode: int) -> Filetype:
    """The WASI file type of a host ``st_mode``."""
    if stat.S_ISREG(mode):
        return Filetype.REGULAR_FILE
    if stat.S_ISDIR(mode):
        return Filetype.DIRECTORY
    if stat.S_ISLNK(mode):
        return Filetype.SYMBOLIC_LINK
    if stat.S_ISCHR(mode):
        return Filetype.CHARACTER_DEVICE
    if stat.S_ISBLK(mode):
        return Filetype.BLOCK_DEVICE
    if stat.S_ISSOCK(mode):
        return Filetype.SOCKET_STREAM
    return Filetype.UNKNOWN


class Descriptor:
    """One entry of the guest's descriptor table.

    ``rights_base`` limits what the descriptor itself may do, ``rights_inheriting`` what
    descriptors opened through it may get; ``flags`` are its WASI fdflags.
    """

    filetype: Filetype
    host_fd: int | None = None
    preopen_name: str | None = None

    def __init__(self, filetype: Filetype, rights_base: int, rights_inheriting: int,
                 flags: int = 0) -> None:
        self.filetype = filetype
        self.rights_base = rights_base
        self.rights_inheriting = rights_inheriting
        self.flags = flags

    def require(self, rights: int) -> None:
        """Raise NOTCAPABLE unless the descriptor holds all of ``rights``."""
        if self.rights_base & rights != rights:
            raise WasiErrno(Errno.NOTCAPABLE)

    @property
    def is_directory(self) -> bool:
        return self.filetype == Filetype.DIRECTORY

    def read(self, size: int) -> bytes:
        raise WasiErrno(Errno.BADF)

    def write(self, data: bytes) -> int:
        raise WasiErrno(Errno.BADF)

    def fstat(self) -> os.stat_result | None:
        """Host status of the underlying object, or None for a synthetic stream."""
        return None

    def close(self) -> None:
        """Release host resources (idempotent)."""


class HostFile(Descriptor):
    """A file or directory opened on the host (``host_fd``), owned by this entry."""

    def __init__(self, host_fd: int, filetype: Filetype, rights_base: int,
                 rights_inheriting: int, flags: int = 0, preopen_name: str | None = None) -> None:
        super().__init__(filetype, rights_base, rights_inheriting, flags)
        self.host_fd = host_fd
        self.preopen_name = preopen_name
        # Directory listing cached for fd_readdir cookies: rebuilt when read from cookie 0.
        self.dir_entries: list[tuple[str, int, Filetype]] | None = None

    def _fd(self) -> int:
        if self.host_fd is None:
            raise WasiErrno(Errno.BADF)
        return self.host_fd

    def read(self, size: int) -> bytes:
        if self.is_directory:
            raise WasiErrno(Errno.ISDIR)
        return os.read(self._fd(), min(size, MAX_READ_CHUNK))

    def write(self, data: bytes) -> int:
        if self.is_directory:
            raise WasiErrno(Errno.ISDIR)
        return os.write(self._fd(), data)

    def fstat(self) -> os.stat_result:
        return os.fstat(self._fd())

    def close(self) -> None:
        if self.host_fd is not None:
            fd, self.host_fd = self.host_fd, None
            os.close(fd)


def _stream_filetype(fileno: int | None) -> Filetype:
    # wasi-libc's isatty() asks for a character device without seek/tell rights.
    if fileno is not None:
        try:
            if os.isatty(fileno):
                return Filetype.CHARACTER_DEVICE
        except OSError:
            pass
    return Filetype.UNKNOWN


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


class InheritedStream(Descriptor):
    """The host process's stdin, stdout or stderr, looked up in ``sys`` at each use so
    that redirections of ``sys.stdout`` (tests, embedding) are honoured."""

    def __init__(self, index: int) -> None:
        self.index = index
        rights = Rights.STREAM_READ if index == 0 else Rights.STREAM_WRITE
        super().__init__(_stream_filetype(_fileno(self._stream())), rights, 0)

    def _stream(self) -> Any:
        return (sys.stdin, sys.stdout, sys.stderr)[self.index]

    def read(self, size: int) -> bytes:
        stream = self._stream()
        if stream is None:
            return b""
        binary = getattr(stream, "buffer", None)
        size = min(size, MAX_READ_CHUNK)
        if binary is not None:
            read1 = getattr(binary, "read1", None)
            data = read1(size) if read1 is not None else binary.read(size)
        else:
            data = stream.read(size)
        if isinstance(data, str):
            data = data.encode("utf-8")
        return bytes(data or b"")

    def write(self, data: bytes) -> int:
        stream = self._stream()
        if stream is None:
            return len(data)
        binary = getattr(stream, "buffer", None)
        if binary is not None:
            stream.flush()  # keep order with text the host printed through the wrapper
            binary.write(data)
            binary.flush()
        else:
            stream.write(data.decode("utf-8", errors="replace"))
            stream.flush()
        return len(data)

    def fstat(self) -> os.stat_result | None:
        fileno = _fileno(self._stream())
        return None if fileno is None else os.fstat(fileno)


class FileStream(Descriptor):
    """stdin/stdout/stderr connected to a host file the configuration named."""

    def __init__(self, index: int, file: BinaryIO) -> None:
        self.file = file
        rights = Rights.STREAM_READ if index == 0 else Rights.STREAM_WRITE
        super().__init__(Filetype.UNKNOWN, rights, 0)

    def read(self, size: int) -> bytes:
        return self.file.read(min(size, MAX_READ_CHUNK))

    def write(self, data: bytes) -> int:
        written = self.file.write(data)
        self.file.flush()
        return len(data) if written is None else written

    def fstat(self) -> os.stat_result:
        return os.fstat(self.file.fileno())

    def close(self) -> None:
        self.file.close()


class CustomStream(Descriptor):
    """stdout/stderr handed to a host callable (``WasiConfig.stdout_custom``): it gets
    each write's bytes and returns how many it took (None: all of them). An exception
    in it fails the write with EIO."""

    def __init__(self, index: int, callback: Callable[[bytes], int | None]) -> None:
        self.callback = callback
        super().__init__(Filetype.UNKNOWN, Rights.STREAM_WRITE, 0)

    def write(self, data: bytes) -> int:
        try:
            taken = self.callback(data)
        except Exception:
            raise WasiErrno(Errno.IO) from None
        if taken is None:
            return len(data)
        if isinstance(taken, bool) or not isinstance(taken, int) or not 0 <= taken <= len(data):
            raise WasiErrno(Errno.IO)
        return taken


class NullStream(Descriptor):
    """A stream that is not connected: reads see end of file, writes are discarded."""

    def __init__(self, index: int) -> None:
        rights = Rights.STREAM_READ if index == 0 else Rights.STREAM_WRITE
        super().__init__(Filetype.UNKNOWN, rights, 0)

    def read(self, size: int) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        return len(data)
