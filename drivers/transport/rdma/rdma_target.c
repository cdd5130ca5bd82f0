/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA, target half: rdma_cm listeners, devices, per-lcore completion
 * queues, and the verbs side of the request engine (rdma_qp.c).
 *
 * Threads and owners (ARCHITECTURE.md rules 1 and 2):
 *  - The main lcore owns the CM event channel, the listeners, the device
 *    table and one small handle per rdma_cm id. It polls CM events and the
 *    devices' async events and forwards what concerns a connection to the
 *    connection's lcore by message, naming it by id; the lcore looks it up
 *    and does nothing if it is gone.
 *  - Each reactor lcore owns its connections (QP, engine, memory) and one
 *    CQ per device, created and destroyed on that lcore only. Its poller
 *    polls every CQ in batches, then drains every pending queue of every
 *    connection, busy or idle (SEEDS incident 2).
 *  - A connection is torn down on its lcore: QP to error, wait for every
 *    posted WR to come back (flush) and for the core to give back its
 *    requests, destroy the QP, free, then ask the main lcore to destroy the
 *    cm id.
 *
 * Memory: data buffers are one region of num_shared_buffers io units,
 * registered with each device's protection domain; data work requests come
 * from a mempool of data_wr_pool_size descriptors; each connection has its
 * request objects and response capsules sized by its negotiated queue
 * depth, registered once. Receive buffers (64-byte SQE + in-capsule data):
 * unless no_srq, or the device has no SRQs, one shared receive queue of
 * max_srq_depth buffers per (device x lcore), made with its CQ, feeds
 * every connection of that lcore on that device (a receive completion
 * names its QP by number: a small table per lcore finds the connection);
 * else each connection has depth receive buffers of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma_proto.h"
#include "rdma_qp.h"
#include "tern_config.h"
#include "tern_env.h"
#include "tern_netcheck.h"
#include "tern_nvme.h"
#include "tern_nvmf_transport.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.drv.transport.rdma", INFO);

#ifndef TAILQ_FOREACH_SAFE      /* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                            \
    for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

#define MAX_DEVICES 16
#define CQ_BATCH 32
#define CM_POLL_US 1000
#define RELISTEN_US 1000000
#define DEFAULT_NUM_CQE 16384
#define DEFAULT_SRQ_DEPTH 4096
#define QPN_BUCKETS 256
#define DEFAULT_BACKLOG 100
#define FINI_DRAIN_MS 200
#define PEER_LEN (TERN_NVMF_TRADDR_MAX + TERN_NVMF_TRSVCID_MAX + 2)

struct rdma_transport;
struct rdma_pg;

/* ---- devices (main lcore writes; lcores read pd, lkey, attrs) ---- */
struct rdma_device {
    bool used;
    bool removed;           /* DEVICE_REMOVAL or DEVICE_FATAL seen: no new QPs */
    uint32_t gen;           /* bumped on every reuse of the slot */
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_mr *buf_mr;  /* the shared data buffer region */
    struct ibv_device_attr attr;
    char name[IBV_SYSFS_NAME_MAX];
    uint32_t nconns;        /* cm handles of connections on it */
    bool releasing;         /* asked every lcore to destroy its CQ of it */
    uint32_t cq_waits;      /* lcores that have not answered yet */
};

/* ---- one rdma_cm id (main lcore) ---- */
struct cm_handle {
    TAILQ_ENTRY(cm_handle) link;
    struct rdma_cm_id *id;
    uint32_t dev;           /* device slot, MAX_DEVICES if none */
    uint32_t lcore;
    uint64_t conn_id;
    bool lcore_done;        /* the connection is gone from its lcore */
    char peer[PEER_LEN];
};

struct rdma_listener {
    TAILQ_ENTRY(rdma_listener) link;
    struct tern_nvmf_trid trid;
    struct rdma_cm_id *id;  /* NULL while its device is away: retried */
    uint64_t retry_at;
    bool warned;
};

/* ---- per lcore ---- */
struct pg_cq {
    struct ibv_cq *cq;
    uint32_t dev_gen;
    int cqe, cqe_used;
    /* the shared receive queue (NULL: no_srq, none on the device, or its
     * creation failed: connections post their own receives) */
    struct ibv_srq *srq;
    struct ibv_mr *srq_mr;
    uint8_t *srq_mem;
    struct rdma_recv *srq_recvs;
    uint32_t srq_depth, srq_posted;
    uint64_t srq_strays, srq_post_errors;
    uint64_t polls, completions;
    uint64_t wc_errors[IBV_WC_GENERAL_ERR + 1];
    struct rdma_qp_stats closed;    /* counters of its qpairs already gone */
};

struct rdma_conn {
    struct rdma_qp eng;     /* first: the engine, whose first member is the core's qpair */
    struct rdma_pg *pg;
    uint64_t id;
    uint32_t dev;
    struct rdma_cm_id *cm_id;
    struct ibv_qp *qp;
    struct ibv_mr *mr;
    uint8_t *mem;
    struct rdma_treq *reqs;
    struct rdma_recv *recvs;
    uint32_t depth;
    int cq_share;
    uint32_t qpn;           /* on an SRQ: its QP number, in the lcore's table */
    struct rdma_conn *qpn_next;
    bool qpn_linked;
    bool disconnected;      /* rdma_disconnect called */
    TAILQ_ENTRY(rdma_conn) link;
    char peer[PEER_LEN];
};

struct rdma_pg {
    struct rdma_transport *rt;
    uint32_t lcore;
    struct tern_poller *poller;
    struct pg_cq cq[MAX_DEVICES];
    struct rdma_conn *qpn[QPN_BUCKETS];     /* connections on an SRQ, by QP number */
    TAILQ_HEAD(, rdma_conn) conns;
    uint32_t nconns;
    uint64_t accepted, closed;
};

struct rdma_params {
    uint32_t data_wr_pool_size;
    bool no_srq;
    uint32_t max_srq_depth;
    uint32_t num_cqe;
    uint32_t acceptor_backlog;
};

struct rdma_transport {
    struct tern_nvmf_transport base;
    struct rdma_params p;
    uint32_t wr_floor, wr_default;
    /* data buffers: one region, a ring of free units */
    uint8_t *buf_mem;
    size_t buf_len;
    struct tern_ring *buf_ring;
    struct tern_mempool *wr_pool;
    /* main lcore */
    struct rdma_event_channel *ch;
    struct tern_poller *cm_poller;
    TAILQ_HEAD(, rdma_listener) listeners;
    TAILQ_HEAD(, cm_handle) handles;
    struct rdma_device dev[MAX_DEVICES];
    uint64_t next_conn_id;
    uint64_t cm_rejects, cm_errors;
    struct rdma_pg *pg[TERN_MAX_LCORES];
};

static struct rdma_transport *
rt_of(const struct tern_nvmf_transport *t)
{
    return (struct rdma_transport *)(uintptr_t)t;
}

static struct rdma_conn *
conn_of_qp(struct rdma_qp *qp)
{
    return (struct rdma_conn *)qp;
}

static void
peer_name(struct rdma_cm_id *id, char *buf, size_t len)
{
    struct tern_nvmf_trid t;

    tern_nvmf_trid_from_sockaddr(&t, TERN_NVMF_TRTYPE_RDMA, rdma_get_peer_addr(id));
    snprintf(buf, len, "%s:%s", t.traddr[0] ? t.traddr : "?", t.trsvcid[0] ? t.trsvcid : "?");
}

/* ============ the engine's verbs boundary (on the connection's lcore) ============ */
static int
v_post_recv(struct rdma_qp *qp, struct rdma_recv *rv)
{
    struct rdma_conn *c = conn_of_qp(qp);
    struct ibv_sge sge = {.addr = rv->sge.addr, .length = rv->sge.length, .lkey = rv->sge.lkey};
    struct ibv_recv_wr wr = {.wr_id = (uintptr_t)rv, .sg_list = &sge, .num_sge = 1}, *bad;
    int rc = ibv_post_recv(c->qp, &wr, &bad);

    if (rc != 0)
        TERN_LOG(g_log, ERR, "qpair from %s: ibv_post_recv: %s", c->peer, strerror(rc));
    return -rc;
}

/* Post a receive buffer to the SRQ (it is free: no connection holds it). */
static void
srq_post(struct pg_cq *q, struct rdma_recv *rv, const char *dev)
{
    struct ibv_sge sge = {.addr = rv->sge.addr, .length = rv->sge.length, .lkey = rv->sge.lkey};
    struct ibv_recv_wr wr = {.wr_id = (uintptr_t)rv, .sg_list = &sge, .num_sge = 1}, *bad;
    int rc = ibv_post_srq_recv(q->srq, &wr, &bad);

    if (rc != 0) {
        /* The SRQ is one buffer short from now on (its device is failing). */
        if (q->srq_post_errors++ == 0)
            TERN_LOG(g_log, ERR, "%s: ibv_post_srq_recv: %s", dev, strerror(rc));
        return;
    }
    rv->posted = true;
    q->srq_posted++;
}

static void
v_srq_return(struct rdma_qp *qp, struct rdma_recv *rv)
{
    struct rdma_conn *c = conn_of_qp(qp);

    rv->qp = NULL;
    srq_post(&c->pg->cq[c->dev], rv, c->peer);
}

