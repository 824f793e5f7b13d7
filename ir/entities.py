"""Entity references: the numbers that name things inside one IR function.

Each kind is its own type for the type checker (``NewType`` over ``int``: free at run
time, as Cranelift's ``entity_impl!`` numbers are). Values print as ``vN``, blocks as
``blockN``, instructions have numbers but are never named in text; the declarations a
function's instructions refer to print as ``gvN``, ``heapN``, ``tableN``, ``sigN`` and
``fnN``, and are indices into the function's declaration lists.
"""

from __future__ import annotations

from typing import NewType

Value = NewType("Value", int)
"""An SSA value: an instruction result or a block parameter."""
Block = NewType("Block", int)
"""A basic block."""
Inst = NewType("Inst", int)
"""An instruction in the data-flow graph."""
GlobalValue = NewType("GlobalValue", int)
"""A global value declaration (``gvN``): vmctx, or an address computed from it."""
Heap = NewType("Heap", int)
"""A heap declaration (``heapN``): a linear memory."""
Table = NewType("Table", int)
"""A table declaration (``tableN``)."""
SigRef = NewType("SigRef", int)
"""A signature declaration (``sigN``), for indirect calls and external functions."""
FuncRef = NewType("FuncRef", int)
"""An external function declaration (``fnN``), for direct calls."""
