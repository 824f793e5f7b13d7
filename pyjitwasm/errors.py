"""Error classes of the embedding API that wear two hats.

wasmtime-py reports some mistakes with a builtin exception and others with
``WasmtimeError``, and code written for it catches whichever wasmtime-py raises. Where
pyjitwasm's natural choice differs, it raises a class that is both, so handlers written for
either library work: an argument of the wrong kind is a ``TypeError`` and (as wasmtime-py's
attribute lookups make it) an ``AttributeError``; a bad count, size or index is both the
builtin error and a ``WasmError`` (``WasmtimeError``).
"""

from __future__ import annotations

from pyjitwasm.wasm.errors import WasmError


class ArgumentTypeError(TypeError, AttributeError):
    """An argument is not the kind of object expected (a Store, Engine, Module, str...)."""


class WasmTypeError(WasmError, TypeError):
    """Wrong number or types of values: arguments of a call, results of a host function."""


class WasmValueError(WasmError, ValueError):
    """A value out of its allowed range (a negative grow, a memory too large, an unknown
    setting)."""


class WasmIndexError(WasmError, IndexError):
    """An index or range outside a memory or table."""


class UnsupportedConfigError(WasmValueError):
    """A Config setting pyjitwasm does not implement (a proposal, fuel, a profiler...).
    ``setting`` names it."""

    def __init__(self, setting: str, why: str) -> None:
        super().__init__(f"{setting}: {why}")
        self.setting = setting


def require_str(value: object, what: str) -> str:
    """``value`` if it is a str, else ArgumentTypeError naming ``what``."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{what} must be a str, got {type(value).__name__}")
    return value
