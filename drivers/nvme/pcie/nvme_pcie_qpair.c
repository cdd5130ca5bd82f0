/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs of the PCIe NVMe driver: submission (SQ entry, PRP or SGL
 * data pointer, doorbell), polled completions with the phase bit, command
 * timeouts, and failing every outstanding command when the controller goes.
 * A queue pair is used by one lcore only; nothing here locks.
 */
#include <errno.h>
#include <string.h>

#include "tern_env.h"
#include "nvme_pcie_internal.h"
#include "nvme_pcie_mmio.h"

TERN_LOG_REGISTER(g_log, "tern.drv.nvme.pcie", INFO);

/* ------------------------------------------------------------ data pointers */

/* A walk over iov one page-bounded chunk at a time, each translated. */
struct page_walk {
    const struct iovec *iov;
    int iovcnt;
    int i;
    const uint8_t *va;
    size_t left;
};

static void
walk_init(struct page_walk *w, const struct iovec *iov, int iovcnt)
{
    w->iov = iov;
    w->iovcnt = iovcnt;
    w->i = -1;
    w->va = NULL;
    w->left = 0;
}

/* 1 with the next chunk's IOVA and length, 0 at the end, -EFAULT for
 * memory without an IOVA. */
static int
walk_next(struct page_walk *w, nvme_pcie_v2i v2i, uint64_t *iova, size_t *chunk)
{
    size_t in_page;

    while (w->left == 0) {
        if (++w->i >= w->iovcnt)
            return 0;
        w->va = w->iov[w->i].iov_base;
        w->left = w->iov[w->i].iov_len;
    }
    in_page = NVME_PCIE_PAGE - ((uintptr_t)w->va & (NVME_PCIE_PAGE - 1));
    *iova = v2i(w->va);
    if (*iova == TERN_ENV_IOVA_BAD)
        return -EFAULT;
    *chunk = w->left < in_page ? w->left : in_page;
    w->va += *chunk;
    w->left -= *chunk;
    return 1;
}

int
nvme_pcie_build_prps(const struct iovec *iov, int iovcnt, nvme_pcie_v2i v2i, uint64_t *list,
                     uint64_t list_iova, uint32_t list_pages, uint64_t *prp1, uint64_t *prp2)
{
    uint32_t cap = list_pages * NVME_PCIE_PRP_PER_PAGE;
    uint32_t slot = 0;          /* next free slot in the list pages */
    uint32_t n = 0;             /* entries so far, prp1 included */
    uint64_t first = 0;
    bool ended_short = false;   /* a chunk ended before its page did */
    struct page_walk w;
    uint64_t iova;
    size_t chunk;
    int rc;

    walk_init(&w, iov, iovcnt);
    while ((rc = walk_next(&w, v2i, &iova, &chunk)) > 0) {
        /* Only the very last chunk may end inside a page. */
        if (ended_short)
            return -EINVAL;
        if (n == 0) {
            if (iova & 3)
                return -EINVAL;
            first = iova;
        } else {
            if (iova & (NVME_PCIE_PAGE - 1))
                return -EINVAL;     /* later entries are page starts */
            if (slot > 0 && slot % NVME_PCIE_PRP_PER_PAGE == 0) {
                /* The page is full and another entry follows: its last
                 * slot becomes a pointer to the next list page. */
                if (slot + 1 > cap)
                    return -E2BIG;
                list[slot] = list[slot - 1];
                list[slot - 1] = list_iova + (uint64_t)(slot / NVME_PCIE_PRP_PER_PAGE) *
                                 NVME_PCIE_PAGE;
                slot++;
            }
            if (slot >= cap)
                return -E2BIG;
            list[slot++] = iova;
        }
        n++;
        if (((iova + chunk) & (NVME_PCIE_PAGE - 1)) != 0)
            ended_short = true;
    }
    if (rc < 0)
        return rc;
    if (n == 0)
        return -EINVAL;
    *prp1 = first;
    if (n == 1)
        *prp2 = 0;
    else if (n == 2)
        *prp2 = list[0];        /* the second page itself, no list */
    else
        *prp2 = list_iova;
    return 0;
}

