"""Shared test setup: the spec-tests folder's helpers (testsuite location, conversion),
and no default code cache.

``PYJITWASM_CACHE=0`` turns off the default code cache (``Config.cache = True`` and
``pyjitwasm run``'s default) for this process and every subprocess a test starts, so the
suite never reads or writes the user's cache; tests of the cache use temporary
directories explicitly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["PYJITWASM_CACHE"] = "0"

# One place knows where the testsuite lives and how scripts are converted: spec-tests/wast.py.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "spec-tests"))
