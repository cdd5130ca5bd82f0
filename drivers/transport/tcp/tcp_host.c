/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP host half (NVMe/TCP Transport Specification 1.0): one non-blocking
 * socket per qpair, polled by the thread that owns the qpair. Commands go out
 * as CapsuleCmd PDUs with in-capsule data when the write fits, otherwise the
 * data follows each R2T as H2CData PDUs; read data arrives as C2HData (with
 * SUCCESS, no CapsuleResp follows). Header and data digests are CRC32C.
 *
 * Sending: a FIFO of PDUs, each a request's capsule or one H2CData chunk,
 * gathered into one sendmsg per poll (and per submit when the socket is
 * idle). Receiving: one recv of up to 64 KiB per poll into a buffer, then
 * every whole PDU in it; data is copied into the request's buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcp_pdu.h"
#include "tern_env.h"
#include "tern_host_transport.h"
#include "tern_log.h"

TERN_LOG_REGISTER(g_log, "tern.drv.tcp.host", NOTICE);

#define HQ_RX_BUF (64 * 1024)
#define HQ_MAX_IOV 64
#define HQ_ADMIN_ICD 8192       /* admin queue in-capsule data (TCP 3.3) */
#define HQ_HDR_MAX (sizeof(struct tern_nvme_tcp_cmd) + TERN_NVME_TCP_DIGEST_LEN + 128)

enum hreq_state {
    HREQ_FREE = 0,
    HREQ_TX,            /* its capsule or H2CData is queued */
    HREQ_WAIT,          /* waiting for R2T, C2HData or the response */
};

/* One PDU to send. */
struct tx_pdu {
    struct tern_host_req *req;
    uint8_t hdr[HQ_HDR_MAX];    /* CH + PDU header + header digest + pad */
    uint32_t hdr_len;
    uint32_t data_off;          /* request data carried, [off, off+len) */
    uint32_t data_len;
    uint8_t ddgst[TERN_NVME_TCP_DIGEST_LEN];
    bool has_ddgst;
    bool is_h2c;
    struct tx_pdu *next;
};

enum rx_state {
    RX_CH,              /* reading the 8-byte common header */
    RX_HDR,             /* the rest of the header (and its digest) */
    RX_PAD,
    RX_DATA,
    RX_DDGST,
};

struct tcp_hqp {
    struct tern_host_qpair base;
    int fd;
    int err;                    /* the connection failed: -errno, reported once */
    bool hdgst, ddgst;
    uint32_t cpda_bytes;
    uint32_t maxh2cdata;
    char peer[TERN_HOST_TRADDR_MAX + TERN_HOST_TRSVCID_MAX + 8];
    /* tx */
    struct tx_pdu *pdus;        /* one per request (a request has at most one queued) */
    struct tx_pdu *tx_head, *tx_tail;
    uint32_t tx_off;            /* bytes of tx_head already sent */
    /* rx */
    uint8_t *rx;
    uint32_t rx_start, rx_end;
    enum rx_state rx_state;
    uint8_t hdr[sizeof(struct tern_nvme_tcp_icresp) + TERN_NVME_TCP_DIGEST_LEN];
    uint32_t hdr_have;
    struct tcp_pdu_layout lay;
    uint32_t rx_left;
    struct tern_host_req *rx_req;
    uint32_t rx_off;            /* where the data goes in rx_req */
    uint32_t rx_crc;
    uint8_t rx_dgst[TERN_NVME_TCP_DIGEST_LEN];
    uint32_t completed;         /* in this poll */
};

static struct tcp_hqp *
hq(struct tern_host_qpair *qp)
{
    return (struct tcp_hqp *)qp;
}

/* The connection is unusable from here on: log why, once. */
static int
hq_fail(struct tcp_hqp *q, int rc, const char *what)
{
    if (q->err == 0) {
        TERN_LOG(g_log, ERR, "queue %u to %s: %s", q->base.qid, q->peer, what);
        q->err = rc;
    }
    return q->err;
}

/* ---- connection set-up ---- */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = ev};
        uint64_t now = tern_env_ticks();
        int ms, rc;

        if (now >= deadline)
            return -ETIMEDOUT;
        ms = (int)((deadline - now) * 1000 / tern_env_ticks_hz()) + 1;
        rc = poll(&p, 1, ms);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

