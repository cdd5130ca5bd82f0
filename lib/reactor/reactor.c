/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"

TERN_LOG_REGISTER(g_log, "tern.lib.reactor", INFO);

#define MSG_BATCH 32

enum poller_state {
    POLLER_ACTIVE,
    POLLER_UNREGISTERED,    /* unlinked by the sweep at the end of the iteration */
};

struct tern_poller {
    TAILQ_ENTRY(tern_poller) link;
    tern_poller_fn fn;
    void *arg;
    uint64_t period_us;
    uint64_t period_ticks;
    uint64_t next_tick;
    enum poller_state state;
    uint64_t run_count;
    uint64_t busy_count;
    char name[TERN_POLLER_NAME_MAX];
};
TAILQ_HEAD(poller_list, tern_poller);

struct msg {
    tern_msg_fn fn;
    void *arg1;
    void *arg2;
};

struct reactor {
    uint32_t lcore;
    int socket;
    struct tern_ring *ring;
    struct poller_list pollers;     /* period 0, in registration order */
    struct poller_list timed;       /* sorted by next_tick */
    struct poller_list added;       /* registered this iteration */
    uint32_t n_pollers;
    bool sweep;                     /* some poller is UNREGISTERED */
    uint64_t busy_ticks;
    uint64_t idle_ticks;
    uint64_t iterations;
    uint64_t msgs_run;
};

static struct reactor *g_reactors[TERN_MAX_LCORES];
static struct tern_mempool *g_msg_pool;
static volatile sig_atomic_t g_stop;
/* Messages sent but not yet run, over all reactors. Only touched when a
 * message is sent or run (control path), never by I/O; it lets the stop
 * drain messages sent by messages without losing any. */
static uint64_t g_msgs_in_flight;
/* Reactors still in their poll loop: while one is, it may send messages,
 * so nobody may conclude the drain is over. */
static uint32_t g_polling;

static struct reactor *
this_reactor(void)
{
    uint32_t lcore = tern_env_lcore_id();

    if (lcore == TERN_ENV_LCORE_NONE || lcore >= TERN_MAX_LCORES)
        return NULL;
    return g_reactors[lcore];
}

bool
tern_reactor_exists(uint32_t lcore)
{
    return lcore < TERN_MAX_LCORES && g_reactors[lcore] != NULL;
}

int
tern_reactors_init(void)
{
    uint32_t lcore, n = tern_env_lcore_count();
    char name[32];

    if (g_msg_pool != NULL)
        return -EALREADY;
    g_stop = 0;
    __atomic_store_n(&g_msgs_in_flight, 0, __ATOMIC_RELAXED);
    g_msg_pool = tern_mempool_create("tern_reactor_msgs", TERN_REACTOR_MSGS_PER_LCORE * n,
                                     sizeof(struct msg), TERN_ENV_SOCKET_ANY);
    if (g_msg_pool == NULL)
        return -errno;
    TERN_ENV_FOREACH_LCORE(lcore) {
        struct reactor *r;
        int socket = tern_env_lcore_socket(lcore);

        r = tern_env_zmalloc("tern_reactor", sizeof(*r), 64, socket);
        if (r == NULL) {
            TERN_LOG(g_log, ERR, "lcore %u: no memory for its reactor on socket %d", lcore, socket);
            goto fail;
        }
        snprintf(name, sizeof(name), "tern_reactor_%u", lcore);
        r->ring = tern_ring_create(name, TERN_REACTOR_RING_SIZE, socket, TERN_RING_MP_SC);
        if (r->ring == NULL) {
            tern_env_free(r);
            goto fail;
        }
        r->lcore = lcore;
        r->socket = socket;
        TAILQ_INIT(&r->pollers);
        TAILQ_INIT(&r->timed);
        TAILQ_INIT(&r->added);
        g_reactors[lcore] = r;
    }
    return 0;
fail:
    tern_reactors_fini();
    return -ENOMEM;
}

static void
free_list(struct poller_list *list)
{
    struct tern_poller *p;

    while ((p = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, p, link);
        free(p);
    }
}

