/* Fannkuch-redux: permutations of a small array, prefix reversals (integer array
 * work with unpredictable branches). run(n): n rounds of fannkuch(8); returns a checksum
 * of the permutation checksum and the maximum flip count. */
#define SIZE 8

static int fannkuch(int size, int *max_flips_out) {
    int perm[16], perm1[16], count[16];
    int max_flips = 0, checksum = 0, perm_count = 0;
    for (int i = 0; i < size; i++) perm1[i] = i;
    int r = size;
    for (;;) {
        while (r != 1) {
            count[r - 1] = r;
            r--;
        }
        for (int i = 0; i < size; i++) perm[i] = perm1[i];
        int flips = 0;
        for (int k = perm[0]; k != 0; k = perm[0]) {
            for (int i = 0, j = k; i < j; i++, j--) {
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            flips++;
        }
        if (flips > max_flips) max_flips = flips;
        checksum += (perm_count % 2 == 0) ? flips : -flips;
        for (;;) {
            if (r == size) {
                *max_flips_out = max_flips;
                return checksum;
            }
            int first = perm1[0];
            for (int i = 0; i < r; i++) perm1[i] = perm1[i + 1];
            perm1[r] = first;
            count[r]--;
            if (count[r] > 0) break;
            r++;
        }
        perm_count++;
    }
}

__attribute__((export_name("run"))) unsigned run(int n) {
    unsigned acc = 0;
    for (int k = 0; k < n; k++) {
        int max_flips;
        int checksum = fannkuch(SIZE, &max_flips);
        acc = acc * 31u + (unsigned)checksum * 100u + (unsigned)max_flips + (unsigned)k;
    }
    return acc;
}
