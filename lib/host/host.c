/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF initiator core: transport IDs, request tracking per qpair, the
 * controller bring-up (Connect, enable, Identify, queues, namespaces) and
 * keep-alive. Transports move the bytes (tern_host_transport.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tern_env.h"
#include "tern_host.h"
#include "tern_host_transport.h"
#include "tern_log.h"

TERN_LOG_REGISTER(g_log, "tern.lib.host", NOTICE);

#define HOST_MAX_TRANSPORTS 4
#define HOST_MAX_NS 1024

static const struct tern_host_transport_ops *g_transports[HOST_MAX_TRANSPORTS];

void
tern_host_transport_register(const struct tern_host_transport_ops *ops)
{
    for (int i = 0; i < HOST_MAX_TRANSPORTS; i++) {
        if (g_transports[i] == NULL) {
            g_transports[i] = ops;
            return;
        }
    }
}

const struct tern_host_transport_ops *
tern_host_transport_find(uint8_t trtype)
{
    for (int i = 0; i < HOST_MAX_TRANSPORTS; i++) {
        if (g_transports[i] != NULL && g_transports[i]->trtype == trtype)
            return g_transports[i];
    }
    return NULL;
}

static int
fail(char *why, size_t why_len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- transport IDs ---- */
int
tern_host_trid_parse(const char *s, struct tern_host_trid *t, char *why, size_t why_len)
{
    bool have_trtype = false, have_adrfam = false;
    const char *p = s;

    memset(t, 0, sizeof(*t));
    snprintf(t->trsvcid, sizeof(t->trsvcid), "4420");
    snprintf(t->subnqn, sizeof(t->subnqn), "%s", TERN_NVMF_DISCOVERY_NQN);
    if (s == NULL)
        return fail(why, why_len, -EINVAL, "no transport ID");
    while (*p) {
        char key[16], val[TERN_HOST_TRADDR_MAX + 2];
        size_t kn = 0, vn = 0;

        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        while (*p && *p != ':' && *p != '=' && !isspace((unsigned char)*p)) {
            if (kn + 1 >= sizeof(key))
                return fail(why, why_len, -EINVAL, "transport ID: key too long near '%.20s'", p);
            key[kn++] = *p++;
        }
        key[kn] = 0;
        if (*p != ':' && *p != '=')
            return fail(why, why_len, -EINVAL, "transport ID: '%s' has no value (want key:value)",
                        key);
        p++;
        /* The value runs to the next space; an IPv6 traddr keeps its colons. */
        while (*p && !isspace((unsigned char)*p)) {
            if (vn + 1 >= sizeof(val))
                return fail(why, why_len, -EINVAL, "transport ID: value of %s too long", key);
            val[vn++] = *p++;
        }
        val[vn] = 0;
        if (vn == 0)
            return fail(why, why_len, -EINVAL, "transport ID: %s is empty", key);
        if (strcasecmp(key, "trtype") == 0) {
            if (tern_nvmf_trtype_parse(val, &t->trtype) != 0)
                return fail(why, why_len, -EINVAL, "transport ID: unknown trtype '%s' (TCP, RDMA)",
                            val);
            have_trtype = true;
        } else if (strcasecmp(key, "adrfam") == 0) {
            if (tern_nvmf_adrfam_parse(val, &t->adrfam) != 0)
                return fail(why, why_len, -EINVAL,
                            "transport ID: unknown adrfam '%s' (IPv4, IPv6)", val);
            have_adrfam = true;
        } else if (strcasecmp(key, "traddr") == 0) {
            if (vn > TERN_HOST_TRADDR_MAX)
                return fail(why, why_len, -EINVAL, "transport ID: traddr too long");
            memcpy(t->traddr, val, vn + 1);
        } else if (strcasecmp(key, "trsvcid") == 0) {
            char *end;
            unsigned long port = strtoul(val, &end, 10);

            if (*end || port == 0 || port > 65535)
                return fail(why, why_len, -EINVAL, "transport ID: trsvcid '%s' is not a port",
                            val);
            snprintf(t->trsvcid, sizeof(t->trsvcid), "%lu", port);
        } else if (strcasecmp(key, "subnqn") == 0) {
            char nqn_why[128];

            if (!tern_nvmf_nqn_valid(val, vn + 1, nqn_why, sizeof(nqn_why)))
                return fail(why, why_len, -EINVAL, "transport ID: subnqn: %s", nqn_why);
            memcpy(t->subnqn, val, vn + 1);
        } else {
            return fail(why, why_len, -EINVAL,
                        "transport ID: unknown key '%s' (trtype adrfam traddr trsvcid subnqn)",
                        key);
        }
    }
    if (!have_trtype)
        return fail(why, why_len, -EINVAL, "transport ID: trtype missing");
    if (t->traddr[0] == 0)
        return fail(why, why_len, -EINVAL, "transport ID: traddr missing");
    if (!have_adrfam)
        t->adrfam = strchr(t->traddr, ':') ? TERN_NVMF_ADRFAM_IPV6 : TERN_NVMF_ADRFAM_IPV4;
    return 0;
}

const char *
tern_host_trid_str(const struct tern_host_trid *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s%s%s:%s %s", tern_nvmf_trtype_name(t->trtype),
             t->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "[" : "", t->traddr,
             t->adrfam == TERN_NVMF_ADRFAM_IPV6 ? "]" : "", t->trsvcid, t->subnqn);
    return buf;
}

/* ---- requests ---- */
static int
qpair_reqs_init(struct tern_host_qpair *qp, uint16_t depth)
{
    qp->depth = depth;
    qp->reqs = tern_env_zmalloc("tern_host_reqs", sizeof(*qp->reqs) * depth, 64, -1);
    if (qp->reqs == NULL)
        return -ENOMEM;
    qp->free_head = NULL;
    for (int i = depth - 1; i >= 0; i--) {
        qp->reqs[i].t_next = qp->free_head;
        qp->free_head = &qp->reqs[i];
    }
    return 0;
}

struct tern_host_req *
tern_host_req_by_cid(struct tern_host_qpair *qp, uint16_t cid)
{
    if (cid >= qp->depth || !qp->reqs[cid].busy)
        return NULL;
    return &qp->reqs[cid];
}

void
tern_host_req_done(struct tern_host_qpair *qp, struct tern_host_req *req)
{
    tern_host_cb cb = req->cb;
    void *arg = req->cb_arg;
    struct tern_nvme_cpl cpl = req->cpl;

    req->busy = false;
    req->t_next = qp->free_head;
    qp->free_head = req;
    qp->outstanding--;
    if (cb != NULL)
        cb(arg, &cpl);
}

/* The connection broke: every request still out completes as aborted. */
static void
qpair_abort_all(struct tern_host_qpair *qp)
{
    for (uint16_t i = 0; i < qp->depth; i++) {
        struct tern_host_req *r = &qp->reqs[i];

        if (!r->busy)
            continue;
        memset(&r->cpl, 0, sizeof(r->cpl));
        r->cpl.cid = r->cmd.cid;
        r->cpl.status = (uint16_t)(TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_ABORTED_SQ_DELETION) << 1);
        tern_host_req_done(qp, r);
    }
}

