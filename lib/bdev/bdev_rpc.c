/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev RPCs that are not a module's: bdev_get_bdevs, bdev_set_options. */
#include <errno.h>
#include <string.h>

#include <stdlib.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "tern_bdev_module.h"

TERN_LOG_REGISTER(g_log, "tern.lib.bdev.rpc", INFO);

static json_t *
bdev_json(struct tern_bdev *b)
{
    char uuid[37];
    json_t *types = json_object(), *drv = json_object(), *o;
    int t;

    for (t = 0; t < TERN_BDEV_IO_NUM_TYPES; t++)
        json_object_set_new(types, tern_bdev_io_type_name(t),
                            json_boolean(tern_bdev_io_type_supported(b, t)));
    tern_bdev_uuid_fmt(tern_bdev_uuid(b), uuid);
    o = json_pack("{s:s, s:[], s:s, s:i, s:I, s:s, s:b, s:o}", "name", tern_bdev_name(b),
                  "aliases", "product_name", tern_bdev_module_name(b),
                  "block_size", (int)tern_bdev_block_size(b),
                  "num_blocks", (json_int_t)tern_bdev_num_blocks(b), "uuid", uuid,
                  "write_cache", tern_bdev_has_write_cache(b), "supported_io_types", types);
    tern_bdev_dump_driver_json(b, drv);
    json_object_set_new(o, "driver_specific", drv);
    return o;
}

struct get_bdevs {
    const char *name;
};

static void
bdev_get_bdevs(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct get_bdevs, name, TERN_RPC_STRING, false),
    };
    struct get_bdevs a = { 0 };
    struct tern_bdev *b;
    json_t *list;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a))
        return;
    list = json_array();
    if (a.name != NULL) {
        b = tern_bdev_get_by_name(a.name);
        if (b == NULL) {
            json_decref(list);
            tern_rpc_reply_error(req, -ENODEV, "bdev %s does not exist", a.name);
            return;
        }
        json_array_append_new(list, bdev_json(b));
    } else {
        for (b = tern_bdev_first(); b != NULL; b = tern_bdev_next(b))
            json_array_append_new(list, bdev_json(b));
    }
    tern_rpc_reply(req, list);
}
TERN_RPC_REGISTER("bdev_get_bdevs", bdev_get_bdevs, TERN_RPC_RUNTIME)

struct set_opts {
    uint32_t bdev_io_pool_size;
    uint32_t bdev_io_cache_size;
    bool bdev_auto_examine;
};

static void
bdev_set_options(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct set_opts, bdev_io_pool_size, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct set_opts, bdev_io_cache_size, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct set_opts, bdev_auto_examine, TERN_RPC_BOOL, false),
    };
    struct tern_bdev_opts opts;
    struct set_opts a;
    int rc;

    tern_bdev_get_opts(&opts);
    a.bdev_io_pool_size = opts.io_pool_size;
    a.bdev_io_cache_size = 0;
    if (!tern_rpc_decode_or_reply(req, params, spec, 3, &a))
        return;
    if (a.bdev_io_cache_size != 0)
        TERN_LOG(g_log, NOTICE, "bdev_io_cache_size %u ignored: Tern sizes per-lcore caches "
                 "from the pool size and lcore count", a.bdev_io_cache_size);
    opts.io_pool_size = a.bdev_io_pool_size;
    rc = tern_bdev_set_opts(&opts);
    if (rc != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, rc == -EBUSY ?
                             "bdev options can only be set before framework_start_init" :
                             "bdev_io_pool_size must be at least 1");
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("bdev_set_options", bdev_set_options, TERN_RPC_STARTUP)

static void
delete_done(void *ctx, int status)
{
    struct tern_rpc_request *req = ctx;

    if (status != 0)
        tern_rpc_reply_error(req, status, "bdev is already being deleted");
    else
        tern_rpc_reply(req, NULL);
}

struct delete_args {
    const char *name;
};

void
tern_bdev_rpc_delete(struct tern_rpc_request *req, const json_t *params, const char *module)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct delete_args, name, TERN_RPC_STRING, true),
    };
    struct delete_args a = { 0 };
    struct tern_bdev *b;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a))
        return;
    b = tern_bdev_get_by_name(a.name);
    if (b == NULL || strcmp(tern_bdev_module_name(b), module) != 0) {
        tern_rpc_reply_error(req, -ENODEV, "no %s bdev named %s", module, a.name);
        return;
    }
    tern_bdev_unregister(b, delete_done, req);
}

bool
tern_bdev_rpc_uuid(struct tern_rpc_request *req, const char *text, uint8_t out[16])
{
    if (text == NULL || tern_bdev_uuid_parse(text, out) == 0)
        return true;
    tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "uuid %s is not a UUID", text);
    return false;
}

