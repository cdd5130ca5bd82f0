/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/RDMA per-qpair request engine with the verbs layer and the
 * NVMe-oF core replaced at their boundaries (SEEDS incidents 2 and 3):
 * a mock send queue that completes WRs when the test says, with success
 * or an error status; mock pools that can run dry; a mock core that holds
 * requests until the test completes them. After every step: each request
 * is on the queue its state names, the core saw each request complete at
 * most once, and after a teardown every pool object is back. The fault
 * tests run twice: with the qpair's own receive queue and on a mock shared
 * receive queue (g_srq), whose buffers must all come back to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_log.h>

#include "rdma_proto.h"
#include "rdma_qp.h"
#include "tern_nvme.h"

#define NREQ 8
#define UNIT 4096u
#define NBUF 64
#define NWR 64
#define ICD 4096u
#define MAXWR 256

/* ---- the mock verbs layer ---- */
static struct rdma_qp g_qp;
static struct rdma_treq g_reqs[NREQ];
#define NRECV (2 * NREQ)                    /* the SRQ's; the own receive queue uses NREQ */
static struct rdma_recv g_recvs[NRECV];
static uint8_t g_rbuf[NRECV][TERN_RDMA_CMD_CAPSULE_MIN + ICD];
static bool g_srq;                          /* the next setup puts the qpair on the SRQ */
static uint32_t g_srq_posted;
static struct tern_nvme_cpl g_rsp[NREQ];
static uint8_t g_bufmem[NBUF][UNIT] __attribute__((aligned(UNIT)));
static void *g_buf_free[NBUF];
static uint32_t g_buf_avail, g_buf_limit;   /* limit: what get_bufs may hand out now */
static struct rdma_wr g_wrmem[NWR];
static struct rdma_wr *g_wr_free[NWR];
static uint32_t g_wr_avail, g_wr_limit;
static struct rdma_wr *g_sq[MAXWR];         /* posted, completion not delivered */
static uint32_t g_sq_len;
static uint32_t g_disconnects, g_drained;
static int g_fail_post_after = -1;          /* post_send takes this many WRs then fails */
static bool g_fail_recv;                    /* post_recv fails */
static uint32_t g_recv_reposted_before_send;

static int
m_post_recv(struct rdma_qp *qp, struct rdma_recv *rv)
{
    (void)qp;
    cr_assert(!rv->posted, "a receive posted twice");
    return g_fail_recv ? -EINVAL : 0;
}

static void
m_srq_return(struct rdma_qp *qp, struct rdma_recv *rv)
{
    (void)qp;
    cr_assert(g_srq, "a receive given to an SRQ the qpair is not on");
    cr_assert(rv >= g_recvs && rv < g_recvs + NRECV, "not a receive of the SRQ");
    cr_assert(!rv->posted, "a receive given back to the SRQ twice");
    rv->posted = true;
    g_srq_posted++;
}

static int
m_post_send(struct rdma_qp *qp, struct rdma_wr *first, uint32_t *posted)
{
    uint32_t n = 0;
    (void)qp;

    for (struct rdma_wr *w = first; w != NULL; w = w->next) {
        if (g_fail_post_after >= 0 && n == (uint32_t)g_fail_post_after) {
            *posted = n;
            return -EINVAL;
        }
        if (w->op == RDMA_WR_SEND && w->req->recv == NULL)
            g_recv_reposted_before_send++;
        cr_assert_lt(g_sq_len, MAXWR);
        g_sq[g_sq_len++] = w;
        n++;
    }
    *posted = n;
    return 0;
}

static int
m_get_bufs(struct rdma_qp *qp, void **bufs, uint32_t n, uint32_t *lkey)
{
    (void)qp;
    if (n > g_buf_avail || n > g_buf_limit)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        bufs[i] = g_buf_free[--g_buf_avail];
    g_buf_limit -= n;
    *lkey = 0xb0f;
    return 0;
}

static void
m_put_bufs(struct rdma_qp *qp, void **bufs, uint32_t n)
{
    (void)qp;
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_lt(g_buf_avail, NBUF, "more buffers back than taken");
        g_buf_free[g_buf_avail++] = bufs[i];
    }
    g_buf_limit += n;
}

static int
m_get_wrs(struct rdma_qp *qp, struct rdma_wr **wrs, uint32_t n)
{
    (void)qp;
    if (n > g_wr_avail || n > g_wr_limit)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        wrs[i] = g_wr_free[--g_wr_avail];
    g_wr_limit -= n;
    return 0;
}

static void
m_put_wr(struct rdma_qp *qp, struct rdma_wr *wr)
{
    (void)qp;
    cr_assert(wr >= g_wrmem && wr < g_wrmem + NWR, "a WR that is not the pool's came back");
    cr_assert_lt(g_wr_avail, NWR, "more WRs back than taken");
    g_wr_free[g_wr_avail++] = wr;
    g_wr_limit++;
}

static void
m_disconnect(struct rdma_qp *qp)
{
    (void)qp;
    g_disconnects++;
}

static void
m_drained(struct rdma_qp *qp)
{
    (void)qp;
    g_drained++;
}

