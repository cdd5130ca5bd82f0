/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null bdev: accepts every I/O and moves no data (reads leave the
 * buffer as it was). For measuring the target without a device in the way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tern_env.h"
#include "tern_rpc.h"
#include "tern_bdev_module.h"

TERN_LOG_REGISTER(g_log, "tern.drv.bdev.null", INFO);

static void
null_submit(void *chan, struct tern_bdev_io *io)
{
    (void)chan;
    tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
}

static bool
null_supported(struct tern_bdev *bdev, enum tern_bdev_io_type type)
{
    (void)bdev;
    return type != TERN_BDEV_IO_COMPARE;
}

static const struct tern_bdev_ops g_null_ops = {
    .submit = null_submit,
    .io_type_supported = null_supported,
};

struct create_args {
    const char *name;
    uint64_t num_blocks;
    uint32_t block_size;
    const char *uuid;
    uint32_t md_size;
};

static void
bdev_null_create(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct create_args, name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct create_args, num_blocks, TERN_RPC_UINT64, true),
        TERN_RPC_PARAM(struct create_args, block_size, TERN_RPC_UINT32, true),
        TERN_RPC_PARAM(struct create_args, uuid, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct create_args, md_size, TERN_RPC_UINT32, false),
    };
    struct create_args a = { 0 };
    struct tern_bdev_params p = { 0 };
    uint8_t uuid[16];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 5, &a))
        return;
    if (a.md_size != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "md_size: metadata is not supported");
        return;
    }
    if (!tern_bdev_rpc_uuid(req, a.uuid, uuid))
        return;
    p.name = a.name;
    p.module = "null";
    p.block_size = a.block_size;
    p.num_blocks = a.num_blocks;
    p.uuid = a.uuid ? uuid : NULL;
    p.ops = &g_null_ops;
    rc = tern_bdev_register(&p, NULL);
    if (rc != 0) {
        tern_rpc_reply_error(req, rc == -EEXIST ? -EEXIST : TERN_RPC_INVALID_PARAMS,
                             rc == -EEXIST ? "bdev %s already exists" :
                             "bdev %s: invalid name, block_size or num_blocks (see the log)",
                             a.name);
        return;
    }
    tern_rpc_reply(req, json_string(a.name));
}
TERN_RPC_REGISTER("bdev_null_create", bdev_null_create, TERN_RPC_RUNTIME)

static void
bdev_null_delete(struct tern_rpc_request *req, const json_t *params)
{
    tern_bdev_rpc_delete(req, params, "null");
}
TERN_RPC_REGISTER("bdev_null_delete", bdev_null_delete, TERN_RPC_RUNTIME)
