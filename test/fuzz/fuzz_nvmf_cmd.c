/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the target core's command parser, in process. A real
 * lib/nvmf (subsystem cnode1 with a 1 MiB malloc namespace, the discovery
 * subsystem) runs on one reactor; a harness transport stands in for TCP: it
 * classifies each command's SGL with the TCP transport's own tcp_sgl_parse(),
 * gives the core exactly-sized heap buffers (so AddressSanitizer sees any
 * access past the data the SGL described), and checks what comes back.
 *
 * One input = one host session: Connect an admin queue (to cnode1 or the
 * discovery subsystem), maybe an I/O queue, then a run of fuzzed commands,
 * then disconnect. Input layout:
 *   byte 0: bit 0 discovery NQN, bit 1 an I/O queue (connected before the
 *           first record for it, once the admin commands before are done),
 *           bits 7:2 KATO in 100 ms steps (0: no keep-alive)
 *   then records: flags (bit 0 I/O queue, bit 1 data in capsule, bit 2 make
 *           the SGL valid for the length below), 64-byte SQE, 16-bit data
 *           length (LE), then, for a host-to-controller command only, that
 *           many data bytes (as many as remain)
 * A record that runs out of input is zero-padded.
 *
 * Aborts (a finding) when: a request completes twice or with the wrong
 * command ID; a completion reports more data than the SGL allowed; a command
 * other than an Async Event Request is still pending 2 s after the last
 * submission; the queues' requests do not all come back after disconnect;
 * or a controller is still registered after both queues are gone.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmf_internal.h"
#include "tcp_pdu.h"
#include "tern_bdev.h"
#include "tern_env.h"
#include "tern_nvmf.h"
#include "tern_nvmf_transport.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

#define FZ_QD 32            /* requests per queue (admin SQSIZE 31) */
#define FZ_MAX_IO 131072u
#define FZ_IO_UNIT 8192u
#define FZ_ICD 4096u
#define FZ_NQN "nqn.2016-06.io.tern:fuzz"
#define FZ_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:6f1c2a5e-0d7b-4c61-9a9e-1f00dfa11e01"
#define FZ_PENDING_LIMIT_MS 2000
#define FZ_TEARDOWN_LIMIT_MS 3000

#define require(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_nvmf_cmd: %s:%d: %s does not hold\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

static const char g_config[] =
    "{\"subsystems\":["
    "{\"subsystem\":\"bdev\",\"config\":["
    " {\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"Malloc0\",\"num_blocks\":2048,"
    "  \"block_size\":512}}]},"
    "{\"subsystem\":\"nvmf\",\"config\":["
    " {\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
    "  \"max_io_size\":131072,\"io_unit_size\":8192,\"in_capsule_data_size\":4096}},"
    " {\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"" FZ_NQN "\","
    "  \"allow_any_host\":true,\"max_namespaces\":4}},"
    " {\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":\"" FZ_NQN "\","
    "  \"namespace\":{\"bdev_name\":\"Malloc0\"}}},"
    " {\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":\"" FZ_NQN "\","
    "  \"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\","
    "  \"trsvcid\":\"4420\"}}}"
    "]}]}";

/* ---- the harness transport ---- */

struct fz_req {
    struct tern_nvmf_request req;
    struct tern_nvme_cmd cmd;
    struct fz_qpair *q;
    bool busy;
    uint32_t sgl_len;           /* what the SGL described */
};

struct fz_qpair {
    struct tern_nvmf_qpair qp;
    struct fz_req reqs[FZ_QD];
    uint32_t busy;
    bool exists;
    bool closed;                /* tern_nvmf_qpair_closed() called */
    bool finished;              /* tern_nvmf_qpair_fini() called */
    uint16_t next_cid;
};

/* TERN_FUZZ_TRACE=1: print every completion (for checking seeds). */
static bool g_trace;

static struct tern_nvmf_transport *
fz_create(const struct tern_nvmf_transport_opts *opts, const json_t *params, char *why,
          size_t why_len)
{
    (void)opts;
    (void)params;
    (void)why;
    (void)why_len;
    return calloc(1, sizeof(struct tern_nvmf_transport));
}

