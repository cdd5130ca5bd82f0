/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP, target half (NVM Express TCP Transport Specification 1.0).
 *
 * Listening sockets live on the main lcore, which accepts and hands each
 * connection to one lcore (round robin). From then on only that lcore
 * touches the connection: its poller asks epoll which sockets are readable,
 * reads each once into a receive buffer and parses every whole PDU in it,
 * then writes all queued PDUs of each connection with one writev. Data
 * buffers come from one pool of io_unit_size buffers (num_shared_buffers);
 * a request that finds it empty waits on its lcore's pending queue, which
 * is retried on every poll (SEEDS.md incident 2). Request objects and their
 * in-capsule buffers are one array per connection, max_queue_depth deep.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcp_pdu.h"
#include "tern_config.h"
#include "tern_env.h"
#include "tern_nvmf_transport.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.drv.transport.tcp", INFO);

#ifndef TAILQ_FOREACH_SAFE      /* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                            \
    for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

#define RBUF_SIZE (64 * 1024)
#define EPOLL_BATCH 64
#define TX_IOV_MAX 64
/* The Linux host sends up to 8 KiB in-capsule on the admin queue. */
#define ADMIN_ICD_MAX 8192
#define ACCEPT_POLL_US 1000
#define TERM_LINGER_US 100000

struct tcp_transport;
struct tcp_conn;
struct tcp_req;

struct tx_item {
    TAILQ_ENTRY(tx_item) link;
    struct iovec iov[TERN_NVMF_REQ_MAX_IOV + 6];
    int iovcnt;
    size_t len;
    size_t sent;
    void (*done)(struct tcp_conn *c, struct tx_item *it);
};

enum req_state {
    REQ_FREE,
    REQ_NEED_BUF,           /* on the lcore's pending queue */
    REQ_RX_ICD,             /* in-capsule data being read */
    REQ_WAIT_H2C,           /* R2T sent, H2CData arriving */
    REQ_EXEC,               /* in the target core */
    REQ_TX,                 /* response queued or being written */
};

struct tcp_req {
    struct tern_nvmf_request req;
    struct tcp_conn *conn;
    uint16_t ttag;
    enum req_state state;
    struct tern_nvme_cmd cmd;
    uint8_t *icd;                   /* in_capsule_data_size bytes */
    void *bufs[TERN_NVMF_REQ_MAX_IOV];
    uint32_t nbufs;
    uint32_t h2c_done;              /* host-to-controller bytes received */
    uint16_t fail_status;           /* set when a data digest failed */
    TAILQ_ENTRY(tcp_req) link;      /* free list or pending queue */
    struct tx_item r2t_tx;
    struct tx_item rsp_tx;
    struct tern_nvme_tcp_r2t r2t;
    uint8_t r2t_dgst[4];
    struct tern_nvme_tcp_data c2h;
    uint8_t c2h_pad[4 + 128];       /* header digest and PDO padding */
    uint8_t ddgst[4];
    struct tern_nvme_tcp_rsp rsp;
    uint8_t rsp_dgst[4];
};

enum rx_phase {
    RX_HDR,
    RX_PAD,
    RX_DATA,
    RX_DDGST,
};

enum conn_state {
    CONN_IC,                /* waiting for ICReq */
    CONN_RUNNING,
    CONN_TERMINATING,       /* a C2HTermReq is going out; close after */
    CONN_CLOSED,
};

struct tcp_pg;

struct tcp_conn {
    struct tern_nvmf_qpair qp;
    struct tcp_pg *pg;
    int fd;
    enum conn_state state;
    bool hdgst, ddgst;
    uint32_t cpda_bytes;            /* our alignment for H2C (CPDA 0: none) */
    uint32_t hpda_bytes;            /* the host's alignment for C2H */
    uint32_t maxh2cdata;
    /* receive */
    uint8_t *rbuf;
    uint32_t rlen, rpos;
    enum rx_phase rx;
    uint8_t hdr[sizeof(struct tern_nvme_tcp_icreq) + 4];
    struct tcp_pdu_layout lay;
    uint32_t rx_left;               /* bytes left in this phase */
    struct tcp_req *rx_req;         /* whose buffers the data goes to */
    uint32_t rx_off;                /* offset into the request's data */
    uint32_t rx_crc;
    uint8_t rx_dgst[4];
    bool rx_stalled;                /* waiting for a data buffer */
    /* send */
    TAILQ_HEAD(, tx_item) txq;
    bool in_tx_list;
    TAILQ_ENTRY(tcp_conn) tx_link;
    struct tx_item icresp_tx;
    struct tern_nvme_tcp_icresp icresp;
    struct tx_item term_tx;
    uint8_t term_buf[sizeof(struct tern_nvme_tcp_term_req) + TERN_NVME_TCP_TERM_REQ_MAX_DATA];
    bool in_close;
    uint64_t term_deadline;
    /* requests */
    struct tcp_req *reqs;
    uint8_t *icd_mem;
    uint32_t nreqs;
    uint32_t icd_size;
    TAILQ_HEAD(, tcp_req) free_reqs;
    uint32_t busy;                  /* requests not free */
    TAILQ_ENTRY(tcp_conn) link;
    bool in_rx_list;
    TAILQ_ENTRY(tcp_conn) rx_link;  /* stalled or with unparsed bytes */
    char peer[TERN_NVMF_TRADDR_MAX + TERN_NVMF_TRSVCID_MAX + 2];
};

struct tcp_pg {
    struct tcp_transport *tt;
    uint32_t lcore;
    int epfd;
    struct tern_poller *poller;
    TAILQ_HEAD(, tcp_conn) conns;
    TAILQ_HEAD(, tcp_conn) txlist;
    TAILQ_HEAD(, tcp_conn) rxlist;
    TAILQ_HEAD(, tcp_req) pending_buf;
    uint32_t pending_buf_len;
    uint32_t nconns;
    /* counters */
    uint64_t accepted, closed, pdus_rx, pdus_tx, bytes_rx, bytes_tx;
    uint64_t hdgst_errors, ddgst_errors, term_sent, term_received, buf_waits;
    uint64_t recv_calls, writev_calls;
};

struct tcp_listener {
    TAILQ_ENTRY(tcp_listener) link;
    struct tern_nvmf_trid trid;
    int fd;
};

struct tcp_transport {
    struct tern_nvmf_transport base;
    bool c2h_success;
    struct tern_mempool *buf_pool;
    TAILQ_HEAD(, tcp_listener) listeners;
    struct tern_poller *accept_poller;
    struct tcp_pg *pg[TERN_MAX_LCORES];
};

