/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transports and listeners (main lcore). Drivers register their ops from a
 * constructor; nvmf_create_transport instantiates one per type with checked
 * options and sets up its per-lcore state on every lcore. A listener is an
 * address a transport accepts on, shared by the subsystems that use it.
 * Also the target's orderly shutdown: stop accepting, close every queue,
 * wait for their requests, release the lcores' bdev channels, take the
 * transports down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf_internal.h"
#include "tern_env.h"
#include "tern_reactor.h"

TERN_LOG_REGISTER(g_log, "tern.lib.nvmf.transport", INFO);

#define MAX_TRANSPORT_OPS 4

static const struct tern_nvmf_transport_ops *g_ops[MAX_TRANSPORT_OPS];
static TAILQ_HEAD(, tern_nvmf_transport) g_transports = TAILQ_HEAD_INITIALIZER(g_transports);

struct listener {
    TAILQ_ENTRY(listener) link;
    struct tern_nvmf_trid trid;
    uint16_t portid;
    uint32_t refs;
};
static TAILQ_HEAD(, listener) g_listeners = TAILQ_HEAD_INITIALIZER(g_listeners);
static uint16_t g_next_portid;

/* ---- addresses ---- */
bool
tern_nvmf_trid_equal(const struct tern_nvmf_trid *a, const struct tern_nvmf_trid *b)
{
    return a->trtype == b->trtype && a->adrfam == b->adrfam &&
           strcmp(a->traddr, b->traddr) == 0 && strcmp(a->trsvcid, b->trsvcid) == 0;
}

int
tern_nvmf_trid_to_sockaddr(const struct tern_nvmf_trid *trid, struct sockaddr_storage *ss,
                           char *why, size_t why_len)
{
    char *end;
    unsigned long port = strtoul(trid->trsvcid, &end, 10);

    if (trid->trsvcid[0] == '\0' || *end != '\0' || port == 0 || port > 65535) {
        snprintf(why, why_len, "trsvcid '%s' is not a port (1-65535)", trid->trsvcid);
        return -EINVAL;
    }
    memset(ss, 0, sizeof(*ss));
    if (trid->adrfam == TERN_NVMF_ADRFAM_IPV4) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, trid->traddr, &a->sin_addr) != 1) {
            snprintf(why, why_len, "traddr '%s' is not an IPv4 address", trid->traddr);
            return -EINVAL;
        }
        return 0;
    }
    if (trid->adrfam == TERN_NVMF_ADRFAM_IPV6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, trid->traddr, &a->sin6_addr) != 1) {
            snprintf(why, why_len, "traddr '%s' is not an IPv6 address", trid->traddr);
            return -EINVAL;
        }
        return 0;
    }
    snprintf(why, why_len, "adrfam %s is not IPv4 or IPv6", tern_nvmf_adrfam_name(trid->adrfam));
    return -EINVAL;
}

void
tern_nvmf_trid_from_sockaddr(struct tern_nvmf_trid *trid, uint8_t trtype, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN], port[8];

    memset(trid, 0, sizeof(*trid));
    trid->trtype = trtype;
    if (sa == NULL)
        return;
    trid->adrfam = sa->sa_family == AF_INET6 ? TERN_NVMF_ADRFAM_IPV6 : TERN_NVMF_ADRFAM_IPV4;
    if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in),
                    host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        snprintf(trid->traddr, sizeof(trid->traddr), "%s", host);
        snprintf(trid->trsvcid, sizeof(trid->trsvcid), "%s", port);
    }
}

/* ---- registry ---- */
void
tern_nvmf_transport_register(const struct tern_nvmf_transport_ops *ops)
{
    int i;

    for (i = 0; i < MAX_TRANSPORT_OPS; i++) {
        if (g_ops[i] == NULL) {
            g_ops[i] = ops;
            return;
        }
    }
}

const struct tern_nvmf_transport_ops *
nvmf_transport_ops_find(const char *name)
{
    int i;

    for (i = 0; i < MAX_TRANSPORT_OPS && g_ops[i] != NULL; i++) {
        if (strcasecmp(g_ops[i]->name, name) == 0)
            return g_ops[i];
    }
    return NULL;
}

struct tern_nvmf_transport *
tern_nvmf_transport_get(uint8_t trtype)
{
    struct tern_nvmf_transport *t;

    TAILQ_FOREACH(t, &g_transports, link) {
        if (t->ops->trtype == trtype)
            return t;
    }
    return NULL;
}

struct tern_nvmf_transport *nvmf_transport_first(void) { return TAILQ_FIRST(&g_transports); }
struct tern_nvmf_transport *nvmf_transport_next(struct tern_nvmf_transport *t) { return TAILQ_NEXT(t, link); }

