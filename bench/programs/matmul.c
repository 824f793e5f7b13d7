/* Dense matrix multiply (double, row-major, i-k-j loop order): loads, stores and
 * multiply-adds in tight loops. run(n): n products of two 64x64 matrices, each result
 * feeding the next (its fractional part); returns a checksum of the final matrix. */
#define DIM 64

static double a[DIM][DIM], b[DIM][DIM], c[DIM][DIM];

__attribute__((export_name("run"))) long long run(int n) {
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            a[i][j] = (double)((i * 7 + j * 3) % 17) / 16.0;
            b[i][j] = (double)((i * 5 + j * 11) % 13) / 12.0 - 0.5;
        }
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < DIM; i++) {
            for (int j = 0; j < DIM; j++) c[i][j] = 0;
            for (int p = 0; p < DIM; p++) {
                double x = a[i][p];
                for (int j = 0; j < DIM; j++) c[i][j] += x * b[p][j];
            }
        }
        /* Feed the product back, kept bounded: the fractional part of a scaled copy. */
        for (int i = 0; i < DIM; i++)
            for (int j = 0; j < DIM; j++) {
                double x = c[i][j] * 0.37;
                a[i][j] = x - (double)(long long)x;
            }
    }
    double sum = 0;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) sum += c[i][j] * (double)(i + 2 * j + 1);
    return (long long)(sum * 1e9);
}