static void conn_close(struct tcp_conn *c, bool error);
static void conn_free(struct tcp_conn *c);
static void conn_parse(struct tcp_conn *c);
static int conn_flush(struct tcp_conn *c);

static struct tcp_transport *
tt_of(const struct tern_nvmf_transport *t)
{
    return (struct tcp_transport *)(uintptr_t)t;
}

/* ---- requests and buffers ---- */
static void
req_put_bufs(struct tcp_req *r)
{
    if (r->nbufs) {
        tern_mempool_put_bulk(r->conn->pg->tt->buf_pool, r->bufs, r->nbufs);
        r->nbufs = 0;
    }
}

static void
req_free(struct tcp_req *r)
{
    struct tcp_conn *c = r->conn;

    req_put_bufs(r);
    if (r->state == REQ_NEED_BUF) {
        TAILQ_REMOVE(&c->pg->pending_buf, r, link);
        c->pg->pending_buf_len--;
    }
    r->state = REQ_FREE;
    TAILQ_INSERT_TAIL(&c->free_reqs, r, link);
    c->busy--;
}

/* Give the request `len` bytes of data buffer: the in-capsule buffer when
 * it fits, else io units from the pool. false: the pool is short. */
static bool
req_get_bufs(struct tcp_req *r, uint32_t len)
{
    struct tcp_conn *c = r->conn;
    uint32_t unit = c->pg->tt->base.opts.io_unit_size, n;

    r->req.iovcnt = 0;
    if (len == 0)
        return true;
    if (len <= c->icd_size) {
        r->req.iov[0].iov_base = r->icd;
        r->req.iov[0].iov_len = len;
        r->req.iovcnt = 1;
        return true;
    }
    n = (len + unit - 1) / unit;
    if (tern_mempool_get_bulk(c->pg->tt->buf_pool, r->bufs, n) != 0)
        return false;
    r->nbufs = n;
    tern_nvmf_request_set_units(&r->req, r->bufs, len, unit);
    return true;
}

/* ---- transmit ---- */
static void
tx_queue(struct tcp_conn *c, struct tx_item *it)
{
    int i;

    it->len = 0;
    it->sent = 0;
    for (i = 0; i < it->iovcnt; i++)
        it->len += it->iov[i].iov_len;
    TAILQ_INSERT_TAIL(&c->txq, it, link);
    if (!c->in_tx_list) {
        c->in_tx_list = true;
        TAILQ_INSERT_TAIL(&c->pg->txlist, c, tx_link);
    }
}

