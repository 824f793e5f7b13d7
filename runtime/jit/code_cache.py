"""The persistent code cache: compiled batches kept on disk between runs.

An entry is one batch of a module's functions as a relocatable object
(``batch_codec``), stored under a key that hashes everything the code depends on:

* the compiler's fingerprint (``fingerprint.py``: format, pyjitwasm version and build,
  LLVM version, triple, CPU name and features, engine settings),
* the code-affecting ``CompileOptions`` the batch was compiled with,
* the module (a SHA-256 of its bytes),
* the batch: its function indices and how it was compiled (``separate``,
  ``with_shims``),
* ``tier``: the seam for tiered compilation.  A tier whose pipeline differs only
  through ``CompileOptions`` is already told apart by the options; pass the tier's name
  anyway, so code of one tier is never taken for another's.

With lazy compilation the batches a run compiles depend only on the module and on which
functions were compiled before, so a run repeating an earlier one asks for the same
keys and finds every batch: it loads objects and neither translates nor runs LLVM.

On disk: ``<directory>/v<FORMAT_VERSION>/<key[:2]>/<key[2:]>``; a file is the magic,
the SHA-256 of the rest, the key (a file copied to the wrong name is refused) and the
batch.  Files are written to a temporary name and renamed, so readers never see half
an entry; an entry that fails its checksum or does not parse (a truncated write, disk
corruption) is deleted and counted as ``corrupt``, and the batch is compiled again.  A
directory that cannot be created or written disables the cache with one warning
(:class:`CodeCacheWarning`) per directory and process; so does a later failing write.

Besides batches the cache keeps *notes*, empty entries whose presence is the fact: that
a module validated (``validated_key``), so a warm start skips the validator as well as
the compiler (the validator's source is in the fingerprint's build id); and plain
objects keyed by their LLVM text (``object_key``): the per-signature entry and host
shims (``shims.py``), which a WASI program otherwise compiles on every start.

And a *pack* per module and option set (``pack_key``, ``batch_pack.py``): the batches
a warm start loads, in one file, checked with a CRC-32 (``load_pack``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import mmap
import os
import struct
import tempfile
import threading
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from pyjitwasm.runtime.jit.atomic_file import write_atomically
from pyjitwasm.runtime.jit.batch_codec import BatchFormatError, decode_batch, encode_batch
from pyjitwasm.runtime.jit.cache_cleanup import cleanup_in_background, default_size_limit
from pyjitwasm.runtime.jit.compile_module import BatchObject, CompileOptions
from pyjitwasm.runtime.jit.fingerprint import FORMAT_VERSION, fingerprint_digest, options_key

ENTRY_MAGIC = b"PJWCACHE"
PACK_MAGIC = b"PJWPACK1"
_PACK_HEAD = struct.Struct("<IQ")  # CRC-32 and length of what follows: key, pack
_DIGEST = 32
_KEY = 64  # hex digits of a SHA-256


class CodeCacheWarning(UserWarning):
    """The code cache cannot be used (its directory is not writable...); running on
    without it."""


@dataclass
class CacheStats:
    """What a cache did since it was opened."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    stores: int = 0


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(directory: Path, why: str) -> None:
    with _warned_lock:
        if str(directory) in _warned:
            return
        _warned.add(str(directory))
    warnings.warn(f"pyjitwasm: code cache {str(directory)!r} disabled: {why}",
                  CodeCacheWarning, stacklevel=3)


