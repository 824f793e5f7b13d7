"""WASI functions for arguments, environment, clocks, randomness and the process."""

from __future__ import annotations

import os
import time
from typing import Literal

from pyjitwasm.wasi.constants import ClockId, Errno
from pyjitwasm.wasi.context import WasiContext
from pyjitwasm.wasi.errors import ExitTrap, WasiErrno
from pyjitwasm.wasi.memory import GuestMemory
from pyjitwasm.wasi.registry import wasi_function


def _write_strings(mem: GuestMemory, items: list[bytes], ptrs: int, buf: int) -> None:
    # Check both destinations whole before writing anything.
    blob = b"".join(item + b"\0" for item in items)
    mem.check(ptrs, 4 * len(items))
    mem.check(buf, len(blob))
    pos = buf
    for i, item in enumerate(items):
        mem.write_u32(ptrs + 4 * i, pos)
        pos += len(item) + 1
    mem.write(buf, blob)


def _write_sizes(mem: GuestMemory, items: list[bytes], count_ptr: int, size_ptr: int) -> None:
    mem.check(count_ptr, 4)
    mem.check(size_ptr, 4)
    mem.write_u32(count_ptr, len(items))
    mem.write_u32(size_ptr, sum(len(item) + 1 for item in items))


@wasi_function("ii")
def args_get(ctx: WasiContext, mem: GuestMemory, argv: int, argv_buf: int) -> None:
    _write_strings(mem, ctx.args, argv, argv_buf)


@wasi_function("ii")
def args_sizes_get(ctx: WasiContext, mem: GuestMemory, count_ptr: int, size_ptr: int) -> None:
    _write_sizes(mem, ctx.args, count_ptr, size_ptr)


@wasi_function("ii")
def environ_get(ctx: WasiContext, mem: GuestMemory, environ: int, environ_buf: int) -> None:
    _write_strings(mem, ctx.env, environ, environ_buf)


@wasi_function("ii")
def environ_sizes_get(ctx: WasiContext, mem: GuestMemory, count_ptr: int, size_ptr: int) -> None:
    _write_sizes(mem, ctx.env, count_ptr, size_ptr)


ClockName = Literal["time", "monotonic", "process_time", "thread_time"]

_CLOCK_INFO_NAMES: dict[int, ClockName] = {
    ClockId.REALTIME: "time",
    ClockId.MONOTONIC: "monotonic",
    ClockId.PROCESS_CPUTIME_ID: "process_time",
    ClockId.THREAD_CPUTIME_ID: "thread_time",
}


def clock_now(clock_id: int) -> int:
    """The current time of a WASI clock in nanoseconds; EINVAL for an unknown clock."""
    if clock_id == ClockId.REALTIME:
        return time.time_ns()
    if clock_id == ClockId.MONOTONIC:
        return time.monotonic_ns()
    if clock_id == ClockId.PROCESS_CPUTIME_ID:
        return time.process_time_ns()
    if clock_id == ClockId.THREAD_CPUTIME_ID:
        return time.thread_time_ns()
    raise WasiErrno(Errno.INVAL)


@wasi_function("ii")
def clock_res_get(ctx: WasiContext, mem: GuestMemory, clock_id: int, res_ptr: int) -> None:
    name = _CLOCK_INFO_NAMES.get(clock_id)
    if name is None:
        raise WasiErrno(Errno.INVAL)
    resolution = max(1, round(time.get_clock_info(name).resolution * 1e9))
    mem.write_u64(res_ptr, resolution)


@wasi_function("iIi")
def clock_time_get(
    ctx: WasiContext, mem: GuestMemory, clock_id: int, precision: int, time_ptr: int
) -> None:
    mem.write_u64(time_ptr, clock_now(clock_id))


@wasi_function("ii")
def random_get(ctx: WasiContext, mem: GuestMemory, buf: int, buf_len: int) -> None:
    mem.check(buf, buf_len)
    mem.write(buf, os.urandom(buf_len))


@wasi_function("i", returns_errno=False)
def proc_exit(ctx: WasiContext, mem: GuestMemory, code: int) -> None:
    raise ExitTrap(code)


@wasi_function("i")
def proc_raise(ctx: WasiContext, mem: GuestMemory, signal: int) -> None:
    raise WasiErrno(Errno.NOSYS)


@wasi_function("")
def sched_yield(ctx: WasiContext, mem: GuestMemory) -> None:
    yield_now = getattr(os, "sched_yield", None)
    if yield_now is not None:
        yield_now()


@wasi_function("iii")
def sock_accept(ctx: WasiContext, mem: GuestMemory, fd: int, flags: int, ret: int) -> None:
    ctx.get(fd)
    raise WasiErrno(Errno.NOTSOCK)


@wasi_function("iiiiii")
def sock_recv(ctx: WasiContext, mem: GuestMemory, fd: int, data: int, data_len: int,
              flags: int, ret_len: int, ret_flags: int) -> None:
    ctx.get(fd)
    raise WasiErrno(Errno.NOTSOCK)


@wasi_function("iiiii")
def sock_send(ctx: WasiContext, mem: GuestMemory, fd: int, data: int, data_len: int,
              flags: int, ret_len: int) -> None:
    ctx.get(fd)
    raise WasiErrno(Errno.NOTSOCK)


@wasi_function("ii")
def sock_shutdown(ctx: WasiContext, mem: GuestMemory, fd: int, how: int) -> None:
    ctx.get(fd)
    raise WasiErrno(Errno.NOTSOCK)
