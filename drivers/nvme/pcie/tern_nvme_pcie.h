/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The userspace PCIe NVMe driver: a controller bound to vfio-pci, opened
 * through DPDK's vfio support (lib/env), its registers in BAR0, one admin
 * queue owned by the main lcore and one I/O queue pair per EAL lcore, used
 * only by that lcore. Completions are polled; no interrupts.
 *
 * Failure: a removal request from vfio (the device is being unplugged), a
 * fatal controller status (CSTS.CFS), a register read of all ones (the
 * device is gone) or a command that outlives io_timeout_ms fail the
 * controller: it is disabled, every queue pair fails its outstanding and
 * later commands with an abort status, the device is released, and the
 * owner's failure callback runs (main lcore).
 */
#ifndef TERN_NVME_PCIE_H
#define TERN_NVME_PCIE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tern_nvme_spec.h"

struct tern_nvme_pcie_ctrlr;
struct tern_nvme_pcie_qpair;

struct tern_nvme_pcie_opts {
    uint32_t io_queue_size;     /* entries per I/O queue (capped by CAP.MQES) */
    uint32_t admin_timeout_ms;  /* one admin command, and the wait for a shutdown */
    uint32_t io_timeout_ms;     /* 0: I/O commands never time out */
};
#define TERN_NVME_PCIE_DEFAULT_IO_QUEUE_SIZE 256
#define TERN_NVME_PCIE_MIN_IO_QUEUE_SIZE 4
#define TERN_NVME_PCIE_MAX_IO_QUEUE_SIZE 4096
#define TERN_NVME_PCIE_DEFAULT_ADMIN_TIMEOUT_MS 10000
#define TERN_NVME_PCIE_DEFAULT_IO_TIMEOUT_MS 30000
#define TERN_NVME_PCIE_ADMIN_QUEUE_SIZE 32
/* Largest transfer the driver builds one command for (also capped by MDTS). */
#define TERN_NVME_PCIE_MAX_XFER (1024u * 1024u)

void tern_nvme_pcie_default_opts(struct tern_nvme_pcie_opts *o);

/* "dddd:bb:dd.f" (13 bytes with the NUL) from that form or "bb:dd.f";
 * -EINVAL for anything else. */
#define TERN_NVME_PCIE_BDF_LEN 13
int tern_nvme_pcie_parse_bdf(const char *in, char out[TERN_NVME_PCIE_BDF_LEN]);

struct tern_nvme_pcie_ns {
    uint32_t nsid;
    uint32_t block_size;
    uint64_t num_blocks;
    uint8_t nguid[16];
    uint8_t eui64[8];
};

/*
 * Open, reset and enable the controller at `bdf` ("0000:00:04.0"), identify
 * it and its namespaces, and create one I/O queue pair per EAL lcore. Runs on
 * the main lcore and blocks it (bounded by CAP.TO and admin_timeout_ms).
 * NULL with errno set and the reason logged.
 */
struct tern_nvme_pcie_ctrlr *tern_nvme_pcie_attach(const char *bdf,
                                                   const struct tern_nvme_pcie_opts *opts);
/*
 * Orderly detach (main lcore; no queue pair may be in use any more): delete
 * the I/O queues, shut the controller down, release the device, free.
 */
void tern_nvme_pcie_detach(struct tern_nvme_pcie_ctrlr *c);

typedef void (*tern_nvme_pcie_fail_cb)(struct tern_nvme_pcie_ctrlr *c, void *ctx);
/* Called once, on the main lcore, after the controller failed and every
 * queue pair has failed its commands and the device was released. */
void tern_nvme_pcie_set_fail_cb(struct tern_nvme_pcie_ctrlr *c, tern_nvme_pcie_fail_cb cb,
                                void *ctx);
bool tern_nvme_pcie_failed(const struct tern_nvme_pcie_ctrlr *c);
const char *tern_nvme_pcie_bdf(const struct tern_nvme_pcie_ctrlr *c);
const struct tern_nvme_ctrlr_data *tern_nvme_pcie_cdata(const struct tern_nvme_pcie_ctrlr *c);
uint32_t tern_nvme_pcie_ns_count(const struct tern_nvme_pcie_ctrlr *c);
const struct tern_nvme_pcie_ns *tern_nvme_pcie_ns(const struct tern_nvme_pcie_ctrlr *c, uint32_t i);
uint32_t tern_nvme_pcie_max_xfer(const struct tern_nvme_pcie_ctrlr *c);   /* bytes */
bool tern_nvme_pcie_sgl_supported(const struct tern_nvme_pcie_ctrlr *c);
uint32_t tern_nvme_pcie_io_queue_size(const struct tern_nvme_pcie_ctrlr *c);
/* The calling lcore's I/O queue pair (NULL off-lcore). */
struct tern_nvme_pcie_qpair *tern_nvme_pcie_lcore_qpair(struct tern_nvme_pcie_ctrlr *c,
                                                        uint32_t lcore);

/* I/O, on the queue pair's lcore only. */
/* status: the completion's status field without the phase bit (as
 * TERN_NVME_STATUS() makes it, DNR included); 0 is success. */
typedef void (*tern_nvme_pcie_cb)(void *arg, uint16_t status, uint32_t cdw0);
/*
 * Submit `cmd` (opcode, nsid, cdw10-15 filled; the cid is the driver's) with
 * the data in iov, described by PRPs or an SGL the driver builds. With no
 * iov (iovcnt 0) the command's data pointer goes as given (Create I/O
 * CQ/SQ name their queue's memory there). Returns 0 (cb runs exactly once, from
 * tern_nvme_pcie_qpair_poll), -EAGAIN (every command slot is in use: try
 * again after a poll), -EINVAL (the buffers cannot be described to this
 * controller: see the log), -EFAULT (a buffer is not DMA memory) or -ENXIO
 * (the controller failed).
 */
int tern_nvme_pcie_qpair_submit(struct tern_nvme_pcie_qpair *qp, const struct tern_nvme_cmd *cmd,
                                const struct iovec *iov, int iovcnt, tern_nvme_pcie_cb cb,
                                void *cb_arg);
/* Reap up to max completions (0: all there are); checks timeouts. Returns
 * how many callbacks ran. */
int tern_nvme_pcie_qpair_poll(struct tern_nvme_pcie_qpair *qp, uint32_t max);
uint32_t tern_nvme_pcie_qpair_outstanding(const struct tern_nvme_pcie_qpair *qp);

struct tern_nvme_pcie_qpair_stats {
    uint64_t submitted;
    uint64_t completed;
    uint64_t errors;            /* completions with a non-zero status */
    uint64_t aborted;           /* failed by the driver (controller failure) */
    uint64_t no_slot;           /* submissions refused with -EAGAIN */
    uint64_t sgl_cmds;          /* commands described by an SGL (the others: PRPs) */
    uint32_t outstanding;
    uint32_t max_outstanding;
};
void tern_nvme_pcie_qpair_stats(const struct tern_nvme_pcie_qpair *qp,
                                struct tern_nvme_pcie_qpair_stats *st);

/* Status the driver completes commands with when the controller failed:
 * Command Aborted due to SQ Deletion (generic, 0x08). */
#define TERN_NVME_PCIE_ABORT_STATUS \
    TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_ABORTED_SQ_DELETION)

#endif /* TERN_NVME_PCIE_H */