static int
sock_connect(const struct tern_host_trid *t, uint64_t deadline, char *why, size_t why_len)
{
    struct addrinfo hints = {0}, *res = NULL;
    int fd, rc, one = 1, err = 0;
    socklen_t el = sizeof(err);

    hints.ai_family = t->adrfam == TERN_NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(t->traddr, t->trsvcid, &hints, &res);
    if (rc != 0) {
        snprintf(why, why_len, "traddr %s trsvcid %s: %s", t->traddr, t->trsvcid,
                 gai_strerror(rc));
        return -EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(why, why_len, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return rc;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
        rc = -errno;
        goto fail;
    }
    if (rc != 0) {
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc != 0)
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            rc = -(err ? err : errno);
            goto fail;
        }
    }
    return fd;
fail:
    snprintf(why, why_len, "cannot connect to %s:%s: %s", t->traddr, t->trsvcid,
             rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
    close(fd);
    return rc;
}

static int
send_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, (const uint8_t *)buf + off, len - off, MSG_NOSIGNAL);

        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline);

            if (rc != 0)
                return rc;
        } else {
            return n < 0 ? -errno : -EPIPE;
        }
    }
    return 0;
}

static int
recv_all(int fd, void *buf, size_t len, uint64_t deadline)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = recv(fd, (uint8_t *)buf + off, len - off, 0);

        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLIN, deadline);

            if (rc != 0)
                return rc;
        } else {
            return n < 0 ? -errno : -ECONNRESET;
        }
    }
    return 0;
}