int
tern_host_submit(struct tern_host_qpair *qp, const struct tern_nvme_cmd *cmd,
                 const struct iovec *iov, int iovcnt, uint32_t len, tern_host_cb cb, void *arg)
{
    struct tern_host_req *r;
    uint32_t have = 0;
    int rc;

    if (qp->failed)
        return -ENOTCONN;
    if (iovcnt < 0 || iovcnt > TERN_HOST_REQ_MAX_IOV)
        return -EINVAL;
    for (int i = 0; i < iovcnt; i++)
        have += (uint32_t)iov[i].iov_len;
    if (have < len)
        return -EINVAL;
    r = qp->free_head;
    if (r == NULL)
        return -EAGAIN;
    qp->free_head = r->t_next;
    r->cmd = *cmd;
    r->cmd.cid = (uint16_t)(r - qp->reqs);
    /* SGLs for everything over fabrics (Base 6.1); the transport fills SGL1. */
    r->cmd.flags = (uint8_t)((r->cmd.flags & 0x3f) | TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6);
    memset(&r->cmd.dptr, 0, sizeof(r->cmd.dptr));
    r->xfer = cmd->opc == TERN_NVME_OPC_FABRICS
                  ? (uint8_t)(((const struct tern_nvmf_cmd *)cmd)->fctype & 0x3)
                  : (uint8_t)TERN_NVME_OPC_XFER(cmd->opc);
    if (len == 0)
        r->xfer = TERN_NVME_XFER_NONE;
    memcpy(r->iov, iov, sizeof(*iov) * (size_t)iovcnt);
    r->iovcnt = iovcnt;
    r->len = len;
    r->cb = cb;
    r->cb_arg = arg;
    r->t_done = r->t_r2t_off = r->t_r2t_left = 0;
    r->t_state = 0;
    r->t_next = NULL;
    memset(&r->cpl, 0, sizeof(r->cpl));
    r->busy = true;
    qp->outstanding++;
    rc = qp->ops->submit(qp, r);
    if (rc != 0) {
        r->busy = false;
        qp->outstanding--;
        r->t_next = qp->free_head;
        qp->free_head = r;
        if (rc == -ENOTCONN || rc == -ECONNRESET || rc == -EPIPE)
            qp->failed = true;
    }
    return rc;
}