/* ---- bdev_get_iostat: counters summed over every lcore's channel ---- */
struct iostat {
    struct tern_rpc_request *req;
    char *name;             /* NULL: every bdev */
    json_t *by_name;        /* name -> counters */
};

static json_t *
iostat_entry(json_t *by_name, const char *name)
{
    json_t *e = json_object_get(by_name, name);

    if (e == NULL) {
        e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "name", name,
                      "num_read_ops", (json_int_t)0, "bytes_read", (json_int_t)0,
                      "num_write_ops", (json_int_t)0, "bytes_written", (json_int_t)0,
                      "num_unmap_ops", (json_int_t)0, "num_write_zeroes_ops", (json_int_t)0,
                      "num_flush_ops", (json_int_t)0, "num_compare_ops", (json_int_t)0,
                      "errors", (json_int_t)0, "outstanding", (json_int_t)0, "io_waiters", 0);
        json_object_set_new(by_name, name, e);
    }
    return e;
}

static void
add(json_t *e, const char *key, uint64_t v)
{
    json_object_set_new(e, key, json_integer(json_integer_value(json_object_get(e, key)) +
                                             (json_int_t)v));
}

static void
iostat_channel(const char *name, const struct tern_bdev_channel_stats *st, void *ctx)
{
    struct iostat *is = ctx;
    json_t *e;

    if (is->name != NULL && strcmp(is->name, name) != 0)
        return;
    e = iostat_entry(is->by_name, name);
    add(e, "num_read_ops", st->ops[TERN_BDEV_IO_READ]);
    add(e, "bytes_read", st->bytes_read);
    add(e, "num_write_ops", st->ops[TERN_BDEV_IO_WRITE]);
    add(e, "bytes_written", st->bytes_written);
    add(e, "num_unmap_ops", st->ops[TERN_BDEV_IO_UNMAP]);
    add(e, "num_write_zeroes_ops", st->ops[TERN_BDEV_IO_WRITE_ZEROES]);
    add(e, "num_flush_ops", st->ops[TERN_BDEV_IO_FLUSH]);
    add(e, "num_compare_ops", st->ops[TERN_BDEV_IO_COMPARE]);
    add(e, "errors", st->errors);
    add(e, "outstanding", st->outstanding);
    add(e, "io_waiters", st->io_waiters);
}

static void
iostat_lcore(void *ctx)
{
    tern_bdev_foreach_local_channel(iostat_channel, ctx);
}

static void
iostat_done(void *ctx, int status)
{
    struct iostat *is = ctx;
    struct tern_bdev *b;
    json_t *list;

    if (status != 0) {
        tern_rpc_reply_error(is->req, TERN_RPC_INTERNAL_ERROR, "could not reach every reactor: %s",
                             strerror(-status));
    } else {
        /* Back on the main lcore: list registered bdevs, zeros if unused. */
        list = json_array();
        for (b = tern_bdev_first(); b != NULL; b = tern_bdev_next(b)) {
            if (is->name == NULL || strcmp(is->name, tern_bdev_name(b)) == 0)
                json_array_append(list, iostat_entry(is->by_name, tern_bdev_name(b)));
        }
        tern_rpc_reply(is->req, json_pack("{s:I, s:{s:i, s:i}, s:o}", "tick_rate",
                                          (json_int_t)tern_env_ticks_hz(), "io_pool",
                                          "size", (int)tern_bdev_io_pool_size(),
                                          "free", (int)tern_bdev_io_pool_free(), "bdevs", list));
    }
    json_decref(is->by_name);
    free(is->name);
    free(is);
}

static void
bdev_get_iostat(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct get_bdevs, name, TERN_RPC_STRING, false),
    };
    struct get_bdevs a = { 0 };
    struct iostat *is;
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a))
        return;
    if (a.name != NULL && tern_bdev_get_by_name(a.name) == NULL) {
        tern_rpc_reply_error(req, -ENODEV, "bdev %s does not exist", a.name);
        return;
    }
    is = calloc(1, sizeof(*is));
    if (is == NULL || (a.name && (is->name = strdup(a.name)) == NULL)) {
        free(is);
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    is->req = req;
    is->by_name = json_object();
    rc = tern_reactor_for_each(iostat_lcore, is, iostat_done);
    if (rc != 0) {
        json_decref(is->by_name);
        free(is->name);
        free(is);
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "cannot reach the reactors: %s",
                             strerror(-rc));
    }
}
TERN_RPC_REGISTER("bdev_get_iostat", bdev_get_iostat, TERN_RPC_RUNTIME)
