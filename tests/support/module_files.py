"""Loading a Python file that is not an importable module of ours (a tool in tools/, a
bench script, another test file) as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""


def load_module_file(path: Path, name: str) -> ModuleType:
    """The file at ``path`` executed as module ``name`` (registered in ``sys.modules``
    first: dataclasses look their module up there while they are made)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
