/* Substring search (wasm_simd128.h: i8x16.eq on the needle's first and last bytes,
 * v128.and, i8x16.bitmask, then a byte compare at each candidate).
 * run(n): n searches of a 64 KiB text of random lowercase words for one of eight
 * needles (some planted in the text); returns a checksum of match counts and positions.
 * The scalar build tests the first and last byte at every position, then compares. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define LEN 65536
#define NEEDLES 8

static char text[LEN + 32];
static const char *const needles[NEEDLES] = {
    "simd", "wasmtime", "vector", "lane", "shuffle", "bitmask", "zz", "quick",
};

static int same(const char *p, const char *q, int len) {
    for (int i = 0; i < len; i++)
        if (p[i] != q[i]) return 0;
    return 1;
}

/* The needles' lengths (a strlen-like loop would become a call to libc's strlen). */
static const int lengths[NEEDLES] = {4, 8, 6, 4, 7, 7, 2, 5};

/* Number of occurrences of needle, and the position of the last one in *last. */
static uint32_t search(int which, uint32_t *last) {
    const char *needle = needles[which];
    int m = lengths[which], end = LEN - m + 1;
    uint32_t count = 0;
    int i = 0;
#ifdef __wasm_simd128__
    v128_t first = wasm_i8x16_splat(needle[0]), final = wasm_i8x16_splat(needle[m - 1]);
    for (; i + 16 <= end; i += 16) {
        v128_t hit = wasm_v128_and(wasm_i8x16_eq(wasm_v128_load(text + i), first),
                                   wasm_i8x16_eq(wasm_v128_load(text + i + m - 1), final));
        uint32_t mask = wasm_i8x16_bitmask(hit);
        while (mask) {
            int at = i + __builtin_ctz(mask);
            if (same(text + at + 1, needle + 1, m - 2)) {
                count++;
                *last = (uint32_t)at;
            }
            mask &= mask - 1;
        }
    }
#endif
    for (; i < end; i++)
        if (text[i] == needle[0] && text[i + m - 1] == needle[m - 1] &&
            same(text + i + 1, needle + 1, m - 2)) {
            count++;
            *last = (uint32_t)i;
        }
    return count;
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 314159265u;
    for (int i = 0; i < LEN; i++) {
        state = state * 1103515245u + 12345u;
        uint32_t r = (state >> 16) & 0x7FFF;
        text[i] = r % 7 == 0 ? ' ' : (char)('a' + r % 26);
    }
    for (int k = 0; k < 64; k++) {  /* plant needles */
        const char *s = needles[k % NEEDLES];
        int at = (k * 1031) % (LEN - 16);
        for (int j = 0; j < lengths[k % NEEDLES]; j++) text[at + j] = s[j];
    }
    uint32_t checksum = 0;
    for (int k = 0; k < n; k++) {
        uint32_t last = 0, count = search(k % NEEDLES, &last);
        checksum = checksum * 1000003u ^ (count * 65599u + last);
    }
    return checksum;
}
