/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport, listener, controller, qpair and statistics RPCs, with SPDK's
 * method and parameter names: nvmf_create_transport, nvmf_get_transports,
 * nvmf_subsystem_add_listener, nvmf_subsystem_remove_listener,
 * nvmf_subsystem_get_controllers, nvmf_subsystem_get_qpairs, nvmf_get_stats.
 * Answers that live on other lcores are gathered with tern_reactor_for_each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

#define ERRNO_CODE(rc) ((rc) == -EINVAL || (rc) == -EPERM ? TERN_RPC_INVALID_PARAMS : (rc))

/* ---- nvmf_create_transport ---- */
struct create_transport_args {
    const char *trtype;
    uint32_t max_queue_depth;
    uint32_t max_io_qpairs_per_ctrlr;
    uint32_t in_capsule_data_size;
    uint32_t max_io_size;
    uint32_t io_unit_size;
    uint32_t max_aq_depth;
    uint32_t num_shared_buffers;
};

static const struct tern_rpc_param g_transport_spec[] = {
    TERN_RPC_PARAM(struct create_transport_args, trtype, TERN_RPC_STRING, true),
    TERN_RPC_PARAM(struct create_transport_args, max_queue_depth, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, max_io_qpairs_per_ctrlr, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, in_capsule_data_size, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, max_io_size, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, io_unit_size, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, max_aq_depth, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct create_transport_args, num_shared_buffers, TERN_RPC_UINT32, false),
};
#define N_TRANSPORT_SPEC (sizeof(g_transport_spec) / sizeof(g_transport_spec[0]))

static void
create_transport_done(void *arg, int status, const char *why)
{
    struct tern_rpc_request *req = arg;

    if (status != 0)
        tern_rpc_reply_error(req, ERRNO_CODE(status), "%s", why);
    else
        tern_rpc_reply(req, NULL);
}

static void
nvmf_create_transport(struct tern_rpc_request *req, const json_t *params)
{
    struct create_transport_args a = { 0 };
    struct tern_nvmf_transport_opts o;
    const struct tern_nvmf_transport_ops *ops;
    json_t *common, *rest;
    const char *key;
    json_t *val;
    char why[300];
    size_t i;
    int rc;

    if (params == NULL || !json_is_object(params)) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "params must be an object with trtype");
        return;
    }
    /* The common options are ours; the rest belong to the transport. */
    common = json_object();
    rest = json_object();
    json_object_foreach((json_t *)params, key, val) {
        bool mine = false;

        for (i = 0; i < N_TRANSPORT_SPEC; i++)
            mine |= strcmp(key, g_transport_spec[i].name) == 0;
        json_object_set(mine ? common : rest, key, val);
    }
    if (!tern_rpc_decode_or_reply(req, common, g_transport_spec, N_TRANSPORT_SPEC, &a))
        goto out;
    ops = nvmf_transport_ops_find(a.trtype);
    if (ops == NULL) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "unknown trtype '%s' (this build has: TCP)",
                             a.trtype);
        goto out;
    }
    tern_nvmf_transport_opts_init(&o);
    if ((a.max_queue_depth && a.max_queue_depth > 65535) ||
        (a.max_aq_depth && a.max_aq_depth > 65535) ||
        (a.max_io_qpairs_per_ctrlr && a.max_io_qpairs_per_ctrlr > 65534)) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "queue depths and counts are 16-bit");
        goto out;
    }
    if (a.max_queue_depth)
        o.max_queue_depth = (uint16_t)a.max_queue_depth;
    if (a.max_aq_depth)
        o.max_aq_depth = (uint16_t)a.max_aq_depth;
    if (a.max_io_qpairs_per_ctrlr)
        o.max_qpairs_per_ctrlr = (uint16_t)(a.max_io_qpairs_per_ctrlr + 1);
    if (json_object_get(common, "in_capsule_data_size"))
        o.in_capsule_data_size = a.in_capsule_data_size;
    if (a.max_io_size)
        o.max_io_size = a.max_io_size;
    if (a.io_unit_size)
        o.io_unit_size = a.io_unit_size;
    if (a.num_shared_buffers)
        o.num_shared_buffers = a.num_shared_buffers;
    rc = nvmf_transport_create(ops, &o, json_object_size(rest) ? rest : NULL,
                               create_transport_done, req, why, sizeof(why));
    if (rc != 0)
        tern_rpc_reply_error(req, ERRNO_CODE(rc), "%s", why);
