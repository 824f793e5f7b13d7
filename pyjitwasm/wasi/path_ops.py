"""WASI functions on paths (``path_*``), all resolved inside the directory descriptor
they are relative to (see sandbox.py)."""

from __future__ import annotations

import os
import stat

from pyjitwasm.wasi.constants import LOOKUP_SYMLINK_FOLLOW, Errno, FdFlags, Filetype, OFlags, Rights
from pyjitwasm.wasi.context import WasiContext
from pyjitwasm.wasi.descriptors import HostFile, filetype_of_mode
from pyjitwasm.wasi.errors import WasiErrno
from pyjitwasm.wasi.fd_ops import filestat_bytes, new_times
from pyjitwasm.wasi.memory import GuestMemory
from pyjitwasm.wasi.registry import FILESTAT, wasi_function
from pyjitwasm.wasi.sandbox import ResolvedPath, resolve


def _resolve(ctx: WasiContext, mem: GuestMemory, fd: int, rights: int, path_ptr: int,
             path_len: int, follow: bool) -> ResolvedPath:
    directory = ctx.get_dir(fd)
    directory.require(rights)
    path = mem.read_string(path_ptr, path_len)
    assert directory.host_fd is not None
    return resolve(directory.host_fd, path, follow)


def _require_dir_if_slashed(target: ResolvedPath) -> None:
    if target.must_be_dir and not stat.S_ISDIR(target.lstat().st_mode):
        raise WasiErrno(Errno.NOTDIR)


@wasi_function("iii")
def path_create_directory(ctx: WasiContext, mem: GuestMemory, fd: int, path: int,
                          path_len: int) -> None:
    with _resolve(ctx, mem, fd, Rights.PATH_CREATE_DIRECTORY, path, path_len, False) as t:
        os.mkdir(t.name, 0o777, dir_fd=t.dir_fd)


@wasi_function("iiiii")
def path_filestat_get(ctx: WasiContext, mem: GuestMemory, fd: int, flags: int, path: int,
                      path_len: int, ptr: int) -> None:
    follow = bool(flags & LOOKUP_SYMLINK_FOLLOW)
    with _resolve(ctx, mem, fd, Rights.PATH_FILESTAT_GET, path, path_len, follow) as t:
        mem.check(ptr, FILESTAT.size)
        st = t.lstat()
        if t.must_be_dir and not stat.S_ISDIR(st.st_mode):
            raise WasiErrno(Errno.NOTDIR)
        mem.write(ptr, filestat_bytes(st))


@wasi_function("iiiiIIi")
def path_filestat_set_times(ctx: WasiContext, mem: GuestMemory, fd: int, flags: int, path: int,
                            path_len: int, atim: int, mtim: int, fst_flags: int) -> None:
    follow = bool(flags & LOOKUP_SYMLINK_FOLLOW)
    with _resolve(ctx, mem, fd, Rights.PATH_FILESTAT_SET_TIMES, path, path_len, follow) as t:
        _require_dir_if_slashed(t)
        times = new_times(atim, mtim, fst_flags, t.lstat())
        os.utime(t.name, ns=times, dir_fd=t.dir_fd, follow_symlinks=False)


@wasi_function("iiiiiii")
def path_link(ctx: WasiContext, mem: GuestMemory, old_fd: int, old_flags: int, old_path: int,
              old_len: int, new_fd: int, new_path: int, new_len: int) -> None:
    follow = bool(old_flags & LOOKUP_SYMLINK_FOLLOW)
    with _resolve(ctx, mem, old_fd, Rights.PATH_LINK_SOURCE, old_path, old_len, follow) as src:
        with _resolve(ctx, mem, new_fd, Rights.PATH_LINK_TARGET, new_path, new_len,
                      False) as dst:
            _require_dir_if_slashed(src)
            if dst.must_be_dir:
                raise WasiErrno(Errno.NOENT)
            os.link(src.name, dst.name, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd,
                    follow_symlinks=False)


def _open_flags(oflags: int, fdflags: int, rights: int) -> int:
    flags = os.O_NOFOLLOW | os.O_CLOEXEC  # the sandbox already followed what was asked
    if oflags & OFlags.CREAT:
        flags |= os.O_CREAT
    if oflags & OFlags.EXCL:
        flags |= os.O_EXCL
    if oflags & OFlags.TRUNC:
        flags |= os.O_TRUNC
    if oflags & OFlags.DIRECTORY:
        flags |= os.O_DIRECTORY | os.O_RDONLY
    else:
        write = rights & Rights.WRITE_ACCESS
        read = rights & Rights.READ_ACCESS or not write
        flags |= os.O_RDWR if (read and write) else os.O_WRONLY if write else os.O_RDONLY
    if fdflags & FdFlags.APPEND:
        flags |= os.O_APPEND
    if fdflags & FdFlags.NONBLOCK:
        flags |= os.O_NONBLOCK
    if fdflags & FdFlags.DSYNC:
        flags |= getattr(os, "O_DSYNC", os.O_SYNC)
    if fdflags & FdFlags.SYNC:
        flags |= os.O_SYNC
    if fdflags & FdFlags.RSYNC:
        flags |= getattr(os, "O_RSYNC", os.O_SYNC)
    return flags


