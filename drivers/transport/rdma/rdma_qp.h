/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-qpair request engine of the NVMe/RDMA target, between two
 * boundaries it does not cross:
 *  - below, the verbs layer (rdma_target.c; a mock in the unit tests): it
 *    posts our receive and send work request descriptors, hands back every
 *    work completion, and lends data buffers and data WRs from its pools;
 *  - above, the NVMe-oF core (tern_nvmf_request_exec, req_complete).
 *
 * Every request follows rdma_req.h's state machine: a capsule arrives
 * (FREE), waits for data buffers (NEED_BUF), for data WRs, send-queue room
 * and read depth to RDMA READ host data (NEED_READ, READING), runs in the
 * core (EXECUTING), waits for data WRs and send-queue room to RDMA WRITE its
 * data and SEND its response (NEED_SEND, SENDING) and is free again when
 * the last of its work completions is in.
 *
 * Every work request is signaled, so each posted WR comes back as exactly
 * one completion (success or flush) and the posted counters reach zero when
 * the qpair is torn down. Nothing is released while the hardware may still
 * touch it. rdma_qp_drain() runs every pending queue; the poll group calls
 * it for every qpair on every poll, busy or idle (SEEDS incident 2), so a
 * pool object given back anywhere is taken by its waiters on the next poll.
 */
#ifndef TERN_RDMA_QP_H
#define TERN_RDMA_QP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "rdma_req.h"
#include "tern_nvmf_transport.h"

#define RDMA_WR_MAX_SGE TERN_NVMF_REQ_MAX_IOV
/* Keyed SGL descriptors one command may carry (in a Last Segment). */
#define RDMA_MAX_DESC 16
/* Data WRs one request may need: every SGE of every io unit its own WR, at
 * worst one more per descriptor boundary. */
#define RDMA_MAX_WRS (TERN_NVMF_REQ_MAX_IOV + RDMA_MAX_DESC)

enum rdma_wr_op {
    RDMA_WR_RECV,
    RDMA_WR_SEND,           /* the response capsule (with invalidate when asked) */
    RDMA_WR_READ,           /* host-to-controller data */
    RDMA_WR_WRITE,          /* controller-to-host data */
};

struct rdma_sge {
    uint64_t addr;
    uint32_t length;
    uint32_t lkey;
};

struct rdma_treq;

/* A send-queue work request as the engine builds it; its address is the
 * wr_id the verbs layer posts and gets back in the completion. */
struct rdma_wr {
    uint8_t op;             /* first, as in struct rdma_recv: WCs are told apart by it */
    uint8_t nsge;
    bool invalidate;        /* SEND: SEND_WITH_INV of rkey */
    struct rdma_treq *req;
    struct rdma_wr *next;   /* the rest of the chain posted with it */
    uint64_t raddr;
    uint32_t rkey;
    uint32_t length;        /* bytes of the SGEs */
    struct rdma_sge sge[RDMA_WR_MAX_SGE];
};

/* A receive buffer for one command capsule. */
struct rdma_recv {
    uint8_t op;             /* RDMA_WR_RECV */
    bool posted;
    uint32_t byte_len;      /* of the capsule received */
    struct rdma_qp *qp;
    TAILQ_ENTRY(rdma_recv) link;    /* capsules waiting for a request object */
    struct rdma_sge sge;
};

struct rdma_desc {
    uint64_t addr;
    uint32_t length;
    uint32_t key;
};

struct rdma_treq {
    struct tern_nvmf_request req;   /* first: the core's view */
    struct rdma_req sm;
    struct rdma_qp *qp;
    struct tern_nvme_cmd cmd;
    struct rdma_recv *recv;         /* its capsule, until the response is posted */
    struct tern_nvme_cpl *rsp;      /* in registered memory */
    uint32_t rsp_lkey;
    struct rdma_wr send_wr;
    void *bufs[TERN_NVMF_REQ_MAX_IOV];
    uint32_t nbufs;
    uint32_t buf_lkey;
    struct rdma_desc desc[RDMA_MAX_DESC];
    uint8_t ndesc;
    bool invalidate;
    uint32_t inv_rkey;
    uint16_t wr_posted;     /* its WRs on the send queue, completions not in */
    uint16_t rd_total;      /* RDMA READs it needs */
    uint16_t rd_posted;     /* ... posted so far */
    uint16_t rd_done;       /* ... completed */
};

struct rdma_qp;

struct rdma_qp_ops {
    /* Post one receive / a chain of send-queue WRs (all signaled). A post
     * that fails sets *posted to the number of WRs taken before the bad
     * one and returns -errno; the engine then tears the qpair down. */
    int (*post_recv)(struct rdma_qp *qp, struct rdma_recv *rv);
    /* A qpair on a shared receive queue (rdma_qp_init with no receives of
     * its own): a capsule buffer it got from the SRQ is done with (its
     * command is answered, or the qpair is torn down); the verbs layer
     * posts it to the SRQ again. The qpair does not count it any more. */
    void (*srq_return)(struct rdma_qp *qp, struct rdma_recv *rv);
    int (*post_send)(struct rdma_qp *qp, struct rdma_wr *first, uint32_t *posted);
    /* Data buffers of io_unit_size bytes, all under one lkey: 0 or -ENOMEM
     * (nothing taken). */
    int (*get_bufs)(struct rdma_qp *qp, void **bufs, uint32_t n, uint32_t *lkey);
    void (*put_bufs)(struct rdma_qp *qp, void **bufs, uint32_t n);
    /* Data work request descriptors: 0 or -ENOMEM (nothing taken). */
    int (*get_wrs)(struct rdma_qp *qp, struct rdma_wr **wrs, uint32_t n);
    void (*put_wr)(struct rdma_qp *qp, struct rdma_wr *wr);
    /* Move the QP to the error state and tell the peer (idempotent). */
    void (*disconnect)(struct rdma_qp *qp);
    /* Every WR is back and every request free: the verbs layer may destroy
     * the QP and give the qpair back (not from inside this call). */
    void (*drained)(struct rdma_qp *qp);
};