/* ICReq / ICResp (TCP 3.6.2.2-3). */
static int
ic_exchange(struct tcp_hqp *q, bool hdgst, bool ddgst, uint64_t deadline, char *why,
            size_t why_len)
{
    struct tern_nvme_tcp_icreq req;
    struct tern_nvme_tcp_icresp rsp;
    struct tcp_pdu_layout lay;
    uint16_t fes;
    uint32_t fei;
    int rc;

    memset(&req, 0, sizeof(req));
    req.ch.pdu_type = TERN_NVME_TCP_ICREQ;
    req.ch.hlen = sizeof(req);
    req.ch.plen = sizeof(req);
    req.pfv = TERN_NVME_TCP_PFV_1_0;
    req.hpda = 0;
    req.dgst = (uint8_t)((hdgst ? TERN_NVME_TCP_DGST_HDR : 0) | (ddgst ? TERN_NVME_TCP_DGST_DATA : 0));
    req.maxr2t = 0;
    rc = send_all(q->fd, &req, sizeof(req), deadline);
    if (rc == 0)
        rc = recv_all(q->fd, &rsp.ch, sizeof(rsp.ch), deadline);
    if (rc != 0) {
        snprintf(why, why_len, "%s: no ICResp: %s", q->peer,
                 rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return rc;
    }
    if (!tcp_pdu_check_ch(&rsp.ch, TCP_PHASE_ICRESP, false, false, 0, 0, &lay, &fes, &fei)) {
        snprintf(why, why_len, "%s: bad ICResp header (PDU type 0x%02x, length %u)", q->peer,
                 rsp.ch.pdu_type, rsp.ch.plen);
        return -EPROTO;
    }
    if (rsp.ch.pdu_type == TERN_NVME_TCP_C2H_TERM_REQ) {
        struct tern_nvme_tcp_term_req t;

        memcpy(&t.ch, &rsp.ch, sizeof(t.ch));
        recv_all(q->fd, (uint8_t *)&t + sizeof(t.ch), sizeof(t) - sizeof(t.ch), deadline);
        snprintf(why, why_len, "%s: the controller refused the ICReq (C2HTermReq FES %u)",
                 q->peer, t.fes);
        return -ECONNREFUSED;
    }
    rc = recv_all(q->fd, (uint8_t *)&rsp + sizeof(rsp.ch), sizeof(rsp) - sizeof(rsp.ch), deadline);
    if (rc != 0) {
        snprintf(why, why_len, "%s: short ICResp: %s", q->peer, strerror(-rc));
        return rc;
    }
    if (rsp.pfv != TERN_NVME_TCP_PFV_1_0 || rsp.maxh2cdata < 4096 || rsp.maxh2cdata % 4 ||
        rsp.cpda > 31) {
        snprintf(why, why_len, "%s: ICResp not acceptable (PFV %u, MAXH2CDATA %u, CPDA %u)",
                 q->peer, rsp.pfv, rsp.maxh2cdata, rsp.cpda);
        return -EPROTO;
    }
    /* The controller may turn a digest off, never on (TCP 3.6.2.3). */
    if (((rsp.dgst & TERN_NVME_TCP_DGST_HDR) && !hdgst) ||
        ((rsp.dgst & TERN_NVME_TCP_DGST_DATA) && !ddgst)) {
        snprintf(why, why_len, "%s: ICResp enables a digest the host did not ask for", q->peer);
        return -EPROTO;
    }
    q->hdgst = rsp.dgst & TERN_NVME_TCP_DGST_HDR;
    q->ddgst = rsp.dgst & TERN_NVME_TCP_DGST_DATA;
    q->cpda_bytes = (rsp.cpda + 1u) * 4u;
    q->maxh2cdata = rsp.maxh2cdata;
    return 0;
}

static struct tern_host_qpair *
tcp_host_connect(const struct tern_host_trid *trid, const struct tern_host_qpair_opts *o,
                 char *why, size_t why_len)
{
    uint64_t deadline = tern_env_ticks() + tern_env_ticks_hz() * o->timeout_ms / 1000;
    struct tcp_hqp *q = tern_env_zmalloc("tcp_host_qpair", sizeof(*q), 64, -1);

    if (q == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    q->fd = -1;
    snprintf(q->peer, sizeof(q->peer), "%s%s%s:%s", trid->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "[" : "",
             trid->traddr, trid->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "]" : "", trid->trsvcid);
    q->pdus = tern_env_zmalloc("tcp_host_pdus", sizeof(*q->pdus) * o->depth, 64, -1);
    q->rx = tern_env_zmalloc("tcp_host_rx", HQ_RX_BUF, 64, -1);
    if (q->pdus == NULL || q->rx == NULL) {
        snprintf(why, why_len, "out of memory");
        goto err;
    }
    q->fd = sock_connect(trid, deadline, why, why_len);
    if (q->fd < 0)
        goto err;
    if (ic_exchange(q, o->header_digest, o->data_digest, deadline, why, why_len) != 0)
        goto err;
    q->base.icd_max = o->qid == 0 ? HQ_ADMIN_ICD : 0;
    q->rx_state = RX_CH;
    return &q->base;
err:
    if (q->fd >= 0)
        close(q->fd);
    tern_env_free(q->pdus);
    tern_env_free(q->rx);
    tern_env_free(q);
    return NULL;
}

static void
tcp_host_disconnect(struct tern_host_qpair *qp)
{
    struct tcp_hqp *q = hq(qp);

    if (q->fd >= 0)
        close(q->fd);
    tern_env_free(q->pdus);
    tern_env_free(q->rx);
    tern_env_free(q);
}

/* ---- request data ---- */

/* iovecs for bytes [off, off+len) of the request's data; returns how many. */
static int
req_iov_range(const struct tern_host_req *r, uint32_t off, uint32_t len, struct iovec *out,
              int max)
{
    int n = 0;

    for (int i = 0; i < r->iovcnt && len > 0 && n < max; i++) {
        uint32_t il = (uint32_t)r->iov[i].iov_len;

        if (off >= il) {
            off -= il;
            continue;
        }
        out[n].iov_base = (uint8_t *)r->iov[i].iov_base + off;
        out[n].iov_len = il - off < len ? il - off : len;
        len -= (uint32_t)out[n].iov_len;
        off = 0;
        n++;
    }
    return n;
}

static uint32_t
req_crc(const struct tern_host_req *r, uint32_t off, uint32_t len)
{
    struct iovec v[TERN_HOST_REQ_MAX_IOV];
    int n = req_iov_range(r, off, len, v, TERN_HOST_REQ_MAX_IOV);
    uint32_t s = TCP_CRC32C_INIT;

    for (int i = 0; i < n; i++)
        s = tcp_crc32c_update(s, v[i].iov_base, v[i].iov_len);
    return TCP_CRC32C_FINAL(s);
}

/* ---- sending ---- */
static void
tx_queue(struct tcp_hqp *q, struct tx_pdu *p)
{
    p->next = NULL;
    if (q->tx_tail)
        q->tx_tail->next = p;
    else
        q->tx_head = p;
    q->tx_tail = p;
    p->req->t_state = HREQ_TX;
}

/* Header digest and padding up to the data (PDO), for a header in p->hdr. */
static void
tx_finish_hdr(struct tcp_hqp *q, struct tx_pdu *p, uint32_t hlen)
{
    struct tern_nvme_tcp_ch *ch = (struct tern_nvme_tcp_ch *)p->hdr;
    uint32_t pos = hlen, pdo;

    ch->hlen = (uint8_t)hlen;
    if (q->hdgst) {
        ch->flags |= TERN_NVME_TCP_FLAG_HDGSTF;
        pos += TERN_NVME_TCP_DIGEST_LEN;
    }
    p->has_ddgst = false;
    if (p->data_len) {
        pdo = pos;
        if (q->cpda_bytes > 1 && pdo % q->cpda_bytes)
            pdo += q->cpda_bytes - pdo % q->cpda_bytes;
        memset(p->hdr + pos, 0, pdo - pos);
        pos = pdo;
        ch->pdo = (uint8_t)pdo;
        if (q->ddgst) {
            uint32_t d = req_crc(p->req, p->data_off, p->data_len);

            ch->flags |= TERN_NVME_TCP_FLAG_DDGSTF;
            memcpy(p->ddgst, &d, sizeof(d));
            p->has_ddgst = true;
        }
    } else {
        ch->pdo = 0;
    }
    ch->plen = pos + p->data_len + (p->has_ddgst ? TERN_NVME_TCP_DIGEST_LEN : 0);
    if (q->hdgst) {
        uint32_t d = tcp_crc32c(p->hdr, hlen);

        memcpy(p->hdr + hlen, &d, sizeof(d));
    }
    p->hdr_len = pos;
}

static void
tx_h2c(struct tcp_hqp *q, struct tern_host_req *r)
{
    struct tx_pdu *p = &q->pdus[r->cmd.cid];
    struct tern_nvme_tcp_data *d = (struct tern_nvme_tcp_data *)p->hdr;
    uint32_t n = r->t_r2t_left < q->maxh2cdata ? r->t_r2t_left : q->maxh2cdata;

    memset(d, 0, sizeof(*d));
    p->req = r;
    p->is_h2c = true;
    p->data_off = r->t_r2t_off;
    p->data_len = n;
    d->ch.pdu_type = TERN_NVME_TCP_H2C_DATA;
    d->cccid = r->cmd.cid;
    d->ttag = r->t_ttag;
    d->datao = r->t_r2t_off;
    d->datal = n;
    if (n == r->t_r2t_left)
        d->ch.flags = TERN_NVME_TCP_FLAG_LAST_PDU;
    tx_finish_hdr(q, p, sizeof(*d));
    r->t_r2t_off += n;
    r->t_r2t_left -= n;
    tx_queue(q, p);
}

/* Send what the socket takes: one sendmsg of up to HQ_MAX_IOV pieces. */
static int
tx_flush(struct tcp_hqp *q)
{
    if (q->err)
        return q->err;
    while (q->tx_head != NULL) {
        struct iovec v[HQ_MAX_IOV];
        int n = 0;
        uint32_t skip = q->tx_off;
        ssize_t w;

        for (struct tx_pdu *p = q->tx_head; p && n + TERN_HOST_REQ_MAX_IOV + 2 <= HQ_MAX_IOV;
             p = p->next) {
            struct iovec dv[TERN_HOST_REQ_MAX_IOV];
            int dn = req_iov_range(p->req, p->data_off, p->data_len, dv, TERN_HOST_REQ_MAX_IOV);
            struct iovec parts[TERN_HOST_REQ_MAX_IOV + 2];
            int pn = 0;

            parts[pn].iov_base = p->hdr;
            parts[pn++].iov_len = p->hdr_len;
            for (int i = 0; i < dn; i++)
                parts[pn++] = dv[i];
            if (p->has_ddgst) {
                parts[pn].iov_base = p->ddgst;
                parts[pn++].iov_len = sizeof(p->ddgst);
            }
            for (int i = 0; i < pn; i++) {
                if (skip >= parts[i].iov_len) {
                    skip -= (uint32_t)parts[i].iov_len;
                    continue;
                }
                v[n].iov_base = (uint8_t *)parts[i].iov_base + skip;
                v[n].iov_len = parts[i].iov_len - skip;
                skip = 0;
                n++;
            }
        }
        size_t total = 0;

        for (int i = 0; i < n; i++)
            total += v[i].iov_len;
        /* sendmsg for MSG_NOSIGNAL: a controller gone must fail the qpair,
         * not kill the program with SIGPIPE. */
        struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)n};

        w = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return hq_fail(q, -errno, strerror(errno));
        }
        /* Retire whole PDUs. */
        q->tx_off += (uint32_t)w;
        while (q->tx_head != NULL) {
            struct tx_pdu *p = q->tx_head;
            uint32_t plen = ((struct tern_nvme_tcp_ch *)p->hdr)->plen;
            struct tern_host_req *r = p->req;

            if (q->tx_off < plen)
                break;
            q->tx_off -= plen;
            q->tx_head = p->next;
            if (q->tx_head == NULL)
                q->tx_tail = NULL;
            r->t_state = HREQ_WAIT;
            if (p->is_h2c && r->t_r2t_left > 0)
                tx_h2c(q, r);       /* the next chunk of the same R2T */
        }
        if ((size_t)w < total)
            return 0;           /* the socket is full: the next poll goes on */
    }
    return 0;
}

