"""Exports of a module instantiated the way a fresh process with a code cache would:
no per-signature caller made yet in this process (``runtime/jit/callers.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store


def exports_as_a_fresh_process(monkeypatch: pytest.MonkeyPatch, cache_dir: str,
                               wat: str) -> tuple[Store, Any]:
    """The store and exports of ``wat`` on a new engine caching in ``cache_dir``, with
    this process's callers forgotten (as a fresh process has none)."""
    from pyjitwasm.runtime.jit import callers

    monkeypatch.setattr(callers, "_api_templates", {})
    config = Config()
    config.cache = cache_dir
    engine = Engine(config)
    store = Store(engine)
    return store, Instance(store, Module(engine, wat), []).exports(store)
