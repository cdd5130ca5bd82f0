/* SPDX-License-Identifier: BSD-3-Clause */
/* The request state machine of the NVMe/RDMA target: see rdma_req.h. */
#include <errno.h>

#include "rdma_req.h"
#include "tern_log.h"

TERN_LOG_REGISTER(g_log, "tern.drv.transport.rdma.req", INFO);

static const char *const g_state_names[RDMA_REQ_NUM_STATES] = {
    [RDMA_REQ_FREE] = "FREE",
    [RDMA_REQ_NEED_BUF] = "NEED_BUF",
    [RDMA_REQ_NEED_READ] = "NEED_READ",
    [RDMA_REQ_READING] = "READING",
    [RDMA_REQ_EXECUTING] = "EXECUTING",
    [RDMA_REQ_NEED_SEND] = "NEED_SEND",
    [RDMA_REQ_SENDING] = "SENDING",
};

static const char *const g_queue_names[RDMA_Q_NUM] = {
    [RDMA_Q_FREE] = "free",
    [RDMA_Q_PENDING_BUF] = "pending_buf",
    [RDMA_Q_PENDING_READ] = "pending_read",
    [RDMA_Q_PENDING_SEND] = "pending_send",
};

/*
 * The edges. A new capsule leaves FREE for NEED_BUF (it moves data through
 * buffers), EXECUTING (no data, or in-capsule data) or NEED_SEND (refused
 * before the core saw it: bad SGL). Every state but SENDING may go straight
 * back to FREE when the qpair is torn down and nothing of the request is
 * left on the wire or in the core; SENDING goes back to FREE when its last
 * completion (success or flush) is in.
 */
#define E(s) (1u << (s))
static const uint32_t g_edges[RDMA_REQ_NUM_STATES] = {
    [RDMA_REQ_FREE] = E(RDMA_REQ_NEED_BUF) | E(RDMA_REQ_EXECUTING) | E(RDMA_REQ_NEED_SEND),
    [RDMA_REQ_NEED_BUF] = E(RDMA_REQ_NEED_READ) | E(RDMA_REQ_EXECUTING) | E(RDMA_REQ_NEED_SEND) |
                          E(RDMA_REQ_FREE),
    [RDMA_REQ_NEED_READ] = E(RDMA_REQ_READING) | E(RDMA_REQ_FREE),
    [RDMA_REQ_READING] = E(RDMA_REQ_EXECUTING) | E(RDMA_REQ_NEED_SEND) | E(RDMA_REQ_FREE),
    [RDMA_REQ_EXECUTING] = E(RDMA_REQ_NEED_SEND) | E(RDMA_REQ_FREE),
    [RDMA_REQ_NEED_SEND] = E(RDMA_REQ_SENDING) | E(RDMA_REQ_FREE),
    [RDMA_REQ_SENDING] = E(RDMA_REQ_FREE),
};
#undef E

enum rdma_req_queue
rdma_req_queue_of(enum rdma_req_state s)
{
    switch (s) {
    case RDMA_REQ_FREE:
        return RDMA_Q_FREE;
    case RDMA_REQ_NEED_BUF:
        return RDMA_Q_PENDING_BUF;
    case RDMA_REQ_NEED_READ:
        return RDMA_Q_PENDING_READ;
    case RDMA_REQ_NEED_SEND:
        return RDMA_Q_PENDING_SEND;
    default:
        return RDMA_Q_NONE;
    }
}

bool
rdma_req_move_allowed(enum rdma_req_state from, enum rdma_req_state to)
{
    if ((unsigned)from >= RDMA_REQ_NUM_STATES || (unsigned)to >= RDMA_REQ_NUM_STATES)
        return false;
    return (g_edges[from] >> to) & 1u;
}

const char *
rdma_req_state_name(enum rdma_req_state s)
{
    return (unsigned)s < RDMA_REQ_NUM_STATES ? g_state_names[s] : "?";
}

const char *
rdma_req_queue_name(enum rdma_req_queue q)
{
    return q == RDMA_Q_NONE ? "none" : (unsigned)q < RDMA_Q_NUM ? g_queue_names[q] : "?";
}

void
rdma_req_queues_init(struct rdma_req_queues *qs)
{
    int q;

    for (q = 0; q < RDMA_Q_NUM; q++) {
        TAILQ_INIT(&qs->q[q]);
        qs->len[q] = 0;
    }
    for (q = 0; q < RDMA_REQ_NUM_STATES; q++)
        qs->in_state[q] = 0;
    qs->refused = 0;
}

void
rdma_req_add(struct rdma_req_queues *qs, struct rdma_req *r)
{
    r->state = RDMA_REQ_FREE;
    r->on = RDMA_Q_FREE;
    TAILQ_INSERT_TAIL(&qs->q[RDMA_Q_FREE], r, link);
    qs->len[RDMA_Q_FREE]++;
    qs->in_state[RDMA_REQ_FREE]++;
}

int
rdma_req_move(struct rdma_req_queues *qs, struct rdma_req *r, enum rdma_req_state to)
{
    enum rdma_req_state from = r->state;
    enum rdma_req_queue qfrom = rdma_req_queue_of(from), qto;

    if (!rdma_req_move_allowed(from, to)) {
        qs->refused++;
        TERN_LOG(g_log, ERR, "request %p: no move %s -> %s (refused)", (void *)r,
                 rdma_req_state_name(from), rdma_req_state_name(to));
        return -EPROTO;
    }
    if (r->on != qfrom) {
        qs->refused++;
        TERN_LOG(g_log, ERR, "request %p in %s is on queue %s, not %s (move to %s refused)",
                 (void *)r, rdma_req_state_name(from), rdma_req_queue_name(r->on),
                 rdma_req_queue_name(qfrom), rdma_req_state_name(to));
        return -EPROTO;
    }
    if (qfrom != RDMA_Q_NONE) {
        TAILQ_REMOVE(&qs->q[qfrom], r, link);
        qs->len[qfrom]--;
        r->on = RDMA_Q_NONE;
    }
    qs->in_state[from]--;
    r->state = to;
    qs->in_state[to]++;
    qto = rdma_req_queue_of(to);
    if (qto != RDMA_Q_NONE) {
        TAILQ_INSERT_TAIL(&qs->q[qto], r, link);
        qs->len[qto]++;
        r->on = (int8_t)qto;
    }
    return 0;
}