int
tern_host_qpair_poll(struct tern_host_qpair *qp)
{
    int n;

    if (qp->failed)
        return -ENOTCONN;
    n = qp->ops->poll(qp);
    if (n < 0) {
        qp->failed = true;
        qpair_abort_all(qp);
    }
    return n;
}

uint16_t
tern_host_qpair_depth(const struct tern_host_qpair *qp)
{
    return qp->depth;
}

uint32_t
tern_host_qpair_outstanding(const struct tern_host_qpair *qp)
{
    return qp->outstanding;
}

int
tern_host_qpair_mem_register(struct tern_host_qpair *qp, void *addr, size_t len)
{
    if (addr == NULL || len == 0)
        return -EINVAL;
    if (qp->ops->mem_register == NULL)
        return 0;
    return qp->ops->mem_register(qp, addr, len);
}

static void
rw_cmd(struct tern_nvme_cmd *c, uint8_t opc, uint32_t nsid, uint64_t lba, uint32_t nlb)
{
    memset(c, 0, sizeof(*c));
    c->opc = opc;
    c->nsid = nsid;
    c->cdw10 = (uint32_t)lba;
    c->cdw11 = (uint32_t)(lba >> 32);
    c->cdw12 = nlb - 1;
}

int
tern_host_read(struct tern_host_qpair *qp, uint32_t nsid, uint64_t lba, uint32_t nlb, void *buf,
               uint32_t len, tern_host_cb cb, void *arg)
{
    struct tern_nvme_cmd c;
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    if (nlb == 0 || nlb > 65536)
        return -EINVAL;
    rw_cmd(&c, TERN_NVME_OPC_READ, nsid, lba, nlb);
    return tern_host_submit(qp, &c, &iov, 1, len, cb, arg);
}

int
tern_host_write(struct tern_host_qpair *qp, uint32_t nsid, uint64_t lba, uint32_t nlb,
                const void *buf, uint32_t len, tern_host_cb cb, void *arg)
{
    struct tern_nvme_cmd c;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

    if (nlb == 0 || nlb > 65536)
        return -EINVAL;
    rw_cmd(&c, TERN_NVME_OPC_WRITE, nsid, lba, nlb);
    return tern_host_submit(qp, &c, &iov, 1, len, cb, arg);
}

int
tern_host_flush(struct tern_host_qpair *qp, uint32_t nsid, tern_host_cb cb, void *arg)
{
    struct tern_nvme_cmd c;

    memset(&c, 0, sizeof(c));
    c.opc = TERN_NVME_OPC_FLUSH;
    c.nsid = nsid;
    return tern_host_submit(qp, &c, NULL, 0, 0, cb, arg);
}

/* ---- controllers ---- */
struct host_ns {
    uint32_t nsid;
    uint32_t block_size;
    uint64_t blocks;
};

struct tern_host_ctrlr {
    struct tern_host_trid trid;
    struct tern_host_ctrlr_opts opts;
    const struct tern_host_transport_ops *ops;
    struct tern_host_qpair *admin;
    uint16_t cntlid;
    uint64_t cap;
    struct tern_nvme_ctrlr_data cdata;
    uint16_t io_queues;
    uint16_t io_queue_size;
    uint16_t next_qid;
    struct host_ns *ns;
    uint32_t num_ns;
    uint64_t ka_period_ticks;
    uint64_t next_ka;
    bool ka_outstanding;
    bool ka_failed;
};

