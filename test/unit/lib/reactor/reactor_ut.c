/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "ut_env.h"

static void
setup(void)
{
    ut_env_init();
    cr_assert_eq(tern_reactors_init(), 0);
}

static void
teardown(void)
{
    tern_reactors_fini();
    tern_env_fini();
}

TestSuite(reactor, .init = setup, .fini = teardown, .timeout = 30);

/* A poller that stops everything after `n` runs, so no test can hang. */
static int
stop_after(void *arg)
{
    uint64_t *left = arg;

    if (--*left == 0)
        tern_reactors_stop();
    return TERN_POLLER_IDLE;
}

/* ---- message order ---- */
#define N_MSGS 3000
static uint32_t g_order[2][N_MSGS];
static uint32_t g_count[2];
static uint32_t g_wrong_lcore;

static void
record(void *a1, void *a2)
{
    uintptr_t from = (uintptr_t)a1, seq = (uintptr_t)a2;

    if (tern_env_lcore_id() != 1)
        g_wrong_lcore++;
    g_order[from][g_count[from]++] = (uint32_t)seq;
}

static int
sender(void *arg)
{
    static uintptr_t seq;
    int i;
    (void)arg;

    /* From inside a running reactor, in bursts of 100 per iteration. */
    for (i = 0; i < 100 && seq < N_MSGS; i++, seq++)
        cr_assert_eq(tern_reactor_send_msg(1, record, (void *)1, (void *)seq), 0);
    return TERN_POLLER_BUSY;
}

static void
check_done(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    if (g_count[0] == N_MSGS && g_count[1] == N_MSGS)
        tern_reactors_stop();
    else
        tern_reactor_send_msg(1, check_done, NULL, NULL);
}

Test(reactor, messages_run_in_the_order_sent_on_the_target_lcore)
{
    uintptr_t seq;
    uint32_t i;

    /* Before start: queued from the main thread (sender 0). Some are more
     * than the ring holds at once, so send in the running phase too. */
    for (seq = 0; seq < TERN_REACTOR_RING_SIZE / 2; seq++)
        cr_assert_eq(tern_reactor_send_msg(1, record, (void *)0, (void *)seq), 0);
    cr_assert_not_null(tern_poller_register(sender, NULL, 0, "sender"));
    /* Sender 0 goes on from a poller on lcore 0 as well. */
    for (; seq < N_MSGS; seq++) {
        if (tern_reactor_send_msg(1, record, (void *)0, (void *)seq) != 0)
            break;
    }
    cr_assert_eq(seq, N_MSGS, "ring of %d took %lu", TERN_REACTOR_RING_SIZE, (unsigned long)seq);
    tern_reactor_send_msg(1, check_done, NULL, NULL);
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_eq(g_wrong_lcore, 0, "messages ran on the lcore they were sent to");
    for (i = 0; i < N_MSGS; i++) {
        cr_assert_eq(g_order[0][i], i, "sender 0 message %u", i);
        cr_assert_eq(g_order[1][i], i, "sender 1 message %u", i);
    }
    cr_assert_eq(tern_reactor_msgs_free(), TERN_REACTOR_MSGS_PER_LCORE * 2,
                 "every message object is back in the pool");
}

Test(reactor, send_to_a_missing_lcore_fails_cleanly)
{
    uint32_t before = tern_reactor_msgs_free();

    cr_assert_eq(tern_reactor_send_msg(7, record, NULL, NULL), -ENODEV);
    cr_assert_eq(tern_reactor_send_msg(TERN_MAX_LCORES + 5, record, NULL, NULL), -ENODEV);
    cr_assert_eq(tern_reactor_send_msg(1, NULL, NULL, NULL), -ENODEV);
    cr_assert_eq(tern_reactor_msgs_free(), before, "nothing taken from the pool");
    cr_assert_not(tern_reactor_exists(7));
    cr_assert(tern_reactor_exists(1));
}

