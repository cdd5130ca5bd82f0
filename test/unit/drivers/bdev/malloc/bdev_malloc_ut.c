/* SPDX-License-Identifier: BSD-3-Clause */
/* The malloc bdev's data path, created through its RPC handler. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "tern_bdev.h"
#include "ut_bdev.h"

TestSuite(bdev_malloc, .init = ut_bdev_env_init, .fini = ut_bdev_env_fini, .timeout = 30);

static int g_done;
static enum tern_bdev_io_status g_st[8];

static void
done(void *arg, enum tern_bdev_io_status st)
{
    g_st[(uintptr_t)arg] = st;
    if (++g_done == 6)
        tern_reactors_stop();
}

Test(bdev_malloc, data_written_reads_back_and_compares)
{
    static uint8_t wr[8192], rd[8192], zero[4096];
    struct iovec wiov[2] = { { wr, 4096 }, { wr + 4096, 4096 } };
    struct iovec riov = { rd, 8192 }, ziov = { zero, 4096 }, civ = { wr, 4096 };
    struct tern_bdev_desc *d;
    struct tern_bdev_channel *ch;
    size_t i;

    json_t *r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
                    "\"params\":{\"num_blocks\":64,\"block_size\":512}}");
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "Malloc0",
                     "SPDK-style default name");
    for (i = 0; i < sizeof(wr); i++)
        wr[i] = (uint8_t)(i * 7 + 3 + (i >> 9));   /* differs per block */
    cr_assert_eq(tern_bdev_open("Malloc0", true, NULL, NULL, &d), 0);
    ch = tern_bdev_get_channel(d);
    cr_assert_not_null(ch);
    /* Everything is queued before the reactor runs: per-channel order holds. */
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_WRITE, 8, 16, wiov, 2, done, (void *)0), 0);
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_READ, 8, 16, &riov, 1, done, (void *)1), 0);
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_COMPARE, 8, 8, &civ, 1, done, (void *)2), 0);
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_COMPARE, 16, 8, &civ, 1, done, (void *)3), 0);
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_WRITE_ZEROES, 8, 8, NULL, 0, done, (void *)4), 0);
    cr_assert_eq(tern_bdev_submit(ch, TERN_BDEV_IO_COMPARE, 8, 8, &ziov, 1, done, (void *)5), 0);
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_eq(g_done, 6);
    cr_assert_eq(g_st[0], TERN_BDEV_IO_SUCCESS);
    cr_assert_eq(memcmp(rd, wr, sizeof(wr)), 0, "read back what was written");
    cr_assert_eq(g_st[2], TERN_BDEV_IO_SUCCESS, "compare of equal data");
    cr_assert_eq(g_st[3], TERN_BDEV_IO_MISCOMPARE, "compare against other data");
    cr_assert_eq(g_st[5], TERN_BDEV_IO_SUCCESS, "zeroed blocks compare equal to zeroes");
    tern_bdev_put_channel(ch);
    tern_bdev_close(d);
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"bdev_malloc_delete\",\"params\":{\"name\":\"Malloc0\"}}");
    cr_assert(json_is_true(json_object_get(r, "result")));
    cr_assert_null(tern_bdev_get_by_name("Malloc0"));
}

Test(bdev_malloc, bad_requests_are_refused)
{
    json_t *r;

    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
            "\"params\":{\"name\":\"m\",\"num_blocks\":1000000000,\"block_size\":4096}}");
    cr_assert_eq(ut_rpc_error_code(r), -ENOMEM,
                 "4 TB does not fit in 64 MiB of EAL memory");
    cr_assert_null(tern_bdev_get_by_name("m"), "nothing half-made is left");
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
            "\"params\":{\"name\":\"m\",\"num_blocks\":8,\"block_size\":500}}");
    cr_assert_eq(ut_rpc_error_code(r),
                 TERN_RPC_INVALID_PARAMS);
    cr_assert_null(tern_bdev_get_by_name("m"));
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
            "\"params\":{\"name\":\"m\",\"num_blocks\":8,\"block_size\":512,\"uuid\":\"nope\"}}");
    cr_assert_eq(ut_rpc_error_code(r),
                 TERN_RPC_INVALID_PARAMS);
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
            "\"params\":{\"name\":\"m\",\"num_blocks\":8,\"block_size\":512}}");
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "m");
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_malloc_create\","
            "\"params\":{\"name\":\"m\",\"num_blocks\":8,\"block_size\":512}}");
    cr_assert_eq(ut_rpc_error_code(r), -EEXIST);
    r = ut_rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_null_delete\",\"params\":{\"name\":\"m\"}}");
    cr_assert_eq(ut_rpc_error_code(r), -ENODEV,
                 "a null delete does not remove a malloc bdev");
    cr_assert_not_null(tern_bdev_get_by_name("m"));
}
