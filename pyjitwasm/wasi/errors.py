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
        super().__init__(f"Exited with i32 exit status {code}")


class WasiErrno(Exception):  # noqa: N818 - it carries an errno, it is not an error type
    """Internal: a WASI function failed with ``errno``; the dispatcher returns it."""

    def __init__(self, errno: Errno) -> None:
        self.errno = errno
        super().__init__(errno.name)


# Host errno -> WASI errno, in WASI's order (the first WASI code wins for a host number
# that two names share). NOTCAPABLE has no host twin.
_HOST_ERRNOS: tuple[tuple[int, Errno], ...] = (
    (host_errno.E2BIG, Errno.TOOBIG),
    (host_errno.EACCES, Errno.ACCES),
    (host_errno.EADDRINUSE, Errno.ADDRINUSE),
    (host_errno.EADDRNOTAVAIL, Errno.ADDRNOTAVAIL),
    (host_errno.EAFNOSUPPORT, Errno.AFNOSUPPORT),
    (host_errno.EAGAIN, Errno.AGAIN),
    (host_errno.EALREADY, Errno.ALREADY),
    (host_errno.EBADF, Errno.BADF),
    (host_errno.EBADMSG, Errno.BADMSG),
    (host_errno.EBUSY, Errno.BUSY),
    (host_errno.ECANCELED, Errno.CANCELED),
    (host_errno.ECHILD, Errno.CHILD),
    (host_errno.ECONNABORTED, Errno.CONNABORTED),
    (host_errno.ECONNREFUSED, Errno.CONNREFUSED),
    (host_errno.ECONNRESET, Errno.CONNRESET),
    (host_errno.EDEADLK, Errno.DEADLK),
    (host_errno.EDESTADDRREQ, Errno.DESTADDRREQ),
    (host_errno.EDOM, Errno.DOM),
    (host_errno.EDQUOT, Errno.DQUOT),
    (host_errno.EEXIST, Errno.EXIST),
    (host_errno.EFAULT, Errno.FAULT),
    (host_errno.EFBIG, Errno.FBIG),
    (host_errno.EHOSTUNREACH, Errno.HOSTUNREACH),
    (host_errno.EIDRM, Errno.IDRM),
    (host_errno.EILSEQ, Errno.ILSEQ),
    (host_errno.EINPROGRESS, Errno.INPROGRESS),
    (host_errno.EINTR, Errno.INTR),
    (host_errno.EINVAL, Errno.INVAL),
    (host_errno.EIO, Errno.IO),
    (host_errno.EISCONN, Errno.ISCONN),
    (host_errno.EISDIR, Errno.ISDIR),
    (host_errno.ELOOP, Errno.LOOP),
    (host_errno.EMFILE, Errno.MFILE),
    (host_errno.EMLINK, Errno.MLINK),
    (host_errno.EMSGSIZE, Errno.MSGSIZE),
    (host_errno.EMULTIHOP, Errno.MULTIHOP),
    (host_errno.ENAMETOOLONG, Errno.NAMETOOLONG),
    (host_errno.ENETDOWN, Errno.NETDOWN),
    (host_errno.ENETRESET, Errno.NETRESET),
    (host_errno.ENETUNREACH, Errno.NETUNREACH),
    (host_errno.ENFILE, Errno.NFILE),
    (host_errno.ENOBUFS, Errno.NOBUFS),
    (host_errno.ENODEV, Errno.NODEV),
    (host_errno.ENOENT, Errno.NOENT),
    (host_errno.ENOEXEC, Errno.NOEXEC),
    (host_errno.ENOLCK, Errno.NOLCK),
    (host_errno.ENOLINK, Errno.NOLINK),
    (host_errno.ENOMEM, Errno.NOMEM),
    (host_errno.ENOMSG, Errno.NOMSG),
    (host_errno.ENOPROTOOPT, Errno.NOPROTOOPT),
    (host_errno.ENOSPC, Errno.NOSPC),
    (host_errno.ENOSYS, Errno.NOSYS),
    (host_errno.ENOTCONN, Errno.NOTCONN),
    (host_errno.ENOTDIR, Errno.NOTDIR),
    (host_errno.ENOTEMPTY, Errno.NOTEMPTY),
    (host_errno.ENOTRECOVERABLE, Errno.NOTRECOVERABLE),
    (host_errno.ENOTSOCK, Errno.NOTSOCK),
    (host_errno.ENOTSUP, Errno.NOTSUP),
    (host_errno.ENOTTY, Errno.NOTTY),
    (host_errno.ENXIO, Errno.NXIO),
    (host_errno.EOVERFLOW, Errno.OVERFLOW),
    (host_errno.EOWNERDEAD, Errno.OWNERDEAD),
    (host_errno.EPERM, Errno.PERM),
    (host_errno.EPIPE, Errno.PIPE),
    (host_errno.EPROTO, Errno.PROTO),
    (host_errno.EPROTONOSUPPORT, Errno.PROTONOSUPPORT),
    (host_errno.EPROTOTYPE, Errno.PROTOTYPE),
    (host_errno.ERANGE, Errno.RANGE),
    (host_errno.EROFS, Errno.ROFS),
    (host_errno.ESPIPE, Errno.SPIPE),
    (host_errno.ESRCH, Errno.SRCH),
    (host_errno.ESTALE, Errno.STALE),
    (host_errno.ETIMEDOUT, Errno.TIMEDOUT),
    (host_errno.ETXTBSY, Errno.TXTBSY),
    (host_errno.EXDEV, Errno.XDEV),
    # Host aliases of the codes above (the same number on Linux).
    (host_errno.EWOULDBLOCK, Errno.AGAIN),
    (host_errno.EOPNOTSUPP, Errno.NOTSUP),
)


def _build_host_map() -> dict[int, Errno]:
    table: dict[int, Errno] = {}
    for code, wasi in _HOST_ERRNOS:
        table.setdefault(code, wasi)
    return table


_HOST_TO_WASI = _build_host_map()


def errno_of_oserror(exc: OSError) -> Errno:
    """The WASI errno for a host OSError (EIO when the host's code has no WASI twin)."""
    if exc.errno is None:
        return Errno.IO
    return _HOST_TO_WASI.get(exc.errno, Errno.IO)