static const struct rdma_qp_ops g_ops = {
    .post_recv = m_post_recv,
    .srq_return = m_srq_return,
    .post_send = m_post_send,
    .get_bufs = m_get_bufs,
    .put_bufs = m_put_bufs,
    .get_wrs = m_get_wrs,
    .put_wr = m_put_wr,
    .disconnect = m_disconnect,
    .drained = m_drained,
};

/* ---- the mock core ---- */
static uint32_t g_exec[NREQ], g_done[NREQ];     /* per request object, this life */
static uint32_t g_total_exec, g_total_done;
static bool g_core_holds[NREQ];
static bool g_auto_complete;                    /* complete inside exec */
static uint32_t g_closed_calls;
static bool g_closed_error;
static uint16_t g_fail_status[NREQ];

static int
idx(const struct tern_nvmf_request *req)
{
    return (int)((const struct rdma_treq *)req - g_reqs);
}

static void
core_complete(int i, uint16_t status, uint32_t data_len)
{
    struct rdma_treq *r = &g_reqs[i];

    cr_assert(g_core_holds[i], "completing request %d the core does not hold", i);
    g_core_holds[i] = false;
    g_done[i]++;
    g_total_done++;
    r->req.cpl.status = tern_nvme_status_to_cqe(status, 0);
    r->req.cpl.cid = r->req.cmd->cid;
    r->req.data_len = data_len;
    rdma_qp_req_complete(&r->req);
}

void
tern_nvmf_request_exec(struct tern_nvmf_request *req)
{
    int i = idx(req);

    cr_assert(!g_core_holds[i], "request %d executed twice", i);
    g_core_holds[i] = true;
    g_exec[i]++;
    g_total_exec++;
    if (g_qp.closed_told || g_auto_complete)
        core_complete(i, g_qp.closed_told ? TERN_NVME_STATUS(0, 0x08) : 0,
                      req->xfer == TERN_NVME_XFER_CTRLR_TO_HOST ? req->length : 0);
}

void
tern_nvmf_request_fail(struct tern_nvmf_request *req, uint16_t status)
{
    int i = idx(req);

    g_fail_status[i] = status;
    g_core_holds[i] = true;
    g_exec[i]++;
    g_total_exec++;
    core_complete(i, status, 0);
}

void
tern_nvmf_qpair_closed(struct tern_nvmf_qpair *qp, bool error)
{
    (void)qp;
    g_closed_calls++;
    g_closed_error = error;
}

/* ---- the test's host ---- */
static void
setup_limits(uint32_t sq_depth, uint32_t rd_depth, uint32_t max_sge)
{
    struct rdma_qp_limits lim = {
        .io_unit_size = UNIT,
        .max_io_size = 16 * UNIT,
        .sq_depth = sq_depth,
        .rd_depth = rd_depth,
        .max_sge = max_sge,
    };

    memset(&g_qp, 0, sizeof(g_qp));
    memset(g_reqs, 0, sizeof(g_reqs));
    memset(g_recvs, 0, sizeof(g_recvs));
    for (int i = 0; i < NREQ; i++) {
        g_reqs[i].rsp = &g_rsp[i];
        g_reqs[i].rsp_lkey = 0x5e5;
    }
    for (int i = 0; i < NRECV; i++) {
        g_recvs[i].op = RDMA_WR_RECV;
        g_recvs[i].sge.addr = (uint64_t)(uintptr_t)g_rbuf[i];
        g_recvs[i].sge.length = sizeof(g_rbuf[i]);
        g_recvs[i].sge.lkey = 0xecf;
        g_recvs[i].posted = g_srq;      /* the SRQ's are all posted */
    }
    g_srq_posted = g_srq ? NRECV : 0;
    for (int i = 0; i < NBUF; i++)
        g_buf_free[i] = g_bufmem[i];
    g_buf_avail = g_buf_limit = NBUF;
    for (int i = 0; i < NWR; i++)
        g_wr_free[i] = &g_wrmem[i];
    g_wr_avail = g_wr_limit = NWR;
    g_sq_len = 0;
    g_disconnects = g_drained = 0;
    g_fail_post_after = -1;
    g_fail_recv = false;
    g_recv_reposted_before_send = 0;
    memset(g_exec, 0, sizeof(g_exec));
    memset(g_done, 0, sizeof(g_done));
    memset(g_core_holds, 0, sizeof(g_core_holds));
    memset(g_fail_status, 0, sizeof(g_fail_status));
    g_total_exec = g_total_done = 0;
    g_auto_complete = false;
    g_closed_calls = 0;
    g_closed_error = false;
    /* As the verbs layer does: NULL receives with a count means the SRQ. */
    rdma_qp_init(&g_qp, &g_ops, &lim, g_reqs, NREQ, g_srq ? NULL : g_recvs, NREQ);
    cr_assert_eq(rdma_qp_start(&g_qp), 0);
    cr_assert_eq(g_qp.srq, g_srq);
    cr_assert_eq(g_qp.recv_posted, g_srq ? 0 : NREQ);
}

/* A receive completion, as the verbs layer hands it over. */
static bool
deliver_recv(struct rdma_recv *rv, bool ok, uint32_t byte_len)
{
    if (g_srq) {
        cr_assert(rv->posted);
        g_srq_posted--;
    }
    return rdma_qp_wc(&g_qp, rv, ok, byte_len);
}