static void
sgl_data_block(struct tern_nvme_sgl *d, uint64_t addr, uint32_t len)
{
    memset(d, 0, sizeof(*d));
    d->address = addr;
    d->unkeyed.length = len;
    d->unkeyed.id = (uint8_t)(TERN_NVME_SGL_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_ADDRESS);
}

int
nvme_pcie_build_sgl(const struct iovec *iov, int iovcnt, nvme_pcie_v2i v2i, bool dword,
                    uint64_t *list, uint64_t list_iova, uint32_t list_pages,
                    struct tern_nvme_sgl *sgl1)
{
    struct tern_nvme_sgl *desc = (struct tern_nvme_sgl *)list;
    uint32_t cap = list_pages * NVME_PCIE_SGL_PER_PAGE;
    uint32_t n = 0;
    uint64_t run_start = 0, run_len = 0;
    struct page_walk w;
    uint64_t iova;
    size_t chunk;
    int rc;

    walk_init(&w, iov, iovcnt);
    while ((rc = walk_next(&w, v2i, &iova, &chunk)) > 0) {
        if (run_len > 0 && iova == run_start + run_len && run_len + chunk <= UINT32_MAX) {
            run_len += chunk;
        } else {
            if (run_len > 0) {
                if (n >= cap)
                    return -E2BIG;
                sgl_data_block(&desc[n++], run_start, (uint32_t)run_len);
            }
            run_start = iova;
            run_len = chunk;
        }
    }
    if (rc < 0)
        return rc;
    if (run_len == 0)
        return -EINVAL;
    if (n == 0) {
        sgl_data_block(sgl1, run_start, (uint32_t)run_len);
        return dword && ((run_start | run_len) & 3) ? -EINVAL : 0;
    }
    if (n >= cap)
        return -E2BIG;
    sgl_data_block(&desc[n++], run_start, (uint32_t)run_len);
    if (dword) {
        uint32_t k;

        for (k = 0; k < n; k++) {
            if ((desc[k].address | desc[k].unkeyed.length) & 3)
                return -EINVAL;
        }
    }
    memset(sgl1, 0, sizeof(*sgl1));
    sgl1->address = list_iova;
    sgl1->unkeyed.length = n * (uint32_t)sizeof(*desc);
    sgl1->unkeyed.id = (uint8_t)(TERN_NVME_SGL_LAST_SEGMENT << 4 | TERN_NVME_SGL_SUBTYPE_ADDRESS);
    return 0;
}

/* --------------------------------------------------------------- queue pair */

static uint32_t
list_pages_for(uint32_t max_xfer)
{
    /* A transfer touches at most max_xfer / page + 1 pages; prp1 names the
     * first, the list the rest. p chained pages hold p * 512 - (p - 1). */
    uint32_t need = max_xfer / NVME_PCIE_PAGE;
    uint32_t p = 1;

    while (p * NVME_PCIE_PRP_PER_PAGE - (p - 1) < need)
        p++;
    return p;
}

int
nvme_pcie_qpair_alloc(struct tern_nvme_pcie_qpair *qp, uint16_t qid, uint16_t size,
                      uint32_t max_xfer, int socket)
{
    uint32_t ntrk = size - 1u;
    uint32_t i;
    uint8_t *host;
    int rc;

    memset(qp, 0, sizeof(*qp));
    if (size < 2)
        return -EINVAL;
    qp->qid = qid;
    qp->size = size;
    qp->max_xfer = max_xfer;
    qp->list_pages = list_pages_for(max_xfer);
    qp->v2i = tern_env_dma_iova;
    rc = tern_env_dma_alloc("nvme_sq", (size_t)size * sizeof(struct tern_nvme_cmd),
                            NVME_PCIE_PAGE, socket, &qp->sq_mem);
    if (rc == 0)
        rc = tern_env_dma_alloc("nvme_cq", (size_t)size * sizeof(struct tern_nvme_cpl),
                                NVME_PCIE_PAGE, socket, &qp->cq_mem);
    if (rc == 0)
        rc = tern_env_dma_alloc("nvme_lists", (size_t)ntrk * qp->list_pages * NVME_PCIE_PAGE,
                                NVME_PCIE_PAGE, socket, &qp->list_mem);
    host = tern_env_zmalloc("nvme_trackers", ntrk * (sizeof(*qp->trk) + sizeof(uint16_t)), 64,
                            socket);
    if (rc != 0 || host == NULL) {
        tern_env_free(host);
        nvme_pcie_qpair_free(qp);
        return rc != 0 ? rc : -ENOMEM;
    }
    qp->host_mem = host;
    qp->sq = qp->sq_mem.va;
    qp->cq = qp->cq_mem.va;
    qp->trk = (struct nvme_pcie_tracker *)host;
    qp->free_cids = (uint16_t *)(host + ntrk * sizeof(*qp->trk));
    for (i = 0; i < ntrk; i++) {
        qp->trk[i].list = (uint64_t *)((uint8_t *)qp->list_mem.va +
                                       (size_t)i * qp->list_pages * NVME_PCIE_PAGE);
        qp->trk[i].list_iova = qp->list_mem.iova + (uint64_t)i * qp->list_pages * NVME_PCIE_PAGE;
        /* Pushed high to low so the first commands get CID 0, 1, ... */
        qp->free_cids[i] = (uint16_t)(ntrk - 1 - i);
    }
    qp->nfree = (uint16_t)ntrk;
    return 0;
}