static int
tcp_host_submit(struct tern_host_qpair *qp, struct tern_host_req *r)
{
    struct tcp_hqp *q = hq(qp);
    struct tx_pdu *p = &q->pdus[r->cmd.cid];
    struct tern_nvme_tcp_cmd *c = (struct tern_nvme_tcp_cmd *)p->hdr;
    struct tern_nvme_sgl *sgl = &r->cmd.dptr.sgl1;
    bool icd = r->xfer == TERN_NVME_XFER_HOST_TO_CTRLR && r->len > 0 && r->len <= qp->icd_max;

    if (r->xfer == TERN_NVME_XFER_BIDIRECTIONAL)
        return -EINVAL;
    if (icd) {
        sgl->address = 0;
        sgl->unkeyed.length = r->len;
        sgl->unkeyed.id = TERN_NVME_SGL_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_OFFSET;
    } else {
        sgl->unkeyed.length = r->len;
        sgl->unkeyed.id = TERN_NVME_SGL_TRANSPORT_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_TRANSPORT;
    }
    memset(&c->ch, 0, sizeof(c->ch));
    c->ch.pdu_type = TERN_NVME_TCP_CAPSULE_CMD;
    c->sqe = r->cmd;
    p->req = r;
    p->is_h2c = false;
    p->data_off = 0;
    p->data_len = icd ? r->len : 0;
    tx_finish_hdr(q, p, sizeof(*c));
    tx_queue(q, p);
    /* Send at once when nothing was waiting (latency at QD 1); otherwise
     * the next poll gathers it with the rest. A send that fails here is
     * left to the next poll, which fails the qpair and completes this
     * request with the others: one failure path. */
    if (q->tx_head == p)
        (void)tx_flush(q);
    return 0;
}

