"""The vmctx layout, re-exported for the JIT layer.

The one definition lives in ``pyjitwasm.ir.vmctx``: the wasm-to-IR translator computes
the same offsets, and ``ir`` sits below ``jit`` in the data flow.
"""

from ..ir.vmctx import *  # noqa: F403