static int
fz_lcore_init(struct tern_nvmf_transport *t)
{
    (void)t;
    return 0;
}

static void
fz_lcore_fini(struct tern_nvmf_transport *t)
{
    (void)t;
}

static void
fz_destroy(struct tern_nvmf_transport *t)
{
    free(t);
}

static int
fz_listen(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid, char *why,
          size_t why_len)
{
    (void)t;
    (void)trid;
    (void)why;
    (void)why_len;
    return 0;
}

static void
fz_stop_listen(struct tern_nvmf_transport *t, const struct tern_nvmf_trid *trid)
{
    (void)t;
    (void)trid;
}

static void
fz_free_bufs(struct fz_req *r)
{
    for (int i = 0; i < r->req.iovcnt; i++)
        free(r->req.iov[i].iov_base);
    r->req.iovcnt = 0;
}

static void
fz_req_complete(struct tern_nvmf_request *req)
{
    struct fz_req *r = (struct fz_req *)req;

    require(r->busy);
    require(req->cpl.cid == r->cmd.cid);
    if (g_trace)
        fprintf(stderr, "fuzz_nvmf_cmd: queue %u opcode 0x%02x cdw10 0x%08x: status 0x%04x, %u bytes\n",
                r->q->qp.qid, r->cmd.opc, r->cmd.cdw10, tern_nvmf_request_status(req), req->data_len);
    require(req->data_len <= r->sgl_len);
    if (r->req.xfer == TERN_NVME_XFER_CTRLR_TO_HOST) {
        /* Touch every byte the core said it produced: ASan checks they lie
         * inside the buffers. */
        uint32_t left = req->data_len;
        volatile uint8_t sink = 0;

        for (int i = 0; i < req->iovcnt && left; i++) {
            uint32_t n = left < req->iov[i].iov_len ? left : (uint32_t)req->iov[i].iov_len;
            const uint8_t *p = req->iov[i].iov_base;

            for (uint32_t k = 0; k < n; k++)
                sink ^= p[k];
            left -= n;
        }
        (void)sink;
    }
    fz_free_bufs(r);
    r->busy = false;
    r->q->busy--;
}

static void
fz_qpair_disconnect(struct tern_nvmf_qpair *qp)
{
    struct fz_qpair *q = (struct fz_qpair *)qp;

    if (q->closed)
        return;
    q->closed = true;
    tern_nvmf_qpair_closed(qp, false);
}

static void
fz_lcore_stats(struct tern_nvmf_transport *t, json_t *obj)
{
    (void)t;
    (void)obj;
}

static const struct tern_nvmf_transport_ops g_fz_ops = {
    .name = "TCP",
    .trtype = TERN_NVMF_TRTYPE_TCP,
    .sgls = TERN_NVME_CTRLR_SGLS_SUPPORTED | TERN_NVME_CTRLR_SGLS_OFFSET,
    .create = fz_create,
    .lcore_init = fz_lcore_init,
    .lcore_fini = fz_lcore_fini,
    .destroy = fz_destroy,
    .listen = fz_listen,
    .stop_listen = fz_stop_listen,
    .req_complete = fz_req_complete,
    .qpair_disconnect = fz_qpair_disconnect,
    .lcore_stats = fz_lcore_stats,
};
TERN_NVMF_TRANSPORT_REGISTER(g_fz_ops)

/* ---- one session per input, driven by a poller on the reactor ---- */

enum fz_phase {
    FZ_CONNECT_ADMIN,
    FZ_CONNECT_IO,
    FZ_COMMANDS,
    FZ_DRAIN,
    FZ_TEARDOWN,
    FZ_DONE,
};

static struct {
    const uint8_t *data;
    size_t size, pos;
    enum fz_phase phase;
    struct fz_qpair q[2];
    struct fz_req *connect;     /* Connect in flight */
    uint16_t cntlid;
    bool io_failed;             /* the I/O queue's Connect was refused */
    uint64_t deadline;
    struct tern_poller *poller;
    sem_t done;
    sem_t ready;
    int init_status;
} g;

static uint64_t
ms_from_now(uint32_t ms)
{
    return tern_env_ticks() + tern_env_ticks_hz() * ms / 1000;
}