static void
setup(void)
{
    rte_log_set_level_pattern("tern.*", RTE_LOG_EMERG);
    setup_limits(64, 16, 16);
}

TestSuite(rdma_qp, .init = setup);

static struct rdma_recv *
posted_recv(void)
{
    for (int i = 0; i < (g_srq ? NRECV : NREQ); i++)
        if (g_recvs[i].posted)
            return &g_recvs[i];
    return NULL;
}

static uint16_t g_cid;

/* A command with one keyed descriptor (len 0: no data). */
static void
send_cmd(uint8_t opc, uint32_t len, uint8_t subtype)
{
    struct rdma_recv *rv = posted_recv();
    struct tern_nvme_cmd cmd;

    cr_assert_not_null(rv, "no receive posted for the host's command");
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = opc;
    cmd.cid = g_cid++;
    cmd.flags = TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6;
    tern_rdma_sgl_set_keyed(&cmd.dptr.sgl1, 0x100000, len, 0xabc, subtype);
    memcpy((void *)(uintptr_t)rv->sge.addr, &cmd, sizeof(cmd));
    deliver_recv(rv, true, TERN_RDMA_CMD_CAPSULE_MIN);
}

#define WRITE_OPC 0x01  /* host to controller */
#define READ_OPC 0x02   /* controller to host */
#define FLUSH_OPC 0x00  /* no data */

/* Deliver the oldest posted send-queue WR's completion. */
static struct rdma_wr *
hw_complete(bool ok)
{
    struct rdma_wr *w;

    cr_assert_gt(g_sq_len, 0, "no work request outstanding");
    w = g_sq[0];
    /* What the hardware still touches must not have been given back. */
    cr_assert_neq(w->req->sm.state, RDMA_REQ_FREE, "a completion for a freed request");
    for (uint32_t k = 0; w->op != RDMA_WR_SEND && k < w->nsge; k++)
        for (uint32_t b = 0; b < g_buf_avail; b++)
            cr_assert_neq((uintptr_t)g_buf_free[b], (uintptr_t)(w->sge[k].addr & ~(uintptr_t)(UNIT - 1)),
                          "a buffer back in the pool while a WR on it is posted");
    memmove(g_sq, g_sq + 1, (g_sq_len - 1) * sizeof(g_sq[0]));
    g_sq_len--;
    rdma_qp_wc(&g_qp, w, ok, 0);
    return w;
}

/* After an error: the hardware flushes everything still posted. */
static void
hw_flush_all(void)
{
    while (g_sq_len > 0)
        hw_complete(false);
    /* The SRQ's receives are not the qpair's: they stay posted. */
    for (int i = 0; i < NREQ && !g_srq; i++)
        if (g_recvs[i].posted)
            rdma_qp_wc(&g_qp, &g_recvs[i], false, 0);
}

static void
check_queues(void)
{
    uint32_t seen = 0;

    for (int q = 0; q < RDMA_Q_NUM; q++) {
        struct rdma_req *sm;
        uint32_t n = 0;

        TAILQ_FOREACH(sm, &g_qp.qs.q[q], link) {
            cr_assert_eq(rdma_req_queue_of(sm->state), q, "a request in %s is on %s",
                         rdma_req_state_name(sm->state), rdma_req_queue_name(q));
            n++;
        }
        cr_assert_eq(n, g_qp.qs.len[q]);
        seen += n;
    }
    for (int i = 0; i < NREQ; i++) {
        enum rdma_req_state s = g_reqs[i].sm.state;

        cr_assert_eq(g_reqs[i].sm.on, rdma_req_queue_of(s));
        cr_assert_leq(g_done[i], g_exec[i], "request %d completed more often than run", i);
        cr_assert_eq(g_core_holds[i], s == RDMA_REQ_EXECUTING && g_exec[i] > g_done[i]);
    }
    cr_assert_eq(g_qp.qs.refused, 0, "the state machine refused a move");
    if (!g_qp.error) {
        /* Every receive buffer is posted, holds a capsule waiting for a
         * request, or belongs to a request: none is lost (a lost one would
         * leave the host RNR-retrying). */
        uint32_t held = 0;

        for (int i = 0; i < NREQ; i++)
            held += g_reqs[i].recv != NULL;
        if (g_srq) {
            cr_assert_eq(g_qp.srq_held, g_qp.rx_pending_len + held);
            cr_assert_eq(g_srq_posted + g_qp.srq_held, NRECV, "SRQ receives: %u posted, %u held",
                         g_srq_posted, g_qp.srq_held);
        } else {
            cr_assert_eq(g_qp.recv_posted + g_qp.rx_pending_len + held, NREQ,
                         "receives: %u posted, %u pending, %u held", g_qp.recv_posted,
                         g_qp.rx_pending_len, held);
        }
    }
}

