"""Exceptions of the WASI layer and the mapping from host OS errors to WASI errno."""

from __future__ import annotations

import errno as host_errno

from pyjitwasm.wasi.constants import Errno
from pyjitwasm.wasm.errors import WasmError


class ExitTrap(WasmError):  # noqa: N818 - the name wasmtime-py uses
    """Raised out of a wasm call when the guest calls ``proc_exit(code)``.

    It is not a ``Trap``: exiting is a normal way for a WASI command to finish, and the
    host (``pyjitwasm run``) turns it into the process's exit status.
    """

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exited with i32 exit status {code}")


class WasiErrno(Exception):  # noqa: N818 - it carries an errno, it is not an error type
    """Internal: a WASI function failed with ``errno``; the dispatcher returns it."""

    def __init__(self, errno: Errno) -> None:
        self.errno = errno
        super().__init__(errno.name)


def _build_host_map() -> dict[int, Errno]:
    table: dict[int, Errno] = {}
    for wasi in Errno:
        if wasi in (Errno.SUCCESS, Errno.NOTCAPABLE):
            continue
        name = "E2BIG" if wasi is Errno.TOOBIG else "E" + wasi.name
        code = getattr(host_errno, name, None)
        if code is not None:
            table.setdefault(code, wasi)
    for alias, wasi in (("EWOULDBLOCK", Errno.AGAIN), ("EOPNOTSUPP", Errno.NOTSUP)):
        code = getattr(host_errno, alias, None)
        if code is not None:
            table.setdefault(code, wasi)
    return table


_HOST_TO_WASI = _build_host_map()


def errno_of_oserror(exc: OSError) -> Errno:
    """The WASI errno for a host OSError (EIO when the host's code has no WASI twin)."""
    if exc.errno is None:
        return Errno.IO
    return _HOST_TO_WASI.get(exc.errno, Errno.IO)
