"""What the back end compiles besides IR functions, as plain data: entry shims to emit
(``ShimSpec``) and functions already lowered to LLVM text (``LoweredFunction``, from
``baseline/``). Kept apart from ``lower_module`` so that code naming them (the runtime, a
warm start, the ``x64/`` tier 0) does not import the IR lowering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyjitwasm.ir.types import Type
from pyjitwasm.jit import abi

if TYPE_CHECKING:
    from pyjitwasm.jit.lower_debug import FunctionLocations


@dataclass(frozen=True)
class ShimSpec:
    """An entry shim to emit: its symbol and the signature (IR value types)."""

    name: str
    params: tuple[Type, ...]
    results: tuple[Type, ...]


@dataclass(frozen=True)
class LoweredFunction:
    """A function already in LLVM text: its symbol, the text defining it (attribute
    group ``#0`` and ``module_metadata``'s nodes are the module's), the ``declare``
    lines it needs by name, whether it has internal linkage, and ``index``, the
    caller's number for it (as ``FunctionToCompile.index``)."""

    index: int
    name: str
    text: str
    declarations: dict[str, str]
    internal: bool = False
    # The same function's text with debug locations (``ModuleText(source_locations=
    # True)`` asks for it), made on demand: only a backtrace's first lookup needs it.
    with_locations: Callable[[FunctionLocations], str] | None = None


def entry_shim_name(params: Sequence[Type], results: Sequence[Type]) -> str:
    """The symbol of the entry shim for a signature (shared by equal signatures)."""
    return "entry_" + abi.signature_tag(params, results)
