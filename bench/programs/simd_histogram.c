/* Byte histogram into 16 bins by a byte's high nibble (wasm_simd128.h: u8x16.shr,
 * i8x16.eq against each bin (eight at a time), i8x16.sub of the all-ones masks as per-lane counters,
 * widened with extadd_pairwise before they can overflow).
 * run(n): n histograms of a 64 KiB buffer, one byte of it changing between rounds;
 * returns a checksum of the bin counts. The scalar build counts byte by byte. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define LEN 65536
#define BINS 16

static uint8_t data[LEN];
static uint32_t bins[BINS];

static void histogram(void) {
    for (int b = 0; b < BINS; b++) bins[b] = 0;
#ifdef __wasm_simd128__
    /* Two passes of eight bins each, so the counters stay in registers. 8-bit lane
     * counters count at most 255 blocks before they are flushed. */
    for (int base = 0; base < BINS; base += 8)
        for (int start = 0; start < LEN; start += 255 * 16) {
            int end = start + 255 * 16 < LEN ? start + 255 * 16 : LEN;
            v128_t c0 = wasm_i8x16_splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
                   c6 = c0, c7 = c0;
            for (int i = start; i < end; i += 16) {
                v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(wasm_v128_load(data + i), 4),
                                           wasm_i8x16_splat(base));
#define COUNT(c, b) c = wasm_i8x16_sub(c, wasm_i8x16_eq(hi, wasm_i8x16_splat(b)))
                COUNT(c0, 0); COUNT(c1, 1); COUNT(c2, 2); COUNT(c3, 3);
                COUNT(c4, 4); COUNT(c5, 5); COUNT(c6, 6); COUNT(c7, 7);
#undef COUNT
            }
            v128_t count[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
            for (int b = 0; b < 8; b++) {
                v128_t wide = wasm_u32x4_extadd_pairwise_u16x8(
                    wasm_u16x8_extadd_pairwise_u8x16(count[b]));
                bins[base + b] += wasm_i32x4_extract_lane(wide, 0) +
                                  wasm_i32x4_extract_lane(wide, 1) +
                                  wasm_i32x4_extract_lane(wide, 2) +
                                  wasm_i32x4_extract_lane(wide, 3);
            }
        }
#else
    for (int i = 0; i < LEN; i++) bins[data[i] >> 4]++;
#endif
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 88172645u;
    for (int i = 0; i < LEN; i++) {
        state = state * 1664525u + 1013904223u;
        /* Skewed: low bins are more common, so counts differ per bin. */
        data[i] = (uint8_t)((state >> 24) & (state >> 16));
    }
    uint32_t checksum = 0;
    for (int k = 0; k < n; k++) {
        histogram();
        for (int b = 0; b < BINS; b++) checksum = checksum * 31u + bins[b];
        data[(k * 7919) % LEN] += 0x10;
    }
    return checksum;
}