static int
v_post_send(struct rdma_qp *qp, struct rdma_wr *first, uint32_t *posted)
{
    struct rdma_conn *c = conn_of_qp(qp);
    struct ibv_send_wr wrs[RDMA_MAX_WRS + 1], *bad = NULL;
    struct ibv_sge sges[RDMA_MAX_WRS + 1][RDMA_WR_MAX_SGE];
    struct rdma_wr *w;
    uint32_t n = 0, k;
    int rc;

    for (w = first; w != NULL && n < RDMA_MAX_WRS + 1; w = w->next, n++) {
        struct ibv_send_wr *x = &wrs[n];

        memset(x, 0, sizeof(*x));
        x->wr_id = (uintptr_t)w;
        x->sg_list = sges[n];
        x->num_sge = w->nsge;
        x->send_flags = IBV_SEND_SIGNALED;
        for (k = 0; k < w->nsge; k++) {
            sges[n][k].addr = w->sge[k].addr;
            sges[n][k].length = w->sge[k].length;
            sges[n][k].lkey = w->sge[k].lkey;
        }
        switch (w->op) {
        case RDMA_WR_SEND:
            if (w->invalidate) {
                x->opcode = IBV_WR_SEND_WITH_INV;
                x->invalidate_rkey = w->rkey;
            } else {
                x->opcode = IBV_WR_SEND;
            }
            break;
        case RDMA_WR_READ:
            x->opcode = IBV_WR_RDMA_READ;
            x->wr.rdma.remote_addr = w->raddr;
            x->wr.rdma.rkey = w->rkey;
            break;
        default:
            x->opcode = IBV_WR_RDMA_WRITE;
            x->wr.rdma.remote_addr = w->raddr;
            x->wr.rdma.rkey = w->rkey;
            break;
        }
        x->next = w->next != NULL ? &wrs[n + 1] : NULL;
    }
    rc = ibv_post_send(c->qp, wrs, &bad);
    if (rc == 0) {
        *posted = n;
        return 0;
    }
    *posted = bad != NULL ? (uint32_t)(bad - wrs) : 0;
    TERN_LOG(g_log, ERR, "qpair from %s: ibv_post_send: %s (%u of %u posted)", c->peer,
             strerror(rc), *posted, n);
    return -rc;
}

static int
v_get_bufs(struct rdma_qp *qp, void **bufs, uint32_t n, uint32_t *lkey)
{
    struct rdma_conn *c = conn_of_qp(qp);
    struct rdma_transport *rt = c->pg->rt;
    uint32_t got = tern_ring_dequeue_burst(rt->buf_ring, bufs, n);

    if (got < n) {
        if (got)
            tern_ring_enqueue_burst(rt->buf_ring, bufs, got);
        return -ENOMEM;
    }
    *lkey = rt->dev[c->dev].buf_mr->lkey;
    return 0;
}

static void
v_put_bufs(struct rdma_qp *qp, void **bufs, uint32_t n)
{
    tern_ring_enqueue_burst(conn_of_qp(qp)->pg->rt->buf_ring, bufs, n);
}

static int
v_get_wrs(struct rdma_qp *qp, struct rdma_wr **wrs, uint32_t n)
{
    return tern_mempool_get_bulk(conn_of_qp(qp)->pg->rt->wr_pool, (void **)wrs, n);
}

static void
v_put_wr(struct rdma_qp *qp, struct rdma_wr *wr)
{
    tern_mempool_put(conn_of_qp(qp)->pg->rt->wr_pool, wr);
}

static void
v_disconnect(struct rdma_qp *qp)
{
    struct rdma_conn *c = conn_of_qp(qp);
    struct ibv_qp_attr attr = {.qp_state = IBV_QPS_ERR};

    if (c->disconnected)
        return;
    c->disconnected = true;
    /* Error state first: every posted WR comes back as a flush even if the
     * peer never answers the disconnect. */
    if (c->qp != NULL)
        ibv_modify_qp(c->qp, &attr, IBV_QP_STATE);
    rdma_disconnect(c->cm_id);
}

static void
v_drained(struct rdma_qp *qp)
{
    (void)qp;       /* reaped at the end of the poll, outside the engine */
}

static const struct rdma_qp_ops g_verbs_ops = {
    .post_recv = v_post_recv,
    .srq_return = v_srq_return,
    .post_send = v_post_send,
    .get_bufs = v_get_bufs,
    .put_bufs = v_put_bufs,
    .get_wrs = v_get_wrs,
    .put_wr = v_put_wr,
    .disconnect = v_disconnect,
    .drained = v_drained,
};

/* ============ connections (their lcore) ============ */
static void cm_conn_gone(void *a1, void *a2);

static struct rdma_conn *
pg_find(struct rdma_pg *pg, uint64_t id)
{
    struct rdma_conn *c;

    TAILQ_FOREACH(c, &pg->conns, link)
        if (c->id == id)
            return c;
    return NULL;
}

static struct rdma_conn **
qpn_slot(struct rdma_pg *pg, uint32_t dev, uint32_t qpn)
{
    struct rdma_conn **pc = &pg->qpn[(qpn ^ dev * 0x9e37u) % QPN_BUCKETS];

    while (*pc != NULL && ((*pc)->qpn != qpn || (*pc)->dev != dev))
        pc = &(*pc)->qpn_next;
    return pc;
}

static void
conn_free_mem(struct rdma_conn *c)
{
    if (c->qpn_linked) {
        struct rdma_conn **pc = qpn_slot(c->pg, c->dev, c->qpn);

        if (*pc == c)
            *pc = c->qpn_next;
        c->qpn_linked = false;
    }
    if (c->qp != NULL)
        rdma_destroy_qp(c->cm_id);
    c->qp = NULL;
    if (c->mr != NULL)
        ibv_dereg_mr(c->mr);
    c->mr = NULL;
    tern_env_free(c->mem);
    tern_env_free(c->reqs);
    tern_env_free(c->recvs);
    c->mem = NULL;
    c->reqs = NULL;
    c->recvs = NULL;
}

static void
qp_stats_add(struct rdma_qp_stats *to, const struct rdma_qp_stats *from)
{
    to->capsules += from->capsules;
    to->reads_posted += from->reads_posted;
    to->writes_posted += from->writes_posted;
    to->sends_posted += from->sends_posted;
    to->buf_waits += from->buf_waits;
    to->wr_waits += from->wr_waits;
    to->sq_waits += from->sq_waits;
    to->rd_waits += from->rd_waits;
    to->protocol_errors += from->protocol_errors;
    if (from->pending_max > to->pending_max)
        to->pending_max = from->pending_max;
}

/* Everything is back: free the connection and tell the main lcore. */
static void
conn_reap(struct rdma_conn *c)
{
    struct rdma_pg *pg = c->pg;
    uint64_t id = c->id;

    TAILQ_REMOVE(&pg->conns, c, link);
    pg->nconns--;
    pg->closed++;
    pg->cq[c->dev].cqe_used -= c->cq_share;
    qp_stats_add(&pg->cq[c->dev].closed, &c->eng.st);
    TERN_LOG(g_log, INFO, "qpair %u from %s closed (%s)", c->eng.nq.qid, c->peer,
             c->eng.why[0] ? c->eng.why : "closed");
    tern_nvmf_qpair_fini(&c->eng.nq);
    conn_free_mem(c);
    tern_env_free(c);
    if (tern_reactor_send_msg(tern_env_main_lcore(), cm_conn_gone, pg->rt,
                              (void *)(uintptr_t)id) != 0)
        TERN_LOG(g_log, ERR, "cannot tell the main lcore that connection %lu is gone",
                 (unsigned long)id);
}

static void
rdma_req_complete(struct tern_nvmf_request *req)
{
    rdma_qp_req_complete(req);
}

static void
rdma_qpair_disconnect(struct tern_nvmf_qpair *nq)
{
    rdma_qp_fail((struct rdma_qp *)nq, false, "closed by the target");
}

/* A CM or async event for a connection, forwarded from the main lcore. */
struct conn_event {
    struct rdma_transport *rt;
    uint64_t conn_id;
    bool error;
    char why[160];
};

static void
conn_event_on_lcore(void *a1, void *a2)
{
    struct conn_event *ev = a1;
    struct rdma_pg *pg = ev->rt->pg[tern_env_lcore_id()];
    struct rdma_conn *c = pg != NULL ? pg_find(pg, ev->conn_id) : NULL;
    (void)a2;

    if (c != NULL) {
        if (ev->error)
            TERN_LOG(g_log, ERR, "qpair %u from %s: %s", c->eng.nq.qid, c->peer, ev->why);
        rdma_qp_fail(&c->eng, ev->error, ev->why);
    }
    free(ev);
}

/* Destroy what a pg_cq has of an SRQ (no QP uses it any more): the SRQ,
 * its buffers' registration and memory. Errors are logged: `what` names the
 * occasion. */
static void
pg_srq_free(struct rdma_pg *pg, struct pg_cq *q, const char *what)
{
    int rc;

    if (q->srq != NULL && (rc = ibv_destroy_srq(q->srq)) != 0)
        TERN_LOG(g_log, ERR, "lcore %u: destroying the SRQ %s: %s", pg->lcore, what, strerror(rc));
    if (q->srq_mr != NULL && (rc = ibv_dereg_mr(q->srq_mr)) != 0)
        TERN_LOG(g_log, ERR, "lcore %u: deregistering the SRQ buffers %s: %s", pg->lcore, what,
                 strerror(rc));
    tern_env_free(q->srq_mem);
    tern_env_free(q->srq_recvs);
    q->srq = NULL;
    q->srq_mr = NULL;
    q->srq_mem = NULL;
    q->srq_recvs = NULL;
}

/* Destroy the SRQ and the CQ of a pg_cq, on its lcore (errors logged). */
static void
pg_cq_destroy(struct rdma_pg *pg, struct pg_cq *q, const char *what)
{
    int rc;

    pg_srq_free(pg, q, what);
    if (q->cq != NULL && (rc = ibv_destroy_cq(q->cq)) != 0)
        TERN_LOG(g_log, ERR, "lcore %u: destroying the CQ %s: %s", pg->lcore, what, strerror(rc));
    q->cq = NULL;
}

/* The SRQ of a new pg_cq: max_srq_depth receive buffers (capped by the
 * device), all posted. On failure the lcore's connections on the device
 * post their own receives (logged). */