static void
noop(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
}

Test(reactor, full_ring_reports_enospc_and_keeps_the_pool_whole)
{
    uint32_t n = 0, before = tern_reactor_msgs_free();
    int rc;

    while ((rc = tern_reactor_send_msg(1, noop, NULL, NULL)) == 0)
        n++;
    cr_assert_eq(rc, -ENOSPC);
    cr_assert_eq(n, TERN_REACTOR_RING_SIZE);
    cr_assert_eq(tern_reactor_msgs_free(), before - n);
    tern_reactors_stop();
    cr_assert_eq(tern_reactors_start(), 0, "queued messages drain at stop");
    cr_assert_eq(tern_reactor_msgs_free(), before);
}

/* ---- registering and unregistering from inside pollers ---- */
static struct tern_poller *g_a, *g_b, *g_c, *g_victim;
static uint64_t g_iter, g_a_runs, g_b_runs, g_c_runs, g_victim_runs, g_b_first_iter;
static uint64_t g_a_iter;

static int
count_iter(void *arg)
{
    (void)arg;
    g_iter++;
    return TERN_POLLER_IDLE;
}

static int
poller_c(void *arg)
{
    (void)arg;
    g_c_runs++;
    if (g_c_runs == 5) {
        tern_poller_unregister(&g_c);   /* itself */
        cr_assert_null(g_c);
        tern_reactors_stop();
    }
    return TERN_POLLER_BUSY;
}

static int
poller_b(void *arg)
{
    (void)arg;
    if (g_b_runs++ == 0)
        g_b_first_iter = g_iter;
    if (g_b_runs == 3) {
        /* Unregister a poller that comes later in this same pass: it must
         * not run again, not even in this pass. */
        tern_poller_unregister(&g_victim);
        g_c = tern_poller_register(poller_c, NULL, 0, "c");
        cr_assert_not_null(g_c);
        tern_poller_unregister(&g_b);   /* itself */
    }
    return TERN_POLLER_BUSY;
}

static int
victim(void *arg)
{
    (void)arg;
    g_victim_runs++;
    return TERN_POLLER_IDLE;
}

static int
poller_a(void *arg)
{
    (void)arg;
    g_a_runs++;
    g_a_iter = g_iter;
    g_b = tern_poller_register(poller_b, NULL, 0, "b");
    cr_assert_not_null(g_b);
    /* After b, so that b unregisters a poller later in its own pass. */
    g_victim = tern_poller_register(victim, NULL, 0, "victim");
    cr_assert_not_null(g_victim);
    tern_poller_unregister(&g_a);
    return TERN_POLLER_BUSY;
}

Test(reactor, pollers_register_and_unregister_from_inside_pollers)
{
    uint64_t guard = 1000000;

    cr_assert_not_null(tern_poller_register(count_iter, NULL, 0, "iter"));
    g_a = tern_poller_register(poller_a, NULL, 0, "a");
    cr_assert_not_null(tern_poller_register(stop_after, &guard, 0, "guard"));
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_neq(guard, 0, "stopped by poller c, not by the guard");
    cr_assert_eq(g_a_runs, 1, "a unregistered itself after one run");
    cr_assert_null(g_a);
    cr_assert_eq(g_b_first_iter, g_a_iter + 1, "a poller registered in a pass runs from the next");
    cr_assert_eq(g_b_runs, 3);
    cr_assert_eq(g_victim_runs, 2, "victim ran in b's first two passes only");
    cr_assert_eq(g_c_runs, 5);
}

static int
count_pollers(void *arg)
{
    (void)arg;
    return TERN_POLLER_IDLE;
}

static void
each_poller(const struct tern_poller_info *info, void *ctx)
{
    int *n = ctx;

    (*n)++;
    cr_assert(strcmp(info->name, "p1") == 0 || strcmp(info->name, "p2") == 0, "%s", info->name);
}

