"""Numbers of the wasi_snapshot_preview1 ABI: errno values, rights, flags, type codes and
the byte layouts of the structures the guest and host exchange."""

from __future__ import annotations

from enum import IntEnum

MODULE = "wasi_snapshot_preview1"
"""The import module name of WASI preview 1."""


class Errno(IntEnum):
    """wasi_snapshot_preview1 errno values (what every WASI function returns)."""

    SUCCESS = 0
    TOOBIG = 1  # E2BIG
    ACCES = 2
    ADDRINUSE = 3
    ADDRNOTAVAIL = 4
    AFNOSUPPORT = 5
    AGAIN = 6
    ALREADY = 7
    BADF = 8
    BADMSG = 9
    BUSY = 10
    CANCELED = 11
    CHILD = 12
    CONNABORTED = 13
    CONNREFUSED = 14
    CONNRESET = 15
    DEADLK = 16
    DESTADDRREQ = 17
    DOM = 18
    DQUOT = 19
    EXIST = 20
    FAULT = 21
    FBIG = 22
    HOSTUNREACH = 23
    IDRM = 24
    ILSEQ = 25
    INPROGRESS = 26
    INTR = 27
    INVAL = 28
    IO = 29
    ISCONN = 30
    ISDIR = 31
    LOOP = 32
    MFILE = 33
    MLINK = 34
    MSGSIZE = 35
    MULTIHOP = 36
    NAMETOOLONG = 37
    NETDOWN = 38
    NETRESET = 39
    NETUNREACH = 40
    NFILE = 41
    NOBUFS = 42
    NODEV = 43
    NOENT = 44
    NOEXEC = 45
    NOLCK = 46
    NOLINK = 47
    NOMEM = 48
    NOMSG = 49
    NOPROTOOPT = 50
    NOSPC = 51
    NOSYS = 52
    NOTCONN = 53
    NOTDIR = 54
    NOTEMPTY = 55
    NOTRECOVERABLE = 56
    NOTSOCK = 57
    NOTSUP = 58
    NOTTY = 59
    NXIO = 60
    OVERFLOW = 61
    OWNERDEAD = 62
    PERM = 63
    PIPE = 64
    PROTO = 65
    PROTONOSUPPORT = 66
    PROTOTYPE = 67
    RANGE = 68
    ROFS = 69
    SPIPE = 70
    SRCH = 71
    STALE = 72
    TIMEDOUT = 73
    TXTBSY = 74
    XDEV = 75
    NOTCAPABLE = 76