static void
pg_srq_create(struct rdma_pg *pg, struct pg_cq *q, struct rdma_device *d)
{
    struct rdma_transport *rt = pg->rt;
    uint32_t rsize = TERN_RDMA_CMD_CAPSULE_MIN + rt->base.opts.in_capsule_data_size, i;
    uint32_t depth = rt->p.max_srq_depth;
    int socket = tern_env_lcore_socket(pg->lcore);
    struct ibv_srq_init_attr sa;

    if (rt->p.no_srq)
        return;
    if (d->attr.max_srq == 0 || d->attr.max_srq_wr == 0) {
        TERN_LOG(g_log, NOTICE, "lcore %u: %s has no shared receive queues: each qpair posts its "
                 "own receives", pg->lcore, d->name);
        return;
    }
    if (depth > (uint32_t)d->attr.max_srq_wr)
        depth = (uint32_t)d->attr.max_srq_wr;
    if (depth > (uint32_t)q->cqe / 2)
        depth = (uint32_t)q->cqe / 2;   /* leave the CQ room for the send queues */
    memset(&sa, 0, sizeof(sa));
    sa.attr.max_wr = depth;
    sa.attr.max_sge = 1;
    q->srq_recvs = tern_env_zmalloc("rdma_srq_recvs", sizeof(*q->srq_recvs) * depth, 64, socket);
    q->srq_mem = tern_env_zmalloc("rdma_srq_capsules", (size_t)depth * rsize, 64, socket);
    if (q->srq_recvs == NULL || q->srq_mem == NULL) {
        TERN_LOG(g_log, WARNING, "lcore %u: no memory for an SRQ of %u capsules of %u bytes on "
                 "%s (%.1f MiB): each qpair posts its own receives; lower max_srq_depth or "
                 "in_capsule_data_size", pg->lcore, depth, rsize, d->name,
                 (double)depth * rsize / (1024.0 * 1024.0));
        pg_srq_free(pg, q, "that could not be made");
        return;
    }
    q->srq_mr = ibv_reg_mr(d->pd, q->srq_mem, (size_t)depth * rsize, IBV_ACCESS_LOCAL_WRITE);
    q->srq = q->srq_mr != NULL ? ibv_create_srq(d->pd, &sa) : NULL;
    if (q->srq == NULL) {
        TERN_LOG(g_log, WARNING, "lcore %u: cannot make an SRQ of %u receives on %s: %s; each "
                 "qpair posts its own receives", pg->lcore, depth, d->name, strerror(errno));
        pg_srq_free(pg, q, "that could not be made");
        return;
    }
    q->srq_depth = depth;
    for (i = 0; i < depth; i++) {
        struct rdma_recv *rv = &q->srq_recvs[i];

        rv->op = RDMA_WR_RECV;
        rv->sge.addr = (uint64_t)(uintptr_t)(q->srq_mem + (size_t)i * rsize);
        rv->sge.length = rsize;
        rv->sge.lkey = q->srq_mr->lkey;
        srq_post(q, rv, d->name);
    }
    q->cqe_used += (int)depth;
    TERN_LOG(g_log, INFO, "lcore %u: SRQ of %u receives of %u bytes on %s (%u posted)", pg->lcore,
             depth, rsize, d->name, q->srq_posted);
}

/* The CQ (and SRQ) of device `dev` on this lcore, created on first use;
 * `need`: the CQ entries of a new connection's send queue, `need_rq` of
 * its receive queue if it has its own. */
static struct pg_cq *
pg_cq_get(struct rdma_pg *pg, uint32_t dev, int need, int need_rq)
{
    struct rdma_transport *rt = pg->rt;
    struct rdma_device *d = &rt->dev[dev];
    struct pg_cq *q = &pg->cq[dev];

    if (q->cq != NULL && q->dev_gen != d->gen) {
        /* A stale CQ of a device that went away: none of its QPs is left
         * (they are reaped before the device slot is reused). */
        pg_cq_destroy(pg, q, "of a device that went away");
    }
    if (q->cq == NULL) {
        int cqe = (int)rt->p.num_cqe;

        if (cqe > d->attr.max_cqe)
            cqe = d->attr.max_cqe;
        memset(q, 0, sizeof(*q));
        q->cq = ibv_create_cq(d->ctx, cqe, NULL, NULL, 0);
        if (q->cq == NULL) {
            TERN_LOG(g_log, ERR, "lcore %u: cannot create a CQ of %d entries on %s: %s",
                     pg->lcore, cqe, d->name, strerror(errno));
            return NULL;
        }
        q->cqe = q->cq->cqe;
        q->dev_gen = d->gen;
        TERN_LOG(g_log, INFO, "lcore %u: CQ of %d entries on %s", pg->lcore, q->cqe, d->name);
        pg_srq_create(pg, q, d);
    }
    if (q->srq == NULL)
        need += need_rq;
    if (q->cqe_used + need > q->cqe) {
        TERN_LOG(g_log, ERR, "lcore %u: the CQ on %s is full (%d of %d entries in use, a new "
                 "qpair needs %d): raise num_cqe", pg->lcore, d->name, q->cqe_used, q->cqe, need);
        return NULL;
    }
    return q;
}

struct new_conn {
    struct rdma_transport *rt;
    struct rdma_cm_id *id;
    uint32_t dev;
    uint64_t conn_id;
    uint16_t depth;         /* commands the host may have outstanding */
    uint8_t rd_depth;
    struct tern_nvmf_trid local, peer;
    char peer_s[PEER_LEN];
};

static void cm_setup_failed(void *a1, void *a2);

static void
conn_setup_on_lcore(void *a1, void *a2)
{
    struct new_conn *nc = a1;
    struct rdma_transport *rt = nc->rt;
    struct rdma_pg *pg = rt->pg[tern_env_lcore_id()];
    struct rdma_device *d = &rt->dev[nc->dev];
    const struct tern_nvmf_transport_opts *o = &rt->base.opts;
    struct rdma_conn *c = NULL;
    struct pg_cq *q;
    struct ibv_qp_init_attr qa;
    struct rdma_conn_param cp;
    struct tern_rdma_cm_rep rep;
    struct rdma_qp_limits lim;
    uint32_t rsize = TERN_RDMA_CMD_CAPSULE_MIN + o->in_capsule_data_size, i, sq, max_sge;
    int socket = tern_env_lcore_socket(tern_env_lcore_id());
    (void)a2;

    if (pg == NULL || d->removed || !tern_nvmf_accepting())
        goto fail;
    sq = (uint32_t)nc->depth * 3;
    if (sq > (uint32_t)d->attr.max_qp_wr)
        sq = (uint32_t)d->attr.max_qp_wr;
    q = pg_cq_get(pg, nc->dev, (int)sq, (int)nc->depth);
    if (q == NULL)
        goto fail;
    c = tern_env_zmalloc("rdma_conn", sizeof(*c), 64, socket);
    if (c == NULL)
        goto fail;
    c->pg = pg;
    c->id = nc->conn_id;
    c->dev = nc->dev;
    c->cm_id = nc->id;
    c->depth = nc->depth;
    snprintf(c->peer, sizeof(c->peer), "%s", nc->peer_s);
    if (q->srq != NULL)
        rsize = 0;      /* its capsules come from the SRQ */
    c->reqs = tern_env_zmalloc("rdma_reqs", sizeof(*c->reqs) * c->depth, 64, socket);
    c->recvs = rsize ? tern_env_zmalloc("rdma_recvs", sizeof(*c->recvs) * c->depth, 64, socket)
                     : NULL;
    c->mem = tern_env_zmalloc("rdma_capsules", (size_t)c->depth * (rsize + TERN_RDMA_RSP_CAPSULE),
                              64, socket);
    if (c->reqs == NULL || (rsize && c->recvs == NULL) || c->mem == NULL) {
        TERN_LOG(g_log, ERR, "no memory for a qpair of depth %u from %s", c->depth, c->peer);
        goto fail;
    }
    c->mr = ibv_reg_mr(d->pd, c->mem, (size_t)c->depth * (rsize + TERN_RDMA_RSP_CAPSULE),
                       IBV_ACCESS_LOCAL_WRITE);
    if (c->mr == NULL) {
        TERN_LOG(g_log, ERR, "cannot register the capsule buffers of a qpair from %s on %s: %s",
                 c->peer, d->name, strerror(errno));
        goto fail;
    }
    max_sge = (uint32_t)d->attr.max_sge < RDMA_WR_MAX_SGE ? (uint32_t)d->attr.max_sge
                                                           : RDMA_WR_MAX_SGE;
    memset(&qa, 0, sizeof(qa));
    qa.qp_context = c;
    qa.send_cq = q->cq;
    qa.recv_cq = q->cq;
    qa.qp_type = IBV_QPT_RC;
    qa.cap.max_send_wr = sq;
    qa.cap.max_send_sge = max_sge;
    if (q->srq != NULL) {
        qa.srq = q->srq;
    } else {
        qa.cap.max_recv_wr = c->depth;
        qa.cap.max_recv_sge = 1;
    }
    if (rdma_create_qp(c->cm_id, d->pd, &qa) != 0) {
        TERN_LOG(g_log, ERR, "cannot create a QP (%u send, %u receive WRs%s) for %s on %s: %s",
                 sq, q->srq != NULL ? 0 : c->depth, q->srq != NULL ? ", on the SRQ" : "", c->peer,
                 d->name, strerror(errno));
        goto fail;
    }
    c->qp = c->cm_id->qp;
    c->cq_share = (int)sq + (q->srq != NULL ? 0 : (int)c->depth);
    q->cqe_used += c->cq_share;
    if (q->srq != NULL) {
        /* A QP number is unique among the device's live QPs, and a gone
         * connection left the table before its QP was destroyed. */
        struct rdma_conn **pc = qpn_slot(pg, c->dev, c->qp->qp_num);

        c->qpn = c->qp->qp_num;
        c->qpn_next = NULL;
        c->qpn_linked = true;
        *pc = c;
    }
    for (i = 0; i < c->depth; i++) {
        if (c->recvs != NULL) {
            c->recvs[i].sge.addr = (uint64_t)(uintptr_t)(c->mem + (size_t)i * rsize);
            c->recvs[i].sge.length = rsize;
            c->recvs[i].sge.lkey = c->mr->lkey;
        }
        c->reqs[i].rsp = (struct tern_nvme_cpl *)(c->mem + (size_t)c->depth * rsize +
                                                  (size_t)i * TERN_RDMA_RSP_CAPSULE);
        c->reqs[i].rsp_lkey = c->mr->lkey;
    }
    lim.io_unit_size = o->io_unit_size;
    lim.max_io_size = o->max_io_size;
    lim.sq_depth = qa.cap.max_send_wr;
    lim.rd_depth = nc->rd_depth;
    lim.max_sge = qa.cap.max_send_sge;
    rdma_qp_init(&c->eng, &g_verbs_ops, &lim, c->reqs, c->depth, c->recvs, c->depth);
    c->eng.nq.transport = &rt->base;
    c->eng.nq.local = nc->local;
    c->eng.nq.peer = nc->peer;
    TAILQ_INSERT_TAIL(&pg->conns, c, link);
    pg->nconns++;
    tern_nvmf_qpair_init(&c->eng.nq);
    if (rdma_qp_start(&c->eng) != 0)
        goto fail_registered;
    memset(&rep, 0, sizeof(rep));
    rep.recfmt = TERN_RDMA_CM_RECFMT;
    rep.crqsize = c->depth;
    memset(&cp, 0, sizeof(cp));
    cp.private_data = &rep;
    cp.private_data_len = sizeof(rep);
    cp.initiator_depth = nc->rd_depth;
    cp.responder_resources = 0;
    cp.rnr_retry_count = 7;
    cp.flow_control = 1;
    if (rdma_accept(c->cm_id, &cp) != 0) {
        TERN_LOG(g_log, ERR, "rdma_accept for %s failed: %s", c->peer, strerror(errno));
        goto fail_registered;
    }
    pg->accepted++;
    TERN_LOG(g_log, INFO, "qpair from %s on %s, lcore %u: depth %u, read depth %u, %u send WRs, "
             "%u SGEs", c->peer, d->name, pg->lcore, c->depth, nc->rd_depth, lim.sq_depth,
             lim.max_sge);
    free(nc);
    return;
fail_registered:
    /* Registered with the core and the lcore: the ordinary teardown. */
    rdma_qp_fail(&c->eng, true, "set-up failed");
    free(nc);
    return;
fail:
    if (c != NULL) {
        conn_free_mem(c);
        tern_env_free(c);
    }
    if (tern_reactor_send_msg(tern_env_main_lcore(), cm_setup_failed, rt, nc) != 0)
        free(nc);   /* the id stays until the transport is destroyed */
}

