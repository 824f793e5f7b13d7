"""Bounds-checked access to the calling instance's linear memory.

Every pointer and length a guest passes is checked here before use: an access outside
memory raises ``WasiErrno(FAULT)``, which the function returns as its errno, so a bad
pointer never becomes a Python exception or a partial write of host state.
"""

from __future__ import annotations

import struct

from pyjitwasm.externs import Caller, Memory
from pyjitwasm.wasi.constants import IOVEC_SIZE, Errno
from pyjitwasm.wasi.errors import WasiErrno
from pyjitwasm.wasm.errors import WasmError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_IOVEC = struct.Struct("<II")


class MissingMemoryError(WasmError):
    """A WASI function was called by a module that exports no memory named ``memory``."""


class GuestMemory:
    """The exported ``memory`` of the instance calling a WASI function."""

    __slots__ = ("_caller", "_mem")

    def __init__(self, caller: Caller) -> None:
        self._caller = caller
        self._mem: Memory | None = None

    @property
    def _memory(self) -> Memory:
        # Looked up on first use, so functions that touch no memory work without one.
        if self._mem is None:
            memory = self._caller.get("memory")
            if not isinstance(memory, Memory):
                raise MissingMemoryError(
                    "WASI functions need the calling module to export its memory as \"memory\""
                )
            self._mem = memory
        return self._mem

    @property
    def size(self) -> int:
        return self._memory.data_len(self._caller)

    def check(self, ptr: int, length: int) -> None:
        """Raise WasiErrno(FAULT) unless ``[ptr, ptr + length)`` lies inside memory."""
        if ptr < 0 or length < 0 or ptr + length > self._memory.data_len(self._caller):
            raise WasiErrno(Errno.FAULT)

    def read(self, ptr: int, length: int) -> bytes:
        self.check(ptr, length)
        return bytes(self._memory.read(self._caller, ptr, ptr + length))

    def write(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        self.check(ptr, len(data))
        self._memory.write(self._caller, data, ptr)

    def read_u32(self, ptr: int) -> int:
        return int(_U32.unpack(self.read(ptr, 4))[0])

    def read_u64(self, ptr: int) -> int:
        return int(_U64.unpack(self.read(ptr, 8))[0])

    def write_u16(self, ptr: int, value: int) -> None:
        self.write(ptr, _U16.pack(value))

    def write_u32(self, ptr: int, value: int) -> None:
        self.write(ptr, _U32.pack(value & 0xFFFFFFFF))

    def write_u64(self, ptr: int, value: int) -> None:
        self.write(ptr, _U64.pack(value & 0xFFFFFFFFFFFFFFFF))

    def read_string(self, ptr: int, length: int) -> str:
        """A UTF-8 string argument (a path): EILSEQ if it is not valid UTF-8."""
        raw = self.read(ptr, length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasiErrno(Errno.ILSEQ) from None

    def iovecs(self, ptr: int, count: int) -> list[tuple[int, int]]:
        """The ``(buf, len)`` pairs of an iovec array, each buffer checked to be in bounds."""
        table = self.read(ptr, count * IOVEC_SIZE)
        result = []
        for buf, length in _IOVEC.iter_unpack(table):
            self.check(buf, length)
            result.append((buf, length))
        return result

    def gather(self, iovs: list[tuple[int, int]]) -> bytes:
        """The bytes the iovecs point at, concatenated (for writes)."""
        return b"".join(self.read(buf, length) for buf, length in iovs)

    def scatter(self, iovs: list[tuple[int, int]], data: bytes) -> None:
        """Spread ``data`` over the iovecs in order (for reads); they were checked already."""
        pos = 0
        for buf, length in iovs:
            if pos >= len(data):
                break
            chunk = data[pos : pos + length]
            self.write(buf, chunk)
            pos += len(chunk)
