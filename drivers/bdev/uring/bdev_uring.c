/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The uring bdev: a file or block device through io_uring, opened with
 * O_DIRECT when the file system allows it (tmpfs does not: then buffered,
 * and the log says so). Each lcore's channel has its own ring; submissions
 * of one poll iteration go to the kernel in one io_uring_submit().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "tern_env.h"
#include "tern_rpc.h"
#include "tern_bdev_module.h"

TERN_LOG_REGISTER(g_log, "tern.drv.bdev.uring", INFO);

#define RING_ENTRIES 512

struct uring_disk {
    int fd;
    char *filename;
    bool direct;
    bool blockdev;
};

struct uring_io {
    TAILQ_ENTRY(uring_io) link;     /* on the channel's retry list when the SQ is full */
    struct tern_bdev_io *io;
    bool zero_fallback;             /* write zeroes retried as a hole punch */
};
_Static_assert(sizeof(struct uring_io) <= TERN_BDEV_IO_DRIVER_CTX, "driver ctx too small");

struct uring_chan {
    struct io_uring ring;
    uint32_t unsubmitted;
    TAILQ_HEAD(, uring_io) retry;
};

static void *
uring_chan_create(struct tern_bdev *bdev)
{
    struct uring_chan *ch = calloc(1, sizeof(*ch));
    int rc;

    if (ch == NULL)
        return NULL;
    rc = io_uring_queue_init(RING_ENTRIES, &ch->ring, 0);
    if (rc < 0) {
        TERN_LOG(g_log, ERR, "bdev %s: io_uring_queue_init: %s", tern_bdev_name(bdev), strerror(-rc));
        free(ch);
        return NULL;
    }
    TAILQ_INIT(&ch->retry);
    return ch;
}

static void
uring_chan_destroy(struct tern_bdev *bdev, void *c)
{
    struct uring_chan *ch = c;
    (void)bdev;

    io_uring_queue_exit(&ch->ring);
    free(ch);
}