/* ============ per-lcore poller ============ */
static const char *
op_name(const void *wr_id)
{
    switch (*(const uint8_t *)wr_id) {
    case RDMA_WR_RECV: return "RECV";
    case RDMA_WR_SEND: return "SEND";
    case RDMA_WR_READ: return "RDMA_READ";
    default: return "RDMA_WRITE";
    }
}

static struct rdma_conn *
conn_of_wr(void *wr_id)
{
    if (*(uint8_t *)wr_id == RDMA_WR_RECV)
        return conn_of_qp(((struct rdma_recv *)wr_id)->qp);
    return conn_of_qp(((struct rdma_wr *)wr_id)->req->qp);
}

static int
pg_poll(void *arg)
{
    struct rdma_pg *pg = arg;
    struct ibv_wc wc[CQ_BATCH];
    struct rdma_conn *c, *tmp;
    uint32_t d;
    int n, i, busy = 0;

    for (d = 0; d < MAX_DEVICES; d++) {
        struct pg_cq *q = &pg->cq[d];

        if (q->cq == NULL)
            continue;
        q->polls++;
        n = ibv_poll_cq(q->cq, CQ_BATCH, wc);
        if (n <= 0)
            continue;
        busy = 1;
        q->completions += (uint64_t)n;
        for (i = 0; i < n; i++) {
            void *wr_id = (void *)(uintptr_t)wc[i].wr_id;

            if (*(uint8_t *)wr_id == RDMA_WR_RECV && ((struct rdma_recv *)wr_id)->qp == NULL) {
                /* A receive of the SRQ: its QP number names the connection. */
                struct rdma_recv *rv = wr_id;

                q->srq_posted--;
                c = *qpn_slot(pg, d, wc[i].qp_num);
                if (c == NULL) {
                    /* Its connection is gone (a receive flushed after the
                     * QP was destroyed): the buffer goes back. */
                    q->srq_strays++;
                    if (wc[i].status <= IBV_WC_GENERAL_ERR)
                        q->wc_errors[wc[i].status]++;
                    rv->posted = false;
                    srq_post(q, rv, pg->rt->dev[d].name);
                    continue;
                }
                rv->qp = &c->eng;
            }
            c = conn_of_wr(wr_id);
            if (wc[i].status != IBV_WC_SUCCESS) {
                if (wc[i].status <= IBV_WC_GENERAL_ERR)
                    q->wc_errors[wc[i].status]++;
                if (!c->eng.error) {
                    char why[160];

                    snprintf(why, sizeof(why), "work completion error on %s: %s (status %d, "
                             "vendor error 0x%x)", op_name(wr_id), ibv_wc_status_str(wc[i].status),
                             wc[i].status, wc[i].vendor_err);
                    if (wc[i].status == IBV_WC_WR_FLUSH_ERR)
                        TERN_LOG(g_log, INFO, "qpair %u from %s: %s", c->eng.nq.qid, c->peer,
                                 why);
                    else
                        TERN_LOG(g_log, ERR, "qpair %u from %s: %s", c->eng.nq.qid, c->peer,
                                 why);
                    rdma_qp_fail(&c->eng, wc[i].status != IBV_WC_WR_FLUSH_ERR || !c->disconnected,
                                 why);
                }
            }
            rdma_qp_wc(&c->eng, wr_id, wc[i].status == IBV_WC_SUCCESS, wc[i].byte_len);
        }
    }
    /* Every pending queue of every qpair, busy or idle; then the dead. */
    TAILQ_FOREACH_SAFE(c, &pg->conns, link, tmp) {
        if (rdma_qp_drain(&c->eng))
            busy = 1;
        if (c->eng.drained) {
            conn_reap(c);
            busy = 1;
        }
    }
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

static int
rdma_lcore_init(struct tern_nvmf_transport *t)
{
    struct rdma_transport *rt = rt_of(t);
    uint32_t lcore = tern_env_lcore_id();
    struct rdma_pg *pg = calloc(1, sizeof(*pg));

    if (pg == NULL)
        return -ENOMEM;
    pg->rt = rt;
    pg->lcore = lcore;
    TAILQ_INIT(&pg->conns);
    pg->poller = tern_poller_register(pg_poll, pg, 0, "nvmf_rdma");
    if (pg->poller == NULL) {
        free(pg);
        return -ENOMEM;
    }
    rt->pg[lcore] = pg;
    return 0;
}

static void
rdma_lcore_fini(struct tern_nvmf_transport *t)
{
    struct rdma_transport *rt = rt_of(t);
    uint32_t lcore = tern_env_lcore_id(), d;
    struct rdma_pg *pg = lcore < TERN_MAX_LCORES ? rt->pg[lcore] : NULL;
    struct rdma_conn *c, *tmp;
    uint64_t deadline;

    if (pg == NULL)
        return;
    TAILQ_FOREACH(c, &pg->conns, link)
        rdma_qp_fail(&c->eng, false, "target shutting down");
    /* Collect the flushes for a while; what is still out after that (the
     * core holds it) is forgotten, as TCP does at shutdown. */
    deadline = tern_env_ticks() + tern_env_ticks_hz() * FINI_DRAIN_MS / 1000;
    while (!TAILQ_EMPTY(&pg->conns) && tern_env_ticks() < deadline)
        pg_poll(pg);
    TAILQ_FOREACH_SAFE(c, &pg->conns, link, tmp) {
        TAILQ_REMOVE(&pg->conns, c, link);
        conn_free_mem(c);
        tern_env_free(c);
    }
    for (d = 0; d < MAX_DEVICES; d++)
        if (pg->cq[d].cq != NULL)
            pg_cq_destroy(pg, &pg->cq[d], "at shutdown");
    tern_poller_unregister(&pg->poller);
    rt->pg[lcore] = NULL;
    free(pg);
}

/* ============ devices and CM events (main lcore) ============ */
static uint32_t
device_get(struct rdma_transport *rt, struct ibv_context *ctx)
{
    struct tern_nvmf_transport_opts *o = &rt->base.opts;
    uint32_t i, free_slot = MAX_DEVICES;
    struct rdma_device *d;
    int fl;

    for (i = 0; i < MAX_DEVICES; i++) {
        if (rt->dev[i].used && !rt->dev[i].removed && rt->dev[i].ctx == ctx)
            return i;
        if (!rt->dev[i].used && free_slot == MAX_DEVICES)
            free_slot = i;
    }
    if (free_slot == MAX_DEVICES) {
        TERN_LOG(g_log, ERR, "more than %d RDMA devices in use", MAX_DEVICES);
        return MAX_DEVICES;
    }
    d = &rt->dev[free_slot];
    memset(&d->attr, 0, sizeof(d->attr));
    snprintf(d->name, sizeof(d->name), "%s", ibv_get_device_name(ctx->device));
    if (ibv_query_device(ctx, &d->attr) != 0) {
        TERN_LOG(g_log, ERR, "cannot query RDMA device %s: %s", d->name, strerror(errno));
        return MAX_DEVICES;
    }
    d->pd = ibv_alloc_pd(ctx);
    if (d->pd == NULL) {
        TERN_LOG(g_log, ERR, "cannot allocate a protection domain on %s: %s", d->name,
                 strerror(errno));
        return MAX_DEVICES;
    }
    d->buf_mr = ibv_reg_mr(d->pd, rt->buf_mem, rt->buf_len, IBV_ACCESS_LOCAL_WRITE);
    if (d->buf_mr == NULL) {
        TERN_LOG(g_log, ERR, "cannot register %zu bytes of data buffers on %s: %s", rt->buf_len,
                 d->name, strerror(errno));
        ibv_dealloc_pd(d->pd);
        return MAX_DEVICES;
    }
    /* Async events are polled by the main lcore: never block on them. */
    fl = fcntl(ctx->async_fd, F_GETFL);
    if (fl < 0 || fcntl(ctx->async_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        TERN_LOG(g_log, ERR, "cannot make the async event fd of %s non-blocking: %s", d->name,
                 strerror(errno));
        ibv_dereg_mr(d->buf_mr);
        ibv_dealloc_pd(d->pd);
        return MAX_DEVICES;
    }
    d->ctx = ctx;
    d->used = true;
    d->removed = false;
    d->releasing = false;
    d->gen++;
    d->nconns = 0;
    TERN_LOG(g_log, NOTICE, "RDMA device %s: max_qp_wr %d, max_sge %d, max_cqe %d, "
             "max_qp_init_rd_atom %d; %u data buffers of %u bytes registered", d->name,
             d->attr.max_qp_wr, d->attr.max_sge, d->attr.max_cqe, d->attr.max_qp_init_rd_atom,
             o->num_shared_buffers, o->io_unit_size);
    return free_slot;
}

static const char *
cm_status_str(int status)
{
    static __thread char buf[48];

    if (status < 0)
        return strerror(-status);
    snprintf(buf, sizeof(buf), "status %d", status);
    return buf;
}

static void
cm_reject(struct rdma_transport *rt, struct rdma_cm_id *id, uint16_t sts, const char *why)
{
    struct tern_rdma_cm_rej rej = {.recfmt = TERN_RDMA_CM_RECFMT, .sts = sts};
    char peer[PEER_LEN];

    peer_name(id, peer, sizeof(peer));
    rt->cm_rejects++;
    TERN_LOG(g_log, ERR, "connection from %s rejected: %s", peer, why);
    rdma_reject(id, &rej, sizeof(rej));
}

static struct cm_handle *
handle_of(struct rdma_cm_id *id)
{
    return id->context;
}

static void
handle_free(struct rdma_transport *rt, struct cm_handle *h)
{
    TAILQ_REMOVE(&rt->handles, h, link);
    if (h->dev < MAX_DEVICES && rt->dev[h->dev].nconns > 0)
        rt->dev[h->dev].nconns--;
    if (h->id != NULL)
        rdma_destroy_id(h->id);
    free(h);
}

static struct cm_handle *
handle_by_conn(struct rdma_transport *rt, uint64_t conn_id)
{
    struct cm_handle *h;

    TAILQ_FOREACH(h, &rt->handles, link)
        if (h->conn_id == conn_id)
            return h;
    return NULL;
}

/* From a connection's lcore: it is gone; its cm id can go. */
static void
cm_conn_gone(void *a1, void *a2)
{
    struct rdma_transport *rt = a1;
    struct cm_handle *h = handle_by_conn(rt, (uint64_t)(uintptr_t)a2);

    if (h != NULL)
        handle_free(rt, h);
}

static void
cm_setup_failed(void *a1, void *a2)
{
    struct rdma_transport *rt = a1;
    struct new_conn *nc = a2;
    struct cm_handle *h = handle_by_conn(rt, nc->conn_id);

    if (h != NULL) {
        cm_reject(rt, h->id, TERN_RDMA_CM_NO_RESOURCES, "no resources for the qpair (see above)");
        handle_free(rt, h);
    }
    free(nc);
}

static void
cm_connect_request(struct rdma_transport *rt, struct rdma_cm_event *ev)
{
    const struct tern_nvmf_transport_opts *o = &rt->base.opts;
    struct rdma_cm_id *id = ev->id;
    const struct tern_rdma_cm_req *req = ev->param.conn.private_data;
    struct cm_handle *h;
    struct new_conn *nc;
    uint32_t dev, lcore, max;
    uint16_t depth;
    char why[128];

    if (!tern_nvmf_accepting()) {
        cm_reject(rt, id, TERN_RDMA_CM_NO_RESOURCES, "the target is shutting down");
        rdma_destroy_id(id);
        return;
    }
    if (req == NULL || ev->param.conn.private_data_len < sizeof(*req)) {
        snprintf(why, sizeof(why), "private data of %u bytes, NVMe/RDMA needs %zu",
                 ev->param.conn.private_data_len, sizeof(*req));
        cm_reject(rt, id, TERN_RDMA_CM_INVALID_PRIVATE_DATA_LENGTH, why);
        rdma_destroy_id(id);
        return;
    }
    if (req->recfmt != TERN_RDMA_CM_RECFMT) {
        snprintf(why, sizeof(why), "record format %u, not %u", req->recfmt, TERN_RDMA_CM_RECFMT);
        cm_reject(rt, id, TERN_RDMA_CM_INVALID_RECFMT, why);
        rdma_destroy_id(id);
        return;
    }
    max = req->qid == 0 ? o->max_aq_depth : o->max_queue_depth;
    if ((uint32_t)req->hsqsize + 1 > max || req->hsqsize + 1 < TERN_NVMF_MIN_QUEUE_DEPTH) {
        snprintf(why, sizeof(why), "HSQSIZE %u for queue %u: the queue may hold %u..%u entries",
                 req->hsqsize, req->qid, TERN_NVMF_MIN_QUEUE_DEPTH, max);
        cm_reject(rt, id, TERN_RDMA_CM_INVALID_HSQSIZE, why);
        rdma_destroy_id(id);
        return;
    }
    if (req->hrqsize == 0) {
        cm_reject(rt, id, TERN_RDMA_CM_INVALID_HRQSIZE, "HRQSIZE 0");
        rdma_destroy_id(id);
        return;
    }
    if (ev->param.conn.initiator_depth == 0) {
        cm_reject(rt, id, TERN_RDMA_CM_INVALID_ORD,
                  "the host offers no RDMA READ responder resources");
        rdma_destroy_id(id);
        return;
    }
    dev = device_get(rt, id->verbs);
    if (dev == MAX_DEVICES) {
        cm_reject(rt, id, TERN_RDMA_CM_NO_RESOURCES, "the RDMA device cannot be used (see above)");
        rdma_destroy_id(id);
        return;
    }
    depth = (uint16_t)(req->hsqsize + 1);
    h = calloc(1, sizeof(*h));
    nc = calloc(1, sizeof(*nc));
    if (h == NULL || nc == NULL) {
        free(h);
        free(nc);
        cm_reject(rt, id, TERN_RDMA_CM_NO_RESOURCES, "no memory");
        rdma_destroy_id(id);
        return;
    }
    lcore = tern_nvmf_next_lcore();
    h->id = id;
    h->dev = dev;
    h->lcore = lcore;
    h->conn_id = ++rt->next_conn_id;
    peer_name(id, h->peer, sizeof(h->peer));
    id->context = h;
    TAILQ_INSERT_TAIL(&rt->handles, h, link);
    rt->dev[dev].nconns++;
    nc->rt = rt;
    nc->id = id;
    nc->dev = dev;
    nc->conn_id = h->conn_id;
    nc->depth = depth;
    nc->rd_depth = ev->param.conn.initiator_depth;
    if (nc->rd_depth > rt->dev[dev].attr.max_qp_init_rd_atom)
        nc->rd_depth = (uint8_t)rt->dev[dev].attr.max_qp_init_rd_atom;
    if (nc->rd_depth == 0)
        nc->rd_depth = 1;
    tern_nvmf_trid_from_sockaddr(&nc->local, TERN_NVMF_TRTYPE_RDMA, rdma_get_local_addr(id));
    tern_nvmf_trid_from_sockaddr(&nc->peer, TERN_NVMF_TRTYPE_RDMA, rdma_get_peer_addr(id));
    snprintf(nc->peer_s, sizeof(nc->peer_s), "%s", h->peer);
    if (tern_reactor_send_msg(lcore, conn_setup_on_lcore, nc, NULL) != 0) {
        cm_reject(rt, id, TERN_RDMA_CM_NO_RESOURCES, "cannot reach the qpair's lcore");
        free(nc);
        handle_free(rt, h);
    }
}

/* Forward an event to a connection's lcore (by id). */
static void __attribute__((format(printf, 4, 5)))
cm_forward(struct rdma_transport *rt, struct cm_handle *h, bool error, const char *fmt, ...)
{
    struct conn_event *ce = calloc(1, sizeof(*ce));
    va_list ap;

    if (ce == NULL)
        return;
    ce->rt = rt;
    ce->conn_id = h->conn_id;
    ce->error = error;
    va_start(ap, fmt);
    vsnprintf(ce->why, sizeof(ce->why), fmt, ap);
    va_end(ap);
    if (tern_reactor_send_msg(h->lcore, conn_event_on_lcore, ce, NULL) != 0)
        free(ce);
}

static struct rdma_listener *
listener_of(struct rdma_transport *rt, struct rdma_cm_id *id)
{
    struct rdma_listener *l;

    TAILQ_FOREACH(l, &rt->listeners, link)
        if (l->id == id)
            return l;
    return NULL;
}

static void listener_drop(struct rdma_transport *rt, struct rdma_listener *l, const char *why);

static void
device_removed(struct rdma_transport *rt, struct ibv_context *ctx, const char *why)
{
    struct rdma_listener *l;
    struct cm_handle *h;
    uint32_t i;

    for (i = 0; i < MAX_DEVICES; i++) {
        if (rt->dev[i].used && !rt->dev[i].removed && rt->dev[i].ctx == ctx) {
            rt->dev[i].removed = true;
            TERN_LOG(g_log, ERR, "RDMA device %s: %s; its qpairs are torn down, its listeners "
                     "retried", rt->dev[i].name, why);
        }
    }
    TAILQ_FOREACH(h, &rt->handles, link)
        if (h->id->verbs == ctx)
            cm_forward(rt, h, true, "%s", why);
    TAILQ_FOREACH(l, &rt->listeners, link)
        if (l->id != NULL && l->id->verbs == ctx)
            listener_drop(rt, l, why);
}

static void
cm_event(struct rdma_transport *rt, struct rdma_cm_event *ev)
{
    struct rdma_cm_id *id = ev->id;
    struct rdma_listener *l = listener_of(rt, ev->listen_id != NULL ? ev->listen_id : id);
    struct cm_handle *h = ev->event == RDMA_CM_EVENT_CONNECT_REQUEST ? NULL : handle_of(id);
    const char *name = rdma_event_str(ev->event);

    switch (ev->event) {
    case RDMA_CM_EVENT_CONNECT_REQUEST:
        cm_connect_request(rt, ev);
        return;
    case RDMA_CM_EVENT_DISCONNECTED:
        if (h != NULL)
            cm_forward(rt, h, false, "host disconnected (%s)", name);
        return;
    case RDMA_CM_EVENT_ESTABLISHED:
    case RDMA_CM_EVENT_TIMEWAIT_EXIT:
        return;     /* nothing to do: the qpair is set up at accept, freed by its lcore */
    case RDMA_CM_EVENT_REJECTED:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_CONNECT_ERROR:
        rt->cm_errors++;
        if (h != NULL) {
            TERN_LOG(g_log, ERR, "connection from %s failed: %s, %s", h->peer, name,
                     cm_status_str(ev->status));
            cm_forward(rt, h, true, "connection failed: %s", name);
        }
        return;
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
        /* The id's device is going: everything on it must be released
         * before the kernel can finish removing it. */
        if (h != NULL) {
            cm_forward(rt, h, true, "RDMA device removed (%s)", name);
        } else if (l != NULL) {
            device_removed(rt, id->verbs, "device removal");
        }
        return;
    case RDMA_CM_EVENT_ADDR_CHANGE:
        if (l != NULL) {
            TERN_LOG(g_log, WARNING, "listener %s port %s: %s (the address moved to another "
                     "device or went away): listening again", l->trid.traddr, l->trid.trsvcid,
                     name);
            listener_drop(rt, l, "address change");
        } else if (h != NULL) {
            cm_forward(rt, h, true, "the local address changed (%s)", name);
        }
        return;
    default:
        TERN_LOG(g_log, INFO, "RDMA CM event %s (%s)", name, cm_status_str(ev->status));
        return;
    }
}

static int listener_open(struct rdma_transport *rt, struct rdma_listener *l, char *why,
                         size_t why_len);

/* Async events of every device in use. */
static int
async_poll(struct rdma_transport *rt)
{
    int busy = 0;
    uint32_t i;

    for (i = 0; i < MAX_DEVICES; i++) {
        struct rdma_device *d = &rt->dev[i];
        struct ibv_async_event ae;

        if (!d->used || d->removed)
            continue;
        while (ibv_get_async_event(d->ctx, &ae) == 0) {
            busy = 1;
            switch (ae.event_type) {
            case IBV_EVENT_QP_FATAL:
            case IBV_EVENT_QP_REQ_ERR:
            case IBV_EVENT_QP_ACCESS_ERR: {
                struct rdma_conn *c = ae.element.qp->qp_context;
                struct cm_handle *h;

                /* qp_context is the connection's lcore memory: only its id
                 * is read here, while the QP (hence it) still exists. */
                h = c != NULL ? handle_by_conn(rt, c->id) : NULL;
                if (h != NULL)
                    cm_forward(rt, h, true, "async event %s",
                               ibv_event_type_str(ae.event_type));
                break;
            }
            case IBV_EVENT_DEVICE_FATAL:
                ibv_ack_async_event(&ae);
                device_removed(rt, d->ctx, "device fatal error (IBV_EVENT_DEVICE_FATAL)");
                continue;
            case IBV_EVENT_PORT_ERR:
                TERN_LOG(g_log, ERR, "RDMA device %s port %d: %s (link down): qpairs on it fail "
                         "when their transfers time out", d->name, ae.element.port_num,
                         ibv_event_type_str(ae.event_type));
                break;
            case IBV_EVENT_PORT_ACTIVE:
                TERN_LOG(g_log, NOTICE, "RDMA device %s port %d: %s", d->name,
                         ae.element.port_num, ibv_event_type_str(ae.event_type));
                break;
            case IBV_EVENT_QP_LAST_WQE_REACHED:
                /* A QP on an SRQ in the error state takes no more receives;
                 * a late one of a gone QP goes back to the SRQ (pg_poll). */
                break;
            case IBV_EVENT_SRQ_ERR:
                TERN_LOG(g_log, ERR, "RDMA device %s: %s: the qpairs on that shared receive "
                         "queue fail", d->name, ibv_event_type_str(ae.event_type));
                break;
            default:
                TERN_LOG(g_log, INFO, "RDMA device %s: async event %s", d->name,
                         ibv_event_type_str(ae.event_type));
                break;
            }
            ibv_ack_async_event(&ae);
        }
    }
    return busy;
}

/* ---- releasing a removed device (incident 5) ----
 * When the last qpair on a removed device is gone, the main lcore asks
 * every lcore to destroy its CQ of the device (named by slot and
 * generation: a CQ of a later device in the slot is left alone); when all
 * have answered it deregisters the buffers and frees the PD. The kernel can
 * then finish removing the device (librdmacm closes its context when the
 * last cm id on it is gone). */
struct cq_release {
    struct rdma_transport *rt;
    uint32_t dev, gen;
};

static void
cq_released_on_main(void *a1, void *a2)
{
    struct cq_release *m = a1;
    struct rdma_device *d = &m->rt->dev[m->dev];
    (void)a2;

    if (d->used && d->gen == m->gen && d->releasing && d->cq_waits > 0)
        d->cq_waits--;
    free(m);
}

static void
cq_release_on_lcore(void *a1, void *a2)
{
    struct cq_release *m = a1;
    struct rdma_pg *pg = m->rt->pg[tern_env_lcore_id()];
    (void)a2;

    if (pg != NULL && pg->cq[m->dev].cq != NULL && pg->cq[m->dev].dev_gen == m->gen) {
        struct pg_cq *q = &pg->cq[m->dev];

        if (q->cqe_used != (int)q->srq_depth)
            TERN_LOG(g_log, ERR, "lcore %u: the CQ of a removed device still has %d entries "
                     "reserved by qpairs; destroying it anyway", pg->lcore,
                     q->cqe_used - (int)q->srq_depth);
        pg_cq_destroy(pg, q, "of a removed device");
    }
    if (tern_reactor_send_msg(tern_env_main_lcore(), cq_released_on_main, m, NULL) != 0)
        free(m);
}

/*
 * librdmacm keeps its own handle on every device an id was bound to (the
 * verbs context our PD, CQs and QPs were made on) and closes a removed
 * device's handle only when it reads the device list again and finds the
 * device gone; it reads it here. Until the handle is closed, the kernel
 * cannot finish removing a device whose driver cannot take it from a
 * process (rxe, siw: `rdma link delete` waits), and a device added back
 * under the same GUID could be matched to the dead handle. librdmacm
 * (rdma-core 44) skips all this when the list is empty, so the last device
 * of such a driver stays held until another appears or the process exits.
 */
static void
librdmacm_forget_removed(void)
{
    struct ibv_context **all = rdma_get_devices(NULL);

    if (all != NULL)
        rdma_free_devices(all);
    else
        TERN_LOG(g_log, WARNING, "no RDMA device is left: librdmacm keeps its handle on the "
                 "removed one until another device appears, and a driver that cannot take a "
                 "device from a process (rxe, siw) waits for that, or for tern-tgt to exit, "
                 "to finish removing it");
}

static void
devices_release(struct rdma_transport *rt)
{
    uint32_t i, l;
    int rc;
    struct rdma_listener *li;

    for (i = 0; i < MAX_DEVICES; i++) {
        struct rdma_device *d = &rt->dev[i];
        bool listened = false;

        if (!d->used || !d->removed || d->nconns > 0)
            continue;
        TAILQ_FOREACH(li, &rt->listeners, link)
            if (li->id != NULL && li->id->verbs == d->ctx)
                listened = true;
        if (listened)
            continue;
        if (!d->releasing) {
            d->releasing = true;
            d->cq_waits = 0;
            TERN_ENV_FOREACH_LCORE(l) {
                struct cq_release *m = calloc(1, sizeof(*m));

                if (m == NULL)
                    continue;
                m->rt = rt;
                m->dev = i;
                m->gen = d->gen;
                if (tern_reactor_send_msg(l, cq_release_on_lcore, m, NULL) == 0)
                    d->cq_waits++;
                else
                    free(m);
            }
        }
        if (d->cq_waits > 0)
            continue;
        if (d->buf_mr != NULL && (rc = ibv_dereg_mr(d->buf_mr)) != 0)
            TERN_LOG(g_log, ERR, "RDMA device %s: deregistering the data buffers: %s", d->name,
                     strerror(rc));
        if (d->pd != NULL && (rc = ibv_dealloc_pd(d->pd)) != 0)
            TERN_LOG(g_log, ERR, "RDMA device %s: freeing the protection domain: %s (something "
                     "still uses it; the device cannot go)", d->name, strerror(rc));
        d->buf_mr = NULL;
        d->pd = NULL;
        d->used = false;
        d->releasing = false;
        d->ctx = NULL;
        TERN_LOG(g_log, NOTICE, "RDMA device %s released (CQs, buffer registration, PD)",
                 d->name);
        librdmacm_forget_removed();
    }
}

static int
cm_poll(void *arg)
{
    struct rdma_transport *rt = arg;
    struct rdma_cm_event *ev;
    struct rdma_listener *l;
    int busy = 0;

    while (rdma_get_cm_event(rt->ch, &ev) == 0) {
        struct rdma_cm_event copy = *ev;

        busy = 1;
        if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
            /* The private data lives in the event: handle before the ack. */
            cm_event(rt, ev);
            rdma_ack_cm_event(ev);
            continue;
        }
        rdma_ack_cm_event(ev);
        cm_event(rt, &copy);
    }
    busy |= async_poll(rt);
    /* Listeners whose device went away: drop their ids (after the acks),
     * then retry until the device is back. */
    TAILQ_FOREACH(l, &rt->listeners, link) {
        if (l->id == NULL && tern_env_ticks() >= l->retry_at) {
            char why[160];

            if (listener_open(rt, l, why, sizeof(why)) == 0) {
                TERN_LOG(g_log, NOTICE, "NVMe/RDMA target listening again on %s port %s",
                         l->trid.traddr, l->trid.trsvcid);
                l->warned = false;
            } else {
                if (!l->warned)
                    TERN_LOG(g_log, WARNING, "listener %s port %s not back yet: %s (retrying "
                             "every second)", l->trid.traddr, l->trid.trsvcid, why);
                l->warned = true;
                l->retry_at = tern_env_ticks() + tern_env_ticks_hz() * RELISTEN_US / 1000000;
            }
        }
    }
    devices_release(rt);
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

/* ============ listening (main lcore) ============ */
static int
listener_open(struct rdma_transport *rt, struct rdma_listener *l, char *why, size_t why_len)
{
    struct sockaddr_storage ss;
    struct rdma_cm_id *id;
    int rc = tern_nvmf_trid_to_sockaddr(&l->trid, &ss, why, why_len);

    if (rc != 0)
        return rc;
    if (rdma_create_id(rt->ch, &id, NULL, RDMA_PS_TCP) != 0) {
        rc = -errno;
        snprintf(why, why_len, "rdma_create_id: %s", strerror(errno));
        return rc;
    }
    if (rdma_bind_addr(id, (struct sockaddr *)&ss) != 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot bind %s port %s for RDMA: %s (is the address on an RDMA "
                 "device's netdev? see usertools/tern-netcheck)", l->trid.traddr, l->trid.trsvcid,
                 strerror(errno));
        rdma_destroy_id(id);
        return rc;
    }
    if (rdma_listen(id, (int)rt->p.acceptor_backlog) != 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot listen on %s port %s: %s", l->trid.traddr,
                 l->trid.trsvcid, strerror(errno));
        rdma_destroy_id(id);
        return rc;
    }
    if (id->verbs == NULL && l->trid.traddr[0] != '\0' && strcmp(l->trid.traddr, "0.0.0.0") != 0 &&
        strcmp(l->trid.traddr, "::") != 0)
        TERN_LOG(g_log, WARNING, "listener %s port %s is bound to no RDMA device", l->trid.traddr,
                 l->trid.trsvcid);
    l->id = id;
    return 0;
}

static void
listener_drop(struct rdma_transport *rt, struct rdma_listener *l, const char *why)
{
    (void)rt;
    if (l->id == NULL)
        return;
    TERN_LOG(g_log, WARNING, "listener %s port %s closed (%s): retrying every second",
             l->trid.traddr, l->trid.trsvcid, why);
    rdma_destroy_id(l->id);
    l->id = NULL;
    l->retry_at = 0;
    l->warned = false;
}

static void
netcheck_line(enum tern_netcheck_level lvl, const char *line, void *ctx)
{
    const struct tern_nvmf_trid *trid = ctx;

    if (lvl != TERN_NETCHECK_OK)
        TERN_LOG(g_log, WARNING, "listener %s port %s: %s", trid->traddr, trid->trsvcid, line);
}

static int
rdma_listen_op(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid, char *why,
               size_t why_len)
{
    struct rdma_transport *rt = rt_of(t);
    struct rdma_listener *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return -ENOMEM;
    l->trid = *trid;
    /* Incident 1: a second interface in the subnet, a route that leaves
     * through another netdev or ARP sysctls that let the wrong port answer
     * make hosts' connections fail; say so now, naming the fix. The same
     * report: usertools/tern-netcheck ADDRESS. */
    rc = tern_netcheck_addr(trid->traddr, netcheck_line, (void *)(uintptr_t)trid);
    if (rc > 0)
        TERN_LOG(g_log, WARNING, "listener %s port %s: %d network problem(s) above; "
                 "usertools/tern-netcheck %s prints the same report", trid->traddr,
                 trid->trsvcid, rc, trid->traddr);
    rc = listener_open(rt, l, why, why_len);
    if (rc != 0) {
        free(l);
        return rc;
    }
    TAILQ_INSERT_TAIL(&rt->listeners, l, link);
    TERN_LOG(g_log, NOTICE, "NVMe/RDMA target listening on %s port %s%s%s", trid->traddr,
             trid->trsvcid, l->id->verbs ? " on " : "",
             l->id->verbs ? ibv_get_device_name(l->id->verbs->device) : "");
    return 0;
}

static void
rdma_stop_listen(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid)
{
    struct rdma_transport *rt = rt_of(t);
    struct rdma_listener *l;

    TAILQ_FOREACH(l, &rt->listeners, link) {
        if (tern_nvmf_trid_equal(&l->trid, trid)) {
            TAILQ_REMOVE(&rt->listeners, l, link);
            if (l->id != NULL)
                rdma_destroy_id(l->id);
            TERN_LOG(g_log, NOTICE, "NVMe/RDMA target no longer listening on %s port %s",
                     trid->traddr, trid->trsvcid);
            free(l);
            return;
        }
    }
}

/* ============ creation, options, stats ============ */
static void
wr_pool_numbers(const struct tern_nvmf_transport_opts *o, uint32_t lcores, uint32_t *floor_,
                uint32_t *def)
{
    uint32_t units = (o->max_io_size + o->io_unit_size - 1) / o->io_unit_size;

    /* Floor: on every lcore, one request with the most data WRs a request
     * can need can always be posted, so no lcore waits forever for WRs
     * the others hold. Default: every request of one full-depth qpair per
     * lcore in flight with one WR per io unit (one SGE each). */
    *floor_ = lcores * RDMA_MAX_WRS;
    *def = lcores * o->max_queue_depth * units;
    if (*def < *floor_)
        *def = *floor_;
}

static void rdma_destroy(struct tern_nvmf_transport *t);

static struct tern_nvmf_transport *
rdma_create(const struct tern_nvmf_transport_opts *opts, const json_t *params, char *why,
            size_t why_len)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct rdma_params, data_wr_pool_size, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct rdma_params, no_srq, TERN_RPC_BOOL, false),
        TERN_RPC_PARAM(struct rdma_params, max_srq_depth, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct rdma_params, num_cqe, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct rdma_params, acceptor_backlog, TERN_RPC_UINT32, false),
    };
    struct rdma_params p = {.num_cqe = DEFAULT_NUM_CQE, .acceptor_backlog = DEFAULT_BACKLOG,
                            .max_srq_depth = DEFAULT_SRQ_DEPTH};
    struct rdma_transport *rt;
    uint32_t i, count;
    int fl;

    if (params != NULL &&
        tern_rpc_decode(params, spec, sizeof(spec) / sizeof(spec[0]), &p, why, why_len) != 0)
        return NULL;
    if (p.num_cqe < 64 || p.acceptor_backlog == 0) {
        snprintf(why, why_len, "num_cqe must be at least 64 and acceptor_backlog at least 1");
        return NULL;
    }
    if (!p.no_srq && p.max_srq_depth < opts->max_queue_depth) {
        snprintf(why, why_len, "max_srq_depth %u is below max_queue_depth %u: one qpair could "
                 "not have all its commands in flight (raise it, or set no_srq)", p.max_srq_depth,
                 opts->max_queue_depth);
        return NULL;
    }
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(why, why_len, "no memory");
        return NULL;
    }
    rt->base.opts = *opts;
    rt->p = p;
    TAILQ_INIT(&rt->listeners);
    TAILQ_INIT(&rt->handles);
    wr_pool_numbers(opts, tern_env_lcore_count(), &rt->wr_floor, &rt->wr_default);
    count = p.data_wr_pool_size ? p.data_wr_pool_size : rt->wr_default;
    if (count < rt->wr_floor) {
        TERN_LOG(g_log, WARNING, "data_wr_pool_size %u is below its floor %u (%u lcores x %u WRs "
                 "of the largest request): using %u", count, rt->wr_floor, tern_env_lcore_count(),
                 RDMA_MAX_WRS, rt->wr_floor);
        count = rt->wr_floor;
    }
    rt->p.data_wr_pool_size = count;
    TERN_LOG(g_log, NOTICE, "RDMA data WR pool: %u descriptors (default %u = %u lcores x depth %u "
             "x %u io units; floor %u = %u lcores x %u WRs of the largest request)", count,
             rt->wr_default, tern_env_lcore_count(), opts->max_queue_depth,
             (opts->max_io_size + opts->io_unit_size - 1) / opts->io_unit_size, rt->wr_floor,
             tern_env_lcore_count(), RDMA_MAX_WRS);
    if (p.no_srq)
        TERN_LOG(g_log, NOTICE, "no_srq: every qpair posts %u receive buffers of its own",
                 opts->max_queue_depth);
    else
        TERN_LOG(g_log, NOTICE, "shared receive queues: %u receive buffers of %u bytes per "
                 "(device x lcore), capped by the device (%.1f MiB each)", p.max_srq_depth,
                 TERN_RDMA_CMD_CAPSULE_MIN + opts->in_capsule_data_size,
                 (double)p.max_srq_depth * (TERN_RDMA_CMD_CAPSULE_MIN + opts->in_capsule_data_size)
                     / (1024.0 * 1024.0));
    rt->wr_pool = tern_mempool_create("nvmf_rdma_wr", count, sizeof(struct rdma_wr),
                                      TERN_ENV_SOCKET_ANY);
    rt->buf_len = (size_t)opts->num_shared_buffers * opts->io_unit_size;
    rt->buf_mem = tern_env_zmalloc("nvmf_rdma_buf", rt->buf_len, 4096, TERN_ENV_SOCKET_ANY);
    rt->buf_ring = tern_ring_create("nvmf_rdma_buf", opts->num_shared_buffers, TERN_ENV_SOCKET_ANY,
                                    TERN_RING_MP_MC);
    if (rt->wr_pool == NULL || rt->buf_mem == NULL || rt->buf_ring == NULL) {
        snprintf(why, why_len, "cannot allocate %u data WRs and %u buffers of %u bytes (%.1f MiB "
                 "of DPDK memory): lower data_wr_pool_size, num_shared_buffers or io_unit_size, "
                 "or give the EAL more memory", count, opts->num_shared_buffers, opts->io_unit_size,
                 (double)rt->buf_len / (1024.0 * 1024.0));
        rdma_destroy(&rt->base);
        return NULL;
    }
    for (i = 0; i < opts->num_shared_buffers; i++) {
        void *b = rt->buf_mem + (size_t)i * opts->io_unit_size;

        tern_ring_enqueue_burst(rt->buf_ring, &b, 1);
    }
    rt->ch = rdma_create_event_channel();
    if (rt->ch == NULL) {
        snprintf(why, why_len, "cannot open the RDMA connection manager (%s): is rdma_cm loaded "
                 "and /dev/infiniband/rdma_cm there?", strerror(errno));
        rdma_destroy(&rt->base);
        return NULL;
    }
    fl = fcntl(rt->ch->fd, F_GETFL);
    fcntl(rt->ch->fd, F_SETFL, fl | O_NONBLOCK);
    rt->cm_poller = tern_poller_register(cm_poll, rt, CM_POLL_US, "nvmf_rdma_cm");
    return &rt->base;
}

