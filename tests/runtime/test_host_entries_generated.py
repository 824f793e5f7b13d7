"""runtime/jit/host_entries.py is generated (tools/gen_host_entries.py) from
``hostcalls.factory_source``: regenerate it and compare, and check that the WASI
signatures' entries come from it rather than from ``exec``."""

from __future__ import annotations

from types import ModuleType

import pytest

from pyjitwasm.runtime.jit import host_entries, hostcalls
from pyjitwasm.wasm.types import I32, I64, FuncType

from support.module_files import ROOT, load_module_file


def _generator() -> ModuleType:
    return load_module_file(ROOT / "tools" / "gen_host_entries.py", "gen_host_entries")


def test_checked_in_entries_match_the_generator() -> None:
    assert (ROOT / "runtime" / "jit" / "host_entries.py").read_text() == \
        _generator().generate()


def test_a_wasi_signature_is_not_compiled_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ftype = FuncType((I32, I64, I32), (I32,))  # e.g. fd_seek's shape
    assert hasattr(host_entries, hostcalls.factory_name(ftype, True))
    monkeypatch.setattr(hostcalls, "_templates", {})

    def no_exec(*args: object) -> None:
        raise AssertionError("compiled at run time")

    monkeypatch.setattr(hostcalls, "exec", no_exec, raising=False)
    make = hostcalls._template(ftype, True)  # noqa: SLF001 - the lookup under test
    assert callable(make)
    # A signature WASI does not have is compiled from the same source.
    other = FuncType((I64, I64, I64, I64, I64), (I64,))
    assert not hasattr(host_entries, hostcalls.factory_name(other, False))
    with pytest.raises(AssertionError, match="compiled at run time"):
        hostcalls._template(other, False)  # noqa: SLF001