static void
check_all_back(void)
{
    cr_assert_eq(g_drained, 1, "drained reported %u times", g_drained);
    cr_assert_eq(g_closed_calls, 1);
    cr_assert_eq(g_qp.qs.in_state[RDMA_REQ_FREE], NREQ);
    cr_assert_eq(g_qp.recv_posted, 0);
    cr_assert_eq(g_qp.srq_held, 0);
    if (g_srq)
        cr_assert_eq(g_srq_posted, NRECV, "SRQ receives: %u of %u back", g_srq_posted, NRECV);
    cr_assert_eq(g_qp.sq_used, 0);
    cr_assert_eq(g_qp.rd_used, 0);
    cr_assert_eq(g_buf_avail, NBUF, "buffers: %u of %u back", g_buf_avail, NBUF);
    cr_assert_eq(g_wr_avail, NWR, "data WRs: %u of %u back", g_wr_avail, NWR);
    cr_assert_eq(g_total_exec, g_total_done, "run %u, completed %u", g_total_exec, g_total_done);
    check_queues();
}

/* The test runs with the qpair on the mock SRQ. */
static void
on_srq(void)
{
    g_srq = true;
    setup_limits(64, 16, 16);
}

/* ---- SGL parsing ---- */
Test(rdma_qp, sgl_keyed_invalidate_last_segment_and_errors)
{
    struct tern_nvme_cmd cmd;
    struct rdma_sgl sgl;
    uint8_t icd[64] = {0};
    const uint16_t dnr = TERN_NVME_STATUS_DNR;

    memset(&cmd, 0, sizeof(cmd));
    cmd.flags = TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6;
    tern_rdma_sgl_set_keyed(&cmd.dptr.sgl1, 0x1000, 8192, 0x77, TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY);
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_CTRLR_TO_HOST, icd, 0, 65536, &sgl), 0);
    cr_assert_eq(sgl.kind, RDMA_SGL_KEYED);
    cr_assert_eq(sgl.length, 8192);
    cr_assert(sgl.invalidate);
    cr_assert_eq(sgl.inv_rkey, 0x77);
    /* too long */
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_CTRLR_TO_HOST, icd, 0, 4096, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_DATA_SGL_LENGTH_INVALID) | dnr);
    /* no data: a null keyed descriptor is fine */
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_NONE, icd, 0, 4096, &sgl), 0);
    cr_assert_eq(sgl.kind, RDMA_SGL_NONE);
    /* two keyed descriptors in a Last Segment in the capsule */
    tern_rdma_sgl_set_keyed((struct tern_nvme_sgl *)icd, 0x2000, 4096, 0x11, 0);
    tern_rdma_sgl_set_keyed((struct tern_nvme_sgl *)(icd + 16), 0x9000, 1000, 0x12, 0);
    memset(&cmd.dptr.sgl1, 0, sizeof(cmd.dptr.sgl1));
    cmd.dptr.sgl1.unkeyed.length = 32;
    cmd.dptr.sgl1.unkeyed.id = TERN_NVME_SGL_LAST_SEGMENT << 4 | TERN_NVME_SGL_SUBTYPE_OFFSET;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl), 0);
    cr_assert_eq(sgl.ndesc, 2);
    cr_assert_eq(sgl.length, 5096);
    cr_assert_eq(sgl.desc[1].addr, 0x9000);
    cr_assert_eq(sgl.desc[1].key, 0x12);
    cr_assert_not(sgl.invalidate);
    /* the list runs past the capsule */
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 16, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_INVALID_SGL_OFFSET) | dnr);
    /* a list length that is not whole descriptors */
    cmd.dptr.sgl1.unkeyed.length = 20;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_INVALID_SGL_SEG_DESCRIPTOR) | dnr);
    /* in-capsule data for controller-to-host */
    cmd.dptr.sgl1.unkeyed.length = 16;
    cmd.dptr.sgl1.unkeyed.id = TERN_NVME_SGL_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_OFFSET;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_CTRLR_TO_HOST, icd, 32, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_INVALID_FIELD) | dnr);
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl), 0);
    cr_assert_eq(sgl.kind, RDMA_SGL_IN_CAPSULE);
    /* in-capsule data longer than the capsule */
    cmd.dptr.sgl1.unkeyed.length = 33;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_INVALID_SGL_OFFSET) | dnr);
    /* a bit bucket */
    cmd.dptr.sgl1.unkeyed.id = TERN_NVME_SGL_BIT_BUCKET << 4;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID) | dnr);
    /* PRPs on a fabric */
    cmd.flags = 0;
    cr_assert_eq(rdma_sgl_parse(&cmd, TERN_NVME_XFER_HOST_TO_CTRLR, icd, 32, 65536, &sgl),
                 TERN_NVME_STATUS(0, TERN_NVME_SC_INVALID_FIELD) | dnr);
}

Test(rdma_qp, data_wrs_split_at_units_sges_and_descriptors)
{
    struct rdma_desc one = {.addr = 0, .length = 16 * UNIT, .key = 1};
    struct rdma_desc two[2] = {{.addr = 0, .length = UNIT / 2, .key = 1},
                               {.addr = 0, .length = 2 * UNIT, .key = 2}};

    cr_assert_eq(rdma_data_wrs_needed(&one, 1, 16 * UNIT, UNIT, 16), 1);
    cr_assert_eq(rdma_data_wrs_needed(&one, 1, 16 * UNIT, UNIT, 4), 4);
    cr_assert_eq(rdma_data_wrs_needed(&one, 1, 16 * UNIT, UNIT, 1), 16);
    cr_assert_eq(rdma_data_wrs_needed(&one, 1, UNIT + 1, UNIT, 1), 2);
    /* A descriptor boundary inside a unit: 4 pieces (1 + 3), 2 WRs of up
     * to 16 SGEs or 4 WRs of one. */
    cr_assert_eq(rdma_data_wrs_needed(two, 2, UNIT / 2 + 2 * UNIT, UNIT, 16), 2);
    cr_assert_eq(rdma_data_wrs_needed(two, 2, UNIT / 2 + 2 * UNIT, UNIT, 1), 4);
    /* Only the bytes asked for (a short read). */
    cr_assert_eq(rdma_data_wrs_needed(two, 2, 100, UNIT, 1), 1);
}

