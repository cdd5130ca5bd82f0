/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a transport (drivers/transport/tcp, .../rdma) sees of the target core,
 * and what the core asks of a transport. The core knows commands, queues and
 * controllers; a transport knows connections, PDUs or work requests, and data
 * buffers. Neither reaches into the other's objects.
 *
 * Threading: a qpair belongs to the lcore that created it (its connection's
 * lcore). Every function below that takes a qpair or a request runs on that
 * lcore. Listening and transport creation run on the main lcore.
 */
#ifndef TERN_NVMF_TRANSPORT_H
#define TERN_NVMF_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <jansson.h>

#include "tern_bdev.h"
#include "tern_nvme.h"

/* ---- transport addresses ---- */
#define TERN_NVMF_TRADDR_MAX 255
#define TERN_NVMF_TRSVCID_MAX 31
struct tern_nvmf_trid {
    uint8_t trtype;     /* enum tern_nvmf_trtype */
    uint8_t adrfam;     /* enum tern_nvmf_adrfam */
    char traddr[TERN_NVMF_TRADDR_MAX + 1];
    char trsvcid[TERN_NVMF_TRSVCID_MAX + 1];
};
bool tern_nvmf_trid_equal(const struct tern_nvmf_trid *a, const struct tern_nvmf_trid *b);
struct sockaddr;
struct sockaddr_storage;
/* A listener's IPv4/IPv6 address and port as a socket address
 * (sockaddr_in or sockaddr_in6 by ss_family): 0, or -EINVAL with `why`
 * naming the bad field. */
int tern_nvmf_trid_to_sockaddr(const struct tern_nvmf_trid *trid, struct sockaddr_storage *ss,
                               char *why, size_t why_len);
/* A connection's address (numeric) into trtype/adrfam/traddr/trsvcid;
 * the address fields stay empty when sa is NULL or cannot be printed. */
void tern_nvmf_trid_from_sockaddr(struct tern_nvmf_trid *trid, uint8_t trtype,
                                  const struct sockaddr *sa);

/* ---- transport options (SPDK names; the core checks the common ones) ---- */
struct tern_nvmf_transport_opts {
    uint16_t max_queue_depth;       /* I/O queue entries */
    uint16_t max_aq_depth;          /* admin queue entries */
    uint16_t max_qpairs_per_ctrlr;  /* admin queue included */
    uint32_t in_capsule_data_size;  /* bytes of data a command capsule may carry */
    uint32_t max_io_size;           /* largest data transfer of one command */
    uint32_t io_unit_size;          /* size of one shared data buffer */
    uint32_t num_shared_buffers;    /* data buffers in the transport's pool */
};
#define TERN_NVMF_DEFAULT_MAX_QUEUE_DEPTH 128
#define TERN_NVMF_DEFAULT_MAX_AQ_DEPTH 32
#define TERN_NVMF_DEFAULT_MAX_QPAIRS_PER_CTRLR 128
#define TERN_NVMF_DEFAULT_IN_CAPSULE_DATA_SIZE 4096
#define TERN_NVMF_DEFAULT_MAX_IO_SIZE 131072
#define TERN_NVMF_DEFAULT_IO_UNIT_SIZE 131072
#define TERN_NVMF_DEFAULT_NUM_SHARED_BUFFERS 511
/* A request's data is at most this many io units (iovec entries). */
#define TERN_NVMF_REQ_MAX_IOV 16
/* The admin queue is never deeper than this (Connect SQSIZE is checked). */
#define TERN_NVMF_MAX_AQ_DEPTH 4096
#define TERN_NVMF_MIN_QUEUE_DEPTH 2

/* Defaults, and the checks every transport's options pass. */
void tern_nvmf_transport_opts_init(struct tern_nvmf_transport_opts *o);
int tern_nvmf_transport_opts_check(const struct tern_nvmf_transport_opts *o, char *why,
                                   size_t why_len);

struct tern_nvmf_transport;
struct tern_nvmf_qpair;
struct tern_nvmf_request;

