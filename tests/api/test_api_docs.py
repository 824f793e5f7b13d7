"""Runs every ```python block of docs/embedding.md and README.md so the examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "embedding.md", ROOT / "README.md"]
BLOCKS = [
    (doc, i, block)
    for doc in DOCS
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S))
]


def test_docs_have_examples() -> None:
    per_doc = {doc.name: sum(1 for d, _, _ in BLOCKS if d == doc) for doc in DOCS}
    assert per_doc["embedding.md"] >= 7
    assert per_doc["README.md"] >= 1


@pytest.mark.parametrize(("doc", "index", "block"), BLOCKS,
                         ids=[f"{d.name}-{i}" for d, i, _ in BLOCKS])
def test_doc_example_runs(doc: Path, index: int, block: str) -> None:
    code = compile(block, f"{doc.name}[block {index}]", "exec")
    exec(code, {"__name__": "__doc_example__"})