void
tern_nvmf_transport_opts_init(struct tern_nvmf_transport_opts *o)
{
    o->max_queue_depth = TERN_NVMF_DEFAULT_MAX_QUEUE_DEPTH;
    o->max_aq_depth = TERN_NVMF_DEFAULT_MAX_AQ_DEPTH;
    o->max_qpairs_per_ctrlr = TERN_NVMF_DEFAULT_MAX_QPAIRS_PER_CTRLR;
    o->in_capsule_data_size = TERN_NVMF_DEFAULT_IN_CAPSULE_DATA_SIZE;
    o->max_io_size = TERN_NVMF_DEFAULT_MAX_IO_SIZE;
    o->io_unit_size = TERN_NVMF_DEFAULT_IO_UNIT_SIZE;
    o->num_shared_buffers = TERN_NVMF_DEFAULT_NUM_SHARED_BUFFERS;
}

int
tern_nvmf_transport_opts_check(const struct tern_nvmf_transport_opts *o, char *why, size_t len)
{
    uint32_t units, floor;

    if (o->max_queue_depth < TERN_NVMF_MIN_QUEUE_DEPTH) {
        snprintf(why, len, "max_queue_depth %u is below %u", o->max_queue_depth,
                 TERN_NVMF_MIN_QUEUE_DEPTH);
        return -EINVAL;
    }
    if (o->max_aq_depth < TERN_NVMF_MIN_QUEUE_DEPTH || o->max_aq_depth > TERN_NVMF_MAX_AQ_DEPTH) {
        snprintf(why, len, "max_aq_depth %u is outside %u..%u", o->max_aq_depth,
                 TERN_NVMF_MIN_QUEUE_DEPTH, TERN_NVMF_MAX_AQ_DEPTH);
        return -EINVAL;
    }
    if (o->max_qpairs_per_ctrlr < 2) {
        snprintf(why, len, "max_io_qpairs_per_ctrlr must be at least 1");
        return -EINVAL;
    }
    if (o->max_io_size < 4096 || (o->max_io_size & (o->max_io_size - 1)) != 0) {
        snprintf(why, len, "max_io_size %u is not a power of two of at least 4096 (MDTS is one)",
                 o->max_io_size);
        return -EINVAL;
    }
    if (o->io_unit_size < 4096 || o->io_unit_size % 4096 != 0) {
        snprintf(why, len, "io_unit_size %u is not a multiple of 4096", o->io_unit_size);
        return -EINVAL;
    }
    units = (o->max_io_size + o->io_unit_size - 1) / o->io_unit_size;
    if (units > TERN_NVMF_REQ_MAX_IOV) {
        snprintf(why, len, "max_io_size %u needs %u io units of %u bytes; at most %d are allowed",
                 o->max_io_size, units, o->io_unit_size, TERN_NVMF_REQ_MAX_IOV);
        return -EINVAL;
    }
    if (o->in_capsule_data_size % 16 != 0 || o->in_capsule_data_size > o->io_unit_size) {
        snprintf(why, len, "in_capsule_data_size %u must be a multiple of 16 and at most "
                 "io_unit_size (%u)", o->in_capsule_data_size, o->io_unit_size);
        return -EINVAL;
    }
    /* The floor: every lcore can move one largest I/O at a time. */
    floor = units * tern_env_lcore_count();
    if (o->num_shared_buffers < floor) {
        snprintf(why, len, "num_shared_buffers %u is below the floor %u (%u io units per "
                 "largest I/O x %u lcores)", o->num_shared_buffers, floor, units,
                 tern_env_lcore_count());
        return -EINVAL;
    }
    return 0;
}

/* ---- creation, on every lcore ---- */
struct create_ctx {
    struct tern_nvmf_transport *t;
    int status;
    uint32_t failed_lcore;
    void (*done)(void *arg, int status, const char *why);
    void *arg;
};

static void
lcore_init_each(void *ctx)
{
    struct create_ctx *x = ctx;
    int rc;

    if (x->status != 0)
        return;
    rc = x->t->ops->lcore_init(x->t);
    if (rc != 0) {
        x->status = rc;
        x->failed_lcore = tern_env_lcore_id();
    }
}

static void
lcore_fini_each(void *ctx)
{
    struct create_ctx *x = ctx;

    x->t->ops->lcore_fini(x->t);
}

static void
destroy_done(void *ctx, int status)
{
    struct create_ctx *x = ctx;
    char why[128];

    (void)status;
    snprintf(why, sizeof(why), "transport %s could not start on lcore %u: %s",
             x->t->ops->name, x->failed_lcore, strerror(-x->status));
    x->t->ops->destroy(x->t);
    if (x->done)
        x->done(x->arg, x->status, why);
    free(x);
}

