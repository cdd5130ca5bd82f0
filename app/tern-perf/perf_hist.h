/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histogram for tern-perf: log-linear buckets (each power of two
 * split into 2^PERF_HIST_SUB_BITS equal buckets), so any recorded value is
 * reported within 1/2^PERF_HIST_SUB_BITS (3%) of itself, in fixed memory and
 * O(1) per record. Values are in whatever unit the caller uses (ticks).
 */
#ifndef PERF_HIST_H
#define PERF_HIST_H

#include <stdint.h>

#define PERF_HIST_SUB_BITS 5
#define PERF_HIST_SUB (1u << PERF_HIST_SUB_BITS)
#define PERF_HIST_BUCKETS ((64 - PERF_HIST_SUB_BITS + 1) * PERF_HIST_SUB)

struct perf_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t b[PERF_HIST_BUCKETS];
};

void perf_hist_init(struct perf_hist *h);
void perf_hist_add(struct perf_hist *h, uint64_t v);
void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src);
/* The value at percentile p (0 < p <= 100): the upper edge of the bucket
 * that holds it, clamped to [min, max]. 0 when empty. */
uint64_t perf_hist_percentile(const struct perf_hist *h, double p);

#endif /* PERF_HIST_H */