Test(reactor, unregistered_pollers_leave_the_stats)
{
    struct tern_poller *p1 = tern_poller_register(count_pollers, NULL, 0, "p1");
    struct tern_poller *p2 = tern_poller_register(count_pollers, NULL, 1000, "p2");
    struct tern_poller *p3 = tern_poller_register(count_pollers, NULL, 0, "p3");
    struct tern_reactor_stats st;
    int n = 0;

    cr_assert(p1 && p2 && p3);
    tern_poller_unregister(&p3);
    cr_assert_null(p3);
    tern_poller_unregister(&p3);    /* twice is harmless */
    cr_assert_eq(tern_reactor_get_stats(&st), 0);
    cr_assert_eq(st.pollers, 2);
    tern_reactor_foreach_poller(each_poller, &n);
    cr_assert_eq(n, 2);
}

static void *
off_lcore_thread(void *arg)
{
    (void)arg;
    cr_assert_null(tern_poller_register(count_pollers, NULL, 0, "x"));
    cr_assert_eq(errno, ENODEV);
    return NULL;
}

Test(reactor, pollers_need_a_reactor_thread)
{
    pthread_t t;
    struct tern_reactor_stats st;

    cr_assert_eq(pthread_create(&t, NULL, off_lcore_thread, NULL), 0);
    pthread_join(t, NULL);
    cr_assert_null(tern_poller_register(NULL, NULL, 0, "null"));
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(tern_reactor_get_stats(&st), 0);
}

/* ---- stop ---- */
/* One counter per lcore: both run count_msg at the same time. */
static uint32_t g_ran_before_stop[2], g_hops;

static void
count_msg(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    g_ran_before_stop[tern_env_lcore_id()]++;
}

static void
hop(void *a1, void *a2)
{
    uintptr_t left = (uintptr_t)a1;
    (void)a2;

    g_hops++;
    if (left > 0)
        cr_assert_eq(tern_reactor_send_msg(1 - tern_env_lcore_id(), hop, (void *)(left - 1), NULL), 0);
}

static void
stop_now(void *a1, void *a2)
{
    (void)a1;
    (void)a2;
    tern_reactors_stop();
}

Test(reactor, stop_runs_every_queued_message_and_their_follow_ups)
{
    int i;

    cr_assert_eq(tern_reactor_send_msg(0, stop_now, NULL, NULL), 0);
    for (i = 0; i < 500; i++) {
        cr_assert_eq(tern_reactor_send_msg(0, count_msg, NULL, NULL), 0);
        cr_assert_eq(tern_reactor_send_msg(1, count_msg, NULL, NULL), 0);
    }
    /* A chain of 200 messages bouncing between the lcores after the stop. */
    cr_assert_eq(tern_reactor_send_msg(1, hop, (void *)199, NULL), 0);
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert(tern_reactors_stopping());
    cr_assert_eq(g_ran_before_stop[0], 500, "lcore 0 ran %u", g_ran_before_stop[0]);
    cr_assert_eq(g_ran_before_stop[1], 500, "lcore 1 ran %u", g_ran_before_stop[1]);
    cr_assert_eq(g_hops, 200);
    cr_assert_eq(tern_reactor_msgs_free(), TERN_REACTOR_MSGS_PER_LCORE * 2);
}

static void
forever(void *a1, void *a2)
{
    (void)a2;
    tern_reactor_send_msg(1 - tern_env_lcore_id(), forever, a1, NULL);
}

Test(reactor, stop_gives_up_on_endless_messages)
{
    uint64_t t0 = tern_env_ticks();

    cr_assert_eq(tern_reactor_send_msg(1, forever, NULL, NULL), 0);
    tern_reactors_stop();
    cr_assert_eq(tern_reactors_start(), -ETIMEDOUT);
    cr_assert_geq(tern_env_ticks() - t0, tern_env_ticks_hz() * TERN_REACTOR_STOP_DRAIN_MS / 1000,
                  "gave up only after the drain time");
    /* fini (teardown) reclaims the one left in a ring */
}

