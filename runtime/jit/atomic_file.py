"""Files of the code cache written whole or not at all: readers in other processes see
the old file or the new one, never a part."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, make_parents: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.
    ``make_parents``: create missing directories above it first (else only its own
    directory, whose parent must exist).  Raises OSError; leaves no temporary behind."""
    path.parent.mkdir(parents=make_parents, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


__all__ = ["write_atomically"]