void
nvme_pcie_qpair_free(struct tern_nvme_pcie_qpair *qp)
{
    tern_env_dma_free(&qp->sq_mem);
    tern_env_dma_free(&qp->cq_mem);
    tern_env_dma_free(&qp->list_mem);
    tern_env_free(qp->host_mem);
    qp->host_mem = NULL;
    qp->trk = NULL;
    qp->sq = NULL;
    qp->cq = NULL;
}

void
nvme_pcie_qpair_reset(struct tern_nvme_pcie_qpair *qp, volatile uint8_t *regs, uint32_t dstrd)
{
    qp->regs = regs;
    qp->sq_db = nvme_pcie_sq_doorbell(qp->qid, dstrd);
    qp->cq_db = nvme_pcie_cq_doorbell(qp->qid, dstrd);
    qp->sq_tail = 0;
    qp->cq_head = 0;
    qp->phase = 1;  /* a zeroed CQ has phase 0 everywhere: new entries carry 1 */
    memset(qp->cq, 0, (size_t)qp->size * sizeof(*qp->cq));
}

int
tern_nvme_pcie_qpair_submit(struct tern_nvme_pcie_qpair *qp, const struct tern_nvme_cmd *cmd,
                            const struct iovec *iov, int iovcnt, tern_nvme_pcie_cb cb,
                            void *cb_arg)
{
    struct nvme_pcie_tracker *t;
    struct tern_nvme_cmd *e;
    uint16_t cid;
    int rc;

    if (qp->failed)
        return -ENXIO;
    if (qp->nfree == 0) {
        qp->st.no_slot++;
        return -EAGAIN;
    }
    cid = qp->free_cids[qp->nfree - 1];
    t = &qp->trk[cid];
    e = &qp->sq[qp->sq_tail];
    *e = *cmd;
    e->cid = cid;
    e->flags = (uint8_t)(e->flags & 0x3);      /* keep FUSE; PSDT is ours */
    if (iovcnt > 0) {
        memset(&e->dptr, 0, sizeof(e->dptr));
        rc = nvme_pcie_build_prps(iov, iovcnt, qp->v2i, t->list, t->list_iova, qp->list_pages,
                                  &e->dptr.prp.prp1, &e->dptr.prp.prp2);
        if (rc == -EINVAL && qp->sgl) {
            rc = nvme_pcie_build_sgl(iov, iovcnt, qp->v2i, qp->sgl_dword, t->list, t->list_iova,
                                     qp->list_pages, &e->dptr.sgl1);
            if (rc == 0) {
                e->flags |= (uint8_t)(TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6);
                qp->st.sgl_cmds++;
            }
        }
        if (rc != 0)
            return rc;      /* the slot at sq_tail is simply written again */
    }
    qp->nfree--;
    t->cb = cb;
    t->cb_arg = cb_arg;
    t->opc = cmd->opc;
    t->active = true;
    if (qp->timeout_ticks != 0)
        t->submit_tick = tern_env_ticks();
    if (++qp->sq_tail == qp->size)
        qp->sq_tail = 0;
    qp->st.submitted++;
    if (++qp->st.outstanding > qp->st.max_outstanding)
        qp->st.max_outstanding = qp->st.outstanding;
    nvme_pcie_wmb();
    nvme_pcie_write32(qp->regs, qp->sq_db, qp->sq_tail);
    return 0;
}

