"""Serialized modules (``Module.serialize``, ``.cwasm`` files): the format and its checks.

Layout (integers little-endian)::

    magic           16 bytes  b"\\0pyjitwasm-cwasm"
    format version  u32       ARTIFACT_FORMAT
    body length     u64
    body:
      header        u32 length + UTF-8 JSON object of strings: the engine's fingerprint
                    (engine kind, pyjitwasm version and build, LLVM version, triple, CPU
                    name and features, every code-affecting option) and the module's
                    SHA-256
      module        u64 length + the wasm binary (for its types, imports, exports,
                    segments: instantiation needs them, compiling does not)
      code          u32 count + (u64 length + blob) per compiled batch (the engine's
                    own encoding; none for the interpreter)
    checksum        32 bytes  SHA-256 of everything before it

Reading checks, in order: the magic (else :class:`CorruptArtifactError`: not an
artifact), the format version (:class:`IncompatibleArtifactError`), the length and the
checksum (truncated or corrupted: :class:`CorruptArtifactError`), then every header field
against the loading engine's (:class:`IncompatibleArtifactError` naming the first field
that differs, with both values).  A matching artifact is trusted: its module is decoded
but not validated again and its code is loaded as it is, as Wasmtime trusts its own.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyjitwasm.wasm.errors import WasmError

ARTIFACT_MAGIC = b"\0pyjitwasm-cwasm"
ARTIFACT_FORMAT = 1
_CHECKSUM = 32
_PREFIX = len(ARTIFACT_MAGIC) + 4 + 8


class ArtifactError(WasmError):
    """A serialized module cannot be loaded."""


class CorruptArtifactError(ArtifactError):
    """The bytes are not a serialized module, or one that was truncated or corrupted."""


class IncompatibleArtifactError(ArtifactError):
    """A serialized module made by another pyjitwasm version or build, for another CPU or
    LLVM, with other code-affecting options, or by the other engine.  ``field`` names
    what differs; ``artifact_value`` and ``engine_value`` are its two values."""

    def __init__(self, field: str, artifact_value: str, engine_value: str) -> None:
        super().__init__(
            f"serialized module is incompatible with this engine: {field} is "
            f"{_short(artifact_value)!r} in the artifact but {_short(engine_value)!r} here "
            "(recompile it from the .wasm with this engine)")
        self.field = field
        self.artifact_value = artifact_value
        self.engine_value = engine_value


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."


@dataclass(frozen=True)
class Artifact:
    """A parsed serialized module."""

    header: dict[str, str]
    wasm: bytes
    code: list[bytes]


def write_artifact(header: Mapping[str, str], wasm: bytes, code: Sequence[bytes]) -> bytes:
    """The serialized form (see the module docstring)."""
    head = json.dumps(dict(header), sort_keys=True).encode()
    parts = [struct.pack("<I", len(head)), head, struct.pack("<Q", len(wasm)), wasm,
             struct.pack("<I", len(code))]
    for blob in code:
        parts += [struct.pack("<Q", len(blob)), blob]
    body = b"".join(parts)
    data = ARTIFACT_MAGIC + struct.pack("<IQ", ARTIFACT_FORMAT, len(body)) + body
    return data + hashlib.sha256(data).digest()


def read_artifact(data: bytes | bytearray | memoryview) -> Artifact:
    """Parse and integrity-check serialized bytes (not their compatibility: see
    :func:`check_compatible`)."""
    view = memoryview(data)
    if bytes(view[:len(ARTIFACT_MAGIC)]) != ARTIFACT_MAGIC:
        raise CorruptArtifactError("not a serialized pyjitwasm module (bad magic)")
    if len(view) < _PREFIX + _CHECKSUM:
        raise CorruptArtifactError("serialized module is truncated")
    version, size = struct.unpack_from("<IQ", view, len(ARTIFACT_MAGIC))
    if version != ARTIFACT_FORMAT:
        raise IncompatibleArtifactError("format", str(version), str(ARTIFACT_FORMAT))
    if len(view) != _PREFIX + size + _CHECKSUM:
        raise CorruptArtifactError(f"serialized module is truncated or has trailing bytes "
                                   f"({len(view)} bytes, expected {_PREFIX + size + _CHECKSUM})")
    if hashlib.sha256(view[:-_CHECKSUM]).digest() != bytes(view[-_CHECKSUM:]):
        raise CorruptArtifactError("serialized module is corrupted (checksum mismatch)")
    try:
        at = _PREFIX
        (n,) = struct.unpack_from("<I", view, at)
        header = json.loads(bytes(view[at + 4:at + 4 + n]))
        at += 4 + n
        (n,) = struct.unpack_from("<Q", view, at)
        wasm = bytes(view[at + 8:at + 8 + n])
        at += 8 + n
        (count,) = struct.unpack_from("<I", view, at)
        at += 4
        code = []
        for _ in range(count):
            (n,) = struct.unpack_from("<Q", view, at)
            code.append(bytes(view[at + 8:at + 8 + n]))
            at += 8 + n
    except (struct.error, ValueError) as exc:
        raise CorruptArtifactError(f"serialized module is malformed: {exc}") from None
    if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
        raise CorruptArtifactError("serialized module has a malformed header")
    return Artifact(header, wasm, code)


def check_compatible(header: Mapping[str, str], engine: Mapping[str, str]) -> None:
    """IncompatibleArtifactError unless ``header`` carries every field of the engine's
    fingerprint ``engine`` with the same value (``engine`` first, the most telling)."""
    for field in ("format", "engine", "pyjitwasm", "build", "llvm", "triple", "cpu",
                  "cpu_features", *sorted(engine)):
        if field in engine and header.get(field) != engine[field]:
            raise IncompatibleArtifactError(field, header.get(field, "(missing)"),
                                            engine[field])
    extra = sorted(set(header) - set(engine) - {"module_sha256"})
    if extra:
        raise IncompatibleArtifactError(extra[0], header[extra[0]], "(not a setting here)")


__all__ = ["ARTIFACT_FORMAT", "ARTIFACT_MAGIC", "Artifact", "ArtifactError",
           "CorruptArtifactError", "IncompatibleArtifactError", "check_compatible",
           "read_artifact", "write_artifact"]