/* ---- the normal paths ---- */
Test(rdma_qp, write_reads_host_data_then_sends_the_response)
{
    int i;
    struct rdma_wr *w;

    setup_limits(64, 16, 1);
    send_cmd(WRITE_OPC, 3 * UNIT, 0);
    check_queues();
    i = 0;
    cr_assert_eq(g_reqs[i].sm.state, RDMA_REQ_READING);
    cr_assert_eq(g_sq_len, 3, "one READ per unit with max_sge 1");
    for (uint32_t k = 0; k < 3; k++) {
        cr_assert_eq(g_sq[k]->op, RDMA_WR_READ);
        cr_assert_eq(g_sq[k]->raddr, 0x100000 + k * UNIT);
        cr_assert_eq(g_sq[k]->rkey, 0xabc);
        cr_assert_eq(g_sq[k]->length, UNIT);
    }
    cr_assert_eq(g_qp.rd_used, 3);
    hw_complete(true);
    hw_complete(true);
    cr_assert_eq(g_exec[i], 0, "executed before all its data was read");
    hw_complete(true);
    cr_assert_eq(g_exec[i], 1);
    cr_assert_eq(g_reqs[i].req.iovcnt, 3);
    cr_assert_eq(g_reqs[i].req.length, 3 * UNIT);
    cr_assert_eq(g_wr_avail, NWR, "READ WRs go back as they complete");
    core_complete(i, 0, 0);
    cr_assert_eq(g_sq_len, 1);
    cr_assert_eq(g_sq[0]->op, RDMA_WR_SEND);
    cr_assert_eq(g_recv_reposted_before_send, 1, "the capsule's receive goes back before the SEND");
    cr_assert_eq(g_qp.recv_posted, NREQ);
    w = hw_complete(true);
    cr_assert_eq(w->op, RDMA_WR_SEND);
    cr_assert_eq(g_reqs[i].sm.state, RDMA_REQ_FREE);
    cr_assert_eq(g_buf_avail, NBUF);
    cr_assert_eq(g_qp.sq_used, 0);
    check_queues();
}

Test(rdma_qp, read_writes_data_and_sends_in_one_chain_with_invalidate)
{
    setup_limits(64, 16, 16);
    send_cmd(READ_OPC, 2 * UNIT, TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_EXECUTING);
    cr_assert_eq(g_reqs[0].req.iovcnt, 2);
    core_complete(0, 0, 2 * UNIT);
    cr_assert_eq(g_sq_len, 2);
    cr_assert_eq(g_sq[0]->op, RDMA_WR_WRITE);
    cr_assert_eq(g_sq[0]->nsge, 2);
    cr_assert_eq(g_sq[0]->length, 2 * UNIT);
    cr_assert_eq(g_sq[1]->op, RDMA_WR_SEND);
    cr_assert(g_sq[1]->invalidate);
    cr_assert_eq(g_sq[1]->rkey, 0xabc);
    cr_assert_eq(g_rsp[0].cid, 0);
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_SENDING, "free before its SEND completed");
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_FREE);
    cr_assert_eq(g_buf_avail, NBUF);
    cr_assert_eq(g_wr_avail, NWR);
}

Test(rdma_qp, a_failed_read_sends_no_data)
{
    send_cmd(READ_OPC, UNIT, 0);
    core_complete(0, TERN_NVME_STATUS(0, 0x81), UNIT);
    cr_assert_eq(g_sq_len, 1);
    cr_assert_eq(g_sq[0]->op, RDMA_WR_SEND);
}

Test(rdma_qp, bad_sgl_fails_the_command_with_its_status)
{
    send_cmd(WRITE_OPC, 32 * UNIT, 0);     /* beyond max_io_size */
    cr_assert_eq(g_fail_status[0],
                 TERN_NVME_STATUS(0, TERN_NVME_SC_DATA_SGL_LENGTH_INVALID) | TERN_NVME_STATUS_DNR);
    cr_assert_eq(g_sq_len, 1);
    cr_assert_eq(g_sq[0]->op, RDMA_WR_SEND);
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_FREE);
}

static void
short_capsule_tears_the_qpair_down(void)
{
    struct rdma_recv *rv = posted_recv();

    deliver_recv(rv, true, 40);
    cr_assert(g_qp.error);
    cr_assert_eq(g_disconnects, 1);
    cr_assert_eq(g_qp.st.protocol_errors, 1);
    hw_flush_all();
    check_all_back();
}

Test(rdma_qp, short_capsule_tears_the_qpair_down)
{
    short_capsule_tears_the_qpair_down();
}

