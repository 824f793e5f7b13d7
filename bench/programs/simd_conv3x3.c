/* 3x3 convolution of an 8-bit grey image (wasm_simd128.h: u8 -> i16 widening, i16x8
 * multiply-add, shifts, saturating narrow back to u8).
 * run(n): n passes over a 256x256 image, alternately a blur (1 2 1 / 2 4 2 / 1 2 1, /16,
 * rounded) and a sharpen (0 -1 0 / -1 5 -1 / 0 -1 0, clamped to 0..255), each pass
 * reading the previous one's output; borders are copied. Returns a checksum of the
 * final image. The scalar build computes the same integers pixel by pixel. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define W 256
#define H 256

static uint8_t img[2][H][W];

static inline uint8_t blur_px(const uint8_t (*s)[W], int y, int x) {
    int v = s[y - 1][x - 1] + 2 * s[y - 1][x] + s[y - 1][x + 1] +
            2 * s[y][x - 1] + 4 * s[y][x] + 2 * s[y][x + 1] +
            s[y + 1][x - 1] + 2 * s[y + 1][x] + s[y + 1][x + 1];
    return (uint8_t)((v + 8) >> 4);
}

static inline uint8_t sharpen_px(const uint8_t (*s)[W], int y, int x) {
    int v = 5 * s[y][x] - s[y - 1][x] - s[y + 1][x] - s[y][x - 1] - s[y][x + 1];
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

#ifdef __wasm_simd128__
/* Eight pixels' sums of the three rows' (left, middle, right) neighbours, widened. */
typedef struct { v128_t lo, hi; } wide16;

static inline wide16 widen(v128_t v) {
    wide16 w = {wasm_u16x8_extend_low_u8x16(v), wasm_u16x8_extend_high_u8x16(v)};
    return w;
}

static void blur_row(const uint8_t (*s)[W], uint8_t *d, int y, int x) {
    /* Separable: vertical 1 2 1 on each of the three columns, then horizontal 1 2 1. */
    wide16 col[3];
    for (int c = 0; c < 3; c++) {
        wide16 t = widen(wasm_v128_load(&s[y - 1][x - 1 + c]));
        wide16 m = widen(wasm_v128_load(&s[y][x - 1 + c]));
        wide16 b = widen(wasm_v128_load(&s[y + 1][x - 1 + c]));
        col[c].lo = wasm_i16x8_add(wasm_i16x8_add(t.lo, b.lo), wasm_i16x8_shl(m.lo, 1));
        col[c].hi = wasm_i16x8_add(wasm_i16x8_add(t.hi, b.hi), wasm_i16x8_shl(m.hi, 1));
    }
    v128_t round = wasm_i16x8_splat(8);
    v128_t lo = wasm_i16x8_add(wasm_i16x8_add(col[0].lo, col[2].lo),
                               wasm_i16x8_add(wasm_i16x8_shl(col[1].lo, 1), round));
    v128_t hi = wasm_i16x8_add(wasm_i16x8_add(col[0].hi, col[2].hi),
                               wasm_i16x8_add(wasm_i16x8_shl(col[1].hi, 1), round));
    wasm_v128_store(d + x, wasm_u8x16_narrow_i16x8(wasm_u16x8_shr(lo, 4), wasm_u16x8_shr(hi, 4)));
}

static void sharpen_row(const uint8_t (*s)[W], uint8_t *d, int y, int x) {
    wide16 c = widen(wasm_v128_load(&s[y][x]));
    wide16 u = widen(wasm_v128_load(&s[y - 1][x]));
    wide16 b = widen(wasm_v128_load(&s[y + 1][x]));
    wide16 l = widen(wasm_v128_load(&s[y][x - 1]));
    wide16 r = widen(wasm_v128_load(&s[y][x + 1]));
    v128_t five = wasm_i16x8_splat(5);
    v128_t lo = wasm_i16x8_sub(wasm_i16x8_mul(c.lo, five),
                               wasm_i16x8_add(wasm_i16x8_add(u.lo, b.lo),
                                              wasm_i16x8_add(l.lo, r.lo)));
    v128_t hi = wasm_i16x8_sub(wasm_i16x8_mul(c.hi, five),
                               wasm_i16x8_add(wasm_i16x8_add(u.hi, b.hi),
                                              wasm_i16x8_add(l.hi, r.hi)));
    wasm_v128_store(d + x, wasm_u8x16_narrow_i16x8(lo, hi));  /* saturates to 0..255 */
}
#endif

static void pass(const uint8_t (*s)[W], uint8_t (*d)[W], int sharpen) {
    for (int x = 0; x < W; x++) {
        d[0][x] = s[0][x];
        d[H - 1][x] = s[H - 1][x];
    }
    for (int y = 1; y < H - 1; y++) {
        d[y][0] = s[y][0];
        d[y][W - 1] = s[y][W - 1];
        int x = 1;
#ifdef __wasm_simd128__
        for (; x + 16 <= W - 1; x += 16) {
            if (sharpen)
                sharpen_row(s, d[y], y, x);
            else
                blur_row(s, d[y], y, x);
        }
#endif
        for (; x < W - 1; x++) d[y][x] = sharpen ? sharpen_px(s, y, x) : blur_px(s, y, x);
    }
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 2463534242u;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5;
            img[0][y][x] = (uint8_t)((x ^ y) + (state >> 28));
        }
    int cur = 0;
    for (int k = 0; k < n; k++) {
        pass((const uint8_t (*)[W])img[cur], img[cur ^ 1], k & 1);
        cur ^= 1;
        img[cur][(k * 31) % H][(k * 17) % W] ^= 0x55;  /* keep passes from converging */
    }
    uint32_t checksum = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) checksum = checksum * 31u + img[cur][y][x];
    return checksum;
}
