"""Source locations in the emitted LLVM IR, so machine code maps back to them.

Every IR instruction carries a source location (``DataFlowGraph.srclocs``: for wasm,
the instruction's byte offset in the module).  When the module asks for them, each
LLVM instruction lowered from an IR instruction gets a debug location whose *line* is
that source location, inside one ``DISubprogram`` per function of a line-tables-only
compile unit.  LLVM keeps debug locations through optimization and instruction
selection at no run-time cost, and the object it emits then has a DWARF line table
(``.debug_line``) from machine-code offsets to those lines, which ``jit/dwarf_lines.py``
reads back: a return address or a faulting PC becomes a wasm offset.  Line 0 means
"no location" (an instruction without a source location, and what LLVM gives an
instruction it made by merging two of different places).

Metadata numbers from ``FIRST_NODE`` up belong to this module (``lower.py``'s fixed
nodes use the low ones).
"""

from __future__ import annotations

FIRST_NODE = 100
"""The first metadata number used for debug information."""

_CU = FIRST_NODE
_FILE = FIRST_NODE + 1
_SUBROUTINE_TYPE = FIRST_NODE + 2
_VERSION_FLAG = FIRST_NODE + 3
_DWARF_FLAG = FIRST_NODE + 4
_FIRST_FREE = FIRST_NODE + 5


class DebugLocations:
    """Allocates the debug-information metadata of one LLVM module: one subprogram per
    function and one location node per distinct (function, line)."""

    def __init__(self) -> None:
        self._next = _FIRST_FREE
        self._nodes: list[str] = []

    def _node(self, text: str) -> int:
        number = self._next
        self._next += 1
        self._nodes.append(f"!{number} = {text}")
        return number

    def function(self, name: str) -> FunctionLocations:
        """The locations of function ``name`` (its definition gets ``!dbg`` of
        :attr:`FunctionLocations.subprogram`)."""
        subprogram = self._node(
            f'distinct !DISubprogram(name: "{name}", scope: !{_FILE}, file: !{_FILE}, '
            f"type: !{_SUBROUTINE_TYPE}, spFlags: DISPFlagDefinition | DISPFlagOptimized, "
            f"unit: !{_CU})")
        return FunctionLocations(self, subprogram)

    def metadata(self) -> str:
        """The module-level metadata: compile unit, flags and every node allocated."""
        return "\n".join([
            f"!llvm.dbg.cu = !{{!{_CU}}}",
            f"!llvm.module.flags = !{{!{_VERSION_FLAG}, !{_DWARF_FLAG}}}",
            f'!{_CU} = distinct !DICompileUnit(language: DW_LANG_C, file: !{_FILE}, '
            'producer: "pyjitwasm", isOptimized: true, runtimeVersion: 0, '
            "emissionKind: DebugDirectivesOnly)",
            f'!{_FILE} = !DIFile(filename: "wasm", directory: "")',
            f"!{_SUBROUTINE_TYPE} = !DISubroutineType(types: !{{}})",
            f'!{_VERSION_FLAG} = !{{i32 2, !"Debug Info Version", i32 3}}',
            # Version 4: the line table names its files inline (version 5 would need
            # .debug_line_str as well).
            f'!{_DWARF_FLAG} = !{{i32 7, !"Dwarf Version", i32 4}}',
            *self._nodes,
        ]) + "\n"


class FunctionLocations:
    """The debug locations of one function."""

    def __init__(self, module: DebugLocations, subprogram: int) -> None:
        self._module = module
        self.subprogram = subprogram
        self._suffixes: dict[int, str] = {}

    def suffix(self, line: int) -> str:
        """``", !dbg !N"`` for an instruction at source location ``line`` (negative:
        none, which becomes line 0)."""
        suffix = self._suffixes.get(line)
        if suffix is None:
            number = self._module._node(
                f"!DILocation(line: {max(line, 0)}, scope: !{self.subprogram})")
            suffix = self._suffixes[line] = f", !dbg !{number}"
        return suffix