static struct fz_req *
fz_get_req(struct fz_qpair *q)
{
    for (int i = 0; i < FZ_QD; i++) {
        struct fz_req *r = &q->reqs[i];

        if (!r->busy) {
            memset(&r->req, 0, sizeof(r->req));
            r->busy = true;
            r->q = q;
            q->busy++;
            return r;
        }
    }
    return NULL;
}

/* Buffers for `len` bytes in io units, each allocated to its exact size,
 * filled from `src` (zero past its end). */
static void
fz_fill_bufs(struct fz_req *r, uint32_t len, const uint8_t *src, size_t src_len)
{
    uint32_t off = 0;

    while (off < len) {
        uint32_t n = len - off < FZ_IO_UNIT ? len - off : FZ_IO_UNIT;
        uint8_t *b = malloc(n);

        require(b != NULL && r->req.iovcnt < TERN_NVMF_REQ_MAX_IOV);
        memset(b, 0, n);
        if (off < src_len)
            memcpy(b, src + off, src_len - off < n ? src_len - off : n);
        r->req.iov[r->req.iovcnt].iov_base = b;
        r->req.iov[r->req.iovcnt].iov_len = n;
        r->req.iovcnt++;
        off += n;
    }
}

/* Run one command as the TCP transport would: classify its SGL (icd_len:
 * bytes that came in the capsule), fail it or hand it to the core. */
static void
fz_submit(struct fz_req *r, uint32_t icd_len, const uint8_t *data, size_t data_len)
{
    enum tcp_sgl_kind kind;
    uint32_t len;
    uint16_t status;

    r->req.qpair = &r->q->qp;
    r->req.cmd = &r->cmd;
    r->req.xfer = tern_nvme_cmd_xfer(&r->cmd);
    r->sgl_len = 0;
    status = tcp_sgl_parse(&r->cmd, r->req.xfer, icd_len, FZ_MAX_IO, &kind, &len);
    if (status != 0) {
        tern_nvmf_request_fail(&r->req, status);
        return;
    }
    r->sgl_len = len;
    r->req.length = len;
    if (kind != TCP_SGL_NONE)
        fz_fill_bufs(r, len, r->req.xfer == TERN_NVME_XFER_HOST_TO_CTRLR ? data : NULL,
                     r->req.xfer == TERN_NVME_XFER_HOST_TO_CTRLR ? data_len : 0);
    tern_nvmf_request_exec(&r->req);
}

static void
fz_connect(struct fz_qpair *q, uint16_t qid, uint16_t cntlid, bool discovery, uint32_t kato)
{
    struct tern_nvmf_connect_cmd *c;
    struct tern_nvmf_connect_data d;
    struct fz_req *r;

    memset(q, 0, sizeof(*q));
    q->exists = true;
    q->qp.transport = tern_nvmf_transport_get(TERN_NVMF_TRTYPE_TCP);
    q->qp.local.trtype = TERN_NVMF_TRTYPE_TCP;
    q->qp.local.adrfam = TERN_NVMF_ADRFAM_IPV4;
    snprintf(q->qp.local.traddr, sizeof(q->qp.local.traddr), "127.0.0.1");
    snprintf(q->qp.local.trsvcid, sizeof(q->qp.local.trsvcid), "4420");
    q->qp.peer = q->qp.local;
    snprintf(q->qp.peer.trsvcid, sizeof(q->qp.peer.trsvcid), "%u", 50000u + qid);
    tern_nvmf_qpair_init(&q->qp);

    r = fz_get_req(q);
    memset(&r->cmd, 0, sizeof(r->cmd));
    c = (struct tern_nvmf_connect_cmd *)&r->cmd;
    c->opcode = TERN_NVME_OPC_FABRICS;
    c->flags = TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6;
    c->cid = q->next_cid++;
    c->fctype = TERN_NVMF_FCTYPE_CONNECT;
    c->sgl1.unkeyed.length = sizeof(d);
    c->sgl1.unkeyed.id = TERN_NVME_SGL_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_OFFSET;
    c->qid = qid;
    c->sqsize = FZ_QD - 1;
    c->kato = qid == 0 ? kato : 0;
    memset(&d, 0, sizeof(d));
    for (int i = 0; i < 16; i++)
        d.hostid[i] = (uint8_t)(0x10 + i);
    d.cntlid = cntlid;
    snprintf(d.subnqn, sizeof(d.subnqn), "%s", discovery ? TERN_NVMF_DISCOVERY_NQN : FZ_NQN);
    snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", FZ_HOSTNQN);
    g.connect = r;
    fz_submit(r, sizeof(d), (const uint8_t *)&d, sizeof(d));
}