void
tern_reactors_fini(void)
{
    uint32_t lcore;

    for (lcore = 0; lcore < TERN_MAX_LCORES; lcore++) {
        struct reactor *r = g_reactors[lcore];
        void *left[MSG_BATCH];
        uint32_t n, dropped = 0;

        if (r == NULL)
            continue;
        while ((n = tern_ring_dequeue_burst(r->ring, left, MSG_BATCH)) > 0) {
            tern_mempool_put_bulk(g_msg_pool, left, n);
            dropped += n;
        }
        if (dropped)
            TERN_LOG(g_log, WARNING, "lcore %u: %u message(s) never ran", lcore, dropped);
        free_list(&r->pollers);
        free_list(&r->timed);
        free_list(&r->added);
        tern_ring_free(r->ring);
        tern_env_free(r);
        g_reactors[lcore] = NULL;
    }
    tern_mempool_free(g_msg_pool);
    g_msg_pool = NULL;
}

void
tern_reactors_stop(void)
{
    g_stop = 1;
}

bool
tern_reactors_stopping(void)
{
    return g_stop != 0;
}

int
tern_reactor_send_msg(uint32_t lcore, tern_msg_fn fn, void *arg1, void *arg2)
{
    struct reactor *r;
    struct msg *m;

    if (lcore >= TERN_MAX_LCORES || (r = g_reactors[lcore]) == NULL || fn == NULL)
        return -ENODEV;
    if (tern_mempool_get(g_msg_pool, (void **)&m) != 0)
        return -ENOMEM;
    m->fn = fn;
    m->arg1 = arg1;
    m->arg2 = arg2;
    /* Count before it becomes visible, so a stop never sees zero while a
     * message is on its way. */
    __atomic_add_fetch(&g_msgs_in_flight, 1, __ATOMIC_RELAXED);
    if (tern_ring_enqueue_burst(r->ring, (void *const *)&m, 1) != 1) {
        __atomic_sub_fetch(&g_msgs_in_flight, 1, __ATOMIC_RELAXED);
        tern_mempool_put(g_msg_pool, m);
        return -ENOSPC;
    }
    return 0;
}

uint32_t
tern_reactor_msgs_free(void)
{
    return g_msg_pool ? tern_mempool_avail(g_msg_pool) : 0;
}

static uint32_t
run_msgs(struct reactor *r)
{
    void *batch[MSG_BATCH];
    uint32_t i, n;

    n = tern_ring_dequeue_burst(r->ring, batch, MSG_BATCH);
    for (i = 0; i < n; i++) {
        struct msg *m = batch[i];

        m->fn(m->arg1, m->arg2);
    }
    if (n) {
        tern_mempool_put_bulk(g_msg_pool, batch, n);
        r->msgs_run += n;
        __atomic_sub_fetch(&g_msgs_in_flight, n, __ATOMIC_RELEASE);
    }
    return n;
}

struct tern_poller *
tern_poller_register(tern_poller_fn fn, void *arg, uint64_t period_us, const char *name)
{
    struct reactor *r = this_reactor();
    struct tern_poller *p;

    if (r == NULL || fn == NULL) {
        errno = r == NULL ? ENODEV : EINVAL;
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->fn = fn;
    p->arg = arg;
    p->period_us = period_us;
    p->period_ticks = period_us * tern_env_ticks_hz() / 1000000;
    p->state = POLLER_ACTIVE;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "poller");
    TAILQ_INSERT_TAIL(&r->added, p, link);
    r->n_pollers++;
    return p;
}

void
tern_poller_unregister(struct tern_poller **pp)
{
    struct reactor *r = this_reactor();
    struct tern_poller *p;

    if (pp == NULL || (p = *pp) == NULL)
        return;
    *pp = NULL;
    if (r == NULL) {
        TERN_LOG(g_log, ERR, "poller %s: unregister called off its reactor; ignored", p->name);
        return;
    }
    if (p->state == POLLER_UNREGISTERED)
        return;
    p->state = POLLER_UNREGISTERED;
    r->n_pollers--;
    /* Unlinked and freed by the sweep, never under an iterating caller. */
    r->sweep = true;
}

static void
timed_insert(struct reactor *r, struct tern_poller *p)
{
    struct tern_poller *it;

    TAILQ_FOREACH_REVERSE(it, &r->timed, poller_list, link) {
        if (it->next_tick <= p->next_tick) {
            TAILQ_INSERT_AFTER(&r->timed, it, p, link);
            return;
        }
    }
    TAILQ_INSERT_HEAD(&r->timed, p, link);
}