struct tern_nvmf_transport_ops {
    const char *name;               /* "TCP": the RPC trtype */
    uint8_t trtype;
    uint32_t sgls;                  /* Identify Controller SGLS for this transport */
    /*
     * Create a transport with the checked common options and the params the
     * core did not know (transport-specific; the transport decodes them and
     * refuses unknown names). Main lcore. NULL with `why` filled on error.
     */
    struct tern_nvmf_transport *(*create)(const struct tern_nvmf_transport_opts *opts,
                                          const json_t *params, char *why, size_t why_len);
    /* Add the transport-specific options to a JSON object (nvmf_get_transports). */
    void (*dump_opts)(const struct tern_nvmf_transport *t, json_t *obj);
    /* Per-lcore state, called on every lcore after create, before destroy. */
    int (*lcore_init)(struct tern_nvmf_transport *t);
    void (*lcore_fini)(struct tern_nvmf_transport *t);
    /* Free the transport (main lcore, after lcore_fini ran everywhere). */
    void (*destroy)(struct tern_nvmf_transport *t);
    /* Start and stop accepting connections on an address (main lcore). */
    int (*listen)(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid,
                  char *why, size_t why_len);
    void (*stop_listen)(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid);
    /* Send the request's data (controller to host) and completion, then
     * give the request back to the qpair. */
    void (*req_complete)(struct tern_nvmf_request *req);
    /* Close the connection: the transport then calls tern_nvmf_qpair_closed()
     * and, when its requests are back, tern_nvmf_qpair_fini(). Idempotent. */
    void (*qpair_disconnect)(struct tern_nvmf_qpair *qp);
    /* This lcore's counters of the transport (pools, pending queues). */
    void (*lcore_stats)(struct tern_nvmf_transport *t, json_t *obj);
};

struct tern_nvmf_transport {
    const struct tern_nvmf_transport_ops *ops;
    struct tern_nvmf_transport_opts opts;
    TAILQ_ENTRY(tern_nvmf_transport) link;
};

/* Drivers register their ops from a constructor. */
void tern_nvmf_transport_register(const struct tern_nvmf_transport_ops *ops);
#define TERN_NVMF_TRANSPORT_REGISTER(ops)                                     \
    __attribute__((constructor)) static void ops##_register(void)             \
    {                                                                         \
        tern_nvmf_transport_register(&(ops));                                 \
    }
struct tern_nvmf_transport *tern_nvmf_transport_get(uint8_t trtype);

/* ---- requests ---- */
struct tern_nvmf_request {
    /* Set by the transport before tern_nvmf_request_exec(). */
    struct tern_nvmf_qpair *qpair;
    struct tern_nvme_cmd *cmd;      /* the SQE, in the transport's memory */
    uint32_t length;                /* data bytes the command's SGL describes */
    uint8_t xfer;                   /* TERN_NVME_XFER_* of the opcode */
    int iovcnt;                     /* data buffers: filled (host to controller) */
    struct iovec iov[TERN_NVMF_REQ_MAX_IOV];   /* or to be filled by the core */
    /* Set by the core; the transport sends it. cpl.status uses the CQE
     * layout (phase bit 0 is 0). */
    struct tern_nvme_cpl cpl;
    /* Core-private. */
    TAILQ_ENTRY(tern_nvmf_request) link;
    struct tern_bdev_io_wait bdev_wait;
    void *ns;
    uint32_t data_len;              /* controller-to-host bytes the core produced */
    uint32_t sub_pending;           /* bdev I/Os of a multi-range command in flight */
    uint16_t sub_status;
    uint16_t dsm_next;
};

/*
 * Run a command. The transport has validated its SGL, set length and xfer,
 * and for host-to-controller data received all of it into iov. For
 * controller-to-host data, iov holds `length` bytes of buffer. The core calls
 * ops->req_complete exactly once, never from inside this call when the
 * command touches a bdev, possibly from inside it otherwise.
 */
