/* SPDX-License-Identifier: BSD-3-Clause */
/* What a bdev module (drivers/bdev/<name>) implements and may call. */
#ifndef TERN_BDEV_MODULE_H
#define TERN_BDEV_MODULE_H

#include <jansson.h>

#include "tern_rpc.h"

#include "tern_bdev.h"

/* Bytes of per-I/O scratch space a module may use (tern_bdev_io_driver_ctx). */
#define TERN_BDEV_IO_DRIVER_CTX 64

struct tern_bdev_ops {
    /* Per-lcore state, created and destroyed on that lcore. */
    void *(*channel_create)(struct tern_bdev *bdev);
    void (*channel_destroy)(struct tern_bdev *bdev, void *chan);
    /* Start the I/O; complete it with tern_bdev_io_complete() on this lcore,
     * now or later. */
    void (*submit)(void *chan, struct tern_bdev_io *io);
    /* Called on every poll of a channel with I/O outstanding; returns how
     * many completions it found (NULL: the module completes inline). */
    int (*poll)(void *chan);
    bool (*io_type_supported)(struct tern_bdev *bdev, enum tern_bdev_io_type type);
    /* Free the module's part of the bdev (main lcore, after the last close). */
    void (*destruct)(struct tern_bdev *bdev);
    /* Module-specific fields for bdev_get_bdevs (optional). */
    void (*dump_json)(struct tern_bdev *bdev, json_t *driver_specific);
};

struct tern_bdev_params {
    const char *name;
    const char *module;
    uint32_t block_size;
    uint64_t num_blocks;
    const uint8_t *uuid;        /* 16 bytes, NULL: generate */
    bool write_cache;
    uint32_t max_transfer_blocks;
    const struct tern_bdev_ops *ops;
    void *ctx;
};

/* Register a bdev (main lcore). -EEXIST if the name is taken, -EINVAL for a
 * bad geometry. */
int tern_bdev_register(const struct tern_bdev_params *p, struct tern_bdev **out);
/*
 * Start removing a bdev (main lcore): holders of descriptors get
 * TERN_BDEV_EVENT_REMOVE; new opens and submits fail; when the last
 * descriptor is closed the module's destruct runs, then done(ctx, 0).
 */
typedef void (*tern_bdev_unregister_done)(void *ctx, int status);
void tern_bdev_unregister(struct tern_bdev *bdev, tern_bdev_unregister_done done, void *ctx);
void *tern_bdev_ctx(const struct tern_bdev *bdev);
/* The module's dump_json, if it has one. */
void tern_bdev_dump_driver_json(struct tern_bdev *bdev, json_t *driver_specific);

/* The I/O a module sees. */
enum tern_bdev_io_type tern_bdev_io_type(const struct tern_bdev_io *io);
uint64_t tern_bdev_io_offset_blocks(const struct tern_bdev_io *io);
uint64_t tern_bdev_io_num_blocks(const struct tern_bdev_io *io);
struct iovec *tern_bdev_io_iovs(const struct tern_bdev_io *io, int *iovcnt);
struct tern_bdev *tern_bdev_io_bdev(const struct tern_bdev_io *io);
void *tern_bdev_io_driver_ctx(struct tern_bdev_io *io);
void tern_bdev_io_complete(struct tern_bdev_io *io, enum tern_bdev_io_status status);

/* The body of bdev_<module>_delete: {"name"}; replies when the bdev is gone
 * (after its holders closed it). */
void tern_bdev_rpc_delete(struct tern_rpc_request *req, const json_t *params, const char *module);

/* For create RPCs: parse an optional "uuid" parameter into `out`; true if
 * absent or valid, false after replying Invalid params. */
bool tern_bdev_rpc_uuid(struct tern_rpc_request *req, const char *text, uint8_t out[16]);

/* Fill a UUID (version 4, random). */
void tern_bdev_generate_uuid(uint8_t uuid[16]);
/* "xxxxxxxx-xxxx-..." (37 bytes with the NUL) and back; parse returns 0/-EINVAL. */
void tern_bdev_uuid_fmt(const uint8_t uuid[16], char out[37]);
int tern_bdev_uuid_parse(const char *text, uint8_t uuid[16]);

#endif /* TERN_BDEV_MODULE_H */