static void
tx_add(struct tx_item *it, void *base, size_t len)
{
    if (len == 0)
        return;
    it->iov[it->iovcnt].iov_base = base;
    it->iov[it->iovcnt].iov_len = len;
    it->iovcnt++;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
rsp_sent(struct tcp_conn *c, struct tx_item *it)
{
    struct tcp_req *r = (struct tcp_req *)((uint8_t *)it - offsetof(struct tcp_req, rsp_tx));

    (void)c;
    req_free(r);
}

static void
nothing_sent(struct tcp_conn *c, struct tx_item *it)
{
    (void)c;
    (void)it;
}

/* The core is done with a request: C2HData (if any), then CapsuleResp
 * unless the SUCCESS flag made it unnecessary. */
static void
tcp_req_complete(struct tern_nvmf_request *req)
{
    struct tcp_req *r = (struct tcp_req *)req;
    struct tcp_conn *c = r->conn;
    struct tx_item *it = &r->rsp_tx;
    uint16_t status = tern_nvmf_request_status(req);
    bool success_flag;
    int i;

    if (c->state == CONN_CLOSED) {
        req_free(r);
        if (c->busy == 0 && !c->in_close)
            conn_free(c);           /* the last request the core held */
        return;
    }
    r->state = REQ_TX;
    it->iovcnt = 0;
    it->done = rsp_sent;
    success_flag = c->pg->tt->c2h_success && c->qp.sq_flow_disabled && status == 0;
    if (req->data_len > 0 && r->req.xfer == TERN_NVME_XFER_CTRLR_TO_HOST) {
        uint32_t hd = c->hdgst ? 4 : 0, dd = c->ddgst ? 4 : 0;
        uint32_t pdo = (uint32_t)sizeof(r->c2h) + hd, pad, left = req->data_len;

        if (c->hpda_bytes > 1 && pdo % c->hpda_bytes)
            pdo += c->hpda_bytes - pdo % c->hpda_bytes;
        pad = pdo - (uint32_t)sizeof(r->c2h) - hd;
        memset(&r->c2h, 0, sizeof(r->c2h));
        r->c2h.ch.pdu_type = TERN_NVME_TCP_C2H_DATA;
        r->c2h.ch.flags = TERN_NVME_TCP_FLAG_LAST_PDU | (success_flag ? TERN_NVME_TCP_FLAG_SUCCESS : 0) |
                          (hd ? TERN_NVME_TCP_FLAG_HDGSTF : 0) | (dd ? TERN_NVME_TCP_FLAG_DDGSTF : 0);
        r->c2h.ch.hlen = sizeof(r->c2h);
        r->c2h.ch.pdo = (uint8_t)pdo;
        r->c2h.ch.plen = pdo + req->data_len + dd;
        r->c2h.cccid = r->cmd.cid;
        r->c2h.datao = 0;
        r->c2h.datal = req->data_len;
        tx_add(it, &r->c2h, sizeof(r->c2h));
        memset(r->c2h_pad, 0, sizeof(r->c2h_pad));
        if (hd)
            put_le32(r->c2h_pad, tcp_crc32c(&r->c2h, sizeof(r->c2h)));
        tx_add(it, r->c2h_pad, hd + pad);
        {
            uint32_t crc = TCP_CRC32C_INIT;

            for (i = 0; i < req->iovcnt && left > 0; i++) {
                size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;

                tx_add(it, req->iov[i].iov_base, n);
                if (dd)
                    crc = tcp_crc32c_update(crc, req->iov[i].iov_base, n);
                left -= (uint32_t)n;
            }
            if (dd) {
                put_le32(r->ddgst, TCP_CRC32C_FINAL(crc));
                tx_add(it, r->ddgst, 4);
            }
        }
        c->pg->pdus_tx++;
        if (success_flag) {
            tx_queue(c, it);
            return;
        }
    }
    memset(&r->rsp, 0, sizeof(r->rsp));
    r->rsp.ch.pdu_type = TERN_NVME_TCP_CAPSULE_RESP;
    r->rsp.ch.hlen = sizeof(r->rsp);
    r->rsp.ch.plen = sizeof(r->rsp) + (c->hdgst ? 4 : 0);
    r->rsp.ch.flags = c->hdgst ? TERN_NVME_TCP_FLAG_HDGSTF : 0;
    r->rsp.cqe = req->cpl;
    tx_add(it, &r->rsp, sizeof(r->rsp));
    if (c->hdgst) {
        put_le32(r->rsp_dgst, tcp_crc32c(&r->rsp, sizeof(r->rsp)));
        tx_add(it, r->rsp_dgst, 4);
    }
    c->pg->pdus_tx++;
    tx_queue(c, it);
}

static void
send_r2t(struct tcp_req *r)
{
    struct tcp_conn *c = r->conn;
    struct tx_item *it = &r->r2t_tx;

    r->state = REQ_WAIT_H2C;
    r->h2c_done = 0;
    memset(&r->r2t, 0, sizeof(r->r2t));
    r->r2t.ch.pdu_type = TERN_NVME_TCP_R2T;
    r->r2t.ch.hlen = sizeof(r->r2t);
    r->r2t.ch.plen = sizeof(r->r2t) + (c->hdgst ? 4 : 0);
    r->r2t.ch.flags = c->hdgst ? TERN_NVME_TCP_FLAG_HDGSTF : 0;
    r->r2t.cccid = r->cmd.cid;
    r->r2t.ttag = r->ttag;
    r->r2t.r2to = 0;
    r->r2t.r2tl = r->req.length;
    it->iovcnt = 0;
    it->done = nothing_sent;
    tx_add(it, &r->r2t, sizeof(r->r2t));
    if (c->hdgst) {
        put_le32(r->r2t_dgst, tcp_crc32c(&r->r2t, sizeof(r->r2t)));
        tx_add(it, r->r2t_dgst, 4);
    }
    c->pg->pdus_tx++;
    tx_queue(c, it);
}

/* Fatal protocol error: tell the host why (C2HTermReq) and close. */
static void
conn_terminate(struct tcp_conn *c, uint16_t fes, uint32_t fei, const void *hdr, uint32_t hdr_len,
               const char *why)
{
    struct tern_nvme_tcp_term_req *t = (struct tern_nvme_tcp_term_req *)c->term_buf;
    uint32_t n = hdr_len > TERN_NVME_TCP_TERM_REQ_MAX_DATA ? TERN_NVME_TCP_TERM_REQ_MAX_DATA
                                                            : hdr_len;

    if (c->state == CONN_TERMINATING || c->state == CONN_CLOSED)
        return;
    TERN_LOG(g_log, ERR, "connection from %s (queue %u): %s; sending C2HTermReq (FES %u, FEI %u) "
             "and closing", c->peer, c->qp.qid, why, fes, fei);
    memset(t, 0, sizeof(*t));
    t->ch.pdu_type = TERN_NVME_TCP_C2H_TERM_REQ;
    t->ch.hlen = sizeof(*t);
    t->ch.plen = sizeof(*t) + n;
    t->fes = fes;
    put_le32(t->fei, fei);
    if (n)
        memcpy(c->term_buf + sizeof(*t), hdr, n);
    c->term_tx.iovcnt = 0;
    c->term_tx.done = nothing_sent;
    tx_add(&c->term_tx, c->term_buf, sizeof(*t) + n);
    /* The term request goes out before anything still queued, but after
     * a PDU already partly on the wire. */
    c->term_tx.len = sizeof(*t) + n;
    c->term_tx.sent = 0;
    if (TAILQ_EMPTY(&c->txq) || TAILQ_FIRST(&c->txq)->sent == 0) {
        TAILQ_INSERT_HEAD(&c->txq, &c->term_tx, link);
    } else {
        TAILQ_INSERT_AFTER(&c->txq, TAILQ_FIRST(&c->txq), &c->term_tx, link);
    }
    if (!c->in_tx_list) {
        c->in_tx_list = true;
        TAILQ_INSERT_TAIL(&c->pg->txlist, c, tx_link);
    }
    c->pg->term_sent++;
    c->state = CONN_TERMINATING;
    c->term_deadline = tern_env_ticks() + tern_env_ticks_hz() * TERM_LINGER_US / 1000000;
    conn_flush(c);
}

/*
 * The host closed its end: a reset (it closed with data unread, or aborted)
 * or a write after its FIN. That is how a host tears down its queues (the
 * Linux host does so for every I/O queue when it resets or deletes a
 * controller, then goes on with the admin queue): an orderly end of the
 * queue, like a FIN, not a transport failure that kills the controller.
 */
static bool
peer_closed(int err)
{
    return err == ECONNRESET || err == EPIPE;
}

/* Returns -1 when the connection was closed (and may be freed). */
static int
conn_flush(struct tcp_conn *c)
{
    struct iovec iov[TX_IOV_MAX];
    struct tx_item *it;
    ssize_t n;
    int cnt;

    while (!TAILQ_EMPTY(&c->txq) && c->state != CONN_CLOSED) {
        cnt = 0;
        TAILQ_FOREACH(it, &c->txq, link) {
            size_t skip = it->sent;
            int i;

            for (i = 0; i < it->iovcnt && cnt < TX_IOV_MAX; i++) {
                if (skip >= it->iov[i].iov_len) {
                    skip -= it->iov[i].iov_len;
                    continue;
                }
                iov[cnt].iov_base = (uint8_t *)it->iov[i].iov_base + skip;
                iov[cnt].iov_len = it->iov[i].iov_len - skip;
                skip = 0;
                cnt++;
            }
            if (cnt == TX_IOV_MAX)
                break;
        }
        c->pg->writev_calls++;
        n = writev(c->fd, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            if (peer_closed(errno)) {
                TERN_LOG(g_log, INFO, "connection from %s (queue %u) reset by the host while "
                         "sending (%s)", c->peer, c->qp.qid, strerror(errno));
                conn_close(c, false);
                return -1;
            }
            TERN_LOG(g_log, ERR, "connection from %s (queue %u): send failed: %s", c->peer,
                     c->qp.qid, strerror(errno));
            conn_close(c, true);
            return -1;
        }
        c->pg->bytes_tx += (uint64_t)n;
        while (n > 0 && (it = TAILQ_FIRST(&c->txq)) != NULL) {
            size_t left = it->len - it->sent;

            if ((size_t)n < left) {
                it->sent += (size_t)n;
                return 0;   /* the socket is full */
            }
            n -= (ssize_t)left;
            it->sent = it->len;
            TAILQ_REMOVE(&c->txq, it, link);
            it->done(c, it);
        }
    }
    return 0;
}

/* ---- receive ---- */
static void
rx_next_pdu(struct tcp_conn *c)
{
    c->rx = RX_HDR;
    c->rx_req = NULL;
}

static void
rx_start_data(struct tcp_conn *c, struct tcp_req *r, uint32_t off)
{
    c->rx_req = r;
    c->rx_off = off;
    c->rx_crc = TCP_CRC32C_INIT;
    if (c->lay.pad) {
        c->rx = RX_PAD;
        c->rx_left = c->lay.pad;
    } else {
        c->rx = RX_DATA;
        c->rx_left = c->lay.data_len;
    }
}

static void
exec_req(struct tcp_req *r)
{
    if (r->fail_status) {
        tern_nvmf_request_fail(&r->req, r->fail_status);
        return;
    }
    r->state = REQ_EXEC;
    tern_nvmf_request_exec(&r->req);
}

/* A request got its buffers: go on with it. */
static void
req_buffers_ready(struct tcp_req *r)
{
    struct tcp_conn *c = r->conn;

    if (r->req.xfer == TERN_NVME_XFER_HOST_TO_CTRLR) {
        if (c->rx_stalled && c->rx_req == r) {
            /* In-capsule data larger than the request's own buffer. */
            c->rx_stalled = false;
            r->state = REQ_RX_ICD;
            rx_start_data(c, r, 0);
            if (!c->in_rx_list) {
                c->in_rx_list = true;
                TAILQ_INSERT_TAIL(&c->pg->rxlist, c, rx_link);
            }
        } else {
            send_r2t(r);
        }
    } else {
        exec_req(r);
    }
}

static void
capsule(struct tcp_conn *c)
{
    const struct tern_nvme_tcp_cmd *pdu = (const struct tern_nvme_tcp_cmd *)c->hdr;
    const struct tern_nvmf_transport_opts *o = &c->pg->tt->base.opts;
    struct tcp_req *r = TAILQ_FIRST(&c->free_reqs);
    enum tcp_sgl_kind kind;
    uint32_t len;
    uint16_t status;

    if (r == NULL) {
        conn_terminate(c, TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, c->hdr, pdu->ch.hlen,
                       "the host sent more commands than the queue holds");
        return;
    }
    TAILQ_REMOVE(&c->free_reqs, r, link);
    c->busy++;
    r->cmd = pdu->sqe;
    r->req.cmd = &r->cmd;
    r->req.xfer = tern_nvme_cmd_xfer(&r->cmd);
    r->req.iovcnt = 0;
    r->req.length = 0;
    r->fail_status = 0;
    r->nbufs = 0;
    status = tcp_sgl_parse(&r->cmd, r->req.xfer, c->lay.data_len, o->max_io_size, &kind, &len);
    if (status != 0) {
        /* The command fails; its in-capsule data, if any, is read into
         * no request (dropped). */
        r->fail_status = status;
        r->state = REQ_EXEC;
        if (c->lay.data_len) {
            rx_start_data(c, NULL, 0);
        } else {
            rx_next_pdu(c);
        }
        tern_nvmf_request_fail(&r->req, status);
        return;
    }
    r->req.length = len;
    if (kind == TCP_SGL_IN_CAPSULE) {
        if (!req_get_bufs(r, len)) {
            /* Stop reading this socket until a buffer frees up. */
            r->state = REQ_NEED_BUF;
            TAILQ_INSERT_TAIL(&c->pg->pending_buf, r, link);
            c->pg->pending_buf_len++;
            c->pg->buf_waits++;
            c->rx_stalled = true;
            c->rx_req = r;
            return;
        }
        r->state = REQ_RX_ICD;
        rx_start_data(c, r, 0);
        return;
    }
    rx_next_pdu(c);
    if (kind == TCP_SGL_NONE) {
        exec_req(r);
        return;
    }
    if (!TAILQ_EMPTY(&c->pg->pending_buf) || !req_get_bufs(r, len)) {
        r->state = REQ_NEED_BUF;
        TAILQ_INSERT_TAIL(&c->pg->pending_buf, r, link);
        c->pg->pending_buf_len++;
        c->pg->buf_waits++;
        return;
    }
    req_buffers_ready(r);
}

static void
h2c_data(struct tcp_conn *c)
{
    const struct tern_nvme_tcp_data *d = (const struct tern_nvme_tcp_data *)c->hdr;
    struct tcp_req *r;

    if (d->ttag >= c->nreqs || (r = &c->reqs[d->ttag])->state != REQ_WAIT_H2C) {
        conn_terminate(c, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD,
                       offsetof(struct tern_nvme_tcp_data, ttag), c->hdr, d->ch.hlen,
                       "H2CData for a transfer tag with no R2T outstanding");
        return;
    }
    if (d->cccid != r->cmd.cid) {
        conn_terminate(c, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD,
                       offsetof(struct tern_nvme_tcp_data, cccid), c->hdr, d->ch.hlen,
                       "H2CData command ID does not match its R2T");
        return;
    }
    if (d->datal != c->lay.data_len) {
        conn_terminate(c, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD,
                       offsetof(struct tern_nvme_tcp_data, datal), c->hdr, d->ch.hlen,
                       "H2CData DATAL does not match the PDU length");
        return;
    }
    if (d->datao != r->h2c_done || (uint64_t)d->datao + d->datal > r->req.length) {
        conn_terminate(c, TERN_NVME_TCP_FES_DATA_OUT_OF_RANGE,
                       offsetof(struct tern_nvme_tcp_data, datao), c->hdr, d->ch.hlen,
                       "H2CData offset or length outside the R2T");
        return;
    }
    if (((d->ch.flags & TERN_NVME_TCP_FLAG_LAST_PDU) != 0) !=
        ((uint64_t)d->datao + d->datal == r->req.length)) {
        conn_terminate(c, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD,
                       offsetof(struct tern_nvme_tcp_ch, flags), c->hdr, d->ch.hlen,
                       "H2CData LAST_PDU flag does not match the end of the R2T");
        return;
    }
    rx_start_data(c, r, d->datao);
}

static void
icreq(struct tcp_conn *c)
{
    const struct tern_nvme_tcp_icreq *q = (const struct tern_nvme_tcp_icreq *)c->hdr;
    struct tern_nvme_tcp_icresp *p = &c->icresp;

    if (q->pfv != TERN_NVME_TCP_PFV_1_0) {
        conn_terminate(c, TERN_NVME_TCP_FES_UNSUPPORTED_PARAMETER,
                       offsetof(struct tern_nvme_tcp_icreq, pfv), q, sizeof(*q),
                       "ICReq asks for an unknown PDU format version");
        return;
    }
    if (q->hpda > 31) {
        conn_terminate(c, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD,
                       offsetof(struct tern_nvme_tcp_icreq, hpda), q, sizeof(*q),
                       "ICReq HPDA is over 31");
        return;
    }
    c->hdgst = (q->dgst & TERN_NVME_TCP_DGST_HDR) != 0;
    c->ddgst = (q->dgst & TERN_NVME_TCP_DGST_DATA) != 0;
    c->hpda_bytes = (q->hpda + 1u) * 4u;
    c->cpda_bytes = 0;
    c->maxh2cdata = c->pg->tt->base.opts.max_io_size;
    memset(p, 0, sizeof(*p));
    p->ch.pdu_type = TERN_NVME_TCP_ICRESP;
    p->ch.hlen = sizeof(*p);
    p->ch.plen = sizeof(*p);
    p->pfv = TERN_NVME_TCP_PFV_1_0;
    p->cpda = 0;
    p->dgst = (uint8_t)((c->hdgst ? TERN_NVME_TCP_DGST_HDR : 0) |
                        (c->ddgst ? TERN_NVME_TCP_DGST_DATA : 0));
    p->maxh2cdata = c->maxh2cdata;
    c->icresp_tx.iovcnt = 0;
    c->icresp_tx.done = nothing_sent;
    tx_add(&c->icresp_tx, p, sizeof(*p));
    tx_queue(c, &c->icresp_tx);
    c->pg->pdus_tx++;
    c->state = CONN_RUNNING;
    rx_next_pdu(c);
}

static void
term_req_received(struct tcp_conn *c)
{
    const struct tern_nvme_tcp_term_req *t = (const struct tern_nvme_tcp_term_req *)c->hdr;

    c->pg->term_received++;
    TERN_LOG(g_log, ERR, "connection from %s (queue %u): the host terminated it (H2CTermReq FES "
             "%u, FEI %u)", c->peer, c->qp.qid, t->fes, get_le32(t->fei));
    conn_close(c, true);
}

/* A whole header is in c->hdr. */
static void
header_done(struct tcp_conn *c)
{
    const struct tern_nvme_tcp_ch *ch = (const struct tern_nvme_tcp_ch *)c->hdr;

    c->pg->pdus_rx++;
    if (c->lay.hdr_len > ch->hlen) {
        uint32_t want = get_le32(c->hdr + ch->hlen);

        if (tcp_crc32c(c->hdr, ch->hlen) != want) {
            c->pg->hdgst_errors++;
            conn_terminate(c, TERN_NVME_TCP_FES_HDGST_ERROR, 0, c->hdr, ch->hlen,
                           "header digest mismatch");
            return;
        }
    }
    switch (ch->pdu_type) {
    case TERN_NVME_TCP_ICREQ:
        icreq(c);
        return;
    case TERN_NVME_TCP_CAPSULE_CMD:
        capsule(c);
        return;
    case TERN_NVME_TCP_H2C_DATA:
        h2c_data(c);
        return;
    case TERN_NVME_TCP_H2C_TERM_REQ:
        term_req_received(c);
        return;
    }
}

/* The PDU's data (and digest) arrived completely. */
static void
data_done(struct tcp_conn *c)
{
    struct tcp_req *r = c->rx_req;
    const struct tern_nvme_tcp_ch *ch = (const struct tern_nvme_tcp_ch *)c->hdr;

    if (r == NULL) {
        rx_next_pdu(c);
        return;
    }
    if (c->lay.ddgst && TCP_CRC32C_FINAL(c->rx_crc) != get_le32(c->rx_dgst)) {
        /* A data digest error fails the command, not the connection (TCP 3.4.2). */
        c->pg->ddgst_errors++;
        TERN_LOG(g_log, ERR, "connection from %s (queue %u): data digest mismatch on command "
                 "%u", c->peer, c->qp.qid, r->cmd.cid);
        r->fail_status = TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                          TERN_NVME_SC_TRANSIENT_TRANSPORT_ERROR);
    }
    rx_next_pdu(c);
    if (ch->pdu_type == TERN_NVME_TCP_H2C_DATA) {
        r->h2c_done += c->lay.data_len;
        if (r->h2c_done < r->req.length)
            return;
    }
    exec_req(r);
}

