/* Base64 encoding (wasm_simd128.h: i8x16.swizzle to gather 3-byte groups into 32-bit
 * lanes, shifts and masks to split them into 6-bit indices, and a swizzle lookup of a
 * per-range offset to turn indices into ASCII).
 * run(n): n encodings of a 48 KiB buffer, one byte of it changing between rounds;
 * returns a checksum of sampled output bytes. The scalar build uses the classic
 * table lookup per 6-bit group. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define IN_LEN (48 * 1024)           /* a multiple of 12 and of 3: no padding needed */
#define OUT_LEN (IN_LEN / 3 * 4)

static uint8_t input[IN_LEN + 16];   /* the vector loop reads 4 bytes past a block */
static uint8_t output[OUT_LEN];

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void encode_scalar(const uint8_t *in, uint8_t *out, int len) {
    for (int i = 0; i + 3 <= len; i += 3, out += 4) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[0] = (uint8_t)alphabet[w >> 18];
        out[1] = (uint8_t)alphabet[(w >> 12) & 63];
        out[2] = (uint8_t)alphabet[(w >> 6) & 63];
        out[3] = (uint8_t)alphabet[w & 63];
    }
}

static void encode(void) {
#ifdef __wasm_simd128__
    /* Per 32-bit lane j, bytes (s2, s1, s0, 0) of the group at 3j: w = s0<<16|s1<<8|s2. */
    const v128_t gather = wasm_i8x16_make(2, 1, 0, -1, 5, 4, 3, -1, 8, 7, 6, -1, 11, 10, 9, -1);
    const v128_t six = wasm_i32x4_splat(63);
    /* Offsets added to an index to reach its character, looked up by a reduced index:
     * 0 for 26..51, 1..10 for 52..61, 11 for 62, 12 for 63, 13 for 0..25. */
    const v128_t offsets = wasm_i8x16_make(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16,
                                           65, 0, 0);
    int i = 0;
    uint8_t *out = output;
    for (; i + 12 <= IN_LEN; i += 12, out += 16) {
        v128_t w = wasm_i8x16_swizzle(wasm_v128_load(input + i), gather);
        v128_t idx = wasm_v128_or(
            wasm_v128_or(wasm_u32x4_shr(w, 18),
                         wasm_i32x4_shl(wasm_v128_and(wasm_u32x4_shr(w, 12), six), 8)),
            wasm_v128_or(wasm_i32x4_shl(wasm_v128_and(wasm_u32x4_shr(w, 6), six), 16),
                         wasm_i32x4_shl(wasm_v128_and(w, six), 24)));
        v128_t reduced = wasm_u8x16_sub_sat(idx, wasm_i8x16_splat(51));
        reduced = wasm_v128_bitselect(wasm_i8x16_splat(13), reduced,
                                      wasm_u8x16_lt(idx, wasm_i8x16_splat(26)));
        wasm_v128_store(out, wasm_i8x16_add(idx, wasm_i8x16_swizzle(offsets, reduced)));
    }
    encode_scalar(input + i, out, IN_LEN - i);
#else
    encode_scalar(input, output, IN_LEN);
#endif
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 2654435761u;
    for (int i = 0; i < IN_LEN; i++) {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5;
        input[i] = (uint8_t)state;
    }
    uint32_t checksum = 0;
    for (int k = 0; k < n; k++) {
        encode();
        checksum = checksum * 31u + output[(k * 4099) % OUT_LEN];
        checksum = checksum * 31u + output[OUT_LEN - 1 - k % 64];
        input[(k * 769) % IN_LEN] ^= (uint8_t)(k | 1);
    }
    for (int i = 0; i < OUT_LEN; i += 61) checksum = checksum * 31u + output[i];
    return checksum;
}
