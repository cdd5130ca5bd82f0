/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe-oF initiator core (tern-perf, tests): a controller is an admin
 * queue plus I/O queues, each a qpair owned by the thread (lcore) that
 * created it and polled by it; nothing here takes a lock or spawns a thread.
 *
 * Connecting (the controller, an I/O qpair) blocks the caller, bounded by
 * opts.connect_timeout_ms; I/O is asynchronous: submit, then poll the qpair,
 * which calls each command's callback once. The admin queue must be polled
 * too (tern_host_ctrlr_poll), which also sends the keep-alives.
 *
 * Transports plug in below (tern_host_transport.h): drivers/transport/tcp
 * registers "TCP", drivers/transport/rdma "RDMA".
 */
#ifndef TERN_HOST_H
#define TERN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tern_nvme.h"

/* ---- transport ID, SPDK's string form ---- */
#define TERN_HOST_TRADDR_MAX 255
#define TERN_HOST_TRSVCID_MAX 31
#define TERN_HOST_NQN_MAX 223
struct tern_host_trid {
    uint8_t trtype;         /* enum tern_nvmf_trtype */
    uint8_t adrfam;         /* enum tern_nvmf_adrfam */
    char traddr[TERN_HOST_TRADDR_MAX + 1];
    char trsvcid[TERN_HOST_TRSVCID_MAX + 1];
    char subnqn[TERN_HOST_NQN_MAX + 1];
};
/*
 * Parse "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420 subnqn:NQN"
 * (keys case-insensitive, separated by spaces; '=' also accepted for ':').
 * trtype and traddr are required; adrfam defaults to IPv4 (IPv6 when traddr
 * has a ':'), trsvcid to 4420, subnqn to the discovery NQN. Returns 0, or
 * -EINVAL with the reason in `why`.
 */
int tern_host_trid_parse(const char *s, struct tern_host_trid *t, char *why, size_t why_len);
/* "TCP 127.0.0.1:4420 nqn..." into buf. */
const char *tern_host_trid_str(const struct tern_host_trid *t, char *buf, size_t len);

/* ---- controllers ---- */
struct tern_host_ctrlr_opts {
    char hostnqn[TERN_HOST_NQN_MAX + 1];    /* "" : a UUID-based NQN from hostid */
    uint8_t hostid[16];                     /* all zero: random */
    uint32_t kato_ms;                       /* keep-alive timeout asked for; 0: none */
    uint16_t admin_queue_size;              /* entries (default 32) */
    uint16_t io_queue_size;                 /* entries (default 128, capped by CAP.MQES) */
    uint16_t num_io_queues;                 /* asked for with Set Features (default 1) */
    bool header_digest;
    bool data_digest;
    uint32_t connect_timeout_ms;            /* default 5000 */
};
void tern_host_ctrlr_opts_init(struct tern_host_ctrlr_opts *o);

struct tern_host_ctrlr;
struct tern_host_qpair;

/*
 * Connect the admin queue, enable the controller, Identify it, ask for the
 * I/O queues and, for an NVM subsystem, read its active namespaces. Returns
 * 0 and the controller, or -errno with a one-line reason in `why` (connection
 * refused, timed out, Connect rejected with its NVMe status, ...).
 */
int tern_host_ctrlr_connect(const struct tern_host_trid *trid,
                            const struct tern_host_ctrlr_opts *opts,
                            struct tern_host_ctrlr **out, char *why, size_t why_len);
/* Disconnect every qpair still open (on the caller's thread) and free. */
void tern_host_ctrlr_free(struct tern_host_ctrlr *c);
/* Poll the admin queue and send a keep-alive when due. <0: the admin
 * queue failed (the controller is unusable). */
int tern_host_ctrlr_poll(struct tern_host_ctrlr *c);

const struct tern_nvme_ctrlr_data *tern_host_ctrlr_data(const struct tern_host_ctrlr *c);
uint16_t tern_host_ctrlr_cntlid(const struct tern_host_ctrlr *c);
uint16_t tern_host_ctrlr_io_queues(const struct tern_host_ctrlr *c);  /* granted */
uint16_t tern_host_ctrlr_io_queue_size(const struct tern_host_ctrlr *c);
/* Largest data transfer of one command (MDTS), bytes; 0: no limit. */
uint32_t tern_host_ctrlr_max_xfer(const struct tern_host_ctrlr *c);

/* Active namespaces: 0 ends the walk. */
uint32_t tern_host_ctrlr_next_nsid(const struct tern_host_ctrlr *c, uint32_t prev);
/* Block size (bytes) and block count of an active namespace; false if none. */
bool tern_host_ns_geometry(const struct tern_host_ctrlr *c, uint32_t nsid, uint32_t *block_size,
                           uint64_t *blocks);

/* Run an admin command and wait for it (bounded by the connect timeout).
 * Returns 0 and the completion, or -errno (the queue failed, timed out). */
int tern_host_admin_sync(struct tern_host_ctrlr *c, struct tern_nvme_cmd *cmd, void *buf,
                         uint32_t len, struct tern_nvme_cpl *cpl);

/* ---- I/O qpairs (owned by the calling thread) ---- */
int tern_host_qpair_create(struct tern_host_ctrlr *c, struct tern_host_qpair **out, char *why,
                           size_t why_len);
void tern_host_qpair_free(struct tern_host_qpair *qp);
/* Process what arrived: completion callbacks run from here. Returns the
 * number of completions, or -errno once the qpair failed (every command
 * still outstanding was completed with an abort status first). */
int tern_host_qpair_poll(struct tern_host_qpair *qp);
uint16_t tern_host_qpair_depth(const struct tern_host_qpair *qp);
uint32_t tern_host_qpair_outstanding(const struct tern_host_qpair *qp);
/*
 * Declare memory that will hold this qpair's data buffers, so the transport
 * prepares it once instead of per command (RDMA registers it with the NIC;
 * TCP needs nothing). The memory must stay allocated until the qpair is
 * freed. Optional: buffers outside declared memory work too, more slowly.
 * Returns 0, or -errno (the transport could not prepare it).
 */
int tern_host_qpair_mem_register(struct tern_host_qpair *qp, void *addr, size_t len);

typedef void (*tern_host_cb)(void *arg, const struct tern_nvme_cpl *cpl);
/*
 * Submit a command (its CID is assigned here). Data: `len` bytes in iov,
 * to the controller for a write-type opcode, from it for a read-type one.
 * Returns 0; -EAGAIN when the queue is full; -ENOTCONN after a failure;
 * -EINVAL for a transfer the controller cannot take.
 */
int tern_host_submit(struct tern_host_qpair *qp, const struct tern_nvme_cmd *cmd,
                     const struct iovec *iov, int iovcnt, uint32_t len, tern_host_cb cb,
                     void *arg);
int tern_host_read(struct tern_host_qpair *qp, uint32_t nsid, uint64_t lba, uint32_t nlb,
                   void *buf, uint32_t len, tern_host_cb cb, void *arg);
int tern_host_write(struct tern_host_qpair *qp, uint32_t nsid, uint64_t lba, uint32_t nlb,
                    const void *buf, uint32_t len, tern_host_cb cb, void *arg);
int tern_host_flush(struct tern_host_qpair *qp, uint32_t nsid, tern_host_cb cb, void *arg);

/* The 16-bit status of a completion (no phase bit); 0 is success. */
static inline uint16_t
tern_host_cpl_status(const struct tern_nvme_cpl *cpl)
{
    return tern_nvme_status_from_cqe(cpl->status);
}

#endif /* TERN_HOST_H */
