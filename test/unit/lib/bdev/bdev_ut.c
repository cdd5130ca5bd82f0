/* SPDX-License-Identifier: BSD-3-Clause */
/* The bdev layer with a test module around it: completions, the I/O pool
 * running dry and its waiters, range checks, removal with holders. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_bdev_module.h"
#include "tern_rpc.h"
#include "ut_env.h"

/* ---- a module that completes inline, or later from its poll ---- */
static bool g_async;
static struct tern_bdev_io *g_held[64];
static int g_nheld, g_destructed, g_chan_created, g_chan_destroyed;

static void *
ut_chan_create(struct tern_bdev *b)
{
    (void)b;
    g_chan_created++;
    return &g_chan_created;
}

static void
ut_chan_destroy(struct tern_bdev *b, void *c)
{
    (void)b;
    (void)c;
    g_chan_destroyed++;
}

static void
ut_submit(void *chan, struct tern_bdev_io *io)
{
    (void)chan;
    if (g_async)
        g_held[g_nheld++] = io;
    else
        tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
}

static int
ut_poll(void *chan)
{
    int n = g_nheld;
    (void)chan;

    while (g_nheld > 0)
        tern_bdev_io_complete(g_held[--g_nheld], TERN_BDEV_IO_FAILED);
    return n;
}

static bool
ut_supported(struct tern_bdev *b, enum tern_bdev_io_type t)
{
    (void)b;
    return t != TERN_BDEV_IO_COMPARE;
}

static void
ut_destruct(struct tern_bdev *b)
{
    (void)b;
    g_destructed++;
}

static const struct tern_bdev_ops g_ops = {
    .channel_create = ut_chan_create,
    .channel_destroy = ut_chan_destroy,
    .submit = ut_submit,
    .poll = ut_poll,
    .io_type_supported = ut_supported,
    .destruct = ut_destruct,
};

static struct tern_bdev *g_bdev;
static struct tern_bdev_desc *g_desc;
static struct tern_bdev_channel *g_ch;

static void
setup(void)
{
    struct tern_bdev_params p = {
        .name = "ut0", .module = "ut", .block_size = 512, .num_blocks = 1000, .ops = &g_ops,
    };
    struct tern_bdev_opts o = { .io_pool_size = 300 };

    ut_env_init();
    cr_assert_eq(tern_reactors_init(), 0);
    cr_assert_eq(tern_bdev_set_opts(&o), 0);
    cr_assert_eq(tern_bdev_init(), 0);
    cr_assert_eq(tern_bdev_register(&p, &g_bdev), 0);
    cr_assert_eq(tern_bdev_open("ut0", true, NULL, NULL, &g_desc), 0);
    g_ch = tern_bdev_get_channel(g_desc);
    cr_assert_not_null(g_ch);
}

static void
teardown(void)
{
    tern_bdev_fini();
    tern_reactors_fini();
    tern_env_fini();
}

TestSuite(bdev, .init = setup, .fini = teardown, .timeout = 30);

static int g_done, g_inline, g_in_submit;
static enum tern_bdev_io_status g_last;

static void
io_done(void *arg, enum tern_bdev_io_status st)
{
    (void)arg;
    if (g_in_submit)
        g_inline++;
    g_done++;
    g_last = st;
}

static char g_buf[512 * 8];

static int
submit(enum tern_bdev_io_type t, uint64_t off, uint64_t n)
{
    struct iovec iov = { g_buf, n * 512 };
    int rc;

    g_in_submit = 1;
    rc = tern_bdev_submit(g_ch, t, off, n, &iov, 1, io_done, NULL);
    g_in_submit = 0;
    return rc;
}

static int
stop_when(void *arg)
{
    int *target = arg;

    if (g_done >= *target)
        tern_reactors_stop();
    return TERN_POLLER_IDLE;
}

