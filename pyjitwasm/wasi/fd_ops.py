"""WASI functions on open descriptors (``fd_*``)."""

from __future__ import annotations

import os
import time

from pyjitwasm.wasi.constants import (
    ADVICE_MAX,
    PREOPENTYPE_DIR,
    Errno,
    FdFlags,
    Filetype,
    FstFlags,
    Rights,
)
from pyjitwasm.wasi.context import WasiContext
from pyjitwasm.wasi.descriptors import Descriptor, HostFile, filetype_of_mode
from pyjitwasm.wasi.errors import WasiErrno
from pyjitwasm.wasi.memory import GuestMemory
from pyjitwasm.wasi.registry import DIRENT, FDSTAT, FILESTAT, PRESTAT, wasi_function

_S64_LIMIT = 1 << 63


def filestat_bytes(st: os.stat_result | None, filetype: Filetype | None = None) -> bytes:
    """The 64-byte filestat of a host status (zeros but the type for a synthetic stream)."""
    if st is None:
        return FILESTAT.pack(0, 0, filetype or Filetype.UNKNOWN, 1, 0, 0, 0, 0)
    kind = filetype if filetype is not None else filetype_of_mode(st.st_mode)
    return FILESTAT.pack(
        st.st_dev & 0xFFFFFFFFFFFFFFFF, st.st_ino & 0xFFFFFFFFFFFFFFFF, kind, st.st_nlink,
        st.st_size, max(0, st.st_atime_ns), max(0, st.st_mtime_ns), max(0, st.st_ctime_ns),
    )


def new_times(atim: int, mtim: int, fst_flags: int,
              current: os.stat_result) -> tuple[int, int]:
    """The (atime, mtime) in ns that fst_flags ask for; EINVAL for contradictory flags."""
    if fst_flags & ~0xF:
        raise WasiErrno(Errno.INVAL)
    if (fst_flags & FstFlags.ATIM and fst_flags & FstFlags.ATIM_NOW) or (
        fst_flags & FstFlags.MTIM and fst_flags & FstFlags.MTIM_NOW
    ):
        raise WasiErrno(Errno.INVAL)
    now = time.time_ns()
    a, m = current.st_atime_ns, current.st_mtime_ns
    if fst_flags & FstFlags.ATIM:
        a = atim
    elif fst_flags & FstFlags.ATIM_NOW:
        a = now
    if fst_flags & FstFlags.MTIM:
        m = mtim
    elif fst_flags & FstFlags.MTIM_NOW:
        m = now
    return a, m


def _host_file(entry: Descriptor) -> HostFile:
    """The entry as a host file or directory; SPIPE for a stream (nothing to seek in)."""
    if not isinstance(entry, HostFile):
        raise WasiErrno(Errno.SPIPE)
    return entry


def _host_fd(entry: Descriptor) -> int:
    fd = _host_file(entry).host_fd
    if fd is None:
        raise WasiErrno(Errno.BADF)
    return fd


@wasi_function("iIIi")
def fd_advise(ctx: WasiContext, mem: GuestMemory, fd: int, offset: int, length: int,
              advice: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_ADVISE)
    if advice > ADVICE_MAX or offset >= _S64_LIMIT or length >= _S64_LIMIT:
        raise WasiErrno(Errno.INVAL)
    host_fd = _host_fd(entry)
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is not None:
        fadvise(host_fd, offset, length, advice)  # WASI's advice values equal POSIX's


@wasi_function("iII")
def fd_allocate(ctx: WasiContext, mem: GuestMemory, fd: int, offset: int, length: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_ALLOCATE)
    if offset + length >= _S64_LIMIT:
        raise WasiErrno(Errno.FBIG)
    host_fd = _host_fd(entry)
    if entry.is_directory:
        raise WasiErrno(Errno.BADF)
    # Only the size matters to the guest; reserving blocks is an optimisation the host
    # file system may not offer, so grow the file by truncation instead.
    if os.fstat(host_fd).st_size < offset + length:
        os.ftruncate(host_fd, offset + length)


@wasi_function("i")
def fd_close(ctx: WasiContext, mem: GuestMemory, fd: int) -> None:
    entry = ctx.get(fd)
    del ctx.fds[fd]
    entry.close()


@wasi_function("i")
def fd_datasync(ctx: WasiContext, mem: GuestMemory, fd: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_DATASYNC)
    getattr(os, "fdatasync", os.fsync)(_host_fd(entry))


@wasi_function("i")
def fd_sync(ctx: WasiContext, mem: GuestMemory, fd: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_SYNC)
    os.fsync(_host_fd(entry))


@wasi_function("ii")
def fd_fdstat_get(ctx: WasiContext, mem: GuestMemory, fd: int, ptr: int) -> None:
    entry = ctx.get(fd)
    mem.write(ptr, FDSTAT.pack(entry.filetype, entry.flags, entry.rights_base,
                               entry.rights_inheriting))