void tern_nvmf_request_exec(struct tern_nvmf_request *req);
/* Point the request's iov at `len` bytes of data buffers of `unit` bytes
 * each (ceil(len / unit) of them). */
static inline void
tern_nvmf_request_set_units(struct tern_nvmf_request *req, void *const *bufs, uint32_t len,
                            uint32_t unit)
{
    uint32_t n = (len + unit - 1) / unit, i;

    for (i = 0; i < n; i++) {
        req->iov[i].iov_base = bufs[i];
        req->iov[i].iov_len = len - i * unit < unit ? len - i * unit : unit;
    }
    req->iovcnt = (int)n;
}
/* Complete a request the transport rejected before exec (bad SGL, ...). */
void tern_nvmf_request_fail(struct tern_nvmf_request *req, uint16_t status);
/* The 16-bit status of a completed request (no phase bit). */
static inline uint16_t
tern_nvmf_request_status(const struct tern_nvmf_request *req)
{
    return tern_nvme_status_from_cqe(req->cpl.status);
}
/* Whether the request is a fabrics Connect (transports size their request
 * arrays on it and may accept its data before the queue is connected). */
bool tern_nvmf_request_is_connect(const struct tern_nvmf_request *req);

/* ---- queue pairs ---- */
enum tern_nvmf_qpair_state {
    TERN_NVMF_QPAIR_UNCONNECTED = 0,   /* waiting for Connect */
    TERN_NVMF_QPAIR_CONNECTING,        /* Connect being checked */
    TERN_NVMF_QPAIR_ACTIVE,
    TERN_NVMF_QPAIR_CLOSED,            /* connection gone, requests draining */
};

struct tern_nvmf_qpair_stats {
    uint64_t submitted;
    uint64_t completed;
    uint64_t errors;                /* completions with a non-zero status */
    uint64_t read_ops;
    uint64_t write_ops;
    uint64_t bytes_read;
    uint64_t bytes_written;
};

struct tern_nvmf_qpair {
    /* Set by the transport before tern_nvmf_qpair_init(). */
    struct tern_nvmf_transport *transport;
    struct tern_nvmf_trid local;    /* the listener the connection came in on */
    struct tern_nvmf_trid peer;
    /* Core-owned; the transport may read them. */
    enum tern_nvmf_qpair_state state;
    uint16_t qid;
    uint16_t sqsize;                /* entries (Connect SQSIZE + 1) */
    uint16_t sqhd;
    bool sq_flow_disabled;          /* host asked for SQ flow control off */
    uint16_t cntlid;
    uint32_t outstanding;           /* requests between exec and complete */
    struct tern_nvmf_qpair_stats stats;
    /* Core-private. */
    TAILQ_ENTRY(tern_nvmf_qpair) link;
    uint64_t id;
    uint32_t lcore;
    uint64_t ctrlr_key;             /* identity of the controller (any lcore) */
    struct tern_nvmf_ctrlr *ctrlr;  /* admin queue: its controller (same lcore) */
    uint32_t subsys_id;
    uint32_t subsys_gen;
    uint32_t ctrlr_lcore;
    bool notify_ctrlr;              /* tell the controller when this queue goes */
};

/* Register a new connection's qpair on the calling lcore. */
void tern_nvmf_qpair_init(struct tern_nvmf_qpair *qp);
/* The connection is gone. error: it broke (reset, protocol or digest error),
 * which the core treats as fatal for the controller when the queue is an I/O
 * queue; false: an orderly close by the host or after qpair_disconnect. */
void tern_nvmf_qpair_closed(struct tern_nvmf_qpair *qp, bool error);
/* Every request is back: the core forgets the qpair. */
void tern_nvmf_qpair_fini(struct tern_nvmf_qpair *qp);

/* Whether new connections may still be accepted (false during shutdown). */
bool tern_nvmf_accepting(void);
/* The lcore that should own the next new connection (round robin). */
uint32_t tern_nvmf_next_lcore(void);

#endif /* TERN_NVMF_TRANSPORT_H */
