"""Shared test setup: the spec-tests folder's helpers (testsuite location, conversion)."""

from __future__ import annotations

import sys
from pathlib import Path

# One place knows where the testsuite lives and how scripts are converted: spec-tests/wast.py.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "spec-tests"))