Test(rdma_qp, short_capsule_tears_the_qpair_down_srq)
{
    on_srq();
    short_capsule_tears_the_qpair_down();
}

/* ---- incident 2: waiters run on every poll, with no completion ---- */
Test(rdma_qp, buffer_waiters_run_when_a_buffer_is_back_without_a_completion)
{
    g_buf_limit = 0;
    send_cmd(READ_OPC, UNIT, 0);
    send_cmd(READ_OPC, UNIT, 0);
    cr_assert_eq(g_qp.qs.len[RDMA_Q_PENDING_BUF], 2);
    cr_assert_eq(rdma_qp_drain(&g_qp), 0);
    g_buf_limit = 1;                    /* a buffer freed elsewhere (another qpair) */
    cr_assert_eq(rdma_qp_drain(&g_qp), 1);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_EXECUTING, "FIFO: the first waiter first");
    cr_assert_eq(g_reqs[1].sm.state, RDMA_REQ_NEED_BUF);
    g_buf_limit = 1;
    rdma_qp_drain(&g_qp);
    cr_assert_eq(g_reqs[1].sm.state, RDMA_REQ_EXECUTING);
    check_queues();
}

Test(rdma_qp, data_wr_and_send_queue_waiters)
{
    setup_limits(2, 16, 16);
    g_wr_limit = 0;
    send_cmd(READ_OPC, UNIT, 0);
    core_complete(0, 0, UNIT);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_NEED_SEND, "no data WR: it waits");
    cr_assert_gt(g_qp.st.wr_waits, 0);
    cr_assert_eq(g_qp.st.pending_max, 1, "the high-water mark of the pending queues");
    g_wr_limit = 1;
    rdma_qp_drain(&g_qp);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_SENDING);
    cr_assert_eq(g_qp.sq_used, 2);
    /* The send queue is full (depth 2): a response waits for room. */
    send_cmd(FLUSH_OPC, 0, 0);
    core_complete(1, 0, 0);
    cr_assert_eq(g_reqs[1].sm.state, RDMA_REQ_NEED_SEND);
    cr_assert_gt(g_qp.st.sq_waits, 0);
    hw_complete(true);                  /* the WRITE: one slot free */
    cr_assert_eq(g_reqs[1].sm.state, RDMA_REQ_SENDING);
    hw_complete(true);
    hw_complete(true);
    check_queues();
    cr_assert_eq(g_qp.qs.in_state[RDMA_REQ_FREE], NREQ);
    cr_assert_eq(g_qp.st.pending_max, 1, "a mark, not a count: still 1 when all is done");
}

Test(rdma_qp, reads_beyond_the_read_depth_are_split)
{
    setup_limits(64, 2, 1);
    send_cmd(WRITE_OPC, 5 * UNIT, 0);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_NEED_READ, "not all READs are posted");
    cr_assert_eq(g_sq_len, 2);
    cr_assert_eq(g_qp.rd_used, 2);
    cr_assert_eq(g_reqs[0].rd_posted, 2);
    hw_complete(true);
    cr_assert_eq(g_qp.rd_used, 2, "a READ completion makes room for the next");
    cr_assert_eq(g_sq[g_sq_len - 1]->raddr, 0x100000 + 2 * UNIT);
    hw_complete(true);
    hw_complete(true);
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_READING);
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_EXECUTING);
    check_queues();
}

static void
capsules_beyond_free_requests_wait_in_order(void)
{
    g_auto_complete = true;
    for (int i = 0; i < NREQ; i++)
        send_cmd(FLUSH_OPC, 0, 0);
    /* Every request is SENDING; the receives were reposted, so the host
     * may send more before our SENDs complete. */
    cr_assert_eq(g_qp.qs.in_state[RDMA_REQ_SENDING], NREQ);
    send_cmd(FLUSH_OPC, 0, 0);
    send_cmd(FLUSH_OPC, 0, 0);
    cr_assert_eq(g_qp.rx_pending_len, 2);
    hw_complete(true);
    cr_assert_eq(g_qp.rx_pending_len, 1);
    cr_assert_eq(g_total_exec, NREQ + 1);
    hw_complete(true);
    cr_assert_eq(g_qp.rx_pending_len, 0);
    check_queues();
}

Test(rdma_qp, capsules_beyond_free_requests_wait_in_order)
{
    capsules_beyond_free_requests_wait_in_order();
}

Test(rdma_qp, capsules_beyond_free_requests_wait_in_order_srq)
{
    on_srq();
    capsules_beyond_free_requests_wait_in_order();
}

/* ---- incident 3: errors in every state ---- */
enum where {
    AT_NEED_BUF,
    AT_NEED_READ,       /* some READs posted, more to post */
    AT_READING,
    AT_EXECUTING,
    AT_NEED_SEND,
    AT_SENDING,
    AT_NUM,
};

static const char *const g_where[AT_NUM] = {
    "NEED_BUF", "NEED_READ", "READING", "EXECUTING", "NEED_SEND", "SENDING",
};

