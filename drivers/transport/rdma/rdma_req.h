/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The life of a target-side NVMe/RDMA request as a state machine whose state
 * decides the one queue the request may be on (SEEDS incident 3: a request
 * left linked on the pending-read queue while the error path moved or freed
 * it corrupted the list). Every change of state goes through rdma_req_move():
 * it checks that the move is one the machine allows and that the request is
 * linked where its state says, unlinks it, and links it where the new state
 * says. A move that fails a check changes nothing and is refused; the caller
 * tears the qpair down (a bug, reported, not a corrupted list).
 */
#ifndef TERN_RDMA_REQ_H
#define TERN_RDMA_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

enum rdma_req_state {
    RDMA_REQ_FREE,          /* unused: on the free list */
    RDMA_REQ_NEED_BUF,      /* a capsule that moves data, waiting for data buffers */
    RDMA_REQ_NEED_READ,     /* host-to-controller data: waiting for data WRs or read depth */
    RDMA_REQ_READING,       /* its RDMA READs are posted, their completions not all in */
    RDMA_REQ_EXECUTING,     /* in the NVMe-oF core (and maybe a bdev) */
    RDMA_REQ_NEED_SEND,     /* answered: waiting for data WRs or send queue room */
    RDMA_REQ_SENDING,       /* its RDMA WRITEs and SEND are posted, completions not all in */
    RDMA_REQ_NUM_STATES,
};

/* The queues of one qpair. A state maps to one of them or to none. */
enum rdma_req_queue {
    RDMA_Q_NONE = -1,
    RDMA_Q_FREE,
    RDMA_Q_PENDING_BUF,
    RDMA_Q_PENDING_READ,
    RDMA_Q_PENDING_SEND,
    RDMA_Q_NUM,
};

struct rdma_req {
    enum rdma_req_state state;
    int8_t on;                      /* the queue it is linked on, or RDMA_Q_NONE */
    TAILQ_ENTRY(rdma_req) link;
};

TAILQ_HEAD(rdma_req_list, rdma_req);

struct rdma_req_queues {
    struct rdma_req_list q[RDMA_Q_NUM];
    uint32_t len[RDMA_Q_NUM];
    uint32_t in_state[RDMA_REQ_NUM_STATES];
    uint64_t refused;               /* moves refused (each one a bug) */
};

/* The queue a request in state s is on (RDMA_Q_NONE for none). */
enum rdma_req_queue rdma_req_queue_of(enum rdma_req_state s);
/* Whether the machine has an edge from -> to. */
bool rdma_req_move_allowed(enum rdma_req_state from, enum rdma_req_state to);
const char *rdma_req_state_name(enum rdma_req_state s);
const char *rdma_req_queue_name(enum rdma_req_queue q);

/* Empty queues; then each request joins them FREE, on the free list. */
void rdma_req_queues_init(struct rdma_req_queues *qs);
void rdma_req_add(struct rdma_req_queues *qs, struct rdma_req *r);
/*
 * Move r to state `to`: 0, or -EPROTO (the edge does not exist, or r is not
 * linked where its state says) with nothing changed and the refusal logged
 * and counted. Requests join the tail of their new queue (FIFO waiters).
 */
int rdma_req_move(struct rdma_req_queues *qs, struct rdma_req *r, enum rdma_req_state to);
/* The oldest request of a queue, or NULL. */
static inline struct rdma_req *
rdma_req_first(struct rdma_req_queues *qs, enum rdma_req_queue q)
{
    return TAILQ_FIRST(&qs->q[q]);
}

#endif /* TERN_RDMA_REQ_H */