static void
copy_to_req(struct tcp_conn *c, const uint8_t *src, uint32_t n)
{
    struct tcp_req *r = c->rx_req;
    uint32_t off = c->rx_off;
    int i;

    if (c->lay.ddgst)
        c->rx_crc = tcp_crc32c_update(c->rx_crc, src, n);
    c->rx_off += n;
    if (r == NULL)
        return;
    for (i = 0; i < r->req.iovcnt && n > 0; i++) {
        uint32_t len = (uint32_t)r->req.iov[i].iov_len;

        if (off >= len) {
            off -= len;
            continue;
        }
        {
            uint32_t k = len - off < n ? len - off : n;

            memcpy((uint8_t *)r->req.iov[i].iov_base + off, src, k);
            src += k;
            n -= k;
            off = 0;
        }
    }
}

static uint32_t
max_data_for(const struct tcp_conn *c, uint8_t type)
{
    if (type == TERN_NVME_TCP_H2C_DATA)
        return c->maxh2cdata;
    if (c->qp.state == TERN_NVMF_QPAIR_ACTIVE && c->qp.qid != 0)
        return c->icd_size;
    return ADMIN_ICD_MAX > c->icd_size ? ADMIN_ICD_MAX : c->icd_size;
}

/* Parse everything buffered. */
static void
conn_parse(struct tcp_conn *c)
{
    while (c->state == CONN_IC || c->state == CONN_RUNNING) {
        uint32_t avail = c->rlen - c->rpos;
        const uint8_t *p = c->rbuf + c->rpos;

        if (c->rx_stalled)
            return;
        switch (c->rx) {
        case RX_HDR: {
            const struct tern_nvme_tcp_ch *ch = (const struct tern_nvme_tcp_ch *)p;
            uint16_t fes;
            uint32_t fei;

            if (avail < sizeof(*ch))
                return;
            if (!tcp_pdu_check_ch(ch, c->state == CONN_IC ? TCP_PHASE_ICREQ : TCP_PHASE_RUNNING,
                                  c->hdgst, c->ddgst, c->cpda_bytes,
                                  max_data_for(c, ch->pdu_type), &c->lay, &fes, &fei)) {
                conn_terminate(c, fes, fei, ch, avail < 128 ? avail : 128,
                               "malformed PDU header");
                return;
            }
            if (avail < c->lay.hdr_len)
                return;
            memcpy(c->hdr, p, c->lay.hdr_len);
            c->rpos += c->lay.hdr_len;
            if (ch->pdu_type == TERN_NVME_TCP_H2C_TERM_REQ) {
                /* Its data is the host's copy of our header: wait for it whole. */
                if (c->rlen - c->rpos < c->lay.data_len) {
                    c->rpos -= c->lay.hdr_len;
                    return;
                }
                c->rpos += c->lay.data_len;
            }
            header_done(c);
            break;
        }
        case RX_PAD: {
            uint32_t n = avail < c->rx_left ? avail : c->rx_left;

            if (n == 0 && c->rx_left != 0)
                return;
            c->rpos += n;
            c->rx_left -= n;
            if (c->rx_left == 0) {
                c->rx = RX_DATA;
                c->rx_left = c->lay.data_len;
            }
            break;
        }
        case RX_DATA: {
            uint32_t n = avail < c->rx_left ? avail : c->rx_left;

            if (n == 0 && c->rx_left != 0)
                return;
            if (n)
                copy_to_req(c, p, n);
            c->rpos += n;
            c->rx_left -= n;
            if (c->rx_left == 0) {
                if (c->lay.ddgst) {
                    c->rx = RX_DDGST;
                    c->rx_left = 4;
                } else {
                    data_done(c);
                }
            }
            break;
        }
        case RX_DDGST: {
            uint32_t n = avail < c->rx_left ? avail : c->rx_left;

            if (n == 0)
                return;
            memcpy(c->rx_dgst + 4 - c->rx_left, p, n);
            c->rpos += n;
            c->rx_left -= n;
            if (c->rx_left == 0)
                data_done(c);
            break;
        }
        }
    }
}

