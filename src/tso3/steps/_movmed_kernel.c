/*
 * Moving median along the time axis of a (nints, npix) float32 array, for tso3's
 * outlier step.  Plain C, no Python API: loaded with ctypes by tso3/steps/_movmed.py,
 * which falls back to bottleneck.move_median when this library was not built.
 *
 * Why a kernel of our own: the outlier pass computes ~1e8 windowed medians per
 * observation.  bottleneck's double heap costs ~60 ns per sample; here every pixel of a
 * block of columns keeps its window as a sorted array of exactly `width` slots (missing
 * and invalid samples are +inf, so they sort last), and one time step replaces the
 * leaving sample by the entering one with two branch-free passes over the slots.  The
 * passes run over many pixels at once (SIMD lanes), walk the array row by row (every
 * read is contiguous), and need no sort at all: a few ns per sample for width 25.
 * The cost grows linearly with the width, so the caller uses bottleneck beyond a
 * width where the heap wins.
 *
 * Results equal bottleneck.move_median's bit for bit: the median of an even count is
 * the mean of the two middle values computed in double precision, then rounded.
 */

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Columns handled together: at most BLOCK, and few enough that the two copies of their
 * sorted windows (WINDOW_BYTES) stay in the L2 cache. */
#ifndef BLOCK
#define BLOCK 1024
#endif
/* Blocks are padded to a multiple of LANES columns, so vector loops have no remainder. */
#define LANES 8
#ifndef WINDOW_BYTES
#define WINDOW_BYTES (256 * 1024)
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* One binary, the widest vectors the running CPU has. */
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

/* Replace `leave[c]` by `enter[c]` in every column's sorted window `s` (width slots,
 * column-interleaved: s[j * nc + c]) and write the result to `t`.  `leave[c]` must be
 * present in column c.  Removing it moves every slot from its first occurrence on down
 * by one (r[j] below); inserting v then gives min(max(r[j-1], v), r[j]). */
