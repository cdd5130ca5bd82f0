/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up configuration: a JSON file in SPDK's config shape, replayed entry
 * by entry through the same handlers as the live socket, so a config file and
 * an RPC script always mean the same thing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.lib.rpc.config", INFO);

struct replay {
    json_t *root;
    char *origin;
    size_t si;          /* subsystem index */
    size_t ci;          /* config entry index within it */
    const char *subsystem;
    const char *method;
    tern_rpc_config_done done;
    void *ctx;
};

static void
replay_finish(struct replay *rp, int status)
{
    if (status == 0)
        TERN_LOG(g_log, INFO, "%s: configuration applied", rp->origin);
    rp->done(rp->ctx, status);
    json_decref(rp->root);
    free(rp->origin);
    free(rp);
}

static void
replay_fail(struct replay *rp, const char *fmt, const char *detail)
{
    char why[600];

    snprintf(why, sizeof(why), fmt, detail);
    if (rp->method != NULL)
        TERN_LOG(g_log, ERR, "%s: subsystem %s, entry %zu, method %s: %s", rp->origin,
                 rp->subsystem, rp->ci + 1, rp->method, why);
    else if (rp->subsystem != NULL)
        TERN_LOG(g_log, ERR, "%s: subsystem %s, entry %zu: %s", rp->origin, rp->subsystem,
                 rp->ci + 1, why);
    else
        TERN_LOG(g_log, ERR, "%s: subsystem entry %zu: %s", rp->origin, rp->si + 1, why);
    replay_finish(rp, -EINVAL);
}

static void replay_step(void *a1, void *a2);

static void
replay_next(struct replay *rp)
{
    int rc;

    rp->ci++;
    rp->method = NULL;
    /* Continue from the reactor loop, not from inside the handler. */
    rc = tern_reactor_send_msg(tern_env_lcore_id(), replay_step, rp, NULL);
    if (rc != 0)
        replay_fail(rp, "cannot continue the replay: %s", strerror(-rc));
}

static void
on_entry_done(void *ctx, json_t *resp)
{
    struct replay *rp = ctx;
    const json_t *err = resp ? json_object_get(resp, "error") : NULL;

    if (err != NULL) {
        const char *msg = json_string_value(json_object_get(err, "message"));
        char detail[600];

        snprintf(detail, sizeof(detail), "%s (JSON-RPC error %lld)", msg ? msg : "error",
                 (long long)json_integer_value(json_object_get(err, "code")));
        json_decref(resp);
        replay_fail(rp, "%s", detail);
        return;
    }
    json_decref(resp);
    replay_next(rp);
}

static void
replay_step(void *a1, void *a2)
{
    struct replay *rp = a1;
    const json_t *subsystems = json_object_get(rp->root, "subsystems");
    const json_t *sub, *config, *entry, *method, *params;
    json_t *req;
    (void)a2;

    for (;;) {
        if (rp->si >= json_array_size(subsystems)) {
            replay_finish(rp, 0);
            return;
        }
        sub = json_array_get(subsystems, rp->si);
        rp->subsystem = NULL;
        if (!json_is_object(sub) || !json_is_string(json_object_get(sub, "subsystem"))) {
            replay_fail(rp, "%s", "must be an object with a \"subsystem\" name");
            return;
        }
        rp->subsystem = json_string_value(json_object_get(sub, "subsystem"));
        config = json_object_get(sub, "config");
        if (config != NULL && !json_is_null(config) && !json_is_array(config)) {
            replay_fail(rp, "%s", "\"config\" must be an array of {method, params} or null");
            return;
        }
        if (rp->ci < json_array_size(config))
            break;
        rp->si++;
        rp->ci = 0;
    }
    entry = json_array_get(config, rp->ci);
    method = json_object_get(entry, "method");
    if (!json_is_object(entry) || !json_is_string(method)) {
        replay_fail(rp, "%s", "must be an object with a \"method\" string");
        return;
    }
    rp->method = json_string_value(method);
    params = json_object_get(entry, "params");
    req = json_pack("{s:s, s:I, s:s, s:O*}", "jsonrpc", "2.0", "id", (json_int_t)rp->ci + 1,
                    "method", rp->method, "params", params);
    if (req == NULL) {
        replay_fail(rp, "%s", "out of memory");
        return;
    }
    tern_rpc_dispatch(req, on_entry_done, rp);
    json_decref(req);
}

static int
replay_start(json_t *root, const char *origin, tern_rpc_config_done done, void *ctx)
{
    struct replay *rp;
    int rc;

    if (!json_is_object(root) || !json_is_array(json_object_get(root, "subsystems"))) {
        TERN_LOG(g_log, ERR, "%s: the top level must be an object with a \"subsystems\" array",
                 origin);
        json_decref(root);
        return -EINVAL;
    }
    rp = calloc(1, sizeof(*rp));
    if (rp == NULL || (rp->origin = strdup(origin)) == NULL) {
        free(rp);
        json_decref(root);
        return -ENOMEM;
    }
    rp->root = root;
    rp->done = done;
    rp->ctx = ctx;
    rc = tern_reactor_send_msg(tern_env_lcore_id(), replay_step, rp, NULL);
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "%s: cannot start the replay: %s", origin, strerror(-rc));
        json_decref(root);
        free(rp->origin);
        free(rp);
    }
    return rc;
}

int
tern_rpc_config_load_string(const char *text, const char *origin, tern_rpc_config_done done,
                            void *ctx)
{
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL) {
        TERN_LOG(g_log, ERR, "%s: line %d, column %d: %s", origin, err.line, err.column, err.text);
        return -EINVAL;
    }
    return replay_start(root, origin, done, ctx);
}

int
tern_rpc_config_load_file(const char *path, tern_rpc_config_done done, void *ctx)
{
    struct stat st;
    json_error_t err;
    json_t *root;
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL) {
        int rc = -errno;

        TERN_LOG(g_log, ERR, "cannot open config file %s: %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fileno(f), &st) == 0 && st.st_size > TERN_CONFIG_MAX_BYTES) {
        TERN_LOG(g_log, ERR, "config file %s: %lld bytes is over the %d byte limit", path,
                 (long long)st.st_size, TERN_CONFIG_MAX_BYTES);
        fclose(f);
        return -EFBIG;
    }
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    fclose(f);
    if (root == NULL) {
        TERN_LOG(g_log, ERR, "config file %s: line %d, column %d: %s", path, err.line,
                 err.column, err.text);
        return -EINVAL;
    }
    TERN_LOG(g_log, INFO, "loading configuration from %s", path);
    return replay_start(root, path, done, ctx);
}