static void
conn_read(struct tcp_conn *c)
{
    ssize_t n;

    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > RBUF_SIZE / 2) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == RBUF_SIZE)
        return;     /* full of unparsed bytes: parse first */
    c->pg->recv_calls++;
    n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
    if (n == 0) {
        TERN_LOG(g_log, INFO, "connection from %s (queue %u) closed by the host", c->peer,
                 c->qp.qid);
        conn_close(c, false);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        if (peer_closed(errno)) {
            TERN_LOG(g_log, INFO, "connection from %s (queue %u) reset by the host", c->peer,
                     c->qp.qid);
            conn_close(c, false);
            return;
        }
        TERN_LOG(g_log, ERR, "connection from %s (queue %u): receive failed: %s", c->peer,
                 c->qp.qid, strerror(errno));
        conn_close(c, true);
        return;
    }
    c->pg->bytes_rx += (uint64_t)n;
    c->rlen += (uint32_t)n;
    conn_parse(c);
}

/* ---- connection life ---- */
static void
conn_free(struct tcp_conn *c)
{
    struct tcp_pg *pg = c->pg;

    tern_nvmf_qpair_fini(&c->qp);
    TAILQ_REMOVE(&pg->conns, c, link);
    pg->nconns--;
    pg->closed++;
    tern_env_free(c->icd_mem);
    tern_env_free(c->reqs);
    free(c->rbuf);
    tern_env_free(c);
}

