/* WASI basics: argv/env, clocks, randomness, stdin, exit codes, traps, and guest
 * pointers that are out of bounds. argv[1] picks the mode; each check prints
 * "ok NAME" or "FAIL NAME (detail)". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static int failures;

static void check(int cond, const char *name, long detail) {
    if (cond) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s (%ld)\n", name, detail);
        failures++;
    }
}

static uint64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

extern char **environ;

/* Raw imports, for calls the libc wrappers cannot make (explicit lengths) or lack. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")))
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len,
                      int32_t oflags, int64_t base, int64_t inheriting, int32_t fdflags,
                      int32_t fd_out);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
int32_t raw_proc_raise(int32_t signal);

static int mode_hello(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    int n = 0;
    for (char **e = environ; *e; e++) n++;
    printf("environ count=%d\n", n);

    /* clocks */
    uint64_t real = now_ns(CLOCK_REALTIME);
    check(real > 1600000000ull * 1000000000ull, "realtime after 2020", (long)(real / 1000000000u));
    uint64_t m1 = now_ns(CLOCK_MONOTONIC);
    uint64_t m2 = now_ns(CLOCK_MONOTONIC);
    check(m2 >= m1, "monotonic does not go back", (long)(m1 - m2));
    struct timespec res;
    check(clock_getres(CLOCK_MONOTONIC, &res) == 0 && (res.tv_sec > 0 || res.tv_nsec > 0),
          "monotonic resolution", errno);
    __wasi_timestamp_t t = 0;
    check(__wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &t) == 0 && t > 0,
          "process cputime", (long)t);
    check(__wasi_clock_time_get(99, 1, &t) == __WASI_ERRNO_INVAL, "unknown clock is EINVAL", 0);
    struct timespec nap = {0, 20 * 1000000};
    uint64_t before = now_ns(CLOCK_MONOTONIC);
    nanosleep(&nap, NULL); /* poll_oneoff with a clock subscription */
    uint64_t slept = now_ns(CLOCK_MONOTONIC) - before;
    check(slept >= 20000000u, "nanosleep 20ms", (long)slept);

    /* random */
    unsigned char a[32], b[32], zero[32] = {0};
    check(getentropy(a, sizeof a) == 0 && getentropy(b, sizeof b) == 0, "getentropy", errno);
    check(memcmp(a, b, sizeof a) != 0 && memcmp(a, zero, sizeof a) != 0, "random differs", 0);

    /* descriptors and odds and ends */
    __wasi_fdstat_t st;
    check(__wasi_fd_fdstat_get(1, &st) == 0 && (st.fs_rights_base & __WASI_RIGHTS_FD_WRITE),
          "stdout is writable", 0);
    check(__wasi_fd_fdstat_get(77, &st) == __WASI_ERRNO_BADF, "fdstat of a closed fd", 0);
    check(__wasi_fd_close(77) == __WASI_ERRNO_BADF, "close of a closed fd", 0);
    __wasi_prestat_t pre;
    check(__wasi_fd_prestat_get(1, &pre) == __WASI_ERRNO_BADF, "stdout is no preopen", 0);
    check(__wasi_sched_yield() == 0, "sched_yield", 0);
    check(raw_proc_raise(2) == __WASI_ERRNO_NOSYS, "proc_raise is ENOSYS", 0);
    check(__wasi_sock_shutdown(1, __WASI_SDFLAGS_RD) == __WASI_ERRNO_NOTSOCK, "sock_shutdown", 0);
    __wasi_filesize_t pos;
    check(__wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos) == __WASI_ERRNO_SPIPE,
          "stdout does not seek", 0);
    __wasi_subscription_t sub = {0};
    __wasi_event_t ev;
    __wasi_size_t nev = 0;
    sub.userdata = 42;
    sub.u.tag = __WASI_EVENTTYPE_FD_WRITE;
    sub.u.u.fd_write.file_descriptor = 1;
    check(__wasi_poll_oneoff(&sub, &ev, 1, &nev) == 0 && nev == 1 && ev.userdata == 42 &&
              ev.error == 0 && ev.type == __WASI_EVENTTYPE_FD_WRITE,
          "poll stdout writable", (long)nev);
    return failures ? 1 : 0;
}

static int mode_stdin(void) {
    char buf[4096];
    size_t total = fread(buf, 1, sizeof buf - 1, stdin);
    buf[total] = 0;
    for (size_t i = 0; i < total; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
    printf("read %zu bytes: %s", total, buf);
    return 0;
}

static int mode_badptr(void) {
    uint32_t mem_end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    __wasi_size_t n = 12345;
    static char msg[] = "should not appear\n";
    __wasi_ciovec_t good = {(const uint8_t *)msg, sizeof msg - 1};
    __wasi_ciovec_t past_end = {(const uint8_t *)(uintptr_t)(mem_end - 4), 8};
    __wasi_ciovec_t huge = {(const uint8_t *)msg, 0xFFFFFFF0u};

    check(__wasi_fd_write(1, (const __wasi_ciovec_t *)(uintptr_t)0xFFFFFFF0u, 1, &n) ==
              __WASI_ERRNO_FAULT, "iovec array out of bounds", 0);
    check(__wasi_fd_write(1, &past_end, 1, &n) == __WASI_ERRNO_FAULT,
          "buffer crossing the end of memory", 0);
    check(__wasi_fd_write(1, &huge, 1, &n) == __WASI_ERRNO_FAULT, "huge length", 0);
    check(__wasi_fd_write(1, &good, 1, (__wasi_size_t *)(uintptr_t)(mem_end - 2)) ==
              __WASI_ERRNO_FAULT, "result pointer out of bounds", 0);
    check(n == 12345, "nothing written on fault", (long)n);
    __wasi_iovec_t rd = {(uint8_t *)(uintptr_t)mem_end, 1};
    check(__wasi_fd_read(0, &rd, 1, &n) == __WASI_ERRNO_FAULT, "fd_read into nowhere", 0);
    check(__wasi_random_get((uint8_t *)(uintptr_t)(mem_end - 8), 16) == __WASI_ERRNO_FAULT,
          "random_get past the end", 0);
    check(__wasi_args_sizes_get((__wasi_size_t *)(uintptr_t)mem_end, &n) == __WASI_ERRNO_FAULT,
          "args_sizes_get out of bounds", 0);
    static int32_t fd;
    /* fd 3 is the preopened directory the test gives */
    check(raw_path_open(3, 0, (int32_t)(uintptr_t)"x", (int32_t)0xFFFFFFF0u, 0, 0, 0, 0,
                        (int32_t)(uintptr_t)&fd) == __WASI_ERRNO_FAULT,
          "path length out of bounds", 0);
    check(raw_path_open(3, 0, (int32_t)(uintptr_t)"x", 1, __WASI_OFLAGS_CREAT, -1, -1, 0,
                        (int32_t)mem_end) == __WASI_ERRNO_FAULT,
          "fd result out of bounds", 0);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "hello";
    if (strcmp(mode, "stdin") == 0) return mode_stdin();
    if (strcmp(mode, "badptr") == 0) return mode_badptr();
    if (strcmp(mode, "exit") == 0) {
        printf("exiting with %s\n", argv[2]);
        exit(atoi(argv[2]));
    }
    if (strcmp(mode, "trap") == 0) {
        fflush(stdout);
        __builtin_trap();
    }
    return mode_hello(argc, argv);
}
