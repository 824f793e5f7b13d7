"""Defining the wasi_snapshot_preview1 imports in a Linker.

Each import is a host function with ``access_caller=True``: it finds the WASI state of
the caller's store and the caller's exported ``memory`` through the public embedding
API only, so it runs unchanged on every engine.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.externs import Caller
from pyjitwasm.linker import Linker
from pyjitwasm.valtypes import FuncType, ValType
from pyjitwasm.wasi import fd_ops, path_ops, poll, proc  # noqa: F401 - they register the functions
from pyjitwasm.wasi.constants import MODULE, Errno
from pyjitwasm.wasi.context import wasi_context
from pyjitwasm.wasi.errors import WasiErrno, errno_of_oserror
from pyjitwasm.wasi.memory import GuestMemory
from pyjitwasm.wasi.registry import FUNCTIONS, WasiFunction

_MASKS = {"i": 0xFFFFFFFF, "I": 0xFFFFFFFFFFFFFFFF}


def _host_function(spec: WasiFunction) -> Any:
    impl = spec.impl
    masks = [_MASKS[p] for p in spec.params]

    def call(caller: Caller, *args: int) -> int | None:
        context = wasi_context(caller)
        # The API passes ints signed; every WASI parameter is unsigned (fd_seek's signed
        # offset converts itself back).
        unsigned = [a & m for a, m in zip(args, masks, strict=True)]
        try:
            impl(context, GuestMemory(caller), *unsigned)
        except WasiErrno as e:
            return int(e.errno)
        except OSError as e:
            return int(errno_of_oserror(e))
        except (OverflowError, ValueError):
            return int(Errno.INVAL)  # a number the host call cannot represent
        return 0 if spec.returns_errno else None

    call.__name__ = call.__qualname__ = spec.name
    return call


def _func_type(spec: WasiFunction) -> FuncType:
    params = [ValType.i64() if p == "I" else ValType.i32() for p in spec.params]
    return FuncType(params, [ValType.i32()] if spec.returns_errno else [])


def define_wasi(linker: Linker) -> None:
    """Define every ``wasi_snapshot_preview1`` function in ``linker`` (``Linker.define_wasi``).

    The functions use the WASI state given to the calling store with ``set_wasi``.
    """
    if not isinstance(linker, Linker):
        raise TypeError("expected a Linker")
    for spec in FUNCTIONS.values():
        linker.define_func(MODULE, spec.name, _func_type(spec), _host_function(spec),
                           access_caller=True)


def function_names() -> list[str]:
    """The names of the WASI functions this package implements, sorted."""
    return sorted(FUNCTIONS)
