/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an initiator transport (the host half of drivers/transport/tcp and
 * drivers/transport/rdma) provides to lib/host, and what lib/host gives it. lib/host builds
 * commands (Connect, properties, Identify, I/O) and tracks requests; the
 * transport moves a request's command, data and completion over the wire.
 */
#ifndef TERN_HOST_TRANSPORT_H
#define TERN_HOST_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tern_host.h"

#define TERN_HOST_REQ_MAX_IOV 16

/* One command in flight; the CID is its index in the qpair's array. */
struct tern_host_req {
    struct tern_nvme_cmd cmd;
    struct tern_nvme_cpl cpl;
    struct iovec iov[TERN_HOST_REQ_MAX_IOV];
    int iovcnt;
    uint32_t len;               /* data bytes */
    uint8_t xfer;               /* TERN_NVME_XFER_* */
    bool busy;
    tern_host_cb cb;
    void *cb_arg;
    /* Transport scratch (TCP: bytes sent or received so far, R2T state). */
    uint32_t t_done;
    uint32_t t_r2t_off;
    uint32_t t_r2t_left;
    uint16_t t_ttag;
    uint8_t t_state;
    struct tern_host_req *t_next;
};

struct tern_host_qpair_opts {
    uint16_t qid;
    uint16_t depth;             /* entries */
    uint16_t cntlid;            /* the controller's ID; 0xffff for the admin queue */
    bool header_digest;
    bool data_digest;
    uint32_t timeout_ms;        /* for the transport's own connection set-up */
};

/* Every transport qpair starts with this (the transport allocates it). */
struct tern_host_qpair {
    const struct tern_host_transport_ops *ops;
    struct tern_host_ctrlr *ctrlr;
    uint16_t qid;
    /* Entries. A transport may set fewer than opts->depth in qpair_connect
     * (RDMA: the controller's CRQSIZE); lib/host then uses that many. */
    uint16_t depth;
    uint32_t outstanding;
    bool failed;
    /* In-capsule data bytes a command may carry: the transport sets the
     * admin queue's, lib/host an I/O queue's from Identify IOCCSZ. */
    uint32_t icd_max;
    struct tern_host_req *reqs;         /* depth entries, lib/host's */
    struct tern_host_req *free_head;    /* free list through req.t_next */
};

struct tern_host_transport_ops {
    const char *name;
    uint8_t trtype;
    /*
     * Open the connection and do the transport's own set-up (TCP: ICReq /
     * ICResp), blocking up to opts->timeout_ms. NULL with `why` on error.
     */
    struct tern_host_qpair *(*qpair_connect)(const struct tern_host_trid *trid,
                                             const struct tern_host_qpair_opts *opts, char *why,
                                             size_t why_len);
    /* Queue the request for sending (its command, and data as the
     * transport decides). 0 or -errno (the connection failed). */
    int (*submit)(struct tern_host_qpair *qp, struct tern_host_req *req);
    /* Move bytes; complete requests with tern_host_req_done(). Returns the
     * number completed or -errno when the connection failed. */
    int (*poll)(struct tern_host_qpair *qp);
    void (*disconnect)(struct tern_host_qpair *qp);    /* close and free */
    /* Optional: prepare [addr, addr+len) for this qpair's data once
     * (RDMA: a memory registration), for tern_host_qpair_mem_register(). */
    int (*mem_register)(struct tern_host_qpair *qp, void *addr, size_t len);
};

void tern_host_transport_register(const struct tern_host_transport_ops *ops);
#define TERN_HOST_TRANSPORT_REGISTER(ops)                                     \
    __attribute__((constructor)) static void ops##_host_register(void)        \
    {                                                                         \
        tern_host_transport_register(&(ops));                                 \
    }
const struct tern_host_transport_ops *tern_host_transport_find(uint8_t trtype);

/* The transport got the completion for req (cpl already in req->cpl). */
void tern_host_req_done(struct tern_host_qpair *qp, struct tern_host_req *req);
/* Look up a request by CID; NULL unless it is in flight. */
struct tern_host_req *tern_host_req_by_cid(struct tern_host_qpair *qp, uint16_t cid);

#endif /* TERN_HOST_TRANSPORT_H */