/*
 * Close the socket now; free the connection when the core has given back
 * every request it holds (tcp_req_complete calls here again).
 */
static void
conn_close(struct tcp_conn *c, bool error)
{
    struct tcp_pg *pg = c->pg;
    uint32_t i;

    if (c->state != CONN_CLOSED) {
        c->state = CONN_CLOSED;
        epoll_ctl(pg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        if (c->in_tx_list) {
            TAILQ_REMOVE(&pg->txlist, c, tx_link);
            c->in_tx_list = false;
        }
        if (c->in_rx_list) {
            TAILQ_REMOVE(&pg->rxlist, c, rx_link);
            c->in_rx_list = false;
        }
        TAILQ_INIT(&c->txq);
        /* Requests the core does not hold go back now. */
        for (i = 0; i < c->nreqs; i++) {
            struct tcp_req *r = &c->reqs[i];

            if (r->state != REQ_FREE && r->state != REQ_EXEC)
                req_free(r);
        }
        /* The core may hand requests back from inside this call. */
        c->in_close = true;
        tern_nvmf_qpair_closed(&c->qp, error);
        c->in_close = false;
    }
    if (c->busy == 0)
        conn_free(c);
}

static void
tcp_qpair_disconnect(struct tern_nvmf_qpair *qp)
{
    struct tcp_conn *c = (struct tcp_conn *)qp;

    if (c->state != CONN_CLOSED)
        conn_close(c, false);
}

struct new_conn {
    struct tcp_transport *tt;
    int fd;
    struct tern_nvmf_trid local, peer;
};

static void
conn_create_on_lcore(void *a1, void *a2)
{
    struct new_conn *nc = a1;
    struct tcp_pg *pg = nc->tt->pg[tern_env_lcore_id()];
    const struct tern_nvmf_transport_opts *o = &nc->tt->base.opts;
    struct tcp_conn *c = NULL;
    struct epoll_event ev;
    uint32_t i;
    (void)a2;

    if (pg == NULL || !tern_nvmf_accepting())
        goto fail;
    c = tern_env_zmalloc("tcp_conn", sizeof(*c), 64, tern_env_lcore_socket(pg->lcore));
    if (c == NULL)
        goto fail;
    c->pg = pg;
    c->fd = nc->fd;
    c->state = CONN_IC;
    c->nreqs = o->max_queue_depth > o->max_aq_depth ? o->max_queue_depth : o->max_aq_depth;
    c->icd_size = o->in_capsule_data_size;
    c->rbuf = malloc(RBUF_SIZE);
    c->reqs = tern_env_zmalloc("tcp_reqs", (size_t)c->nreqs * sizeof(*c->reqs), 64,
                               tern_env_lcore_socket(pg->lcore));
    c->icd_mem = c->icd_size ? tern_env_zmalloc("tcp_icd", (size_t)c->nreqs * c->icd_size, 64,
                                                tern_env_lcore_socket(pg->lcore))
                             : NULL;
    if (c->rbuf == NULL || c->reqs == NULL || (c->icd_size && c->icd_mem == NULL)) {
        TERN_LOG(g_log, ERR, "no memory for a connection from %s:%s (%u requests of %u bytes "
                 "in-capsule data)", nc->peer.traddr, nc->peer.trsvcid, c->nreqs, c->icd_size);
        goto fail;
    }
    TAILQ_INIT(&c->free_reqs);
    TAILQ_INIT(&c->txq);
    for (i = 0; i < c->nreqs; i++) {
        struct tcp_req *r = &c->reqs[i];

        r->conn = c;
        r->ttag = (uint16_t)i;
        r->state = REQ_FREE;
        r->icd = c->icd_mem ? c->icd_mem + (size_t)i * c->icd_size : NULL;
        r->req.qpair = &c->qp;
        r->req.cmd = &r->cmd;
        TAILQ_INSERT_TAIL(&c->free_reqs, r, link);
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%s", nc->peer.traddr, nc->peer.trsvcid);
    c->qp.transport = &nc->tt->base;
    c->qp.local = nc->local;
    c->qp.peer = nc->peer;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(pg->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        TERN_LOG(g_log, ERR, "cannot poll the connection from %s: %s", c->peer, strerror(errno));
        goto fail;
    }
    tern_nvmf_qpair_init(&c->qp);
    TAILQ_INSERT_TAIL(&pg->conns, c, link);
    pg->nconns++;
    pg->accepted++;
    rx_next_pdu(c);
    TERN_LOG(g_log, INFO, "connection from %s to %s:%s on lcore %u", c->peer, nc->local.traddr,
             nc->local.trsvcid, pg->lcore);
    free(nc);
    return;
fail:
    if (c != NULL) {
        free(c->rbuf);
        tern_env_free(c->reqs);
        tern_env_free(c->icd_mem);
        tern_env_free(c);
    }
    close(nc->fd);
    free(nc);
}

/* ---- per-lcore poller ---- */
static void
pending_buf_run(struct tcp_pg *pg)
{
    struct tcp_req *r;

    while ((r = TAILQ_FIRST(&pg->pending_buf)) != NULL) {
        if (!req_get_bufs(r, r->req.length))
            return;
        TAILQ_REMOVE(&pg->pending_buf, r, link);
        pg->pending_buf_len--;
        req_buffers_ready(r);
    }
}

static int
pg_poll(void *arg)
{
    struct tcp_pg *pg = arg;
    struct epoll_event ev[EPOLL_BATCH];
    struct tcp_conn *c, *tmp;
    int n, i, busy = 0;

    /* Every poll, busy or idle: waiters for buffers first. */
    if (!TAILQ_EMPTY(&pg->pending_buf)) {
        pending_buf_run(pg);
        busy = 1;
    }
    while ((c = TAILQ_FIRST(&pg->rxlist)) != NULL) {
        TAILQ_REMOVE(&pg->rxlist, c, rx_link);
        c->in_rx_list = false;
        conn_parse(c);
        busy = 1;
    }
    n = pg->nconns ? epoll_wait(pg->epfd, ev, EPOLL_BATCH, 0) : 0;
    for (i = 0; i < n; i++) {
        c = ev[i].data.ptr;
        if (c->state == CONN_CLOSED || c->state == CONN_TERMINATING)
            continue;
        conn_read(c);
        busy = 1;
    }
    TAILQ_FOREACH_SAFE(c, &pg->txlist, tx_link, tmp) {
        if (conn_flush(c) != 0)
            continue;
        if (TAILQ_EMPTY(&c->txq)) {
            TAILQ_REMOVE(&pg->txlist, c, tx_link);
            c->in_tx_list = false;
        }
        busy = 1;
    }
    TAILQ_FOREACH_SAFE(c, &pg->conns, link, tmp) {
        if (c->state == CONN_TERMINATING &&
            (TAILQ_EMPTY(&c->txq) || tern_env_ticks() > c->term_deadline))
            conn_close(c, true);
    }
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

static int
tcp_lcore_init(struct tern_nvmf_transport *t)
{
    struct tcp_transport *tt = tt_of(t);
    uint32_t lcore = tern_env_lcore_id();
    struct tcp_pg *pg;

    pg = calloc(1, sizeof(*pg));
    if (pg == NULL)
        return -ENOMEM;
    pg->tt = tt;
    pg->lcore = lcore;
    TAILQ_INIT(&pg->conns);
    TAILQ_INIT(&pg->txlist);
    TAILQ_INIT(&pg->rxlist);
    TAILQ_INIT(&pg->pending_buf);
    pg->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (pg->epfd < 0) {
        int rc = -errno;

        free(pg);
        return rc;
    }
    pg->poller = tern_poller_register(pg_poll, pg, 0, "nvmf_tcp");
    if (pg->poller == NULL) {
        close(pg->epfd);
        free(pg);
        return -ENOMEM;
    }
    tt->pg[lcore] = pg;
    return 0;
}

static void
tcp_lcore_fini(struct tern_nvmf_transport *t)
{
    struct tcp_transport *tt = tt_of(t);
    uint32_t lcore = tern_env_lcore_id();
    struct tcp_pg *pg = lcore < TERN_MAX_LCORES ? tt->pg[lcore] : NULL;
    struct tcp_conn *c;

    if (pg == NULL)
        return;
    while ((c = TAILQ_FIRST(&pg->conns)) != NULL) {
        if (c->state != CONN_CLOSED)
            conn_close(c, false);
        if (TAILQ_FIRST(&pg->conns) == c) {
            /* Still held by the core: forget it; shutdown reported it. */
            TAILQ_REMOVE(&pg->conns, c, link);
            pg->nconns--;
        }
    }
    tern_poller_unregister(&pg->poller);
    close(pg->epfd);
    tt->pg[lcore] = NULL;
    free(pg);
}

/* ---- listening (main lcore) ---- */
static int
accept_poll(void *arg)
{
    struct tcp_transport *tt = arg;
    struct tcp_listener *l;
    int busy = 0;

    TAILQ_FOREACH(l, &tt->listeners, link) {
        for (;;) {
            struct sockaddr_storage sa;
            socklen_t salen = sizeof(sa);
            struct new_conn *nc;
            int fd, one = 1;
            uint32_t lcore;

            fd = accept4(l->fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                    errno != ECONNABORTED)
                    TERN_LOG(g_log, ERR, "accept on %s:%s failed: %s", l->trid.traddr,
                             l->trid.trsvcid, strerror(errno));
                break;
            }
            busy = 1;
            if (!tern_nvmf_accepting()) {
                close(fd);
                continue;
            }
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            nc = calloc(1, sizeof(*nc));
            if (nc == NULL) {
                close(fd);
                continue;
            }
            nc->tt = tt;
            nc->fd = fd;
            nc->local = l->trid;
            tern_nvmf_trid_from_sockaddr(&nc->peer, TERN_NVMF_TRTYPE_TCP, (struct sockaddr *)&sa);
            lcore = tern_nvmf_next_lcore();
            if (tern_reactor_send_msg(lcore, conn_create_on_lcore, nc, NULL) != 0) {
                TERN_LOG(g_log, ERR, "cannot hand the connection from %s to lcore %u",
                         nc->peer.traddr, lcore);
                close(fd);
                free(nc);
            }
        }
    }
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

static int
tcp_listen(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid, char *why,
           size_t why_len)
{
    struct tcp_transport *tt = tt_of(t);
    struct sockaddr_storage ss;
    socklen_t len;
    struct tcp_listener *l;
    int fd, one = 1, family, rc;

    rc = tern_nvmf_trid_to_sockaddr(trid, &ss, why, why_len);
    if (rc != 0)
        return rc;
    family = ss.ss_family;
    len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 512) != 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot listen on %s port %s: %s", trid->traddr, trid->trsvcid,
                 strerror(errno));
        close(fd);
        return rc;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        return -ENOMEM;
    }
    l->trid = *trid;
    l->fd = fd;
    TAILQ_INSERT_TAIL(&tt->listeners, l, link);
    if (tt->accept_poller == NULL)
        tt->accept_poller = tern_poller_register(accept_poll, tt, ACCEPT_POLL_US, "nvmf_tcp_accept");
    TERN_LOG(g_log, NOTICE, "NVMe/TCP target listening on %s port %s", trid->traddr,
             trid->trsvcid);
    return 0;
}

