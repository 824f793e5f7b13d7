/* A small WASI command program: the README's main job runs it through pyjitwasm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long fib(unsigned n) {
    unsigned long long a = 0, b = 1;
    while (n--) {
        unsigned long long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

static int count_primes(int limit) {
    char *composite = calloc((size_t)limit + 1, 1);
    int count = 0;
    for (int i = 2; i <= limit; i++) {
        if (composite[i]) continue;
        count++;
        for (long j = (long)i * i; j <= limit; j += i) composite[j] = 1;
    }
    free(composite);
    return count;
}

int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : "world";
    printf("hello, %s, from WebAssembly\n", who);
    printf("fib(90) = %llu\n", fib(90));
    printf("primes below 100000: %d\n", count_primes(100000));
    char buf[64];
    snprintf(buf, sizeof buf, "%s has %zu letters", who, strlen(who));
    puts(buf);
    return 0;
}
