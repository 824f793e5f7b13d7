"""Reading a module from a file for the subcommands, with errors worded for the terminal."""

from __future__ import annotations

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError, ValidationError
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.validator import validate_module


class CommandError(Exception):
    """A problem the command reports as one line (``FILE: what``) and exit status 1."""


def load_module(path: str, *, validate: bool = True) -> WasmModule:
    """Decode (and by default validate) the module in ``path``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CommandError(f"{path}: cannot read: {e.strerror}") from e
    try:
        module = decode_module(data)
        if validate:
            validate_module(module)
    except DecodeError as e:
        raise CommandError(f"{path}: malformed: {e}") from e
    except ValidationError as e:
        raise CommandError(f"{path}: invalid: {e}") from e
    return module