@wasi_function("ii")
def fd_fdstat_set_flags(ctx: WasiContext, mem: GuestMemory, fd: int, flags: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_FDSTAT_SET_FLAGS)
    if flags & ~FdFlags.ALL:
        raise WasiErrno(Errno.INVAL)
    sync_bits = FdFlags.DSYNC | FdFlags.RSYNC | FdFlags.SYNC
    if (flags ^ entry.flags) & sync_bits:
        raise WasiErrno(Errno.NOTSUP)  # the host cannot change these on an open file
    if isinstance(entry, HostFile) and entry.host_fd is not None:
        import fcntl

        current = fcntl.fcntl(entry.host_fd, fcntl.F_GETFL)
        wanted = current & ~(os.O_APPEND | os.O_NONBLOCK)
        if flags & FdFlags.APPEND:
            wanted |= os.O_APPEND
        if flags & FdFlags.NONBLOCK:
            wanted |= os.O_NONBLOCK
        fcntl.fcntl(entry.host_fd, fcntl.F_SETFL, wanted)
    entry.flags = flags


@wasi_function("iII")
def fd_fdstat_set_rights(ctx: WasiContext, mem: GuestMemory, fd: int, base: int,
                         inheriting: int) -> None:
    entry = ctx.get(fd)
    if base & ~entry.rights_base or inheriting & ~entry.rights_inheriting:
        raise WasiErrno(Errno.NOTCAPABLE)  # rights can only be dropped
    entry.rights_base = base
    entry.rights_inheriting = inheriting


@wasi_function("ii")
def fd_filestat_get(ctx: WasiContext, mem: GuestMemory, fd: int, ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_FILESTAT_GET)
    mem.check(ptr, FILESTAT.size)
    st = entry.fstat()
    kind = None if isinstance(entry, HostFile) else entry.filetype
    mem.write(ptr, filestat_bytes(st, kind))


@wasi_function("iI")
def fd_filestat_set_size(ctx: WasiContext, mem: GuestMemory, fd: int, size: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_FILESTAT_SET_SIZE)
    if size >= _S64_LIMIT:
        raise WasiErrno(Errno.FBIG)
    host_fd = _host_fd(entry)
    if entry.is_directory:
        raise WasiErrno(Errno.ISDIR)
    os.ftruncate(host_fd, size)


@wasi_function("iIIi")
def fd_filestat_set_times(ctx: WasiContext, mem: GuestMemory, fd: int, atim: int, mtim: int,
                          fst_flags: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_FILESTAT_SET_TIMES)
    host_fd = _host_fd(entry)
    os.utime(host_fd, ns=new_times(atim, mtim, fst_flags, os.fstat(host_fd)))


def _read_into(mem: GuestMemory, iovs: list[tuple[int, int]], data: bytes,
               nread_ptr: int) -> None:
    mem.scatter(iovs, data)
    mem.write_u32(nread_ptr, len(data))


@wasi_function("iiii")
def fd_read(ctx: WasiContext, mem: GuestMemory, fd: int, iovs_ptr: int, iovs_len: int,
            nread_ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_READ)
    iovs = mem.iovecs(iovs_ptr, iovs_len)
    mem.check(nread_ptr, 4)  # all checks before the read, so no input is lost to a fault
    data = entry.read(sum(length for _, length in iovs))
    _read_into(mem, iovs, data, nread_ptr)


def _positional_fd(entry: Descriptor, offset: int) -> int:
    """The host descriptor for pread/pwrite at ``offset``, after the checks they share."""
    host_fd = _host_fd(entry)
    if entry.is_directory:
        raise WasiErrno(Errno.ISDIR)
    if offset >= _S64_LIMIT:
        raise WasiErrno(Errno.INVAL)
    return host_fd


@wasi_function("iiiIi")
def fd_pread(ctx: WasiContext, mem: GuestMemory, fd: int, iovs_ptr: int, iovs_len: int,
             offset: int, nread_ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_READ | Rights.FD_SEEK)
    iovs = mem.iovecs(iovs_ptr, iovs_len)
    mem.check(nread_ptr, 4)
    host_fd = _positional_fd(entry, offset)
    total = min(sum(length for _, length in iovs), 16 << 20)
    _read_into(mem, iovs, os.pread(host_fd, total, offset), nread_ptr)


@wasi_function("iiii")
def fd_write(ctx: WasiContext, mem: GuestMemory, fd: int, iovs_ptr: int, iovs_len: int,
             nwritten_ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_WRITE)
    iovs = mem.iovecs(iovs_ptr, iovs_len)
    mem.check(nwritten_ptr, 4)
    data = mem.gather(iovs)
    written = entry.write(data) if data else 0
    mem.write_u32(nwritten_ptr, written)