void
tern_host_ctrlr_opts_init(struct tern_host_ctrlr_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->kato_ms = 10000;
    o->admin_queue_size = 32;
    o->io_queue_size = 128;
    o->num_io_queues = 1;
    o->connect_timeout_ms = 5000;
}

struct sync_ctx {
    bool done;
    struct tern_nvme_cpl cpl;
};

static void
sync_cb(void *arg, const struct tern_nvme_cpl *cpl)
{
    struct sync_ctx *x = arg;

    x->cpl = *cpl;
    x->done = true;
}

/* Submit on `qp` and poll it until the command completes or time runs out. */
static int
qpair_sync(struct tern_host_qpair *qp, struct tern_nvme_cmd *cmd, void *buf, uint32_t len,
           uint32_t timeout_ms, struct tern_nvme_cpl *cpl)
{
    struct sync_ctx x = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    uint64_t deadline = tern_env_ticks() + tern_env_ticks_hz() * timeout_ms / 1000;
    int rc;

    rc = tern_host_submit(qp, cmd, &iov, buf ? 1 : 0, len, sync_cb, &x);
    if (rc != 0)
        return rc;
    while (!x.done) {
        rc = tern_host_qpair_poll(qp);
        if (rc < 0 && !x.done)
            return rc;
        if (!x.done && tern_env_ticks() > deadline)
            return -ETIMEDOUT;
    }
    if (cpl != NULL)
        *cpl = x.cpl;
    return 0;
}

int
tern_host_admin_sync(struct tern_host_ctrlr *c, struct tern_nvme_cmd *cmd, void *buf,
                     uint32_t len, struct tern_nvme_cpl *cpl)
{
    return qpair_sync(c->admin, cmd, buf, len, c->opts.connect_timeout_ms, cpl);
}

static const char *
status_str(uint16_t st, char *buf, size_t len)
{
    char name[48];

    snprintf(buf, len, "%s (SCT 0x%x SC 0x%02x)", tern_nvme_status_name(st, name, sizeof(name)),
             (st >> 8) & 0x7, st & 0xff);
    return buf;
}

/* Fabrics Connect on a fresh qpair (Base 6.3). */
static int
fabrics_connect(struct tern_host_ctrlr *c, struct tern_host_qpair *qp, uint16_t qid,
                uint16_t sqsize, char *why, size_t why_len)
{
    struct tern_nvmf_connect_cmd cmd;
    struct tern_nvmf_connect_data *d;
    struct tern_nvme_cpl cpl;
    char sbuf[96];
    int rc;

    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return fail(why, why_len, -ENOMEM, "out of memory");
    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = TERN_NVME_OPC_FABRICS;
    cmd.fctype = TERN_NVMF_FCTYPE_CONNECT;
    cmd.qid = qid;
    cmd.sqsize = (uint16_t)(sqsize - 1);
    cmd.kato = qid == 0 ? c->opts.kato_ms : 0;
    memcpy(d->hostid, c->opts.hostid, sizeof(d->hostid));
    d->cntlid = qid == 0 ? 0xffff : c->cntlid;
    snprintf(d->subnqn, sizeof(d->subnqn), "%s", c->trid.subnqn);
    snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", c->opts.hostnqn);
    rc = qpair_sync(qp, (struct tern_nvme_cmd *)&cmd, d, sizeof(*d), c->opts.connect_timeout_ms,
                    &cpl);
    free(d);
    if (rc != 0)
        return fail(why, why_len, rc, "Connect (queue %u): %s", qid,
                    rc == -ETIMEDOUT ? "no answer" : strerror(-rc));
    if (tern_host_cpl_status(&cpl) != 0) {
        uint16_t st = tern_host_cpl_status(&cpl);
        char where[64] = "";

        /* Connect Invalid Parameters names the field: IATTR (bit 16: in the
         * data or the command) and IPO (byte offset) in DW0 (Base 6.3). */
        if ((st & 0x7ff) == (TERN_NVME_SCT_COMMAND_SPECIFIC << 8 | TERN_NVMF_SC_CONNECT_INVALID_PARAMS))
            snprintf(where, sizeof(where), ", bad field at byte %u of the Connect %s",
                     cpl.cdw0 & 0xffff, cpl.cdw0 & 0x10000 ? "data" : "command");
        return fail(why, why_len, -ECONNREFUSED, "Connect to %s (queue %u) refused: %s%s",
                    c->trid.subnqn, qid, status_str(st, sbuf, sizeof(sbuf)), where);
    }
    if (qid == 0)
        c->cntlid = (uint16_t)cpl.cdw0;
    return 0;
}

