"""``poll_oneoff``: wait for clock timeouts; descriptors are always reported ready.

Regular files never block, and the streams this host offers are read with blocking
calls, so a read/write subscription on any open descriptor completes at once (the
guest's next fd_read may still block on an inherited stdin).
"""

from __future__ import annotations

import os
import time

from pyjitwasm.wasi.constants import SUBCLOCK_ABSTIME, Errno, EventType, Rights
from pyjitwasm.wasi.context import WasiContext
from pyjitwasm.wasi.descriptors import HostFile
from pyjitwasm.wasi.errors import WasiErrno
from pyjitwasm.wasi.memory import GuestMemory
from pyjitwasm.wasi.proc import clock_now
from pyjitwasm.wasi.registry import EVENT, SUBSCRIPTION, wasi_function


def _fd_event(ctx: WasiContext, userdata: int, kind: int, fd: int) -> bytes:
    entry = ctx.fds.get(fd)
    if entry is None:
        return EVENT.pack(userdata, Errno.BADF, kind, 0, 0)
    if entry.rights_base & Rights.POLL_FD_READWRITE == 0 and not isinstance(entry, HostFile):
        return EVENT.pack(userdata, Errno.NOTCAPABLE, kind, 0, 0)
    available = 0
    if kind == EventType.FD_READ and isinstance(entry, HostFile) and entry.host_fd is not None:
        try:
            size = os.fstat(entry.host_fd).st_size
            available = max(0, size - os.lseek(entry.host_fd, 0, os.SEEK_CUR))
        except OSError:
            available = 0
    return EVENT.pack(userdata, Errno.SUCCESS, kind, available, 0)


@wasi_function("iiii")
def poll_oneoff(ctx: WasiContext, mem: GuestMemory, in_ptr: int, out_ptr: int,
                nsubscriptions: int, nevents_ptr: int) -> None:
    if nsubscriptions == 0:
        raise WasiErrno(Errno.INVAL)
    raw = mem.read(in_ptr, nsubscriptions * SUBSCRIPTION.size)
    mem.check(out_ptr, nsubscriptions * EVENT.size)
    mem.check(nevents_ptr, 4)
    events: list[bytes] = []
    # Clock subscriptions as (deadline on the monotonic clock, userdata).
    timers: list[tuple[int, int]] = []
    now = time.monotonic_ns()
    for userdata, tag, ident, timeout, _precision, flags in SUBSCRIPTION.iter_unpack(raw):
        if tag == EventType.CLOCK:
            try:
                clock_time = clock_now(ident)  # EINVAL for an unknown clock
                remaining = timeout - clock_time if flags & SUBCLOCK_ABSTIME else timeout
            except WasiErrno as e:
                events.append(EVENT.pack(userdata, e.errno, EventType.CLOCK, 0, 0))
                continue
            timers.append((now + max(0, remaining), userdata))
        elif tag in (EventType.FD_READ, EventType.FD_WRITE):
            events.append(_fd_event(ctx, userdata, tag, ident))
        else:
            raise WasiErrno(Errno.INVAL)
    if not events and timers:
        # Nothing else is ready: sleep until the first timer fires.
        delay = min(deadline for deadline, _ in timers) - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
    fired = time.monotonic_ns()
    for deadline, userdata in timers:
        if deadline <= fired:
            events.append(EVENT.pack(userdata, Errno.SUCCESS, EventType.CLOCK, 0, 0))
    mem.write(out_ptr, b"".join(events))
    mem.write_u32(nevents_ptr, len(events))