@wasi_function("iiiIi")
def fd_pwrite(ctx: WasiContext, mem: GuestMemory, fd: int, iovs_ptr: int, iovs_len: int,
              offset: int, nwritten_ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_WRITE | Rights.FD_SEEK)
    iovs = mem.iovecs(iovs_ptr, iovs_len)
    mem.check(nwritten_ptr, 4)
    host_fd = _positional_fd(entry, offset)
    data = mem.gather(iovs)
    mem.write_u32(nwritten_ptr, os.pwrite(host_fd, data, offset) if data else 0)


@wasi_function("ii")
def fd_prestat_get(ctx: WasiContext, mem: GuestMemory, fd: int, ptr: int) -> None:
    entry = ctx.get(fd)
    if entry.preopen_name is None:
        raise WasiErrno(Errno.BADF)
    mem.write(ptr, PRESTAT.pack(PREOPENTYPE_DIR, len(entry.preopen_name.encode())))


@wasi_function("iii")
def fd_prestat_dir_name(ctx: WasiContext, mem: GuestMemory, fd: int, path: int,
                        path_len: int) -> None:
    entry = ctx.get(fd)
    if entry.preopen_name is None:
        raise WasiErrno(Errno.BADF)
    name = entry.preopen_name.encode()
    if path_len < len(name):
        raise WasiErrno(Errno.NAMETOOLONG)
    mem.write(path, name)


def _listing(entry: HostFile) -> list[tuple[str, int, Filetype]]:
    assert entry.host_fd is not None
    here = os.fstat(entry.host_fd)
    try:
        parent_ino = os.stat("..", dir_fd=entry.host_fd).st_ino
    except OSError:
        parent_ino = here.st_ino
    items = [(".", here.st_ino, Filetype.DIRECTORY), ("..", parent_ino, Filetype.DIRECTORY)]
    with os.scandir(entry.host_fd) as it:
        for item in it:
            try:
                if item.is_symlink():
                    kind = Filetype.SYMBOLIC_LINK
                elif item.is_dir(follow_symlinks=False):
                    kind = Filetype.DIRECTORY
                elif item.is_file(follow_symlinks=False):
                    kind = Filetype.REGULAR_FILE
                else:
                    kind = filetype_of_mode(item.stat(follow_symlinks=False).st_mode)
                items.append((item.name, item.inode(), kind))
            except OSError:
                continue  # removed while listing
    return items


@wasi_function("iiiIi")
def fd_readdir(ctx: WasiContext, mem: GuestMemory, fd: int, buf: int, buf_len: int,
               cookie: int, bufused_ptr: int) -> None:
    entry = ctx.get(fd)
    entry.require(Rights.FD_READDIR)
    if not isinstance(entry, HostFile) or not entry.is_directory:
        raise WasiErrno(Errno.NOTDIR)
    mem.check(buf, buf_len)
    mem.check(bufused_ptr, 4)
    if cookie == 0 or entry.dir_entries is None:
        entry.dir_entries = _listing(entry)
    out = bytearray()
    # A full buffer tells the guest there may be more: the last entry is cut at the end.
    for index in range(min(cookie, len(entry.dir_entries)), len(entry.dir_entries)):
        if len(out) >= buf_len:
            break
        name, ino, kind = entry.dir_entries[index]
        raw = os.fsencode(name)
        out += DIRENT.pack(index + 1, ino & 0xFFFFFFFFFFFFFFFF, len(raw), kind) + raw
    data = bytes(out[:buf_len])
    mem.write(buf, data)
    mem.write_u32(bufused_ptr, len(data))


@wasi_function("ii")
def fd_renumber(ctx: WasiContext, mem: GuestMemory, fd: int, to: int) -> None:
    entry = ctx.get(fd)
    target = ctx.get(to)
    if fd == to:
        return
    target.close()
    ctx.fds[to] = entry
    del ctx.fds[fd]


@wasi_function("iIii")
def fd_seek(ctx: WasiContext, mem: GuestMemory, fd: int, offset: int, whence: int,
            newoffset_ptr: int) -> None:
    entry = ctx.get(fd)
    if offset >= _S64_LIMIT:  # filedelta is signed
        offset -= 1 << 64
    host_fd = _host_fd(entry)  # SPIPE for a stream before any rights question
    entry.require(Rights.FD_TELL if offset == 0 and whence == 1 else Rights.FD_SEEK)
    if whence > 2:
        raise WasiErrno(Errno.INVAL)
    mem.check(newoffset_ptr, 8)
    mem.write_u64(newoffset_ptr, os.lseek(host_fd, offset, whence))  # WASI whence == POSIX


@wasi_function("ii")
def fd_tell(ctx: WasiContext, mem: GuestMemory, fd: int, offset_ptr: int) -> None:
    entry = ctx.get(fd)
    host_fd = _host_fd(entry)
    entry.require(Rights.FD_TELL)
    mem.check(offset_ptr, 8)
    mem.write_u64(offset_ptr, os.lseek(host_fd, 0, os.SEEK_CUR))
