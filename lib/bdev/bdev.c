/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_bdev_module.h"

TERN_LOG_REGISTER(g_log, "tern.lib.bdev", INFO);

#define BDEV_NAME_MAX 64
#define MODULE_NAME_MAX 32

struct tern_bdev_io {
    TAILQ_ENTRY(tern_bdev_io) link;
    struct tern_bdev_channel *ch;
    enum tern_bdev_io_type type;
    enum tern_bdev_io_status status;
    uint64_t offset_blocks;
    uint64_t num_blocks;
    struct iovec *iov;
    int iovcnt;
    tern_bdev_io_cb cb;
    void *cb_arg;
    bool in_submit;
    uint8_t driver_ctx[TERN_BDEV_IO_DRIVER_CTX] __attribute__((aligned(8)));
};

struct tern_bdev_desc {
    TAILQ_ENTRY(tern_bdev_desc) link;
    struct tern_bdev *bdev;
    tern_bdev_event_cb cb;
    void *ctx;
    bool write;
};

struct tern_bdev_channel {
    TAILQ_ENTRY(tern_bdev_channel) lcore_link;   /* on its lcore's list */
    struct tern_bdev *bdev;
    uint32_t lcore;
    uint32_t refs;
    void *drv;
    struct tern_poller *poller;
    TAILQ_HEAD(, tern_bdev_io) deferred;
    TAILQ_HEAD(, tern_bdev_io_wait) waiters;
    struct tern_bdev_channel_stats stats;
};

struct tern_bdev {
    TAILQ_ENTRY(tern_bdev) link;
    char name[BDEV_NAME_MAX];
    char module[MODULE_NAME_MAX];
    uint32_t block_size;
    uint64_t num_blocks;
    uint8_t uuid[16];
    bool write_cache;
    uint32_t max_transfer_blocks;
    const struct tern_bdev_ops *ops;
    void *ctx;
    TAILQ_HEAD(, tern_bdev_desc) descs;
    bool removing;
    tern_bdev_unregister_done unreg_done;
    void *unreg_ctx;
    /* Slot i is written only by lcore i. */
    struct tern_bdev_channel *channels[TERN_MAX_LCORES];
};

static TAILQ_HEAD(, tern_bdev) g_bdevs = TAILQ_HEAD_INITIALIZER(g_bdevs);
/* Each lcore's channels; list i is touched only by lcore i, so stats can be
 * gathered there without following bdev pointers the main lcore may free. */
static TAILQ_HEAD(channel_list, tern_bdev_channel) g_lcore_channels[TERN_MAX_LCORES];
static struct tern_bdev_opts g_opts = { .io_pool_size = TERN_BDEV_DEFAULT_IO_POOL_SIZE };
static struct tern_mempool *g_io_pool;

static const char *const g_type_names[TERN_BDEV_IO_NUM_TYPES] = {
    [TERN_BDEV_IO_READ] = "read",
    [TERN_BDEV_IO_WRITE] = "write",
    [TERN_BDEV_IO_FLUSH] = "flush",
    [TERN_BDEV_IO_WRITE_ZEROES] = "write_zeroes",
    [TERN_BDEV_IO_UNMAP] = "unmap",
    [TERN_BDEV_IO_COMPARE] = "compare",
};

const char *
tern_bdev_io_type_name(enum tern_bdev_io_type type)
{
    return type < TERN_BDEV_IO_NUM_TYPES ? g_type_names[type] : "unknown";
}

int
tern_bdev_set_opts(const struct tern_bdev_opts *opts)
{
    if (g_io_pool != NULL)
        return -EBUSY;  /* the pool exists: options apply before init only */
    if (opts->io_pool_size == 0)
        return -EINVAL;
    g_opts = *opts;
    return 0;
}

void
tern_bdev_get_opts(struct tern_bdev_opts *opts)
{
    *opts = g_opts;
}

int
tern_bdev_init(void)
{
    uint32_t floor = TERN_BDEV_MIN_IO_POOL_PER_LCORE * tern_env_lcore_count();
    uint32_t size = g_opts.io_pool_size;

    if (g_io_pool != NULL)
        return 0;
    if (size < floor) {
        TERN_LOG(g_log, WARNING, "bdev_io_pool_size %u is below the floor %u (%u per lcore x %u "
                 "lcores); using %u", size, floor, TERN_BDEV_MIN_IO_POOL_PER_LCORE,
                 tern_env_lcore_count(), floor);
        size = floor;
    }
    g_io_pool = tern_mempool_create("tern_bdev_io", size, sizeof(struct tern_bdev_io),
                                    TERN_ENV_SOCKET_ANY);
    if (g_io_pool == NULL)
        return -ENOMEM;
    g_opts.io_pool_size = size;
    return 0;
}

