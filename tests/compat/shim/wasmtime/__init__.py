"""``import wasmtime`` resolving to pyjitwasm: the compat harness puts this folder first on
``sys.path`` so wasmtime-py's own test suite runs, unmodified, against pyjitwasm."""

from pyjitwasm import *  # noqa: F403
from pyjitwasm import __all__  # noqa: F401
