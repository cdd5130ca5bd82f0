/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "ut_env.h"

TestSuite(env, .init = ut_env_init, .fini = tern_env_fini);

Test(env, lcores_are_listed_with_their_socket)
{
    uint32_t l, n = 0, prev = 0;

    cr_assert(tern_env_initialized());
    cr_assert_eq(tern_env_lcore_count(), 2);
    cr_assert_eq(tern_env_main_lcore(), 0);
    cr_assert_eq(tern_env_lcore_id(), 0, "the test thread is the main lcore");
    TERN_ENV_FOREACH_LCORE(l) {
        if (n > 0)
            cr_assert_gt(l, prev, "lcores come in increasing order");
        cr_assert_geq(tern_env_lcore_socket(l), 0);
        prev = l;
        n++;
    }
    cr_assert_eq(n, 2);
    cr_assert_eq(tern_env_lcore_socket(100000), -1, "unknown lcore has no socket");
    cr_assert_geq(tern_env_socket_count(), 1);
}

Test(env, init_twice_is_refused)
{
    char *argv[] = { (char *)"ut", NULL };

    cr_assert_eq(tern_env_init(1, argv), -EALREADY);
}


static int g_ran[128];

static int
record_lcore(void *arg)
{
    uint32_t me = tern_env_lcore_id();

    g_ran[me]++;
    /* lcore 1 fails on purpose: its value must come back. */
    return me == 1 ? *(int *)arg : 0;
}

Test(env, launch_all_runs_once_per_lcore_and_returns_failure)
{
    int fail = 42;

    cr_assert_eq(tern_env_launch_all(record_lcore, &fail), 42);
    cr_assert_eq(g_ran[0], 1);
    cr_assert_eq(g_ran[1], 1);
    fail = 0;
    cr_assert_eq(tern_env_launch_all(record_lcore, &fail), 0);
    cr_assert_eq(g_ran[0], 2);
    cr_assert_eq(g_ran[1], 2);
}

Test(env, ticks_advance_at_their_rate)
{
    uint64_t hz = tern_env_ticks_hz(), t0 = tern_env_ticks(), dt;

    cr_assert_gt(hz, 0);
    tern_env_delay_us(20000);
    dt = tern_env_ticks() - t0;
    cr_assert_geq(dt, hz / 50 - hz / 1000, "20 ms sleep took %lu ticks at %lu Hz",
                  (unsigned long)dt, (unsigned long)hz);
}

Test(env, iova_of_dpdk_memory_is_known)
{
    char *p = tern_env_zmalloc("ut", 4096, 64, TERN_ENV_SOCKET_ANY);
    uint64_t iova;

    cr_assert_not_null(p);
    cr_assert_eq(p[100], 0, "zmalloc zeroes");
    iova = tern_env_virt2iova(p);
    cr_assert_neq(iova, TERN_ENV_IOVA_BAD);
    if (strcmp(tern_env_iova_mode(), "VA") == 0)
        cr_assert_eq(iova, (uint64_t)(uintptr_t)p);
    cr_assert_eq(tern_env_virt2iova(p + 100), iova + 100, "contiguous within an allocation");
    tern_env_free(p);
}