struct rdma_qp_limits {
    uint32_t io_unit_size;
    uint32_t max_io_size;
    uint32_t sq_depth;      /* send-queue WRs the QP takes */
    uint32_t rd_depth;      /* RDMA READs outstanding (the negotiated initiator depth) */
    uint32_t max_sge;       /* SGEs per data WR */
};

struct rdma_qp_stats {
    uint64_t capsules;
    uint64_t reads_posted, writes_posted, sends_posted;
    uint64_t buf_waits, wr_waits, sq_waits, rd_waits;
    uint64_t protocol_errors;
    uint64_t pending_max;   /* most requests on its pending queues at once */
};

struct rdma_qp {
    struct tern_nvmf_qpair nq;      /* first: the core's view */
    const struct rdma_qp_ops *ops;
    struct rdma_qp_limits lim;
    struct rdma_req_queues qs;
    struct rdma_treq *reqs;
    uint32_t nreqs;
    struct rdma_recv *recvs;
    uint32_t nrecvs;
    TAILQ_HEAD(, rdma_recv) rx_pending;
    uint32_t rx_pending_len;
    uint32_t recv_posted;   /* own receive queue: receives posted */
    bool srq;               /* on a shared receive queue: receives are the SRQ's */
    uint32_t srq_held;      /* SRQ receives this qpair holds (pending or in a request) */
    uint32_t sq_used;
    uint32_t rd_used;
    bool error;             /* torn down: post nothing, reclaim everything */
    bool closed_told;       /* tern_nvmf_qpair_closed() called */
    bool drained;           /* ops->drained() called */
    int in_engine;          /* depth of engine calls (drained runs at depth 0) */
    struct rdma_qp_stats st;
    char why[128];          /* the first reason it was torn down */
};

/*
 * Set the qpair up over arrays the verbs layer allocated: reqs[i].rsp and
 * rsp_lkey, and recvs[i].sge (buffer, size, lkey) filled in; everything else
 * is the engine's. The core's qpair (nq.transport, local, peer) is the
 * caller's to fill and register. recvs NULL (nrecvs 0): the qpair is on a
 * shared receive queue; its capsules come from there (rdma_qp_wc with a
 * receive the verbs layer owns) and go back through ops->srq_return. A
 * host may have at most nreqs of them held: more is a protocol error (it
 * would starve the other qpairs of the SRQ).
 */
void rdma_qp_init(struct rdma_qp *qp, const struct rdma_qp_ops *ops,
                  const struct rdma_qp_limits *lim, struct rdma_treq *reqs, uint32_t nreqs,
                  struct rdma_recv *recvs, uint32_t nrecvs);
/* Post every receive. 0 or -errno (then the qpair is torn down). */
int rdma_qp_start(struct rdma_qp *qp);
/*
 * A work completion of this qpair: wr_id as posted, ok = IBV_WC_SUCCESS,
 * byte_len of a receive. Returns true when it was the qpair's first error.
 */
bool rdma_qp_wc(struct rdma_qp *qp, void *wr_id, bool ok, uint32_t byte_len);
/* Run every pending queue once. Returns the number of requests that moved. */
uint32_t rdma_qp_drain(struct rdma_qp *qp);
/* Tear down: error true for a broken connection (WC error, QP fatal,
 * device gone), false for an orderly close. Idempotent; the first reason
 * is kept. */
void rdma_qp_fail(struct rdma_qp *qp, bool error, const char *why);
/* The core's ops->req_complete. */
void rdma_qp_req_complete(struct tern_nvmf_request *req);

/* The SGL of a command: NVMe status 0 and what it describes, or the status
 * to fail it with. icd_len: in-capsule bytes after the SQE. */
enum rdma_sgl_kind { RDMA_SGL_NONE, RDMA_SGL_IN_CAPSULE, RDMA_SGL_KEYED };
struct rdma_sgl {
    enum rdma_sgl_kind kind;
    uint32_t length;
    uint32_t icd_offset;
    struct rdma_desc desc[RDMA_MAX_DESC];
    uint8_t ndesc;
    bool invalidate;
    uint32_t inv_rkey;
};
uint16_t rdma_sgl_parse(const struct tern_nvme_cmd *cmd, uint8_t xfer, const uint8_t *icd,
                        uint32_t icd_len, uint32_t max_io_size, struct rdma_sgl *out);
/* Data WRs needed to move `length` bytes of io units of `unit` bytes to or
 * from the descriptors, at most max_sge SGEs per WR. */
uint32_t rdma_data_wrs_needed(const struct rdma_desc *desc, uint8_t ndesc, uint32_t length,
                              uint32_t unit, uint32_t max_sge);

#endif /* TERN_RDMA_QP_H */