Test(bdev, inline_completions_are_delivered_from_the_poller)
{
    int target = 3;

    cr_assert_eq(tern_bdev_io_pool_size(), 300);
    cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 8), 0);
    cr_assert_eq(submit(TERN_BDEV_IO_READ, 992, 8), 0);
    cr_assert_eq(submit(TERN_BDEV_IO_FLUSH, 0, 0), 0);
    cr_assert_eq(g_done, 0, "never called back from inside submit");
    cr_assert_not_null(tern_poller_register(stop_when, &target, 0, "stop"));
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_eq(g_done, 3);
    cr_assert_eq(g_inline, 0);
    cr_assert_eq(g_last, TERN_BDEV_IO_SUCCESS);
    struct tern_bdev_channel_stats st;
    tern_bdev_channel_stats(g_ch, &st);
    cr_assert_eq(st.ops[TERN_BDEV_IO_WRITE], 1);
    cr_assert_eq(st.bytes_read, 4096);
    cr_assert_eq(st.outstanding, 0);
    cr_assert_eq(tern_bdev_io_pool_free(), 300, "every I/O object came back");
}

/* A consumer that submits again from every completion (tern-perf does) to a
 * bdev that completes inline: each poll must deliver only what was deferred
 * before it, or the reactor never runs its other pollers. */
static int g_resubmits;
static bool g_resubmit_stop;

static void
resubmit_done(void *arg, enum tern_bdev_io_status st)
{
    static struct iovec iov = { g_buf, 512 };
    (void)arg;
    (void)st;
    g_done++;
    if (!g_resubmit_stop && tern_bdev_submit(g_ch, TERN_BDEV_IO_READ, 0, 1, &iov, 1,
                                             resubmit_done, NULL) == 0)
        g_resubmits++;
}

static int g_done_at_3;

static int
other_poller(void *arg)
{
    int *runs = arg;

    ++*runs;
    if (*runs == 3) {
        g_done_at_3 = g_done;
        g_resubmit_stop = true;     /* the last one in flight completes, is not replaced */
    } else if (*runs == 5) {
        tern_reactors_stop();
    }
    return TERN_POLLER_IDLE;
}

Test(bdev, resubmitting_from_a_completion_does_not_starve_the_reactor)
{
    static struct iovec iov = { g_buf, 512 };
    int runs = 0;

    cr_assert_eq(tern_bdev_submit(g_ch, TERN_BDEV_IO_READ, 0, 1, &iov, 1, resubmit_done, NULL), 0);
    cr_assert_not_null(tern_poller_register(other_poller, &runs, 0, "other"));
    cr_assert_eq(tern_reactors_start(), 0);     /* a hang here is the bug */
    cr_assert_eq(runs, 5);
    cr_assert_geq(g_done_at_3, 2, "completions were delivered between the other poller's runs");
    cr_assert_leq(g_done_at_3, 3, "one deferred completion per poll, not a loop: %d", g_done_at_3);
    cr_assert_eq(tern_bdev_io_pool_free(), 300, "every I/O object came back");
}

Test(bdev, bad_ranges_and_types_are_refused_without_taking_objects)
{
    struct iovec short_iov = { g_buf, 100 };

    cr_assert_eq(submit(TERN_BDEV_IO_READ, 1000, 1), -EINVAL, "past the end");
    cr_assert_eq(submit(TERN_BDEV_IO_READ, 999, 2), -EINVAL, "runs over the end");
    cr_assert_eq(submit(TERN_BDEV_IO_READ, UINT64_MAX, 2), -EINVAL, "wraps");
    cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 0), -EINVAL, "zero blocks");
    cr_assert_eq(submit(TERN_BDEV_IO_COMPARE, 0, 1), -ENOTSUP);
    cr_assert_eq(tern_bdev_submit(g_ch, TERN_BDEV_IO_READ, 0, 1, &short_iov, 1, io_done, NULL),
                 -EINVAL, "buffer shorter than the blocks");
    cr_assert_eq(tern_bdev_submit(g_ch, TERN_BDEV_IO_READ, 0, 1, NULL, 0, io_done, NULL), -EINVAL);
    cr_assert_eq(tern_bdev_submit(g_ch, TERN_BDEV_IO_NUM_TYPES, 0, 1, NULL, 0, io_done, NULL),
                 -EINVAL);
    cr_assert_eq(tern_bdev_io_pool_free(), 300);
}

/* ---- pool exhaustion and waiters ---- */
static struct tern_bdev_io_wait g_wait;
static int g_waiter_ran, g_resubmit_rc = 99;

