/* SPDX-License-Identifier: BSD-3-Clause */
/* The methods every Tern process serves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

struct get_methods {
    bool current;
    json_t *list;
};

static void
add_method(const struct tern_rpc_method *m, void *ctx)
{
    struct get_methods *gm = ctx;

    if (gm->current && (m->state_mask & tern_rpc_get_state()) == 0)
        return;
    json_array_append_new(gm->list, json_string(m->name));
}

static void
rpc_get_methods(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct get_methods, current, TERN_RPC_BOOL, false),
    };
    struct get_methods gm = { .current = false };

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &gm))
        return;
    gm.list = json_array();
    tern_rpc_foreach_method(add_method, &gm);
    tern_rpc_reply(req, gm.list);
}
TERN_RPC_REGISTER("rpc_get_methods", rpc_get_methods, TERN_RPC_STARTUP | TERN_RPC_RUNTIME)

static void
tern_get_version(struct tern_rpc_request *req, const json_t *params)
{
    unsigned major = 0, minor = 0, patch = 0;

    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    sscanf(TERN_VERSION, "%u.%u.%u", &major, &minor, &patch);
    tern_rpc_reply(req, json_pack("{s:s, s:{s:i, s:i, s:i}, s:s}", "version", TERN_VERSION,
                                  "fields", "major", major, "minor", minor, "patch", patch,
                                  "dpdk", tern_env_dpdk_version()));
}
TERN_RPC_REGISTER("tern_get_version", tern_get_version, TERN_RPC_STARTUP | TERN_RPC_RUNTIME)

struct get_reactors {
    struct tern_rpc_request *req;
    json_t *reactors;
};

static void
add_poller(const struct tern_poller_info *info, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:I, s:I, s:I}", "name", info->name,
                                         "period_us", (json_int_t)info->period_us,
                                         "run_count", (json_int_t)info->run_count,
                                         "busy_count", (json_int_t)info->busy_count));
}

static void
collect_reactor(void *ctx)
{
    struct get_reactors *gr = ctx;
    struct tern_reactor_stats st;
    json_t *pollers = json_array();

    if (tern_reactor_get_stats(&st) != 0)
        return;
    tern_reactor_foreach_poller(add_poller, pollers);
    json_array_append_new(gr->reactors,
                          json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:o}",
                                    "lcore", (int)st.lcore, "socket", st.socket,
                                    "busy", (json_int_t)st.busy_ticks,
                                    "idle", (json_int_t)st.idle_ticks,
                                    "iterations", (json_int_t)st.iterations,
                                    "msgs_run", (json_int_t)st.msgs_run,
                                    "ring_count", (int)st.ring_count,
                                    "pollers", pollers));
}

static void
reactors_done(void *ctx, int status)
{
    struct get_reactors *gr = ctx;

    if (status != 0) {
        json_decref(gr->reactors);
        tern_rpc_reply_error(gr->req, TERN_RPC_INTERNAL_ERROR, "could not reach every reactor: %s",
                             strerror(-status));
    } else {
        tern_rpc_reply(gr->req, json_pack("{s:I, s:o, s:i}", "tick_rate",
                                          (json_int_t)tern_env_ticks_hz(), "reactors",
                                          gr->reactors, "msgs_free",
                                          (int)tern_reactor_msgs_free()));
    }
    free(gr);
}

static void
framework_get_reactors(struct tern_rpc_request *req, const json_t *params)
{
    struct get_reactors *gr;
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    gr = calloc(1, sizeof(*gr));
    if (gr == NULL) {
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    gr->req = req;
    gr->reactors = json_array();
    rc = tern_reactor_for_each(collect_reactor, gr, reactors_done);
    if (rc != 0) {
        json_decref(gr->reactors);
        free(gr);
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "cannot reach the reactors: %s",
                             strerror(-rc));
    }
}
TERN_RPC_REGISTER("framework_get_reactors", framework_get_reactors,
                  TERN_RPC_STARTUP | TERN_RPC_RUNTIME)