@wasi_function("iiiiiIIii")
def path_open(ctx: WasiContext, mem: GuestMemory, fd: int, dirflags: int, path: int,
              path_len: int, oflags: int, rights_base: int, rights_inheriting: int,
              fdflags: int, fd_ptr: int) -> None:
    directory = ctx.get_dir(fd)
    needed = Rights.PATH_OPEN
    if oflags & OFlags.CREAT:
        needed |= Rights.PATH_CREATE_FILE
    if oflags & OFlags.TRUNC:
        needed |= Rights.PATH_FILESTAT_SET_SIZE
    if oflags & ~OFlags.ALL or fdflags & ~FdFlags.ALL:
        raise WasiErrno(Errno.INVAL)
    if oflags & OFlags.DIRECTORY and oflags & (OFlags.CREAT | OFlags.TRUNC):
        raise WasiErrno(Errno.INVAL)
    # A new descriptor gets at most what the directory lets its children inherit.
    base = rights_base & directory.rights_inheriting
    inheriting = rights_inheriting & directory.rights_inheriting
    mem.check(fd_ptr, 4)
    new_fd = ctx.allocate_fd()
    follow = bool(dirflags & LOOKUP_SYMLINK_FOLLOW)
    with _resolve(ctx, mem, fd, needed, path, path_len, follow) as t:
        flags = _open_flags(oflags, fdflags, base)
        if t.must_be_dir:
            flags |= os.O_DIRECTORY
        host_fd = os.open(t.name, flags, 0o666, dir_fd=t.dir_fd)
    try:
        kind = filetype_of_mode(os.fstat(host_fd).st_mode)
    except OSError:
        os.close(host_fd)
        raise
    base &= Rights.DIRECTORY if kind == Filetype.DIRECTORY else Rights.FILE
    ctx.fds[new_fd] = HostFile(host_fd, kind, base, inheriting, fdflags)
    mem.write_u32(fd_ptr, new_fd)


@wasi_function("iiiiii")
def path_readlink(ctx: WasiContext, mem: GuestMemory, fd: int, path: int, path_len: int,
                  buf: int, buf_len: int, bufused_ptr: int) -> None:
    with _resolve(ctx, mem, fd, Rights.PATH_READLINK, path, path_len, False) as t:
        mem.check(buf, buf_len)
        mem.check(bufused_ptr, 4)
        target = os.fsencode(os.readlink(t.name, dir_fd=t.dir_fd))
    data = target[:buf_len]  # truncated like POSIX readlink
    mem.write(buf, data)
    mem.write_u32(bufused_ptr, len(data))


@wasi_function("iii")
def path_remove_directory(ctx: WasiContext, mem: GuestMemory, fd: int, path: int,
                          path_len: int) -> None:
    with _resolve(ctx, mem, fd, Rights.PATH_REMOVE_DIRECTORY, path, path_len, False) as t:
        if t.name == ".":
            raise WasiErrno(Errno.INVAL)
        os.rmdir(t.name, dir_fd=t.dir_fd)


@wasi_function("iiiiii")
def path_rename(ctx: WasiContext, mem: GuestMemory, fd: int, old_path: int, old_len: int,
                new_fd: int, new_path: int, new_len: int) -> None:
    with _resolve(ctx, mem, fd, Rights.PATH_RENAME_SOURCE, old_path, old_len, False) as src:
        with _resolve(ctx, mem, new_fd, Rights.PATH_RENAME_TARGET, new_path, new_len,
                      False) as dst:
            if "." in (src.name, dst.name):
                raise WasiErrno(Errno.BUSY)
            _require_dir_if_slashed(src)
            if dst.must_be_dir and not stat.S_ISDIR(src.lstat().st_mode):
                raise WasiErrno(Errno.NOTDIR)
            os.rename(src.name, dst.name, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd)


@wasi_function("iiiii")
def path_symlink(ctx: WasiContext, mem: GuestMemory, old_path: int, old_len: int, fd: int,
                 new_path: int, new_len: int) -> None:
    target = mem.read_string(old_path, old_len)
    if "\0" in target:
        raise WasiErrno(Errno.INVAL)
    if target.startswith("/"):
        raise WasiErrno(Errno.NOTCAPABLE)  # could only ever point outside the sandbox
    with _resolve(ctx, mem, fd, Rights.PATH_SYMLINK, new_path, new_len, False) as t:
        if t.must_be_dir:
            raise WasiErrno(Errno.NOENT)
        os.symlink(target, t.name, dir_fd=t.dir_fd)


@wasi_function("iii")
def path_unlink_file(ctx: WasiContext, mem: GuestMemory, fd: int, path: int,
                     path_len: int) -> None:
    with _resolve(ctx, mem, fd, Rights.PATH_UNLINK_FILE, path, path_len, False) as t:
        st = t.lstat()
        if stat.S_ISDIR(st.st_mode):
            raise WasiErrno(Errno.ISDIR)
        if t.must_be_dir:
            raise WasiErrno(Errno.NOTDIR)
        os.unlink(t.name, dir_fd=t.dir_fd)