static void
finish(struct tern_nvme_pcie_qpair *qp, uint16_t cid, uint16_t status, uint32_t cdw0)
{
    struct nvme_pcie_tracker *t = &qp->trk[cid];
    tern_nvme_pcie_cb cb = t->cb;
    void *arg = t->cb_arg;

    t->active = false;
    qp->free_cids[qp->nfree++] = cid;
    qp->st.outstanding--;
    cb(arg, status, cdw0);
}

static void
check_timeouts(struct tern_nvme_pcie_qpair *qp)
{
    uint64_t now = tern_env_ticks();
    uint16_t cid;

    if (now < qp->next_timeout_check)
        return;
    /* A scan per 100 ms at most: timeouts are seconds long. */
    qp->next_timeout_check = now + tern_env_ticks_hz() / 10;
    for (cid = 0; cid < qp->size - 1; cid++) {
        struct nvme_pcie_tracker *t = &qp->trk[cid];

        if (t->active && now - t->submit_tick > qp->timeout_ticks) {
            TERN_LOG(g_log, ERR, "qid %u cid %u (opcode 0x%02x) has not completed after %lu ms",
                     qp->qid, cid, t->opc,
                     (unsigned long)((now - t->submit_tick) * 1000 / tern_env_ticks_hz()));
            qp->timeout_ticks = 0;  /* reported once: the controller is being failed */
            if (qp->on_timeout)
                qp->on_timeout(qp, cid);
            return;
        }
    }
}

int
tern_nvme_pcie_qpair_poll(struct tern_nvme_pcie_qpair *qp, uint32_t max)
{
    uint32_t n = 0;
    bool moved = false;

    if (qp->failed)
        return 0;
    while (max == 0 || n < max) {
        volatile struct tern_nvme_cpl *c = &qp->cq[qp->cq_head];
        uint16_t status = c->status;
        uint16_t cid;
        uint32_t cdw0;

        if ((status & 1u) != qp->phase)
            break;
        nvme_pcie_rmb();    /* the rest of the entry after its phase bit */
        cid = c->cid;
        cdw0 = c->cdw0;
        if (++qp->cq_head == qp->size) {
            qp->cq_head = 0;
            qp->phase ^= 1u;
        }
        moved = true;
        if (cid >= qp->size - 1 || !qp->trk[cid].active) {
            TERN_LOG(g_log, ERR, "qid %u: completion for cid %u, which is not outstanding "
                     "(status 0x%04x): ignored", qp->qid, cid, (unsigned)(status >> 1));
            continue;
        }
        qp->st.completed++;
        if (status >> 1)
            qp->st.errors++;
        n++;
        finish(qp, cid, (uint16_t)(status >> 1), cdw0);
        if (qp->failed)
            break;  /* a callback's submission found the controller gone */
    }
    if (moved && !qp->failed) {
        nvme_pcie_rmb();    /* entries read before the device may reuse them */
        nvme_pcie_write32(qp->regs, qp->cq_db, qp->cq_head);
    }
    if (qp->timeout_ticks != 0 && qp->st.outstanding > 0)
        check_timeouts(qp);
    return (int)n;
}

void
nvme_pcie_qpair_fail(struct tern_nvme_pcie_qpair *qp)
{
    uint16_t cid;

    qp->failed = true;
    for (cid = 0; qp->trk != NULL && cid < qp->size - 1; cid++) {
        if (qp->trk[cid].active) {
            qp->st.aborted++;
            finish(qp, cid, TERN_NVME_PCIE_ABORT_STATUS, 0);
        }
    }
}

uint32_t
tern_nvme_pcie_qpair_outstanding(const struct tern_nvme_pcie_qpair *qp)
{
    return qp->st.outstanding;
}

void
tern_nvme_pcie_qpair_stats(const struct tern_nvme_pcie_qpair *qp,
                           struct tern_nvme_pcie_qpair_stats *st)
{
    *st = qp->st;
}