static int
prop_get(struct tern_host_ctrlr *c, uint32_t ofst, bool size8, uint64_t *value)
{
    struct tern_nvmf_property_cmd cmd;
    struct tern_nvme_cpl cpl;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = TERN_NVME_OPC_FABRICS;
    cmd.fctype = TERN_NVMF_FCTYPE_PROPERTY_GET;
    cmd.attrib = size8 ? TERN_NVMF_PROP_SIZE_8 : TERN_NVMF_PROP_SIZE_4;
    cmd.ofst = ofst;
    rc = qpair_sync(c->admin, (struct tern_nvme_cmd *)&cmd, NULL, 0, c->opts.connect_timeout_ms,
                    &cpl);
    if (rc != 0)
        return rc;
    if (tern_host_cpl_status(&cpl) != 0)
        return -EIO;
    *value = (uint64_t)cpl.cdw0 | (size8 ? (uint64_t)cpl.cdw1 << 32 : 0);
    return 0;
}

static int
prop_set(struct tern_host_ctrlr *c, uint32_t ofst, uint32_t value)
{
    struct tern_nvmf_property_cmd cmd;
    struct tern_nvme_cpl cpl;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = TERN_NVME_OPC_FABRICS;
    cmd.fctype = TERN_NVMF_FCTYPE_PROPERTY_SET;
    cmd.attrib = TERN_NVMF_PROP_SIZE_4;
    cmd.ofst = ofst;
    cmd.value = value;
    rc = qpair_sync(c->admin, (struct tern_nvme_cmd *)&cmd, NULL, 0, c->opts.connect_timeout_ms,
                    &cpl);
    if (rc != 0)
        return rc;
    return tern_host_cpl_status(&cpl) != 0 ? -EIO : 0;
}

static int
identify(struct tern_host_ctrlr *c, uint8_t cns, uint32_t nsid, void *buf)
{
    struct tern_nvme_cmd cmd;
    struct tern_nvme_cpl cpl;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = TERN_NVME_OPC_IDENTIFY;
    cmd.nsid = nsid;
    cmd.cdw10 = cns;
    rc = tern_host_admin_sync(c, &cmd, buf, 4096, &cpl);
    if (rc != 0)
        return rc;
    return tern_host_cpl_status(&cpl) != 0 ? -EIO : 0;
}

/* Enable: CC.EN with 64-byte SQEs and 16-byte CQEs, then wait for CSTS.RDY. */
static int
ctrlr_enable(struct tern_host_ctrlr *c, char *why, size_t why_len)
{
    uint64_t csts = 0, deadline;
    uint32_t to_ms;
    int rc;

    rc = prop_get(c, TERN_NVME_REG_CAP, true, &c->cap);
    if (rc != 0)
        return fail(why, why_len, rc, "Property Get CAP failed: %s", strerror(-rc));
    rc = prop_set(c, TERN_NVME_REG_CC,
                  TERN_NVME_CC_EN | 6u << TERN_NVME_CC_IOSQES_SHIFT | 4u << TERN_NVME_CC_IOCQES_SHIFT);
    if (rc != 0)
        return fail(why, why_len, rc, "Property Set CC.EN failed: %s", strerror(-rc));
    to_ms = TERN_NVME_CAP_TO(c->cap) * 500u;
    if (to_ms == 0 || to_ms > c->opts.connect_timeout_ms)
        to_ms = c->opts.connect_timeout_ms;
    deadline = tern_env_ticks() + tern_env_ticks_hz() * to_ms / 1000;
    for (;;) {
        rc = prop_get(c, TERN_NVME_REG_CSTS, false, &csts);
        if (rc != 0)
            return fail(why, why_len, rc, "Property Get CSTS failed: %s", strerror(-rc));
        if (csts & TERN_NVME_CSTS_CFS)
            return fail(why, why_len, -EIO, "controller fatal status (CSTS.CFS) while enabling");
        if (csts & TERN_NVME_CSTS_RDY)
            return 0;
        if (tern_env_ticks() > deadline)
            return fail(why, why_len, -ETIMEDOUT, "controller not ready %u ms after CC.EN", to_ms);
        tern_env_delay_us(1000);
    }
}