/* ---- receiving ---- */
static void
complete_ok(struct tcp_hqp *q, struct tern_host_req *r)
{
    memset(&r->cpl, 0, sizeof(r->cpl));
    r->cpl.cid = r->cmd.cid;
    r->cpl.sqid = q->base.qid;
    r->t_state = HREQ_FREE;
    tern_host_req_done(&q->base, r);
    q->completed++;
}

/* A whole header is in q->hdr: act on it. Returns 0 or -errno. */
static int
rx_header(struct tcp_hqp *q)
{
    const struct tern_nvme_tcp_ch *ch = (const struct tern_nvme_tcp_ch *)q->hdr;
    struct tern_host_req *r;

    if (q->hdgst && ch->pdu_type != TERN_NVME_TCP_C2H_TERM_REQ) {
        uint32_t got, want = tcp_crc32c(q->hdr, ch->hlen);

        memcpy(&got, q->hdr + ch->hlen, sizeof(got));
        if (got != want)
            return hq_fail(q, -EPROTO, "header digest error");
    }
    switch (ch->pdu_type) {
    case TERN_NVME_TCP_CAPSULE_RESP: {
        const struct tern_nvme_tcp_rsp *rsp = (const struct tern_nvme_tcp_rsp *)q->hdr;

        r = tern_host_req_by_cid(&q->base, rsp->cqe.cid);
        if (r == NULL || r->t_state != HREQ_WAIT)
            return hq_fail(q, -EPROTO, "CapsuleResp for a command not in flight");
        r->cpl = rsp->cqe;
        r->t_state = HREQ_FREE;
        tern_host_req_done(&q->base, r);
        q->completed++;
        q->rx_state = RX_CH;
        return 0;
    }
    case TERN_NVME_TCP_C2H_DATA: {
        const struct tern_nvme_tcp_data *d = (const struct tern_nvme_tcp_data *)q->hdr;

        r = tern_host_req_by_cid(&q->base, d->cccid);
        if (r == NULL || r->xfer != TERN_NVME_XFER_CTRLR_TO_HOST || r->t_state != HREQ_WAIT)
            return hq_fail(q, -EPROTO, "C2HData for a command not reading");
        if (d->datal != q->lay.data_len || d->datao != r->t_done ||
            (uint64_t)d->datao + d->datal > r->len)
            return hq_fail(q, -EPROTO, "C2HData offset or length outside the command's data");
        if ((ch->flags & TERN_NVME_TCP_FLAG_SUCCESS) && !(ch->flags & TERN_NVME_TCP_FLAG_LAST_PDU))
            return hq_fail(q, -EPROTO, "C2HData SUCCESS without LAST_PDU");
        q->rx_req = r;
        q->rx_off = d->datao;
        q->rx_crc = TCP_CRC32C_INIT;
        q->rx_state = q->lay.pad ? RX_PAD : RX_DATA;
        q->rx_left = q->lay.pad ? q->lay.pad : q->lay.data_len;
        return 0;
    }
    case TERN_NVME_TCP_R2T: {
        const struct tern_nvme_tcp_r2t *t = (const struct tern_nvme_tcp_r2t *)q->hdr;

        r = tern_host_req_by_cid(&q->base, t->cccid);
        if (r == NULL || r->xfer != TERN_NVME_XFER_HOST_TO_CTRLR || r->t_state != HREQ_WAIT ||
            r->len <= q->base.icd_max)
            return hq_fail(q, -EPROTO, "R2T for a command not writing");
        if (t->r2tl == 0 || t->r2to != r->t_done || (uint64_t)t->r2to + t->r2tl > r->len)
            return hq_fail(q, -EPROTO, "R2T offset or length outside the command's data");
        r->t_ttag = t->ttag;
        r->t_r2t_off = t->r2to;
        r->t_r2t_left = t->r2tl;
        r->t_done = t->r2to + t->r2tl;
        tx_h2c(q, r);
        q->rx_state = RX_CH;
        return 0;
    }
    case TERN_NVME_TCP_C2H_TERM_REQ: {
        const struct tern_nvme_tcp_term_req *t = (const struct tern_nvme_tcp_term_req *)q->hdr;
        char msg[96];

        snprintf(msg, sizeof(msg), "the controller ended the connection (C2HTermReq FES 0x%x)",
                 t->fes);
        return hq_fail(q, -ECONNRESET, msg);
    }
    default:
        return hq_fail(q, -EPROTO, "unexpected PDU");
    }
}

