"""``WasiConfig``: what a WASI program sees (arguments, environment, stdio, directories)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from typing import NamedTuple

from pyjitwasm.errors import ArgumentTypeError, WasmValueError
from pyjitwasm.wasi.constants import Rights

StrPath = str | os.PathLike[str]
CustomOutput = Callable[[bytes], int | None]
"""A stdout/stderr callback: gets each write's bytes, returns how many it took (None:
all)."""

# What a directory descriptor may do with each permission.
_DIR_READ = (Rights.PATH_OPEN | Rights.FD_READDIR | Rights.PATH_READLINK
             | Rights.PATH_FILESTAT_GET | Rights.FD_FILESTAT_GET | Rights.FD_FDSTAT_SET_FLAGS
             | Rights.FD_SYNC | Rights.FD_DATASYNC)
_DIR_WRITE = (Rights.PATH_OPEN | Rights.PATH_CREATE_DIRECTORY | Rights.PATH_CREATE_FILE
              | Rights.PATH_LINK_SOURCE | Rights.PATH_LINK_TARGET | Rights.PATH_RENAME_SOURCE
              | Rights.PATH_RENAME_TARGET | Rights.PATH_FILESTAT_SET_SIZE
              | Rights.PATH_FILESTAT_SET_TIMES | Rights.FD_FILESTAT_SET_TIMES
              | Rights.PATH_SYMLINK | Rights.PATH_REMOVE_DIRECTORY | Rights.PATH_UNLINK_FILE)
# What a file opened below the directory may do with each permission.
_FILE_COMMON = (Rights.FD_SEEK | Rights.FD_TELL | Rights.FD_FILESTAT_GET
                | Rights.FD_FDSTAT_SET_FLAGS | Rights.POLL_FD_READWRITE | Rights.FD_ADVISE)
_FILE_READ = _FILE_COMMON | Rights.FD_READ
_FILE_WRITE = (_FILE_COMMON | Rights.FD_WRITE | Rights.FD_DATASYNC | Rights.FD_SYNC
               | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE | Rights.FD_FILESTAT_SET_TIMES)


class DirPerms(Enum):
    """What the guest may do to a preopened directory tree's directories (wasmtime-py's
    ``DirPerms``): READ lists and opens entries, WRITE creates, renames and removes."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3

    @property
    def rights(self) -> int:
        """The WASI rights a directory gets."""
        return (_DIR_READ if self.value & 1 else 0) | (_DIR_WRITE if self.value & 2 else 0)