static void
waiter(void *arg)
{
    (void)arg;
    g_waiter_ran++;
    g_resubmit_rc = submit(TERN_BDEV_IO_WRITE, 0, 1);
}

Test(bdev, an_empty_pool_says_enomem_and_its_waiters_run_when_objects_return)
{
    int i, target = 301;

    g_async = true;
    for (i = 0; i < 64; i++)
        cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 1), 0);
    /* The module holds 64; take the rest of the pool with inline ones
     * parked on the deferred list, which only the poller drains. */
    g_async = false;
    for (i = 64; i < 300; i++)
        cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 1), 0, "object %d", i);
    cr_assert_eq(tern_bdev_io_pool_free(), 0);
    cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 1), -ENOMEM);
    g_wait.fn = waiter;
    tern_bdev_queue_io_wait(g_ch, &g_wait);
    struct tern_bdev_channel_stats st;
    tern_bdev_channel_stats(g_ch, &st);
    cr_assert_eq(st.io_waiters, 1);
    cr_assert_eq(st.outstanding, 300);
    /* The module's poll fails the 64 it holds; the waiter's own I/O then
     * completes inline. */
    cr_assert_not_null(tern_poller_register(stop_when, &target, 0, "stop"));
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_eq(g_waiter_ran, 1, "the waiter ran once objects were back");
    cr_assert_eq(g_resubmit_rc, 0);
    cr_assert_eq(g_done, 301);
    tern_bdev_channel_stats(g_ch, &st);
    cr_assert_eq(st.errors, 64, "the held ones failed, as the module said");
    cr_assert_eq(st.io_waiters, 0);
    cr_assert_eq(tern_bdev_io_pool_free(), 300);
}

Test(bdev, a_cancelled_waiter_never_runs)
{
    g_wait.fn = waiter;
    tern_bdev_queue_io_wait(g_ch, &g_wait);
    tern_bdev_cancel_io_wait(g_ch, &g_wait);
    tern_bdev_cancel_io_wait(g_ch, &g_wait);    /* twice is harmless */
    struct tern_bdev_channel_stats st;
    tern_bdev_channel_stats(g_ch, &st);
    cr_assert_eq(st.io_waiters, 0);
}

/* ---- registration and removal ---- */
static int g_remove_events, g_unreg_done = -1;
static struct tern_bdev_desc *g_desc2;

static void
on_event(enum tern_bdev_event ev, struct tern_bdev *b, void *ctx)
{
    (void)b;
    (void)ctx;
    if (ev == TERN_BDEV_EVENT_REMOVE)
        g_remove_events++;
}

static void
unreg_done(void *ctx, int status)
{
    (void)ctx;
    g_unreg_done = status;
}

Test(bdev, removal_waits_for_every_holder)
{
    struct tern_bdev_desc *d3;

    cr_assert_eq(tern_bdev_open("ut0", false, on_event, NULL, &g_desc2), 0);
    tern_bdev_put_channel(g_ch);
    cr_assert_eq(g_chan_destroyed, 1);
    tern_bdev_unregister(g_bdev, unreg_done, NULL);
    cr_assert_eq(g_remove_events, 1, "the holder with a callback was told");
    cr_assert_eq(g_unreg_done, -1, "not gone while open");
    cr_assert_eq(tern_bdev_open("ut0", false, NULL, NULL, &d3), -ENODEV, "no new opens");
    tern_bdev_unregister(g_bdev, NULL, NULL);
    tern_bdev_close(g_desc2);
    cr_assert_eq(g_destructed, 0);
    tern_bdev_close(g_desc);
    cr_assert_eq(g_destructed, 1);
    cr_assert_eq(g_unreg_done, 0);
    cr_assert_null(tern_bdev_get_by_name("ut0"));
}