class CodeCache:
    """A code cache directory.  Use :func:`open_code_cache`, which checks that the
    directory is usable.  ``fingerprint``: ``fingerprint.compiler_fingerprint``'s
    module- and option-independent part (options are keyed per batch)."""

    def __init__(self, directory: Path, fingerprint: Mapping[str, str]) -> None:
        self.directory = directory
        self.root = directory / f"v{FORMAT_VERSION}"
        self._root = str(self.root)  # (warm reads build their paths as strings: ~20x
        #                               cheaper than pathlib, and a warm start makes ~8)
        self.fingerprint = dict(fingerprint)
        self._digest = fingerprint_digest(self.fingerprint)
        self.stats = CacheStats()
        self.writable = True
        self._options_digests: dict[CompileOptions, str] = {}
        self._last_options: tuple[CompileOptions, str] | None = None

    def options_digest(self, options: CompileOptions) -> str:
        """The digest of ``options``' code-affecting fields, a part of every batch key
        (worked out once per options; an engine asks when it is made, so that no
        module's start pays for it)."""
        last = self._last_options
        if last is not None and last[0] is options:
            # The same object again (an engine's options: every key of its modules):
            # hashing the frozen dataclass, pipelines and all, costs ~6 us a time.
            return last[1]
        digest = self._options_digests.get(options)
        if digest is None:
            digest = self._options_digests[options] = fingerprint_digest(
                options_key(options))
        self._last_options = (options, digest)
        return digest

    def batch_key(self, module_digest: str, indices: Sequence[int], separate: bool,
                  with_shims: bool, options: CompileOptions, tier: str = "") -> str:
        """The key of a batch (see the module docstring for its parts)."""
        parts = [self._digest, self.options_digest(options), module_digest, tier,
                 f"{int(separate)}{int(with_shims)}", ",".join(map(str, indices))]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def _file(self, key: str) -> str:
        """:meth:`_path` as a str (what the reads use)."""
        return f"{self._root}/{key[:2]}/{key[2:]}"

    def validated_key(self, module_digest: str) -> str:
        """The key of the note that the module validated (with this fingerprint: the
        validator's source and the wasm features are part of it)."""
        return hashlib.sha256(f"{self._digest}\nvalidated\n{module_digest}".encode()).hexdigest()

    def plans_key(self, module_digest: str, options: CompileOptions) -> str:
        """The key of the module's plan log (:meth:`load_plans`)."""
        return self.batch_key(module_digest, (), False, False, options, "plans")

    def load_plans(self, key: str) -> dict[tuple[str, int], tuple[int, ...]]:
        """The plan log under ``key``: for (tier name, function index), the functions of
        the batch that function's lazy first call compiled (see :meth:`append_plan`).
        Lines that fail their check are skipped.  (The log is not an entry: it counts in
        no :class:`CacheStats` field.)"""
        return self.parse_plans(key, self.read_plans(key))

    def read_plans(self, key: str) -> bytes:
        """The plan log under ``key`` as it is on disk (empty: none)."""
        try:
            return _read_file(self._file(key))
        except OSError:
            return b""

    @staticmethod
    def parse_plans(key: str, text: bytes) -> dict[tuple[str, int], tuple[int, ...]]:
        """The plans of plan log ``text`` (read from ``key``), as :meth:`load_plans`."""
        plans: dict[tuple[str, int], tuple[int, ...]] = {}
        for line in text.split(b"\n"):
            if not line:
                continue
            check, _, body = line.partition(b" ")
            if check != _line_check(key, body):
                continue
            try:
                tier, _, listed = body.decode("ascii").partition(":")
                indices = tuple(int(i) for i in listed.split(","))
            except ValueError:  # UnicodeDecodeError too
                continue
            plans[(tier, indices[0])] = indices
        return plans

    def append_plan(self, key: str, tier: str, indices: Sequence[int]) -> None:
        """Add to the plan log under ``key`` that a lazy first call of ``indices[0]``
        compiled ``indices`` at ``tier``: a warm start then loads that batch without
        working it out again (which decodes the function and its callees).  One log per
        module, appended line by line (each with its own check: a torn or damaged line
        is skipped), so a warm start reads one file for all of them."""
        if not self.writable:
            return
        body = f"{tier}:{','.join(map(str, indices))}".encode("ascii")
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as f:
                f.write(_line_check(key, body) + b" " + body + b"\n")
        except OSError as exc:
            self.writable = False
            _warn_once(self.directory, f"cannot write an entry: {exc}")

    def load(self, key: str, count: bool = True) -> BatchObject | None:
        """The batch stored under ``key``, or None (missing, or corrupt: then deleted).
        ``count``: count the hit or miss in :attr:`stats` (not when making a pack)."""
        payload = self._read(key, count)
        if payload is None:
            return None
        try:
            batch = decode_batch(payload)
        except BatchFormatError:
            self._discard(key)
            return None
        if count:
            self.stats.hits += 1
        return batch

    def has_note(self, key: str) -> bool:
        """Whether an (empty) note entry is stored under ``key``."""
        payload = self._read(key)
        if payload is None:
            return False
        if len(payload):
            self._discard(key)
            return False
        self.stats.hits += 1
        return True

    def object_key(self, llvm_ir: str) -> str:
        """The key of an object compiled from ``llvm_ir`` alone (the runtime's shims)."""
        text_digest = hashlib.sha256(llvm_ir.encode()).hexdigest()
        return hashlib.sha256(f"{self._digest}\nobject\n{text_digest}".encode()).hexdigest()

    def load_object(self, key: str) -> bytes | None:
        """The ELF object stored under ``key`` (:meth:`object_key`), or None."""
        payload = self._read(key)
        if payload is None:
            return None
        if not bytes(payload[:4]) == b"\x7fELF":
            self._discard(key)
            return None
        self.stats.hits += 1
        return bytes(payload)

    def store_object(self, key: str, obj: bytes) -> None:
        """Keep an ELF object under ``key``."""
        self._write(key, obj)

    def code_object_key(self, source: str) -> str:
        """The key of Python ``source`` compiled by this interpreter (marshal's format
        and the bytecode are the interpreter version's: its magic number is in it)."""
        digest = hashlib.sha256(source.encode()).hexdigest()
        magic = importlib.util.MAGIC_NUMBER.hex()
        return hashlib.sha256(f"{self._digest}\ncode {magic}\n{digest}".encode()).hexdigest()

    def load_code_object(self, key: str) -> CodeType | None:
        """The code object stored under ``key`` (:meth:`code_object_key`), or None."""
        payload = self._read(key)
        if payload is None:
            return None
        try:
            code = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            code = None
        if not isinstance(code, CodeType):
            self._discard(key)
            return None
        self.stats.hits += 1
        return code

    def store_code_object(self, key: str, code: CodeType) -> None:
        """Keep a code object under ``key``."""
        self._write(key, marshal.dumps(code))

    def _read(self, key: str, count: bool = True) -> memoryview | None:
        """The checked payload of entry ``key`` (a miss counts here, with ``count``; a
        hit is counted by the caller once the payload parses)."""
        try:
            # Touched: used now (the size cleanup deletes the least recently used; a
            # damaged entry is deleted below anyway).
            data = _read_file(self._file(key), touch=True)
        except OSError:
            if count:
                self.stats.misses += 1
            return None
        payload = _checked_payload(data, key)
        if payload is None:
            self._discard(key)
            return None
        return payload

    def _discard(self, key: str) -> None:
        self.stats.corrupt += 1
        self.stats.misses += 1
        try:
            os.unlink(self._file(key))
        except OSError:
            pass

    def store(self, key: str, batch: BatchObject) -> None:
        """Keep ``batch`` under ``key`` (a failing write disables storing, with a
        warning)."""
        self._write(key, encode_batch(batch))

    def store_note(self, key: str) -> None:
        """Keep an empty note under ``key`` (see :meth:`has_note`)."""
        self._write(key, b"")

    # Module records (``module_record.py``, the warmmod block) ---------------------------

    def record_key(self, module_digest: str, kind: str) -> str:
        """The key of the module's record of kind ``kind`` (with this fingerprint: the
        build id covers the code that made it)."""
        return hashlib.sha256(
            f"{self._digest}\nrecord:{kind}\n{module_digest}".encode()).hexdigest()

    def load_record(self, key: str) -> LoadedRecord | None:
        """Record ``key`` checked, or None (missing, or corrupt: then deleted).  The
        file is mapped, not read (a record may hold megabytes of memory image, which an
        instance can then map copy-on-write from the file itself: ``LoadedRecord``);
        the caller counts the hit once the payload parses, or calls
        :meth:`discard_record`."""
        path = self._file(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.stats.misses += 1
            return None
        try:
            size = os.fstat(fd).st_size
            data, mapped = _map_or_read(fd, size)
        except OSError:
            os.close(fd)
            self.stats.misses += 1
            return None
        record = LoadedRecord(fd, data, mapped)
        view = memoryview(data)
        head = len(ENTRY_MAGIC)
        payload = view[RECORD_BODY_OFFSET - _KEY:]
        if (size < RECORD_BODY_OFFSET or view[:head] != ENTRY_MAGIC
                or hashlib.sha256(payload).digest() != view[head:head + _DIGEST]
                or payload[:_KEY] != key.encode()):
            del view, payload
            record.close()
            self._discard(key)
            return None
        _touch(fd)
        record.payload = payload[_KEY:]
        return record

    def discard_record(self, key: str) -> None:
        """Delete record ``key``, which passed its check but does not parse."""
        self._discard(key)

    def store_record(self, key: str, body: bytes) -> None:
        """Keep ``body`` as record ``key``."""
        self._write(key, body)

    # ------------------------------------------------------------------------------------

    def _write(self, key: str, body: bytes) -> None:
        if not self.writable:
            return
        payload = key.encode() + body
        data = ENTRY_MAGIC + hashlib.sha256(payload).digest() + payload
        try:
            write_atomically(self._path(key), data)
        except OSError as exc:
            self.writable = False
            _warn_once(self.directory, f"cannot write an entry: {exc}")
            return
        self.stats.stores += 1


    # Packs ---------------------------------------------------------------------------

    def pack_key(self, module_digest: str, options: CompileOptions) -> str:
        """The key of the module's pack of recorded batches (``batch_pack.py``)."""
        return self.batch_key(module_digest, (), False, False, options, "pack")

    def load_pack(self, key: str) -> memoryview | None:
        """The payload of the pack under ``key``, or None: missing, or damaged (its
        CRC-32, length or key do not match: then deleted and counted as ``corrupt``).
        A pack holds megabytes, so it is checked with a CRC (about 4x cheaper than
        SHA-256); it detects torn writes and damage, which is what a check is for here.
        The file is mapped, not read: its chunks' bytes go from the page cache to their
        code mappings without a copy on the heap (reading CPython's 7.5 MB pack into
        fresh heap pages cost more than checking it).  Packs are replaced by renaming a
        new file over them, never written in place, so a mapping stays what was checked."""
        path = self._file(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            data, _ = _map_or_read(fd, os.fstat(fd).st_size)
            # Used now (the size cleanup deletes the least recently used; a damaged pack
            # is deleted below anyway).
            _touch(fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        view = memoryview(data)
        head = len(PACK_MAGIC) + _PACK_HEAD.size
        payload = view[head:]
        intact = len(view) >= head + _KEY and view[:len(PACK_MAGIC)] == PACK_MAGIC
        if intact:
            crc, size = _PACK_HEAD.unpack_from(view, len(PACK_MAGIC))
            intact = (size == len(payload) and zlib.crc32(payload) == crc
                      and payload[:_KEY] == key.encode())
        if not intact:
            self.stats.corrupt += 1
            try:
                os.unlink(path)
            except OSError:
                pass
            return None
        return payload[_KEY:]

    def store_pack(self, key: str, body: bytes) -> bool:
        """Keep pack ``body`` under ``key``; False when it cannot be written.  Quietly:
        packs are written when a run ends, maybe after its cache directory was removed
        (which this does not create again)."""
        if not self.writable:
            return False
        payload = key.encode() + body
        data = PACK_MAGIC + _PACK_HEAD.pack(zlib.crc32(payload), len(payload)) + payload
        try:
            # Not the root's parents: the cache directory must still exist.
            write_atomically(self._path(key), data, make_parents=False)
        except OSError:
            return False
        return True


RECORD_BODY_OFFSET = len(ENTRY_MAGIC) + _DIGEST + _KEY
"""Where a record's body starts in its file (``module_record.py`` aligns what it wants
mapped to host pages from here)."""


class LoadedRecord:
    """A record entry read back (:meth:`CodeCache.load_record`): ``payload`` the body,
    a view of the file's mapping (or of its bytes where it cannot be mapped), and
    ``fd`` the file, open read-only, so body bytes at page-aligned file offsets
    (``RECORD_BODY_OFFSET`` + body offset) can be mapped again.  ``close()`` closes
    the file (the mapping stays while views of it do); ``mapped`` says whether it is."""

    __slots__ = ("fd", "data", "payload", "mapped")

    def __init__(self, fd: int, data: bytes | mmap.mmap, mapped: bool) -> None:
        self.fd = fd
        self.data = data
        self.payload = memoryview(b"")
        self.mapped = mapped

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


MAP_MIN_BYTES = 64 << 10
"""Packs and records of at least this many bytes are mapped, smaller ones read: a
mapping costs ~16 us more than reading a few KiB (its set-up, fault and unmapping), and
saves a copy only of large files."""


def _map_or_read(fd: int, size: int) -> tuple[bytes | mmap.mmap, bool]:
    """The ``size`` bytes of open file ``fd``: mapped read-only from ``MAP_MIN_BYTES``
    on, else (or where it cannot be mapped: empty, or a file system that cannot) read;
    and whether they are mapped."""
    if size >= MAP_MIN_BYTES:
        try:
            return mmap.mmap(fd, size, prot=mmap.PROT_READ), True
        except (OSError, ValueError):
            pass
    return os.pread(fd, size, 0), False


def _read_file(path: str, touch: bool = False) -> bytes:
    """The bytes of the file at ``path`` (OSError if it cannot be read): without the
    buffered file object ``open`` makes, which costs more than reading a small entry.
    ``touch``: set its times to now (:func:`_touch`)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if touch:
            _touch(fd)
        if len(data) <= size:
            return data  # all of it (a shorter file fails its entry's check)
        chunks = [data]  # it grew since the fstat: read to its end
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _touch(fd: int) -> None:
    """Mark the open file ``fd`` used now (the size cleanup deletes the least recently
    used entries first): through the descriptor, ~4 us against ~17 for a path."""
    try:
        os.utime(fd)
    except OSError:
        pass


def _line_check(key: str, body: bytes) -> bytes:
    """The check of one plan-log line (its key is part of it: a log moved to another
    key's place checks nothing)."""
    return hashlib.sha256(key.encode() + b"\n" + body).hexdigest()[:16].encode("ascii")


def _checked_payload(data: bytes, key: str) -> memoryview | None:
    """What follows the key in an intact entry for ``key``, else None."""
    head = len(ENTRY_MAGIC)
    if not data.startswith(ENTRY_MAGIC) or len(data) < head + _DIGEST + _KEY:
        return None
    digest, payload = data[head:head + _DIGEST], data[head + _DIGEST:]
    if hashlib.sha256(payload).digest() != digest or payload[:_KEY] != key.encode():
        return None
    return memoryview(payload)[_KEY:]


def open_code_cache(directory: str | os.PathLike[str], fingerprint: Mapping[str, str],
                    size_limit: int | None = None) -> CodeCache | None:
    """The cache in ``directory`` (created if need be), or None with one
    :class:`CodeCacheWarning` when it cannot be created or written.  Its entries are
    kept within ``size_limit`` bytes (default: ``cache_cleanup.default_size_limit``) by
    a cleanup on a background thread when one is due (``cache_cleanup.py``)."""
    path = Path(directory).expanduser()
    try:
        root = path / f"v{FORMAT_VERSION}"
        root.mkdir(parents=True, exist_ok=True)
        # Probe: directories can be read-only without mkdir failing (they existed).
        fd, probe = tempfile.mkstemp(dir=root, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        _warn_once(path, f"{exc.strerror or exc}")
        return None
    cleanup_in_background(root, default_size_limit() if size_limit is None else size_limit)
    return CodeCache(path, fingerprint)


__all__ = ["CacheStats", "CodeCache", "CodeCacheWarning", "ENTRY_MAGIC", "PACK_MAGIC",
           "LoadedRecord", "RECORD_BODY_OFFSET", "open_code_cache"]
