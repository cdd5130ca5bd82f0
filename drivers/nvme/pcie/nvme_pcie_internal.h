/* SPDX-License-Identifier: BSD-3-Clause */
/* The driver's own structures, shared by its files and its unit tests. */
#ifndef NVME_PCIE_INTERNAL_H
#define NVME_PCIE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "tern_env.h"
#include "tern_nvme_pcie.h"

#define NVME_PCIE_PAGE 4096u          /* CC.MPS = 0: the memory page size of PRPs */
#define NVME_PCIE_PRP_PER_PAGE (NVME_PCIE_PAGE / 8u)
#define NVME_PCIE_SGL_PER_PAGE (NVME_PCIE_PAGE / 16u)

/* IOVA translation: tern_env_dma_iova in the driver, a mock in unit tests. */
typedef uint64_t (*nvme_pcie_v2i)(const void *va);

/* One command slot: the CID is its index. */
struct nvme_pcie_tracker {
    tern_nvme_pcie_cb cb;
    void *cb_arg;
    uint64_t submit_tick;
    uint64_t *list;                 /* this slot's PRP/SGL list pages */
    uint64_t list_iova;
    bool active;
    uint8_t opc;
};

struct tern_nvme_pcie_qpair {
    uint16_t qid;
    uint16_t size;                  /* entries in the SQ and in the CQ */
    struct tern_nvme_cmd *sq;
    struct tern_nvme_cpl *cq;
    volatile uint8_t *regs;         /* BAR0 */
    uint32_t sq_db;                 /* doorbell offsets in BAR0 */
    uint32_t cq_db;
    uint16_t sq_tail;
    uint16_t cq_head;
    uint8_t phase;                  /* the phase bit a new completion carries */
    bool failed;
    bool sgl;                       /* the controller takes SGLs for I/O */
    bool sgl_dword;                 /* ... with dword-aligned addresses and lengths */
    uint32_t list_pages;            /* PRP/SGL list pages per tracker */
    uint32_t max_xfer;              /* bytes */
    nvme_pcie_v2i v2i;
    struct nvme_pcie_tracker *trk;  /* size - 1 of them: the SQ can never overflow */
    uint16_t *free_cids;            /* stack */
    uint16_t nfree;
    uint64_t timeout_ticks;         /* 0: none */
    uint64_t next_timeout_check;
    void (*on_timeout)(struct tern_nvme_pcie_qpair *qp, uint16_t cid);
    void *owner;                    /* the controller */
    uint32_t lcore;
    struct tern_nvme_pcie_qpair_stats st;
    struct tern_env_dma sq_mem, cq_mem, list_mem;
    void *host_mem;                 /* trackers and the CID stack (plain heap) */
};

/* Build a queue pair over memory the caller gives (nvme_pcie_qpair_alloc
 * allocates it; unit tests pass their own). */
int nvme_pcie_qpair_alloc(struct tern_nvme_pcie_qpair *qp, uint16_t qid, uint16_t size,
                          uint32_t max_xfer, int socket);
void nvme_pcie_qpair_free(struct tern_nvme_pcie_qpair *qp);
/* Point the queue at its doorbells and reset its indexes (a new queue on the
 * controller). */
void nvme_pcie_qpair_reset(struct tern_nvme_pcie_qpair *qp, volatile uint8_t *regs,
                           uint32_t dstrd);
/* Complete every outstanding command with TERN_NVME_PCIE_ABORT_STATUS and
 * refuse later submissions (-ENXIO). */
void nvme_pcie_qpair_fail(struct tern_nvme_pcie_qpair *qp);

/*
 * Describe iov (total `len` bytes) with PRPs (Base 4.1.1): prp1 may start
 * anywhere dword-aligned; every later entry is a page start; every chunk but
 * the last ends at a page end. More than two entries go to the list pages at
 * `list` (IOVA list_iova, list_pages of them, contiguous); when a list page
 * fills and more entries follow, its last entry points to the next page.
 * Returns 0, -EINVAL (iov cannot be described with PRPs), -EFAULT (memory
 * without an IOVA) or -E2BIG (more entries than the list pages hold).
 */
int nvme_pcie_build_prps(const struct iovec *iov, int iovcnt, nvme_pcie_v2i v2i,
                         uint64_t *list, uint64_t list_iova, uint32_t list_pages,
                         uint64_t *prp1, uint64_t *prp2);
/*
 * Describe iov with an SGL (Base 4.1.2): one Data Block descriptor in the
 * command when the data is IOVA-contiguous, else a Last Segment descriptor
 * pointing at Data Block descriptors in the list pages (IOVA-contiguous runs
 * merged). dword: the controller wants dword-aligned addresses and lengths.
 * Returns 0, -EINVAL, -EFAULT or -E2BIG.
 */
int nvme_pcie_build_sgl(const struct iovec *iov, int iovcnt, nvme_pcie_v2i v2i, bool dword,
                        uint64_t *list, uint64_t list_iova, uint32_t list_pages,
                        struct tern_nvme_sgl *sgl1);

/* Register polling with a deadline: wait until (CSTS & mask) == want.
 * Returns 0, -ETIMEDOUT, or -ENODEV when CSTS reads all ones (no device). */
int nvme_pcie_wait_csts(volatile uint8_t *regs, uint32_t mask, uint32_t want,
                        uint64_t timeout_ms);

/* A controller over registers the caller mapped (unit tests: a fake device):
 * everything tern_nvme_pcie_attach does but vfio and the health poller. */
struct tern_nvme_pcie_ctrlr *nvme_pcie_ctrlr_init_regs(const char *name, volatile uint8_t *regs,
                                                       const struct tern_nvme_pcie_opts *opts,
                                                       int *rc);
/* Fail the controller (main lcore): disable it, abort every command of every
 * queue pair, release the device, call the owner's failure callback. */
void nvme_pcie_ctrlr_fail(struct tern_nvme_pcie_ctrlr *c, const char *reason);

#endif /* NVME_PCIE_INTERNAL_H */
