/* SPDX-License-Identifier: BSD-3-Clause */
/* Where a host command's data goes over NVMe/RDMA (rdma_host_sgl.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rdma_host_sgl.h"

int
rdma_host_region_add(struct rdma_host_regions *t, uintptr_t base, size_t len, uint32_t lkey,
                     uint32_t rkey, void *mr)
{
    if (len == 0 || base + len < base)
        return -EINVAL;
    if (t->n == RDMA_HOST_MAX_REGIONS)
        return -ENOSPC;
    t->r[t->n++] = (struct rdma_host_region){
        .base = base, .len = len, .lkey = lkey, .rkey = rkey, .mr = mr};
    return 0;
}

static bool
region_holds(const struct rdma_host_region *g, uintptr_t addr, size_t len)
{
    return addr >= g->base && len <= g->len && addr - g->base <= g->len - len;
}

const struct rdma_host_region *
rdma_host_region_find(struct rdma_host_regions *t, uintptr_t addr, size_t len)
{
    if (t->n == 0)
        return NULL;
    /* The I/O path asks for the same region again and again. */
    if (t->last < t->n && region_holds(&t->r[t->last], addr, len))
        return &t->r[t->last];
    for (uint32_t i = 0; i < t->n; i++) {
        if (region_holds(&t->r[i], addr, len)) {
            t->last = i;
            return &t->r[i];
        }
    }
    return NULL;
}

bool
rdma_host_iov_span(const struct iovec *iov, int iovcnt, uint32_t len, uintptr_t *addr)
{
    uintptr_t next = 0;
    bool started = false;

    for (int i = 0; i < iovcnt && len > 0; i++) {
        uint32_t n = iov[i].iov_len < len ? (uint32_t)iov[i].iov_len : len;

        if (n == 0)
            continue;
        if (!started) {
            *addr = (uintptr_t)iov[i].iov_base;
            started = true;
        } else if ((uintptr_t)iov[i].iov_base != next) {
            return false;
        }
        next = (uintptr_t)iov[i].iov_base + n;
        len -= n;
    }
    return started && len == 0;
}

/* In-capsule SGEs, one per piece, each in a registered region. */
static bool
plan_pieces(struct rdma_host_regions *t, const struct tern_host_req *r, uint32_t max_data_sge,
            struct rdma_host_plan *p)
{
    uint32_t left = r->len;

    p->nsge = 0;
    for (int i = 0; i < r->iovcnt && left > 0; i++) {
        uint32_t n = r->iov[i].iov_len < left ? (uint32_t)r->iov[i].iov_len : left;
        const struct rdma_host_region *g;

        if (n == 0)
            continue;
        g = rdma_host_region_find(t, (uintptr_t)r->iov[i].iov_base, n);
        if (g == NULL || (uint32_t)p->nsge == max_data_sge)
            return false;
        p->sge[p->nsge++] = (struct rdma_host_sge){
            .addr = (uintptr_t)r->iov[i].iov_base, .len = n, .lkey = g->lkey};
        left -= n;
    }
    return true;
}

int
rdma_host_plan(struct rdma_host_regions *t, const struct tern_host_req *r, uint32_t icd_max,
               uint32_t max_data_sge, struct rdma_host_plan *p, char *why, size_t why_len)
{
    const struct rdma_host_region *g;
    bool contig;

    memset(p, 0, sizeof(*p));
    p->len = r->len;
    if (r->xfer == TERN_NVME_XFER_NONE || r->len == 0) {
        p->kind = RDMA_HOST_DATA_NONE;
        return 0;
    }
    if (r->xfer == TERN_NVME_XFER_BIDIRECTIONAL) {
        snprintf(why, why_len, "bidirectional data transfers are not supported");
        return -EINVAL;
    }
    contig = rdma_host_iov_span(r->iov, r->iovcnt, r->len, &p->span);
    if (r->xfer == TERN_NVME_XFER_HOST_TO_CTRLR && r->len <= icd_max && max_data_sge > 0) {
        p->kind = RDMA_HOST_DATA_INCAPSULE;
        if (contig) {
            g = rdma_host_region_find(t, p->span, r->len);
            p->nsge = 1;
            p->sge[0] = (struct rdma_host_sge){
                .addr = p->span, .len = r->len, .lkey = g ? g->lkey : 0};
            p->need_mr = g == NULL;
            return 0;
        }
        if (plan_pieces(t, r, max_data_sge, p))
            return 0;
        snprintf(why, why_len, "in-capsule data in %d pieces: each must be in a registered "
                 "region, at most %u", r->iovcnt, max_data_sge);
        return -EINVAL;
    }
    if (!contig) {
        snprintf(why, why_len, "data in %d separate pieces: a keyed transfer takes one "
                 "contiguous range", r->iovcnt);
        return -EINVAL;
    }
    if (r->len > TERN_RDMA_KEYED_LEN_MAX) {
        snprintf(why, why_len, "%u bytes is over a keyed SGL's 24-bit length", r->len);
        return -EINVAL;
    }
    p->kind = RDMA_HOST_DATA_KEYED;
    g = rdma_host_region_find(t, p->span, r->len);
    p->need_mr = g == NULL;
    p->rkey = g ? g->rkey : 0;
    return 0;
}

void
rdma_host_plan_use_mr(struct rdma_host_plan *p, uint32_t lkey, uint32_t rkey)
{
    p->rkey = rkey;
    for (int i = 0; i < p->nsge; i++)
        p->sge[i].lkey = lkey;
}

void
rdma_host_plan_sgl(const struct rdma_host_plan *p, struct tern_nvme_sgl *sgl)
{
    switch (p->kind) {
    case RDMA_HOST_DATA_INCAPSULE:
        tern_rdma_sgl_set_incapsule(sgl, p->len);
        break;
    case RDMA_HOST_DATA_KEYED:
        tern_rdma_sgl_set_keyed(sgl, p->span, p->len, p->rkey, TERN_NVME_SGL_SUBTYPE_ADDRESS);
        break;
    default:
        /* No data: a zero-length keyed block; nvmet-rdma, for one, rejects
         * a plain data block that is not in-capsule. */
        tern_rdma_sgl_set_keyed(sgl, 0, 0, 0, TERN_NVME_SGL_SUBTYPE_ADDRESS);
        break;
    }
}