static void
take_added(struct reactor *r, uint64_t now)
{
    struct tern_poller *p;

    while ((p = TAILQ_FIRST(&r->added)) != NULL) {
        TAILQ_REMOVE(&r->added, p, link);
        if (p->period_ticks == 0) {
            TAILQ_INSERT_TAIL(&r->pollers, p, link);
        } else {
            p->next_tick = now + p->period_ticks;
            timed_insert(r, p);
        }
    }
}

static void
sweep_list(struct poller_list *list)
{
    struct tern_poller *p, *next;

    for (p = TAILQ_FIRST(list); p != NULL; p = next) {
        next = TAILQ_NEXT(p, link);
        if (p->state == POLLER_UNREGISTERED) {
            TAILQ_REMOVE(list, p, link);
            free(p);
        }
    }
}

static inline int
run_poller(struct tern_poller *p)
{
    int rc = p->fn(p->arg);

    p->run_count++;
    if (rc > 0) {
        p->busy_count++;
        return 1;
    }
    return 0;
}

static int
run_timed(struct reactor *r, uint64_t now)
{
    struct tern_poller *p, *last;
    int busy = 0;

    /* Each poller due now runs once; one rescheduled to `now` or earlier
     * lands behind `last` and waits for the next iteration. */
    last = TAILQ_LAST(&r->timed, poller_list);
    while ((p = TAILQ_FIRST(&r->timed)) != NULL && p->next_tick <= now) {
        bool was_last = p == last;

        TAILQ_REMOVE(&r->timed, p, link);
        if (p->state == POLLER_ACTIVE)
            busy |= run_poller(p);
        if (p->state == POLLER_UNREGISTERED) {
            free(p);
        } else {
            /* From the time it ran: a late poller never fires twice in a row. */
            p->next_tick = tern_env_ticks() + p->period_ticks;
            timed_insert(r, p);
        }
        if (was_last)
            break;
    }
    return busy;
}

static int
reactor_loop(void *arg)
{
    struct reactor *r = this_reactor();
    uint64_t t0, t1, deadline;
    (void)arg;

    if (r == NULL)
        return 0;
    t0 = tern_env_ticks();
    while (!g_stop) {
        struct tern_poller *p;
        int busy = run_msgs(r) > 0;

        take_added(r, t0);
        TAILQ_FOREACH(p, &r->pollers, link) {
            if (p->state == POLLER_ACTIVE)
                busy |= run_poller(p);
        }
        if (!TAILQ_EMPTY(&r->timed))
            busy |= run_timed(r, tern_env_ticks());
        if (r->sweep) {
            r->sweep = false;
            sweep_list(&r->pollers);
            sweep_list(&r->timed);
            sweep_list(&r->added);
        }
        t1 = tern_env_ticks();
        if (busy)
            r->busy_ticks += t1 - t0;
        else
            r->idle_ticks += t1 - t0;
        r->iterations++;
        t0 = t1;
    }

    /* Stop: our pollers are done; run messages (and the messages they send)
     * until every reactor has left its poll loop and none is in flight
     * anywhere, or the drain time runs out. */
    __atomic_sub_fetch(&g_polling, 1, __ATOMIC_ACQ_REL);
    deadline = tern_env_ticks() + tern_env_ticks_hz() * TERN_REACTOR_STOP_DRAIN_MS / 1000;
    while (__atomic_load_n(&g_polling, __ATOMIC_ACQUIRE) != 0 ||
           __atomic_load_n(&g_msgs_in_flight, __ATOMIC_ACQUIRE) != 0) {
        if (run_msgs(r) == 0) {
            if (tern_env_ticks() > deadline)
                break;
            tern_env_pause();
        }
    }
    return 0;
}