static void
create_done(void *ctx, int status)
{
    struct create_ctx *x = ctx;

    if (status != 0 && x->status == 0)
        x->status = status;
    if (x->status != 0) {
        TERN_LOG(g_log, ERR, "transport %s could not start on lcore %u: %s", x->t->ops->name,
                 x->failed_lcore, strerror(-x->status));
        if (tern_reactor_for_each(lcore_fini_each, x, destroy_done) != 0)
            destroy_done(x, 0);
        return;
    }
    TAILQ_INSERT_TAIL(&g_transports, x->t, link);
    TERN_LOG(g_log, INFO, "transport %s: max_queue_depth %u, max_qpairs_per_ctrlr %u, "
             "in_capsule_data_size %u, max_io_size %u, io_unit_size %u, num_shared_buffers %u",
             x->t->ops->name, x->t->opts.max_queue_depth, x->t->opts.max_qpairs_per_ctrlr,
             x->t->opts.in_capsule_data_size, x->t->opts.max_io_size, x->t->opts.io_unit_size,
             x->t->opts.num_shared_buffers);
    if (x->done)
        x->done(x->arg, 0, NULL);
    free(x);
}

int
nvmf_transport_create(const struct tern_nvmf_transport_ops *ops,
                      const struct tern_nvmf_transport_opts *opts, const json_t *params,
                      void (*done)(void *arg, int status, const char *why), void *arg,
                      char *why, size_t why_len)
{
    struct create_ctx *x;
    int rc;

    if (tern_nvmf_transport_get(ops->trtype) != NULL) {
        snprintf(why, why_len, "transport %s already exists", ops->name);
        return -EEXIST;
    }
    rc = tern_nvmf_transport_opts_check(opts, why, why_len);
    if (rc != 0)
        return rc;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->t = ops->create(opts, params, why, why_len);
    if (x->t == NULL) {
        free(x);
        return -EINVAL;
    }
    x->t->ops = ops;
    x->t->opts = *opts;
    x->done = done;
    x->arg = arg;
    rc = tern_reactor_for_each(lcore_init_each, x, create_done);
    if (rc != 0) {
        ops->destroy(x->t);
        free(x);
        snprintf(why, why_len, "the lcores cannot be reached: %s", strerror(-rc));
    }
    return rc;
}

/* ---- listeners ---- */
static struct listener *
listener_find(const struct tern_nvmf_trid *trid)
{
    struct listener *l;

    TAILQ_FOREACH(l, &g_listeners, link) {
        if (tern_nvmf_trid_equal(&l->trid, trid))
            return l;
    }
    return NULL;
}

int
nvmf_listener_get(const struct tern_nvmf_trid *trid, char *why, size_t why_len)
{
    struct tern_nvmf_transport *t = tern_nvmf_transport_get(trid->trtype);
    struct listener *l = listener_find(trid);
    int rc;

    if (l != NULL) {
        l->refs++;
        return 0;
    }
    if (t == NULL) {
        snprintf(why, why_len, "there is no %s transport: create it with nvmf_create_transport",
                 tern_nvmf_trtype_name(trid->trtype));
        return -ENODEV;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    rc = t->ops->listen(t, trid, why, why_len);
    if (rc != 0) {
        free(l);
        return rc;
    }
    l->trid = *trid;
    l->refs = 1;
    l->portid = ++g_next_portid;
    TAILQ_INSERT_TAIL(&g_listeners, l, link);
    return 0;
}

void
nvmf_listener_put(const struct tern_nvmf_trid *trid)
{
    struct listener *l = listener_find(trid);
    struct tern_nvmf_transport *t;

    if (l == NULL || --l->refs > 0)
        return;
    t = tern_nvmf_transport_get(trid->trtype);
    if (t != NULL)
        t->ops->stop_listen(t, trid);
    TAILQ_REMOVE(&g_listeners, l, link);
    free(l);
}

uint16_t
nvmf_listener_portid(const struct tern_nvmf_trid *trid)
{
    struct listener *l = listener_find(trid);

    return l ? l->portid : 0;
}

const struct tern_nvmf_trid *
nvmf_listener_at(uint32_t index)
{
    struct listener *l;

    TAILQ_FOREACH(l, &g_listeners, link) {
        if (index-- == 0)
            return &l->trid;
    }
    return NULL;
}

/* ---- shutdown ---- */
struct shutdown_ctx {
    void (*done)(void *arg);
    void *arg;
    uint64_t deadline;
    uint32_t qpairs_left;
    struct tern_poller *poller;
    bool walking;
};

static void
close_qpairs_each(void *ctx)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct tern_nvmf_qpair *qp;
    uint64_t *ids;
    uint32_t n = 0, i;
    (void)ctx;

    if (pg == NULL || pg->num_qpairs == 0)
        return;
    ids = calloc(pg->num_qpairs, sizeof(*ids));
    if (ids == NULL)
        return;
    TAILQ_FOREACH(qp, &pg->qpairs, link)
        ids[n++] = qp->id;
    /* Disconnecting may free qpairs: go by id. */
    for (i = 0; i < n; i++)
        nvmf_qpair_disconnect_by_id(ids[i]);
    free(ids);
}

