/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>

#include "perf_hist.h"

static struct perf_hist h, h2;

static void
within(uint64_t got, uint64_t want)
{
    /* A bucket spans 1/32 of its power of two: at most ~3.2% above. */
    cr_assert(got >= want && (double)got <= (double)want * (1.0 + 1.0 / PERF_HIST_SUB) + 1,
              "got %lu want %lu", (unsigned long)got, (unsigned long)want);
}

Test(perf_hist, empty_is_zero)
{
    perf_hist_init(&h);
    cr_assert_eq(perf_hist_percentile(&h, 50), 0);
    cr_assert_eq(h.count, 0);
}

Test(perf_hist, small_values_are_exact)
{
    perf_hist_init(&h);
    for (uint64_t v = 0; v < PERF_HIST_SUB; v++)
        perf_hist_add(&h, v);
    cr_assert_eq(perf_hist_percentile(&h, 100), PERF_HIST_SUB - 1);
    cr_assert_eq(perf_hist_percentile(&h, 50), PERF_HIST_SUB / 2 - 1);
    cr_assert_eq(h.min, 0);
}

Test(perf_hist, one_value_is_every_percentile)
{
    perf_hist_init(&h);
    perf_hist_add(&h, 123456789);
    cr_assert_eq(perf_hist_percentile(&h, 0.01), 123456789);
    cr_assert_eq(perf_hist_percentile(&h, 99.99), 123456789);
    cr_assert_eq(h.sum, 123456789);
}

Test(perf_hist, uniform_percentiles_within_a_bucket)
{
    perf_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        perf_hist_add(&h, v);
    within(perf_hist_percentile(&h, 50), 50000);
    within(perf_hist_percentile(&h, 90), 90000);
    within(perf_hist_percentile(&h, 99), 99000);
    within(perf_hist_percentile(&h, 99.9), 99900);
    cr_assert_eq(perf_hist_percentile(&h, 100), 100000);
    cr_assert_eq(h.min, 1);
    cr_assert_eq(h.max, 100000);
}

Test(perf_hist, tail_and_huge_values)
{
    perf_hist_init(&h);
    for (int i = 0; i < 999; i++)
        perf_hist_add(&h, 1000);
    perf_hist_add(&h, UINT64_MAX / 2);
    within(perf_hist_percentile(&h, 99.9), 1000);
    cr_assert_eq(perf_hist_percentile(&h, 99.95), UINT64_MAX / 2);
}

Test(perf_hist, merge_equals_adding_everything)
{
    perf_hist_init(&h);
    perf_hist_init(&h2);
    for (uint64_t v = 1; v <= 5000; v++)
        perf_hist_add(v % 2 ? &h : &h2, v * 7);
    perf_hist_merge(&h, &h2);
    cr_assert_eq(h.count, 5000);
    cr_assert_eq(h.min, 7);
    cr_assert_eq(h.max, 35000);
    within(perf_hist_percentile(&h, 50), 17500);
}
