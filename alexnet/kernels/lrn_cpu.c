/* Local response normalisation, §3.3 of the paper, on the CPU: the forward and the gradient
 * written out in alexnet/lrn.py, one pass over memory each way. Compiled at first use by
 * alexnet/kernels/lrn_cpu.py, which calls it on one chunk of a tensor per thread.
 *
 *     s_i = k + alpha * sum_{j in W(i)} a_j^2          W(i) = [max(0, i-n/2), min(N-1, i+n/2)]
 *     b_i = a_i * s_i^-beta
 *     dL/da_i = g_i * s_i^-beta - 2 alpha beta a_i sum_{j in W(i)} g_j a_j s_j^(-beta-1)
 *
 * A chunk is `outer` x `groups` blocks of N channels x P positions, element (o, q, c, p) at
 * o*so + q*sq + c*sc + p*sp (NCHW: sp = 1; channels-last: sc = 1). Positions go in blocks of
 * BLOCK: a block's squares, s^-beta and g a s^(-beta-1) (N x BLOCK values each) stay in cache
 * while the window runs along the channels, so main memory sees a read of a and a write of b
 * forward, a read of a and g and a write of the gradient backward.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

#ifndef BLOCK
#define BLOCK 256
#endif

#define MIN(x, y) ((x) < (y) ? (x) : (y))
#define MAX(x, y) ((x) > (y) ? (x) : (y))

/* p = s^-beta for m values, and, if w is given, w = 1/s in place of s; beta = 3/4 (the
 * paper's) as r * sqrt(r) with r = 1/sqrt(s) and 1/s = r * r, which vectorise where pow does
 * not. */
#define POWER(T, SQRT, POW)                                                                 \
    static inline void power_##T(T *s, T *p, int64_t m, T beta, int w) {                   \
        if (beta == (T)0.75) {                                                               \
            for (int64_t i = 0; i < m; i++) {                                                \
                T r = (T)1 / SQRT(s[i]);                                                     \
                p[i] = r * SQRT(r);                                                          \
                if (w) s[i] = r * r;                                                         \
            }                                                                                \
        } else {                                                                             \
            for (int64_t i = 0; i < m; i++) { p[i] = POW(s[i], -beta); if (w) s[i] = 1 / s[i]; } \
        }                                                                                    \
    }

/* s = k + alpha * the window sum of the squares q (rows of BLOCK), for channel c of N */
#define WINDOW(T)                                                                           \
    static inline void window_##T(const T *q, T *s, int64_t c, int64_t N, int half,      \
                                  int64_t m, T alpha, T k) {                                \
        int64_t lo = MAX(0, c - half), hi = MIN(N - 1, c + half);                            \
        for (int64_t i = 0; i < m; i++) s[i] = 0;                                            \
        for (int64_t j = lo; j <= hi; j++)                                                   \
            for (int64_t i = 0; i < m; i++) s[i] += q[j * BLOCK + i];                        \
        for (int64_t i = 0; i < m; i++) s[i] = k + alpha * s[i];                             \
    }

/* One block of m positions starting at a (and b or g, d at the same offsets). SP is a constant
 * 1 in the NCHW instance, so the loops over positions vectorise. */
#define FORWARD_BLOCK(T, NAME, SP)                                                          \
    static inline void NAME(const T *a, T *b, int64_t N, int64_t sc, int64_t sp, int64_t m, \
                            int half, T alpha, T beta, T k, T *q) {                          \
        T s[BLOCK], p[BLOCK];                                                                \
        for (int64_t c = 0; c < N; c++)                                                      \
            for (int64_t i = 0; i < m; i++) { T x = a[c * sc + i * SP]; q[c * BLOCK + i] = x * x; } \
        for (int64_t c = 0; c < N; c++) {                                                    \
            window_##T(q, s, c, N, half, m, alpha, k);                                       \
            power_##T(s, p, m, beta, 0);                                                     \
            for (int64_t i = 0; i < m; i++) b[c * sc + i * SP] = a[c * sc + i * SP] * p[i];  \
        }                                                                                    \
    }

