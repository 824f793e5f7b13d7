/* Quantized matrix-vector product, the inner loop of int8 neural-network inference
 * (wasm_simd128.h: i32x4.relaxed_dot_i8x16_i7x16_add_s with -mrelaxed-simd).
 * run(n): n products of a 64 x 1024 matrix of signed bytes with a vector of bytes in
 * 0..127 (the i7 operand), one vector element changing between rounds; returns a
 * checksum of the 64 sums. Every product is exact in every build and on every engine:
 * relaxed SIMD's results differ between hosts only when the i7 operand is out of range.
 * -mrelaxed-simd: the relaxed dot product, 16 bytes at a time; -msimd128 alone: the
 * bytes widened to i16 and i32x4.dot_i16x8_s; neither: a scalar loop. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define ROWS 64
#define COLS 1024

static int8_t weights[ROWS][COLS];
static int8_t input[COLS];

static int32_t row_dot(const int8_t *w) {
#if defined(__wasm_relaxed_simd__)
    v128_t acc0 = wasm_i32x4_splat(0), acc1 = acc0;
    for (int i = 0; i < COLS; i += 32) {
        acc0 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w + i),
                                                      wasm_v128_load(input + i), acc0);
        acc1 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w + i + 16),
                                                      wasm_v128_load(input + i + 16), acc1);
    }
    v128_t acc = wasm_i32x4_add(acc0, acc1);
    return wasm_i32x4_extract_lane(acc, 0) + wasm_i32x4_extract_lane(acc, 1) +
           wasm_i32x4_extract_lane(acc, 2) + wasm_i32x4_extract_lane(acc, 3);
#elif defined(__wasm_simd128__)
    v128_t acc0 = wasm_i32x4_splat(0), acc1 = acc0;
    for (int i = 0; i < COLS; i += 16) {
        v128_t a = wasm_v128_load(w + i), b = wasm_v128_load(input + i);
        acc0 = wasm_i32x4_add(acc0, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a),
                                                         wasm_i16x8_extend_low_i8x16(b)));
        acc1 = wasm_i32x4_add(acc1, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a),
                                                         wasm_i16x8_extend_high_i8x16(b)));
    }
    v128_t acc = wasm_i32x4_add(acc0, acc1);
    return wasm_i32x4_extract_lane(acc, 0) + wasm_i32x4_extract_lane(acc, 1) +
           wasm_i32x4_extract_lane(acc, 2) + wasm_i32x4_extract_lane(acc, 3);
#else
    int32_t acc = 0;
    for (int i = 0; i < COLS; i++) acc += w[i] * input[i];
    return acc;
#endif
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 2718281828u;
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            state = state * 1103515245u + 12345u;
            weights[r][c] = (int8_t)(state >> 24);
        }
    for (int c = 0; c < COLS; c++) input[c] = (int8_t)((c * 37) % 128);
    uint32_t checksum = 0;
    for (int k = 0; k < n; k++) {
        for (int r = 0; r < ROWS; r++)
            checksum = checksum * 1000003u ^ (uint32_t)row_dot(weights[r]);
        input[(k * 97) % COLS] = (int8_t)((input[(k * 97) % COLS] + 1) & 127);
    }
    return checksum;
}