static int
ctrlr_namespaces(struct tern_host_ctrlr *c, char *why, size_t why_len)
{
    uint32_t *list = tern_env_zmalloc("tern_host_id", 4096, 4096, -1);
    struct tern_nvme_ns_data *nsd = tern_env_zmalloc("tern_host_id", 4096, 4096, -1);
    int rc = 0;

    if (list == NULL || nsd == NULL) {
        rc = fail(why, why_len, -ENOMEM, "out of memory");
        goto out;
    }
    rc = identify(c, TERN_NVME_CNS_ACTIVE_NS_LIST, 0, list);
    if (rc != 0) {
        rc = fail(why, why_len, rc, "Identify active namespace list failed");
        goto out;
    }
    c->ns = calloc(HOST_MAX_NS, sizeof(*c->ns));
    if (c->ns == NULL) {
        rc = fail(why, why_len, -ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < 1024 && list[i] != 0; i++) {
        uint8_t fmt;

        rc = identify(c, TERN_NVME_CNS_NS, list[i], nsd);
        if (rc != 0) {
            rc = fail(why, why_len, rc, "Identify namespace %u failed", list[i]);
            goto out;
        }
        if (nsd->nsze == 0)
            continue;
        fmt = nsd->flbas & 0xf;
        if (nsd->lbaf[fmt].lbads < 9 || nsd->lbaf[fmt].lbads > 16)
            continue;
        c->ns[c->num_ns].nsid = list[i];
        c->ns[c->num_ns].block_size = 1u << nsd->lbaf[fmt].lbads;
        c->ns[c->num_ns].blocks = nsd->nsze;
        c->num_ns++;
    }
out:
    tern_env_free(list);
    tern_env_free(nsd);
    return rc;
}

static struct tern_host_qpair *
qpair_open(struct tern_host_ctrlr *c, uint16_t qid, uint16_t depth, char *why, size_t why_len)
{
    struct tern_host_qpair_opts qo = {
        .qid = qid,
        .depth = depth,
        .cntlid = qid == 0 ? 0xffff : c->cntlid,
        .header_digest = c->opts.header_digest,
        .data_digest = c->opts.data_digest,
        .timeout_ms = c->opts.connect_timeout_ms,
    };
    struct tern_host_qpair *qp = c->ops->qpair_connect(&c->trid, &qo, why, why_len);

    if (qp == NULL)
        return NULL;
    qp->ops = c->ops;
    qp->ctrlr = c;
    qp->qid = qid;
    /* The transport may have granted fewer entries (tern_host_qpair). */
    if (qp->depth != 0 && qp->depth < depth)
        depth = qp->depth;
    if (qpair_reqs_init(qp, depth) != 0) {
        fail(why, why_len, -ENOMEM, "out of memory for %u requests", depth);
        qp->ops->disconnect(qp);
        return NULL;
    }
    if (qid != 0) {
        /* IOCCSZ counts the SQE too, in 16-byte units (Base Figure 313). */
        uint32_t icd = c->cdata.ioccsz > 4 ? c->cdata.ioccsz * 16u - 64u : 0;

        qp->icd_max = icd;
    }
    if (fabrics_connect(c, qp, qid, depth, why, why_len) != 0) {
        tern_host_qpair_free(qp);
        return NULL;
    }
    return qp;
}

int
tern_host_ctrlr_connect(const struct tern_host_trid *trid, const struct tern_host_ctrlr_opts *opts,
                        struct tern_host_ctrlr **out, char *why, size_t why_len)
{
    struct tern_host_ctrlr *c;
    struct tern_nvme_ctrlr_data *cd = NULL;
    bool discovery = strcmp(trid->subnqn, TERN_NVMF_DISCOVERY_NQN) == 0;
    bool zero_id = true;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return fail(why, why_len, -ENOMEM, "out of memory");
    c->trid = *trid;
    c->opts = *opts;
    if (c->opts.admin_queue_size < 2)
        c->opts.admin_queue_size = 32;
    if (c->opts.io_queue_size < 2)
        c->opts.io_queue_size = 128;
    if (c->opts.connect_timeout_ms == 0)
        c->opts.connect_timeout_ms = 5000;
    for (int i = 0; i < 16; i++)
        zero_id &= c->opts.hostid[i] == 0;
    if (zero_id) {
        uint64_t a = tern_env_ticks() ^ (uint64_t)(uintptr_t)c, b = (uint64_t)rand() << 32 ^ a * 31;

        memcpy(c->opts.hostid, &a, 8);
        memcpy(c->opts.hostid + 8, &b, 8);
        c->opts.hostid[6] = (uint8_t)((c->opts.hostid[6] & 0x0f) | 0x40);   /* UUID v4 */
        c->opts.hostid[8] = (uint8_t)((c->opts.hostid[8] & 0x3f) | 0x80);
    }
    if (c->opts.hostnqn[0] == 0) {
        const uint8_t *u = c->opts.hostid;

        snprintf(c->opts.hostnqn, sizeof(c->opts.hostnqn),
                 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                 "%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                 u[13], u[14], u[15]);
    }
    c->ops = tern_host_transport_find(trid->trtype);
    if (c->ops == NULL) {
        rc = fail(why, why_len, -EPROTONOSUPPORT, "no %s host transport in this build",
                  tern_nvmf_trtype_name(trid->trtype));
        goto err;
    }
    c->admin = qpair_open(c, 0, c->opts.admin_queue_size, why, why_len);
    if (c->admin == NULL) {
        rc = -ECONNREFUSED;
        goto err;
    }
    rc = ctrlr_enable(c, why, why_len);
    if (rc != 0)
        goto err;
    cd = tern_env_zmalloc("tern_host_id", 4096, 4096, -1);
    if (cd == NULL) {
        rc = fail(why, why_len, -ENOMEM, "out of memory");
        goto err;
    }
    rc = identify(c, TERN_NVME_CNS_CTRLR, 0, cd);
    if (rc != 0) {
        rc = fail(why, why_len, rc, "Identify controller failed");
        goto err;
    }
    c->cdata = *cd;
    c->io_queue_size = c->opts.io_queue_size;
    if (c->io_queue_size > TERN_NVME_CAP_MQES(c->cap) + 1)
        c->io_queue_size = (uint16_t)(TERN_NVME_CAP_MQES(c->cap) + 1);
    c->next_qid = 1;
    if (!discovery && c->opts.num_io_queues > 0) {
        struct tern_nvme_cmd cmd;
        struct tern_nvme_cpl cpl;
        uint32_t n = c->opts.num_io_queues - 1u;

        memset(&cmd, 0, sizeof(cmd));
        cmd.opc = TERN_NVME_OPC_SET_FEATURES;
        cmd.cdw10 = TERN_NVME_FEAT_NUMBER_OF_QUEUES;
        cmd.cdw11 = n | n << 16;
        rc = tern_host_admin_sync(c, &cmd, NULL, 0, &cpl);
        if (rc != 0 || tern_host_cpl_status(&cpl) != 0) {
            rc = fail(why, why_len, rc ? rc : -EIO, "Set Features (Number of Queues) failed");
            goto err;
        }
        c->io_queues = (uint16_t)((cpl.cdw0 & 0xffff) < (cpl.cdw0 >> 16) ? (cpl.cdw0 & 0xffff)
                                                                           : (cpl.cdw0 >> 16)) + 1;
        if (c->io_queues > c->opts.num_io_queues)
            c->io_queues = c->opts.num_io_queues;
        rc = ctrlr_namespaces(c, why, why_len);
        if (rc != 0)
            goto err;
    }
    tern_env_free(cd);
    if (c->opts.kato_ms) {
        /* Half the timeout, as the Linux host does, so one late keep-alive
         * does not expire the controller. */
        c->ka_period_ticks = tern_env_ticks_hz() * c->opts.kato_ms / 2000;
        c->next_ka = tern_env_ticks() + c->ka_period_ticks;
    }
    *out = c;
    return 0;
err:
    tern_env_free(cd);
    tern_host_ctrlr_free(c);
    return rc;
}

static void
ka_cb(void *arg, const struct tern_nvme_cpl *cpl)
{
    struct tern_host_ctrlr *c = arg;

    c->ka_outstanding = false;
    if (tern_host_cpl_status(cpl) != 0) {
        c->ka_failed = true;
        TERN_LOG(g_log, ERR, "controller %u: Keep Alive failed (status 0x%x)", c->cntlid,
                 tern_host_cpl_status(cpl));
    }
}

int
tern_host_ctrlr_poll(struct tern_host_ctrlr *c)
{
    int rc = tern_host_qpair_poll(c->admin);

    if (rc < 0)
        return rc;
    if (c->ka_failed)
        return -EIO;
    if (c->ka_period_ticks && !c->ka_outstanding && tern_env_ticks() >= c->next_ka) {
        struct tern_nvme_cmd cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.opc = TERN_NVME_OPC_KEEP_ALIVE;
        if (tern_host_submit(c->admin, &cmd, NULL, 0, 0, ka_cb, c) == 0)
            c->ka_outstanding = true;
        c->next_ka = tern_env_ticks() + c->ka_period_ticks;
    }
    return rc;
}

void
tern_host_ctrlr_free(struct tern_host_ctrlr *c)
{
    if (c == NULL)
        return;
    if (c->admin != NULL)
        tern_host_qpair_free(c->admin);
    free(c->ns);
    free(c);
}

int
tern_host_qpair_create(struct tern_host_ctrlr *c, struct tern_host_qpair **out, char *why,
                       size_t why_len)
{
    uint16_t qid;

    *out = NULL;
    if (c->io_queues == 0 || c->next_qid > c->io_queues)
        return fail(why, why_len, -ENOSPC, "no I/O queue left (the controller granted %u)",
                    c->io_queues);
    /* Queue IDs are handed out in order; a caller on another lcore takes
     * the next one atomically. */
    qid = __atomic_fetch_add(&c->next_qid, 1, __ATOMIC_RELAXED);
    if (qid > c->io_queues)
        return fail(why, why_len, -ENOSPC, "no I/O queue left (the controller granted %u)",
                    c->io_queues);
    *out = qpair_open(c, qid, c->io_queue_size, why, why_len);
    return *out ? 0 : -ECONNREFUSED;
}

void
tern_host_qpair_free(struct tern_host_qpair *qp)
{
    struct tern_host_req *reqs = qp->reqs;

    qp->failed = true;
    qpair_abort_all(qp);
    qp->ops->disconnect(qp);
    tern_env_free(reqs);
}

const struct tern_nvme_ctrlr_data *
tern_host_ctrlr_data(const struct tern_host_ctrlr *c)
{
    return &c->cdata;
}

uint16_t
tern_host_ctrlr_cntlid(const struct tern_host_ctrlr *c)
{
    return c->cntlid;
}

uint16_t
tern_host_ctrlr_io_queues(const struct tern_host_ctrlr *c)
{
    return c->io_queues;
}

uint16_t
tern_host_ctrlr_io_queue_size(const struct tern_host_ctrlr *c)
{
    return c->io_queue_size;
}

uint32_t
tern_host_ctrlr_max_xfer(const struct tern_host_ctrlr *c)
{
    uint32_t mps = 4096u << TERN_NVME_CAP_MPSMIN(c->cap);

    if (c->cdata.mdts == 0 || c->cdata.mdts > 20)
        return 0;
    return mps << c->cdata.mdts;
}

uint32_t
tern_host_ctrlr_next_nsid(const struct tern_host_ctrlr *c, uint32_t prev)
{
    for (uint32_t i = 0; i < c->num_ns; i++) {
        if (c->ns[i].nsid > prev)
            return c->ns[i].nsid;
    }
    return 0;
}

bool
tern_host_ns_geometry(const struct tern_host_ctrlr *c, uint32_t nsid, uint32_t *block_size,
                      uint64_t *blocks)
{
    for (uint32_t i = 0; i < c->num_ns; i++) {
        if (c->ns[i].nsid == nsid) {
            *block_size = c->ns[i].block_size;
            *blocks = c->ns[i].blocks;
            return true;
        }
    }
    return false;
}
