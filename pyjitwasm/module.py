"""Compiled modules."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyjitwasm.backend import PreparedModule
from pyjitwasm.engine import Engine
from pyjitwasm.errors import ArgumentTypeError
from pyjitwasm.valtypes import ExportType, ImportType, wrap_type
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.types import ExternKind
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: decoding makes one tuple per instruction
    (millions for a large module, none in a cycle), and every collection meanwhile
    traversed them all (CPython for WASI: Module() took 2.75 s of CPU with it, 2.16 s
    without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _binary(wasm: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(wasm, str):
        return wat2wasm(wasm)
    if isinstance(wasm, bytes | bytearray | memoryview):
        return bytes(wasm)
    raise TypeError(f"expected bytes or WebAssembly text, got {type(wasm).__name__}")


class Module:
    """A decoded and validated module, ready to instantiate in any store of its engine.

    ``wasm`` is the binary, or WebAssembly text as a str (converted with wasm-tools).
    Raises DecodeError for a malformed binary and ValidationError for an invalid one.
    """

    def __init__(self, engine: Engine, wasm: bytes | bytearray | memoryview | str) -> None:
        if not isinstance(engine, Engine):
            raise ArgumentTypeError("expected an Engine")
        with _collector_paused():
            # Function bodies are decoded, checked and dropped one at a time, and decoded
            # again when compiled (most of a large module's never are): a second decode,
            # ~0.5 us per instruction, for a peak of one body instead of all (CPython for
            # WASI: Module() 1 s more CPU, peak RSS 186 MB instead of 503).
            module = decode_module(_binary(wasm), features=engine.config.features,
                                   keep_bodies=False)
            validate_module(module)
        self._engine = engine
        self._wasm = module
        self._prepared: PreparedModule = engine.backend.prepare(module)

    @classmethod
    def from_file(cls, engine: Engine, path: str | os.PathLike[str]) -> Module:
        """Load a ``.wasm`` binary or a ``.wat`` text file."""
        with open(path, "rb") as f:
            data = f.read()
        if str(path).endswith(".wat") or not data.startswith(b"\0asm"):
            try:
                return cls(engine, data.decode("utf-8"))
            except UnicodeDecodeError:
                pass
        return cls(engine, data)

    @staticmethod
    def validate(engine: Engine, wasm: bytes | bytearray | memoryview | str) -> None:
        """Raise DecodeError or ValidationError if ``wasm`` is not a valid module."""
        if not isinstance(engine, Engine):
            raise ArgumentTypeError("expected an Engine")
        validate_module(decode_module(_binary(wasm), features=engine.config.features))

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def name(self) -> str | None:
        """The module's name from its name section, if any."""
        return self._wasm.names.module

    def _extern_type(self, kind: ExternKind, desc: Any) -> Any:
        if kind == ExternKind.FUNC:
            return wrap_type(self._wasm.types[desc])
        return wrap_type(desc)

    @property
    def imports(self) -> list[ImportType]:
        return [
            ImportType(imp.module, imp.name, self._extern_type(imp.kind, imp.desc))
            for imp in self._wasm.imports
        ]

    @property
    def exports(self) -> list[ExportType]:
        m = self._wasm
        spaces: dict[ExternKind, Callable[[], Sequence[object]]] = {
            ExternKind.FUNC: m.func_types,
            ExternKind.TABLE: m.table_types,
            ExternKind.MEMORY: m.memory_types,
            ExternKind.GLOBAL: m.global_types,
        }
        cache: dict[ExternKind, Sequence[object]] = {}
        out = []
        for exp in m.exports:
            if exp.kind not in cache:
                cache[exp.kind] = spaces[exp.kind]()
            t = cache[exp.kind][exp.index]
            out.append(ExportType(exp.name, wrap_type(t)))
        return out

    def __repr__(self) -> str:
        return f"<Module {self.name or ''} {len(self._wasm.imports)} imports>"