static int
rx_process(struct tcp_hqp *q)
{
    while (q->rx_start < q->rx_end) {
        uint32_t avail = q->rx_end - q->rx_start, n;
        const uint8_t *src = q->rx + q->rx_start;

        switch (q->rx_state) {
        case RX_CH: {
            uint16_t fes;
            uint32_t fei;
            const struct tern_nvme_tcp_ch *ch = (const struct tern_nvme_tcp_ch *)q->hdr;

            n = (uint32_t)sizeof(struct tern_nvme_tcp_ch) - q->hdr_have;
            n = n < avail ? n : avail;
            memcpy(q->hdr + q->hdr_have, src, n);
            q->hdr_have += n;
            q->rx_start += n;
            if (q->hdr_have < sizeof(struct tern_nvme_tcp_ch))
                return 0;
            if (!tcp_pdu_check_ch(ch, TCP_PHASE_HOST, q->hdgst, q->ddgst, q->cpda_bytes,
                                  1u << 24, &q->lay, &fes, &fei))
                return hq_fail(q, -EPROTO, "malformed PDU header from the controller");
            q->rx_state = RX_HDR;
            break;
        }
        case RX_HDR:
            n = q->lay.hdr_len - q->hdr_have;
            n = n < avail ? n : avail;
            memcpy(q->hdr + q->hdr_have, src, n);
            q->hdr_have += n;
            q->rx_start += n;
            if (q->hdr_have < q->lay.hdr_len)
                return 0;
            q->hdr_have = 0;
            {
                int rc = rx_header(q);

                if (rc != 0)
                    return rc;
            }
            break;
        case RX_PAD:
            n = q->rx_left < avail ? q->rx_left : avail;
            q->rx_start += n;
            q->rx_left -= n;
            if (q->rx_left == 0) {
                q->rx_state = RX_DATA;
                q->rx_left = q->lay.data_len;
            }
            break;
        case RX_DATA: {
            struct iovec v[TERN_HOST_REQ_MAX_IOV];
            int vn;
            uint32_t copied = 0;

            n = q->rx_left < avail ? q->rx_left : avail;
            vn = req_iov_range(q->rx_req, q->rx_off, n, v, TERN_HOST_REQ_MAX_IOV);
            for (int i = 0; i < vn; i++) {
                memcpy(v[i].iov_base, src + copied, v[i].iov_len);
                copied += (uint32_t)v[i].iov_len;
            }
            if (q->ddgst)
                q->rx_crc = tcp_crc32c_update(q->rx_crc, src, n);
            q->rx_start += n;
            q->rx_off += n;
            q->rx_left -= n;
            if (q->rx_left == 0) {
                q->rx_req->t_done = q->rx_off;
                if (q->lay.ddgst) {
                    q->rx_state = RX_DDGST;
                    q->rx_left = TERN_NVME_TCP_DIGEST_LEN;
                } else {
                    goto data_done;
                }
            }
            break;
        }
        case RX_DDGST:
            n = q->rx_left < avail ? q->rx_left : avail;
            memcpy(q->rx_dgst + TERN_NVME_TCP_DIGEST_LEN - q->rx_left, src, n);
            q->rx_start += n;
            q->rx_left -= n;
            if (q->rx_left > 0)
                break;
            {
                uint32_t got;

                memcpy(&got, q->rx_dgst, sizeof(got));
                if (got != TCP_CRC32C_FINAL(q->rx_crc))
                    return hq_fail(q, -EPROTO, "data digest error in C2HData");
            }
data_done:
            q->rx_state = RX_CH;
            if (((const struct tern_nvme_tcp_ch *)q->hdr)->flags & TERN_NVME_TCP_FLAG_SUCCESS) {
                if (q->rx_req->t_done != q->rx_req->len)
                    return hq_fail(q, -EPROTO, "C2HData SUCCESS before all the data");
                complete_ok(q, q->rx_req);
            }
            q->rx_req = NULL;
            break;
        }
    }
    return 0;
}

