"""Which optional WebAssembly proposals a module may use: the ``Features`` flags.

The decoder reads a module against one ``Features`` value. A proposal pyjitwasm does not
implement at all is always rejected (``UnsupportedFeatureError`` naming it); a proposal it
implements behind a flag here is rejected the same way only while its flag is off. The
opcodes each flag gates are data in the generated ``opcodes.FEATURE_GATED``.

Defaults follow Wasmtime's: relaxed SIMD is on, custom page sizes are off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from pyjitwasm.wasm.opcodes import FEATURE_GATED


@dataclass(frozen=True, slots=True)
class Features:
    """The optional proposals a module may use.

    ``relaxed_simd``: the relaxed SIMD proposal's opcodes (``i8x16.relaxed_swizzle`` ...).
    ``custom_page_sizes``: memory types that declare a page size (limits flag 0x08).
    """

    relaxed_simd: bool = True
    custom_page_sizes: bool = False

    def disabled_opcodes(self) -> dict[int, str]:
        """Opcodes these flags switch off, each mapped to its proposal's name."""
        return _disabled_opcodes(self)


@cache
def _disabled_opcodes(features: Features) -> dict[int, str]:
    return {
        code: proposal
        for code, (flag, proposal) in FEATURE_GATED.items()
        if not getattr(features, flag)
    }


DEFAULT_FEATURES: Final = Features()
"""Every flag at its default (Wasmtime's defaults)."""
