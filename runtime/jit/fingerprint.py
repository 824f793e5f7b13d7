"""What compiled code depends on besides the module: the compiler's fingerprint.

Machine code made by one process may be reused by another (the code cache, serialized
modules) only when everything that shapes it is the same: the artifact format, the
pyjitwasm version and the source of the compiler itself (``build``: a hash of the
stages' source files, so a development checkout never loads code an older compiler
made), the LLVM version, the target (triple, CPU name and features) and every option
that changes code.  ``compiler_fingerprint`` collects them as named strings, so a
mismatch can be reported by name; ``fingerprint_digest`` hashes them into the part of a
cache key that does not depend on the module.

Which options change code is decided here, once: every ``CompileOptions`` field counts
unless :data:`OPTIONS_NOT_AFFECTING_CODE` names it, so a field added later (epoch or
fuel checks, a tier's pipeline) changes the key without anyone remembering to add it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from pyjitwasm.runtime.jit.atomic_file import write_atomically
from pyjitwasm.runtime.jit.compile_module import CompileOptions
from pyjitwasm.runtime.jit.llvm_library import llvm_library_path

FORMAT_VERSION = 1
"""Version of the cache entry and ``.cwasm`` layouts and of what a batch records."""

OPTIONS_NOT_AFFECTING_CODE = frozenset({
    "verify",  # checks the IR; the code is the same
    "keep_ir",  # keeps the IR for inspection
    "lazy",  # when code is compiled; batches record how they were made (separate...)
    "lazy_batch_instructions",  # which functions share a batch; keys name the functions
})
"""``CompileOptions`` fields left out of the key (every other field is in it)."""

# Where the compiler's source lives: the stage folders whose code shapes machine code.
_SOURCE_PACKAGES = ("wasm", "ir", "translate", "baseline", "x64", "jit", "runtime",
                    "libcalls")
_build_lock = threading.Lock()
_build_id: str | None = None
_host: dict[str, str] | None = None


def options_key(options: CompileOptions) -> dict[str, str]:
    """The code-affecting fields of ``options``, by name (values as their repr)."""
    return {f.name: repr(getattr(options, f.name)) for f in dataclasses.fields(options)
            if f.name not in OPTIONS_NOT_AFFECTING_CODE}


def build_id(memo_directory: Path | None = None) -> str:
    """A hash of the compiler's source files (computed once per process).

    Reading and hashing the ~140 files costs ~3 ms, a fifth of a small program's warm
    start; their sizes and modification times cost a fifth of that.  So with
    ``memo_directory`` (the code cache's directory) the hash is kept in a small file
    named by a digest of every file's path, size and modification time, and read back
    while they are unchanged: the rule by which Python itself trusts a ``.pyc``."""
    global _build_id
    with _build_lock:
        if _build_id is None:
            sources = _source_files()
            memo = None
            if memo_directory is not None:
                stats = hashlib.sha256()
                for relative, path in sources:
                    info = os.stat(path)
                    stats.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
                memo = memo_directory / f"build-{stats.hexdigest()[:24]}.id"
                try:
                    found = memo.read_text()
                    if len(found) == 32 and all(c in "0123456789abcdef" for c in found):
                        _build_id = found
                        return found
                except OSError:
                    pass
            digest = hashlib.sha256()
            for relative, path in sources:
                digest.update(relative.encode())
                with open(path, "rb") as source:
                    digest.update(source.read())
            _build_id = digest.hexdigest()[:32]
            if memo is not None:
                try:
                    write_atomically(memo, _build_id.encode(), make_parents=False)
                except OSError:
                    pass  # an unwritable cache: the code cache itself warns about it
        return _build_id


def _source_files() -> list[tuple[str, str]]:
    """(name relative to its stage folder's parent, path) of every source file of the
    stages in :data:`_SOURCE_PACKAGES`, in a fixed order."""
    root = Path(__file__).resolve().parent.parent.parent
    files = []
    for package in _SOURCE_PACKAGES:
        folder = str((root / package).resolve())
        # os.walk with string paths: a third cheaper than Path.rglob here.
        for directory, subdirectories, names in os.walk(folder):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            relative = directory[len(folder):]
            files += [(f"{relative}/{name}", os.path.join(directory, name))
                      for name in sorted(names) if name.endswith((".py", ".c", ".h"))]
    return files


def host_target(memo_directory: Path | None = None) -> dict[str, str]:
    """LLVM's version and the target code is compiled for (this CPU, all its features).

    Asking LLVM means loading it (~45 MB of RSS, ~30 ms), which a warm start that finds
    all its code in the cache otherwise never does.  So with ``memo_directory`` (the
    code cache's directory) the answer is kept in a small file named by a digest of
    what it depends on, as the operating system reports it without LLVM
    (:func:`_host_probe`: the CPU's identity and flags, the host name, llvmlite's
    version), and read back when that digest matches."""
    global _host
    if _host is None:
        memo = None
        if memo_directory is not None:
            memo = memo_directory / f"host-{_host_probe()}.json"
            try:
                found = json.loads(memo.read_text())
                if isinstance(found, dict) and set(found) == set(_HOST_FIELDS) and all(
                        isinstance(value, str) for value in found.values()):
                    _host = found
                    return dict(found)
            except (OSError, ValueError):
                pass
        _host = _ask_llvm()
        if memo is not None:
            try:
                write_atomically(memo, json.dumps(_host).encode(), make_parents=False)
            except OSError:
                pass  # an unwritable cache: the code cache itself warns about it
    return dict(_host)


_HOST_FIELDS = ("llvm", "triple", "cpu", "cpu_features")
_CPUINFO_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping",
                   "microcode", "flags")


def _ask_llvm() -> dict[str, str]:
    import llvmlite.binding as llvm

    from pyjitwasm.jit.codeload import ensure_llvm_initialized

    ensure_llvm_initialized()
    return {
        "llvm": ".".join(str(part) for part in llvm.llvm_version_info),
        "triple": llvm.get_process_triple(),
        "cpu": llvm.get_host_cpu_name(),
        "cpu_features": llvm.get_host_cpu_features().flatten(),
    }


def _host_probe() -> str:
    """A digest of what LLVM's answer in :func:`host_target` depends on, read without
    LLVM: the first CPU's identity and flags (``/proc/cpuinfo``), the machine, the host
    name (a cache directory shared between machines keeps one memo each) and the LLVM
    library llvmlite would load (:func:`_llvm_identity`)."""
    lines: list[str] = []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break  # the first processor's block is enough
                key = line.split(":", 1)[0].strip()
                if key in _CPUINFO_FIELDS:
                    lines.append(line.strip())
    except OSError:
        import platform  # here: a host with /proc/cpuinfo never needs it

        lines.append(platform.processor())
    # os.uname: the same strings as platform.machine/system and socket.gethostname,
    # without importing either module at start-up.
    host = os.uname()
    lines += [host.machine, host.sysname, host.nodename, _llvm_identity()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:24]


def _llvm_identity() -> str:
    """Which LLVM build llvmlite would load: its library file's path, size and
    modification time (a third of the cost of importing the llvmlite package for its
    version, which a warm start does not otherwise need), or that version when the
    library is not where llvmlite keeps it."""
    library = llvm_library_path()
    if library is not None:
        try:
            info = os.stat(library)
            return f"{library} {info.st_size} {info.st_mtime_ns}"
        except OSError:
            pass
    import llvmlite  # the package alone, not its LLVM library (llvmlite.binding)

    return str(llvmlite.__version__)


def compiler_fingerprint(options: CompileOptions, version: str,
                         settings: Mapping[str, str] | None = None,
                         memo_directory: Path | None = None) -> dict[str, str]:
    """Everything besides the module that the machine code depends on, by name.
    ``version``: pyjitwasm's version; ``settings``: engine settings outside
    ``CompileOptions`` that count too (the wasm features, ...); ``memo_directory``: see
    :func:`host_target`."""
    fingerprint = {"format": str(FORMAT_VERSION), "pyjitwasm": version,
                   "build": build_id(memo_directory),
                   **host_target(memo_directory)}
    fingerprint.update({f"option.{name}": value for name, value in options_key(options).items()})
    fingerprint.update({f"setting.{name}": value for name, value in (settings or {}).items()})
    return fingerprint


def fingerprint_digest(fingerprint: Mapping[str, str]) -> str:
    """A hash of a fingerprint (the module-independent part of a cache key)."""
    # Names and values joined with separators neither contains (names are identifiers,
    # values reprs or version strings): as unambiguous as JSON, without its encoder's
    # first-use cost in a warm start (~80 us, for the options part of every key).
    text = "\n".join(f"{name}\0{value}" for name, value in sorted(fingerprint.items()))
    return hashlib.sha256(text.encode()).hexdigest()


__all__ = ["FORMAT_VERSION", "OPTIONS_NOT_AFFECTING_CODE", "build_id", "compiler_fingerprint",
           "fingerprint_digest", "host_target", "options_key"]
