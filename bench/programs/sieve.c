/* Sieve of Eratosthenes: byte array, nested loops, data-dependent stores.
 * run(n): sieve the numbers below LIMIT n times; returns a checksum of the prime counts
 * and the largest prime found. */
#define LIMIT 65536

static unsigned char composite[LIMIT];

static unsigned sieve(void) {
    unsigned count = 0, largest = 0;
    for (unsigned i = 0; i < LIMIT; i++) composite[i] = 0;
    for (unsigned i = 2; i < LIMIT; i++) {
        if (composite[i]) continue;
        count++;
        largest = i;
        for (unsigned j = i * i; j < LIMIT; j += i) composite[j] = 1;
    }
    return count * 31u + largest;
}

__attribute__((export_name("run"))) unsigned run(int n) {
    unsigned checksum = 0;
    for (int k = 0; k < n; k++) checksum = checksum * 1000003u ^ sieve();
    return checksum;
}
