/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "ut_env.h"

Test(mempool_cache, leaves_most_of_the_pool_outside_caches)
{
    uint32_t lcores, count;

    for (lcores = 1; lcores <= 128; lcores *= 2) {
        for (count = 1; count <= 1u << 20; count *= 3) {
            uint32_t c = tern_mempool_cache_for(count, lcores);

            cr_assert_leq(c, 512, "DPDK's cache limit");
            /* each cache may hold 1.5x its size */
            cr_assert_leq((uint64_t)c * 3 / 2 * lcores, count / 3 + 1,
                          "count %u lcores %u cache %u", count, lcores, c);
        }
    }
    cr_assert_eq(tern_mempool_cache_for(8, 2), 0, "tiny pools get no cache");
    cr_assert_gt(tern_mempool_cache_for(100000, 2), 0);
}

TestSuite(mempool, .init = ut_env_init, .fini = tern_env_fini);

Test(mempool, get_and_put_account_every_object)
{
    struct tern_mempool *mp = tern_mempool_create("ut_mp", 100, 64, TERN_ENV_SOCKET_ANY);
    void *objs[100], *extra;
    int i;

    cr_assert_not_null(mp);
    cr_assert_eq(tern_mempool_size(mp), 100);
    cr_assert_str_eq(tern_mempool_name(mp), "ut_mp");
    cr_assert_eq(tern_mempool_avail(mp), 100);
    for (i = 0; i < 100; i++)
        cr_assert_eq(tern_mempool_get(mp, &objs[i]), 0, "object %d", i);
    cr_assert_eq(tern_mempool_avail(mp), 0);
    cr_assert_eq(tern_mempool_get(mp, &extra), -ENOMEM, "an empty pool says so");
    for (i = 0; i < 50; i++)
        tern_mempool_put(mp, objs[i]);
    tern_mempool_put_bulk(mp, &objs[50], 50);
    cr_assert_eq(tern_mempool_avail(mp), 100);
    cr_assert_eq(tern_mempool_get_bulk(mp, objs, 100), 0);
    cr_assert_eq(tern_mempool_get_bulk(mp, &extra, 1), -ENOMEM);
    tern_mempool_put_bulk(mp, objs, 100);
    tern_mempool_free(mp);
}

Test(mempool, bad_arguments_are_refused)
{
    char longname[80];

    cr_assert_null(tern_mempool_create("x", 0, 64, TERN_ENV_SOCKET_ANY));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(tern_mempool_create("x", 10, 0, TERN_ENV_SOCKET_ANY));
    cr_assert_eq(errno, EINVAL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_assert_null(tern_mempool_create(longname, 10, 8, TERN_ENV_SOCKET_ANY));
    cr_assert_eq(errno, ENAMETOOLONG);
    cr_assert_null(tern_mempool_create("huge", 1u << 30, 1u << 20, TERN_ENV_SOCKET_ANY),
                   "more than the EAL's memory");
}

TestSuite(ring, .init = ut_env_init, .fini = tern_env_fini);

Test(ring, keeps_order_and_capacity)
{
    struct tern_ring *r = tern_ring_create("ut_ring", 100, TERN_ENV_SOCKET_ANY, TERN_RING_MP_SC);
    void *in[150], *out[150];
    uintptr_t i;

    cr_assert_not_null(r);
    cr_assert_eq(tern_ring_capacity(r), 100, "exactly the size asked for");
    for (i = 0; i < 150; i++)
        in[i] = (void *)(i + 1);
    cr_assert_eq(tern_ring_enqueue_burst(r, in, 150), 100, "a full ring takes what fits");
    cr_assert_eq(tern_ring_count(r), 100);
    cr_assert_eq(tern_ring_dequeue_burst(r, out, 30), 30);
    cr_assert_eq(tern_ring_dequeue_burst(r, out + 30, 150), 70);
    for (i = 0; i < 100; i++)
        cr_assert_eq(out[i], in[i], "slot %lu", (unsigned long)i);
    cr_assert_eq(tern_ring_dequeue_burst(r, out, 1), 0);
    tern_ring_free(r);
    cr_assert_null(tern_ring_create("ut_bad", 0, TERN_ENV_SOCKET_ANY, TERN_RING_SP_SC));
    cr_assert_null(tern_ring_create("ut_bad", 8, TERN_ENV_SOCKET_ANY, (enum tern_ring_mode)99));
}
