/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controllers of the PCIe NVMe driver: reset and enable (Base 3.5.1, with
 * the CAP.TO deadlines), the admin queue (main lcore, commands executed one
 * at a time by polling), Identify, Set Features Number of Queues, one I/O
 * queue pair per EAL lcore, health polling (vfio removal request, CSTS.CFS,
 * a device that reads all ones), failure and orderly shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "nvme_pcie_internal.h"
#include "nvme_pcie_mmio.h"
#include "nvme_pcie_vfio.h"

TERN_LOG_REGISTER(g_log, "tern.drv.nvme.pcie.ctrlr", INFO);

#define HEALTH_PERIOD_US 10000u     /* removal request and CSTS, every 10 ms */
#define MAX_NS 1024u                /* one Active Namespace ID list */

enum ctrlr_state {
    CTRLR_LIVE,
    CTRLR_FAILING,      /* queue pairs are failing their commands */
    CTRLR_FAILED,       /* device released */
};

struct tern_nvme_pcie_ctrlr {
    TAILQ_ENTRY(tern_nvme_pcie_ctrlr) link;
    uint64_t id;                    /* messages name a controller by id */
    struct nvme_pcie_dev dev;
    volatile uint8_t *regs;
    uint64_t cap;
    uint32_t dstrd;
    struct tern_nvme_pcie_opts opts;
    enum ctrlr_state state;
    bool admin_broken;              /* an admin command timed out: never poll it again */
    struct tern_nvme_pcie_qpair adminq;
    struct tern_env_dma buf;        /* one page for Identify data */
    struct tern_nvme_ctrlr_data cdata;
    uint32_t max_xfer;
    bool sgl, sgl_dword;
    struct tern_nvme_pcie_ns *ns;
    uint32_t nns;
    uint32_t nq;                    /* I/O queue pairs */
    struct tern_nvme_pcie_qpair *ioq;
    int16_t lcore_q[TERN_MAX_LCORES];
    struct tern_poller *health;
    tern_nvme_pcie_fail_cb fail_cb;
    void *fail_ctx;
    char fail_reason[96];
};

static TAILQ_HEAD(, tern_nvme_pcie_ctrlr) g_ctrlrs = TAILQ_HEAD_INITIALIZER(g_ctrlrs);
static uint64_t g_next_id = 1;

void
tern_nvme_pcie_default_opts(struct tern_nvme_pcie_opts *o)
{
    o->io_queue_size = TERN_NVME_PCIE_DEFAULT_IO_QUEUE_SIZE;
    o->admin_timeout_ms = TERN_NVME_PCIE_DEFAULT_ADMIN_TIMEOUT_MS;
    o->io_timeout_ms = TERN_NVME_PCIE_DEFAULT_IO_TIMEOUT_MS;
}

int
nvme_pcie_wait_csts(volatile uint8_t *regs, uint32_t mask, uint32_t want, uint64_t timeout_ms)
{
    uint64_t deadline = tern_env_ticks() + timeout_ms * tern_env_ticks_hz() / 1000;

    for (;;) {
        uint32_t csts = nvme_pcie_read32(regs, TERN_NVME_REG_CSTS);

        if (csts == UINT32_MAX)
            return -ENODEV;
        if ((csts & mask) == want)
            return 0;
        if (tern_env_ticks() > deadline)
            return -ETIMEDOUT;
        tern_env_delay_us(100);
    }
}

static struct tern_nvme_pcie_ctrlr *
ctrlr_by_id(uint64_t id)
{
    struct tern_nvme_pcie_ctrlr *c;

    TAILQ_FOREACH(c, &g_ctrlrs, link) {
        if (c->id == id)
            return c;
    }
    return NULL;
}

/* ------------------------------------------------------------ admin commands */

struct admin_wait {
    bool done;
    uint16_t status;
    uint32_t cdw0;
};