#define BACKWARD_BLOCK(T, NAME, SP)                                                         \
    static inline void NAME(const T *a, const T *g, T *d, int64_t N, int64_t sc, int64_t sp, \
                            int64_t m, int half, T alpha, T beta, T k, T *q, T *pw, T *t) { \
        T s[BLOCK];                                                                          \
        for (int64_t c = 0; c < N; c++)                                                      \
            for (int64_t i = 0; i < m; i++) { T x = a[c * sc + i * SP]; q[c * BLOCK + i] = x * x; } \
        for (int64_t c = 0; c < N; c++) {                                                    \
            T *p = pw + c * BLOCK, *u = t + c * BLOCK;                                       \
            window_##T(q, s, c, N, half, m, alpha, k);                                       \
            power_##T(s, p, m, beta, 1);                                                     \
            for (int64_t i = 0; i < m; i++)                                                  \
                u[i] = g[c * sc + i * SP] * a[c * sc + i * SP] * p[i] * s[i];                \
        }                                                                                    \
        for (int64_t c = 0; c < N; c++) {                                                    \
            int64_t lo = MAX(0, c - half), hi = MIN(N - 1, c + half);                        \
            for (int64_t i = 0; i < m; i++) s[i] = 0;                                        \
            for (int64_t j = lo; j <= hi; j++)                                               \
                for (int64_t i = 0; i < m; i++) s[i] += t[j * BLOCK + i];                    \
            for (int64_t i = 0; i < m; i++) {                                                \
                int64_t e = c * sc + i * SP;                                                 \
                d[e] = g[e] * pw[c * BLOCK + i] - 2 * alpha * beta * a[e] * s[i];            \
            }                                                                                \
        }                                                                                    \
    }

/* The exported functions: every block of every (outer, group) of the chunk, one OpenMP region
 * a call where the build has OpenMP (the blocks shared out as threads come free, so a thread
 * slowed by another process takes fewer), else in the calling thread. 0: done; 1: out of memory
 * for the N x BLOCK buffers. */
#define EACH_BLOCK(T, BUFFER, BODY)                                                          \
    int64_t blocks = (P + BLOCK - 1) / BLOCK, total = outer * groups * blocks;               \
    int threads = omp_get_max_threads();                                                     \
    T *buffers = malloc(sizeof(T) * (BUFFER) * threads);                                     \
    if (!buffers) return 1;                                                                  \
    _Pragma("omp parallel for schedule(dynamic, 1)")                                         \
    for (int64_t i = 0; i < total; i++) {                                                    \
        int64_t o = i / (groups * blocks), r = (i / blocks) % groups;                        \
        int64_t p0 = (i % blocks) * BLOCK, m = MIN(BLOCK, P - p0);                           \
        int64_t e = o * so + r * sq + p0 * sp;                                               \
        T *q = buffers + (BUFFER) * omp_get_thread_num();                                    \
        BODY                                                                                 \
    }                                                                                        \
    free(buffers);                                                                           \
    return 0;

#define KERNELS(T, SQRT, POW)                                                               \
    POWER(T, SQRT, POW)                                                                      \
    WINDOW(T)                                                                                \
    FORWARD_BLOCK(T, forward_unit_##T, 1)                                                   \
    FORWARD_BLOCK(T, forward_strided_##T, sp)                                               \
    BACKWARD_BLOCK(T, backward_unit_##T, 1)                                                 \
    BACKWARD_BLOCK(T, backward_strided_##T, sp)                                             \
    int lrn_forward_##T(const T *a, T *b, int64_t outer, int64_t so, int64_t groups,        \
                        int64_t sq, int64_t N, int64_t sc, int64_t P, int64_t sp, int size, \
                        double alpha, double beta, double k) {                               \
        EACH_BLOCK(T, N * BLOCK,                                                             \
            if (sp == 1)                                                                     \
                forward_unit_##T(a + e, b + e, N, sc, sp, m, size / 2, (T)alpha, (T)beta,    \
                                 (T)k, q);                                                   \
            else                                                                             \
                forward_strided_##T(a + e, b + e, N, sc, sp, m, size / 2, (T)alpha,          \
                                    (T)beta, (T)k, q);)                                      \
    }                                                                                        \
    int lrn_backward_##T(const T *a, const T *g, T *d, int64_t outer, int64_t so,           \
                         int64_t groups, int64_t sq, int64_t N, int64_t sc, int64_t P,       \
                         int64_t sp, int size, double alpha, double beta, double k) {        \
        EACH_BLOCK(T, 3 * N * BLOCK,                                                           \
            if (sp == 1)                                                                     \
                backward_unit_##T(a + e, g + e, d + e, N, sc, sp, m, size / 2, (T)alpha,     \
                                  (T)beta, (T)k, q, q + N * BLOCK, q + 2 * N * BLOCK);       \
            else                                                                             \
                backward_strided_##T(a + e, g + e, d + e, N, sc, sp, m, size / 2,            \
                                     (T)alpha, (T)beta, (T)k, q, q + N * BLOCK,              \
                                     q + 2 * N * BLOCK);)                                    \
    }

KERNELS(float, sqrtf, powf)
KERNELS(double, sqrt, pow)

/* 1 where this build runs its blocks on OpenMP's threads (the caller then passes whole
 * tensors), 0 where the caller must share the work out itself. */
int lrn_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
