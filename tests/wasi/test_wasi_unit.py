"""WASI pieces in isolation: the sandbox resolver, configuration, errno mapping, and each
WASI function called from a small wasm harness (every import, re-exported through a wasm
wrapper so it runs with the harness's memory as the caller's)."""

from __future__ import annotations

import errno as host_errno
import os
import struct
import time
from pathlib import Path

import pytest

from pyjitwasm import Config, Engine, Linker, Module, Store, Trap, WasmError
from pyjitwasm.commands.run import exit_status
from pyjitwasm.wasi import Errno, ExitTrap, MissingMemoryError, WasiConfig, define_wasi, set_wasi
from pyjitwasm.wasi.constants import MODULE, Filetype, OFlags, Rights
from pyjitwasm.wasi.errors import WasiErrno, errno_of_oserror
from pyjitwasm.wasi.registry import FUNCTIONS
from pyjitwasm.wasi.sandbox import resolve

# ---------------------------------------------------------------- sandbox resolver


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/{file, dir/{inner}, up -> .., dirlink -> dir, abs -> /tmp, loop1 <-> loop2}."""
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "file").write_text("f")
    (root / "dir" / "inner").write_text("i")
    (root / "dir" / "up").symlink_to("..")
    (root / "dir" / "out").symlink_to("../..")
    (root / "dirlink").symlink_to("dir")
    (root / "abs").symlink_to(tmp_path)
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (tmp_path / "secret").write_text("s")
    return root


def _resolve_errno(root_fd: int, path: str, follow: bool = True) -> Errno | str:
    try:
        with resolve(root_fd, path, follow) as r:
            return os.path.basename(os.readlink(f"/proc/self/fd/{r.dir_fd}")) + ":" + r.name
    except WasiErrno as e:
        return e.errno


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names dirs via /proc")
@pytest.mark.parametrize(("path", "expected"), [
    ("file", "root:file"),
    ("dir/inner", "dir:inner"),
    ("dir/../file", "root:file"),
    ("./dir/./inner", "dir:inner"),
    ("dirlink/inner", "dir:inner"),
    ("dir/up/file", "root:file"),
    ("dir/up", "root:."),
    ("dir/", "root:dir"),  # with must_be_dir set
    (".", "root:."),
    ("new-file", "root:new-file"),
    ("..", Errno.NOTCAPABLE),
    ("../root/file", Errno.NOTCAPABLE),
    ("dir/../../secret", Errno.NOTCAPABLE),
    ("/etc/passwd", Errno.NOTCAPABLE),
    ("abs/secret", Errno.NOTCAPABLE),
    ("abs", Errno.NOTCAPABLE),
    ("dir/out/secret", Errno.NOTCAPABLE),
    ("dir/up/dir/up/../secret", Errno.NOTCAPABLE),
    ("loop1", Errno.LOOP),
    ("file/x", Errno.NOTDIR),
    ("missing/x", Errno.NOENT),
    ("", Errno.NOENT),
    ("bad\0name", Errno.INVAL),
])
def test_resolve(tree: Path, path: str, expected: Errno | str) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        before = len(os.listdir("/proc/self/fd"))
        assert _resolve_errno(fd, path) == expected
        assert len(os.listdir("/proc/self/fd")) == before  # no descriptor leaks
    finally:
        os.close(fd)


def test_resolve_final_symlink_not_followed(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with resolve(fd, "abs", follow_final=False) as r:
            assert r.name == "abs" and r.dir_fd == fd  # the link itself, never its target
        with pytest.raises(WasiErrno) as info:
            resolve(fd, "abs/", follow_final=False)  # a trailing slash forces following
        assert info.value.errno == Errno.NOTCAPABLE
    finally:
        os.close(fd)


# ---------------------------------------------------------------- small pieces


def test_errno_mapping() -> None:
    assert errno_of_oserror(OSError(host_errno.ENOENT, "x")) == Errno.NOENT
    assert errno_of_oserror(OSError(host_errno.EEXIST, "x")) == Errno.EXIST
    assert errno_of_oserror(OSError(host_errno.E2BIG, "x")) == Errno.TOOBIG
    assert errno_of_oserror(OSError("no errno")) == Errno.IO


def test_exit_status() -> None:
    assert [exit_status(c) for c in (0, 1, 125, 255)] == [0, 1, 125, 255]
    assert exit_status(-1) == 255  # exit(-1) arrives as an i32
    assert exit_status(256) == 1 and exit_status(257) == 1


def test_config_validation(tmp_path: Path) -> None:
    config = WasiConfig()
    with pytest.raises(ValueError):
        config.env = [("A=B", "c")]
    with pytest.raises(TypeError):
        config.argv = ["ok", 3]
    with pytest.raises(ValueError):
        config.preopen_dir(tmp_path / "missing", "x")
    config.env = {"A": "1"}
    assert config.env == [("A", "1")]
    config.inherit_env()
    assert ("PATH", os.environ["PATH"]) in config.env
    with pytest.raises(TypeError):
        set_wasi(Store(), object())


def test_exit_trap_is_not_a_trap() -> None:
    assert not issubclass(ExitTrap, Trap) and issubclass(ExitTrap, WasmError)
    assert ExitTrap(3).code == 3


def test_every_preview1_function_is_defined() -> None:
    assert len(FUNCTIONS) == 46
    for prefix, count in (("args_", 2), ("environ_", 2), ("clock_", 2), ("fd_", 21),
                          ("path_", 10), ("sock_", 4)):
        assert sum(name.startswith(prefix) for name in FUNCTIONS) == count


# ---------------------------------------------------------------- the wasm harness

SCRATCH = 4096


def harness_wat() -> str:
    """A module importing every WASI function and exporting a wrapper ``w_NAME`` that
    calls it, plus a 1-page memory."""
    parts = ["(module"]
    for spec in FUNCTIONS.values():
        params = " ".join("i64" if p == "I" else "i32" for p in spec.params)
        result = " (result i32)" if spec.returns_errno else ""
        sig = f"(param {params}){result}" if params else result
        parts.append(f'  (import "{MODULE}" "{spec.name}" (func ${spec.name} {sig}))')
    parts.append('  (memory (export "memory") 1)')
    for spec in FUNCTIONS.values():
        params = " ".join("i64" if p == "I" else "i32" for p in spec.params)
        result = " (result i32)" if spec.returns_errno else ""
        args = " ".join(f"(local.get {i})" for i in range(len(spec.params)))
        sig = f"(param {params}){result}" if params else result
        parts.append(f'  (func (export "w_{spec.name}") {sig} (call ${spec.name} {args}))')
    parts.append(")")
    return "\n".join(parts)


_HARNESS: dict[str, bytes] = {}


class Guest:
    """A harness instance with a WASI config; ``call`` returns the errno."""

    def __init__(self, config: WasiConfig) -> None:
        engine = Engine(Config(strategy="interp"))
        if "wasm" not in _HARNESS:
            from pyjitwasm import wat2wasm

            _HARNESS["wasm"] = wat2wasm(harness_wat())
        self.store = Store(engine)
        set_wasi(self.store, config)
        linker = Linker(engine)
        define_wasi(linker)
        self.exports = linker.instantiate(self.store, Module(engine, _HARNESS["wasm"])).exports(
            self.store)
        self.memory = self.exports["memory"]
        self.next = SCRATCH

    def call(self, name: str, *args: int) -> int:
        return self.exports[f"w_{name}"](self.store, *args)

    def alloc(self, data: bytes) -> int:
        addr = self.next
        self.memory.write(self.store, data, addr)
        self.next += (len(data) + 15) & ~7
        return addr

    def string(self, text: str) -> tuple[int, int]:
        raw = text.encode()
        return self.alloc(raw), len(raw)

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.memory.read(self.store, addr, addr + n))

    def u32(self, addr: int) -> int:
        return int(struct.unpack("<I", self.read(addr, 4))[0])

    def u64(self, addr: int) -> int:
        return int(struct.unpack("<Q", self.read(addr, 8))[0])

    def open(self, path: str, oflags: int = 0, rights: int = Rights.ALL, dirfd: int = 3,
             follow: int = 0, fdflags: int = 0) -> tuple[int, int]:
        p, n = self.string(path)
        out = self.alloc(bytes(4))
        err = self.call("path_open", dirfd, follow, p, n, oflags, rights, rights, fdflags, out)
        return err, self.u32(out)

    def write(self, fd: int, data: bytes) -> tuple[int, int]:
        buf = self.alloc(data)
        iov = self.alloc(struct.pack("<II", buf, len(data)))
        out = self.alloc(bytes(4))
        return self.call("fd_write", fd, iov, 1, out), self.u32(out)

    def readn(self, fd: int, n: int) -> tuple[int, bytes]:
        buf = self.alloc(bytes(n))
        iov = self.alloc(struct.pack("<II", buf, n))
        out = self.alloc(bytes(4))
        err = self.call("fd_read", fd, iov, 1, out)
        return err, self.read(buf, self.u32(out))


@pytest.fixture
def guest(tmp_path: Path) -> Guest:
    (tmp_path / "box").mkdir()
    config = WasiConfig()
    config.argv = ["prog", "a b", "ç"]
    config.env = [("K", "V"), ("EMPTY", "")]
    config.preopen_dir(tmp_path / "box", "/box")
    config.stdout_file = tmp_path / "stdout.txt"
    return Guest(config)


def test_args_and_environ_layout(guest: Guest) -> None:
    sizes = guest.alloc(bytes(8))
    assert guest.call("args_sizes_get", sizes, sizes + 4) == 0
    count, size = guest.u32(sizes), guest.u32(sizes + 4)
    assert (count, size) == (3, len(b"prog\0a b\0\xc3\xa7\0"))
    ptrs, buf = guest.alloc(bytes(4 * count)), guest.alloc(bytes(size))
    assert guest.call("args_get", ptrs, buf) == 0
    assert [guest.u32(ptrs + 4 * i) - buf for i in range(3)] == [0, 5, 9]
    assert guest.read(buf, size) == b"prog\0a b\0\xc3\xa7\0"
    assert guest.call("environ_sizes_get", sizes, sizes + 4) == 0
    assert (guest.u32(sizes), guest.u32(sizes + 4)) == (2, len(b"K=V\0EMPTY=\0"))
    assert guest.call("environ_get", ptrs, buf) == 0
    assert guest.read(buf, 11) == b"K=V\0EMPTY=\0"
    assert guest.call("args_get", 65536 - 4, buf) == Errno.FAULT


def test_fd_write_bounds(guest: Guest, tmp_path: Path) -> None:
    assert guest.write(1, b"visible\n") == (0, 8)
    assert guest.call("fd_write", 1, 65536 - 4, 1, SCRATCH) == Errno.FAULT  # iovec array
    iov = guest.alloc(struct.pack("<II", 65530, 7))
    assert guest.call("fd_write", 1, iov, 1, SCRATCH) == Errno.FAULT  # buffer past the end
    assert guest.call("fd_write", 1, iov, -1, SCRATCH) == Errno.FAULT  # 4G iovecs
    good = guest.alloc(struct.pack("<II", SCRATCH, 4))
    assert guest.call("fd_write", 1, good, 1, -4) == Errno.FAULT  # result pointer
    assert guest.call("fd_write", 9, good, 1, SCRATCH) == Errno.BADF
    assert (tmp_path / "stdout.txt").read_bytes() == b"visible\n"


def test_open_read_write_seek(guest: Guest, tmp_path: Path) -> None:
    err, fd = guest.open("f.txt", OFlags.CREAT)
    assert err == 0 and fd == 4  # 0-2 stdio, 3 the preopen
    assert guest.write(fd, b"0123456789") == (0, 10)
    out = guest.alloc(bytes(8))
    assert guest.call("fd_seek", fd, -3, 1, out) == 0 and guest.u64(out) == 7
    assert guest.call("fd_seek", fd, -100, 1, out) == Errno.INVAL
    assert guest.call("fd_seek", fd, 0, 3, out) == Errno.INVAL
    assert guest.readn(fd, 100) == (0, b"789")
    assert guest.call("fd_tell", fd, out) == 0 and guest.u64(out) == 10
    assert guest.call("fd_filestat_set_size", fd, 4) == 0
    assert guest.call("fd_allocate", fd, 0, 6) == 0
    stat = guest.alloc(bytes(64))
    assert guest.call("fd_filestat_get", fd, stat) == 0
    assert guest.read(stat + 16, 1)[0] == Filetype.REGULAR_FILE and guest.u64(stat + 32) == 6
    assert guest.call("fd_filestat_set_times", fd, 5_000_000_000, 7_000_000_000, 1 | 4) == 0
    assert os.stat(tmp_path / "box" / "f.txt").st_mtime_ns == 7_000_000_000
    assert guest.call("fd_filestat_set_times", fd, 0, 0, 1 | 2) == Errno.INVAL
    assert guest.call("fd_advise", fd, 0, 0, 9) == Errno.INVAL
    assert guest.call("fd_advise", fd, 0, 0, 1) == 0
    assert guest.call("fd_sync", fd) == 0 and guest.call("fd_datasync", fd) == 0
    assert guest.call("fd_close", fd) == 0
    assert guest.call("fd_close", fd) == Errno.BADF
    assert (tmp_path / "box" / "f.txt").read_bytes() == b"0123\0\0"


def test_rights(guest: Guest) -> None:
    assert guest.open("r.txt", OFlags.CREAT)[0] == 0
    err, fd = guest.open("r.txt", rights=Rights.FD_READ | Rights.FD_SEEK)
    assert err == 0
    assert guest.write(fd, b"x")[0] == Errno.NOTCAPABLE
    fdstat = guest.alloc(bytes(24))
    assert guest.call("fd_fdstat_get", fd, fdstat) == 0
    assert guest.u64(fdstat + 8) == Rights.FD_READ | Rights.FD_SEEK
    assert guest.call("fd_fdstat_set_rights", fd, Rights.FD_READ, 0) == 0
    out = guest.alloc(bytes(8))
    assert guest.call("fd_seek", fd, 0, 0, out) == Errno.NOTCAPABLE
    assert guest.call("fd_fdstat_set_rights", fd, Rights.FD_READ | Rights.FD_SEEK, 0) == \
        Errno.NOTCAPABLE  # rights never grow back
    # stdout loses the right to write
    assert guest.call("fd_fdstat_set_rights", 1, 0, 0) == 0
    assert guest.write(1, b"x")[0] == Errno.NOTCAPABLE
    # a directory's descriptor cannot be read like a file; a file has no path rights
    err, dfd = guest.open(".", OFlags.DIRECTORY)
    assert err == 0 and guest.readn(dfd, 4)[0] in (Errno.NOTCAPABLE, Errno.ISDIR)
    assert guest.call("fd_fdstat_get", dfd, fdstat) == 0
    assert guest.read(fdstat, 1)[0] == Filetype.DIRECTORY
    assert guest.u64(fdstat + 8) & Rights.FD_WRITE == 0
    err, ffd = guest.open("r.txt")
    assert guest.open("x", dirfd=ffd)[0] == Errno.NOTDIR


def test_renumber(guest: Guest, tmp_path: Path) -> None:
    err, fd = guest.open("log.txt", OFlags.CREAT)
    assert err == 0
    assert guest.call("fd_renumber", fd, 1) == 0
    assert guest.write(1, b"now to the file") == (0, 15)
    assert guest.call("fd_close", fd) == Errno.BADF
    assert guest.call("fd_renumber", 1, 50) == Errno.BADF
    assert (tmp_path / "box" / "log.txt").read_bytes() == b"now to the file"


def test_prestat(guest: Guest) -> None:
    out = guest.alloc(bytes(8))
    assert guest.call("fd_prestat_get", 3, out) == 0
    assert guest.read(out, 1) == b"\0" and guest.u32(out + 4) == 4
    name = guest.alloc(bytes(8))
    assert guest.call("fd_prestat_dir_name", 3, name, 2) == Errno.NAMETOOLONG
    assert guest.call("fd_prestat_dir_name", 3, name, 4) == 0 and guest.read(name, 4) == b"/box"
    assert guest.call("fd_prestat_get", 4, out) == Errno.BADF


def test_readdir_paging(guest: Guest, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / "box" / f"entry{i}").write_text("")
    err, fd = guest.open(".", OFlags.DIRECTORY)
    assert err == 0
    names, cookie = [], 0
    buf, used = guest.alloc(bytes(40)), guest.alloc(bytes(4))
    while True:  # 40 bytes: one header + name (+ a cut-off part of the next)
        assert guest.call("fd_readdir", fd, buf, 40, cookie, used) == 0
        n = guest.u32(used)
        if n == 0:
            break
        d_next, _ino, namlen, _kind = struct.unpack("<QQIB3x", guest.read(buf, 24))
        names.append(guest.read(buf + 24, namlen).decode())
        cookie = d_next
    assert sorted(names) == [".", "..", "entry0", "entry1", "entry2", "entry3", "entry4"]
    assert guest.call("fd_readdir", 1, buf, 40, 0, used) == Errno.NOTCAPABLE


def test_path_functions(guest: Guest, tmp_path: Path) -> None:
    box = tmp_path / "box"

    def call_path(name: str, *before: int, path: str, after: tuple[int, ...] = ()) -> int:
        p, n = guest.string(path)
        return guest.call(name, *before, p, n, *after)

    assert call_path("path_create_directory", 3, path="d") == 0 and (box / "d").is_dir()
    assert call_path("path_create_directory", 3, path="d") == Errno.EXIST
    assert call_path("path_create_directory", 3, path="../d") == Errno.NOTCAPABLE
    t, tn = guest.string("target-name")
    assert call_path("path_symlink", t, tn, 3, path="d/ln") == 0
    out, used = guest.alloc(bytes(64)), guest.alloc(bytes(4))
    assert call_path("path_readlink", 3, path="d/ln", after=(out, 6, used)) == 0
    assert guest.read(out, guest.u32(used)) == b"target"  # truncated to the buffer
    stat = guest.alloc(bytes(64))
    assert call_path("path_filestat_get", 3, 0, path="d/ln", after=(stat,)) == 0
    assert guest.read(stat + 16, 1)[0] == Filetype.SYMBOLIC_LINK
    assert call_path("path_filestat_get", 3, 1, path="d/ln", after=(stat,)) == Errno.NOENT
    assert call_path("path_filestat_set_times", 3, 0, path="d",
                     after=(0, 3_000_000_000, 4)) == 0
    assert os.stat(box / "d").st_mtime_ns == 3_000_000_000
    (box / "f").write_text("data")
    o, on = guest.string("f")
    n, nn = guest.string("d/g")
    assert guest.call("path_rename", 3, o, on, 3, n, nn) == 0
    assert (box / "d" / "g").read_text() == "data"
    assert guest.call("path_link", 3, 0, n, nn, 3, o, on) == 0 and (box / "f").exists()
    assert call_path("path_unlink_file", 3, path="d") == Errno.ISDIR
    assert call_path("path_unlink_file", 3, path="f/") == Errno.NOTDIR
    assert call_path("path_remove_directory", 3, path="d") == Errno.NOTEMPTY
    assert call_path("path_remove_directory", 3, path=".") == Errno.INVAL
    for name in ("d/g", "d/ln", "f"):
        assert call_path("path_unlink_file", 3, path=name) == 0
    assert call_path("path_remove_directory", 3, path="d") == 0
    assert sorted(os.listdir(box)) == []
    bad, _ = guest.string("x")
    assert guest.call("path_create_directory", 3, bad, 70000) == Errno.FAULT
    raw = guest.alloc(b"\xff\xfe")
    assert guest.call("path_create_directory", 3, raw, 2) == Errno.ILSEQ


def test_poll_oneoff(guest: Guest) -> None:
    sub = struct.Struct("<QB7xI4xQQH6x")
    events, nevents = guest.alloc(bytes(32 * 3)), guest.alloc(bytes(4))
    clock = guest.alloc(sub.pack(7, 0, 1, 30_000_000, 0, 0))  # monotonic, 30 ms, relative
    start = time.monotonic()
    assert guest.call("poll_oneoff", clock, events, 1, nevents) == 0
    assert time.monotonic() - start >= 0.03
    assert guest.u32(nevents) == 1
    userdata, error, kind = struct.unpack("<QHB", guest.read(events, 11))
    assert (userdata, error, kind) == (7, 0, 0)
    subs = guest.alloc(sub.pack(1, 0, 1, 10**12, 0, 0) + sub.pack(2, 2, 1, 0, 0, 0)
                       + sub.pack(3, 1, 99, 0, 0, 0))
    start = time.monotonic()
    assert guest.call("poll_oneoff", subs, events, 3, nevents) == 0
    assert time.monotonic() - start < 1  # a ready fd means no waiting for the clock
    assert guest.u32(nevents) == 2
    got = [struct.unpack("<QHB", guest.read(events + 32 * i, 11)) for i in range(2)]
    assert got == [(2, 0, 2), (3, Errno.BADF, 1)]
    assert guest.call("poll_oneoff", subs, events, 0, nevents) == Errno.INVAL
    assert guest.call("poll_oneoff", subs, 65536 - 8, 3, nevents) == Errno.FAULT


def test_clock_and_random(guest: Guest) -> None:
    out = guest.alloc(bytes(32))
    assert guest.call("clock_time_get", 0, 1, out) == 0
    assert abs(guest.u64(out) - time.time_ns()) < 10**10
    assert guest.call("clock_res_get", 1, out) == 0 and guest.u64(out) > 0
    assert guest.call("clock_res_get", 4, out) == Errno.INVAL
    assert guest.call("random_get", out, 32) == 0 and guest.read(out, 32) != bytes(32)
    assert guest.call("random_get", 65530, 32) == Errno.FAULT


def test_proc_and_sockets(guest: Guest) -> None:
    assert guest.call("sched_yield") == 0
    assert guest.call("proc_raise", 9) == Errno.NOSYS
    assert guest.call("sock_accept", 1, 0, SCRATCH) == Errno.NOTSOCK
    assert guest.call("sock_shutdown", 42, 0) == Errno.BADF
    with pytest.raises(ExitTrap) as info:
        guest.call("proc_exit", 3)
    assert info.value.code == 3


def test_store_without_wasi_and_module_without_memory() -> None:
    engine = Engine(Config(strategy="interp"))
    module = Module(engine, f"""(module
      (import "{MODULE}" "sched_yield" (func $y (result i32)))
      (import "{MODULE}" "random_get" (func $r (param i32 i32) (result i32)))
      (func (export "y") (result i32) (call $y))
      (func (export "r") (result i32) (call $r (i32.const 0) (i32.const 4))))""")
    linker = Linker(engine)
    define_wasi(linker)
    store = Store(engine)
    exports = linker.instantiate(store, module).exports(store)
    with pytest.raises(WasmError, match="set_wasi"):
        exports["y"](store)
    set_wasi(store, WasiConfig())
    assert exports["y"](store) == 0  # needs no memory
    with pytest.raises(MissingMemoryError):
        exports["r"](store)