int
tern_reactors_start(void)
{
    uint32_t lcore;
    uint64_t left;

    if (g_msg_pool == NULL)
        return -EINVAL;
    g_polling = 0;
    TERN_ENV_FOREACH_LCORE(lcore) {
        g_polling++;
        TERN_LOG(g_log, INFO, "reactor on lcore %u (NUMA socket %d)%s", lcore,
                 g_reactors[lcore]->socket, lcore == tern_env_main_lcore() ? ", main" : "");
    }
    tern_env_launch_all(reactor_loop, NULL);
    left = __atomic_load_n(&g_msgs_in_flight, __ATOMIC_ACQUIRE);
    if (left) {
        TERN_LOG(g_log, ERR, "stopped with %lu message(s) still in flight after %d ms of draining",
                 (unsigned long)left, TERN_REACTOR_STOP_DRAIN_MS);
        return -ETIMEDOUT;
    }
    TERN_LOG(g_log, INFO, "all reactors stopped; message rings drained");
    return 0;
}

int
tern_reactor_get_stats(struct tern_reactor_stats *st)
{
    struct reactor *r = this_reactor();

    if (r == NULL)
        return -ENODEV;
    st->lcore = r->lcore;
    st->socket = r->socket;
    st->busy_ticks = r->busy_ticks;
    st->idle_ticks = r->idle_ticks;
    st->iterations = r->iterations;
    st->msgs_run = r->msgs_run;
    st->pollers = r->n_pollers;
    st->ring_count = tern_ring_count(r->ring);
    return 0;
}

static void
info_list(struct poller_list *list, tern_poller_info_cb cb, void *ctx)
{
    struct tern_poller *p;

    TAILQ_FOREACH(p, list, link) {
        struct tern_poller_info info = {
            .name = p->name,
            .period_us = p->period_us,
            .run_count = p->run_count,
            .busy_count = p->busy_count,
        };

        if (p->state == POLLER_ACTIVE)
            cb(&info, ctx);
    }
}

void
tern_reactor_foreach_poller(tern_poller_info_cb cb, void *ctx)
{
    struct reactor *r = this_reactor();

    if (r == NULL)
        return;
    info_list(&r->pollers, cb, ctx);
    info_list(&r->timed, cb, ctx);
    info_list(&r->added, cb, ctx);
}

struct for_each {
    tern_reactor_each_fn fn;
    tern_reactor_each_done done;
    void *ctx;
    uint32_t origin;
    uint32_t cur;
    int status;
};

static void
for_each_done(void *a1, void *a2)
{
    struct for_each *fe = a1;
    (void)a2;

    fe->done(fe->ctx, fe->status);
    free(fe);
}

static void
for_each_step(void *a1, void *a2)
{
    struct for_each *fe = a1;
    uint32_t next;
    int rc;
    (void)a2;

    fe->fn(fe->ctx);
    next = tern_env_lcore_next(fe->cur);
    while (next != TERN_ENV_LCORE_NONE && !tern_reactor_exists(next))
        next = tern_env_lcore_next(next);
    if (next != TERN_ENV_LCORE_NONE) {
        fe->cur = next;
        rc = tern_reactor_send_msg(next, for_each_step, fe, NULL);
        if (rc == 0)
            return;
        TERN_LOG(g_log, ERR, "for_each: cannot reach lcore %u: %s", next, strerror(-rc));
        fe->status = rc;
    }
    if (tern_reactor_send_msg(fe->origin, for_each_done, fe, NULL) != 0) {
        /* Our own reactor may run the completion directly only if this is it. */
        if (tern_env_lcore_id() == fe->origin) {
            for_each_done(fe, NULL);
        } else {
            TERN_LOG(g_log, ERR, "for_each: cannot return to lcore %u; completion lost",
                     fe->origin);
            free(fe);
        }
    }
}

int
tern_reactor_for_each(tern_reactor_each_fn fn, void *ctx, tern_reactor_each_done done)
{
    struct reactor *r = this_reactor();
    struct for_each *fe;
    int rc;

    if (r == NULL || fn == NULL || done == NULL)
        return r == NULL ? -ENODEV : -EINVAL;
    fe = calloc(1, sizeof(*fe));
    if (fe == NULL)
        return -ENOMEM;
    fe->fn = fn;
    fe->done = done;
    fe->ctx = ctx;
    fe->origin = r->lcore;
    fe->cur = tern_env_lcore_first();
    while (fe->cur != TERN_ENV_LCORE_NONE && !tern_reactor_exists(fe->cur))
        fe->cur = tern_env_lcore_next(fe->cur);
    rc = tern_reactor_send_msg(fe->cur, for_each_step, fe, NULL);
    if (rc != 0)
        free(fe);
    return rc;
}