static void
admin_done(void *arg, uint16_t status, uint32_t cdw0)
{
    struct admin_wait *w = arg;

    w->done = true;
    w->status = status;
    w->cdw0 = cdw0;
}

/* Run one admin command to completion (main lcore). Returns 0, -EIO with
 * the status in *status, -ETIMEDOUT or -ENODEV. */
static int
admin_exec(struct tern_nvme_pcie_ctrlr *c, struct tern_nvme_cmd *cmd, void *buf, size_t len,
           uint32_t *cdw0)
{
    struct admin_wait w = { 0 };
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    uint64_t deadline;
    int rc;

    if (c->admin_broken || c->state != CTRLR_LIVE)
        return -ENODEV;
    rc = tern_nvme_pcie_qpair_submit(&c->adminq, cmd, &iov, buf ? 1 : 0, admin_done, &w);
    if (rc != 0)
        return rc;
    deadline = tern_env_ticks() + (uint64_t)c->opts.admin_timeout_ms * tern_env_ticks_hz() / 1000;
    while (!w.done) {
        tern_nvme_pcie_qpair_poll(&c->adminq, 0);
        if (w.done)
            break;
        if (nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS) == UINT32_MAX) {
            c->admin_broken = true;
            return -ENODEV;
        }
        if (tern_env_ticks() > deadline) {
            TERN_LOG(g_log, ERR, "%s: admin command 0x%02x did not complete in %u ms",
                     c->dev.bdf, cmd->opc, c->opts.admin_timeout_ms);
            c->admin_broken = true;     /* its slot points at this stack frame */
            return -ETIMEDOUT;
        }
        tern_env_delay_us(10);
    }
    if (cdw0)
        *cdw0 = w.cdw0;
    if (w.status != 0) {
        TERN_LOG(g_log, ERR, "%s: admin command 0x%02x failed: status 0x%03x (SCT %u SC 0x%02x)",
                 c->dev.bdf, cmd->opc, w.status & 0x7ff, TERN_NVME_STATUS_SCT(w.status),
                 TERN_NVME_STATUS_SC(w.status));
        return -EIO;
    }
    return 0;
}

static int
identify(struct tern_nvme_pcie_ctrlr *c, uint8_t cns, uint32_t nsid)
{
    struct tern_nvme_cmd cmd = { .opc = TERN_NVME_OPC_IDENTIFY, .nsid = nsid, .cdw10 = cns };

    memset(c->buf.va, 0, NVME_PCIE_PAGE);
    return admin_exec(c, &cmd, c->buf.va, NVME_PCIE_PAGE, NULL);
}

/* ------------------------------------------------------------ enable/disable */

static uint64_t
cap_timeout_ms(const struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t to = TERN_NVME_CAP_TO(c->cap);

    return (uint64_t)(to ? to : 1) * 500;
}

static int
ctrlr_disable(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t cc = nvme_pcie_read32(c->regs, TERN_NVME_REG_CC);
    uint32_t csts = nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS);
    int rc;

    if (csts == UINT32_MAX)
        return -ENODEV;
    if (cc & TERN_NVME_CC_EN) {
        /* An enable in progress must finish before EN may be cleared. */
        if (!(csts & TERN_NVME_CSTS_RDY) && !(csts & TERN_NVME_CSTS_CFS)) {
            rc = nvme_pcie_wait_csts(c->regs, TERN_NVME_CSTS_RDY, TERN_NVME_CSTS_RDY,
                                     cap_timeout_ms(c));
            if (rc != 0)
                TERN_LOG(g_log, WARNING, "%s: CSTS.RDY did not follow CC.EN=1 in %lu ms; "
                         "disabling anyway", c->dev.bdf, (unsigned long)cap_timeout_ms(c));
        }
        nvme_pcie_write32(c->regs, TERN_NVME_REG_CC, cc & ~TERN_NVME_CC_EN);
    }
    rc = nvme_pcie_wait_csts(c->regs, TERN_NVME_CSTS_RDY, 0, cap_timeout_ms(c));
    if (rc == -ETIMEDOUT)
        TERN_LOG(g_log, ERR, "%s: controller still ready %lu ms (CAP.TO) after CC.EN=0",
                 c->dev.bdf, (unsigned long)cap_timeout_ms(c));
    return rc;
}

