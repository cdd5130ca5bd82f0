/* SPDX-License-Identifier: BSD-3-Clause */
/* The NVMe/RDMA request state machine: queue membership is a function of
 * the state after every move, refused moves change nothing (incident 3). */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_log.h>

#include "rdma_req.h"

#define N 16
static struct rdma_req g_reqs[N];
static struct rdma_req_queues g_qs;

static void
setup(void)
{
    memset(g_reqs, 0, sizeof(g_reqs));
    rdma_req_queues_init(&g_qs);
    for (int i = 0; i < N; i++)
        rdma_req_add(&g_qs, &g_reqs[i]);
}

TestSuite(rdma_req, .init = setup);

/* Every request is linked exactly once, on the queue its state names, and
 * the counters agree with the lists. */
static void
check_invariants(void)
{
    uint32_t seen[RDMA_Q_NUM] = {0}, states[RDMA_REQ_NUM_STATES] = {0};

    for (int q = 0; q < RDMA_Q_NUM; q++) {
        struct rdma_req *r;

        TAILQ_FOREACH(r, &g_qs.q[q], link) {
            cr_assert_eq(r->on, q, "request %ld listed on %s but says %s", (long)(r - g_reqs),
                         rdma_req_queue_name(q), rdma_req_queue_name(r->on));
            cr_assert_eq(rdma_req_queue_of(r->state), q, "request %ld in %s on %s",
                         (long)(r - g_reqs), rdma_req_state_name(r->state), rdma_req_queue_name(q));
            seen[q]++;
            cr_assert_leq(seen[q], N, "a loop in queue %s", rdma_req_queue_name(q));
        }
        cr_assert_eq(seen[q], g_qs.len[q], "queue %s: %u listed, len says %u",
                     rdma_req_queue_name(q), seen[q], g_qs.len[q]);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(g_reqs[i].on, (int8_t)rdma_req_queue_of(g_reqs[i].state));
        states[g_reqs[i].state]++;
    }
    for (int s = 0; s < RDMA_REQ_NUM_STATES; s++)
        cr_assert_eq(states[s], g_qs.in_state[s], "state %s: %u requests, count says %u",
                     rdma_req_state_name(s), states[s], g_qs.in_state[s]);
}

Test(rdma_req, init_puts_every_request_on_the_free_list_in_order)
{
    int i = 0;
    struct rdma_req *r;

    TAILQ_FOREACH(r, &g_qs.q[RDMA_Q_FREE], link)
        cr_assert_eq(r, &g_reqs[i++]);
    cr_assert_eq(i, N);
    cr_assert_eq(g_qs.in_state[RDMA_REQ_FREE], N);
    check_invariants();
}

Test(rdma_req, every_edge_links_where_the_state_says_and_every_non_edge_is_refused)
{
    for (int from = 0; from < RDMA_REQ_NUM_STATES; from++) {
        for (int to = 0; to < RDMA_REQ_NUM_STATES; to++) {
            struct rdma_req *r = &g_reqs[0];
            uint64_t refused;
            int rc;

            setup();
            /* Bring request 0 to `from` along a path of allowed edges. */
            static const enum rdma_req_state path[] = {
                RDMA_REQ_NEED_BUF, RDMA_REQ_NEED_READ, RDMA_REQ_READING,
                RDMA_REQ_EXECUTING, RDMA_REQ_NEED_SEND, RDMA_REQ_SENDING};
            for (unsigned k = 0; k < sizeof(path) / sizeof(path[0]) && r->state != (enum rdma_req_state)from; k++)
                cr_assert_eq(rdma_req_move(&g_qs, r, path[k]), 0);
            cr_assert_eq(r->state, from);
            refused = g_qs.refused;
            rc = rdma_req_move(&g_qs, r, to);
            if (rdma_req_move_allowed(from, to)) {
                cr_assert_eq(rc, 0, "%s -> %s", rdma_req_state_name(from), rdma_req_state_name(to));
                cr_assert_eq(r->state, to);
            } else {
                cr_assert_eq(rc, -EPROTO, "%s -> %s allowed?", rdma_req_state_name(from),
                             rdma_req_state_name(to));
                cr_assert_eq(r->state, from, "a refused move changed the state");
                cr_assert_eq(g_qs.refused, refused + 1);
            }
            check_invariants();
        }
    }
}