class FilePerms(Enum):
    """What the guest may do to the files of a preopened directory tree (wasmtime-py's
    ``FilePerms``): READ reads them, WRITE writes, truncates and extends them."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3

    @property
    def rights(self) -> int:
        """The WASI rights a file opened below the directory may get."""
        return (_FILE_READ if self.value & 1 else 0) | (_FILE_WRITE if self.value & 2 else 0)


class Preopen(NamedTuple):
    """A host directory made visible to the guest under ``guest_path``, with the
    permissions the guest has on its directories and files."""

    host_path: str
    guest_path: str
    dir_perms: DirPerms = DirPerms.READ_WRITE
    file_perms: FilePerms = FilePerms.READ_WRITE


class WasiConfig:
    """The WASI environment of a store, shaped like wasmtime-py's ``WasiConfig``.

    By default the guest gets no arguments, no environment, an empty stdin, discarded
    stdout/stderr and no directories. ``inherit_*`` pass the host process's own; the
    ``*_file`` properties connect a stream to a host file (checked when set: stdin's must
    exist, stdout/stderr's are created or truncated; WasmValueError if impossible);
    ``stdout_custom``/``stderr_custom`` hand every write to a callable (capture in memory
    with ``config.stdout_custom = buffer.extend``); ``preopen_dir`` grants access to one
    host directory tree, with ``DirPerms``/``FilePerms`` limiting what the guest may do.
    """

    def __init__(self) -> None:
        self._argv: list[str] = []
        self._env: list[tuple[str, str]] = []
        # Each stream: None (empty/discarded), "inherit", or a host file path.
        self._stdin: str | None = None
        self._stdout: str | CustomOutput | None = None
        self._stderr: str | CustomOutput | None = None
        self._stdin_is_path = self._stdout_is_path = self._stderr_is_path = False
        self.preopens: list[Preopen] = []

    @property
    def argv(self) -> list[str]:
        """The guest's ``argv`` (``argv[0]`` is conventionally the program name)."""
        return list(self._argv)

    @argv.setter
    def argv(self, value: Iterable[str]) -> None:
        args = list(value)
        if not all(isinstance(a, str) for a in args):
            raise TypeError("argv must be a list of str")
        self._argv = args

    def inherit_argv(self) -> None:
        """Use the host process's ``sys.argv``."""
        self._argv = list(sys.argv)

    @property
    def env(self) -> list[tuple[str, str]]:
        """The guest's environment as ``(name, value)`` pairs, in order."""
        return list(self._env)

    @env.setter
    def env(self, value: Iterable[tuple[str, str]] | dict[str, str]) -> None:
        pairs = list(value.items()) if isinstance(value, dict) else [tuple(p) for p in value]
        for pair in pairs:
            if len(pair) != 2 or not all(isinstance(s, str) for s in pair):
                raise TypeError("env must be (name, value) pairs of str")
            if "=" in pair[0]:
                raise ValueError(f"environment variable name {pair[0]!r} contains '='")
        self._env = [(k, v) for k, v in pairs]

    def inherit_env(self) -> None:
        """Use the host process's environment."""
        self._env = list(os.environ.items())

    def inherit_stdin(self) -> None:
        self._stdin, self._stdin_is_path = "inherit", False

    def inherit_stdout(self) -> None:
        self._stdout, self._stdout_is_path = "inherit", False

    def inherit_stderr(self) -> None:
        self._stderr, self._stderr_is_path = "inherit", False

    @property
    def stdin_file(self) -> str | None:
        return self._stdin if self._stdin_is_path else None

    @stdin_file.setter
    def stdin_file(self, path: StrPath) -> None:
        path = os.fspath(path)
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise WasmValueError(f"stdin_file: cannot read {path!r}")
        self._stdin, self._stdin_is_path = path, True

    @property
    def stdout_file(self) -> str | None:
        return self._stdout if self._stdout_is_path and isinstance(self._stdout, str) else None

    @stdout_file.setter
    def stdout_file(self, path: StrPath) -> None:
        self._stdout, self._stdout_is_path = _output_file("stdout_file", path), True

    @property
    def stdout_custom(self) -> CustomOutput | None:
        return self._stdout if callable(self._stdout) else None

    @stdout_custom.setter
    def stdout_custom(self, callback: CustomOutput) -> None:
        if not callable(callback):
            raise ArgumentTypeError("stdout_custom expects a callable taking bytes")
        self._stdout, self._stdout_is_path = callback, False

    @property
    def stderr_file(self) -> str | None:
        return self._stderr if self._stderr_is_path and isinstance(self._stderr, str) else None

    @stderr_file.setter
    def stderr_file(self, path: StrPath) -> None:
        self._stderr, self._stderr_is_path = _output_file("stderr_file", path), True

    @property
    def stderr_custom(self) -> CustomOutput | None:
        return self._stderr if callable(self._stderr) else None

    @stderr_custom.setter
    def stderr_custom(self, callback: CustomOutput) -> None:
        if not callable(callback):
            raise ArgumentTypeError("stderr_custom expects a callable taking bytes")
        self._stderr, self._stderr_is_path = callback, False

    def preopen_dir(self, host_path: StrPath, guest_path: str,
                    dir_perms: DirPerms | bool = DirPerms.READ_WRITE,
                    file_perms: FilePerms = FilePerms.READ_WRITE, *,
                    fs_mutable: bool | None = None) -> None:
        """Give the guest the directory ``host_path`` (and everything below it) under the
        name ``guest_path``. Paths the guest resolves there can never leave it.
        ``dir_perms`` limits what it may do to the directories (READ_ONLY: no creating,
        renaming or removing) and ``file_perms`` to the files (READ_ONLY: no writing).

        wasmtime-py 49 and later spell the permissions as one flag instead,
        ``preopen_dir(path, guest_path, fs_mutable=True)`` (real hosts pass it
        positionally: ``preopen_dir(path, "/in", False)``); a bool in ``dir_perms``'s
        place, or ``fs_mutable=``, means that: False is READ_ONLY for both."""
        host = os.fspath(host_path)
        if not os.path.isdir(host):
            raise WasmValueError(f"preopen_dir: {host!r} is not a directory")
        if not isinstance(guest_path, str) or not guest_path:
            raise WasmValueError("preopen_dir: guest_path must be a non-empty str")
        if isinstance(dir_perms, bool):
            if fs_mutable is not None:
                raise ArgumentTypeError("preopen_dir: fs_mutable given twice")
            fs_mutable = dir_perms
        if fs_mutable is not None:
            if not isinstance(fs_mutable, bool):
                raise ArgumentTypeError("preopen_dir: fs_mutable must be a bool")
            dir_perms = DirPerms.READ_WRITE if fs_mutable else DirPerms.READ_ONLY
            file_perms = FilePerms.READ_WRITE if fs_mutable else FilePerms.READ_ONLY
        if not isinstance(dir_perms, DirPerms) or not isinstance(file_perms, FilePerms):
            raise ArgumentTypeError("preopen_dir: expected a DirPerms and a FilePerms")
        self.preopens.append(Preopen(host, guest_path, dir_perms, file_perms))

    def stream(self, fd: int) -> tuple[str | CustomOutput | None, bool]:
        """Internal: how stream ``fd`` (0, 1, 2) is configured: ``(setting, is_path)``."""
        if fd == 0:
            return self._stdin, self._stdin_is_path
        if fd == 1:
            return self._stdout, self._stdout_is_path
        return self._stderr, self._stderr_is_path


def _output_file(setting: str, path: StrPath) -> str:
    """Create or truncate ``path`` now, as wasmtime-py does, so a bad path fails here."""
    name = os.fspath(path)
    try:
        with open(name, "wb"):
            pass
    except OSError as exc:
        raise WasmValueError(f"{setting}: cannot open {name!r} for writing: "
                             f"{exc.strerror}") from None
    return name