out:
    json_decref(common);
    json_decref(rest);
}
TERN_RPC_REGISTER("nvmf_create_transport", nvmf_create_transport, TERN_RPC_RUNTIME)

static void
nvmf_get_transports(struct tern_rpc_request *req, const json_t *params)
{
    struct tern_nvmf_transport *t;
    json_t *list;

    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    list = json_array();
    for (t = nvmf_transport_first(); t != NULL; t = nvmf_transport_next(t)) {
        const struct tern_nvmf_transport_opts *o = &t->opts;
        json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "trtype", t->ops->name,
                              "max_queue_depth", o->max_queue_depth, "max_io_qpairs_per_ctrlr",
                              o->max_qpairs_per_ctrlr - 1, "in_capsule_data_size",
                              (int)o->in_capsule_data_size, "max_io_size", (int)o->max_io_size,
                              "io_unit_size", (int)o->io_unit_size, "max_aq_depth",
                              o->max_aq_depth, "num_shared_buffers", (int)o->num_shared_buffers);

        if (t->ops->dump_opts)
            t->ops->dump_opts(t, j);
        json_array_append_new(list, j);
    }
    tern_rpc_reply(req, list);
}
TERN_RPC_REGISTER("nvmf_get_transports", nvmf_get_transports, TERN_RPC_RUNTIME)

/* ---- listeners ---- */
struct listen_address {
    const char *trtype;
    const char *adrfam;
    const char *traddr;
    const char *trsvcid;
};
struct listener_args {
    const char *nqn;
    const json_t *listen_address;
};

static bool
decode_listener(struct tern_rpc_request *req, const json_t *params, struct tern_nvmf_subsystem **s,
                struct tern_nvmf_trid *trid)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct listener_args, nqn, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct listener_args, listen_address, TERN_RPC_JSON, true),
    };
    static const struct tern_rpc_param aspec[] = {
        TERN_RPC_PARAM(struct listen_address, trtype, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct listen_address, adrfam, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct listen_address, traddr, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct listen_address, trsvcid, TERN_RPC_STRING, true),
    };
    struct listener_args a = { 0 };
    struct listen_address la = { 0 };
    char err[256];

    if (!tern_rpc_decode_or_reply(req, params, spec, 2, &a))
        return false;
    if (tern_rpc_decode(a.listen_address, aspec, 4, &la, err, sizeof(err)) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "listen_address: %s", err);
        return false;
    }
    memset(trid, 0, sizeof(*trid));
    if (tern_nvmf_trtype_parse(la.trtype, &trid->trtype) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "listen_address.trtype '%s' is not "
                             "TCP or RDMA", la.trtype);
        return false;
    }
    trid->adrfam = TERN_NVMF_ADRFAM_IPV4;
    if (la.adrfam != NULL && tern_nvmf_adrfam_parse(la.adrfam, &trid->adrfam) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "listen_address.adrfam '%s' is not "
                             "IPv4 or IPv6", la.adrfam);
        return false;
    }
    if (strlen(la.traddr) > TERN_NVMF_TRADDR_MAX || strlen(la.trsvcid) > TERN_NVMF_TRSVCID_MAX ||
        la.traddr[0] == '\0') {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "listen_address: traddr (1-%d "
                             "characters) or trsvcid (up to %d) has a bad length",
                             TERN_NVMF_TRADDR_MAX, TERN_NVMF_TRSVCID_MAX);
        return false;
    }
    snprintf(trid->traddr, sizeof(trid->traddr), "%s", la.traddr);
    snprintf(trid->trsvcid, sizeof(trid->trsvcid), "%s", la.trsvcid);
    *s = tern_nvmf_subsystem_find(a.nqn);
    if (*s == NULL) {
        tern_rpc_reply_error(req, -ENODEV, "subsystem %s does not exist", a.nqn);
        return false;
    }
    return true;
}

