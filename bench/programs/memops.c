/* Bulk memory traffic: memset and memcpy (lowered to memory.fill / memory.copy) of
 * 4-64 KiB blocks at varying offsets, overlapping moves, and a strided checksum read.
 * run(n): n rounds over a 256 KiB arena; returns the checksum. */
#include <stdint.h>

#define ARENA (256 * 1024)

static uint8_t arena[ARENA];

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t checksum = 0, state = 12345u;
    __builtin_memset(arena, 0x5A, ARENA);
    for (int round = 0; round < n; round++) {
        for (int op = 0; op < 16; op++) {
            state = state * 1664525u + 1013904223u;
            uint32_t size = 4096u << (state >> 30);               /* 4, 8, 16 or 32 KiB */
            uint32_t src = (state >> 8) % (ARENA - size);
            uint32_t dst = (state >> 4) % (ARENA - size);
            if (op & 1)
                __builtin_memmove(arena + dst, arena + src, size);
            else
                __builtin_memset(arena + dst, (int)(state >> 16) & 0xFF, size >> 1);
            arena[(dst + op) % ARENA] ^= (uint8_t)round;
        }
        for (uint32_t i = 0; i < ARENA; i += 251) checksum = checksum * 33u + arena[i];
    }
    return checksum;
}
