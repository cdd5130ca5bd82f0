/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA host half (NVMe over Fabrics 1.1, 7.3 "RDMA Transport"), over
 * rdma-core's connection manager and verbs only (mlx5 in production, rxe in
 * the test VMs). One RC queue pair per qpair, with its own event channel,
 * protection domain and completion queue, polled by the thread that owns
 * the qpair.
 *
 * Memory: one registered ring per qpair holds a 64-byte command capsule
 * (the SQE) and a 16-byte response slot per entry; a receive is posted on
 * every response slot. Data buffers are the caller's: memory it declared
 * with tern_host_qpair_mem_register() is registered once (local write,
 * remote read, remote write) and its keys serve every command; anything
 * else is registered for that one command and released when it completes
 * (lib/host's own admin buffers). Data placement: rdma_host_sgl.h.
 *
 * A command is done when both its SEND has completed (the capsule and any
 * in-capsule data, which point at the caller's memory, are no longer the
 * NIC's) and its response has arrived, in either order. Every SEND is
 * signaled, so send-queue entries in use never exceed commands in flight,
 * and the send queue is as deep as the qpair. Commands in flight never
 * exceed the controller's receive queue (CRQSIZE of its accept): the qpair's
 * depth is lowered to it, and lib/host hands out that many CIDs.
 *
 * Failure: a work completion in error, a bad response, or a CM event that
 * ends the connection (DISCONNECTED, DEVICE_REMOVAL, ...; the event channel
 * is read without blocking every RH_CM_CHECK_MS, not on every poll, since
 * that costs a system call) moves the QP to the error state at once, so the
 * NIC stops touching the caller's buffers before lib/host fails the
 * commands still out; poll then returns -errno, once logged with the peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma_host_sgl.h"
#include "rdma_proto.h"
#include "tern_env.h"
#include "tern_host_transport.h"
#include "tern_log.h"

TERN_LOG_REGISTER(g_log, "tern.drv.rdma.host", NOTICE);

#define RH_CQ_BATCH 32
#define RH_POLL_BATCHES 4           /* a poll takes at most this many batches */
#define RH_CM_CHECK_MS 10
#define RH_DRAIN_MS 2000            /* waiting for flushed work at disconnect */
/* wr_id: a capsule SEND of the CID in the low bits; else a receive slot. */
#define RH_WR_SEND (1ull << 32)

/* What a command still waits for. */
#define RH_WAIT_SEND 0x1
#define RH_WAIT_RSP 0x2

struct rh_req {
    uint8_t wait;               /* RH_WAIT_* */
    struct ibv_mr *mr;          /* registered for this command only */
};

struct rdma_hqp {
    struct tern_host_qpair base;
    struct rdma_event_channel *ch;
    struct rdma_cm_id *id;
    struct ibv_pd *pd;
    struct ibv_cq *cq;
    bool has_qp;
    bool connected;             /* rdma_connect was answered by ESTABLISHED */
    uint16_t slots;             /* entries allocated (the depth asked for) */
    uint16_t crqsize;
    uint32_t max_data_sge;
    uint8_t *ring;              /* slots capsules, then slots responses */
    struct tern_nvme_cmd *capsules;
    struct tern_nvme_cpl *rsps;
    struct ibv_mr *ring_mr;
    struct rh_req *rq;          /* per CID */
    struct rdma_host_regions regions;
    uint32_t sends_out;         /* posted SENDs whose completion is not polled yet */
    uint32_t recvs_out;         /* posted receives */
    uint64_t next_cm_check;
    uint64_t cmd_mrs;           /* commands that needed a registration of their own */
    int err;                    /* the qpair failed: -errno, logged once */
    uint32_t completed;         /* in this poll */
    char peer[TERN_HOST_TRADDR_MAX + TERN_HOST_TRSVCID_MAX + 8];
};

static struct rdma_hqp *
hq(struct tern_host_qpair *qp)
{
    return (struct rdma_hqp *)qp;
}

/* The connection is unusable from here on: stop the NIC using our memory,
 * log why, once. */
static int
rh_fail(struct rdma_hqp *q, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
rh_fail(struct rdma_hqp *q, int rc, const char *fmt, ...)
{
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_ERR};
    char msg[256];
    va_list ap;

    if (q->err != 0)
        return q->err;
    q->err = rc;
    if (q->has_qp)
        ibv_modify_qp(q->id->qp, &a, IBV_QP_STATE);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    TERN_LOG(g_log, ERR, "queue %u to %s: %s", q->base.qid, q->peer, msg);
    return rc;
}

/* ---- connection set-up ---- */

/* The next CM event on the (non-blocking) channel, waiting until deadline. */
static int
cm_next(struct rdma_hqp *q, uint64_t deadline, struct rdma_cm_event **ev)
{
    for (;;) {
        struct pollfd p = {.fd = q->ch->fd, .events = POLLIN};
        uint64_t now;
        int rc;

        if (rdma_get_cm_event(q->ch, ev) == 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        now = tern_env_ticks();
        if (now >= deadline)
            return -ETIMEDOUT;
        rc = poll(&p, 1, (int)((deadline - now) * 1000 / tern_env_ticks_hz()) + 1);
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/*
 * Wait for the event `want` that ends a set-up step; anything else is the
 * step failing, put in `why` (event name and status; for a reject, the
 * controller's NVMe/RDMA status or the CM's reason). On success the caller
 * acks *out.
 */
static int
cm_expect(struct rdma_hqp *q, enum rdma_cm_event_type want, const char *step, uint64_t deadline,
          uint32_t timeout_ms, struct rdma_cm_event **out, char *why, size_t why_len)
{
    struct rdma_cm_event *ev;
    char detail[160];
    int rc = cm_next(q, deadline, &ev);

    if (rc == -ETIMEDOUT) {
        snprintf(why, why_len, "%s: %s: no answer within %u ms", q->peer, step, timeout_ms);
        return rc;
    }
    if (rc != 0) {
        snprintf(why, why_len, "%s: %s: rdma_get_cm_event: %s", q->peer, step, strerror(-rc));
        return rc;
    }
    if (ev->event == want) {
        *out = ev;
        return 0;
    }
    if (ev->event == RDMA_CM_EVENT_REJECTED) {
        tern_rdma_cm_rej_describe(ev->status, ev->param.conn.private_data,
                                  ev->param.conn.private_data_len, detail, sizeof(detail));
        snprintf(why, why_len, "%s: %s: %s: %s", q->peer, step, rdma_event_str(ev->event), detail);
        rc = -ECONNREFUSED;
    } else {
        if (ev->status < 0)
            snprintf(detail, sizeof(detail), "status %d: %s", ev->status, strerror(-ev->status));
        else
            snprintf(detail, sizeof(detail), "status %d", ev->status);
        snprintf(why, why_len, "%s: %s: %s (%s)", q->peer, step, rdma_event_str(ev->event),
                 detail);
        rc = ev->event == RDMA_CM_EVENT_UNREACHABLE ? -EHOSTUNREACH : -ECONNREFUSED;
    }
    rdma_ack_cm_event(ev);
    return rc;
}

static int
post_recv(struct rdma_hqp *q, uint16_t slot)
{
    struct ibv_sge sge = {
        .addr = (uintptr_t)&q->rsps[slot],
        .length = sizeof(struct tern_nvme_cpl),
        .lkey = q->ring_mr->lkey,
    };
    struct ibv_recv_wr wr = {.wr_id = slot, .sg_list = &sge, .num_sge = 1}, *bad;
    int rc = ibv_post_recv(q->id->qp, &wr, &bad);

    if (rc == 0)
        q->recvs_out++;
    return rc;
}

/* PD, CQ, QP, the capsule/response ring and its receives, on the device
 * the route resolved to. */
static int
make_resources(struct rdma_hqp *q, char *why, size_t why_len)
{
    struct ibv_device_attr da;
    struct ibv_qp_init_attr qa;
    const char *dev = ibv_get_device_name(q->id->verbs->device);
    size_t ring_len =
        (size_t)q->slots * (sizeof(struct tern_nvme_cmd) + sizeof(struct tern_nvme_cpl));
    int rc;

    rc = ibv_query_device(q->id->verbs, &da);
    if (rc != 0) {
        snprintf(why, why_len, "%s: ibv_query_device on %s: %s", q->peer, dev, strerror(rc));
        return -rc;
    }
    if (da.max_qp_wr < q->slots || da.max_cqe < 2 * q->slots) {
        snprintf(why, why_len, "%s: %s takes %d work requests per queue and %d completions, "
                 "a queue of %u entries needs %u and %u", q->peer, dev, da.max_qp_wr, da.max_cqe,
                 q->slots, q->slots, 2 * q->slots);
        return -EINVAL;
    }
    q->pd = ibv_alloc_pd(q->id->verbs);
    if (q->pd == NULL) {
        snprintf(why, why_len, "%s: ibv_alloc_pd on %s: %s", q->peer, dev, strerror(errno));
        return -ENOMEM;
    }
    /* Sends and receives of the same commands: one CQ for both. */
    q->cq = ibv_create_cq(q->id->verbs, 2 * q->slots, q, NULL, 0);
    if (q->cq == NULL) {
        snprintf(why, why_len, "%s: ibv_create_cq on %s: %s", q->peer, dev, strerror(errno));
        return -ENOMEM;
    }
    memset(&qa, 0, sizeof(qa));
    qa.send_cq = q->cq;
    qa.recv_cq = q->cq;
    qa.qp_type = IBV_QPT_RC;
    qa.cap.max_send_wr = q->slots;
    qa.cap.max_recv_wr = q->slots;
    qa.cap.max_send_sge = (uint32_t)da.max_sge < 1 + TERN_HOST_REQ_MAX_IOV
                              ? (uint32_t)da.max_sge : 1 + TERN_HOST_REQ_MAX_IOV;
    qa.cap.max_recv_sge = 1;
    if (rdma_create_qp(q->id, q->pd, &qa) != 0) {
        rc = errno ? -errno : -ENOMEM;
        snprintf(why, why_len, "%s: rdma_create_qp on %s (%u entries): %s", q->peer, dev, q->slots,
                 strerror(-rc));
        return rc;
    }
    q->has_qp = true;
    q->max_data_sge = qa.cap.max_send_sge > 0 ? qa.cap.max_send_sge - 1 : 0;
    q->ring = tern_env_zmalloc("rdma_host_ring", ring_len, 64, -1);
    q->rq = tern_env_zmalloc("rdma_host_reqs", sizeof(*q->rq) * q->slots, 64, -1);
    if (q->ring == NULL || q->rq == NULL) {
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    q->capsules = (struct tern_nvme_cmd *)q->ring;
    q->rsps = (struct tern_nvme_cpl *)(q->ring + (size_t)q->slots * sizeof(struct tern_nvme_cmd));
    q->ring_mr = ibv_reg_mr(q->pd, q->ring, ring_len, IBV_ACCESS_LOCAL_WRITE);
    if (q->ring_mr == NULL) {
        snprintf(why, why_len, "%s: ibv_reg_mr of %zu bytes on %s: %s", q->peer, ring_len, dev,
                 strerror(errno));
        return -ENOMEM;
    }
    for (uint16_t i = 0; i < q->slots; i++) {
        rc = post_recv(q, i);
        if (rc != 0) {
            snprintf(why, why_len, "%s: ibv_post_recv: %s", q->peer, strerror(rc));
            return -rc;
        }
    }
    return 0;
}

static void
free_resources(struct rdma_hqp *q)
{
    /* The QP first: after it is gone the NIC touches none of the memory. */
    if (q->has_qp)
        rdma_destroy_qp(q->id);
    if (q->rq != NULL) {
        for (uint16_t i = 0; i < q->slots; i++) {
            if (q->rq[i].mr != NULL)
                ibv_dereg_mr(q->rq[i].mr);
        }
    }
    for (uint32_t i = 0; i < q->regions.n; i++)
        ibv_dereg_mr(q->regions.r[i].mr);
    q->regions.n = 0;
    if (q->ring_mr != NULL)
        ibv_dereg_mr(q->ring_mr);
    if (q->cq != NULL)
        ibv_destroy_cq(q->cq);
    if (q->pd != NULL)
        ibv_dealloc_pd(q->pd);
    if (q->id != NULL)
        rdma_destroy_id(q->id);
    if (q->ch != NULL)
        rdma_destroy_event_channel(q->ch);
    tern_env_free(q->ring);
    tern_env_free(q->rq);
    tern_env_free(q);
}

/*
 * One set-up step: a CM call that returned call_rc (0 or -errno), then the
 * event that ends it. *out: that event for the caller to ack (NULL: acked
 * here).
 */
static int
cm_step(struct rdma_hqp *q, int call_rc, const char *call, enum rdma_cm_event_type want,
        const char *step, uint64_t deadline, uint32_t timeout_ms, struct rdma_cm_event **out,
        char *why, size_t why_len)
{
    struct rdma_cm_event *ev;
    int rc;

    if (call_rc != 0) {
        snprintf(why, why_len, "%s: %s: %s", q->peer, call, strerror(-call_rc));
        return call_rc;
    }
    rc = cm_expect(q, want, step, deadline, timeout_ms, &ev, why, why_len);
    if (rc != 0)
        return rc;
    if (out != NULL)
        *out = ev;
    else
        rdma_ack_cm_event(ev);
    return 0;
}

static int
resolve(struct rdma_hqp *q, const struct tern_host_trid *t, uint64_t deadline, uint32_t timeout_ms,
        char *why, size_t why_len)
{
    struct addrinfo hints = {0}, *res = NULL;
    int rc;

    hints.ai_family = t->adrfam == TERN_NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(t->traddr, t->trsvcid, &hints, &res);
    if (rc != 0) {
        snprintf(why, why_len, "traddr %s trsvcid %s: %s", t->traddr, t->trsvcid,
                 gai_strerror(rc));
        return -EINVAL;
    }
    rc = rdma_resolve_addr(q->id, NULL, res->ai_addr, (int)timeout_ms) ? -errno : 0;
    freeaddrinfo(res);
    rc = cm_step(q, rc, "rdma_resolve_addr", RDMA_CM_EVENT_ADDR_RESOLVED,
                 "resolving the address", deadline, timeout_ms, NULL, why, why_len);
    if (rc != 0)
        return rc;
    rc = rdma_resolve_route(q->id, (int)timeout_ms) ? -errno : 0;
    return cm_step(q, rc, "rdma_resolve_route", RDMA_CM_EVENT_ROUTE_RESOLVED,
                   "resolving the route", deadline, timeout_ms, NULL, why, why_len);
}

static int
cm_connect(struct rdma_hqp *q, const struct tern_host_qpair_opts *o, uint64_t deadline,
           char *why, size_t why_len)
{
    struct tern_rdma_cm_req req;
    struct rdma_conn_param cp;
    struct ibv_device_attr da;
    struct rdma_cm_event *ev;
    char pwhy[160];
    int rc;

    tern_rdma_cm_req_init(&req, o->qid, o->depth, o->cntlid);
    rc = ibv_query_device(q->id->verbs, &da);
    if (rc != 0) {
        snprintf(why, why_len, "%s: ibv_query_device: %s", q->peer, strerror(rc));
        return -rc;
    }
    memset(&cp, 0, sizeof(cp));
    cp.private_data = &req;
    cp.private_data_len = sizeof(req);
    /* The controller RDMA READs write data from us: take as many reads
     * at once as the device allows. */
    cp.responder_resources = (uint8_t)(da.max_qp_rd_atom > 255 ? 255 : da.max_qp_rd_atom);
    cp.initiator_depth = (uint8_t)(da.max_qp_init_rd_atom > 255 ? 255 : da.max_qp_init_rd_atom);
    cp.retry_count = 7;
    cp.rnr_retry_count = 7;
    rc = cm_step(q, rdma_connect(q->id, &cp) ? -errno : 0, "rdma_connect",
                 RDMA_CM_EVENT_ESTABLISHED, "connecting", deadline, o->timeout_ms, &ev, why,
                 why_len);
    if (rc != 0)
        return rc;
    q->connected = true;
    rc = tern_rdma_cm_rep_parse(ev->param.conn.private_data, ev->param.conn.private_data_len,
                                &q->crqsize, pwhy, sizeof(pwhy));
    rdma_ack_cm_event(ev);
    if (rc != 0) {
        snprintf(why, why_len, "%s: %s", q->peer, pwhy);
        return rc;
    }
    /* Never more commands out than the controller can receive. */
    q->base.depth = q->crqsize < o->depth ? q->crqsize : o->depth;
    if (q->crqsize < o->depth)
        TERN_LOG(g_log, NOTICE, "queue %u to %s: the controller takes %u commands at once, "
                 "not %u: the queue holds %u", o->qid, q->peer, q->crqsize, o->depth,
                 q->base.depth);
    return 0;
}

static struct tern_host_qpair *
rdma_host_connect(const struct tern_host_trid *trid, const struct tern_host_qpair_opts *o,
                  char *why, size_t why_len)
{
    uint64_t deadline = tern_env_ticks() + tern_env_ticks_hz() * o->timeout_ms / 1000;
    struct rdma_hqp *q;
    int fl;

    if (o->header_digest || o->data_digest) {
        snprintf(why, why_len, "header and data digests are NVMe/TCP only, not RDMA");
        return NULL;
    }
    if (o->depth < 2) {
        snprintf(why, why_len, "a queue of %u entries is too small", o->depth);
        return NULL;
    }
    q = tern_env_zmalloc("rdma_host_qpair", sizeof(*q), 64, -1);
    if (q == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    snprintf(q->peer, sizeof(q->peer), "%s%s%s:%s",
             trid->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "[" : "", trid->traddr,
             trid->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "]" : "", trid->trsvcid);
    q->base.qid = o->qid;
    q->slots = o->depth;
    q->ch = rdma_create_event_channel();
    if (q->ch == NULL) {
        if (errno == ENODEV)
            snprintf(why, why_len, "no RDMA device on this machine (rdma_create_event_channel: %s)",
                     strerror(errno));
        else if (errno == ENOENT)
            snprintf(why, why_len, "no RDMA connection manager (/dev/infiniband/rdma_cm: %s; "
                     "is rdma_ucm loaded?)", strerror(errno));
        else
            snprintf(why, why_len, "rdma_create_event_channel: %s", strerror(errno));
        goto err;
    }
    fl = fcntl(q->ch->fd, F_GETFL);
    if (fl < 0 || fcntl(q->ch->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        snprintf(why, why_len, "CM event channel: fcntl: %s", strerror(errno));
        goto err;
    }
    if (rdma_create_id(q->ch, &q->id, q, RDMA_PS_TCP) != 0) {
        q->id = NULL;
        snprintf(why, why_len, "rdma_create_id: %s", strerror(errno));
        goto err;
    }
    if (resolve(q, trid, deadline, o->timeout_ms, why, why_len) != 0)
        goto err;
    if (make_resources(q, why, why_len) != 0)
        goto err;
    if (cm_connect(q, o, deadline, why, why_len) != 0)
        goto err;
    q->base.icd_max = 0;    /* RDMA admin queues carry no in-capsule data; lib/host sets I/O's */
    q->next_cm_check = tern_env_ticks() + tern_env_ticks_hz() * RH_CM_CHECK_MS / 1000;
    return &q->base;
err:
    if (q->connected)
        rdma_disconnect(q->id);
    free_resources(q);
    return NULL;
}

/* Reap what the NIC still holds after the QP went to the error state
 * (flushed work), bounded: its buffers are freed next. */
static void
drain(struct rdma_hqp *q)
{
    uint64_t deadline = tern_env_ticks() + tern_env_ticks_hz() * RH_DRAIN_MS / 1000;
    struct ibv_wc wc[RH_CQ_BATCH];

    while (q->sends_out + q->recvs_out > 0 && tern_env_ticks() < deadline) {
        int n = ibv_poll_cq(q->cq, RH_CQ_BATCH, wc);

        if (n < 0)
            break;
        for (int i = 0; i < n; i++) {
            if (wc[i].wr_id & RH_WR_SEND)
                q->sends_out--;
            else
                q->recvs_out--;
        }
        if (n == 0)
            tern_env_delay_us(100);
    }
    if (q->sends_out + q->recvs_out > 0)
        TERN_LOG(g_log, WARNING, "queue %u to %s: %u sends and %u receives not flushed after %u ms",
                 q->base.qid, q->peer, q->sends_out, q->recvs_out, RH_DRAIN_MS);
}

static void
rdma_host_disconnect(struct tern_host_qpair *qp)
{
    struct rdma_hqp *q = hq(qp);
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_ERR};
    uint32_t no_send = 0, no_rsp = 0;

    /* Commands lib/host gave up on (aborted before this call): what each
     * was still waiting for, when the connection was not already broken. */
    for (uint16_t i = 0; q->rq != NULL && i < q->slots; i++) {
        no_send += (q->rq[i].wait & RH_WAIT_SEND) != 0;
        no_rsp += (q->rq[i].wait & RH_WAIT_RSP) != 0;
    }
    if ((no_send || no_rsp) && q->err == 0)
        TERN_LOG(g_log, WARNING, "queue %u to %s: closing with commands out: %u without their "
                 "send completion, %u without their response", qp->qid, q->peer, no_send, no_rsp);
    if (q->connected)
        rdma_disconnect(q->id);
    if (q->has_qp) {
        ibv_modify_qp(q->id->qp, &a, IBV_QP_STATE);
        drain(q);
    }
    if (q->cmd_mrs)
        TERN_LOG(g_log, INFO, "queue %u to %s: %lu commands had their data registered one by one",
                 q->base.qid, q->peer, (unsigned long)q->cmd_mrs);
    free_resources(q);
}

/* ---- memory ---- */
static int
rdma_host_mem_register(struct tern_host_qpair *qp, void *addr, size_t len)
{
    struct rdma_hqp *q = hq(qp);
    struct ibv_mr *mr;
    int rc;

    if (q->regions.n == RDMA_HOST_MAX_REGIONS) {
        TERN_LOG(g_log, ERR, "queue %u to %s: already %u registered regions", qp->qid, q->peer,
                 RDMA_HOST_MAX_REGIONS);
        return -ENOSPC;
    }
    mr = ibv_reg_mr(q->pd, addr, len,
                    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
    if (mr == NULL) {
        rc = errno ? -errno : -ENOMEM;
        TERN_LOG(g_log, ERR, "queue %u to %s: ibv_reg_mr of %zu bytes at %p: %s", qp->qid,
                 q->peer, len, addr, strerror(-rc));
        return rc;
    }
    rc = rdma_host_region_add(&q->regions, (uintptr_t)addr, len, mr->lkey, mr->rkey, mr);
    if (rc != 0)
        ibv_dereg_mr(mr);
    return rc;
}

/* ---- commands ---- */
static int
rdma_host_submit(struct tern_host_qpair *qp, struct tern_host_req *r)
{
    struct rdma_hqp *q = hq(qp);
    uint16_t cid = r->cmd.cid;
    struct rh_req *rr = &q->rq[cid];
    struct ibv_sge sge[1 + TERN_HOST_REQ_MAX_IOV];
    struct ibv_send_wr wr, *bad;
    struct rdma_host_plan p;
    char why[160];
    int rc;

    if (q->err != 0)
        return -ENOTCONN;
    rc = rdma_host_plan(&q->regions, r, qp->icd_max, q->max_data_sge, &p, why, sizeof(why));
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "queue %u to %s: command CID %u: %s", qp->qid, q->peer, cid, why);
        return rc;
    }
    if (p.need_mr) {
        /* Not declared memory: a registration for this command only. */
        rr->mr = ibv_reg_mr(q->pd, (void *)p.span, p.len,
                            IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
                                IBV_ACCESS_REMOTE_WRITE);
        if (rr->mr == NULL) {
            /* Not a broken connection: only this command fails. */
            rc = errno && errno != ENOTCONN ? -errno : -ENOMEM;
            TERN_LOG(g_log, ERR, "queue %u to %s: ibv_reg_mr of %u bytes for CID %u: %s", qp->qid,
                     q->peer, p.len, cid, strerror(-rc));
            return rc;
        }
        rdma_host_plan_use_mr(&p, rr->mr->lkey, rr->mr->rkey);
        q->cmd_mrs++;
    }
    rdma_host_plan_sgl(&p, &r->cmd.dptr.sgl1);
    q->capsules[cid] = r->cmd;
    sge[0] = (struct ibv_sge){
        .addr = (uintptr_t)&q->capsules[cid],
        .length = sizeof(struct tern_nvme_cmd),
        .lkey = q->ring_mr->lkey,
    };
    for (int i = 0; i < p.nsge; i++)
        sge[1 + i] = (struct ibv_sge){
            .addr = p.sge[i].addr, .length = p.sge[i].len, .lkey = p.sge[i].lkey};
    memset(&wr, 0, sizeof(wr));
    wr.wr_id = RH_WR_SEND | cid;
    wr.sg_list = sge;
    wr.num_sge = 1 + p.nsge;
    wr.opcode = IBV_WR_SEND;
    wr.send_flags = IBV_SEND_SIGNALED;
    rc = ibv_post_send(q->id->qp, &wr, &bad);
    if (rc != 0) {
        if (rr->mr != NULL) {
            ibv_dereg_mr(rr->mr);
            rr->mr = NULL;
        }
        /* The send queue cannot be full (one SEND per command in flight):
         * the QP is broken. */
        rh_fail(q, -ENOTCONN, "ibv_post_send: %s", strerror(rc));
        return -ENOTCONN;
    }
    q->sends_out++;
    rr->wait = RH_WAIT_SEND | RH_WAIT_RSP;
    return 0;
}

static void
finish(struct rdma_hqp *q, struct tern_host_req *r)
{
    struct rh_req *rr = &q->rq[r->cmd.cid];

    if (rr->mr != NULL) {
        ibv_dereg_mr(rr->mr);
        rr->mr = NULL;
    }
    q->completed++;
    tern_host_req_done(&q->base, r);
}

static int
on_send(struct rdma_hqp *q, uint16_t cid)
{
    struct tern_host_req *r = tern_host_req_by_cid(&q->base, cid);

    if (r == NULL || !(q->rq[cid].wait & RH_WAIT_SEND))
        return rh_fail(q, -EPROTO, "send completion for CID %u, which is not being sent", cid);
    q->rq[cid].wait &= (uint8_t)~RH_WAIT_SEND;
    if (q->rq[cid].wait == 0)
        finish(q, r);
    return 0;
}

static int
on_recv(struct rdma_hqp *q, const struct ibv_wc *wc)
{
    uint16_t slot = (uint16_t)wc->wr_id;
    struct tern_nvme_cpl cpl;
    struct tern_host_req *r;
    int rc;

    if (wc->opcode != IBV_WC_RECV || wc->byte_len < sizeof(cpl))
        return rh_fail(q, -EPROTO, "a response capsule of %u bytes (want %zu)", wc->byte_len,
                       sizeof(cpl));
    /* This design never offers a key for remote invalidation (keyed SGL
     * subtype 0: its memory regions serve every command), so a controller
     * that invalidates one breaks the commands after it: stop here. */
    if (wc->wc_flags & IBV_WC_WITH_INV)
        return rh_fail(q, -EPROTO, "the controller invalidated rkey 0x%x, which the host never "
                       "offered for invalidation", wc->invalidated_rkey);
    cpl = q->rsps[slot];
    rc = post_recv(q, slot);
    if (rc != 0)
        return rh_fail(q, -ENOTCONN, "ibv_post_recv: %s", strerror(rc));
    r = tern_host_req_by_cid(&q->base, cpl.cid);
    if (r == NULL || !(q->rq[cpl.cid].wait & RH_WAIT_RSP))
        return rh_fail(q, -EPROTO, "a response for CID %u, which is not in flight", cpl.cid);
    r->cpl = cpl;
    q->rq[cpl.cid].wait &= (uint8_t)~RH_WAIT_RSP;
    if (q->rq[cpl.cid].wait == 0)
        finish(q, r);
    return 0;
}

/* CM events after the connection is up: any that ends it fails the qpair. */
static int
cm_check(struct rdma_hqp *q)
{
    struct rdma_cm_event *ev;

    while (rdma_get_cm_event(q->ch, &ev) == 0) {
        enum rdma_cm_event_type type = ev->event;
        int status = ev->status;

        rdma_ack_cm_event(ev);
        switch (type) {
        case RDMA_CM_EVENT_DISCONNECTED:
        case RDMA_CM_EVENT_TIMEWAIT_EXIT:
            q->connected = false;
            return rh_fail(q, -ECONNRESET, "%s (status %d): the controller closed the connection",
                           rdma_event_str(type), status);
        case RDMA_CM_EVENT_DEVICE_REMOVAL:
            q->connected = false;
            return rh_fail(q, -ENODEV, "%s (status %d): the RDMA device went away",
                           rdma_event_str(type), status);
        case RDMA_CM_EVENT_ADDR_CHANGE:
        case RDMA_CM_EVENT_CONNECT_ERROR:
        case RDMA_CM_EVENT_UNREACHABLE:
        case RDMA_CM_EVENT_REJECTED:
            return rh_fail(q, -ECONNRESET, "%s (status %d)", rdma_event_str(type), status);
        default:
            TERN_LOG(g_log, INFO, "queue %u to %s: %s (status %d) ignored", q->base.qid, q->peer,
                     rdma_event_str(type), status);
            break;
        }
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return rh_fail(q, -errno, "rdma_get_cm_event: %s", strerror(errno));
    return 0;
}

static int
rdma_host_poll(struct tern_host_qpair *qp)
{
    struct rdma_hqp *q = hq(qp);
    struct ibv_wc wc[RH_CQ_BATCH];
    uint64_t now = tern_env_ticks();
    int n;

    if (q->err != 0)
        return q->err;
    q->completed = 0;
    if (now >= q->next_cm_check) {
        q->next_cm_check = now + tern_env_ticks_hz() * RH_CM_CHECK_MS / 1000;
        if (cm_check(q) != 0)
            return q->err;
    }
    for (int b = 0; b < RH_POLL_BATCHES; b++) {
        n = ibv_poll_cq(q->cq, RH_CQ_BATCH, wc);
        if (n < 0)
            return rh_fail(q, -EIO, "ibv_poll_cq failed");
        for (int i = 0; i < n; i++) {
            bool send = wc[i].wr_id & RH_WR_SEND;

            /* Counted even after a failure: disconnect waits for the rest. */
            if (send)
                q->sends_out--;
            else
                q->recvs_out--;
            if (q->err != 0)
                continue;
            if (wc[i].status != IBV_WC_SUCCESS)
                rh_fail(q, -EIO, "%s completion: %s (status %d, vendor error 0x%x)",
                        send ? "send" : "receive", ibv_wc_status_str(wc[i].status),
                        wc[i].status, wc[i].vendor_err);
            else if (send)
                on_send(q, (uint16_t)wc[i].wr_id);
            else
                on_recv(q, &wc[i]);
        }
        if (q->err != 0)
            return q->err;
        if (n < RH_CQ_BATCH)
            break;
    }
    return (int)q->completed;
}

static const struct tern_host_transport_ops g_rdma_host_ops = {
    .name = "RDMA",
    .trtype = TERN_NVMF_TRTYPE_RDMA,
    .qpair_connect = rdma_host_connect,
    .submit = rdma_host_submit,
    .poll = rdma_host_poll,
    .disconnect = rdma_host_disconnect,
    .mem_register = rdma_host_mem_register,
};
TERN_HOST_TRANSPORT_REGISTER(g_rdma_host_ops)