static bool fz_only_aers_pending(void);

/* Next record into a request; false when there is none to run now (the
 * input is used up, the queue is gone, or the phase changed). */
static bool
fz_next_record(void)
{
    uint8_t flags, sqe[64] = {0}, lenb[2] = {0};
    struct fz_qpair *q;
    struct fz_req *r;
    uint32_t dlen, icd_len;
    size_t n, avail;

    if (g.pos >= g.size)
        return false;
    flags = g.data[g.pos];
    if ((flags & 1) && (g.data[0] & 2) && !g.q[1].exists) {
        /* The first record for the I/O queue: connect it once the admin
         * commands before it are done, as a host does after enabling. */
        if (!fz_only_aers_pending())
            return true;
        g.phase = FZ_CONNECT_IO;
        g.deadline = ms_from_now(FZ_PENDING_LIMIT_MS);
        fz_connect(&g.q[1], 1, g.cntlid, g.data[0] & 1, 0);
        return false;
    }
    q = (flags & 1) && g.q[1].exists && !g.io_failed ? &g.q[1] : &g.q[0];
    if (q->closed)
        return false;           /* the core closed the queue: session over */
    r = fz_get_req(q);
    if (r == NULL)
        return true;            /* queue full: wait for completions */
    g.pos++;
    n = g.size - g.pos < sizeof(sqe) ? g.size - g.pos : sizeof(sqe);
    memcpy(sqe, g.data + g.pos, n);
    g.pos += n;
    n = g.size - g.pos < sizeof(lenb) ? g.size - g.pos : sizeof(lenb);
    memcpy(lenb, g.data + g.pos, n);
    g.pos += n;
    dlen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8;
    avail = g.size - g.pos;

    memcpy(&r->cmd, sqe, sizeof(r->cmd));
    r->cmd.cid = q->next_cid++;
    icd_len = 0;
    if (flags & 4) {
        /* Make the SGL what a well-behaved host sends for `dlen`, so the
         * fuzzer spends its time in the command parser proper. */
        uint8_t xfer = tern_nvme_cmd_xfer(&r->cmd);

        r->cmd.flags = (uint8_t)((r->cmd.flags & 0x3f) | TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6);
        memset(&r->cmd.dptr, 0, sizeof(r->cmd.dptr));
        if (xfer == TERN_NVME_XFER_NONE)
            dlen = 0;
        if ((flags & 2) && xfer == TERN_NVME_XFER_HOST_TO_CTRLR && dlen <= FZ_ICD) {
            r->cmd.dptr.sgl1.unkeyed.id = TERN_NVME_SGL_DATA_BLOCK << 4 |
                                          TERN_NVME_SGL_SUBTYPE_OFFSET;
            icd_len = dlen;
        } else {
            r->cmd.dptr.sgl1.unkeyed.id = TERN_NVME_SGL_TRANSPORT_DATA_BLOCK << 4 |
                                          TERN_NVME_SGL_SUBTYPE_TRANSPORT;
        }
        r->cmd.dptr.sgl1.unkeyed.length = dlen;
    } else if (flags & 2) {
        icd_len = dlen < FZ_ICD ? dlen : FZ_ICD;
    }
    /* Only a host-to-controller command carries data bytes in the input. */
    n = tern_nvme_cmd_xfer(&r->cmd) != TERN_NVME_XFER_HOST_TO_CTRLR ? 0 : avail < dlen ? avail : dlen;
    fz_submit(r, icd_len, g.data + g.pos, n);
    g.pos += n;
    return true;
}

/* Whether every request still out is an Async Event Request (which the
 * controller holds until it has something to say). */
