/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The malloc bdev: a RAM disk in DPDK memory (hugepages when the EAL has
 * them, NUMA-local to the main lcore). Data survives until the bdev is
 * deleted; nothing is persistent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern_env.h"
#include "tern_rpc.h"
#include "tern_bdev_module.h"

TERN_LOG_REGISTER(g_log, "tern.drv.bdev.malloc", INFO);

struct malloc_disk {
    uint8_t *buf;
    uint64_t size;
};

static void
malloc_submit(void *chan, struct tern_bdev_io *io)
{
    struct tern_bdev *b = tern_bdev_io_bdev(io);
    struct malloc_disk *d = tern_bdev_ctx(b);
    uint64_t off = tern_bdev_io_offset_blocks(io) * tern_bdev_block_size(b);
    uint64_t len = tern_bdev_io_num_blocks(io) * tern_bdev_block_size(b);
    enum tern_bdev_io_status st = TERN_BDEV_IO_SUCCESS;
    struct iovec *iov;
    int i, n;
    (void)chan;

    iov = tern_bdev_io_iovs(io, &n);
    switch (tern_bdev_io_type(io)) {
    case TERN_BDEV_IO_READ:
        for (i = 0; i < n; off += iov[i].iov_len, i++)
            memcpy(iov[i].iov_base, d->buf + off, iov[i].iov_len);
        break;
    case TERN_BDEV_IO_WRITE:
        for (i = 0; i < n; off += iov[i].iov_len, i++)
            memcpy(d->buf + off, iov[i].iov_base, iov[i].iov_len);
        break;
    case TERN_BDEV_IO_COMPARE:
        for (i = 0; i < n; off += iov[i].iov_len, i++) {
            if (memcmp(d->buf + off, iov[i].iov_base, iov[i].iov_len) != 0) {
                st = TERN_BDEV_IO_MISCOMPARE;
                break;
            }
        }
        break;
    case TERN_BDEV_IO_WRITE_ZEROES:
    case TERN_BDEV_IO_UNMAP:
        /* Deallocated blocks read back as zeroes (DLFEAT says so). */
        memset(d->buf + off, 0, len);
        break;
    case TERN_BDEV_IO_FLUSH:
        break;
    default:
        st = TERN_BDEV_IO_FAILED;
        break;
    }
    tern_bdev_io_complete(io, st);
}

static bool
malloc_supported(struct tern_bdev *bdev, enum tern_bdev_io_type type)
{
    (void)bdev;
    return type < TERN_BDEV_IO_NUM_TYPES;
}

static void
malloc_destruct_ctx(struct malloc_disk *d)
{
    tern_env_free(d->buf);
    free(d);
}

static void
malloc_destruct(struct tern_bdev *bdev)
{
    malloc_destruct_ctx(tern_bdev_ctx(bdev));
}

static const struct tern_bdev_ops g_malloc_ops = {
    .submit = malloc_submit,
    .io_type_supported = malloc_supported,
    .destruct = malloc_destruct,
};

struct create_args {
    const char *name;
    uint64_t num_blocks;
    uint32_t block_size;
    const char *uuid;
};

static void
bdev_malloc_create(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct create_args, name, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct create_args, num_blocks, TERN_RPC_UINT64, true),
        TERN_RPC_PARAM(struct create_args, block_size, TERN_RPC_UINT32, true),
        TERN_RPC_PARAM(struct create_args, uuid, TERN_RPC_STRING, false),
    };
    static unsigned next_id;
    struct create_args a = { 0 };
    struct tern_bdev_params p = { 0 };
    struct malloc_disk *d;
    char name[32];
    uint8_t uuid[16];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 4, &a))
        return;
    if (!tern_bdev_rpc_uuid(req, a.uuid, uuid))
        return;
    if (a.name == NULL) {
        /* SPDK's convention: Malloc0, Malloc1, ... */
        do {
            snprintf(name, sizeof(name), "Malloc%u", next_id++);
        } while (tern_bdev_get_by_name(name) != NULL);
        a.name = name;
    }
    if (tern_bdev_get_by_name(a.name) != NULL) {
        tern_rpc_reply_error(req, -EEXIST, "bdev %s already exists", a.name);
        return;
    }
    if (a.block_size == 0 || a.num_blocks == 0 || a.num_blocks > UINT64_MAX / a.block_size) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "num_blocks x block_size is not a size");
        return;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        tern_rpc_reply_error(req, -ENOMEM, "out of memory");
        return;
    }
    d->size = a.num_blocks * a.block_size;
    d->buf = tern_env_zmalloc("tern_malloc_bdev", d->size, 4096, TERN_ENV_SOCKET_ANY);
    if (d->buf == NULL) {
        TERN_LOG(g_log, ERR, "bdev %s: no %lu bytes of DPDK memory (EAL -m / --socket-mem)",
                 a.name, (unsigned long)d->size);
        tern_rpc_reply_error(req, -ENOMEM, "cannot allocate %lu bytes of DPDK memory for %s; "
                             "give the EAL more memory (-m or --socket-mem)",
                             (unsigned long)d->size, a.name);
        free(d);
        return;
    }
    p.name = a.name;
    p.module = "malloc";
    p.block_size = a.block_size;
    p.num_blocks = a.num_blocks;
    p.uuid = a.uuid ? uuid : NULL;
    p.write_cache = false;
    p.ops = &g_malloc_ops;
    p.ctx = d;
    rc = tern_bdev_register(&p, NULL);
    if (rc != 0) {
        malloc_destruct_ctx(d);
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS,
                             "bdev %s: invalid name, block_size or num_blocks (see the log)", a.name);
        return;
    }
    tern_rpc_reply(req, json_string(a.name));
}
TERN_RPC_REGISTER("bdev_malloc_create", bdev_malloc_create, TERN_RPC_RUNTIME)

static void
bdev_malloc_delete(struct tern_rpc_request *req, const json_t *params)
{
    tern_bdev_rpc_delete(req, params, "malloc");
}
TERN_RPC_REGISTER("bdev_malloc_delete", bdev_malloc_delete, TERN_RPC_RUNTIME)
