"""``WasiConfig``: what a WASI program sees (arguments, environment, stdio, directories)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import NamedTuple

StrPath = str | os.PathLike[str]


class Preopen(NamedTuple):
    """A host directory made visible to the guest under ``guest_path``."""

    host_path: str
    guest_path: str


class WasiConfig:
    """The WASI environment of a store, shaped like wasmtime-py's ``WasiConfig``.

    By default the guest gets no arguments, no environment, an empty stdin, discarded
    stdout/stderr and no directories. ``inherit_*`` pass the host process's own; the
    ``*_file`` properties connect a stream to a host file (stdout/stderr files are
    created or truncated); ``preopen_dir`` grants access to one host directory tree.
    """

    def __init__(self) -> None:
        self._argv: list[str] = []
        self._env: list[tuple[str, str]] = []
        # Each stream: None (empty/discarded), "inherit", or a host file path.
        self._stdin: str | None = None
        self._stdout: str | None = None
        self._stderr: str | None = None
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
        self._stdin, self._stdin_is_path = os.fspath(path), True

    @property
    def stdout_file(self) -> str | None:
        return self._stdout if self._stdout_is_path else None

    @stdout_file.setter
    def stdout_file(self, path: StrPath) -> None:
        self._stdout, self._stdout_is_path = os.fspath(path), True

    @property
    def stderr_file(self) -> str | None:
        return self._stderr if self._stderr_is_path else None

    @stderr_file.setter
    def stderr_file(self, path: StrPath) -> None:
        self._stderr, self._stderr_is_path = os.fspath(path), True

    def preopen_dir(self, host_path: StrPath, guest_path: str) -> None:
        """Give the guest the directory ``host_path`` (and everything below it) under the
        name ``guest_path``. Paths the guest resolves there can never leave it."""
        host = os.fspath(host_path)
        if not os.path.isdir(host):
            raise ValueError(f"preopen_dir: {host!r} is not a directory")
        if not isinstance(guest_path, str) or not guest_path:
            raise ValueError("preopen_dir: guest_path must be a non-empty str")
        self.preopens.append(Preopen(host, guest_path))

    def stream(self, fd: int) -> tuple[str | None, bool]:
        """Internal: how stream ``fd`` (0, 1, 2) is configured: ``(setting, is_path)``."""
        if fd == 0:
            return self._stdin, self._stdin_is_path
        if fd == 1:
            return self._stdout, self._stdout_is_path
        return self._stderr, self._stderr_is_path