static void
tcp_stop_listen(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid)
{
    struct tcp_transport *tt = tt_of(t);
    struct tcp_listener *l;

    TAILQ_FOREACH(l, &tt->listeners, link) {
        if (tern_nvmf_trid_equal(&l->trid, trid)) {
            TAILQ_REMOVE(&tt->listeners, l, link);
            close(l->fd);
            TERN_LOG(g_log, NOTICE, "NVMe/TCP target no longer listening on %s port %s",
                     trid->traddr, trid->trsvcid);
            free(l);
            break;
        }
    }
    if (TAILQ_EMPTY(&tt->listeners))
        tern_poller_unregister(&tt->accept_poller);
}

/* ---- creation and options ---- */
struct tcp_params {
    bool c2h_success;
};

static struct tern_nvmf_transport *
tcp_create(const struct tern_nvmf_transport_opts *opts, const json_t *params, char *why,
           size_t why_len)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct tcp_params, c2h_success, TERN_RPC_BOOL, false),
    };
    struct tcp_params p = { .c2h_success = true };
    struct tcp_transport *tt;

    if (params != NULL &&
        tern_rpc_decode(params, spec, sizeof(spec) / sizeof(spec[0]), &p, why, why_len) != 0)
        return NULL;
    tt = calloc(1, sizeof(*tt));
    if (tt == NULL) {
        snprintf(why, why_len, "no memory");
        return NULL;
    }
    tt->c2h_success = p.c2h_success;
    TAILQ_INIT(&tt->listeners);
    tt->buf_pool = tern_mempool_create("nvmf_tcp_buf", opts->num_shared_buffers, opts->io_unit_size,
                                       TERN_ENV_SOCKET_ANY);
    if (tt->buf_pool == NULL) {
        snprintf(why, why_len, "cannot allocate %u shared buffers of %u bytes (%.1f MiB of DPDK "
                 "memory): lower num_shared_buffers or io_unit_size, or give the EAL more memory",
                 opts->num_shared_buffers, opts->io_unit_size,
                 (double)opts->num_shared_buffers * opts->io_unit_size / (1024.0 * 1024.0));
        free(tt);
        return NULL;
    }
    return &tt->base;
}

