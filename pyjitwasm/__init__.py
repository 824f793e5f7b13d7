"""pyjitwasm: a WebAssembly JIT compiler and runtime for Python hosts.

The component folders of the repository (``wasm/``, ``ir/``, ``jit/``, ``runtime/``,
``libcalls/``, ``interp/``) install as subpackages of this package.
"""

from __future__ import annotations

import os as _os

# Run from a source checkout without installing (``python -m pyjitwasm`` in the repo root
# puts the checkout first on sys.path): the component folders sit beside this package, so
# extend the package path to the checkout root, which maps them exactly as installing does.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "wasm")) and _os.path.isfile(
    _os.path.join(_root, "wasm", "decoder.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821

from .wasm.errors import DecodeError, UnsupportedFeatureError, ValidationError, WasmError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "DecodeError",
    "UnsupportedFeatureError",
    "ValidationError",
    "WasmError",
]
