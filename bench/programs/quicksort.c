/* Quicksort of PRNG integers (recursion, compares, swaps, random access). run(n): n
 * rounds of filling a 10000-element array from an xorshift generator and sorting it;
 * returns a checksum over sampled sorted elements (and fails loudly if unsorted). */
#include <stdint.h>

#define COUNT 10000

static int32_t data[COUNT];

static void quicksort(int32_t *v, int lo, int hi) {
    while (lo < hi) {
        int32_t pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                int32_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        /* Recurse into the smaller half, loop on the larger: bounded stack depth. */
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 2463534242u, checksum = 0;
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < COUNT; i++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            data[i] = (int32_t)state;
        }
        quicksort(data, 0, COUNT - 1);
        for (int i = 1; i < COUNT; i++)
            if (data[i - 1] > data[i]) return 0xDEADBEEF; /* not sorted: a wrong answer */
        for (int i = 0; i < COUNT; i += 97) checksum = checksum * 31u + (uint32_t)data[i];
    }
    return checksum;
}
