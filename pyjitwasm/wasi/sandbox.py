"""Path resolution confined to a directory descriptor.

A guest path is resolved one component at a time from the directory it is relative to,
holding an open host descriptor for each directory walked through and opening every
directory with ``O_NOFOLLOW``. Symbolic links are read and expanded here rather than by
the host kernel, so the walk can refuse anything that leaves the starting directory:
absolute paths, a ``..`` above the start, and symlinks whose target is absolute or climbs
out. The caller gets the directory that holds the final component plus its name, and
must pass host calls ``dir_fd=`` and no-follow flags so the kernel never walks further.
"""

from __future__ import annotations

import os
import stat
from collections import deque

from pyjitwasm.wasi.constants import Errno
from pyjitwasm.wasi.errors import WasiErrno

MAX_SYMLINK_EXPANSIONS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ResolvedPath:
    """The directory holding a path's final component (``dir_fd``) and that component's
    name (``"."`` when the path names the directory itself). ``must_be_dir`` is set when
    the path ended in a slash. Use as a context manager: it closes what it opened."""

    __slots__ = ("dir_fd", "name", "must_be_dir", "_owned")

    def __init__(self, dir_fd: int, name: str, must_be_dir: bool, owned: bool) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.must_be_dir = must_be_dir
        self._owned = owned

    def close(self) -> None:
        if self._owned:
            self._owned = False
            os.close(self.dir_fd)

    def __enter__(self) -> ResolvedPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lstat(self) -> os.stat_result:
        """The final component's status, not following a symlink."""
        return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)


def _split(path: str) -> tuple[list[str], bool]:
    """Components without empty and ``.`` parts, and whether the path ends like a directory."""
    raw = path.split("/")
    return [c for c in raw if c not in ("", ".")], raw[-1] in ("", ".")


def resolve(root_fd: int, path: str, follow_final: bool) -> ResolvedPath:
    """Resolve ``path`` relative to the directory ``root_fd`` without leaving it.

    Symlinks in intermediate components are always followed (within the sandbox); the
    final one only when ``follow_final`` (or the path ends in a slash). Raises WasiErrno:
    NOTCAPABLE for an escape attempt, NOENT/NOTDIR/LOOP/... as the host would.
    """
    if "\0" in path:
        raise WasiErrno(Errno.INVAL)
    if not path:
        raise WasiErrno(Errno.NOENT)
    if path.startswith("/"):
        raise WasiErrno(Errno.NOTCAPABLE)
    comps, must_be_dir = _split(path)
    pending = deque(comps)
    stack = [root_fd]  # stack[0] belongs to the caller; the rest are ours to close
    expansions = 0
    try:
        while pending:
            name = pending.popleft()
            is_last = not pending
            top = stack[-1]
            if name == "..":
                if len(stack) == 1:
                    raise WasiErrno(Errno.NOTCAPABLE)
                os.close(stack.pop())
                if is_last:
                    must_be_dir = True
                continue
            if is_last and not (follow_final or must_be_dir):
                return _finish(stack, name, must_be_dir)
            try:
                st = os.stat(name, dir_fd=top, follow_symlinks=False)
            except FileNotFoundError:
                if is_last:  # it may be about to be created
                    return _finish(stack, name, must_be_dir)
                raise WasiErrno(Errno.NOENT) from None
            if stat.S_ISLNK(st.st_mode):
                expansions += 1
                if expansions > MAX_SYMLINK_EXPANSIONS:
                    raise WasiErrno(Errno.LOOP)
                target = os.readlink(name, dir_fd=top)
                if not target:
                    raise WasiErrno(Errno.NOENT)
                if target.startswith("/"):
                    raise WasiErrno(Errno.NOTCAPABLE)
                target_comps, target_is_dir = _split(target)
                if is_last and target_is_dir:
                    must_be_dir = True
                pending.extendleft(reversed(target_comps))
                continue
            if is_last:
                return _finish(stack, name, must_be_dir)
            if not stat.S_ISDIR(st.st_mode):
                raise WasiErrno(Errno.NOTDIR)
            stack.append(os.open(name, _DIR_FLAGS, dir_fd=top))
        # Everything was consumed by ".", "..", or a symlink to a directory: the path
        # names the directory on top of the stack.
        return _finish(stack, ".", True)
    except BaseException:
        for fd in stack[1:]:
            os.close(fd)
        raise


def _finish(stack: list[int], name: str, must_be_dir: bool) -> ResolvedPath:
    for fd in stack[1:-1]:
        os.close(fd)
    return ResolvedPath(stack[-1], name, must_be_dir, owned=len(stack) > 1)
