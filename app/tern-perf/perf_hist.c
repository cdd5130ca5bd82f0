/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "perf_hist.h"

void
perf_hist_init(struct perf_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Values below PERF_HIST_SUB get one bucket each; above, the top
 * PERF_HIST_SUB_BITS + 1 significant bits pick the bucket. */
static uint32_t
bucket_of(uint64_t v)
{
    uint32_t msb, shift;

    if (v < PERF_HIST_SUB)
        return (uint32_t)v;
    msb = 63u - (uint32_t)__builtin_clzll(v);
    shift = msb - PERF_HIST_SUB_BITS;
    return (shift + 1) * PERF_HIST_SUB + (uint32_t)((v >> shift) & (PERF_HIST_SUB - 1));
}

/* The largest value that falls in bucket i. */
static uint64_t
bucket_top(uint32_t i)
{
    uint32_t shift;

    if (i < PERF_HIST_SUB)
        return i;
    shift = i / PERF_HIST_SUB - 1;
    return ((uint64_t)(PERF_HIST_SUB + i % PERF_HIST_SUB) << shift) + ((1ull << shift) - 1);
}

void
perf_hist_add(struct perf_hist *h, uint64_t v)
{
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->b[bucket_of(v)]++;
}

void
perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src)
{
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    for (uint32_t i = 0; i < PERF_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

uint64_t
perf_hist_percentile(const struct perf_hist *h, double p)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    /* The smallest value with at least p% of the samples at or below it. */
    rank = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    for (uint32_t i = 0; i < PERF_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_top(i);

            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}