static int
ctrlr_enable(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t cc;
    int rc;

    nvme_pcie_write32(c->regs, TERN_NVME_REG_AQA,
                      (uint32_t)(c->adminq.size - 1) << 16 | (uint32_t)(c->adminq.size - 1));
    nvme_pcie_write64(c->regs, TERN_NVME_REG_ASQ, c->adminq.sq_mem.iova);
    nvme_pcie_write64(c->regs, TERN_NVME_REG_ACQ, c->adminq.cq_mem.iova);
    /* NVM command set, 4 KiB pages (MPS 0), round robin, 64-byte SQ and
     * 16-byte CQ entries. */
    cc = TERN_NVME_CC_EN | 0u << TERN_NVME_CC_CSS_SHIFT | 0u << TERN_NVME_CC_MPS_SHIFT |
         0u << TERN_NVME_CC_AMS_SHIFT | 6u << TERN_NVME_CC_IOSQES_SHIFT |
         4u << TERN_NVME_CC_IOCQES_SHIFT;
    nvme_pcie_write32(c->regs, TERN_NVME_REG_CC, cc);
    rc = nvme_pcie_wait_csts(c->regs, TERN_NVME_CSTS_RDY | TERN_NVME_CSTS_CFS, TERN_NVME_CSTS_RDY,
                             cap_timeout_ms(c));
    if (rc == -ETIMEDOUT) {
        uint32_t csts = nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS);

        TERN_LOG(g_log, ERR, "%s: controller not ready %lu ms (CAP.TO) after CC.EN=1 "
                 "(CSTS 0x%x%s)", c->dev.bdf, (unsigned long)cap_timeout_ms(c), csts,
                 csts & TERN_NVME_CSTS_CFS ? ": controller fatal status" : "");
    }
    return rc;
}

/* ------------------------------------------------------------ init */