static void
rdma_destroy(struct tern_nvmf_transport *t)
{
    struct rdma_transport *rt = rt_of(t);
    struct rdma_listener *l;
    struct cm_handle *h;
    uint32_t i;

    tern_poller_unregister(&rt->cm_poller);
    while ((l = TAILQ_FIRST(&rt->listeners)) != NULL) {
        TAILQ_REMOVE(&rt->listeners, l, link);
        if (l->id != NULL)
            rdma_destroy_id(l->id);
        free(l);
    }
    while ((h = TAILQ_FIRST(&rt->handles)) != NULL)
        handle_free(rt, h);
    for (i = 0; i < MAX_DEVICES; i++) {
        if (!rt->dev[i].used)
            continue;
        if (rt->dev[i].buf_mr != NULL)
            ibv_dereg_mr(rt->dev[i].buf_mr);
        if (rt->dev[i].pd != NULL)
            ibv_dealloc_pd(rt->dev[i].pd);
    }
    if (rt->ch != NULL)
        rdma_destroy_event_channel(rt->ch);
    tern_ring_free(rt->buf_ring);
    tern_env_free(rt->buf_mem);
    tern_mempool_free(rt->wr_pool);
    free(rt);
}

static void
rdma_dump_opts(const struct tern_nvmf_transport *t, json_t *o)
{
    const struct rdma_transport *rt = rt_of(t);

    json_object_set_new(o, "data_wr_pool_size", json_integer(rt->p.data_wr_pool_size));
    json_object_set_new(o, "no_srq", json_boolean(rt->p.no_srq));
    json_object_set_new(o, "max_srq_depth", json_integer(rt->p.max_srq_depth));
    json_object_set_new(o, "num_cqe", json_integer(rt->p.num_cqe));
    json_object_set_new(o, "acceptor_backlog", json_integer(rt->p.acceptor_backlog));
}