Test(bdev, registration_checks_geometry_and_names)
{
    struct tern_bdev_params p = {
        .name = "ut1", .module = "ut", .block_size = 4096, .num_blocks = 10, .ops = &g_ops,
    };
    struct tern_bdev *b;
    char longname[100];

    cr_assert_eq(tern_bdev_register(&p, &b), 0);
    cr_assert_eq(tern_bdev_register(&p, NULL), -EEXIST);
    p.name = "ut2";
    p.block_size = 1000;
    cr_assert_eq(tern_bdev_register(&p, NULL), -EINVAL, "not a power of two");
    p.block_size = 256;
    cr_assert_eq(tern_bdev_register(&p, NULL), -EINVAL, "under 512");
    p.block_size = 512;
    p.num_blocks = 0;
    cr_assert_eq(tern_bdev_register(&p, NULL), -EINVAL);
    p.num_blocks = UINT64_MAX / 256;
    cr_assert_eq(tern_bdev_register(&p, NULL), -EINVAL, "bytes overflow");
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    p.name = longname;
    p.num_blocks = 1;
    cr_assert_eq(tern_bdev_register(&p, NULL), -EINVAL);
    cr_assert_eq(tern_bdev_num_blocks(b), 10);
    cr_assert_eq(tern_bdev_uuid(b)[6] >> 4, 4, "a version-4 UUID was made up");
}

Test(bdev, uuids_round_trip)
{
    uint8_t u[16], v[16];
    char text[37];

    tern_bdev_generate_uuid(u);
    tern_bdev_uuid_fmt(u, text);
    cr_assert_eq(strlen(text), 36);
    cr_assert_eq(tern_bdev_uuid_parse(text, v), 0);
    cr_assert_eq(memcmp(u, v, 16), 0);
    cr_assert_eq(tern_bdev_uuid_parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6", v), 0);
    cr_assert_eq(v[0], 0xf8);
    cr_assert_eq(tern_bdev_uuid_parse("f81d4fae-7dec-11d0-a765-00a0c91e6bfg", v), -EINVAL);
    cr_assert_eq(tern_bdev_uuid_parse("f81d4fae7dec-11d0-a765-00a0c91e6bf6-", v), -EINVAL);
    cr_assert_eq(tern_bdev_uuid_parse("short", v), -EINVAL);
}

Test(bdev, options_are_fixed_once_the_pool_exists)
{
    struct tern_bdev_opts o = { .io_pool_size = 5 };

    cr_assert_eq(tern_bdev_set_opts(&o), -EBUSY);
}

/* ---- bdev_get_iostat sums the channel counters and shows the pool ---- */
static json_t *g_iostat;

static void
iostat_resp(void *ctx, json_t *resp)
{
    (void)ctx;
    g_iostat = resp;
    tern_reactors_stop();
}

static int
ask_iostat(void *arg)
{
    static bool asked;
    json_t *req;
    (void)arg;

    if (asked || g_done < 3)
        return TERN_POLLER_IDLE;
    asked = true;
    req = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_get_iostat\"}", 0, NULL);
    tern_rpc_dispatch(req, iostat_resp, NULL);
    json_decref(req);
    return TERN_POLLER_BUSY;
}

Test(bdev, iostat_rpc_reports_channel_counters_and_the_pool)
{
    json_t *b;

    tern_rpc_set_state(TERN_RPC_RUNTIME);
    g_async = true;
    cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 0, 8), 0);     /* held, then failed by poll */
    g_async = false;
    cr_assert_eq(submit(TERN_BDEV_IO_WRITE, 8, 2), 0);
    cr_assert_eq(submit(TERN_BDEV_IO_READ, 8, 4), 0);
    cr_assert_not_null(tern_poller_register(ask_iostat, NULL, 0, "ask"));
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_not_null(g_iostat);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(g_iostat,
                 "result"), "io_pool"), "size")), 300);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(g_iostat,
                 "result"), "io_pool"), "free")), 300);
    b = json_array_get(json_object_get(json_object_get(g_iostat, "result"), "bdevs"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(b, "name")), "ut0");
    cr_assert_eq(json_integer_value(json_object_get(b, "num_write_ops")), 1);
    cr_assert_eq(json_integer_value(json_object_get(b, "bytes_written")), 1024);
    cr_assert_eq(json_integer_value(json_object_get(b, "bytes_read")), 2048);
    cr_assert_eq(json_integer_value(json_object_get(b, "errors")), 1);
    cr_assert_eq(json_integer_value(json_object_get(b, "outstanding")), 0);
    json_decref(g_iostat);
}