static inline __attribute__((always_inline)) void slide(const float *restrict s,
                                                        float *restrict t, ptrdiff_t width,
                                                        ptrdiff_t stride, ptrdiff_t nc,
                                                        const float *restrict leave,
                                                        const float *restrict enter)
{
    for (ptrdiff_t c = 0; c < nc; c++) {
        float r0 = s[c] >= leave[c] ? s[stride + c] : s[c];
        t[c] = enter[c] < r0 ? enter[c] : r0;
    }
    for (ptrdiff_t j = 1; j < width - 1; j++) {
        const float *restrict a = s + (j - 1) * stride, *restrict b = s + j * stride,
                              *restrict d = s + (j + 1) * stride;
        float *restrict o = t + j * stride;
        for (ptrdiff_t c = 0; c < nc; c++) {
            float rprev = a[c] >= leave[c] ? b[c] : a[c];
            float r = b[c] >= leave[c] ? d[c] : b[c];
            float hi = rprev > enter[c] ? rprev : enter[c];
            o[c] = hi < r ? hi : r;
        }
    }
    const float *restrict a = s + (width - 2) * stride, *restrict b = s + (width - 1) * stride;
    float *restrict o = t + (width - 1) * stride;
    for (ptrdiff_t c = 0; c < nc; c++) {
        float rprev = a[c] >= leave[c] ? b[c] : a[c];
        o[c] = rprev > enter[c] ? rprev : enter[c];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_SLIDE 1
/* The same with AVX2, eight columns at a time walking up the slots: s[j] and r[j-1]
 * stay in registers, so a slot costs one load, one store and four operations.  Slot j is
 * stored after slot j + 1 was loaded, so `t` may be `s` (an update in place). */
__attribute__((target("avx2"))) static void slide_avx2(const float *s, float *t,
                                                       ptrdiff_t width, ptrdiff_t stride,
                                                       ptrdiff_t nc, const float *leave,
                                                       const float *enter)
{
    for (ptrdiff_t c = 0; c < nc; c += 8) {
        __m256 out = _mm256_loadu_ps(leave + c), in = _mm256_loadu_ps(enter + c);
        __m256 b = _mm256_loadu_ps(s + stride + c);
        __m256 a = _mm256_loadu_ps(s + c);
        __m256 rprev = _mm256_blendv_ps(a, b, _mm256_cmp_ps(a, out, _CMP_GE_OQ));
        _mm256_storeu_ps(t + c, _mm256_min_ps(in, rprev));
        for (ptrdiff_t j = 1; j < width - 1; j++) {
            __m256 d = _mm256_loadu_ps(s + (j + 1) * stride + c);
            __m256 r = _mm256_blendv_ps(b, d, _mm256_cmp_ps(b, out, _CMP_GE_OQ));
            __m256 hi = _mm256_max_ps(rprev, in);
            _mm256_storeu_ps(t + j * stride + c, _mm256_min_ps(hi, r));
            rprev = r;
            b = d;
        }
        _mm256_storeu_ps(t + (width - 1) * stride + c, _mm256_max_ps(rprev, in));
    }
}
#endif

/* What one pass computes; the detection part is used when `err` is not NULL. */
typedef struct {
    const float *x;          /* data, x[i * x_stride + c] */
    const uint8_t *good;     /* usable mask, or NULL */
    const uint32_t *dq;      /* DQ (detection: required); usable where (dq & bad_bits) == 0 */
    const float *err;        /* detection: uncertainties */
    const float *coeffs;     /* detection: motion coefficients [i * nmodes + k], or NULL */
    const float *basis;      /* detection: motion basis [k * basis_stride + c] */
    float *med;              /* out: reference (median + motion) */
    uint8_t *flags;          /* out, detection: outliers */
    ptrdiff_t x_stride, good_stride, dq_stride, err_stride, basis_stride, med_stride,
        flags_stride;
    ptrdiff_t nints, npix, before, after, min_count, nmodes;
    uint32_t bad_bits;
    float snr;
    int64_t unjudged;        /* out, detection: usable samples whose ERR is not > 0 */
} pass_t;

/* Load row t of columns [c0, c0 + nc) as slot values (+inf when not usable) and add
 * `sign` (+1 entering, -1 leaving) to the count of usable samples of each column. */
static inline __attribute__((always_inline)) void load_row(const pass_t *p, ptrdiff_t t,
                                                           ptrdiff_t c0, ptrdiff_t nc,
                                                           float *restrict value,
                                                           int32_t *restrict count,
                                                           int32_t sign)
{
    const float *restrict xr = p->x + t * p->x_stride + c0;
    if (p->good != NULL) {
        const uint8_t *restrict gr = p->good + t * p->good_stride + c0;
        for (ptrdiff_t c = 0; c < nc; c++) {
            int32_t ok = !isnan(xr[c]) & (gr[c] != 0);
            value[c] = ok ? xr[c] : INFINITY;
            count[c] += ok * sign;
        }
    } else if (p->dq != NULL) {
        const uint32_t *restrict dr = p->dq + t * p->dq_stride + c0;
        const uint32_t bad = p->bad_bits;
        for (ptrdiff_t c = 0; c < nc; c++) {
            int32_t ok = !isnan(xr[c]) & ((dr[c] & bad) == 0);
            value[c] = ok ? xr[c] : INFINITY;
            count[c] += ok * sign;
        }
    } else {
        for (ptrdiff_t c = 0; c < nc; c++) {
            int32_t ok = !isnan(xr[c]);
            value[c] = ok ? xr[c] : INFINITY;
            count[c] += ok * sign;
        }
    }
}

/* Detection for row i of columns [c0, c0 + nc), whose median is already in m. */
static inline __attribute__((always_inline)) void judge_row(pass_t *p, ptrdiff_t i,
                                                            ptrdiff_t c0, ptrdiff_t nc,
                                                            float *restrict m,
                                                            float *restrict motion)
{
    if (p->coeffs != NULL) {
        for (ptrdiff_t c = 0; c < nc; c++) motion[c] = 0.0f;
        for (ptrdiff_t k = 0; k < p->nmodes; k++) {
            float a = p->coeffs[i * p->nmodes + k];
            const float *b = p->basis + k * p->basis_stride + c0;
            for (ptrdiff_t c = 0; c < nc; c++) motion[c] += a * b[c];
        }
        for (ptrdiff_t c = 0; c < nc; c++) m[c] += motion[c];
    }
    const float *restrict xr = p->x + i * p->x_stride + c0;
    const float *restrict er = p->err + i * p->err_stride + c0;
    const uint32_t *restrict dr = p->dq + i * p->dq_stride + c0;
    const uint32_t bad = p->bad_bits;
    const float snr = p->snr;
    uint8_t *restrict fr = p->flags + i * p->flags_stride + c0;
    int64_t unjudged = 0;
    for (ptrdiff_t c = 0; c < nc; c++) {
        /* NaN in SCI, median or ERR compares false: never flagged (bitwise & keeps
         * the loop branch-free, so it vectorises) */
        float dev = fabsf(xr[c] - m[c]), e = er[c];
        int good = (dr[c] & bad) == 0, positive = e > 0.0f;
        fr[c] = (uint8_t)(good & (dev > snr * e) & positive);
        unjudged += good & !positive & (dev <= FLT_MAX);
    }
    p->unjudged += unjudged;
}

/* The pass: slide every column's window down the rows of one block after another. */
static inline __attribute__((always_inline)) int walk(pass_t *p)
{
    ptrdiff_t width = p->before + p->after + 1;
    if (width < 2) return -2;
    ptrdiff_t min_count = p->min_count < 1 ? 1 : p->min_count;
    ptrdiff_t block = WINDOW_BYTES / (2 * (ptrdiff_t)sizeof(float) * width) / 16 * 16;
    block = block < 16 ? 16 : (block > BLOCK ? BLOCK : block);
    float *buf = malloc(sizeof(float) * (size_t)(2 * width * (block + 16)));
    if (buf == NULL) return -1;
    float leave[BLOCK], enter[BLOCK], motion[BLOCK];
    int32_t count[BLOCK];
    p->unjudged = 0;
#ifdef HAVE_AVX2_SLIDE
    __builtin_cpu_init();
    const int use_avx2 = __builtin_cpu_supports("avx2");
#endif
    for (ptrdiff_t c0 = 0; c0 < p->npix; c0 += block) {
        ptrdiff_t nc = p->npix - c0 < block ? p->npix - c0 : block;
        ptrdiff_t ncp = (nc + LANES - 1) / LANES * LANES; /* padding lanes stay +inf */
        /* rows of the window buffer are padded by a cache line so that walking up the
         * slots does not hit addresses 4 KiB apart (they would alias in the L1 cache) */
        ptrdiff_t rs = ncp + 16;
        float *s = buf;
        for (ptrdiff_t k = 0; k < width * rs; k++) s[k] = INFINITY;
        for (ptrdiff_t c = 0; c < nc; c++) count[c] = 0;
        for (ptrdiff_t c = nc; c < ncp; c++) enter[c] = leave[c] = INFINITY;
        /* start with the all-missing window of i = -after - 1 and slide it along */
        for (ptrdiff_t i = -p->after; i < p->nints; i++) {
            ptrdiff_t t_in = i + p->after, t_out = i - p->before - 1;
            if (t_in < p->nints) {
                load_row(p, t_in, c0, nc, enter, count, 1);
            } else {
                for (ptrdiff_t c = 0; c < nc; c++) enter[c] = INFINITY;
            }
            if (t_out >= 0) {
                load_row(p, t_out, c0, nc, leave, count, -1);
            } else {
                for (ptrdiff_t c = 0; c < nc; c++) leave[c] = INFINITY;
            }
#ifdef HAVE_AVX2_SLIDE
            if (use_avx2) {
                /* in place: each slot is written only after the one above it was read */
                slide_avx2(s, s, width, rs, ncp, leave, enter);
            } else
#endif
            {
                float *t = s == buf ? buf + width * rs : buf;
                slide(s, t, width, rs, ncp, leave, enter);
                s = t;
            }
            if (i < 0) continue;
            float *m = p->med + i * p->med_stride + c0;
            /* Most windows are full: their middle slots are the same two rows for every
             * column, read contiguously.  The few others (bad or NaN samples, the ends of
             * the series) look up their own middle; a gather instruction for all
             * columns would cost more than the whole slide. */
            const float *lo = s + ((width - 1) / 2) * rs, *hi = s + (width / 2) * rs;
            if (lo == hi) { /* odd width: the middle slot itself */
                for (ptrdiff_t c = 0; c < nc; c++) m[c] = lo[c];
            } else {
                for (ptrdiff_t c = 0; c < nc; c++)
                    m[c] = (float)(((double)lo[c] + (double)hi[c]) * 0.5);
            }
            /* the others, found 16 columns at a time by a vectorised test */
            for (ptrdiff_t g = 0; g < nc; g += 16) {
                ptrdiff_t end = g + 16 < nc ? g + 16 : nc;
                int32_t odd = 0;
                for (ptrdiff_t c = g; c < end; c++) odd |= count[c] != width;
                if (!odd) continue;
                for (ptrdiff_t c = g; c < end; c++) {
                    int32_t k = count[c];
                    if (k == width) continue;
                    if (k < min_count || k == 0) {
                        m[c] = NAN;
                    } else {
                        double a = s[((k - 1) / 2) * rs + c], b = s[(k / 2) * rs + c];
                        m[c] = (float)((a + b) * 0.5);
                    }
                }
            }
            if (p->err != NULL) judge_row(p, i, c0, nc, m, motion);
        }
    }
    free(buf);
    return 0;
}

/*
 * out[i, c] = median of the usable samples of x[i - before : i + after + 1, c]
 * (clipped to the array), NaN when fewer than `min_count` (and at least one) are
 * usable.  A sample is usable when it is not NaN and good[i, c] != 0 (good may be NULL).
 * Strides are in elements; columns are contiguous.  Returns 0, or -1 if out of memory.
 */
MULTIVERSION
int tso3_moving_median_f32(const float *x, ptrdiff_t x_stride, const uint8_t *good,
                           ptrdiff_t good_stride, float *out, ptrdiff_t out_stride,
                           ptrdiff_t nints, ptrdiff_t npix, ptrdiff_t before,
                           ptrdiff_t after, ptrdiff_t min_count)
{
    pass_t p = {.x = x, .x_stride = x_stride, .good = good, .good_stride = good_stride,
                .med = out, .med_stride = out_stride, .nints = nints, .npix = npix,
                .before = before, .after = after, .min_count = min_count};
    return walk(&p);
}

/*
 * The default outlier test in one pass.  A sample is usable when SCI is not NaN and
 * (dq & bad_bits) == 0.  med = centred moving median of the usable samples (as above,
 * min_count 1) plus, when coeffs is not NULL, sum_k coeffs[i, k] * basis[k, c];
 * flags = usable and |SCI - med| > snr * ERR and ERR > 0.  *unjudged receives the
 * number of usable samples with a finite deviation whose ERR is NaN or <= 0 (the caller
 * judges those against the pixel's scatter).  Returns 0, or -1 if out of memory.
 */
MULTIVERSION
int tso3_detect_f32(const float *x, ptrdiff_t x_stride, const float *err,
                    ptrdiff_t err_stride, const uint32_t *dq, ptrdiff_t dq_stride,
                    uint32_t bad_bits, const float *coeffs, ptrdiff_t nmodes,
                    const float *basis, ptrdiff_t basis_stride, float snr, float *med,
                    ptrdiff_t med_stride, uint8_t *flags, ptrdiff_t flags_stride,
                    ptrdiff_t nints, ptrdiff_t npix, ptrdiff_t before, ptrdiff_t after,
                    int64_t *unjudged)
{
    pass_t p = {.x = x, .x_stride = x_stride, .err = err, .err_stride = err_stride,
                .dq = dq, .dq_stride = dq_stride, .bad_bits = bad_bits,
                .coeffs = coeffs, .nmodes = nmodes, .basis = basis,
                .basis_stride = basis_stride, .snr = snr, .med = med,
                .med_stride = med_stride, .flags = flags, .flags_stride = flags_stride,
                .nints = nints, .npix = npix, .before = before, .after = after,
                .min_count = 1};
    int status = walk(&p);
    *unjudged = p.unjudged;
    return status;
}