static bool
fz_only_aers_pending(void)
{
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < FZ_QD; i++) {
            const struct fz_req *r = &g.q[k].reqs[i];

            if (r->busy && !(k == 0 && r->cmd.opc == TERN_NVME_OPC_ASYNC_EVENT_REQUEST))
                return false;
        }
    }
    return true;
}

static bool
fz_ctrlrs_gone(void)
{
    for (struct tern_nvmf_subsystem *s = tern_nvmf_subsystem_first(); s != NULL;
         s = tern_nvmf_subsystem_next(s)) {
        if (nvmf_subsystem_ctrlr_first(s) != NULL)
            return false;
    }
    return true;
}

static void
fz_dump_pending(void)
{
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < FZ_QD; i++) {
            const struct fz_req *r = &g.q[k].reqs[i];

            if (r->busy)
                fprintf(stderr, "fuzz_nvmf_cmd: queue %d: opcode 0x%02x cdw10 0x%08x pending\n",
                        k, r->cmd.opc, r->cmd.cdw10);
        }
    }
}

static int
fz_poll(void *arg)
{
    (void)arg;
    switch (g.phase) {
    case FZ_CONNECT_ADMIN:
    case FZ_CONNECT_IO:
        if (g.connect->busy) {
            if (tern_env_ticks() > g.deadline) {
                fprintf(stderr, "fuzz_nvmf_cmd: Connect pending\n");
                abort();
            }
            return TERN_POLLER_IDLE;
        }
        if (g.q[0].closed ||
            (g.phase == FZ_CONNECT_ADMIN && tern_nvmf_request_status(&g.connect->req) != 0)) {
            g.phase = FZ_TEARDOWN;
            g.deadline = ms_from_now(FZ_TEARDOWN_LIMIT_MS);
            return TERN_POLLER_BUSY;
        }
        if (g.phase == FZ_CONNECT_ADMIN)
            g.cntlid = (uint16_t)g.connect->req.cpl.cdw0;
        else if (tern_nvmf_request_status(&g.connect->req) != 0)
            g.io_failed = true; /* later I/O-queue records go to the admin queue */
        g.phase = FZ_COMMANDS;
        return TERN_POLLER_BUSY;
    case FZ_COMMANDS:
        /* Several records per iteration, so commands overlap in the core. */
        for (int i = 0; i < 8 && g.phase == FZ_COMMANDS; i++) {
            if (!fz_next_record() && g.phase == FZ_COMMANDS) {
                g.phase = FZ_DRAIN;
                g.deadline = ms_from_now(FZ_PENDING_LIMIT_MS);
            }
        }
        return TERN_POLLER_BUSY;
    case FZ_DRAIN:
        if (!fz_only_aers_pending() && !g.q[0].closed && !g.q[1].closed) {
            if (tern_env_ticks() > g.deadline) {
                fz_dump_pending();
                fprintf(stderr, "fuzz_nvmf_cmd: a command never completed\n");
                abort();
            }
            return TERN_POLLER_IDLE;
        }
        g.phase = FZ_TEARDOWN;
        g.deadline = ms_from_now(FZ_TEARDOWN_LIMIT_MS);
        return TERN_POLLER_BUSY;
    case FZ_TEARDOWN:
        /* The host goes away: I/O queue first, as the Linux host does. */
        for (int k = 1; k >= 0; k--) {
            struct fz_qpair *q = &g.q[k];

            if (!q->exists || q->finished)
                continue;
            fz_qpair_disconnect(&q->qp);
            if (q->busy == 0) {
                tern_nvmf_qpair_fini(&q->qp);
                q->finished = true;
            }
        }
        if ((g.q[0].exists && !g.q[0].finished) || (g.q[1].exists && !g.q[1].finished) ||
            !fz_ctrlrs_gone()) {
            if (tern_env_ticks() > g.deadline) {
                fz_dump_pending();
                fprintf(stderr, "fuzz_nvmf_cmd: %s after disconnect\n",
                        fz_ctrlrs_gone() ? "requests not returned" : "controller still registered");
                abort();
            }
            return TERN_POLLER_IDLE;
        }
        g.phase = FZ_DONE;
        sem_post(&g.done);
        return TERN_POLLER_BUSY;
    case FZ_DONE:
        break;
    }
    return TERN_POLLER_IDLE;
}

