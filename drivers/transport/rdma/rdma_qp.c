/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-qpair request engine of the NVMe/RDMA target: see rdma_qp.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rdma_proto.h"
#include "rdma_qp.h"
#include "tern_log.h"
#include "tern_nvme.h"

TERN_LOG_REGISTER(g_log, "tern.drv.transport.rdma.qp", INFO);

#define TREQ(r) ((struct rdma_treq *)((char *)(r) - offsetof(struct rdma_treq, sm)))
#define STATUS(sc) (TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, (sc)) | TERN_NVME_STATUS_DNR)

static void check_drained(struct rdma_qp *qp);
static bool try_read(struct rdma_treq *r);

/* ---- SGLs (NVMe-oF 1.1 7.3.2: keyed SGL data blocks, in-capsule data) ---- */
static uint16_t
keyed_desc(const struct tern_nvme_sgl *s, struct rdma_sgl *out)
{
    uint8_t sub = tern_nvme_sgl_subtype(s);
    struct rdma_desc *d;

    if (tern_nvme_sgl_type(s) != TERN_NVME_SGL_KEYED_DATA_BLOCK ||
        (sub != TERN_NVME_SGL_SUBTYPE_ADDRESS && sub != TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY))
        return STATUS(TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
    if (out->ndesc == RDMA_MAX_DESC)
        return STATUS(TERN_NVME_SC_INVALID_NUM_SGL_DESCIRPTORS);
    d = &out->desc[out->ndesc++];
    d->addr = s->address;
    d->length = tern_nvme_sgl_keyed_length(s);
    d->key = tern_nvme_sgl_key(s);
    if (sub == TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY) {
        /* One key to invalidate with the response: all must agree. */
        if (out->invalidate && out->inv_rkey != d->key)
            return STATUS(TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
        out->invalidate = true;
        out->inv_rkey = d->key;
    }
    out->length += d->length;
    return 0;
}

uint16_t
rdma_sgl_parse(const struct tern_nvme_cmd *cmd, uint8_t xfer, const uint8_t *icd,
               uint32_t icd_len, uint32_t max_io_size, struct rdma_sgl *out)
{
    const struct tern_nvme_sgl *sgl = &cmd->dptr.sgl1;
    uint8_t type = tern_nvme_sgl_type(sgl), sub = tern_nvme_sgl_subtype(sgl);
    uint8_t psdt = tern_nvme_cmd_psdt(cmd);
    uint16_t st;

    memset(out, 0, sizeof(*out));
    if (psdt != TERN_NVME_PSDT_SGL_MPTR_CONTIG && psdt != TERN_NVME_PSDT_SGL_MPTR_SGL) {
        /* Fabrics commands use SGLs only (Base 6.1). */
        if (xfer == TERN_NVME_XFER_NONE)
            return 0;
        return STATUS(TERN_NVME_SC_INVALID_FIELD);
    }
    if (xfer == TERN_NVME_XFER_NONE)
        return 0;       /* hosts send a null keyed descriptor: nothing to move */
    if (xfer == TERN_NVME_XFER_BIDIRECTIONAL)
        return STATUS(TERN_NVME_SC_INVALID_FIELD);
    if (type == TERN_NVME_SGL_DATA_BLOCK && sub == TERN_NVME_SGL_SUBTYPE_OFFSET) {
        /* In-capsule data: host-to-controller only, inside the capsule. */
        if (xfer != TERN_NVME_XFER_HOST_TO_CTRLR)
            return STATUS(TERN_NVME_SC_INVALID_FIELD);
        if (sgl->address > icd_len || sgl->unkeyed.length > icd_len - sgl->address)
            return STATUS(TERN_NVME_SC_INVALID_SGL_OFFSET);
        out->kind = sgl->unkeyed.length ? RDMA_SGL_IN_CAPSULE : RDMA_SGL_NONE;
        out->length = sgl->unkeyed.length;
        out->icd_offset = (uint32_t)sgl->address;
        return 0;
    }
    if (type == TERN_NVME_SGL_KEYED_DATA_BLOCK) {
        st = keyed_desc(sgl, out);
        if (st)
            return st;
    } else if (type == TERN_NVME_SGL_LAST_SEGMENT && sub == TERN_NVME_SGL_SUBTYPE_OFFSET) {
        /* Several keyed descriptors, in the capsule after the SQE. */
        uint32_t len = sgl->unkeyed.length, i;

        if (len == 0 || len % sizeof(struct tern_nvme_sgl) != 0)
            return STATUS(TERN_NVME_SC_INVALID_SGL_SEG_DESCRIPTOR);
        if (sgl->address > icd_len || len > icd_len - sgl->address)
            return STATUS(TERN_NVME_SC_INVALID_SGL_OFFSET);
        if (len / sizeof(struct tern_nvme_sgl) > RDMA_MAX_DESC)
            return STATUS(TERN_NVME_SC_INVALID_NUM_SGL_DESCIRPTORS);
        for (i = 0; i < len / sizeof(struct tern_nvme_sgl); i++) {
            struct tern_nvme_sgl d;

            memcpy(&d, icd + sgl->address + i * sizeof(d), sizeof(d));
            st = keyed_desc(&d, out);
            if (st)
                return st;
        }
    } else {
        return STATUS(TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
    }
    if (out->length > max_io_size)
        return STATUS(TERN_NVME_SC_DATA_SGL_LENGTH_INVALID);
    out->kind = out->length ? RDMA_SGL_KEYED : RDMA_SGL_NONE;
    return 0;
}

/*
 * Walk `length` bytes of the request's io units against its descriptors,
 * one WR per stretch of a descriptor that fits max_sge SGEs (an SGE never
 * crosses an io unit). Returns the number of WRs; fills the WRs numbered
 * first .. first + count - 1 into wrs[0 ..] (wrs NULL: only counts).
 */
static uint32_t
walk_data(const struct rdma_desc *desc, uint8_t ndesc, uint32_t length, uint32_t unit,
          uint32_t max_sge, struct rdma_treq *r, struct rdma_wr **wrs, uint32_t first,
          uint32_t count, uint8_t op)
{
    uint32_t nw = 0, off = 0, d;

    for (d = 0; d < ndesc && off < length; d++) {
        uint32_t dlen = desc[d].length < length - off ? desc[d].length : length - off;
        uint32_t doff = 0;

        while (doff < dlen) {
            struct rdma_wr *w = wrs && nw >= first && nw - first < count ? wrs[nw - first] : NULL;
            uint32_t nsge = 0, wlen = 0;

            while (doff < dlen && nsge < max_sge) {
                uint32_t u = off / unit, uoff = off % unit;
                uint32_t n = unit - uoff < dlen - doff ? unit - uoff : dlen - doff;

                if (w != NULL) {
                    w->sge[nsge].addr = (uint64_t)(uintptr_t)r->req.iov[u].iov_base + uoff;
                    w->sge[nsge].length = n;
                    w->sge[nsge].lkey = r->buf_lkey;
                }
                nsge++;
                wlen += n;
                off += n;
                doff += n;
            }
            if (w != NULL) {
                w->op = op;
                w->nsge = (uint8_t)nsge;
                w->invalidate = false;
                w->req = r;
                w->next = NULL;
                w->raddr = desc[d].addr + (doff - wlen);
                w->rkey = desc[d].key;
                w->length = wlen;
            }
            nw++;
        }
    }
    return nw;
}

uint32_t
rdma_data_wrs_needed(const struct rdma_desc *desc, uint8_t ndesc, uint32_t length, uint32_t unit,
                     uint32_t max_sge)
{
    if (unit == 0 || max_sge == 0)
        return 0;
    return walk_data(desc, ndesc, length, unit, max_sge, NULL, NULL, 0, 0, 0);
}

/* ---- moves and resources ---- */
static void
move(struct rdma_treq *r, enum rdma_req_state to)
{
    struct rdma_qp *qp = r->qp;

    uint64_t pending;

    if (rdma_req_move(&qp->qs, &r->sm, to) != 0)
        rdma_qp_fail(qp, true, "request state machine refused a move (a bug: see the log)");
    pending = (uint64_t)qp->qs.len[RDMA_Q_PENDING_BUF] + qp->qs.len[RDMA_Q_PENDING_READ] +
              qp->qs.len[RDMA_Q_PENDING_SEND];
    if (pending > qp->st.pending_max)
        qp->st.pending_max = pending;
}

static void
put_bufs(struct rdma_treq *r)
{
    if (r->nbufs) {
        r->qp->ops->put_bufs(r->qp, r->bufs, r->nbufs);
        r->nbufs = 0;
    }
}

/* A capsule buffer of a shared receive queue goes back there. */
static void
srq_give_back(struct rdma_qp *qp, struct rdma_recv *rv)
{
    qp->srq_held--;
    qp->ops->srq_return(qp, rv);
}

static void
release(struct rdma_treq *r)
{
    put_bufs(r);
    /* Its own receive queue's buffer is dropped with a torn-down qpair (a
     * live one reposted it before the response); an SRQ's goes back. */
    if (r->recv != NULL && r->qp->srq)
        srq_give_back(r->qp, r->recv);
    r->recv = NULL;
    r->req.iovcnt = 0;
    move(r, RDMA_REQ_FREE);
}

static int
repost_recv(struct rdma_qp *qp, struct rdma_recv *rv)
{
    int rc;

    if (qp->srq) {
        srq_give_back(qp, rv);
        return qp->error ? -ECONNRESET : 0;
    }
    if (qp->error)
        return -ECONNRESET;
    rc = qp->ops->post_recv(qp, rv);
    if (rc != 0) {
        rdma_qp_fail(qp, true, "posting a receive failed");
        return rc;
    }
    rv->posted = true;
    qp->recv_posted++;
    return 0;
}

/* Post a chain; on a partial post the posted WRs stay outstanding (their
 * completions come back as flushes) and the rest go back. */
static int
post_chain(struct rdma_qp *qp, struct rdma_wr *first, uint32_t n)
{
    uint32_t posted = n;
    struct rdma_wr *w;
    int rc = qp->ops->post_send(qp, first, &posted);

    if (rc == 0)
        posted = n;
    for (w = first; w != NULL; w = w->next) {
        if (posted > 0) {
            posted--;
            w->req->wr_posted++;
            qp->sq_used++;
            if (w->op == RDMA_WR_READ)
                qp->rd_used++;
        } else if (w->op != RDMA_WR_SEND) {
            qp->ops->put_wr(qp, w);
        }
    }
    if (rc != 0)
        rdma_qp_fail(qp, true, "posting a send-queue work request failed");
    return rc;
}

/* ---- the steps ---- */
static void
exec(struct rdma_treq *r)
{
    move(r, RDMA_REQ_EXECUTING);
    /* After a teardown the core answers at once (aborted) and the request
     * comes back through rdma_qp_req_complete. */
    tern_nvmf_request_exec(&r->req);
}

static bool
get_bufs(struct rdma_treq *r)
{
    struct rdma_qp *qp = r->qp;
    uint32_t unit = qp->lim.io_unit_size, len = r->req.length, n = (len + unit - 1) / unit;

    if (qp->ops->get_bufs(qp, r->bufs, n, &r->buf_lkey) != 0)
        return false;
    r->nbufs = n;
    tern_nvmf_request_set_units(&r->req, r->bufs, len, unit);
    return true;
}

/* NEED_BUF: take the request's data buffers. */
static bool
try_bufs(struct rdma_treq *r)
{
    if (!get_bufs(r))
        return false;
    if (r->req.xfer == TERN_NVME_XFER_HOST_TO_CTRLR) {
        r->rd_total = (uint16_t)rdma_data_wrs_needed(r->desc, r->ndesc, r->req.length,
                                                     r->qp->lim.io_unit_size, r->qp->lim.max_sge);
        r->rd_posted = r->rd_done = 0;
        move(r, RDMA_REQ_NEED_READ);
        if (r->qp->qs.len[RDMA_Q_PENDING_READ] == 1)
            try_read(r);
    } else {
        exec(r);
    }
    return true;
}

/*
 * NEED_READ: post as many of the request's READs as the read depth, the
 * send queue and the data WR pool allow (a request needing more READs than
 * the negotiated depth is split over several posts). It stays NEED_READ,
 * on the pending-read queue, until the last is posted.
 */
static bool
try_read(struct rdma_treq *r)
{
    struct rdma_qp *qp = r->qp;
    struct rdma_wr *wrs[RDMA_MAX_WRS];
    uint32_t room_rd = qp->lim.rd_depth - qp->rd_used, room_sq = qp->lim.sq_depth - qp->sq_used;
    uint32_t n = (uint32_t)(r->rd_total - r->rd_posted), i;

    if (n > room_rd)
        n = room_rd;
    if (n > room_sq)
        n = room_sq;
    if (n == 0) {
        if (room_rd == 0)
            qp->st.rd_waits++;
        else
            qp->st.sq_waits++;
        return false;
    }
    if (qp->ops->get_wrs(qp, wrs, n) != 0) {
        qp->st.wr_waits++;
        return false;
    }
    walk_data(r->desc, r->ndesc, r->req.length, qp->lim.io_unit_size, qp->lim.max_sge, r, wrs,
              r->rd_posted, n, RDMA_WR_READ);
    for (i = 0; i + 1 < n; i++)
        wrs[i]->next = wrs[i + 1];
    r->rd_posted = (uint16_t)(r->rd_posted + n);
    if (r->rd_posted == r->rd_total)
        move(r, RDMA_REQ_READING);
    qp->st.reads_posted += n;
    post_chain(qp, wrs[0], n);
    return true;
}

/* NEED_SEND: RDMA WRITE the data (if any) and SEND the response, chained. */
static bool
try_send(struct rdma_treq *r)
{
    struct rdma_qp *qp = r->qp;
    struct rdma_wr *wrs[RDMA_MAX_WRS];
    uint32_t nw = 0, i;
    bool data = r->req.xfer == TERN_NVME_XFER_CTRLR_TO_HOST && r->req.data_len > 0 &&
                tern_nvmf_request_status(&r->req) == 0;
    struct rdma_wr *s = &r->send_wr;

    if (data)
        nw = rdma_data_wrs_needed(r->desc, r->ndesc, r->req.data_len, qp->lim.io_unit_size,
                                  qp->lim.max_sge);
    if (qp->sq_used + nw + 1 > qp->lim.sq_depth) {
        qp->st.sq_waits++;
        return false;
    }
    if (nw && qp->ops->get_wrs(qp, wrs, nw) != 0) {
        qp->st.wr_waits++;
        return false;
    }
    /* The capsule's buffer is no longer needed (the command was copied,
     * in-capsule data consumed): give it back to the host before the
     * response, so its next command always finds a receive posted. */
    if (r->recv != NULL) {
        struct rdma_recv *rv = r->recv;

        r->recv = NULL;
        if (repost_recv(qp, rv) != 0) {
            /* Torn down: r went back to FREE with it. */
            for (i = 0; i < nw; i++)
                qp->ops->put_wr(qp, wrs[i]);
            return true;
        }
    }
    if (nw) {
        walk_data(r->desc, r->ndesc, r->req.data_len, qp->lim.io_unit_size, qp->lim.max_sge, r,
                  wrs, 0, nw, RDMA_WR_WRITE);
        for (i = 0; i + 1 < nw; i++)
            wrs[i]->next = wrs[i + 1];
        wrs[nw - 1]->next = s;
        qp->st.writes_posted += nw;
    }
    *r->rsp = r->req.cpl;
    s->op = RDMA_WR_SEND;
    s->nsge = 1;
    s->req = r;
    s->next = NULL;
    s->invalidate = r->invalidate;
    s->rkey = r->inv_rkey;
    s->raddr = 0;
    s->length = TERN_RDMA_RSP_CAPSULE;
    s->sge[0].addr = (uint64_t)(uintptr_t)r->rsp;
    s->sge[0].length = TERN_RDMA_RSP_CAPSULE;
    s->sge[0].lkey = r->rsp_lkey;
    move(r, RDMA_REQ_SENDING);
    qp->st.sends_posted++;
    post_chain(qp, nw ? wrs[0] : s, nw + 1);
    return true;
}

/* A capsule arrived and a request object is free. */
static void
start(struct rdma_qp *qp, struct rdma_recv *rv)
{
    struct rdma_treq *r = TREQ(rdma_req_first(&qp->qs, RDMA_Q_FREE));
    const uint8_t *buf = (const uint8_t *)(uintptr_t)rv->sge.addr;
    uint32_t icd_len = rv->byte_len - TERN_RDMA_CMD_CAPSULE_MIN;
    struct rdma_sgl sgl;
    uint16_t st;

    qp->st.capsules++;
    memcpy(&r->cmd, buf, sizeof(r->cmd));
    r->recv = rv;
    r->req.qpair = &qp->nq;
    r->req.cmd = &r->cmd;
    r->req.xfer = tern_nvme_cmd_xfer(&r->cmd);
    r->req.iovcnt = 0;
    r->req.length = 0;
    r->req.data_len = 0;
    r->nbufs = 0;
    r->wr_posted = 0;
    r->rd_total = r->rd_posted = r->rd_done = 0;
    st = rdma_sgl_parse(&r->cmd, r->req.xfer, buf + TERN_RDMA_CMD_CAPSULE_MIN, icd_len,
                        qp->lim.max_io_size, &sgl);
    r->invalidate = sgl.invalidate;
    r->inv_rkey = sgl.inv_rkey;
    if (st != 0) {
        move(r, RDMA_REQ_EXECUTING);
        tern_nvmf_request_fail(&r->req, st);
        return;
    }
    r->req.length = sgl.length;
    switch (sgl.kind) {
    case RDMA_SGL_NONE:
        exec(r);
        return;
    case RDMA_SGL_IN_CAPSULE:
        r->req.iov[0].iov_base = (void *)(uintptr_t)(buf + TERN_RDMA_CMD_CAPSULE_MIN +
                                                     sgl.icd_offset);
        r->req.iov[0].iov_len = sgl.length;
        r->req.iovcnt = 1;
        exec(r);
        return;
    case RDMA_SGL_KEYED:
        memcpy(r->desc, sgl.desc, sizeof(sgl.desc[0]) * sgl.ndesc);
        r->ndesc = sgl.ndesc;
        /* Keep FIFO order: only try now when nobody waits before it. */
        move(r, RDMA_REQ_NEED_BUF);
        if (qp->qs.len[RDMA_Q_PENDING_BUF] == 1 && !try_bufs(r))
            qp->st.buf_waits++;
        return;
    }
}

/* ---- entry points ---- */
void
rdma_qp_init(struct rdma_qp *qp, const struct rdma_qp_ops *ops, const struct rdma_qp_limits *lim,
             struct rdma_treq *reqs, uint32_t nreqs, struct rdma_recv *recvs, uint32_t nrecvs)
{
    uint32_t i;

    qp->ops = ops;
    qp->lim = *lim;
    if (qp->lim.max_sge > RDMA_WR_MAX_SGE)
        qp->lim.max_sge = RDMA_WR_MAX_SGE;
    if (qp->lim.max_sge == 0)
        qp->lim.max_sge = 1;
    qp->reqs = reqs;
    qp->nreqs = nreqs;
    qp->recvs = recvs;
    qp->nrecvs = recvs != NULL ? nrecvs : 0;
    qp->srq = recvs == NULL;
    qp->srq_held = 0;
    TAILQ_INIT(&qp->rx_pending);
    qp->rx_pending_len = 0;
    qp->recv_posted = qp->sq_used = qp->rd_used = 0;
    qp->error = qp->closed_told = qp->drained = false;
    qp->in_engine = 0;
    memset(&qp->st, 0, sizeof(qp->st));
    qp->why[0] = '\0';
    for (i = 0; i < nreqs; i++) {
        reqs[i].qp = qp;
        reqs[i].req.qpair = &qp->nq;
        reqs[i].req.cmd = &reqs[i].cmd;
        reqs[i].nbufs = 0;
        reqs[i].wr_posted = 0;
        reqs[i].recv = NULL;
    }
    rdma_req_queues_init(&qp->qs);
    for (i = 0; i < nreqs; i++)
        rdma_req_add(&qp->qs, &reqs[i].sm);
    for (i = 0; i < qp->nrecvs; i++) {
        recvs[i].op = RDMA_WR_RECV;
        recvs[i].posted = false;
        recvs[i].qp = qp;
    }
}

int
rdma_qp_start(struct rdma_qp *qp)
{
    uint32_t i;
    int rc = 0;

    qp->in_engine++;
    for (i = 0; i < qp->nrecvs && rc == 0; i++)
        rc = repost_recv(qp, &qp->recvs[i]);
    qp->in_engine--;
    check_drained(qp);
    return rc;
}

static void
send_wc(struct rdma_qp *qp, struct rdma_wr *w)
{
    struct rdma_treq *r = w->req;

    r->wr_posted--;
    qp->sq_used--;
    if (w->op == RDMA_WR_READ) {
        qp->rd_used--;
        r->rd_done++;
    }
    if (w->op != RDMA_WR_SEND)
        qp->ops->put_wr(qp, w);
    if (qp->error) {
        /* Reclaim once nothing of it is on the wire and the core does not
         * hold it. */
        if (r->wr_posted == 0 && r->sm.state != RDMA_REQ_EXECUTING && r->sm.state != RDMA_REQ_FREE)
            release(r);
        return;
    }
    switch (r->sm.state) {
    case RDMA_REQ_READING:
        if (r->rd_done == r->rd_total)
            exec(r);
        break;
    case RDMA_REQ_SENDING:
        if (r->wr_posted == 0)
            release(r);
        break;
    case RDMA_REQ_NEED_READ:
        break;      /* earlier READs of a split request */
    default:
        rdma_qp_fail(qp, true, "work completion for a request in an unexpected state");
        break;
    }
}

bool
rdma_qp_wc(struct rdma_qp *qp, void *wr_id, bool ok, uint32_t byte_len)
{
    bool first_error = false;

    qp->in_engine++;
    if (*(uint8_t *)wr_id == RDMA_WR_RECV) {
        struct rdma_recv *rv = wr_id;
        bool keep = false;

        rv->posted = false;
        if (qp->srq)
            qp->srq_held++;
        else
            qp->recv_posted--;
        if (ok && !qp->error) {
            if (byte_len < TERN_RDMA_CMD_CAPSULE_MIN) {
                qp->st.protocol_errors++;
                rdma_qp_fail(qp, true, "a command capsule shorter than 64 bytes");
            } else if (qp->srq && qp->srq_held > qp->nreqs) {
                qp->st.protocol_errors++;
                rdma_qp_fail(qp, true, "more commands outstanding than the queue depth");
            } else {
                rv->byte_len = byte_len;
                TAILQ_INSERT_TAIL(&qp->rx_pending, rv, link);
                qp->rx_pending_len++;
                keep = true;
            }
        }
        if (!keep && qp->srq)
            srq_give_back(qp, rv);
    } else {
        send_wc(qp, wr_id);
    }
    if (!ok && !qp->error) {
        first_error = true;
        rdma_qp_fail(qp, true, "work completion error");
    }
    qp->in_engine--;
    if (!qp->error)
        rdma_qp_drain(qp);
    check_drained(qp);
    return first_error;
}

uint32_t
rdma_qp_drain(struct rdma_qp *qp)
{
    struct rdma_req *sm;
    struct rdma_recv *rv;
    uint32_t moved = 0;

    if (qp->error)
        return 0;
    qp->in_engine++;
    while (!qp->error && (sm = rdma_req_first(&qp->qs, RDMA_Q_PENDING_SEND)) != NULL &&
           try_send(TREQ(sm)))
        moved++;
    while (!qp->error && (sm = rdma_req_first(&qp->qs, RDMA_Q_PENDING_READ)) != NULL &&
           try_read(TREQ(sm)))
        moved++;
    while (!qp->error && (sm = rdma_req_first(&qp->qs, RDMA_Q_PENDING_BUF)) != NULL &&
           try_bufs(TREQ(sm)))
        moved++;
    while (!qp->error && (rv = TAILQ_FIRST(&qp->rx_pending)) != NULL &&
           rdma_req_first(&qp->qs, RDMA_Q_FREE) != NULL) {
        TAILQ_REMOVE(&qp->rx_pending, rv, link);
        qp->rx_pending_len--;
        start(qp, rv);
        moved++;
    }
    qp->in_engine--;
    check_drained(qp);
    return moved;
}

void
rdma_qp_fail(struct rdma_qp *qp, bool error, const char *why)
{
    uint32_t i;

    if (qp->error)
        return;
    qp->error = true;
    snprintf(qp->why, sizeof(qp->why), "%s", why);
    qp->in_engine++;
    qp->ops->disconnect(qp);
    /* Capsules not started are dropped; their buffers are not posted (an
     * SRQ's go back to it). */
    if (qp->srq) {
        struct rdma_recv *rv;

        while ((rv = TAILQ_FIRST(&qp->rx_pending)) != NULL) {
            TAILQ_REMOVE(&qp->rx_pending, rv, link);
            srq_give_back(qp, rv);
        }
    }
    TAILQ_INIT(&qp->rx_pending);
    qp->rx_pending_len = 0;
    /* Requests with nothing on the wire and not in the core go back now;
     * the others when their last completion (a flush) comes in, or when
     * the core completes them. */
    for (i = 0; i < qp->nreqs; i++) {
        struct rdma_treq *r = &qp->reqs[i];

        if (r->sm.state != RDMA_REQ_FREE && r->sm.state != RDMA_REQ_EXECUTING &&
            r->wr_posted == 0)
            release(r);
    }
    if (!qp->closed_told) {
        qp->closed_told = true;
        tern_nvmf_qpair_closed(&qp->nq, error);
    }
    qp->in_engine--;
    check_drained(qp);
}

void
rdma_qp_req_complete(struct tern_nvmf_request *req)
{
    struct rdma_treq *r = (struct rdma_treq *)req;
    struct rdma_qp *qp = r->qp;

    qp->in_engine++;
    if (qp->error) {
        release(r);
    } else {
        move(r, RDMA_REQ_NEED_SEND);
        if (qp->qs.len[RDMA_Q_PENDING_SEND] == 1)
            try_send(r);
    }
    qp->in_engine--;
    check_drained(qp);
}

static void
check_drained(struct rdma_qp *qp)
{
    if (!qp->error || qp->drained || qp->in_engine > 0)
        return;
    if (qp->qs.in_state[RDMA_REQ_FREE] != qp->nreqs || qp->recv_posted != 0 ||
        qp->srq_held != 0 || qp->sq_used != 0)
        return;
    qp->drained = true;
    qp->ops->drained(qp);
}
