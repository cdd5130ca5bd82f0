/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TEST BUILD ONLY (linked into test/func's tern-tgt-test, never into
 * tern-tgt): a RAM bdev that corrupts data on purpose. Every read that
 * covers block `flip_lba` returns that block with one bit flipped (the
 * stored data stays intact), so a verifying initiator must notice.
 *
 *   bdev_bitflip_create {"name", "num_blocks", "block_size", "flip_lba"}
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tern_bdev_module.h"
#include "tern_env.h"
#include "tern_log.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.test.bdev.bitflip", NOTICE);

#define FLIP_BYTE 100   /* which byte of the block, bit 0 */

struct bitflip {
    uint8_t *buf;
    uint32_t block_size;
    uint64_t flip_lba;
};

static void
bitflip_submit(void *chan, struct tern_bdev_io *io)
{
    struct bitflip *d = tern_bdev_ctx(tern_bdev_io_bdev(io));
    uint64_t lba = tern_bdev_io_offset_blocks(io), nlb = tern_bdev_io_num_blocks(io);
    size_t off = (size_t)lba * d->block_size, flip = SIZE_MAX;
    struct iovec *iov;
    int n;
    (void)chan;

    iov = tern_bdev_io_iovs(io, &n);
    if (d->flip_lba >= lba && d->flip_lba < lba + nlb)
        flip = (size_t)(d->flip_lba - lba) * d->block_size + FLIP_BYTE;
    switch (tern_bdev_io_type(io)) {
    case TERN_BDEV_IO_READ:
        for (int i = 0, done = 0; i < n; done += (int)iov[i].iov_len, i++) {
            memcpy(iov[i].iov_base, d->buf + off + (size_t)done, iov[i].iov_len);
            if (flip >= (size_t)done && flip < (size_t)done + iov[i].iov_len)
                ((uint8_t *)iov[i].iov_base)[flip - (size_t)done] ^= 1;
        }
        break;
    case TERN_BDEV_IO_WRITE:
        for (int i = 0; i < n; off += iov[i].iov_len, i++)
            memcpy(d->buf + off, iov[i].iov_base, iov[i].iov_len);
        break;
    default:
        break;
    }
    tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
}

static bool
bitflip_supported(struct tern_bdev *bdev, enum tern_bdev_io_type type)
{
    (void)bdev;
    return type == TERN_BDEV_IO_READ || type == TERN_BDEV_IO_WRITE || type == TERN_BDEV_IO_FLUSH;
}

static void
bitflip_destruct(struct tern_bdev *bdev)
{
    struct bitflip *d = tern_bdev_ctx(bdev);

    tern_env_free(d->buf);
    free(d);
}

static const struct tern_bdev_ops g_bitflip_ops = {
    .submit = bitflip_submit,
    .io_type_supported = bitflip_supported,
    .destruct = bitflip_destruct,
};

struct create_args {
    const char *name;
    uint64_t num_blocks;
    uint32_t block_size;
    uint64_t flip_lba;
};

static void
bdev_bitflip_create(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct create_args, name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct create_args, num_blocks, TERN_RPC_UINT64, true),
        TERN_RPC_PARAM(struct create_args, block_size, TERN_RPC_UINT32, true),
        TERN_RPC_PARAM(struct create_args, flip_lba, TERN_RPC_UINT64, true),
    };
    struct create_args a = {0};
    struct tern_bdev_params p = {0};
    struct bitflip *d;
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 4, &a))
        return;
    if (a.num_blocks == 0 || a.num_blocks > (1u << 20) || a.block_size < 512 ||
        a.flip_lba >= a.num_blocks) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS,
                             "want 0 < num_blocks <= 1Mi, block_size >= 512, flip_lba < num_blocks");
        return;
    }
    d = calloc(1, sizeof(*d));
    if (d != NULL)
        d->buf = tern_env_zmalloc("bitflip", a.num_blocks * a.block_size, 4096, -1);
    if (d == NULL || d->buf == NULL) {
        if (d)
            free(d);
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    d->block_size = a.block_size;
    d->flip_lba = a.flip_lba;
    p.name = a.name;
    p.module = "bitflip";
    p.block_size = a.block_size;
    p.num_blocks = a.num_blocks;
    p.ops = &g_bitflip_ops;
    p.ctx = d;
    rc = tern_bdev_register(&p, NULL);
    if (rc != 0) {
        tern_env_free(d->buf);
        free(d);
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "bdev %s: %s", a.name, strerror(-rc));
        return;
    }
    TERN_LOG(g_log, NOTICE, "bdev %s: TEST bdev, every read of block %lu flips a bit", a.name,
             (unsigned long)a.flip_lba);
    tern_rpc_reply(req, json_string(a.name));
}
TERN_RPC_REGISTER("bdev_bitflip_create", bdev_bitflip_create, TERN_RPC_RUNTIME)