/* ---- timers ---- */
#define TIMER_PERIOD_US 20000
#define TIMER_RUNS 10
static uint64_t g_timer_ticks[TIMER_RUNS + 1];
static int g_timer_runs;

static int
timed(void *arg)
{
    (void)arg;
    g_timer_ticks[g_timer_runs++] = tern_env_ticks();
    if (g_timer_runs == TIMER_RUNS + 1)
        tern_reactors_stop();
    return TERN_POLLER_BUSY;
}

Test(reactor, timed_pollers_never_fire_early_and_stay_near_their_period)
{
    uint64_t hz, period, slack, start = tern_env_ticks();
    int i;

    cr_assert_not_null(tern_poller_register(timed, NULL, TIMER_PERIOD_US, "timer"));
    cr_assert_eq(tern_reactors_start(), 0);
    hz = tern_env_ticks_hz();
    period = hz * TIMER_PERIOD_US / 1000000;
    /* Lower bound is exact; the upper bound only catches a broken timer
     * (a shared CI machine may preempt us for a while). */
    slack = hz / 10;
    cr_assert_geq(g_timer_ticks[0] - start, period, "first run one period after start");
    for (i = 1; i <= TIMER_RUNS; i++) {
        uint64_t dt = g_timer_ticks[i] - g_timer_ticks[i - 1];

        cr_assert_geq(dt, period, "run %d came %lu ticks after the previous, period %lu", i,
                      (unsigned long)dt, (unsigned long)period);
        cr_assert_leq(dt, period + slack, "run %d late by %lu ticks", i,
                      (unsigned long)(dt - period));
    }
}

/* ---- for_each and busy/idle accounting ---- */
struct walk {
    uint32_t lcores[4];
    uint32_t n;
    struct tern_reactor_stats st[4];
};

static void
walk_one(void *ctx)
{
    struct walk *w = ctx;

    w->lcores[w->n] = tern_env_lcore_id();
    tern_reactor_get_stats(&w->st[w->n]);
    w->n++;
}

static uint32_t g_done_lcore = 99;
static int g_done_status = 1;

static void
walk_done(void *ctx, int status)
{
    (void)ctx;
    g_done_lcore = tern_env_lcore_id();
    g_done_status = status;
    tern_reactors_stop();
}

static int
busy_poller(void *arg)
{
    (void)arg;
    return TERN_POLLER_BUSY;
}

static int
start_walk(void *arg)
{
    static int calls;

    if (++calls == 1000)
        cr_assert_eq(tern_reactor_for_each(walk_one, arg, walk_done), 0);
    return TERN_POLLER_IDLE;
}

Test(reactor, for_each_visits_every_reactor_then_returns_with_stats)
{
    static struct walk w;

    cr_assert_not_null(tern_poller_register(busy_poller, NULL, 0, "busy"));
    cr_assert_not_null(tern_poller_register(start_walk, &w, 0, "walk"));
    cr_assert_eq(tern_reactors_start(), 0);
    cr_assert_eq(w.n, 2);
    cr_assert_eq(w.lcores[0], 0);
    cr_assert_eq(w.lcores[1], 1);
    cr_assert_eq(g_done_lcore, 0, "done runs where the walk started");
    cr_assert_eq(g_done_status, 0);
    cr_assert_gt(w.st[0].busy_ticks, 0, "lcore 0 has a busy poller");
    cr_assert_geq(w.st[0].iterations, 1000);
    cr_assert_eq(w.st[0].pollers, 2);
    cr_assert_eq(w.st[1].pollers, 0);
    cr_assert_gt(w.st[1].idle_ticks, 0, "lcore 1 idles");
    cr_assert_lt(w.st[1].busy_ticks, w.st[1].idle_ticks,
                 "lcore 1 is busy only while it runs the walk's message");
    cr_assert_geq(w.st[1].msgs_run, 0);
}