static void
rdma_lcore_stats(struct tern_nvmf_transport *t, json_t *o)
{
    struct rdma_transport *rt = rt_of(t);
    struct rdma_pg *pg = rt->pg[tern_env_lcore_id()];
    json_t *devs;
    uint32_t d;

    if (pg == NULL)
        return;
    json_object_set_new(o, "connections", json_integer(pg->nconns));
    json_object_set_new(o, "accepted", json_integer((json_int_t)pg->accepted));
    json_object_set_new(o, "closed", json_integer((json_int_t)pg->closed));
    json_object_set_new(o, "shared_buffers_free", json_integer(tern_ring_count(rt->buf_ring)));
    json_object_set_new(o, "shared_buffers", json_integer(rt->base.opts.num_shared_buffers));
    json_object_set_new(o, "data_wr_pool_free", json_integer(tern_mempool_avail(rt->wr_pool)));
    json_object_set_new(o, "data_wr_pool_size", json_integer(tern_mempool_size(rt->wr_pool)));
    if (tern_env_lcore_id() == tern_env_main_lcore()) {
        /* The connection manager runs on the main lcore only. */
        json_object_set_new(o, "cm_rejects", json_integer((json_int_t)rt->cm_rejects));
        json_object_set_new(o, "cm_errors", json_integer((json_int_t)rt->cm_errors));
    }
    devs = json_array();
    for (d = 0; d < MAX_DEVICES; d++) {
        struct pg_cq *q = &pg->cq[d];
        struct rdma_conn *c;
        json_t *dev, *errs;
        uint64_t pend[RDMA_Q_NUM] = {0}, rx = 0;
        struct rdma_qp_stats st = q->closed;   /* gone qpairs, then the live ones */
        uint32_t s;

        if (q->cq == NULL)
            continue;
        TAILQ_FOREACH(c, &pg->conns, link) {
            if (c->dev != d)
                continue;
            for (s = 0; s < RDMA_Q_NUM; s++)
                pend[s] += c->eng.qs.len[s];
            rx += c->eng.rx_pending_len;
            qp_stats_add(&st, &c->eng.st);
        }
        dev = json_object();
        json_object_set_new(dev, "name", json_string(rt->dev[d].name));
        json_object_set_new(dev, "pending_data_buffer", json_integer((json_int_t)pend[RDMA_Q_PENDING_BUF]));
        json_object_set_new(dev, "pending_rdma_read", json_integer((json_int_t)pend[RDMA_Q_PENDING_READ]));
        json_object_set_new(dev, "pending_rdma_send", json_integer((json_int_t)pend[RDMA_Q_PENDING_SEND]));
        json_object_set_new(dev, "pending_capsules", json_integer((json_int_t)rx));
        json_object_set_new(dev, "pending_max", json_integer((json_int_t)st.pending_max));
        json_object_set_new(dev, "capsules", json_integer((json_int_t)st.capsules));
        json_object_set_new(dev, "rdma_reads_posted", json_integer((json_int_t)st.reads_posted));
        json_object_set_new(dev, "rdma_writes_posted", json_integer((json_int_t)st.writes_posted));
        json_object_set_new(dev, "sends_posted", json_integer((json_int_t)st.sends_posted));
        json_object_set_new(dev, "protocol_errors", json_integer((json_int_t)st.protocol_errors));
        json_object_set_new(dev, "buffer_waits", json_integer((json_int_t)st.buf_waits));
        json_object_set_new(dev, "data_wr_waits", json_integer((json_int_t)st.wr_waits));
        json_object_set_new(dev, "send_queue_waits", json_integer((json_int_t)st.sq_waits));
        json_object_set_new(dev, "read_depth_waits", json_integer((json_int_t)st.rd_waits));
        json_object_set_new(dev, "srq_depth", json_integer(q->srq_depth));
        json_object_set_new(dev, "srq_receives_posted", json_integer(q->srq_posted));
        json_object_set_new(dev, "srq_strays", json_integer((json_int_t)q->srq_strays));
        json_object_set_new(dev, "srq_post_errors", json_integer((json_int_t)q->srq_post_errors));
        json_object_set_new(dev, "cq_entries", json_integer(q->cqe));
        json_object_set_new(dev, "cq_entries_reserved", json_integer(q->cqe_used));
        json_object_set_new(dev, "polls", json_integer((json_int_t)q->polls));
        json_object_set_new(dev, "completions", json_integer((json_int_t)q->completions));
        errs = json_object();
        for (s = 1; s <= IBV_WC_GENERAL_ERR; s++)
            if (q->wc_errors[s])
                json_object_set_new(errs, ibv_wc_status_str((enum ibv_wc_status)s),
                                    json_integer((json_int_t)q->wc_errors[s]));
        json_object_set_new(dev, "wc_errors", errs);
        json_array_append_new(devs, dev);
    }
    json_object_set_new(o, "devices", devs);
}

static const struct tern_nvmf_transport_ops g_rdma_ops = {
    .name = "RDMA",
    .trtype = TERN_NVMF_TRTYPE_RDMA,
    /* SGLs supported; keyed data blocks; offset addressing (in-capsule). */
    .sgls = TERN_NVME_CTRLR_SGLS_SUPPORTED | TERN_NVME_CTRLR_SGLS_KEYED | TERN_NVME_CTRLR_SGLS_OFFSET,
    .create = rdma_create,
    .dump_opts = rdma_dump_opts,
    .lcore_init = rdma_lcore_init,
    .lcore_fini = rdma_lcore_fini,
    .destroy = rdma_destroy,
    .listen = rdma_listen_op,
    .stop_listen = rdma_stop_listen,
    .req_complete = rdma_req_complete,
    .qpair_disconnect = rdma_qpair_disconnect,
    .lcore_stats = rdma_lcore_stats,
};
TERN_NVMF_TRANSPORT_REGISTER(g_rdma_ops)