static int
tcp_host_poll(struct tern_host_qpair *qp)
{
    struct tcp_hqp *q = hq(qp);
    ssize_t n;
    int rc;

    q->completed = 0;
    rc = tx_flush(q);
    if (rc != 0)
        return rc;
    if (q->rx_start == q->rx_end)
        q->rx_start = q->rx_end = 0;
    n = recv(q->fd, q->rx + q->rx_end, HQ_RX_BUF - q->rx_end, 0);
    if (n == 0)
        return hq_fail(q, -ECONNRESET, "the controller closed the connection");
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            return hq_fail(q, -errno, strerror(errno));
    } else {
        q->rx_end += (uint32_t)n;
    }
    rc = rx_process(q);
    if (rc != 0)
        return rc;
    /* Everything left in the buffer was consumed: rx_process stops only
     * at its end. R2Ts may have queued data. */
    rc = tx_flush(q);
    if (rc != 0)
        return rc;
    return (int)q->completed;
}

static const struct tern_host_transport_ops g_tcp_host_ops = {
    .name = "TCP",
    .trtype = TERN_NVMF_TRTYPE_TCP,
    .qpair_connect = tcp_host_connect,
    .submit = tcp_host_submit,
    .poll = tcp_host_poll,
    .disconnect = tcp_host_disconnect,
};
TERN_HOST_TRANSPORT_REGISTER(g_tcp_host_ops)