static void
fz_start_session(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    memset(g.q, 0, sizeof(g.q));
    g.io_failed = false;
    g.pos = 1;
    g.phase = FZ_CONNECT_ADMIN;
    g.deadline = ms_from_now(FZ_PENDING_LIMIT_MS);
    fz_connect(&g.q[0], 0, 0xffff, g.data[0] & 1, (uint32_t)(g.data[0] >> 2) * 100);
}

/* ---- the target, on its own thread (EAL main lcore) ---- */

static void
fz_config_done(void *ctx, int status)
{
    (void)ctx;
    g.init_status = status;
    sem_post(&g.ready);
}

static void
fz_start_target(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    if (tern_bdev_init() != 0 || tern_nvmf_init() != 0) {
        fz_config_done(NULL, -1);
        return;
    }
    /* One poller for every session: a poller registered per input would
     * still wait for the reactor's sweep when LeakSanitizer looks. */
    g.phase = FZ_DONE;
    g.poller = tern_poller_register(fz_poll, NULL, 0, "fuzz");
    tern_rpc_set_state(TERN_RPC_RUNTIME);
    if (g.poller == NULL ||
        tern_rpc_config_load_string(g_config, "fuzz config", fz_config_done, NULL) != 0)
        fz_config_done(NULL, -1);
}

static void
fz_target_stopped(void *arg)
{
    (void)arg;
    tern_reactors_stop();
}

static void
fz_stop_target(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    tern_poller_unregister(&g.poller);
    tern_nvmf_shutdown(fz_target_stopped, NULL);
}

static void *
fz_target_thread(void *arg)
{
    const char *level = getenv("TERN_FUZZ_LOG_LEVEL");
    char lvl[64];
    char *argv[] = {
        (char *)"fuzz_nvmf_cmd", (char *)"-l", (char *)"0", (char *)"--no-huge", (char *)"-m",
        (char *)"128", (char *)"--no-shconf", (char *)"--no-pci", (char *)"--no-telemetry",
        (char *)"--log-level", lvl, NULL,
    };
    (void)arg;
    /* Quiet by default: every rejected command is logged at ERR or below. */
    snprintf(lvl, sizeof(lvl), "*:%s", level ? level : "critical");
    if (tern_env_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0 ||
        tern_reactors_init() != 0 ||
        tern_reactor_send_msg(tern_env_main_lcore(), fz_start_target, NULL, NULL) != 0) {
        fz_config_done(NULL, -1);
        return NULL;
    }
    tern_reactors_start();
    /* Stopped by fz_atexit(): take everything down, so that what
     * LeakSanitizer finds at exit is a real leak. */
    tern_nvmf_fini();
    tern_bdev_fini();
    tern_reactors_fini();
    tern_env_fini();
    return NULL;
}

static pthread_t g_target_thread;

static void
fz_atexit(void)
{
    if (tern_reactor_send_msg(tern_env_main_lcore(), fz_stop_target, NULL, NULL) == 0)
        pthread_join(g_target_thread, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_trace = getenv("TERN_FUZZ_TRACE") != NULL;
    sem_init(&g.done, 0, 0);
    sem_init(&g.ready, 0, 0);
    require(pthread_create(&g_target_thread, NULL, fz_target_thread, NULL) == 0);
    sem_wait(&g.ready);
    if (g.init_status != 0) {
        fprintf(stderr, "fuzz_nvmf_cmd: the target did not start (run with "
                        "TERN_FUZZ_LOG_LEVEL=info to see why)\n");
        _exit(1);
    }
    atexit(fz_atexit);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct timespec ts;

    if (size < 1)
        return 0;
    g.data = data;
    g.size = size;
    require(tern_reactor_send_msg(tern_env_main_lcore(), fz_start_session, NULL, NULL) == 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    if (sem_timedwait(&g.done, &ts) != 0) {
        fprintf(stderr, "fuzz_nvmf_cmd: the session did not end within 30 s\n");
        abort();
    }
    return 0;
}