/* Put request 0 in a state, with request 1 in flight beside it. */
static void
drive_to(enum where w)
{
    setup_limits(64, 2, 1);
    send_cmd(READ_OPC, UNIT, 0);            /* request 0 */
    switch (w) {
    case AT_NEED_BUF:
        g_buf_limit = 0;
        send_cmd(WRITE_OPC, 4 * UNIT, 0);   /* request 1 */
        break;
    case AT_NEED_READ:
        send_cmd(WRITE_OPC, 4 * UNIT, 0);
        break;
    case AT_READING:
        send_cmd(WRITE_OPC, 2 * UNIT, 0);
        break;
    case AT_EXECUTING:
        send_cmd(WRITE_OPC, UNIT, 0);
        hw_complete(true);
        break;
    case AT_NEED_SEND:
        send_cmd(READ_OPC, UNIT, 0);
        g_wr_limit = 0;
        core_complete(1, 0, UNIT);
        break;
    case AT_SENDING:
        send_cmd(READ_OPC, 2 * UNIT, 0);
        core_complete(1, 0, 2 * UNIT);
        break;
    default:
        break;
    }
    static const enum rdma_req_state want[AT_NUM] = {
        RDMA_REQ_NEED_BUF, RDMA_REQ_NEED_READ, RDMA_REQ_READING,
        RDMA_REQ_EXECUTING, RDMA_REQ_NEED_SEND, RDMA_REQ_SENDING,
    };
    cr_assert_eq(g_reqs[1].sm.state, want[w], "drive to %s: in %s", g_where[w],
                 rdma_req_state_name(g_reqs[1].sm.state));
    check_queues();
}

/* The WC error statuses of the issue; the engine treats them alike (the
 * verbs layer counts them apart), the flushes that follow are errors too. */
static const char *const g_wc_errors[] = {
    "WR_FLUSH_ERR", "RETRY_EXC_ERR", "REM_ACCESS_ERR", "REM_OP_ERR",
};

static void
finish_after_error(void)
{
    /* The core gives back what it holds, the hardware flushes the rest,
     * in either order. */
    for (int i = 0; i < NREQ; i++)
        if (g_core_holds[i])
            core_complete(i, TERN_NVME_STATUS(0, 0x08), 0);
    check_queues();
    hw_flush_all();
    check_all_back();
}

static void
wc_error_on_a_request_in_each_state(void)
{
    for (int w = 0; w < AT_NUM; w++) {
        for (size_t e = 0; e < sizeof(g_wc_errors) / sizeof(g_wc_errors[0]); e++) {
            drive_to((enum where)w);
            if (g_sq_len > 0) {
                /* The error on the newest WR (request 1's where it has one). */
                struct rdma_wr *bad = g_sq[g_sq_len - 1];

                g_sq_len--;
                cr_assert(rdma_qp_wc(&g_qp, bad, false, 0), "%s at %s: not the first error",
                          g_wc_errors[e], g_where[w]);
            } else {
                /* Nothing on the send queue: the error comes on a receive. */
                struct rdma_recv *rv = posted_recv();

                deliver_recv(rv, false, 0);
            }
            cr_assert(g_qp.error);
            cr_assert(g_closed_error, "a WC error is a broken connection for the core");
            cr_assert_eq(g_disconnects, 1);
            check_queues();
            finish_after_error();
        }
    }
}

Test(rdma_qp, wc_error_on_a_request_in_each_state)
{
    wc_error_on_a_request_in_each_state();
}

Test(rdma_qp, wc_error_on_a_request_in_each_state_srq)
{
    on_srq();
    wc_error_on_a_request_in_each_state();
}

static void
core_completes_after_the_flush_and_before_it(void)
{
    for (int order = 0; order < 2; order++) {
        drive_to(AT_EXECUTING);
        rdma_qp_fail(&g_qp, true, "QP fatal (async event)");
        cr_assert_eq(g_drained, 0, "drained while the core holds requests");
        if (order == 0) {
            hw_flush_all();
            cr_assert_eq(g_drained, 0);
            core_complete(0, 0, UNIT);
            core_complete(1, 0, 0);
        } else {
            core_complete(1, 0, 0);
            core_complete(0, 0, UNIT);
            /* Its own receives are still posted; an SRQ's are not its. */
            cr_assert_eq(g_drained, g_srq ? 1 : 0, "drained with receives still posted");
            hw_flush_all();
        }
        check_all_back();
        cr_assert_eq(g_sq_len, 0, "a response was sent after the teardown");
    }
}

Test(rdma_qp, core_completes_after_the_flush_and_before_it)
{
    core_completes_after_the_flush_and_before_it();
}

Test(rdma_qp, core_completes_after_the_flush_and_before_it_srq)
{
    on_srq();
    core_completes_after_the_flush_and_before_it();
}

static void
orderly_close_with_nothing_in_flight(void)
{
    rdma_qp_fail(&g_qp, false, "host disconnected");
    rdma_qp_fail(&g_qp, true, "again");
    cr_assert_eq(g_disconnects, 1);
    cr_assert_str_eq(g_qp.why, "host disconnected");
    hw_flush_all();
    check_all_back();
    cr_assert_not(g_closed_error);
}

Test(rdma_qp, orderly_close_with_nothing_in_flight)
{
    orderly_close_with_nothing_in_flight();
}

Test(rdma_qp, orderly_close_with_nothing_in_flight_srq)
{
    on_srq();
    orderly_close_with_nothing_in_flight();
}

