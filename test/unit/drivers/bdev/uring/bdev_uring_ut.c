/* SPDX-License-Identifier: BSD-3-Clause */
/* The uring bdev on real files: one on the disk (O_DIRECT) and one on
 * tmpfs (buffered, and no ZERO_RANGE: the hole-punch fallback). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "tern_bdev.h"
#include "ut_bdev.h"

static char g_path[64];

static json_t *
rpcf(const char *fmt, const char *arg)
{
    char text[512];

    snprintf(text, sizeof(text), fmt, arg);
    return ut_rpc(text);
}

static void
make_file(const char *dir, off_t size)
{
    int fd;

    snprintf(g_path, sizeof(g_path), "%s/tern_ut_uring_%d", dir, getpid());
    fd = open(g_path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, size), 0);
    close(fd);
}

static void
teardown(void)
{
    ut_bdev_env_fini();
    unlink(g_path);
}

TestSuite(bdev_uring, .init = ut_bdev_env_init, .fini = teardown, .timeout = 30);

/* A poller walks the steps; each waits for the previous completion. */
struct step {
    enum tern_bdev_io_type type;
    uint64_t off, n;
    int buf;        /* 0: none, 1: write buffer, 2: read buffer */
};
static const struct step g_steps[] = {
    { TERN_BDEV_IO_WRITE, 128, 128, 1 },
    { TERN_BDEV_IO_FLUSH, 0, 0, 0 },
    { TERN_BDEV_IO_READ, 128, 128, 2 },
    { TERN_BDEV_IO_WRITE_ZEROES, 128, 16, 0 },
    { TERN_BDEV_IO_UNMAP, 160, 16, 0 },
    { TERN_BDEV_IO_READ, 128, 128, 2 },
};
#define N_STEPS (int)(sizeof(g_steps) / sizeof(g_steps[0]))
static enum tern_bdev_io_status g_st[N_STEPS];
static int g_step, g_inflight;
static uint8_t *g_wr, *g_rd, g_copy[65536];
static struct tern_bdev_channel *g_ch;

static void
step_done(void *arg, enum tern_bdev_io_status st)
{
    g_st[(uintptr_t)arg] = st;
    if ((uintptr_t)arg == 2)
        memcpy(g_copy, g_rd, sizeof(g_copy));
    g_inflight = 0;
    g_step++;
}

static int
driver(void *arg)
{
    const struct step *s;
    static struct iovec iov;    /* must outlive the I/O */
    (void)arg;

    if (g_inflight)
        return TERN_POLLER_IDLE;
    if (g_step == N_STEPS) {
        tern_reactors_stop();
        return TERN_POLLER_BUSY;
    }
    s = &g_steps[g_step];
    iov.iov_base = s->buf == 1 ? g_wr : g_rd;
    iov.iov_len = s->n * 512;
    g_inflight = 1;
    cr_assert_eq(tern_bdev_submit(g_ch, s->type, s->off, s->n, s->buf ? &iov : NULL,
                                  s->buf ? 1 : 0, step_done, (void *)(uintptr_t)g_step), 0,
                 "step %d", g_step);
    return TERN_POLLER_BUSY;
}

static void
run_steps(void)
{
    struct tern_bdev_desc *d;
    int i;

    g_wr = tern_env_zmalloc("ut", 65536, 4096, TERN_ENV_SOCKET_ANY);
    g_rd = tern_env_zmalloc("ut", 65536, 4096, TERN_ENV_SOCKET_ANY);
    for (i = 0; i < 65536; i++)
        g_wr[i] = (uint8_t)(i * 13 + (i >> 9) + 1);
    cr_assert_eq(tern_bdev_open("U0", true, NULL, NULL, &d), 0);
    g_ch = tern_bdev_get_channel(d);
    cr_assert_not_null(g_ch);
    cr_assert_not_null(tern_poller_register(driver, NULL, 0, "driver"));
    cr_assert_eq(tern_reactors_start(), 0);
    for (i = 0; i < N_STEPS; i++)
        cr_assert_eq(g_st[i], TERN_BDEV_IO_SUCCESS, "step %d", i);
    cr_assert_eq(memcmp(g_copy, g_wr, 65536), 0, "read back what was written");
    for (i = 0; i < 65536; i++) {
        int zeroed = (i < 16 * 512) || (i >= 32 * 512 && i < 48 * 512);

        cr_assert_eq(g_rd[i], zeroed ? 0 : g_wr[i], "byte %d after zeroes and unmap", i);
    }
    tern_bdev_put_channel(g_ch);
    tern_bdev_close(d);
    cr_assert_eq(tern_bdev_io_pool_free(), tern_bdev_io_pool_size());
}

Test(bdev_uring, direct_io_file_round_trip)
{
    json_t *r;

    make_file("/var/tmp", 1 << 20);
    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U0\",\"filename\":\"%s\"}}", g_path);
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "U0", "%s",
                     json_dumps(r, 0));
    cr_assert_eq(tern_bdev_num_blocks(tern_bdev_get_by_name("U0")), 2048);
    run_steps();
}

Test(bdev_uring, tmpfs_file_round_trip)
{
    json_t *r;
    struct stat st;

    if (stat("/dev/shm", &st) != 0)
        cr_skip_test("no /dev/shm here");
    make_file("/dev/shm", 1 << 20);
    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U0\",\"filename\":\"%s\",\"block_size\":512}}", g_path);
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "U0");
    run_steps();
}

Test(bdev_uring, bad_files_are_refused_with_reasons)
{
    json_t *r;

    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U1\",\"filename\":\"%s\"}}", "/nonexistent/file");
    cr_assert_eq(ut_rpc_error_code(r), -ENOENT);
    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U1\",\"filename\":\"%s\"}}", "/var/tmp");
    cr_assert_neq(ut_rpc_error_code(r), 0, "a directory");
    make_file("/var/tmp", 100);
    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U1\",\"filename\":\"%s\"}}", g_path);
    cr_assert_eq(ut_rpc_error_code(r), TERN_RPC_INVALID_PARAMS, "smaller than one block");
    make_file("/var/tmp", 1 << 20);
    r = rpcf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_uring_create\","
             "\"params\":{\"name\":\"U1\",\"filename\":\"%s\",\"block_size\":256}}", g_path);
    cr_assert_eq(ut_rpc_error_code(r), TERN_RPC_INVALID_PARAMS, "block size under the device's");
    cr_assert_null(tern_bdev_first(), "nothing registered by any of them");
}