void
tern_bdev_fini(void)
{
    struct tern_bdev *b;

    while ((b = TAILQ_FIRST(&g_bdevs)) != NULL) {
        TAILQ_REMOVE(&g_bdevs, b, link);
        if (!TAILQ_EMPTY(&b->descs))
            TERN_LOG(g_log, WARNING, "bdev %s still open at shutdown", b->name);
        if (b->ops->destruct)
            b->ops->destruct(b);
        free(b);
    }
    if (g_io_pool != NULL) {
        uint32_t free_now = tern_mempool_avail(g_io_pool);

        if (free_now != tern_mempool_size(g_io_pool))
            TERN_LOG(g_log, ERR, "bdev I/O pool: %u of %u objects never came back",
                     tern_mempool_size(g_io_pool) - free_now, tern_mempool_size(g_io_pool));
        tern_mempool_free(g_io_pool);
        g_io_pool = NULL;
    }
}

uint32_t
tern_bdev_io_pool_free(void)
{
    return g_io_pool ? tern_mempool_avail(g_io_pool) : 0;
}

uint32_t
tern_bdev_io_pool_size(void)
{
    return g_io_pool ? tern_mempool_size(g_io_pool) : 0;
}

/* ---- registry ---- */
struct tern_bdev *
tern_bdev_get_by_name(const char *name)
{
    struct tern_bdev *b;

    TAILQ_FOREACH(b, &g_bdevs, link) {
        if (strcmp(b->name, name) == 0)
            return b;
    }
    return NULL;
}

struct tern_bdev *
tern_bdev_first(void)
{
    return TAILQ_FIRST(&g_bdevs);
}

struct tern_bdev *
tern_bdev_next(struct tern_bdev *prev)
{
    return TAILQ_NEXT(prev, link);
}

const char *tern_bdev_name(const struct tern_bdev *b) { return b->name; }
const char *tern_bdev_module_name(const struct tern_bdev *b) { return b->module; }
uint32_t tern_bdev_block_size(const struct tern_bdev *b) { return b->block_size; }
uint64_t tern_bdev_num_blocks(const struct tern_bdev *b) { return b->num_blocks; }
const uint8_t *tern_bdev_uuid(const struct tern_bdev *b) { return b->uuid; }
bool tern_bdev_has_write_cache(const struct tern_bdev *b) { return b->write_cache; }
uint32_t tern_bdev_max_transfer_blocks(const struct tern_bdev *b) { return b->max_transfer_blocks; }
void *tern_bdev_ctx(const struct tern_bdev *b) { return b->ctx; }

void
tern_bdev_dump_driver_json(struct tern_bdev *b, json_t *driver_specific)
{
    if (b->ops->dump_json)
        b->ops->dump_json(b, driver_specific);
}

bool
tern_bdev_io_type_supported(const struct tern_bdev *b, enum tern_bdev_io_type type)
{
    if (type >= TERN_BDEV_IO_NUM_TYPES)
        return false;
    return b->ops->io_type_supported((struct tern_bdev *)b, type);
}

void
tern_bdev_generate_uuid(uint8_t uuid[16])
{
    size_t got = 0;

    while (got < 16) {
        ssize_t n = getrandom(uuid + got, 16 - got, 0);

        if (n > 0)
            got += (size_t)n;
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);  /* version 4 */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
}

void
tern_bdev_uuid_fmt(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
}

int
tern_bdev_uuid_parse(const char *t, uint8_t u[16])
{
    int i, n = 0;

    if (strlen(t) != 36)
        return -EINVAL;
    for (i = 0; i < 36;) {
        unsigned v;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (t[i++] != '-')
                return -EINVAL;
            continue;
        }
        if (strchr("0123456789abcdefABCDEF", t[i]) == NULL || t[i] == '\0' ||
            strchr("0123456789abcdefABCDEF", t[i + 1]) == NULL || t[i + 1] == '\0' ||
            sscanf(t + i, "%2x", &v) != 1)
            return -EINVAL;
        u[n++] = (uint8_t)v;
        i += 2;
    }
    return 0;
}