static void
rpc_add_listener(struct tern_rpc_request *req, const json_t *params)
{
    struct tern_nvmf_subsystem *s;
    struct tern_nvmf_trid trid;
    char why[300];
    int rc;

    if (!decode_listener(req, params, &s, &trid))
        return;
    rc = nvmf_subsystem_add_listener(s, &trid, why, sizeof(why));
    if (rc != 0)
        tern_rpc_reply_error(req, ERRNO_CODE(rc), "%s", why);
    else
        tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_add_listener", rpc_add_listener, TERN_RPC_RUNTIME)

static void
rpc_remove_listener(struct tern_rpc_request *req, const json_t *params)
{
    struct tern_nvmf_subsystem *s;
    struct tern_nvmf_trid trid;

    if (!decode_listener(req, params, &s, &trid))
        return;
    if (nvmf_subsystem_remove_listener(s, &trid) != 0)
        tern_rpc_reply_error(req, -ENOENT, "subsystem %s does not listen on %s %s:%s",
                             tern_nvmf_subsystem_nqn(s), tern_nvmf_trtype_name(trid.trtype),
                             trid.traddr, trid.trsvcid);
    else
        tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_remove_listener", rpc_remove_listener, TERN_RPC_RUNTIME)

/* ---- controllers and qpairs, gathered from every lcore ---- */
struct gather {
    struct tern_rpc_request *req;
    uint32_t subsys_id, subsys_gen;
    json_t *list;
    int what;           /* 0 controllers, 1 qpairs, 2 stats */
};

static const char *
qpair_state_name(enum tern_nvmf_qpair_state s)
{
    switch (s) {
    case TERN_NVMF_QPAIR_UNCONNECTED: return "unconnected";
    case TERN_NVMF_QPAIR_CONNECTING: return "connecting";
    case TERN_NVMF_QPAIR_ACTIVE: return "active";
    case TERN_NVMF_QPAIR_CLOSED: return "closed";
    }
    return "unknown";
}

static json_t *
qpair_json(const struct tern_nvmf_qpair *qp)
{
    return json_pack("{s:i, s:i, s:s, s:i, s:i, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:I, s:I, "
                     "s:I, s:i}",
                     "cntlid", qp->cntlid, "qid", qp->qid, "state", qpair_state_name(qp->state),
                     "lcore", (int)qp->lcore, "sqsize", qp->sqsize, "listen_address", "trtype",
                     tern_nvmf_trtype_name(qp->local.trtype), "adrfam",
                     tern_nvmf_adrfam_name(qp->local.adrfam), "traddr", qp->local.traddr,
                     "trsvcid", qp->local.trsvcid, "peer_address", "traddr", qp->peer.traddr,
                     "trsvcid", qp->peer.trsvcid, "submitted", (json_int_t)qp->stats.submitted,
                     "completed", (json_int_t)qp->stats.completed, "errors",
                     (json_int_t)qp->stats.errors, "outstanding", (int)qp->outstanding);
}

static void
gather_each(void *ctx)
{
    struct gather *g = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct tern_nvmf_ctrlr *c;
    struct tern_nvmf_qpair *qp;
    struct tern_nvmf_transport *t;

    if (pg == NULL)
        return;
    if (g->what == 0) {
        for (c = nvmf_ctrlr_next(pg, NULL); c != NULL; c = nvmf_ctrlr_next(pg, c)) {
            if (nvmf_ctrlr_subsys_id(c) == g->subsys_id)
                json_array_append_new(g->list, nvmf_ctrlr_info(c));
        }
    } else if (g->what == 1) {
        TAILQ_FOREACH(qp, &pg->qpairs, link) {
            if (qp->state != TERN_NVMF_QPAIR_UNCONNECTED && qp->subsys_id == g->subsys_id &&
                qp->subsys_gen == g->subsys_gen)
                json_array_append_new(g->list, qpair_json(qp));
        }
    } else {
        json_t *o = json_pack("{s:i, s:i, s:i, s:I, s:I, s:[]}", "lcore", (int)pg->lcore,
                              "qpairs", (int)pg->num_qpairs, "controllers", 0,
                              "qpairs_created", (json_int_t)pg->qpairs_created,
                              "qpairs_destroyed", (json_int_t)pg->qpairs_destroyed,
                              "transports");
        uint64_t sub = 0, cpl = 0, err = 0, outst = 0;
        int nc = 0;

        for (c = nvmf_ctrlr_next(pg, NULL); c != NULL; c = nvmf_ctrlr_next(pg, c))
            nc++;
        TAILQ_FOREACH(qp, &pg->qpairs, link) {
            sub += qp->stats.submitted;
            cpl += qp->stats.completed;
            err += qp->stats.errors;
            outst += qp->outstanding;
        }
        json_object_set_new(o, "controllers", json_integer(nc));
        json_object_set_new(o, "commands_submitted", json_integer((json_int_t)sub));
        json_object_set_new(o, "commands_completed", json_integer((json_int_t)cpl));
        json_object_set_new(o, "commands_failed", json_integer((json_int_t)err));
        json_object_set_new(o, "commands_outstanding", json_integer((json_int_t)outst));
        for (t = nvmf_transport_first(); t != NULL; t = nvmf_transport_next(t)) {
            json_t *tj = json_pack("{s:s}", "trtype", t->ops->name);

            if (t->ops->lcore_stats)
                t->ops->lcore_stats(t, tj);
            json_array_append_new(json_object_get(o, "transports"), tj);
        }
        json_array_append_new(g->list, o);
    }
}

static void
gather_done(void *ctx, int status)
{
    struct gather *g = ctx;

    if (status != 0) {
        tern_rpc_reply_error(g->req, TERN_RPC_INTERNAL_ERROR, "could not reach every lcore: %s",
                             strerror(-status));
        json_decref(g->list);
    } else if (g->what == 2) {
        tern_rpc_reply(g->req, json_pack("{s:I, s:o}", "tick_rate",
                                         (json_int_t)tern_env_ticks_hz(), "poll_groups", g->list));
    } else {
        tern_rpc_reply(g->req, g->list);
    }
    free(g);
}

static void
gather_start(struct tern_rpc_request *req, struct tern_nvmf_subsystem *s, int what)
{
    struct gather *g = calloc(1, sizeof(*g));
    int rc;

    if (g == NULL) {
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "no memory");
        return;
    }
    g->req = req;
    g->what = what;
    g->list = json_array();
    if (s != NULL) {
        g->subsys_id = nvmf_subsystem_id(s);
        g->subsys_gen = nvmf_subsystem_gen(s);
    }
    rc = tern_reactor_for_each(gather_each, g, gather_done);
    if (rc != 0)
        gather_done(g, rc);
}

struct nqn_args {
    const char *nqn;
};

static void
get_ctrlrs_or_qpairs(struct tern_rpc_request *req, const json_t *params, int what)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct nqn_args, nqn, TERN_RPC_STRING, true),
    };
    struct nqn_args a = { 0 };
    struct tern_nvmf_subsystem *s;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a))
        return;
    s = tern_nvmf_subsystem_find(a.nqn);
    if (s == NULL) {
        tern_rpc_reply_error(req, -ENODEV, "subsystem %s does not exist", a.nqn);
        return;
    }
    gather_start(req, s, what);
}

static void
nvmf_subsystem_get_controllers(struct tern_rpc_request *req, const json_t *params)
{
    get_ctrlrs_or_qpairs(req, params, 0);
}
TERN_RPC_REGISTER("nvmf_subsystem_get_controllers", nvmf_subsystem_get_controllers,
                  TERN_RPC_RUNTIME)

static void
nvmf_subsystem_get_qpairs(struct tern_rpc_request *req, const json_t *params)
{
    get_ctrlrs_or_qpairs(req, params, 1);
}
TERN_RPC_REGISTER("nvmf_subsystem_get_qpairs", nvmf_subsystem_get_qpairs, TERN_RPC_RUNTIME)

static void
nvmf_get_stats(struct tern_rpc_request *req, const json_t *params)
{
    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    gather_start(req, NULL, 2);
}
TERN_RPC_REGISTER("nvmf_get_stats", nvmf_get_stats, TERN_RPC_RUNTIME)