Test(rdma_req, every_state_but_sending_can_be_torn_down_straight_to_free)
{
    for (int s = 0; s < RDMA_REQ_NUM_STATES; s++) {
        if (s == RDMA_REQ_FREE)
            continue;
        cr_assert(rdma_req_move_allowed(s, RDMA_REQ_FREE), "%s cannot be freed",
                  rdma_req_state_name(s));
    }
    /* and nothing skips the wire: EXECUTING never goes to SENDING directly */
    cr_assert_not(rdma_req_move_allowed(RDMA_REQ_EXECUTING, RDMA_REQ_SENDING));
    cr_assert_not(rdma_req_move_allowed(RDMA_REQ_FREE, RDMA_REQ_FREE));
}

Test(rdma_req, a_request_not_where_its_state_says_is_refused_and_no_list_is_touched)
{
    struct rdma_req *a = &g_reqs[0], *b = &g_reqs[1];

    cr_assert_eq(rdma_req_move(&g_qs, a, RDMA_REQ_NEED_BUF), 0);
    cr_assert_eq(rdma_req_move(&g_qs, a, RDMA_REQ_NEED_READ), 0);
    cr_assert_eq(rdma_req_move(&g_qs, b, RDMA_REQ_NEED_BUF), 0);
    /* Incident 3: a's bookkeeping claims pending_buf while it sits on
     * pending_read. The move must not unlink it from the wrong list. */
    a->on = RDMA_Q_PENDING_BUF;
    cr_assert_eq(rdma_req_move(&g_qs, a, RDMA_REQ_READING), -EPROTO);
    cr_assert_eq(a->state, RDMA_REQ_NEED_READ);
    cr_assert_eq(rdma_req_first(&g_qs, RDMA_Q_PENDING_READ), a, "still linked on pending_read");
    cr_assert_eq(rdma_req_first(&g_qs, RDMA_Q_PENDING_BUF), b, "pending_buf untouched");
    cr_assert_eq(g_qs.len[RDMA_Q_PENDING_BUF], 1);
    a->on = RDMA_Q_PENDING_READ;
    check_invariants();
    /* A bad state number is refused too. */
    cr_assert_eq(rdma_req_move(&g_qs, b, (enum rdma_req_state)42), -EPROTO);
    cr_assert_eq(g_qs.refused, 2);
}

Test(rdma_req, waiters_leave_their_queue_in_arrival_order)
{
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rdma_req_move(&g_qs, &g_reqs[i], RDMA_REQ_NEED_BUF), 0);
    for (int i = 0; i < 4; i++) {
        struct rdma_req *r = rdma_req_first(&g_qs, RDMA_Q_PENDING_BUF);

        cr_assert_eq(r, &g_reqs[i]);
        cr_assert_eq(rdma_req_move(&g_qs, r, RDMA_REQ_EXECUTING), 0);
    }
    cr_assert_null(rdma_req_first(&g_qs, RDMA_Q_PENDING_BUF));
    check_invariants();
}

/* Many random moves, allowed or not, over all requests: the invariants hold
 * after each one, and only allowed moves happen. */
Test(rdma_req, random_walk_keeps_every_invariant)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    uint64_t ok = 0, refused = 0;

    /* Each refusal logs an error; here they are the point, not news. */
    rte_log_set_level_pattern("tern.drv.transport.rdma.req", RTE_LOG_CRIT);

    for (int step = 0; step < 200000; step++) {
        struct rdma_req *r;
        enum rdma_req_state from, to;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r = &g_reqs[x % N];
        from = r->state;
        to = (enum rdma_req_state)((x >> 8) % RDMA_REQ_NUM_STATES);
        if (rdma_req_move(&g_qs, r, to) == 0) {
            cr_assert(rdma_req_move_allowed(from, to));
            ok++;
        } else {
            cr_assert_not(rdma_req_move_allowed(from, to));
            cr_assert_eq(r->state, from);
            refused++;
        }
        if (step % 97 == 0)
            check_invariants();
    }
    check_invariants();
    cr_assert_gt(ok, 10000, "the walk moved (%lu)", (unsigned long)ok);
    cr_assert_eq(g_qs.refused, refused);
}