class Rights:
    """Capability bits of a file descriptor (``fs_rights_base``/``_inheriting``)."""

    FD_DATASYNC = 1 << 0
    FD_READ = 1 << 1
    FD_SEEK = 1 << 2
    FD_FDSTAT_SET_FLAGS = 1 << 3
    FD_SYNC = 1 << 4
    FD_TELL = 1 << 5
    FD_WRITE = 1 << 6
    FD_ADVISE = 1 << 7
    FD_ALLOCATE = 1 << 8
    PATH_CREATE_DIRECTORY = 1 << 9
    PATH_CREATE_FILE = 1 << 10
    PATH_LINK_SOURCE = 1 << 11
    PATH_LINK_TARGET = 1 << 12
    PATH_OPEN = 1 << 13
    FD_READDIR = 1 << 14
    PATH_READLINK = 1 << 15
    PATH_RENAME_SOURCE = 1 << 16
    PATH_RENAME_TARGET = 1 << 17
    PATH_FILESTAT_GET = 1 << 18
    PATH_FILESTAT_SET_SIZE = 1 << 19
    PATH_FILESTAT_SET_TIMES = 1 << 20
    FD_FILESTAT_GET = 1 << 21
    FD_FILESTAT_SET_SIZE = 1 << 22
    FD_FILESTAT_SET_TIMES = 1 << 23
    PATH_SYMLINK = 1 << 24
    PATH_REMOVE_DIRECTORY = 1 << 25
    PATH_UNLINK_FILE = 1 << 26
    POLL_FD_READWRITE = 1 << 27
    SOCK_SHUTDOWN = 1 << 28
    SOCK_ACCEPT = 1 << 29

    ALL = (1 << 30) - 1
    # What a regular file descriptor may ever hold.
    FILE = (
        FD_DATASYNC | FD_READ | FD_SEEK | FD_FDSTAT_SET_FLAGS | FD_SYNC | FD_TELL | FD_WRITE
        | FD_ADVISE | FD_ALLOCATE | FD_FILESTAT_GET | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES | POLL_FD_READWRITE
    )
    # What a directory descriptor may ever hold.
    DIRECTORY = (
        FD_FDSTAT_SET_FLAGS | FD_SYNC | FD_DATASYNC | PATH_CREATE_DIRECTORY | PATH_CREATE_FILE
        | PATH_LINK_SOURCE | PATH_LINK_TARGET | PATH_OPEN | FD_READDIR | PATH_READLINK
        | PATH_RENAME_SOURCE | PATH_RENAME_TARGET | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE | PATH_FILESTAT_SET_TIMES | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES | PATH_SYMLINK | PATH_REMOVE_DIRECTORY | PATH_UNLINK_FILE
    )
    # A stream (stdio, pipe, terminal): no seeking, so wasi-libc's isatty can tell.
    STREAM_READ = FD_READ | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE
    STREAM_WRITE = FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE
    # Rights that imply the host file must be opened for writing.
    WRITE_ACCESS = FD_WRITE | FD_DATASYNC | FD_ALLOCATE | FD_FILESTAT_SET_SIZE
    READ_ACCESS = FD_READ | FD_READDIR


class Filetype(IntEnum):
    UNKNOWN = 0
    BLOCK_DEVICE = 1
    CHARACTER_DEVICE = 2
    DIRECTORY = 3
    REGULAR_FILE = 4
    SOCKET_DGRAM = 5
    SOCKET_STREAM = 6
    SYMBOLIC_LINK = 7


class FdFlags:
    APPEND = 1 << 0
    DSYNC = 1 << 1
    NONBLOCK = 1 << 2
    RSYNC = 1 << 3
    SYNC = 1 << 4
    ALL = (1 << 5) - 1


class OFlags:
    CREAT = 1 << 0
    DIRECTORY = 1 << 1
    EXCL = 1 << 2
    TRUNC = 1 << 3
    ALL = (1 << 4) - 1


LOOKUP_SYMLINK_FOLLOW = 1


class FstFlags:
    ATIM = 1 << 0
    ATIM_NOW = 1 << 1
    MTIM = 1 << 2
    MTIM_NOW = 1 << 3


class Whence(IntEnum):
    SET = 0
    CUR = 1
    END = 2


class ClockId(IntEnum):
    REALTIME = 0
    MONOTONIC = 1
    PROCESS_CPUTIME_ID = 2
    THREAD_CPUTIME_ID = 3


class EventType(IntEnum):
    CLOCK = 0
    FD_READ = 1
    FD_WRITE = 2


SUBCLOCK_ABSTIME = 1
PREOPENTYPE_DIR = 0
ADVICE_MAX = 5  # advice values are NORMAL=0 .. NOREUSE=5

# Structure sizes (the field offsets are written out where each structure is encoded).
IOVEC_SIZE = 8  # {buf: u32, buf_len: u32}
FDSTAT_SIZE = 24  # filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16
FILESTAT_SIZE = 64  # dev, ino, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48, ctim @56
DIRENT_SIZE = 24  # d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20, then the name
PRESTAT_SIZE = 8  # tag u8 @0, pr_name_len u32 @4
SUBSCRIPTION_SIZE = 48  # userdata u64 @0, tag u8 @8, clock {id u32, timeout, precision, flags}
EVENT_SIZE = 32  # userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24