static void
trim(char *dst, const char *src, size_t n)
{
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
        n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int
add_ns(struct tern_nvme_pcie_ctrlr *c, uint32_t nsid)
{
    const struct tern_nvme_ns_data *d = c->buf.va;
    struct tern_nvme_pcie_ns *ns;
    uint32_t fmt;
    int rc = identify(c, TERN_NVME_CNS_NS, nsid);

    if (rc != 0)
        return rc;
    if (d->nsze == 0)
        return 0;       /* inactive */
    fmt = (d->flbas & 0xfu) | (uint32_t)((d->flbas >> 5) & 0x3u) << 4;
    if (fmt > d->nlbaf) {
        TERN_LOG(g_log, WARNING, "%s: namespace %u: LBA format %u beyond NLBAF %u: skipped",
                 c->dev.bdf, nsid, fmt, d->nlbaf);
        return 0;
    }
    if (d->lbaf[fmt].ms != 0) {
        TERN_LOG(g_log, WARNING, "%s: namespace %u: formatted with %u bytes of metadata per "
                 "block, which this driver does not carry: skipped (format it without metadata)",
                 c->dev.bdf, nsid, d->lbaf[fmt].ms);
        return 0;
    }
    if (d->lbaf[fmt].lbads < 9 || d->lbaf[fmt].lbads > 16) {
        TERN_LOG(g_log, WARNING, "%s: namespace %u: block size 2^%u: skipped", c->dev.bdf, nsid,
                 d->lbaf[fmt].lbads);
        return 0;
    }
    ns = &c->ns[c->nns++];
    ns->nsid = nsid;
    ns->block_size = 1u << d->lbaf[fmt].lbads;
    ns->num_blocks = d->nsze;
    memcpy(ns->nguid, d->nguid, sizeof(ns->nguid));
    memcpy(ns->eui64, d->eui64, sizeof(ns->eui64));
    TERN_LOG(g_log, INFO, "%s: namespace %u: %lu blocks of %u bytes", c->dev.bdf, nsid,
             (unsigned long)ns->num_blocks, ns->block_size);
    return 0;
}

static int
scan_namespaces(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t nn = c->cdata.nn, i, ids[MAX_NS], n = 0;
    int rc;

    if (nn > MAX_NS)
        TERN_LOG(g_log, WARNING, "%s: %u namespaces possible; the first %u active are used",
                 c->dev.bdf, nn, MAX_NS);
    /* Active Namespace ID list since 1.1; before it, every NSID up to NN. */
    if (c->cdata.ver >= 0x10100 && identify(c, TERN_NVME_CNS_ACTIVE_NS_LIST, 0) == 0) {
        const uint32_t *list = c->buf.va;

        for (i = 0; i < MAX_NS && list[i] != 0; i++)
            ids[n++] = list[i];
    } else {
        for (i = 1; i <= nn && n < MAX_NS; i++)
            ids[n++] = i;
    }
    c->ns = calloc(n ? n : 1, sizeof(*c->ns));
    if (c->ns == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        rc = add_ns(c, ids[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void
qpair_timeout(struct tern_nvme_pcie_qpair *qp, uint16_t cid);

static int
create_io_queues(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t want = tern_env_lcore_count(), got, lcore, i = 0;
    uint32_t size = c->opts.io_queue_size;
    struct tern_nvme_cmd cmd;
    uint32_t cdw0 = 0;
    int rc;

    if (size > TERN_NVME_CAP_MQES(c->cap) + 1u) {
        TERN_LOG(g_log, NOTICE, "%s: io_queue_size %u capped to the controller's %u entries",
                 c->dev.bdf, size, TERN_NVME_CAP_MQES(c->cap) + 1u);
        size = TERN_NVME_CAP_MQES(c->cap) + 1u;
    }
    c->opts.io_queue_size = size;
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = TERN_NVME_OPC_SET_FEATURES;
    cmd.cdw10 = TERN_NVME_FEAT_NUMBER_OF_QUEUES;
    cmd.cdw11 = (want - 1) | (want - 1) << 16;
    rc = admin_exec(c, &cmd, NULL, 0, &cdw0);
    if (rc != 0)
        return rc;
    got = (cdw0 & 0xffffu) + 1;
    if ((cdw0 >> 16) + 1 < got)
        got = (cdw0 >> 16) + 1;
    if (got < want) {
        TERN_LOG(g_log, ERR, "%s: the controller grants %u I/O queue pairs; tern runs %u lcores "
                 "and gives each its own (run on fewer lcores)", c->dev.bdf, got, want);
        return -ENOSPC;
    }
    c->ioq = calloc(want, sizeof(*c->ioq));
    if (c->ioq == NULL)
        return -ENOMEM;
    TERN_ENV_FOREACH_LCORE(lcore) {
        struct tern_nvme_pcie_qpair *qp = &c->ioq[i];
        uint16_t qid = (uint16_t)(i + 1);

        rc = nvme_pcie_qpair_alloc(qp, qid, (uint16_t)size, c->max_xfer,
                                   tern_env_lcore_socket(lcore));
        if (rc != 0)
            return rc;
        c->nq = i + 1;
        nvme_pcie_qpair_reset(qp, c->regs, c->dstrd);
        qp->sgl = c->sgl;
        qp->sgl_dword = c->sgl_dword;
        qp->lcore = lcore;
        qp->owner = c;
        qp->on_timeout = qpair_timeout;
        qp->timeout_ticks = (uint64_t)c->opts.io_timeout_ms * tern_env_ticks_hz() / 1000;
        memset(&cmd, 0, sizeof(cmd));
        cmd.opc = TERN_NVME_OPC_CREATE_IO_CQ;
        cmd.dptr.prp.prp1 = qp->cq_mem.iova;
        cmd.cdw10 = (size - 1) << 16 | qid;
        cmd.cdw11 = 1;      /* physically contiguous, no interrupts */
        rc = admin_exec(c, &cmd, NULL, 0, NULL);
        if (rc != 0)
            return rc;
        memset(&cmd, 0, sizeof(cmd));
        cmd.opc = TERN_NVME_OPC_CREATE_IO_SQ;
        cmd.dptr.prp.prp1 = qp->sq_mem.iova;
        cmd.cdw10 = (size - 1) << 16 | qid;
        cmd.cdw11 = (uint32_t)qid << 16 | 1;   /* its CQ, physically contiguous */
        rc = admin_exec(c, &cmd, NULL, 0, NULL);
        if (rc != 0)
            return rc;
        c->lcore_q[lcore] = (int16_t)i;
        i++;
    }
    return 0;
}

static int health_poll(void *arg);

static int
ctrlr_init(struct tern_nvme_pcie_ctrlr *c)
{
    char sn[21], mn[41];
    uint32_t mps_min;
    int rc;

    c->cap = nvme_pcie_read64(c->regs, TERN_NVME_REG_CAP);
    if (c->cap == UINT64_MAX) {
        TERN_LOG(g_log, ERR, "%s: registers read all ones: the device does not answer",
                 c->dev.bdf);
        return -ENODEV;
    }
    c->dstrd = TERN_NVME_CAP_DSTRD(c->cap);
    mps_min = TERN_NVME_CAP_MPSMIN(c->cap);
    if (mps_min != 0 || !(TERN_NVME_CAP_CSS(c->cap) & TERN_NVME_CAP_CSS_NVM)) {
        TERN_LOG(g_log, ERR, "%s: needs %u-byte pages or has no NVM command set (CAP 0x%lx): "
                 "not supported", c->dev.bdf, 4096u << mps_min, (unsigned long)c->cap);
        return -ENOTSUP;
    }
    rc = ctrlr_disable(c);
    if (rc != 0)
        return rc;
    rc = nvme_pcie_qpair_alloc(&c->adminq, 0, TERN_NVME_PCIE_ADMIN_QUEUE_SIZE, NVME_PCIE_PAGE,
                               TERN_ENV_SOCKET_ANY);
    if (rc != 0)
        return rc;
    nvme_pcie_qpair_reset(&c->adminq, c->regs, c->dstrd);
    rc = tern_env_dma_alloc("nvme_identify", NVME_PCIE_PAGE, NVME_PCIE_PAGE, TERN_ENV_SOCKET_ANY,
                            &c->buf);
    if (rc != 0)
        return rc;
    rc = ctrlr_enable(c);
    if (rc != 0)
        return rc;
    rc = identify(c, TERN_NVME_CNS_CTRLR, 0);
    if (rc != 0)
        return rc;
    memcpy(&c->cdata, c->buf.va, sizeof(c->cdata));
    c->max_xfer = TERN_NVME_PCIE_MAX_XFER;
    if (c->cdata.mdts != 0 && c->cdata.mdts < 20 && (NVME_PCIE_PAGE << c->cdata.mdts) < c->max_xfer)
        c->max_xfer = NVME_PCIE_PAGE << c->cdata.mdts;
    c->sgl = (c->cdata.sgls & 0x3u) == 1 || (c->cdata.sgls & 0x3u) == 2;
    c->sgl_dword = (c->cdata.sgls & 0x3u) == 2;
    trim(sn, c->cdata.sn, sizeof(c->cdata.sn));
    trim(mn, c->cdata.mn, sizeof(c->cdata.mn));
    TERN_LOG(g_log, INFO, "%s: %s (SN %s), NVMe %u.%u, MQES %u, CAP.TO %lu ms, doorbell stride "
             "%u, max transfer %u KiB, SGLs %s, %u namespace(s) possible", c->dev.bdf, mn, sn,
             c->cdata.ver >> 16, (c->cdata.ver >> 8) & 0xff, TERN_NVME_CAP_MQES(c->cap) + 1,
             (unsigned long)cap_timeout_ms(c), 4u << c->dstrd, c->max_xfer / 1024,
             c->sgl ? (c->sgl_dword ? "yes (dword-aligned)" : "yes") : "no", c->cdata.nn);
    rc = create_io_queues(c);
    if (rc != 0)
        return rc;
    return scan_namespaces(c);
}

/* Release everything that is ours; the device must be closed already or is
 * closed here. */
static void
ctrlr_free(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t i;

    tern_poller_unregister(&c->health);
    nvme_pcie_dev_close(&c->dev);
    for (i = 0; i < c->nq; i++)
        nvme_pcie_qpair_free(&c->ioq[i]);
    free(c->ioq);
    nvme_pcie_qpair_free(&c->adminq);
    tern_env_dma_free(&c->buf);
    free(c->ns);
    free(c);
}

static struct tern_nvme_pcie_ctrlr *
ctrlr_new(const struct tern_nvme_pcie_opts *opts)
{
    struct tern_nvme_pcie_ctrlr *c = calloc(1, sizeof(*c));
    uint32_t i;

    if (c == NULL)
        return NULL;
    for (i = 0; i < TERN_MAX_LCORES; i++)
        c->lcore_q[i] = -1;
    if (opts)
        c->opts = *opts;
    else
        tern_nvme_pcie_default_opts(&c->opts);
    c->dev.fd = -1;
    c->dev.req_fd = -1;
    return c;
}

/* After a failed init: stop the controller (no DMA into what we free). */
static void
init_failed(struct tern_nvme_pcie_ctrlr *c, int rc)
{
    TERN_LOG(g_log, ERR, "%s: controller not attached: %s", c->dev.bdf, strerror(-rc));
    if (c->regs != NULL && nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS) != UINT32_MAX)
        (void)ctrlr_disable(c);
    ctrlr_free(c);
}

static void
ctrlr_publish(struct tern_nvme_pcie_ctrlr *c)
{
    c->id = g_next_id++;
    TAILQ_INSERT_TAIL(&g_ctrlrs, c, link);
    TERN_LOG(g_log, INFO, "%s: attached: %u namespace(s), %u I/O queue pairs of %u entries",
             c->dev.bdf, c->nns, c->nq, c->opts.io_queue_size);
}

struct tern_nvme_pcie_ctrlr *
nvme_pcie_ctrlr_init_regs(const char *name, volatile uint8_t *regs,
                          const struct tern_nvme_pcie_opts *opts, int *rc)
{
    struct tern_nvme_pcie_ctrlr *c = ctrlr_new(opts);

    if (c == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    snprintf(c->dev.bdf, sizeof(c->dev.bdf), "%s", name);
    c->regs = regs;
    *rc = ctrlr_init(c);
    if (*rc != 0) {
        init_failed(c, *rc);
        return NULL;
    }
    ctrlr_publish(c);
    return c;
}

struct tern_nvme_pcie_ctrlr *
tern_nvme_pcie_attach(const char *bdf, const struct tern_nvme_pcie_opts *opts)
{
    struct tern_nvme_pcie_ctrlr *c = ctrlr_new(opts);
    int rc;

    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    rc = nvme_pcie_dev_open(&c->dev, bdf);
    if (rc != 0) {
        free(c);
        errno = -rc;
        return NULL;
    }
    c->regs = c->dev.bar;
    rc = ctrlr_init(c);
    if (rc == 0) {
        c->health = tern_poller_register(health_poll, c, HEALTH_PERIOD_US, "nvme_health");
        if (c->health == NULL)
            rc = -ENOMEM;
    }
    if (rc != 0) {
        init_failed(c, rc);
        errno = -rc;
        return NULL;
    }
    ctrlr_publish(c);
    return c;
}

/* ------------------------------------------------------------ failure */

static void
fail_local_qpair(void *ctx)
{
    struct tern_nvme_pcie_ctrlr *c = ctx;
    int16_t q = c->lcore_q[tern_env_lcore_id()];

    if (q >= 0)
        nvme_pcie_qpair_fail(&c->ioq[q]);
}

static void
fail_done(void *ctx, int status)
{
    struct tern_nvme_pcie_ctrlr *c = ctx;

    if (status != 0)
        TERN_LOG(g_log, ERR, "%s: not every lcore could fail its queue pair (%s); releasing "
                 "the device anyway", c->dev.bdf, strerror(-status));
    nvme_pcie_qpair_fail(&c->adminq);
    nvme_pcie_dev_close(&c->dev);
    c->state = CTRLR_FAILED;
    TERN_LOG(g_log, ERR, "%s: controller failed (%s): outstanding commands aborted, device "
             "released", c->dev.bdf, c->fail_reason);
    if (c->fail_cb)
        c->fail_cb(c, c->fail_ctx);
}

/* Main lcore. */
void
nvme_pcie_ctrlr_fail(struct tern_nvme_pcie_ctrlr *c, const char *reason)
{
    int rc;

    if (c->state != CTRLR_LIVE)
        return;
    c->state = CTRLR_FAILING;
    snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", reason);
    TERN_LOG(g_log, ERR, "%s: %s: failing the controller", c->dev.bdf, reason);
    tern_poller_unregister(&c->health);
    /* A controller that still answers is disabled first, so it stops DMA
     * into buffers its commands' owners get back now. */
    if (nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS) != UINT32_MAX)
        (void)ctrlr_disable(c);
    rc = tern_reactor_for_each(fail_local_qpair, c, fail_done);
    if (rc != 0) {
        /* No reactor walk (stopping): fail here; nobody polls them now. */
        uint32_t i;

        for (i = 0; i < c->nq; i++)
            nvme_pcie_qpair_fail(&c->ioq[i]);
        fail_done(c, 0);
    }
}

static void
timeout_msg(void *arg1, void *arg2)
{
    struct tern_nvme_pcie_ctrlr *c = ctrlr_by_id((uint64_t)(uintptr_t)arg1);

    (void)arg2;
    if (c != NULL)
        nvme_pcie_ctrlr_fail(c, "I/O command timeout");
}

/* On the queue pair's lcore: the controller is failed from the main lcore. */
static void
qpair_timeout(struct tern_nvme_pcie_qpair *qp, uint16_t cid)
{
    struct tern_nvme_pcie_ctrlr *c = qp->owner;

    (void)cid;
    if (tern_reactor_send_msg(tern_env_main_lcore(), timeout_msg, (void *)(uintptr_t)c->id,
                              NULL) != 0)
        TERN_LOG(g_log, ERR, "%s: cannot reach the main lcore to fail the controller after a "
                 "timeout", c->dev.bdf);
}

static int
health_poll(void *arg)
{
    struct tern_nvme_pcie_ctrlr *c = arg;
    uint32_t csts;

    if (nvme_pcie_dev_removal_requested(&c->dev)) {
        nvme_pcie_ctrlr_fail(c, "the device is being removed (vfio request)");
        return TERN_POLLER_BUSY;
    }
    csts = nvme_pcie_read32(c->regs, TERN_NVME_REG_CSTS);
    if (csts == UINT32_MAX)
        nvme_pcie_ctrlr_fail(c, "registers read all ones (device gone)");
    else if (csts & TERN_NVME_CSTS_CFS)
        nvme_pcie_ctrlr_fail(c, "controller fatal status (CSTS.CFS)");
    else
        return TERN_POLLER_IDLE;
    return TERN_POLLER_BUSY;
}

/* ------------------------------------------------------------ detach */

static void
ctrlr_shutdown(struct tern_nvme_pcie_ctrlr *c)
{
    struct tern_nvme_cmd cmd;
    uint32_t i, cc;
    int rc;

    /* Delete the I/O queues (SQ before its CQ), then a normal shutdown. */
    for (i = c->nq; i-- > 0;) {
        memset(&cmd, 0, sizeof(cmd));
        cmd.opc = TERN_NVME_OPC_DELETE_IO_SQ;
        cmd.cdw10 = c->ioq[i].qid;
        if (admin_exec(c, &cmd, NULL, 0, NULL) != 0)
            break;
        cmd.opc = TERN_NVME_OPC_DELETE_IO_CQ;
        if (admin_exec(c, &cmd, NULL, 0, NULL) != 0)
            break;
    }
    cc = nvme_pcie_read32(c->regs, TERN_NVME_REG_CC);
    if (cc == UINT32_MAX)
        return;
    cc = (cc & ~TERN_NVME_CC_SHN_MASK) | TERN_NVME_CC_SHN_NORMAL << TERN_NVME_CC_SHN_SHIFT;
    nvme_pcie_write32(c->regs, TERN_NVME_REG_CC, cc);
    rc = nvme_pcie_wait_csts(c->regs, TERN_NVME_CSTS_SHST_MASK,
                             TERN_NVME_CSTS_SHST_COMPLETE << TERN_NVME_CSTS_SHST_SHIFT,
                             c->opts.admin_timeout_ms);
    if (rc != 0)
        TERN_LOG(g_log, WARNING, "%s: shutdown not complete after %u ms (%s); disabling",
                 c->dev.bdf, c->opts.admin_timeout_ms, strerror(-rc));
    (void)ctrlr_disable(c);
}

void
tern_nvme_pcie_detach(struct tern_nvme_pcie_ctrlr *c)
{
    uint32_t i;

    for (i = 0; i < c->nq; i++) {
        if (c->ioq[i].st.outstanding > 0)
            TERN_LOG(g_log, ERR, "%s: qid %u detached with %u commands outstanding",
                     c->dev.bdf, c->ioq[i].qid, c->ioq[i].st.outstanding);
    }
    if (c->state == CTRLR_LIVE)
        ctrlr_shutdown(c);
    TAILQ_REMOVE(&g_ctrlrs, c, link);
    TERN_LOG(g_log, INFO, "%s: detached", c->dev.bdf);
    ctrlr_free(c);
}

/* ------------------------------------------------------------ accessors */

void
tern_nvme_pcie_set_fail_cb(struct tern_nvme_pcie_ctrlr *c, tern_nvme_pcie_fail_cb cb, void *ctx)
{
    c->fail_cb = cb;
    c->fail_ctx = ctx;
}

bool
tern_nvme_pcie_failed(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->state != CTRLR_LIVE;
}

const char *
tern_nvme_pcie_bdf(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->dev.bdf;
}

const struct tern_nvme_ctrlr_data *
tern_nvme_pcie_cdata(const struct tern_nvme_pcie_ctrlr *c)
{
    return &c->cdata;
}

uint32_t
tern_nvme_pcie_ns_count(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->nns;
}

const struct tern_nvme_pcie_ns *
tern_nvme_pcie_ns(const struct tern_nvme_pcie_ctrlr *c, uint32_t i)
{
    return i < c->nns ? &c->ns[i] : NULL;
}

uint32_t
tern_nvme_pcie_max_xfer(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->max_xfer;
}

bool
tern_nvme_pcie_sgl_supported(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->sgl;
}

uint32_t
tern_nvme_pcie_io_queue_size(const struct tern_nvme_pcie_ctrlr *c)
{
    return c->opts.io_queue_size;
}

struct tern_nvme_pcie_qpair *
tern_nvme_pcie_lcore_qpair(struct tern_nvme_pcie_ctrlr *c, uint32_t lcore)
{
    if (lcore >= TERN_MAX_LCORES || c->lcore_q[lcore] < 0)
        return NULL;
    return &c->ioq[c->lcore_q[lcore]];
}
