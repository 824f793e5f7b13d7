/* Dot product of two float vectors (wasm_simd128.h: f32x4.mul, f32x4.add).
 * run(n): n dot products of two 4096-element vectors, one element of the first changing
 * between rounds; returns a checksum of the results' bits.
 * Built with -msimd128 it uses four-lane vectors; without, a scalar loop that keeps four
 * partial sums in the same lane order, so both builds add in the same order and return
 * the same checksum. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define LEN 4096

static float a[LEN], b[LEN];

static float dot(void) {
#ifdef __wasm_simd128__
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
    for (int i = 0; i < LEN; i += 8) {
        acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_v128_load(a + i + 4),
                                                   wasm_v128_load(b + i + 4)));
    }
    v128_t acc = wasm_f32x4_add(acc0, acc1);
    return (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
           (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3));
#else
    float acc0[4] = {0, 0, 0, 0}, acc1[4] = {0, 0, 0, 0};
    for (int i = 0; i < LEN; i += 8)
        for (int j = 0; j < 4; j++) {
            acc0[j] += a[i + j] * b[i + j];
            acc1[j] += a[i + 4 + j] * b[i + 4 + j];
        }
    float acc[4];
    for (int j = 0; j < 4; j++) acc[j] = acc0[j] + acc1[j];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    for (int i = 0; i < LEN; i++) {
        a[i] = (float)((i * 37) % 101) / 64.0f - 0.75f;
        b[i] = (float)((i * 11) % 29) / 16.0f - 0.875f;
    }
    uint32_t checksum = 0;
    for (int k = 0; k < n; k++) {
        float d = dot();
        checksum = checksum * 1000003u ^ (uint32_t)__builtin_bit_cast(uint32_t, d);
        a[(k * 97) % LEN] += 0.125f;
    }
    return checksum;
}