static void
tcp_destroy(struct tern_nvmf_transport *t)
{
    struct tcp_transport *tt = tt_of(t);
    struct tcp_listener *l;

    while ((l = TAILQ_FIRST(&tt->listeners)) != NULL) {
        TAILQ_REMOVE(&tt->listeners, l, link);
        close(l->fd);
        free(l);
    }
    tern_poller_unregister(&tt->accept_poller);
    tern_mempool_free(tt->buf_pool);
    free(tt);
}

static void
tcp_dump_opts(const struct tern_nvmf_transport *t, json_t *o)
{
    json_object_set_new(o, "c2h_success", json_boolean(tt_of(t)->c2h_success));
}

static void
tcp_lcore_stats(struct tern_nvmf_transport *t, json_t *o)
{
    struct tcp_transport *tt = tt_of(t);
    struct tcp_pg *pg = tt->pg[tern_env_lcore_id()];

    if (pg == NULL)
        return;
    {
        uint32_t busy = 0, total = 0;
        struct tcp_conn *c;

        TAILQ_FOREACH(c, &pg->conns, link) {
            busy += c->busy;
            total += c->nreqs;
        }
        json_object_set_new(o, "requests", json_integer(total));
        json_object_set_new(o, "requests_in_use", json_integer(busy));
    }
    json_object_set_new(o, "connections", json_integer(pg->nconns));
    json_object_set_new(o, "accepted", json_integer((json_int_t)pg->accepted));
    json_object_set_new(o, "closed", json_integer((json_int_t)pg->closed));
    json_object_set_new(o, "pending_data_buffer", json_integer(pg->pending_buf_len));
    json_object_set_new(o, "buffer_waits", json_integer((json_int_t)pg->buf_waits));
    json_object_set_new(o, "shared_buffers_free", json_integer(tern_mempool_avail(tt->buf_pool)));
    json_object_set_new(o, "shared_buffers", json_integer(tern_mempool_size(tt->buf_pool)));
    json_object_set_new(o, "pdus_received", json_integer((json_int_t)pg->pdus_rx));
    json_object_set_new(o, "pdus_sent", json_integer((json_int_t)pg->pdus_tx));
    json_object_set_new(o, "bytes_received", json_integer((json_int_t)pg->bytes_rx));
    json_object_set_new(o, "bytes_sent", json_integer((json_int_t)pg->bytes_tx));
    json_object_set_new(o, "recv_calls", json_integer((json_int_t)pg->recv_calls));
    json_object_set_new(o, "writev_calls", json_integer((json_int_t)pg->writev_calls));
    json_object_set_new(o, "header_digest_errors", json_integer((json_int_t)pg->hdgst_errors));
    json_object_set_new(o, "data_digest_errors", json_integer((json_int_t)pg->ddgst_errors));
    json_object_set_new(o, "term_reqs_sent", json_integer((json_int_t)pg->term_sent));
    json_object_set_new(o, "term_reqs_received", json_integer((json_int_t)pg->term_received));
}

static const struct tern_nvmf_transport_ops g_tcp_ops = {
    .name = "TCP",
    .trtype = TERN_NVMF_TRTYPE_TCP,
    /* SGLs supported; offset addressing in data blocks (in-capsule data). */
    .sgls = TERN_NVME_CTRLR_SGLS_SUPPORTED | TERN_NVME_CTRLR_SGLS_OFFSET,
    .create = tcp_create,
    .dump_opts = tcp_dump_opts,
    .lcore_init = tcp_lcore_init,
    .lcore_fini = tcp_lcore_fini,
    .destroy = tcp_destroy,
    .listen = tcp_listen,
    .stop_listen = tcp_stop_listen,
    .req_complete = tcp_req_complete,
    .qpair_disconnect = tcp_qpair_disconnect,
    .lcore_stats = tcp_lcore_stats,
};
TERN_NVMF_TRANSPORT_REGISTER(g_tcp_ops)
