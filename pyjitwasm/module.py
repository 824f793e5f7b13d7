"""Compiled modules."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.artifact import (
    CorruptArtifactError,
    check_compatible,
    read_artifact,
    write_artifact,
)
from pyjitwasm.backend import Backend, PreparedModule
from pyjitwasm.engine import Engine
from pyjitwasm.errors import ArgumentTypeError
from pyjitwasm.valtypes import ExportType, ImportType, wrap_type
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.gc_pause import cyclic_gc_paused
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import ExternKind
from pyjitwasm.wasm.validator import ChecksWhileDecoding, validate_module
from pyjitwasm.wat import wat2wasm


def _binary(wasm: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(wasm, str):
        return wat2wasm(wasm)
    if isinstance(wasm, bytes | bytearray | memoryview):
        return bytes(wasm)
    raise TypeError(f"expected bytes or WebAssembly text, got {type(wasm).__name__}")


SPECULATIVE_DECODE_BYTES = 8 << 20
"""Modules at least this large are decoded as known valid while their SHA-256 (the code
cache's key) is computed on another thread (:func:`_decode_if_known_valid`).  Smaller
ones hash first: starting and joining the thread cost more than the overlap saved on
this 2-core machine shared with other work (warm ``Module()``, 7 alternating runs,
median ms, sequential against threaded: the 1.2 MB generated program 3.97 / 4.23,
Graphviz 0.9 MB 2.26 / 2.75, CPython for WASI 26 MB 33.4 / 33.5)."""


def _hash_beside(binary: bytes) -> tuple[threading.Thread, list[str]]:
    """A thread computing ``binary``'s SHA-256 (hex, into the list) while the caller
    goes on.  It returns once the thread is inside the hash, which releases the GIL: a
    thread still waiting for the GIL would wait for the caller's next switch (5 ms), and
    then again to finish, so asking the whole question there overlapped nothing (big:
    Module() 4.2 against 3.8 ms sequential)."""
    digest: list[str] = []
    hashing = threading.Event()

    def work() -> None:
        state = hashlib.sha256()
        hashing.set()
        state.update(binary)
        digest.append(state.hexdigest())

    thread = threading.Thread(target=work, name="pyjitwasm-module-hash", daemon=True)
    thread.start()
    hashing.wait()
    return thread, digest


def _decode_if_known_valid(backend: Backend, binary: bytes,
                           features: Features) -> WasmModule | None:
    """The module decoded as known valid (function bodies and data segments only
    delimited, ``decode_module(decode_bodies=False)``) if ``backend``'s code cache knows
    these bytes validated, else None.

    A large module is decoded so while its bytes are hashed on another thread (the hash
    releases the GIL; CPython for WASI: 26 MB, 15 ms beside the 12 ms of its decoding),
    then the cache is asked.  If the answer is no, that decoding is wasted, a small part
    of what validating and compiling then take."""
    if len(binary) < SPECULATIVE_DECODE_BYTES or not backend.may_know_valid():
        if not backend.known_valid(binary):
            return None
        return decode_module(binary, features=features, keep_bodies=False,
                             decode_bodies=False)
    hasher, digest = _hash_beside(binary)
    module: WasmModule | None
    try:
        module = decode_module(binary, features=features, keep_bodies=False,
                               decode_bodies=False)
    except DecodeError:
        module = None  # malformed: the full decoding reports it
    finally:
        hasher.join()
    if module is None or not backend.known_valid(binary, digest[0] if digest else None):
        return None
    return module


class Module:
    """A decoded and validated module, ready to instantiate in any store of its engine.

    ``wasm`` is the binary, or WebAssembly text as a str (converted with wasm-tools).
    Raises DecodeError for a malformed binary and ValidationError for an invalid one.
    """

    def __init__(self, engine: Engine, wasm: bytes | bytearray | memoryview | str) -> None:
        if not isinstance(engine, Engine):
            raise ArgumentTypeError("expected an Engine")
        binary = _binary(wasm)
        backend = engine.backend
        with cyclic_gc_paused():
            # The code cache may know these bytes decoded and validated: then function
            # bodies are only delimited, each decoded when first compiled (most of a
            # large module's never are), and nothing is checked again.
            known = _decode_if_known_valid(backend, binary, engine.config.features)
            if known is not None:
                module = known
            else:
                # Function bodies are decoded, validated and dropped one at a time, and
                # decoded again when compiled: a peak of one body instead of all
                # (CPython for WASI: peak RSS 186 MB instead of 503).  Validating each as
                # it is decoded (EarlyBodyChecks) spares decoding it a second time just
                # for the validator.
                early = ChecksWhileDecoding()
                module = decode_module(binary, features=engine.config.features,
                                       keep_bodies=False, body_checks=early)
                backend.validate(module, binary, early.checks)
        self._engine = engine
        self._wasm = module
        self._binary = binary
        self._prepared: PreparedModule = engine.backend.prepare(module, binary)

    # Serialized modules: pyjitwasm/artifact.py has the format -------------------------

    def serialize(self, *, jobs: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> bytes:
        """The module with all of its code compiled (now, on every core, unless the code
        cache has it): bytes for :meth:`deserialize` in an engine with the same
        configuration, pyjitwasm build and CPU (the ``.cwasm`` of ``pyjitwasm compile``).
        pyjitwasm's additions: ``jobs``, the processes to compile with (default: every
        CPU), and ``progress(functions_done, functions_total)``."""
        backend = self._engine.backend
        header = backend.code_fingerprint()
        header["module_sha256"] = hashlib.sha256(self._binary).hexdigest()
        code = backend.serialize_code(self._prepared, self._binary, jobs, progress)
        return write_artifact(header, self._binary, code)

    @classmethod
    def deserialize(cls, engine: Engine, encoded: bytes | bytearray | memoryview) -> Module:
        """A module from :meth:`serialize`'s bytes, its code loaded without compiling.
        Raises :class:`~pyjitwasm.artifact.CorruptArtifactError` for bytes that are not
        an intact serialized module and
        :class:`~pyjitwasm.artifact.IncompatibleArtifactError` for one made by another
        pyjitwasm build, engine or configuration, or for another CPU."""
        if not isinstance(engine, Engine):
            raise ArgumentTypeError("expected an Engine")
        if not isinstance(encoded, bytes | bytearray | memoryview):
            raise ArgumentTypeError("expected bytes")
        artifact = read_artifact(encoded)
        check_compatible(artifact.header, engine.backend.code_fingerprint())
        if artifact.header.get("module_sha256") != hashlib.sha256(artifact.wasm).hexdigest():
            raise CorruptArtifactError("serialized module: the module does not match its hash")
        # Trusted once intact and compatible: not validated again, and its function
        # bodies only delimited (decoded if ever read: a backtrace's source lines).
        module = decode_module(artifact.wasm, features=engine.config.features,
                               keep_bodies=False, decode_bodies=False)
        self = cls.__new__(cls)
        self._engine = engine
        self._wasm = module
        self._binary = artifact.wasm
        self._prepared = engine.backend.prepare_serialized(module, artifact.wasm,
                                                           artifact.code)
        return self

    @classmethod
    def deserialize_file(cls, engine: Engine, path: str | os.PathLike[str]) -> Module:
        """:meth:`deserialize` of a file's contents (a ``.cwasm``)."""
        with open(path, "rb") as f:
            return cls.deserialize(engine, f.read())

    def __enter__(self) -> Module:
        return self

    def __exit__(self, *exc: object) -> None:
        # The code lives as long as the module and its instances; nothing to close.
        return None

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

