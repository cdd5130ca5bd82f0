/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One run-to-completion reactor per EAL lcore. A reactor owns its pollers
 * (functions it calls every iteration, or every `period_us`) and a
 * many-producer/single-consumer message ring through which any lcore asks it
 * to run a function. Objects belong to one reactor; others reach them only
 * by message (ARCHITECTURE.md, "Rules of the dataplane").
 */
#ifndef TERN_REACTOR_H
#define TERN_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

/* What a poller returns: whether it found work. Drives busy/idle ticks. */
#define TERN_POLLER_IDLE 0
#define TERN_POLLER_BUSY 1

typedef int (*tern_poller_fn)(void *arg);
typedef void (*tern_msg_fn)(void *arg1, void *arg2);

/* Create one reactor per EAL lcore and the message pool. */
int tern_reactors_init(void);
/* Free everything; messages still queued are counted and logged. */
void tern_reactors_fini(void);
/*
 * Run every reactor (the calling main lcore's too) until tern_reactors_stop().
 * Returns 0 after a clean stop: every queued message, including messages sent
 * by messages, ran. Returns -ETIMEDOUT if messages were still being sent
 * TERN_REACTOR_STOP_DRAIN_MS after the stop.
 */
int tern_reactors_start(void);
/* Ask every reactor to stop. Callable from any thread and from a signal
 * handler. Pollers stop running; rings are drained. */
void tern_reactors_stop(void);
bool tern_reactors_stopping(void);
/* Whether `lcore` has a reactor. */
bool tern_reactor_exists(uint32_t lcore);

/*
 * Pollers live on the calling lcore's reactor (before start: the main lcore's).
 * period_us == 0: every iteration. A poller registered from inside a poller
 * first runs on the next iteration. Unregister only on the owner lcore; it is
 * safe from inside any poller, the poller itself included, and sets *pp NULL.
 */
struct tern_poller *tern_poller_register(tern_poller_fn fn, void *arg, uint64_t period_us,
                                         const char *name);
void tern_poller_unregister(struct tern_poller **pp);

/*
 * Run fn(arg1, arg2) on `lcore`'s reactor. Messages from one sender to one
 * reactor run in the order sent. Returns 0, -ENODEV (no reactor there),
 * -ENOMEM (message pool empty) or -ENOSPC (ring full); nothing is queued on
 * error.
 */
int tern_reactor_send_msg(uint32_t lcore, tern_msg_fn fn, void *arg1, void *arg2);

/*
 * Run fn(ctx) on every reactor in turn, in lcore order, then done(ctx, status)
 * on the calling lcore. Only one lcore holds ctx at a time, so fn needs no
 * locking. status is 0, or -errno if the walk could not go on (then done runs
 * where it stopped).
 */
typedef void (*tern_reactor_each_fn)(void *ctx);
typedef void (*tern_reactor_each_done)(void *ctx, int status);
int tern_reactor_for_each(tern_reactor_each_fn fn, void *ctx, tern_reactor_each_done done);

struct tern_reactor_stats {
    uint32_t lcore;
    int socket;
    uint64_t busy_ticks;       /* iterations in which a poller or message found work */
    uint64_t idle_ticks;
    uint64_t iterations;
    uint64_t msgs_run;
    uint32_t pollers;          /* registered, both kinds */
    uint32_t ring_count;       /* messages waiting now */
};
/* Stats of the calling lcore's reactor; -ENODEV off-reactor. */
int tern_reactor_get_stats(struct tern_reactor_stats *st);

struct tern_poller_info {
    const char *name;
    uint64_t period_us;
    uint64_t run_count;
    uint64_t busy_count;
};
typedef void (*tern_poller_info_cb)(const struct tern_poller_info *info, void *ctx);
/* Walk the calling lcore's registered pollers. */
void tern_reactor_foreach_poller(tern_poller_info_cb cb, void *ctx);

/* Message objects free in the shared pool (for stats and tests). */
uint32_t tern_reactor_msgs_free(void);

#endif /* TERN_REACTOR_H */