int
tern_bdev_register(const struct tern_bdev_params *p, struct tern_bdev **out)
{
    struct tern_bdev *b;

    if (p->name == NULL || p->name[0] == '\0' || strlen(p->name) >= BDEV_NAME_MAX) {
        TERN_LOG(g_log, ERR, "bdev name must be 1 to %d characters", BDEV_NAME_MAX - 1);
        return -EINVAL;
    }
    if (p->block_size < 512 || p->block_size > 65536 || (p->block_size & (p->block_size - 1))) {
        TERN_LOG(g_log, ERR, "bdev %s: block size %u is not a power of two in 512..65536",
                 p->name, p->block_size);
        return -EINVAL;
    }
    if (p->num_blocks == 0 || p->num_blocks > UINT64_MAX / p->block_size) {
        TERN_LOG(g_log, ERR, "bdev %s: %lu blocks is not a usable size", p->name,
                 (unsigned long)p->num_blocks);
        return -EINVAL;
    }
    if (tern_bdev_get_by_name(p->name) != NULL) {
        TERN_LOG(g_log, ERR, "bdev %s already exists", p->name);
        return -EEXIST;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    snprintf(b->name, sizeof(b->name), "%s", p->name);
    snprintf(b->module, sizeof(b->module), "%s", p->module);
    b->block_size = p->block_size;
    b->num_blocks = p->num_blocks;
    if (p->uuid)
        memcpy(b->uuid, p->uuid, 16);
    else
        tern_bdev_generate_uuid(b->uuid);
    b->write_cache = p->write_cache;
    b->max_transfer_blocks = p->max_transfer_blocks;
    b->ops = p->ops;
    b->ctx = p->ctx;
    TAILQ_INIT(&b->descs);
    TAILQ_INSERT_TAIL(&g_bdevs, b, link);
    TERN_LOG(g_log, INFO, "bdev %s (%s): %lu blocks of %u bytes", b->name, b->module,
             (unsigned long)b->num_blocks, b->block_size);
    if (out)
        *out = b;
    return 0;
}

static void
bdev_destroy(struct tern_bdev *b)
{
    uint32_t l;
    tern_bdev_unregister_done done = b->unreg_done;
    void *ctx = b->unreg_ctx;

    for (l = 0; l < TERN_MAX_LCORES; l++) {
        if (b->channels[l] != NULL)
            TERN_LOG(g_log, ERR, "bdev %s: lcore %u still holds a channel at removal", b->name, l);
    }
    TAILQ_REMOVE(&g_bdevs, b, link);
    TERN_LOG(g_log, INFO, "bdev %s removed", b->name);
    if (b->ops->destruct)
        b->ops->destruct(b);
    free(b);
    if (done)
        done(ctx, 0);
}

void
tern_bdev_unregister(struct tern_bdev *b, tern_bdev_unregister_done done, void *ctx)
{
    struct tern_bdev_desc *d, *next;

    if (b->removing) {
        if (done)
            done(ctx, -EALREADY);
        return;
    }
    b->removing = true;
    b->unreg_done = done;
    b->unreg_ctx = ctx;
    if (TAILQ_EMPTY(&b->descs)) {
        bdev_destroy(b);
        return;
    }
    /* Holders close their descriptors, maybe from inside the callback. */
    for (d = TAILQ_FIRST(&b->descs); d != NULL; d = next) {
        next = TAILQ_NEXT(d, link);
        if (d->cb)
            d->cb(TERN_BDEV_EVENT_REMOVE, b, d->ctx);
    }
}

int
tern_bdev_open(const char *name, bool write, tern_bdev_event_cb cb, void *ctx,
               struct tern_bdev_desc **out)
{
    struct tern_bdev *b = tern_bdev_get_by_name(name);
    struct tern_bdev_desc *d;

    if (b == NULL)
        return -ENODEV;
    if (b->removing)
        return -ENODEV;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->bdev = b;
    d->cb = cb;
    d->ctx = ctx;
    d->write = write;
    TAILQ_INSERT_TAIL(&b->descs, d, link);
    *out = d;
    return 0;
}

void
tern_bdev_close(struct tern_bdev_desc *d)
{
    struct tern_bdev *b = d->bdev;

    TAILQ_REMOVE(&b->descs, d, link);
    free(d);
    if (b->removing && TAILQ_EMPTY(&b->descs))
        bdev_destroy(b);
}

struct tern_bdev *
tern_bdev_desc_bdev(const struct tern_bdev_desc *d)
{
    return d->bdev;
}

/* ---- I/O ---- */
static void
io_finish(struct tern_bdev_io *io)
{
    struct tern_bdev_channel *ch = io->ch;
    tern_bdev_io_cb cb = io->cb;
    void *arg = io->cb_arg;
    enum tern_bdev_io_status status = io->status;
    uint64_t bytes = io->num_blocks * ch->bdev->block_size;

    ch->stats.outstanding--;
    if (status == TERN_BDEV_IO_SUCCESS) {
        ch->stats.ops[io->type]++;
        if (io->type == TERN_BDEV_IO_READ)
            ch->stats.bytes_read += bytes;
        else if (io->type == TERN_BDEV_IO_WRITE)
            ch->stats.bytes_written += bytes;
    } else {
        ch->stats.errors++;
    }
    /* Back to the pool before the callback, so the callback can reuse it. */
    tern_mempool_put(g_io_pool, io);
    cb(arg, status);
}

void
tern_bdev_io_complete(struct tern_bdev_io *io, enum tern_bdev_io_status status)
{
    io->status = status;
    if (io->in_submit) {
        /* Never call back from inside tern_bdev_submit(). */
        TAILQ_INSERT_TAIL(&io->ch->deferred, io, link);
        return;
    }
    io_finish(io);
}

enum tern_bdev_io_type tern_bdev_io_type(const struct tern_bdev_io *io) { return io->type; }
uint64_t tern_bdev_io_offset_blocks(const struct tern_bdev_io *io) { return io->offset_blocks; }
uint64_t tern_bdev_io_num_blocks(const struct tern_bdev_io *io) { return io->num_blocks; }
struct tern_bdev *tern_bdev_io_bdev(const struct tern_bdev_io *io) { return io->ch->bdev; }
void *tern_bdev_io_driver_ctx(struct tern_bdev_io *io) { return io->driver_ctx; }

struct iovec *
tern_bdev_io_iovs(const struct tern_bdev_io *io, int *iovcnt)
{
    *iovcnt = io->iovcnt;
    return io->iov;
}

static int
channel_poll(void *arg)
{
    struct tern_bdev_channel *ch = arg;
    TAILQ_HEAD(, tern_bdev_io) done = TAILQ_HEAD_INITIALIZER(done);
    struct tern_bdev_io *io;
    int busy = 0;

    if (ch->bdev->ops->poll != NULL && ch->stats.outstanding > 0)
        busy += ch->bdev->ops->poll(ch->drv);
    /* Only the completions deferred so far: a callback that submits again
     * to a bdev completing inline defers another, which waits for the next
     * poll. Draining until empty would never give the reactor back. */
    TAILQ_CONCAT(&done, &ch->deferred, link);
    while ((io = TAILQ_FIRST(&done)) != NULL) {
        TAILQ_REMOVE(&done, io, link);
        io_finish(io);
        busy++;
    }
    /* Waiters run on every poll while objects are free (SEEDS incident 2:
     * never wait for a completion that may not come). One pass over the
     * waiters present now, since a waiter may queue itself again. */
    if (!TAILQ_EMPTY(&ch->waiters) && tern_mempool_avail(g_io_pool) > 0) {
        uint32_t n = ch->stats.io_waiters;

        while (n-- > 0 && !TAILQ_EMPTY(&ch->waiters) && tern_mempool_avail(g_io_pool) > 0) {
            struct tern_bdev_io_wait *w = TAILQ_FIRST(&ch->waiters);

            TAILQ_REMOVE(&ch->waiters, w, link);
            ch->stats.io_waiters--;
            w->fn(w->arg);
            busy++;
        }
    }
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

struct tern_bdev_channel *
tern_bdev_get_channel(struct tern_bdev_desc *d)
{
    struct tern_bdev *b = d->bdev;
    uint32_t lcore = tern_env_lcore_id();
    struct tern_bdev_channel *ch;
    char name[TERN_POLLER_NAME_MAX];

    if (lcore == TERN_ENV_LCORE_NONE || lcore >= TERN_MAX_LCORES) {
        errno = ENODEV;
        return NULL;
    }
    ch = b->channels[lcore];
    if (ch != NULL) {
        ch->refs++;
        return ch;
    }
    ch = tern_env_zmalloc("tern_bdev_channel", sizeof(*ch), 64, tern_env_lcore_socket(lcore));
    if (ch == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ch->bdev = b;
    ch->lcore = lcore;
    ch->refs = 1;
    TAILQ_INIT(&ch->deferred);
    TAILQ_INIT(&ch->waiters);
    ch->drv = b->ops->channel_create ? b->ops->channel_create(b) : NULL;
    if (b->ops->channel_create && ch->drv == NULL) {
        TERN_LOG(g_log, ERR, "bdev %s: module %s could not create a channel on lcore %u",
                 b->name, b->module, lcore);
        tern_env_free(ch);
        errno = ENOMEM;
        return NULL;
    }
    snprintf(name, sizeof(name), "bdev:%.42s", b->name);   /* name truncated for stats */
    ch->poller = tern_poller_register(channel_poll, ch, 0, name);
    if (ch->poller == NULL) {
        if (b->ops->channel_destroy)
            b->ops->channel_destroy(b, ch->drv);
        tern_env_free(ch);
        return NULL;
    }
    b->channels[lcore] = ch;
    if (g_lcore_channels[lcore].tqh_last == NULL)
        TAILQ_INIT(&g_lcore_channels[lcore]);
    TAILQ_INSERT_TAIL(&g_lcore_channels[lcore], ch, lcore_link);
    return ch;
}

void
tern_bdev_put_channel(struct tern_bdev_channel *ch)
{
    struct tern_bdev *b = ch->bdev;

    if (--ch->refs > 0)
        return;
    if (ch->stats.outstanding > 0)
        TERN_LOG(g_log, ERR, "bdev %s: channel on lcore %u released with %u I/O outstanding",
                 b->name, ch->lcore, ch->stats.outstanding);
    tern_poller_unregister(&ch->poller);
    if (b->ops->channel_destroy)
        b->ops->channel_destroy(b, ch->drv);
    b->channels[ch->lcore] = NULL;
    TAILQ_REMOVE(&g_lcore_channels[ch->lcore], ch, lcore_link);
    tern_env_free(ch);
}

void
tern_bdev_channel_stats(const struct tern_bdev_channel *ch, struct tern_bdev_channel_stats *st)
{
    *st = ch->stats;
}

void
tern_bdev_foreach_local_channel(void (*cb)(const char *bdev_name,
                                           const struct tern_bdev_channel_stats *st, void *ctx),
                                void *ctx)
{
    uint32_t lcore = tern_env_lcore_id();
    struct tern_bdev_channel *ch;

    if (lcore >= TERN_MAX_LCORES || g_lcore_channels[lcore].tqh_last == NULL)
        return;
    TAILQ_FOREACH(ch, &g_lcore_channels[lcore], lcore_link)
        cb(ch->bdev->name, &ch->stats, ctx);
}

void
tern_bdev_queue_io_wait(struct tern_bdev_channel *ch, struct tern_bdev_io_wait *w)
{
    TAILQ_INSERT_TAIL(&ch->waiters, w, link);
    ch->stats.io_waiters++;
}

void
tern_bdev_cancel_io_wait(struct tern_bdev_channel *ch, struct tern_bdev_io_wait *w)
{
    struct tern_bdev_io_wait *it;

    TAILQ_FOREACH(it, &ch->waiters, link) {
        if (it == w) {
            TAILQ_REMOVE(&ch->waiters, w, link);
            ch->stats.io_waiters--;
            return;
        }
    }
}

int
tern_bdev_submit(struct tern_bdev_channel *ch, enum tern_bdev_io_type type,
                 uint64_t offset_blocks, uint64_t num_blocks, struct iovec *iov, int iovcnt,
                 tern_bdev_io_cb cb, void *cb_arg)
{
    struct tern_bdev *b = ch->bdev;
    struct tern_bdev_io *io;
    uint64_t need, have = 0;
    int i;

    if (cb == NULL || type >= TERN_BDEV_IO_NUM_TYPES)
        return -EINVAL;
    if (b->removing)
        return -ENODEV;
    if (!b->ops->io_type_supported(b, type))
        return -ENOTSUP;
    if (type != TERN_BDEV_IO_FLUSH || num_blocks != 0) {
        if (num_blocks == 0 || offset_blocks >= b->num_blocks ||
            num_blocks > b->num_blocks - offset_blocks)
            return -EINVAL;
    }
    if (type == TERN_BDEV_IO_READ || type == TERN_BDEV_IO_WRITE || type == TERN_BDEV_IO_COMPARE) {
        if (iov == NULL || iovcnt <= 0)
            return -EINVAL;
        for (i = 0; i < iovcnt; i++)
            have += iov[i].iov_len;
        need = num_blocks * b->block_size;
        if (have != need)
            return -EINVAL;
        if (b->max_transfer_blocks && num_blocks > b->max_transfer_blocks)
            return -EINVAL;
    }
    if (tern_mempool_get(g_io_pool, (void **)&io) != 0)
        return -ENOMEM;
    io->ch = ch;
    io->type = type;
    io->status = TERN_BDEV_IO_SUCCESS;
    io->offset_blocks = offset_blocks;
    io->num_blocks = num_blocks;
    io->iov = iov;
    io->iovcnt = iovcnt;
    io->cb = cb;
    io->cb_arg = cb_arg;
    ch->stats.outstanding++;
    io->in_submit = true;
    b->ops->submit(ch->drv, io);
    /* io may be on ch->deferred now (inline completion); it stays valid
     * until the channel poller finishes it. */
    io->in_submit = false;
    return 0;
}