static void
a_post_that_fails_half_way_tears_down_and_gives_everything_back(void)
{
    setup_limits(64, 16, 1);
    g_fail_post_after = 2;
    send_cmd(WRITE_OPC, 4 * UNIT, 0);
    cr_assert(g_qp.error);
    cr_assert_eq(g_sq_len, 2, "the two posted READs stay outstanding");
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_READING);
    hw_flush_all();
    check_all_back();
}

Test(rdma_qp, a_post_that_fails_half_way_tears_down_and_gives_everything_back)
{
    a_post_that_fails_half_way_tears_down_and_gives_everything_back();
}

Test(rdma_qp, a_post_that_fails_half_way_tears_down_and_gives_everything_back_srq)
{
    on_srq();
    a_post_that_fails_half_way_tears_down_and_gives_everything_back();
}

Test(rdma_qp, a_receive_that_cannot_be_reposted_tears_down_and_gives_everything_back)
{
    send_cmd(READ_OPC, 2 * UNIT, 0);
    g_fail_recv = true;
    core_complete(0, 0, 2 * UNIT);
    cr_assert(g_qp.error);
    cr_assert_eq(g_sq_len, 0, "a response posted after the teardown");
    hw_flush_all();
    check_all_back();
}

/* ---- everything at random ---- */
static void
random_walk_keeps_every_invariant(void)
{
    unsigned seed = 12345;

    for (int round = 0; round < 300; round++) {
        setup_limits(3 + (uint32_t)(rand_r(&seed) % 16), 1 + (uint32_t)(rand_r(&seed) % 4),
                     1 + (uint32_t)(rand_r(&seed) % 3));
        for (int step = 0; step < 400 && !g_qp.error; step++) {
            int a = rand_r(&seed) % 10;

            if (a < 3 && posted_recv() != NULL) {
                static const uint8_t opc[3] = {READ_OPC, WRITE_OPC, FLUSH_OPC};
                uint8_t o = opc[rand_r(&seed) % 3];

                send_cmd(o, o == FLUSH_OPC ? 0 : (1 + (uint32_t)(rand_r(&seed) % 6)) * UNIT / 2,
                         (uint8_t)(rand_r(&seed) % 2 ? 0 : TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY));
            } else if (a < 6 && g_sq_len > 0) {
                hw_complete(rand_r(&seed) % 200 != 0);
            } else if (a < 8) {
                int i = rand_r(&seed) % NREQ;

                if (g_core_holds[i])
                    core_complete(i, rand_r(&seed) % 8 ? 0 : TERN_NVME_STATUS(0, 0x81),
                                  g_reqs[i].req.xfer == TERN_NVME_XFER_CTRLR_TO_HOST
                                      ? g_reqs[i].req.length : 0);
            } else if (a == 8) {
                g_buf_limit = (uint32_t)(rand_r(&seed) % 3) * 4;
                g_wr_limit = (uint32_t)(rand_r(&seed) % 3) * 3;
                rdma_qp_drain(&g_qp);
            } else {
                g_buf_limit = NBUF;
                g_wr_limit = NWR;
                rdma_qp_drain(&g_qp);
            }
            check_queues();
        }
        if (!g_qp.error)
            rdma_qp_fail(&g_qp, rand_r(&seed) % 2, "end of round");
        g_buf_limit = NBUF;
        g_wr_limit = NWR;
        finish_after_error();
    }
}

Test(rdma_qp, random_walk_keeps_every_invariant)
{
    random_walk_keeps_every_invariant();
}

Test(rdma_qp, random_walk_keeps_every_invariant_srq)
{
    on_srq();
    random_walk_keeps_every_invariant();
}

/* ---- on a shared receive queue ---- */
Test(rdma_qp, srq_buffers_go_back_before_the_response_and_nothing_is_posted_to_the_qp)
{
    on_srq();
    cr_assert_eq(g_srq_posted, NRECV, "the engine took SRQ buffers at start");
    send_cmd(READ_OPC, 2 * UNIT, 0);
    cr_assert_eq(g_qp.srq_held, 1);
    cr_assert_eq(g_srq_posted, NRECV - 1);
    core_complete(0, 0, 2 * UNIT);
    cr_assert_eq(g_recv_reposted_before_send, 1);
    cr_assert_eq(g_qp.srq_held, 0, "the capsule's buffer is back before the response");
    cr_assert_eq(g_srq_posted, NRECV);
    hw_complete(true);
    hw_complete(true);
    cr_assert_eq(g_reqs[0].sm.state, RDMA_REQ_FREE);
    cr_assert_eq(g_qp.recv_posted, 0);
    check_queues();
}

Test(rdma_qp, srq_more_commands_than_the_queue_depth_is_a_protocol_error)
{
    on_srq();
    for (int i = 0; i < NREQ; i++)
        send_cmd(FLUSH_OPC, 0, 0);          /* the core holds them all */
    cr_assert_not(g_qp.error);
    cr_assert_eq(g_qp.srq_held, NREQ);
    send_cmd(FLUSH_OPC, 0, 0);              /* one more than the host may have */
    cr_assert(g_qp.error);
    cr_assert_eq(g_qp.st.protocol_errors, 1);
    cr_assert(g_closed_error);
    finish_after_error();
}
