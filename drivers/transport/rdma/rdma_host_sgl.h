/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where the data of a host command goes over NVMe/RDMA, decided without
 * touching verbs (rdma_host.c does the registering and posting):
 *
 *   - no data: a keyed data block of length 0 (what targets expect in SGL1);
 *   - host-to-controller data up to the queue's in-capsule size: in the
 *     capsule, as send SGEs that point at the caller's memory (no copy);
 *   - otherwise: one keyed data block (address, length, rkey) that the
 *     controller reads or writes with RDMA READ / WRITE.
 *
 * Keys come from the regions the caller registered once for the qpair
 * (tern_host_qpair_mem_register). Data outside them gets a memory
 * registration of its own for that command (need_mr), which is slow and
 * meant for the admin path (lib/host's own buffers). A keyed transfer must
 * be one virtually contiguous range: Tern's hosts need no more, and the
 * kernel's nvmet-rdma takes only one keyed descriptor per command.
 */
#ifndef TERN_RDMA_HOST_SGL_H
#define TERN_RDMA_HOST_SGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rdma_proto.h"
#include "tern_host_transport.h"

#define RDMA_HOST_MAX_REGIONS 16

/* Memory registered once for a qpair (mr: the transport's handle). */
struct rdma_host_region {
    uintptr_t base;
    size_t len;
    uint32_t lkey, rkey;
    void *mr;
};

struct rdma_host_regions {
    struct rdma_host_region r[RDMA_HOST_MAX_REGIONS];
    uint32_t n;
    uint32_t last;          /* the last hit, tried first */
};

/* 0, or -ENOSPC when the table is full, -EINVAL for an empty range. */
int rdma_host_region_add(struct rdma_host_regions *t, uintptr_t base, size_t len, uint32_t lkey,
                         uint32_t rkey, void *mr);
/* The region that holds all of [addr, addr + len), or NULL. */
const struct rdma_host_region *rdma_host_region_find(struct rdma_host_regions *t, uintptr_t addr,
                                                     size_t len);

/* Whether bytes [0, len) of the iovecs are one contiguous range (*addr). */
bool rdma_host_iov_span(const struct iovec *iov, int iovcnt, uint32_t len, uintptr_t *addr);

enum rdma_host_data {
    RDMA_HOST_DATA_NONE,
    RDMA_HOST_DATA_INCAPSULE,
    RDMA_HOST_DATA_KEYED,
};

struct rdma_host_sge {
    uintptr_t addr;
    uint32_t len;
    uint32_t lkey;
};

struct rdma_host_plan {
    enum rdma_host_data kind;
    uint32_t len;
    uintptr_t span;         /* the contiguous range (keyed; in-capsule from one range) */
    bool need_mr;           /* span is in no region: register it for this command */
    uint32_t rkey;          /* keyed */
    int nsge;               /* in-capsule: data SGEs after the SQE's */
    struct rdma_host_sge sge[TERN_HOST_REQ_MAX_IOV];
};

/*
 * Plan the data of request r on a queue that takes icd_max bytes in a
 * capsule and max_data_sge data SGEs in a send. Returns 0, or -EINVAL
 * with the reason in `why`: bidirectional, over the 24-bit keyed length,
 * or pieces that are neither one range nor all in registered regions.
 */
int rdma_host_plan(struct rdma_host_regions *t, const struct tern_host_req *r, uint32_t icd_max,
                   uint32_t max_data_sge, struct rdma_host_plan *p, char *why, size_t why_len);
/* The keys of the registration made for a need_mr plan. */
void rdma_host_plan_use_mr(struct rdma_host_plan *p, uint32_t lkey, uint32_t rkey);
/* Fill SGL1 of the command as planned. */
void rdma_host_plan_sgl(const struct rdma_host_plan *p, struct tern_nvme_sgl *sgl);

#endif /* TERN_RDMA_HOST_SGL_H */