static void
count_qpairs_each(void *ctx)
{
    struct shutdown_ctx *x = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();

    if (pg != NULL)
        x->qpairs_left += pg->num_qpairs;
}

static void
release_views_each(void *ctx)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    uint32_t i, n;
    (void)ctx;

    if (pg == NULL)
        return;
    for (i = 0; i < NVMF_MAX_SUBSYSTEMS; i++) {
        struct nvmf_subsys_view *v = pg->subsys[i];

        if (v == NULL)
            continue;
        for (n = 0; n < v->max_nsid; n++) {
            if (v->ns[n] != NULL && v->ns[n]->ch != NULL) {
                tern_bdev_put_channel(v->ns[n]->ch);
                v->ns[n]->ch = NULL;
            }
            free(v->ns[n]);
        }
        free(v->ns);
        free(v);
        pg->subsys[i] = NULL;
    }
    if (!TAILQ_EMPTY(&pg->zombies))
        TERN_LOG(g_log, ERR, "lcore %u: removed namespaces still have I/O at shutdown", pg->lcore);
}

static void
transports_fini_each(void *ctx)
{
    struct tern_nvmf_transport *t;
    (void)ctx;

    TAILQ_FOREACH(t, &g_transports, link)
        t->ops->lcore_fini(t);
}

static void
shutdown_finish(void *ctx, int status)
{
    struct shutdown_ctx *x = ctx;
    struct tern_nvmf_transport *t;

    (void)status;
    while ((t = TAILQ_FIRST(&g_transports)) != NULL) {
        TAILQ_REMOVE(&g_transports, t, link);
        t->ops->destroy(t);
    }
    x->done(x->arg);
    free(x);
}

static void
views_released(void *ctx, int status)
{
    (void)status;
    if (tern_reactor_for_each(transports_fini_each, ctx, shutdown_finish) != 0)
        shutdown_finish(ctx, 0);
}

static void
counted(void *ctx, int status)
{
    struct shutdown_ctx *x = ctx;

    x->walking = false;
    if (status == 0 && x->qpairs_left > 0 && tern_env_ticks() < x->deadline)
        return;             /* the poller asks again */
    if (x->qpairs_left > 0)
        TERN_LOG(g_log, ERR, "%u qpairs did not finish within the shutdown timeout",
                 x->qpairs_left);
    tern_poller_unregister(&x->poller);
    if (tern_reactor_for_each(release_views_each, x, views_released) != 0)
        views_released(x, 0);
}

static int
shutdown_poll(void *arg)
{
    struct shutdown_ctx *x = arg;

    if (x->walking)
        return TERN_POLLER_IDLE;
    x->walking = true;
    x->qpairs_left = 0;
    if (tern_reactor_for_each(count_qpairs_each, x, counted) != 0) {
        x->walking = false;
        x->deadline = 0;
    }
    return TERN_POLLER_BUSY;
}

static void
closed_all(void *ctx, int status)
{
    struct shutdown_ctx *x = ctx;

    (void)status;
    x->poller = tern_poller_register(shutdown_poll, x, 10000, "nvmf_shutdown");
    if (x->poller == NULL)
        counted(x, -ENOMEM);
}

void
tern_nvmf_shutdown(void (*done)(void *arg), void *arg)
{
    struct shutdown_ctx *x;
    struct listener *l;

    if (nvmf_pg_local() == NULL) {      /* never started */
        done(arg);
        return;
    }
    nvmf_pg_stop_accepting();
    while ((l = TAILQ_FIRST(&g_listeners)) != NULL) {
        struct tern_nvmf_transport *t = tern_nvmf_transport_get(l->trid.trtype);

        if (t != NULL)
            t->ops->stop_listen(t, &l->trid);
        TAILQ_REMOVE(&g_listeners, l, link);
        free(l);
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        done(arg);
        return;
    }
    x->done = done;
    x->arg = arg;
    x->deadline = tern_env_ticks() + 3 * tern_env_ticks_hz();
    if (tern_reactor_for_each(close_qpairs_each, x, closed_all) != 0)
        closed_all(x, 0);
}

/* After the reactors stopped: whatever shutdown could not take down. */
void
nvmf_transports_fini(void)
{
    struct tern_nvmf_transport *t;
    struct listener *l;

    while ((l = TAILQ_FIRST(&g_listeners)) != NULL) {
        TAILQ_REMOVE(&g_listeners, l, link);
        free(l);
    }
    while ((t = TAILQ_FIRST(&g_transports)) != NULL) {
        TAILQ_REMOVE(&g_transports, t, link);
        t->ops->destroy(t);
    }
}
