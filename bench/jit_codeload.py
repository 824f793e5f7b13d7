"""Measurements behind the code-loading choices in docs/jit-design.md.

    .venv/bin/python -P bench/jit_codeload.py [--release-loops 1000]

1. building a realistic module with llvmlite.ir vs emitting IR text (both then parsed);
2. MCJIT vs ORC LLJIT compile time;
3. compile / look up / call / drop N modules: RSS for ORC (resource trackers), MCJIT
   with one engine per module, and MCJIT with one shared engine;
4. optimization level: compile time vs run time of a hot loop.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import random
import time

import llvmlite.binding as llvm
import llvmlite.ir as ir

from pyjitwasm.jit.codeload import CodeLoader, host_target_machine, optimize_module, parse_ir

N_FUNCS = 200


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def text_function(i: int, rng: random.Random) -> str:
    """~50 instructions: a loop over a memory region read through the ctx, mixed
    i32/i64/f64 arithmetic, a store back."""
    k1, k2, k3 = rng.randrange(1, 1000), rng.randrange(1, 1000), rng.random() + 0.5
    return f"""
define i64 @f{i}(ptr %ctx, i32 %n, i64 %seed, double %scale) {{
entry:
  %basep = getelementptr inbounds i8, ptr %ctx, i64 48
  %base = load ptr, ptr %basep, align 8
  %lenp = getelementptr inbounds i8, ptr %ctx, i64 56
  %len = load i64, ptr %lenp, align 8
  %mask = add i64 %len, -8
  br label %loop
loop:
  %i = phi i32 [0, %entry], [%i1, %loop]
  %acc = phi i64 [%seed, %entry], [%acc3, %loop]
  %facc = phi double [0.0, %entry], [%facc2, %loop]
  %i64 = zext i32 %i to i64
  %off0 = mul i64 %i64, 8
  %off = and i64 %off0, %mask
  %p = getelementptr i8, ptr %base, i64 %off
  %v = load i64, ptr %p, align 1
  %x1 = xor i64 %v, %acc
  %x2 = mul i64 %x1, {k1}
  %x3 = lshr i64 %x2, 7
  %acc1 = add i64 %x3, %x1
  %t = trunc i64 %acc1 to i32
  %t1 = mul i32 %t, {k2}
  %t2 = shl i32 %t1, 3
  %t3 = sub i32 %t2, %i
  %t4 = sext i32 %t3 to i64
  %acc2 = add i64 %acc1, %t4
  %fv = sitofp i64 %v to double
  %f1 = fmul double %fv, %scale
  %f2 = fadd double %f1, {k3:.6f}
  %facc1 = fadd double %facc, %f2
  %fcmp = fcmp ogt double %facc1, 1.0e12
  %facc2 = select i1 %fcmp, double 0.0, double %facc1
  %fi = fptosi double %facc2 to i64
  %acc3 = add i64 %acc2, %fi
  store i64 %acc3, ptr %p, align 1
  %i1 = add i32 %i, 1
  %done = icmp sge i32 %i1, %n
  br i1 %done, label %exit, label %loop
exit:
  %r0 = mul i64 %acc3, 31
  %r1 = xor i64 %r0, %seed
  %r2 = ashr i64 %r1, 3
  %r3 = add i64 %r2, {i}
  ret i64 %r3
}}
"""


def text_module(n: int = N_FUNCS) -> str:
    rng = random.Random(1)
    return "".join(text_function(i, rng) for i in range(n))


def builder_module(n: int = N_FUNCS) -> ir.Module:
    """The same functions built with llvmlite.ir."""
    rng = random.Random(1)
    i8, i32, i64, f64 = ir.IntType(8), ir.IntType(32), ir.IntType(64), ir.DoubleType()
    ptr = ir.PointerType()
    mod = ir.Module()
    for i in range(n):
        k1, k2, k3 = rng.randrange(1, 1000), rng.randrange(1, 1000), rng.random() + 0.5
        fn = ir.Function(mod, ir.FunctionType(i64, [ptr, i32, i64, f64]), f"f{i}")
        ctx, n_, seed, scale = fn.args
        entry, loop, exit_ = (fn.append_basic_block() for _ in range(3))
        b = ir.IRBuilder(entry)
        base = b.load(b.gep(ctx, [ir.Constant(i64, 48)], inbounds=True, source_etype=i8), typ=ptr)
        length = b.load(b.gep(ctx, [ir.Constant(i64, 56)], inbounds=True, source_etype=i8), typ=i64)
        mask = b.add(length, ir.Constant(i64, -8))
        b.branch(loop)
        b.position_at_end(loop)
        iv = b.phi(i32)
        acc = b.phi(i64)
        facc = b.phi(f64)
        off = b.and_(b.mul(b.zext(iv, i64), ir.Constant(i64, 8)), mask)
        p = b.gep(base, [off], source_etype=i8)
        v = b.load(p, typ=i64)
        x1 = b.xor(v, acc)
        x2 = b.mul(x1, ir.Constant(i64, k1))
        acc1 = b.add(b.lshr(x2, ir.Constant(i64, 7)), x1)
        t3 = b.sub(b.shl(b.mul(b.trunc(acc1, i32), ir.Constant(i32, k2)), ir.Constant(i32, 3)), iv)
        acc2 = b.add(acc1, b.sext(t3, i64))
        f2 = b.fadd(b.fmul(b.sitofp(v, f64), scale), ir.Constant(f64, k3))
        facc1 = b.fadd(facc, f2)
        facc2 = b.select(b.fcmp_ordered(">", facc1, ir.Constant(f64, 1e12)),
                         ir.Constant(f64, 0.0), facc1)
        acc3 = b.add(acc2, b.fptosi(facc2, i64))
        b.store(acc3, p)
        i1 = b.add(iv, ir.Constant(i32, 1))
        b.cbranch(b.icmp_signed(">=", i1, n_), exit_, loop)
        iv.add_incoming(ir.Constant(i32, 0), entry)
        iv.add_incoming(i1, loop)
        acc.add_incoming(seed, entry)
        acc.add_incoming(acc3, loop)
        facc.add_incoming(ir.Constant(f64, 0.0), entry)
        facc.add_incoming(facc2, loop)
        b.position_at_end(exit_)
        r = b.add(b.ashr(b.xor(b.mul(acc3, ir.Constant(i64, 31)), seed), ir.Constant(i64, 3)),
                  ir.Constant(i64, i))
        b.ret(r)
    return mod


def timed(fn, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def bench_building() -> None:
    t_text, text = timed(text_module)
    t_parse, _ = timed(lambda: parse_ir(text))
    t_build, mod = timed(builder_module)
    t_str, built_text = timed(lambda: str(mod))
    t_parse2, _ = timed(lambda: parse_ir(built_text))
    per = 1e6 / N_FUNCS
    print(f"[build] {N_FUNCS} functions, {len(text) // 1024} KiB of IR text")
    print(f"  text emit      {t_text * per:7.1f} us/func")
    print(f"  text parse     {t_parse * per:7.1f} us/func  (total {(t_text + t_parse) * per:.1f})")
    print(f"  llvmlite.ir    {t_build * per:7.1f} us/func build + {t_str * per:.1f} str()"
          f" + {t_parse2 * per:.1f} parse = {(t_build + t_str + t_parse2) * per:.1f}")


def bench_engines() -> None:
    text = text_module()
    per = 1e3 / N_FUNCS
    for level in (0, 1, 2, 3):
        _bench_engine_level(text, level, per)


def _bench_engine_level(text: str, level: int, per: float) -> None:
    tm = host_target_machine(level)
    def mcjit():
        mod = parse_ir(text)
        optimize_module(mod, tm, level)
        # The engine takes ownership of its target machine: one each.
        engine = llvm.create_mcjit_compiler(mod, host_target_machine(level))
        engine.finalize_object()
        engine.get_function_address("f0")
        return engine

    loader = CodeLoader(level)
    t_mc, _ = timed(mcjit, 2)
    t_orc, _ = timed(lambda: loader.load(text, exports=["f0"]), 2)
    t_orc_ir, _ = timed(lambda: _orc_from_ir(loader, text, level), 2)
    print(f"[engine O{level}] per function: MCJIT {t_mc * per:.2f} ms, ORC+object "
          f"{t_orc * per:.2f} ms, ORC add_ir (text reparsed by ORC) {t_orc_ir * per:.2f} ms")


def _orc_from_ir(loader: CodeLoader, text: str, level: int):
    mod = parse_ir(text)
    optimize_module(mod, loader.target_machine, level)
    builder = llvm.JITLibraryBuilder().add_ir(str(mod)).export_symbol("f0")
    return builder.link(loader._jit, f"irlib{time.perf_counter_ns()}")


SMALL = """
define i64 @g(i64 %x) {
  %a = mul i64 %x, 2654435761
  %b = xor i64 %a, %x
  ret i64 %b
}
"""


def bench_release(loops: int) -> None:
    fn_type = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)
    body = text_module(5) + SMALL
    loader = CodeLoader(1)
    tm = loader.target_machine

    def orc_once():
        code = loader.load(body, exports=["g"])
        assert fn_type(code.address("g"))(3) == (3 * 2654435761) ^ 3
        code.release()

    def mcjit_per_module_once():
        mod = parse_ir(body)
        optimize_module(mod, tm, 1)
        engine = llvm.create_mcjit_compiler(mod, host_target_machine(2))
        engine.finalize_object()
        assert fn_type(engine.get_function_address("g"))(3) == (3 * 2654435761) ^ 3
        engine.close()

    shared = llvm.create_mcjit_compiler(parse_ir(""), host_target_machine(2))

    def mcjit_shared_once(i=[0]):  # noqa: B006 - a counter
        i[0] += 1
        mod = parse_ir(body.replace("@g(", f"@g{i[0]}("))
        optimize_module(mod, tm, 1)
        shared.add_module(mod)
        shared.finalize_object()
        fn_type(shared.get_function_address(f"g{i[0]}"))(3)

    for name, once in [("ORC + resource tracker release", orc_once),
                       ("MCJIT, one engine per module, engine closed", mcjit_per_module_once),
                       ("MCJIT, one shared engine (no unload)", mcjit_shared_once)]:
        for _ in range(20):
            once()
        gc.collect()
        start = rss_mib()
        t = time.perf_counter()
        marks = []
        for i in range(loops):
            once()
            if (i + 1) % (loops // 4) == 0:
                gc.collect()
                marks.append(rss_mib() - start)
        dt = time.perf_counter() - t
        growth = " ".join(f"{m:+.1f}" for m in marks)
        print(f"[release] {name}: {dt / loops * 1e3:.2f} ms/module; RSS growth at quarters "
              f"(MiB): {growth}")


HOT = """
define i64 @hot(ptr %mem, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [0, %entry], [%i1, %loop]
  %acc = phi i64 [0, %entry], [%acc1, %loop]
  %idx = and i32 %i, 1023
  %idx64 = zext i32 %idx to i64
  %p = getelementptr inbounds i64, ptr %mem, i64 %idx64
  %v = load i64, ptr %p, align 8
  %m = mul i64 %v, 3
  %x = xor i64 %m, %acc
  %acc1 = add i64 %x, 1
  store i64 %acc1, ptr %p, align 8
  %i1 = add i32 %i, 1
  %done = icmp eq i32 %i1, %n
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %acc1
}
"""


def bench_pipelines() -> None:
    text = text_module()
    buf = (ctypes.c_int64 * 1024)()
    fn_type = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int32)
    for level in (0, 1, 2, 3):
        _bench_pipeline_level(text, buf, fn_type, level)


def _bench_pipeline_level(text, buf, fn_type, level: int) -> None:
    loader = CodeLoader(level)
    t_compile, _ = timed(lambda: loader.load(text, exports=["f0"]), 2)
    code = loader.load(HOT)
    hot = fn_type(code.address("hot"))
    t_run, _ = timed(lambda: hot(buf, 50_000_000), 3)
    print(f"[opt O{level}] compile {t_compile * 1e3 / N_FUNCS:.2f} ms/func; "
          f"hot loop {t_run / 50_000_000 * 1e9:.2f} ns/iteration")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--release-loops", type=int, default=1000)
    parser.add_argument("--only", choices=["build", "engines", "release", "opt"])
    args = parser.parse_args()
    if args.only in (None, "build"):
        bench_building()
    if args.only in (None, "engines"):
        bench_engines()
    if args.only in (None, "release"):
        bench_release(args.release_loops)
    if args.only in (None, "opt"):
        bench_pipelines()


if __name__ == "__main__":
    main()
