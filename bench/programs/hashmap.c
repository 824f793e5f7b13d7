/* Open-addressing hash table (multiplicative hashing, linear probing, inserts, lookups
 * and deletions with tombstones): the branchy, memory-bound core of many programs.
 * run(n): n rounds of inserting 4096 PRNG keys into an 8192-slot table, looking each
 * up plus 4096 absent keys, and deleting half; returns a checksum of what was found. */
#include <stdint.h>

#define SLOTS 8192
#define KEYS 4096
#define EMPTY 0u
#define TOMBSTONE 1u

static uint32_t keys[SLOTS];
static uint32_t values[SLOTS];

static uint32_t slot_of(uint32_t key) { return (key * 2654435761u) >> 19; }

static void insert(uint32_t key, uint32_t value) {
    uint32_t i = slot_of(key);
    for (;;) {
        uint32_t k = keys[i];
        if (k == EMPTY || k == TOMBSTONE || k == key) {
            keys[i] = key;
            values[i] = value;
            return;
        }
        i = (i + 1) & (SLOTS - 1);
    }
}

static int lookup(uint32_t key, uint32_t *value) {
    uint32_t i = slot_of(key);
    for (;;) {
        uint32_t k = keys[i];
        if (k == EMPTY) return 0;
        if (k == key) {
            *value = values[i];
            return 1;
        }
        i = (i + 1) & (SLOTS - 1);
    }
}

static void erase(uint32_t key) {
    uint32_t i = slot_of(key);
    for (;;) {
        uint32_t k = keys[i];
        if (k == EMPTY) return;
        if (k == key) {
            keys[i] = TOMBSTONE;
            return;
        }
        i = (i + 1) & (SLOTS - 1);
    }
}

__attribute__((export_name("run"))) uint32_t run(int n) {
    uint32_t state = 88172645u, checksum = 0;
    for (int round = 0; round < n; round++) {
        for (int i = 0; i < SLOTS; i++) keys[i] = EMPTY;
        uint32_t first = state;
        for (int i = 0; i < KEYS; i++) {
            state = state * 1103515245u + 12345u;
            insert((state | 2u), (uint32_t)i);
        }
        state = first;
        for (int i = 0; i < KEYS; i++) {
            state = state * 1103515245u + 12345u;
            uint32_t v;
            if (lookup(state | 2u, &v)) checksum += v;
            if (lookup((state | 2u) ^ 0x80000000u, &v)) checksum ^= v << 7;
            if (i & 1) erase(state | 2u);
        }
        checksum = checksum * 2654435761u + (uint32_t)round;
    }
    return checksum;
}