/* Put the I/O on the ring; false if the submission queue is full. */
static bool
prep(struct uring_chan *ch, struct uring_io *u)
{
    struct tern_bdev_io *io = u->io;
    struct tern_bdev *b = tern_bdev_io_bdev(io);
    struct uring_disk *d = tern_bdev_ctx(b);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ch->ring);
    uint64_t off = tern_bdev_io_offset_blocks(io) * tern_bdev_block_size(b);
    uint64_t len = tern_bdev_io_num_blocks(io) * tern_bdev_block_size(b);
    struct iovec *iov;
    int n;

    if (sqe == NULL)
        return false;
    iov = tern_bdev_io_iovs(io, &n);
    switch (tern_bdev_io_type(io)) {
    case TERN_BDEV_IO_READ:
        io_uring_prep_readv(sqe, d->fd, iov, (unsigned)n, off);
        break;
    case TERN_BDEV_IO_WRITE:
        io_uring_prep_writev(sqe, d->fd, iov, (unsigned)n, off);
        break;
    case TERN_BDEV_IO_FLUSH:
        io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
        break;
    case TERN_BDEV_IO_WRITE_ZEROES:
        io_uring_prep_fallocate(sqe, d->fd, (u->zero_fallback ? FALLOC_FL_PUNCH_HOLE :
                                FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
        break;
    case TERN_BDEV_IO_UNMAP:
        io_uring_prep_fallocate(sqe, d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                (off_t)off, (off_t)len);
        break;
    default:
        /* io_type_supported keeps others away; fail cleanly anyway. */
        io_uring_prep_nop(sqe);
        sqe->user_data = 0;
        tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
        ch->unsubmitted++;
        return true;
    }
    io_uring_sqe_set_data(sqe, u);
    ch->unsubmitted++;
    return true;
}

static void
uring_submit(void *c, struct tern_bdev_io *io)
{
    struct uring_chan *ch = c;
    struct uring_io *u = tern_bdev_io_driver_ctx(io);

    u->io = io;
    u->zero_fallback = false;
    if (!TAILQ_EMPTY(&ch->retry) || !prep(ch, u))
        TAILQ_INSERT_TAIL(&ch->retry, u, link);   /* keeps order; poll retries */
}

static void
complete_one(struct uring_chan *ch, struct io_uring_cqe *cqe)
{
    struct uring_io *u = io_uring_cqe_get_data(cqe);
    struct tern_bdev_io *io;
    enum tern_bdev_io_type type;
    uint64_t want;

    if (u == NULL)
        return;     /* a NOP for an already failed I/O */
    io = u->io;
    type = tern_bdev_io_type(io);
    if (cqe->res == -EOPNOTSUPP && type == TERN_BDEV_IO_WRITE_ZEROES && !u->zero_fallback) {
        /* No ZERO_RANGE here (tmpfs): a hole reads back as zeroes too. */
        u->zero_fallback = true;
        if (!prep(ch, u))
            TAILQ_INSERT_TAIL(&ch->retry, u, link);
        return;
    }
    if (cqe->res < 0) {
        TERN_LOG(g_log, ERR, "bdev %s: %s at block %lu: %s", tern_bdev_name(tern_bdev_io_bdev(io)),
                 tern_bdev_io_type_name(type), (unsigned long)tern_bdev_io_offset_blocks(io),
                 strerror(-cqe->res));
        tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
        return;
    }
    want = tern_bdev_io_num_blocks(io) * tern_bdev_block_size(tern_bdev_io_bdev(io));
    if ((type == TERN_BDEV_IO_READ || type == TERN_BDEV_IO_WRITE) && (uint64_t)cqe->res != want) {
        TERN_LOG(g_log, ERR, "bdev %s: short %s at block %lu: %d of %lu bytes",
                 tern_bdev_name(tern_bdev_io_bdev(io)), tern_bdev_io_type_name(type),
                 (unsigned long)tern_bdev_io_offset_blocks(io), cqe->res, (unsigned long)want);
        tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
        return;
    }
    tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
}

static int
uring_poll(void *c)
{
    struct uring_chan *ch = c;
    struct io_uring_cqe *cqes[64];
    struct uring_io *u;
    unsigned i, n;
    int found = 0;

    /* Whatever waited for room in the SQ goes first, in order. */
    while ((u = TAILQ_FIRST(&ch->retry)) != NULL) {
        if (!prep(ch, u))
            break;
        TAILQ_REMOVE(&ch->retry, u, link);
    }
    if (ch->unsubmitted > 0) {
        int rc = io_uring_submit(&ch->ring);

        if (rc >= 0)
            ch->unsubmitted = 0;
        else if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
            TERN_LOG(g_log, ERR, "io_uring_submit: %s", strerror(-rc));
    }
    n = io_uring_peek_batch_cqe(&ch->ring, cqes, 64);
    for (i = 0; i < n; i++) {
        complete_one(ch, cqes[i]);
        found++;
    }
    io_uring_cq_advance(&ch->ring, n);
    return found;
}

static bool
uring_supported(struct tern_bdev *bdev, enum tern_bdev_io_type type)
{
    (void)bdev;
    return type != TERN_BDEV_IO_COMPARE;
}

static void
uring_disk_free(struct uring_disk *d)
{
    if (d->fd >= 0)
        close(d->fd);
    free(d->filename);
    free(d);
}

static void
uring_destruct(struct tern_bdev *bdev)
{
    uring_disk_free(tern_bdev_ctx(bdev));
}

static void
uring_dump(struct tern_bdev *bdev, json_t *o)
{
    struct uring_disk *d = tern_bdev_ctx(bdev);

    json_object_set_new(o, "uring", json_pack("{s:s, s:b}", "filename", d->filename,
                                              "direct_io", d->direct));
}

static const struct tern_bdev_ops g_uring_ops = {
    .channel_create = uring_chan_create,
    .channel_destroy = uring_chan_destroy,
    .submit = uring_submit,
    .poll = uring_poll,
    .io_type_supported = uring_supported,
    .destruct = uring_destruct,
    .dump_json = uring_dump,
};

struct create_args {
    const char *name;
    const char *filename;
    uint32_t block_size;
    const char *uuid;
};

static void
bdev_uring_create(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct create_args, name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct create_args, filename, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct create_args, block_size, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct create_args, uuid, TERN_RPC_STRING, false),
    };
    struct create_args a = { 0 };
    struct tern_bdev_params p = { 0 };
    struct uring_disk *d;
    struct stat st;
    uint64_t size = 0;
    uint32_t min_bs = 512;
    uint8_t uuid[16];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 4, &a))
        return;
    if (!tern_bdev_rpc_uuid(req, a.uuid, uuid))
        return;
    if (tern_bdev_get_by_name(a.name) != NULL) {
        tern_rpc_reply_error(req, -EEXIST, "bdev %s already exists", a.name);
        return;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->filename = strdup(a.filename)) == NULL) {
        free(d);
        tern_rpc_reply_error(req, -ENOMEM, "out of memory");
        return;
    }
    d->fd = open(a.filename, O_RDWR | O_DIRECT | O_CLOEXEC);
    d->direct = d->fd >= 0;
    if (d->fd < 0 && errno == EINVAL) {
        d->fd = open(a.filename, O_RDWR | O_CLOEXEC);
        if (d->fd >= 0)
            TERN_LOG(g_log, NOTICE, "%s: O_DIRECT not supported here; using buffered I/O",
                     a.filename);
    }
    if (d->fd < 0) {
        rc = -errno;
        tern_rpc_reply_error(req, rc, "cannot open %s: %s", a.filename, strerror(-rc));
        uring_disk_free(d);
        return;
    }
    if (fstat(d->fd, &st) != 0) {
        rc = -errno;
        goto fail_errno;
    }
    if (S_ISBLK(st.st_mode)) {
        int lbs = 0;

        d->blockdev = true;
        if (ioctl(d->fd, BLKGETSIZE64, &size) != 0) {
            rc = -errno;
            goto fail_errno;
        }
        if (ioctl(d->fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
            min_bs = (uint32_t)lbs;
    } else if (S_ISREG(st.st_mode)) {
        size = (uint64_t)st.st_size;
    } else {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "%s is not a file or block device",
                             a.filename);
        uring_disk_free(d);
        return;
    }
    if (a.block_size == 0)
        a.block_size = min_bs;
    if (a.block_size < min_bs) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "block_size %u is below %s's logical "
                             "block size %u", a.block_size, a.filename, min_bs);
        uring_disk_free(d);
        return;
    }
    if (size / a.block_size == 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "%s holds no whole %u-byte block",
                             a.filename, a.block_size);
        uring_disk_free(d);
        return;
    }
    p.name = a.name;
    p.module = "uring";
    p.block_size = a.block_size;
    p.num_blocks = size / a.block_size;
    p.uuid = a.uuid ? uuid : NULL;
    /* Page cache, file system metadata or the device's cache: written data
     * is durable only after a flush, so hosts must be told to send one. */
    p.write_cache = true;
    p.ops = &g_uring_ops;
    p.ctx = d;
    rc = tern_bdev_register(&p, NULL);
    if (rc != 0) {
        uring_disk_free(d);
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "bdev %s: invalid name or geometry "
                             "(see the log)", a.name);
        return;
    }
    tern_rpc_reply(req, json_string(a.name));
    return;

fail_errno:
    tern_rpc_reply_error(req, rc, "%s: %s", a.filename, strerror(-rc));
    uring_disk_free(d);
}
TERN_RPC_REGISTER("bdev_uring_create", bdev_uring_create, TERN_RPC_RUNTIME)

static void
bdev_uring_delete(struct tern_rpc_request *req, const json_t *params)
{
    tern_bdev_rpc_delete(req, params, "uring");
}
TERN_RPC_REGISTER("bdev_uring_delete", bdev_uring_delete, TERN_RPC_RUNTIME)
