/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-perf: drive I/O at NVMe-oF controllers through lib/host and report
 * IOPS, bandwidth and latency percentiles, in the manner of spdk_nvme_perf.
 *
 *   tern-perf [EAL options] -- -r 'trtype:TCP traddr:127.0.0.1 trsvcid:4420 subnqn:NQN'
 *             -q 32 -o 4096 -w randread -t 10 [--warmup 2] [-P 1] [-M 70] [--json] [-V]
 *
 * Every active namespace of every controller (-r, repeatable) gets -P I/O
 * qpairs; the qpairs ("jobs") are spread over the EAL lcores, each lcore
 * polling its own in a loop (the main lcore also polls the admin queues for
 * keep-alives and prints progress on a terminal).
 *
 * Local mode (-c FILE, no network): the bdev part of a configuration is
 * replayed and the jobs drive the bdevs straight through the bdev layer, on
 * reactors (one per EAL lcore), as the target itself would:
 *
 *   tern-perf [EAL options] -- -c bdevs.json [-b NAME...] -q 32 -o 4096 -w randread
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "perf_hist.h"
#include "tern_bdev.h"
#include "tern_build_config.h"
#include "tern_config.h"
#include "tern_env.h"
#include "tern_host.h"
#include "tern_log.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

#define EXIT_IO_ERRORS 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

#define MAX_TRIDS 16
#define MAX_BDEVS 64
#define VERIFY_PRINT_MAX 10
#define MAX_JOBS 1024

enum pattern { PAT_SEQ, PAT_RAND };

static struct {
    struct tern_host_trid trids[MAX_TRIDS];
    int ntrids;
    const char *bdev_config;        /* local mode */
    const char *bdev_names[MAX_BDEVS];
    int nbdevs;
    uint32_t depth;
    uint32_t io_size;
    enum pattern pattern;
    int read_pct;                   /* 0..100 */
    const char *workload;
    uint32_t seconds;
    uint32_t warmup;
    uint32_t qpairs_per_ns;
    bool json;
    bool verify;
    bool hdgst, ddgst;
    uint32_t kato_ms;
} g_opts = {
    .depth = 32, .io_size = 4096, .pattern = PAT_RAND, .read_pct = 100, .workload = "randread",
    .seconds = 10, .warmup = 0, .qpairs_per_ns = 1, .kato_ms = 10000,
};

struct job;

struct slot {
    struct job *job;
    uint8_t *buf;
    uint64_t lba;
    uint64_t t0;
    bool is_read;
    uint32_t gen;                   /* verify: what the last write stamped */
    bool verify_read;               /* verify: this read checks the write before it */
    struct iovec iov;               /* local mode */
    struct tern_bdev_io_wait wait;  /* local mode: waiting for a bdev I/O object */
};

struct job {
    struct tern_host_ctrlr *ctrlr;
    int ctrlr_idx;
    struct tern_bdev_desc *desc;    /* local mode: the bdev (its "namespace") */
    const char *bdev_name;          /* local mode: outlives desc (the report needs it) */
    struct tern_bdev_channel *ch;
    uint32_t inflight;              /* local mode: written on its lcore only */
    uint32_t nsid;
    uint32_t block_size;
    uint64_t blocks;
    uint32_t nlb;                   /* blocks per I/O */
    uint32_t lcore;
    uint32_t index_on_ns;           /* 0..P-1 */
    struct tern_host_qpair *qp;
    struct slot *slots;
    uint8_t *bufs;                  /* every slot's buffer, one area */
    uint64_t seq_next;
    uint64_t rng;
    /* Counted during the measured interval only. */
    struct perf_hist hist;
    uint64_t ios, bytes, errors, verify_failures;
    uint64_t live_ios;              /* for progress (any interval), relaxed atomics */
    bool failed;
    char fail_why[160];             /* why the qpair stopped */
    char first_error[160];          /* the first I/O that failed, for the report */
};

static struct {
    struct tern_host_ctrlr *ctrlrs[MAX_TRIDS];
    struct tern_bdev_desc *descs[MAX_BDEVS];
    int ndescs;
    char *bdev_names[MAX_BDEVS];    /* local mode: copies, kept to the end */
    int exit_code;                  /* local mode: set before the reactors stop */
    struct job *jobs;
    uint32_t njobs;
    volatile int phase;             /* 0 setup, 1 warm-up, 2 measure, 3 stop */
    volatile int setup_failed;
    uint32_t lcores_ready;
    uint64_t t_measure0, t_measure1;
} g;

static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- verify: every block of a write carries its LBA and a generation ---- */
static void
pattern_fill(uint8_t *buf, uint32_t block_size, uint32_t nlb, uint64_t lba, uint32_t nsid,
             uint32_t gen)
{
    for (uint32_t b = 0; b < nlb; b++) {
        uint8_t *p = buf + (size_t)b * block_size;
        uint64_t l = lba + b, tag = (uint64_t)nsid << 32 | gen;

        memcpy(p, &l, 8);
        memcpy(p + 8, &tag, 8);
        for (uint32_t i = 16; i < block_size; i++)
            p[i] = (uint8_t)(l * 31 + i + gen);
    }
}

/* Returns the byte offset of the first difference, or -1. */
static int64_t
pattern_check(const uint8_t *buf, uint32_t block_size, uint32_t nlb, uint64_t lba, uint32_t nsid,
              uint32_t gen, uint8_t *want, uint8_t *got)
{
    for (uint32_t b = 0; b < nlb; b++) {
        const uint8_t *p = buf + (size_t)b * block_size;
        uint8_t expect[16];
        uint64_t l = lba + b, tag = (uint64_t)nsid << 32 | gen;

        memcpy(expect, &l, 8);
        memcpy(expect + 8, &tag, 8);
        for (uint32_t i = 0; i < block_size; i++) {
            uint8_t e = i < 16 ? expect[i] : (uint8_t)(l * 31 + i + gen);

            if (p[i] != e) {
                *want = e;
                *got = p[i];
                return (int64_t)b * block_size + i;
            }
        }
    }
    return -1;
}

/* ---- I/O ---- */
static void io_done(void *arg, const struct tern_nvme_cpl *cpl);
static void bdev_io_done(void *arg, enum tern_bdev_io_status status);
static void slot_issue(struct slot *s);

static bool
local_mode(void)
{
    return g_opts.bdev_config != NULL;
}

static void
job_name(const struct job *j, char *buf, size_t len)
{
    if (local_mode())
        snprintf(buf, len, "bdev %s qpair %u", j->bdev_name, j->index_on_ns);
    else
        snprintf(buf, len, "ctrlr %d nsid %u qpair %u", j->ctrlr_idx, j->nsid, j->index_on_ns);
}

static uint64_t
next_lba(struct job *j, struct slot *s)
{
    uint64_t units = j->blocks / j->nlb;

    if (g_opts.verify) {
        /* Each slot of each job owns the units u with u % total == its
         * index, so no two slots race on a block. */
        uint64_t total = (uint64_t)g_opts.qpairs_per_ns * g_opts.depth;
        uint64_t idx = (uint64_t)j->index_on_ns * g_opts.depth + (uint64_t)(s - j->slots);
        uint64_t mine = units / total;

        return ((xorshift(&j->rng) % mine) * total + idx) * j->nlb;
    }
    if (g_opts.pattern == PAT_SEQ) {
        uint64_t u = j->seq_next++ % units;

        return u * j->nlb;
    }
    return (xorshift(&j->rng) % units) * j->nlb;
}

static void
job_fail(struct job *j, const char *fmt, int rc)
{
    if (!j->failed) {
        j->failed = true;
        snprintf(j->fail_why, sizeof(j->fail_why), fmt, strerror(-rc));
    }
}

/* Pick the next I/O of a slot (unless it is the read-back of a verify
 * write) and issue it. */
static void
slot_submit(struct slot *s)
{
    struct job *j = s->job;

    if (!s->verify_read) {
        s->lba = next_lba(j, s);
        if (g_opts.verify)
            s->is_read = false;
        else
            s->is_read = g_opts.read_pct == 100 ||
                         (g_opts.read_pct > 0 && (int)(xorshift(&j->rng) % 100) < g_opts.read_pct);
        if (!s->is_read && g_opts.verify) {
            s->gen++;
            pattern_fill(s->buf, j->block_size, j->nlb, s->lba, j->nsid, s->gen);
        }
    }
    slot_issue(s);
}

static void
slot_retry(void *arg)
{
    struct slot *s = arg;

    s->job->inflight--;         /* counted while it waited */
    if (g.phase < 3 && !s->job->failed)
        slot_issue(s);
}

static void
slot_issue(struct slot *s)
{
    struct job *j = s->job;
    uint32_t len = j->nlb * j->block_size;
    int rc;

    s->t0 = tern_env_ticks();
    if (local_mode()) {
        s->iov.iov_base = s->buf;
        s->iov.iov_len = len;
        rc = tern_bdev_submit(j->ch, s->is_read ? TERN_BDEV_IO_READ : TERN_BDEV_IO_WRITE, s->lba,
                              j->nlb, &s->iov, 1, bdev_io_done, s);
        if (rc == -ENOMEM) {
            /* The shared pool of bdev I/O objects is dry: wait for one. */
            s->wait.fn = slot_retry;
            s->wait.arg = s;
            tern_bdev_queue_io_wait(j->ch, &s->wait);
            j->inflight++;
            return;
        }
        if (rc == 0)
            j->inflight++;
        else
            job_fail(j, "bdev submit failed: %s", rc);
        return;
    }
    if (s->is_read)
        rc = tern_host_read(j->qp, j->nsid, s->lba, j->nlb, s->buf, len, io_done, s);
    else
        rc = tern_host_write(j->qp, j->nsid, s->lba, j->nlb, s->buf, len, io_done, s);
    if (rc != 0)
        job_fail(j, rc == -ENOTCONN ? "the I/O qpair failed: %s" : "submit failed: %s", rc);
}

/* One I/O of a slot is over; `err` names the failure (NULL: success). */
static void
slot_done(struct slot *s, const char *err)
{
    struct job *j = s->job;
    uint64_t now = tern_env_ticks();
    uint32_t len = j->nlb * j->block_size;
    int phase = g.phase;

    __atomic_store_n(&j->live_ios, j->live_ios + 1, __ATOMIC_RELAXED);
    if (phase == 2) {
        perf_hist_add(&j->hist, now - s->t0);
        j->ios++;
        j->bytes += len;
    }
    if (err != NULL) {
        j->errors++;            /* warm-up errors count too, for the exit status */
        if (j->first_error[0] == 0)
            snprintf(j->first_error, sizeof(j->first_error), "%s of LBA %" PRIu64 " failed: %s",
                     s->is_read ? "read" : "write", s->lba, err);
    }
    if (g_opts.verify && err == NULL) {
        if (s->verify_read) {
            uint8_t want = 0, got = 0;
            int64_t off = pattern_check(s->buf, j->block_size, j->nlb, s->lba, j->nsid, s->gen,
                                        &want, &got);

            if (off >= 0) {
                static uint32_t printed;    /* over every lcore */
                uint32_t n = __atomic_fetch_add(&printed, 1, __ATOMIC_RELAXED);
                char name[96];

                j->verify_failures++;
                if (n == VERIFY_PRINT_MAX)
                    fprintf(stderr, "tern-perf: more verify failures: counted, not printed\n");
                if (n >= VERIFY_PRINT_MAX)
                    goto verified;
                job_name(j, name, sizeof(name));
                fprintf(stderr,
                        "tern-perf: VERIFY FAILED: %s LBA %" PRIu64
                        " byte %" PRId64 ": expected 0x%02x, read 0x%02x\n",
                        name, s->lba + (uint64_t)off / j->block_size, off % j->block_size, want,
                        got);
            }
verified:
            s->verify_read = false;
        } else {
            /* Read back what was just written, into the same buffer. */
            memset(s->buf, 0, len);
            s->verify_read = true;
            s->is_read = true;
        }
    } else {
        s->verify_read = false;
    }
    if (phase < 3 && !j->failed)
        slot_submit(s);
}

static void
io_done(void *arg, const struct tern_nvme_cpl *cpl)
{
    uint16_t st = tern_host_cpl_status(cpl);
    char name[48];

    slot_done(arg, st == 0 ? NULL : tern_nvme_status_name(st, name, sizeof(name)));
}

static void
bdev_io_done(void *arg, enum tern_bdev_io_status status)
{
    struct slot *s = arg;

    s->job->inflight--;
    slot_done(s, status == TERN_BDEV_IO_SUCCESS   ? NULL
                 : status == TERN_BDEV_IO_ABORTED ? "aborted (the bdev is going away)"
                                                  : "bdev I/O error");
}

/* ---- lcores ---- */
/* The slots (one per I/O in flight) and their buffers: one area, so a
 * transport that registers memory (RDMA) does it once for the job. */
static int
job_alloc_slots(struct job *j)
{
    uint32_t len = j->nlb * j->block_size;
    size_t stride = ((size_t)len + 4095) & ~(size_t)4095;

    j->slots = calloc(g_opts.depth, sizeof(*j->slots));
    if (j->slots == NULL)
        return -ENOMEM;
    j->bufs = tern_env_zmalloc("tern_perf_buf", stride * g_opts.depth, 4096, -1);
    if (j->bufs == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < g_opts.depth; i++) {
        j->slots[i].job = j;
        j->slots[i].buf = j->bufs + stride * i;
    }
    perf_hist_init(&j->hist);
    j->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)j->nsid << 40) ^ ((uint64_t)j->index_on_ns << 20) ^
             (uint64_t)(uintptr_t)j;
    j->seq_next = (j->blocks / j->nlb) / g_opts.qpairs_per_ns * j->index_on_ns;
    return 0;
}

static void
job_free_slots(struct job *j)
{
    tern_env_free(j->bufs);
    j->bufs = NULL;
    free(j->slots);
    j->slots = NULL;
}

static int
job_setup(struct job *j)
{
    char why[256];
    int rc = tern_host_qpair_create(j->ctrlr, &j->qp, why, sizeof(why));

    if (rc != 0) {
        fprintf(stderr, "tern-perf: nsid %u: I/O qpair: %s\n", j->nsid, why);
        return rc;
    }
    if (tern_host_qpair_depth(j->qp) < g_opts.depth) {
        fprintf(stderr, "tern-perf: the controller's queues hold %u entries: -q %u is too deep\n",
                tern_host_qpair_depth(j->qp), g_opts.depth);
        return -EINVAL;
    }
    rc = job_alloc_slots(j);
    if (rc != 0) {
        fprintf(stderr, "tern-perf: out of memory for %u buffers of %u bytes\n", g_opts.depth,
                g_opts.io_size);
        return rc;
    }
    /* Declared once; the qpair is freed before the buffers (lcore_main). */
    rc = tern_host_qpair_mem_register(j->qp, j->bufs,
                                      (((size_t)g_opts.io_size + 4095) & ~(size_t)4095) *
                                          g_opts.depth);
    if (rc != 0)
        fprintf(stderr, "tern-perf: nsid %u: cannot register the I/O buffers with the "
                "transport: %s\n", j->nsid, strerror(-rc));
    return rc;
}

static void
print_progress(double t)
{
    static uint64_t last_ios;
    uint64_t ios = 0;

    for (uint32_t i = 0; i < g.njobs; i++)
        ios += __atomic_load_n(&g.jobs[i].live_ios, __ATOMIC_RELAXED);
    fprintf(stderr, "\r%6.1f s  %s  IOPS %10.0f  MiB/s %9.2f   ", t,
            g.phase == 1 ? "warm-up" : "       ", (double)(ios - last_ios),
            (double)(ios - last_ios) * g_opts.io_size / 1048576.0);
    last_ios = ios;
}

/*
 * The run's clock, kept by the main lcore in both modes: warm-up (phase 1),
 * measure (2), stop (3); rates count from t_measure0 to t_measure1.
 */
static struct {
    uint64_t start, warm_end, end, next_tick;
} g_clock;

static void
run_start(uint64_t now)
{
    uint64_t hz = tern_env_ticks_hz();

    g_clock.start = now;
    g_clock.warm_end = now + hz * g_opts.warmup;
    g_clock.end = g_clock.warm_end + hz * g_opts.seconds;
    g_clock.next_tick = now + hz;
    if (!g_opts.warmup)
        g.t_measure0 = now;
    g.phase = g_opts.warmup ? 1 : 2;
}

static void
run_stop(uint64_t now)
{
    if (g.phase == 2)
        g.t_measure1 = now;     /* rates over the time measured */
    g.phase = 3;
}

/*
 * SIGINT or SIGTERM ends the run early, like its time running out: what was
 * measured so far is reported, and the exit status is what it would be (one
 * that comes during setup ends the run as it starts). A second signal acts
 * as if there were no handler.
 */
static volatile sig_atomic_t g_signal;

static void
on_signal(int sig)
{
    g_signal = sig;
    signal(sig, SIG_DFL);
}

static void
signals_init(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}

/* Move the phase on at its time, or stop now; progress on a terminal. */
static void
run_tick(uint64_t now, bool stop, bool tty)
{
    if (g_signal != 0 && g.phase != 3) {
        fprintf(stderr, "tern-perf: %s: stopping after %.1f s\n",
                g_signal == SIGINT ? "SIGINT" : "SIGTERM",
                (double)(now - g_clock.start) / (double)tern_env_ticks_hz());
        stop = true;
    }
    if (stop || (g.phase == 2 && now >= g_clock.end)) {
        if (g.phase != 3)
            run_stop(now);
    } else if (g.phase == 1 && now >= g_clock.warm_end) {
        g.t_measure0 = now;
        g.phase = 2;
    }
    if (tty && now >= g_clock.next_tick) {
        print_progress((double)(now - g_clock.start) / (double)tern_env_ticks_hz());
        g_clock.next_tick += tern_env_ticks_hz();
    }
}

static int
lcore_main(void *arg)
{
    uint32_t me = tern_env_lcore_id();
    bool is_main = me == tern_env_main_lcore();
    bool tty = is_main && !g_opts.json && isatty(STDERR_FILENO);
    uint64_t hz = tern_env_ticks_hz();
    uint32_t n_lcores = tern_env_lcore_count();
    int rc = 0;
    (void)arg;

    for (uint32_t i = 0; i < g.njobs; i++) {
        if (g.jobs[i].lcore != me)
            continue;
        rc = job_setup(&g.jobs[i]);
        if (rc != 0) {
            g.setup_failed = 1;
            break;
        }
    }
    __atomic_add_fetch(&g.lcores_ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&g.lcores_ready, __ATOMIC_ACQUIRE) < n_lcores) {
        if (is_main) {
            for (int c = 0; c < g_opts.ntrids; c++)
                tern_host_ctrlr_poll(g.ctrlrs[c]);
        }
        tern_env_pause();
    }
    if (g.setup_failed)
        goto drain;

    if (is_main) {
        run_start(tern_env_ticks());
    } else {
        while (g.phase == 0)
            tern_env_pause();
    }
    for (uint32_t i = 0; i < g.njobs; i++) {
        if (g.jobs[i].lcore != me)
            continue;
        for (uint32_t k = 0; k < g_opts.depth && !g.jobs[i].failed; k++)
            slot_submit(&g.jobs[i].slots[k]);
    }
    for (;;) {
        int phase = g.phase;

        for (uint32_t i = 0; i < g.njobs; i++) {
            struct job *j = &g.jobs[i];

            if (j->lcore != me || j->qp == NULL)
                continue;
            if (tern_host_qpair_poll(j->qp) < 0 && !j->failed)
                job_fail(j, "the I/O qpair failed: %s", -ECONNRESET);
        }
        if (is_main) {
            uint64_t now = tern_env_ticks();
            bool admin_failed = false;

            for (int c = 0; c < g_opts.ntrids; c++) {
                if (tern_host_ctrlr_poll(g.ctrlrs[c]) < 0 && g.phase != 3) {
                    fprintf(stderr, "tern-perf: controller %d: admin queue failed\n", c);
                    admin_failed = true;
                }
            }
            run_tick(now, admin_failed, tty);
        }
        if (phase == 3)
            break;
    }
drain:
    /* Let what is in flight finish (bounded), then close. */
    {
        uint64_t deadline = tern_env_ticks() + hz * 5;
        bool busy = true;

        while (busy && tern_env_ticks() < deadline) {
            busy = false;
            for (uint32_t i = 0; i < g.njobs; i++) {
                struct job *j = &g.jobs[i];

                if (j->lcore != me || j->qp == NULL)
                    continue;
                if (tern_host_qpair_outstanding(j->qp) > 0 && tern_host_qpair_poll(j->qp) >= 0)
                    busy = true;
            }
        }
        for (uint32_t i = 0; i < g.njobs; i++) {
            struct job *j = &g.jobs[i];

            if (j->lcore != me || j->qp == NULL)
                continue;
            tern_host_qpair_free(j->qp);
            j->qp = NULL;
            job_free_slots(j);
        }
    }
    if (tty)
        fprintf(stderr, "\n");
    return rc;
}

/* ---- results ---- */
struct result {
    double secs, iops, mib_s;
    double avg_us, min_us, max_us, p[5];
    uint64_t ios, errors, verify_failures;
};
static const double g_pcts[5] = {50, 90, 99, 99.9, 99.99};
static const char *const g_pct_names[5] = {"p50", "p90", "p99", "p999", "p9999"};

static void
result_of(const struct perf_hist *h, uint64_t bytes, uint64_t errors, uint64_t vf,
          struct result *r)
{
    double us_per_tick = 1e6 / (double)tern_env_ticks_hz();

    memset(r, 0, sizeof(*r));
    r->secs = (double)(g.t_measure1 - g.t_measure0) / (double)tern_env_ticks_hz();
    r->ios = h->count;
    r->errors = errors;
    r->verify_failures = vf;
    if (r->secs > 0) {
        r->iops = (double)h->count / r->secs;
        r->mib_s = (double)bytes / 1048576.0 / r->secs;
    }
    if (h->count) {
        r->avg_us = (double)h->sum / (double)h->count * us_per_tick;
        r->min_us = (double)h->min * us_per_tick;
        r->max_us = (double)h->max * us_per_tick;
        for (int i = 0; i < 5; i++)
            r->p[i] = (double)perf_hist_percentile(h, g_pcts[i]) * us_per_tick;
    }
}

static json_t *
result_json(const struct result *r, const char *what)
{
    json_t *lat = json_object(), *o;

    json_object_set_new(lat, "avg", json_real(round(r->avg_us * 100) / 100));
    json_object_set_new(lat, "min", json_real(round(r->min_us * 100) / 100));
    json_object_set_new(lat, "max", json_real(round(r->max_us * 100) / 100));
    for (int i = 0; i < 5; i++)
        json_object_set_new(lat, g_pct_names[i], json_real(round(r->p[i] * 100) / 100));
    o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:I, s:I, s:o}", "job", what,
                  "workload", g_opts.workload, "read_pct", g_opts.read_pct, "io_size",
                  (int)g_opts.io_size, "qd", (int)g_opts.depth, "qpairs", (int)g.njobs, "seconds",
                  round(r->secs * 1000) / 1000, "iops", round(r->iops), "mib_s",
                  round(r->mib_s * 100) / 100, "ios", (json_int_t)r->ios, "errors",
                  (json_int_t)r->errors, "lat_us", lat);
    if (g_opts.verify)
        json_object_set_new(o, "verify_failures", json_integer((json_int_t)r->verify_failures));
    return o;
}

static void
print_row(const char *what, const struct result *r)
{
    printf("%-36s %10.0f %9.2f %9.2f %9.2f %10.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", what, r->iops,
           r->mib_s, r->avg_us, r->min_us, r->max_us, r->p[0], r->p[1], r->p[2], r->p[3], r->p[4]);
}

static int
report(void)
{
    struct perf_hist *total = malloc(sizeof(*total));
    uint64_t bytes = 0, errors = 0, vf = 0;
    struct result r;
    char what[128], name[96];
    int rc = 0;

    if (total == NULL)
        return EXIT_IO_ERRORS;
    perf_hist_init(total);
    if (!g_opts.json)
        printf("%-36s %10s %9s %9s %9s %10s %9s %9s %9s %9s %9s\n", "job (latency in us)", "IOPS",
               "MiB/s", "avg", "min", "max", "p50", "p90", "p99", "p99.9", "p99.99");
    for (uint32_t i = 0; i < g.njobs; i++) {
        struct job *j = &g.jobs[i];

        perf_hist_merge(total, &j->hist);
        bytes += j->bytes;
        errors += j->errors;
        vf += j->verify_failures;
        job_name(j, name, sizeof(name));
        if (j->first_error[0])
            fprintf(stderr, "tern-perf: %s: first error: %s\n", name, j->first_error);
        if (j->failed) {
            fprintf(stderr, "tern-perf: %s: %s\n", name, j->fail_why);
            rc = EXIT_IO_ERRORS;
        }
        if (!g_opts.json) {
            result_of(&j->hist, j->bytes, j->errors, j->verify_failures, &r);
            snprintf(what, sizeof(what), "%s (lcore %u)", name, j->lcore);
            print_row(what, &r);
        }
    }
    result_of(total, bytes, errors, vf, &r);
    if (g_opts.json) {
        json_t *o = result_json(&r, "total");
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));

        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        print_row("total", &r);
        if (errors || vf)
            printf("errors: %" PRIu64 " I/O, %" PRIu64 " verify failures\n", errors, vf);
    }
    if (errors || vf)
        rc = EXIT_IO_ERRORS;
    free(total);
    return rc;
}

/* ---- command line ---- */
static void
usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [EAL options] -- -r TRID [-r TRID...] [options]\n"
            "       %s [EAL options] -- -c BDEV_CONFIG [-b NAME...] [options]\n"
            "  -r, --transport TRID   'trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420\n"
            "                         subnqn:NQN' (SPDK's transport ID form; repeatable;\n"
            "                         trtype TCP or RDMA)\n"
            "  -c, --bdev-config FILE local mode, no network: the \"bdev\" subsystem of this\n"
            "                         JSON configuration (a tern-tgt config serves) is built\n"
            "                         and its bdevs are driven on reactors, one per lcore\n"
            "  -b, --bdev NAME        local mode: only these bdevs (repeatable; default all)\n"
            "  -q, --queue-depth N    I/Os outstanding per qpair (32)\n"
            "  -o, --io-size BYTES    I/O size, a multiple of the block size (4096)\n"
            "  -w, --workload W       read write randread randwrite rw randrw (randread)\n"
            "  -M, --rwmixread PCT    reads in rw/randrw, percent (50 for those, else implied)\n"
            "  -t, --time SECONDS     measured time (10)\n"
            "      --warmup SECONDS   run this long first, not counted (0)\n"
            "  -P, --qpairs N         I/O qpairs per namespace (1), spread over the lcores\n"
            "  -V, --verify           write a pattern (LBA, generation) and check every read\n"
            "      --hdgst, --ddgst   NVMe/TCP header / data digests (not for RDMA)\n"
            "      --kato MS          keep-alive timeout asked for (10000)\n"
            "      --json             one JSON object with the totals on stdout\n"
            "  -h, --help             this, then the EAL options\n"
            "Exit: 0 done, 1 I/O errors or verify failures, 2 usage, 3 cannot connect\n"
            "(local mode: the configuration failed). SIGINT or SIGTERM ends the run early:\n"
            "what was measured is reported as at the end of -t.\n",
            prog, prog);
}

static int
parse_u32(const char *s, const char *opt, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end || end == s || v < min || v > max) {
        fprintf(stderr, "tern-perf: %s '%s': want a number from %u to %u\n", opt, s, min, max);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int
parse_args(int argc, char **argv)
{
    enum { OPT_WARMUP = 256, OPT_JSON, OPT_HDGST, OPT_DDGST, OPT_KATO };
    bool net_opts = false;
    static const struct option longopts[] = {
        {"transport", required_argument, NULL, 'r'}, {"queue-depth", required_argument, NULL, 'q'},
        {"io-size", required_argument, NULL, 'o'},   {"workload", required_argument, NULL, 'w'},
        {"rwmixread", required_argument, NULL, 'M'}, {"time", required_argument, NULL, 't'},
        {"warmup", required_argument, NULL, OPT_WARMUP}, {"qpairs", required_argument, NULL, 'P'},
        {"verify", no_argument, NULL, 'V'},          {"json", no_argument, NULL, OPT_JSON},
        {"hdgst", no_argument, NULL, OPT_HDGST},     {"ddgst", no_argument, NULL, OPT_DDGST},
        {"kato", required_argument, NULL, OPT_KATO}, {"help", no_argument, NULL, 'h'},
        {"bdev-config", required_argument, NULL, 'c'}, {"bdev", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    int ch, mix = -1;
    uint32_t v;
    char why[256];

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:c:b:q:o:w:M:t:P:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            if (g_opts.ntrids == MAX_TRIDS) {
                fprintf(stderr, "tern-perf: at most %d -r\n", MAX_TRIDS);
                return -EINVAL;
            }
            if (tern_host_trid_parse(optarg, &g_opts.trids[g_opts.ntrids], why, sizeof(why)) != 0) {
                fprintf(stderr, "tern-perf: -r '%s': %s\n", optarg, why);
                return -EINVAL;
            }
            g_opts.ntrids++;
            break;
        case 'c':
            g_opts.bdev_config = optarg;
            break;
        case 'b':
            if (g_opts.nbdevs == MAX_BDEVS) {
                fprintf(stderr, "tern-perf: at most %d -b\n", MAX_BDEVS);
                return -EINVAL;
            }
            g_opts.bdev_names[g_opts.nbdevs++] = optarg;
            break;
        case 'q':
            if (parse_u32(optarg, "-q", 1, 4096, &g_opts.depth))
                return -EINVAL;
            break;
        case 'o':
            if (parse_u32(optarg, "-o", 512, 1u << 20, &g_opts.io_size))
                return -EINVAL;
            break;
        case 'w':
            g_opts.workload = optarg;
            break;
        case 'M':
            if (parse_u32(optarg, "-M", 0, 100, &v))
                return -EINVAL;
            mix = (int)v;
            break;
        case 't':
            if (parse_u32(optarg, "-t", 1, 86400, &g_opts.seconds))
                return -EINVAL;
            break;
        case OPT_WARMUP:
            if (parse_u32(optarg, "--warmup", 0, 3600, &g_opts.warmup))
                return -EINVAL;
            break;
        case 'P':
            if (parse_u32(optarg, "-P", 1, 128, &g_opts.qpairs_per_ns))
                return -EINVAL;
            break;
        case 'V':
            g_opts.verify = true;
            break;
        case OPT_JSON:
            g_opts.json = true;
            break;
        case OPT_HDGST:
            g_opts.hdgst = true;
            net_opts = true;
            break;
        case OPT_DDGST:
            g_opts.ddgst = true;
            net_opts = true;
            break;
        case OPT_KATO:
            net_opts = true;
            if (parse_u32(optarg, "--kato", 0, 3600000, &g_opts.kato_ms))
                return -EINVAL;
            break;
        case 'h':
            usage(argv[0]);
            tern_env_print_eal_usage_and_exit(argv[0]);
        case ':':
            fprintf(stderr, "tern-perf: option %s needs an argument (see --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "tern-perf: unknown option %s (see --help)\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tern-perf: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -EINVAL;
    }
    if (g_opts.nbdevs && g_opts.bdev_config == NULL) {
        fprintf(stderr, "tern-perf: -b names a bdev of the -c configuration: give -c\n");
        return -EINVAL;
    }
    if (g_opts.ntrids == 0 && g_opts.bdev_config == NULL) {
        fprintf(stderr, "tern-perf: no target: give -r 'trtype:TCP traddr:... subnqn:...', or "
                "-c BDEV_CONFIG for local bdevs\n");
        return -EINVAL;
    }
    if (g_opts.ntrids && g_opts.bdev_config) {
        fprintf(stderr, "tern-perf: -r (NVMe-oF) and -c (local bdevs) do not mix\n");
        return -EINVAL;
    }
    for (int i = 0; i < g_opts.ntrids && (g_opts.hdgst || g_opts.ddgst); i++) {
        if (g_opts.trids[i].trtype != TERN_NVMF_TRTYPE_TCP) {
            fprintf(stderr, "tern-perf: --hdgst and --ddgst are NVMe/TCP digests; -r %s is %s\n",
                    g_opts.trids[i].traddr, tern_nvmf_trtype_name(g_opts.trids[i].trtype));
            return -EINVAL;
        }
    }
    if (net_opts && g_opts.bdev_config) {
        fprintf(stderr, "tern-perf: --hdgst, --ddgst and --kato go with -r, not local bdevs\n");
        return -EINVAL;
    }
    if (strcmp(g_opts.workload, "read") == 0 || strcmp(g_opts.workload, "randread") == 0) {
        g_opts.read_pct = 100;
    } else if (strcmp(g_opts.workload, "write") == 0 ||
               strcmp(g_opts.workload, "randwrite") == 0) {
        g_opts.read_pct = 0;
    } else if (strcmp(g_opts.workload, "rw") == 0 || strcmp(g_opts.workload, "randrw") == 0) {
        g_opts.read_pct = mix >= 0 ? mix : 50;
    } else {
        fprintf(stderr, "tern-perf: -w '%s': want read write randread randwrite rw randrw\n",
                g_opts.workload);
        return -EINVAL;
    }
    if (mix >= 0 && strcmp(g_opts.workload, "rw") != 0 && strcmp(g_opts.workload, "randrw") != 0) {
        fprintf(stderr, "tern-perf: -M goes with -w rw or randrw\n");
        return -EINVAL;
    }
    g_opts.pattern = strncmp(g_opts.workload, "rand", 4) == 0 ? PAT_RAND : PAT_SEQ;
    if (g_opts.verify && g_opts.read_pct == 100)
        g_opts.read_pct = 50;   /* verify writes then reads back, whatever -w says */
    return 0;
}

/* -P jobs like tmpl on one namespace or bdev (`what`), once its geometry
 * suits the run; max_bytes: its largest transfer (0: no limit). */
static int
add_jobs(const char *what, const struct job *tmpl, uint32_t max_bytes, uint32_t *lcore)
{
    uint32_t bs = tmpl->block_size;

    if (g_opts.io_size % bs) {
        fprintf(stderr, "tern-perf: -o %u is not a multiple of %s's %u-byte blocks\n",
                g_opts.io_size, what, bs);
        return -EINVAL;
    }
    if (max_bytes && g_opts.io_size > max_bytes) {
        fprintf(stderr, "tern-perf: -o %u is over %s's largest transfer (%u bytes)\n",
                g_opts.io_size, what, max_bytes);
        return -EINVAL;
    }
    if ((uint64_t)g_opts.io_size / bs * (g_opts.verify ? g_opts.depth * g_opts.qpairs_per_ns : 1) >
        tmpl->blocks) {
        fprintf(stderr, "tern-perf: %s (%" PRIu64 " blocks) is too small for this run\n", what,
                tmpl->blocks);
        return -EINVAL;
    }
    for (uint32_t p = 0; p < g_opts.qpairs_per_ns; p++) {
        struct job *j;

        if (g.njobs == MAX_JOBS) {
            fprintf(stderr, "tern-perf: more than %d qpairs\n", MAX_JOBS);
            return -EINVAL;
        }
        j = &g.jobs[g.njobs++];
        *j = *tmpl;
        j->nlb = g_opts.io_size / bs;
        j->index_on_ns = p;
        j->lcore = *lcore;
        *lcore = tern_env_lcore_next(*lcore);
        if (*lcore == TERN_ENV_LCORE_NONE)
            *lcore = tern_env_lcore_first();
    }
    return 0;
}

/* Connect every -r and make the jobs: -P per active namespace. */
static int
plan_jobs(void)
{
    uint32_t lcore = tern_env_lcore_first();
    char why[256], tbuf[320];

    g.jobs = calloc(MAX_JOBS, sizeof(*g.jobs));
    if (g.jobs == NULL)
        return -ENOMEM;
    for (int c = 0; c < g_opts.ntrids; c++) {
        struct tern_host_ctrlr_opts o;
        uint32_t need = 0;
        int rc;

        tern_host_ctrlr_opts_init(&o);
        o.kato_ms = g_opts.kato_ms;
        o.header_digest = g_opts.hdgst;
        o.data_digest = g_opts.ddgst;
        o.io_queue_size = (uint16_t)(g_opts.depth + 1 > 128 ? g_opts.depth + 1 : 128);
        /* Ask for as many I/O queues as this controller will get jobs; the
         * namespace count is known only after connecting, so ask generously. */
        o.num_io_queues = (uint16_t)(g_opts.qpairs_per_ns * 32 > 1024 ? 1024
                                                                       : g_opts.qpairs_per_ns * 32);
        rc = tern_host_ctrlr_connect(&g_opts.trids[c], &o, &g.ctrlrs[c], why, sizeof(why));
        if (rc != 0) {
            fprintf(stderr, "tern-perf: %s: %s\n",
                    tern_host_trid_str(&g_opts.trids[c], tbuf, sizeof(tbuf)), why);
            return rc;
        }
        for (uint32_t nsid = tern_host_ctrlr_next_nsid(g.ctrlrs[c], 0); nsid;
             nsid = tern_host_ctrlr_next_nsid(g.ctrlrs[c], nsid)) {
            struct job tmpl = {.ctrlr = g.ctrlrs[c], .ctrlr_idx = c, .nsid = nsid};

            tern_host_ns_geometry(g.ctrlrs[c], nsid, &tmpl.block_size, &tmpl.blocks);
            snprintf(tbuf, sizeof(tbuf), "nsid %u", nsid);
            rc = add_jobs(tbuf, &tmpl, tern_host_ctrlr_max_xfer(g.ctrlrs[c]), &lcore);
            if (rc != 0)
                return rc;
            need += g_opts.qpairs_per_ns;
        }
        if (need == 0) {
            fprintf(stderr, "tern-perf: %s: no active namespace\n",
                    tern_host_trid_str(&g_opts.trids[c], tbuf, sizeof(tbuf)));
            return -ENODEV;
        }
        if (need > tern_host_ctrlr_io_queues(g.ctrlrs[c])) {
            fprintf(stderr, "tern-perf: %s granted %u I/O queues, this run needs %u\n",
                    tern_host_trid_str(&g_opts.trids[c], tbuf, sizeof(tbuf)),
                    tern_host_ctrlr_io_queues(g.ctrlrs[c]), need);
            return -ENOSPC;
        }
    }
    return 0;
}

/* ---- local mode: bdevs through the bdev layer, on reactors ---- */
static void local_stop(int exit_code);

static void
bdev_event(enum tern_bdev_event ev, struct tern_bdev *bdev, void *ctx)
{
    (void)ctx;
    if (ev == TERN_BDEV_EVENT_REMOVE) {
        fprintf(stderr, "tern-perf: bdev %s is being removed: stopping\n", tern_bdev_name(bdev));
        run_stop(tern_env_ticks());
    }
}

/* Open the bdevs (-b, or every bdev of the configuration) and make the
 * jobs: -P per bdev, spread over the lcores. */
static int
plan_local(void)
{
    uint32_t lcore = tern_env_lcore_first();
    struct tern_bdev *b;
    const char *names[MAX_BDEVS];
    int n = 0;

    if (g_opts.nbdevs) {
        memcpy(names, g_opts.bdev_names, sizeof(names[0]) * (size_t)g_opts.nbdevs);
        n = g_opts.nbdevs;
    } else {
        for (b = tern_bdev_first(); b != NULL && n < MAX_BDEVS; b = tern_bdev_next(b))
            names[n++] = tern_bdev_name(b);
    }
    if (n == 0) {
        fprintf(stderr, "tern-perf: %s: the configuration makes no bdev\n", g_opts.bdev_config);
        return -ENODEV;
    }
    g.jobs = calloc(MAX_JOBS, sizeof(*g.jobs));
    if (g.jobs == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        struct tern_bdev_desc *desc;
        struct job tmpl = {0};
        uint32_t bs, max;
        uint64_t blocks;
        char what[96];
        int rc = tern_bdev_open(names[i], true, bdev_event, NULL, &desc);

        if (rc != 0) {
            fprintf(stderr, "tern-perf: bdev %s: %s\n", names[i],
                    rc == -ENODEV ? "no such bdev in the configuration" : strerror(-rc));
            return rc == -ENODEV ? -EINVAL : rc;
        }
        g.descs[g.ndescs++] = desc;
        b = tern_bdev_desc_bdev(desc);
        bs = tern_bdev_block_size(b);
        blocks = tern_bdev_num_blocks(b);
        max = tern_bdev_max_transfer_blocks(b);
        g.bdev_names[i] = strdup(names[i]);
        if (g.bdev_names[i] == NULL)
            return -ENOMEM;
        tmpl.desc = desc;
        tmpl.bdev_name = g.bdev_names[i];
        tmpl.nsid = (uint32_t)i + 1;        /* stamped into verify patterns */
        tmpl.block_size = bs;
        tmpl.blocks = blocks;
        snprintf(what, sizeof(what), "bdev %s", names[i]);
        rc = add_jobs(what, &tmpl, max > UINT32_MAX / bs ? UINT32_MAX : max * bs, &lcore);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static uint32_t g_local_pending;    /* lcores still to answer a step */

/* A step run on every lcore, for each of its jobs. */
struct job_step {
    void (*fn)(struct job *j);
};

static void
local_on_lcore(void *a1, void *a2)
{
    const struct job_step *step = a1;
    uint32_t me = tern_env_lcore_id();
    (void)a2;

    for (uint32_t i = 0; i < g.njobs; i++) {
        if (g.jobs[i].lcore == me)
            step->fn(&g.jobs[i]);
    }
    __atomic_sub_fetch(&g_local_pending, 1, __ATOMIC_ACQ_REL);
}

/* Channel and slots. */
static void
job_local_setup(struct job *j)
{
    j->ch = tern_bdev_get_channel(j->desc);
    if (j->ch == NULL) {
        fprintf(stderr, "tern-perf: bdev %s: no I/O channel on lcore %u\n",
                j->bdev_name, j->lcore);
        g.setup_failed = 1;
    } else if (job_alloc_slots(j) != 0) {
        fprintf(stderr, "tern-perf: out of memory for %u buffers of %u bytes\n", g_opts.depth,
                g_opts.io_size);
        g.setup_failed = 1;
    }
}

static void
job_local_start(struct job *j)
{
    for (uint32_t k = 0; k < g_opts.depth && !j->failed; k++)
        slot_submit(&j->slots[k]);
}

static void
job_local_teardown(struct job *j)
{
    if (j->ch != NULL) {
        for (uint32_t k = 0; k < g_opts.depth && j->slots; k++)
            tern_bdev_cancel_io_wait(j->ch, &j->slots[k].wait);
        tern_bdev_put_channel(j->ch);
        j->ch = NULL;
    }
    if (j->inflight == 0)
        job_free_slots(j);      /* else the bdev may still write them: leak rather */
}

static const struct job_step g_local_setup = {job_local_setup};
static const struct job_step g_local_start = {job_local_start};
static const struct job_step g_local_teardown = {job_local_teardown};

/* Run a step on every lcore; the caller waits for g_local_pending to drop. */
static int
local_each_lcore(const struct job_step *step)
{
    uint32_t l;

    __atomic_store_n(&g_local_pending, tern_env_lcore_count(), __ATOMIC_RELEASE);
    TERN_ENV_FOREACH_LCORE(l) {
        if (tern_reactor_send_msg(l, local_on_lcore, (void *)(uintptr_t)step, NULL) != 0) {
            __atomic_sub_fetch(&g_local_pending, 1, __ATOMIC_ACQ_REL);
            fprintf(stderr, "tern-perf: cannot reach lcore %u\n", l);
            return -EIO;
        }
    }
    return 0;
}

/*
 * The main lcore's clock: waits for the setup of every lcore, starts the
 * I/O, moves warm-up -> measure -> stop, drains (at most 5 s), tears down.
 */
static struct tern_poller *g_clock_poller;
static int g_local_step;        /* 0 setting up, 1 running, 2 draining, 3 tearing down */
static uint64_t g_drain_deadline;

static int
local_clock(void *arg)
{
    uint64_t now = tern_env_ticks(), hz = tern_env_ticks_hz();
    bool tty = !g_opts.json && isatty(STDERR_FILENO);
    (void)arg;

    if (__atomic_load_n(&g_local_pending, __ATOMIC_ACQUIRE) != 0)
        return TERN_POLLER_IDLE;
    switch (g_local_step) {
    case 0:
        if (g.setup_failed) {
            g_local_step = 3;
            g.exit_code = EXIT_CONNECT;
            local_each_lcore(&g_local_teardown);
            return TERN_POLLER_BUSY;
        }
        run_start(now);
        g_local_step = 1;
        g.exit_code = 0;
        if (local_each_lcore(&g_local_start) != 0)
            g.phase = 3;
        return TERN_POLLER_BUSY;
    case 1: {
        bool all_failed = true;

        for (uint32_t i = 0; i < g.njobs; i++)
            all_failed = all_failed && g.jobs[i].failed;
        run_tick(now, all_failed, tty);
        if (g.phase == 3) {
            g_local_step = 2;
            g_drain_deadline = now + hz * 5;
        }
        return TERN_POLLER_BUSY;
    }
    case 2: {
        uint32_t inflight = 0;

        for (uint32_t i = 0; i < g.njobs; i++)
            inflight += __atomic_load_n(&g.jobs[i].inflight, __ATOMIC_RELAXED);
        if (inflight != 0 && now < g_drain_deadline)
            return TERN_POLLER_IDLE;
        if (inflight != 0)
            fprintf(stderr, "tern-perf: %u I/O still in flight 5 s after the end\n", inflight);
        if (tty)
            fprintf(stderr, "\n");
        g_local_step = 3;
        local_each_lcore(&g_local_teardown);
        return TERN_POLLER_BUSY;
    }
    default:
        tern_poller_unregister(&g_clock_poller);
        local_stop(g.exit_code);
        return TERN_POLLER_BUSY;
    }
}

static void
local_stop(int exit_code)
{
    g.exit_code = exit_code;
    for (int i = 0; i < g.ndescs; i++)
        tern_bdev_close(g.descs[i]);
    g.ndescs = 0;
    tern_reactors_stop();
}

static void
local_config_done(void *ctx, int status)
{
    int rc;
    (void)ctx;

    if (status != 0) {
        fprintf(stderr, "tern-perf: %s: the bdev configuration failed (the reason is logged "
                "above)\n", g_opts.bdev_config);
        local_stop(EXIT_CONNECT);
        return;
    }
    rc = plan_local();
    if (rc != 0) {
        local_stop(rc == -EINVAL ? EXIT_USAGE : EXIT_CONNECT);
        return;
    }
    if (!g_opts.json)
        printf("tern-perf %s: %u job(s) on %u lcore(s), local bdevs, %s, %u bytes, QD %u, %u s%s%s\n",
               TERN_VERSION, g.njobs, tern_env_lcore_count(), g_opts.workload, g_opts.io_size,
               g_opts.depth, g_opts.seconds, g_opts.warmup ? " after a warm-up" : "",
               g_opts.verify ? ", verifying" : "");
    fflush(stdout);
    g_clock_poller = tern_poller_register(local_clock, NULL, 0, "perf_clock");
    if (g_clock_poller == NULL || local_each_lcore(&g_local_setup) != 0) {
        fprintf(stderr, "tern-perf: cannot start the jobs\n");
        tern_poller_unregister(&g_clock_poller);
        local_stop(EXIT_CONNECT);
    }
}

/* The bdev part of the configuration file (so a target's config serves). */
static char *
local_bdev_config(void)
{
    json_error_t err;
    json_t *root = json_load_file(g_opts.bdev_config, JSON_REJECT_DUPLICATES, &err), *subs, *out;
    json_t *keep = json_array();
    size_t i;
    char *text = NULL;

    if (root == NULL) {
        if (err.line < 1)
            fprintf(stderr, "tern-perf: -c: %s\n", err.text);
        else
            fprintf(stderr, "tern-perf: %s: line %d, column %d: %s\n", g_opts.bdev_config,
                    err.line, err.column, err.text);
        json_decref(keep);
        return NULL;
    }
    subs = json_object_get(root, "subsystems");
    if (!json_is_array(subs)) {
        fprintf(stderr, "tern-perf: %s: the top level must be an object with a \"subsystems\" "
                "array (SPDK's configuration shape)\n", g_opts.bdev_config);
    } else {
        for (i = 0; i < json_array_size(subs); i++) {
            json_t *sub = json_array_get(subs, i);

            if (json_is_string(json_object_get(sub, "subsystem")) &&
                strcmp(json_string_value(json_object_get(sub, "subsystem")), "bdev") == 0)
                json_array_append(keep, sub);
        }
        out = json_pack("{s:O}", "subsystems", keep);
        text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
    }
    json_decref(keep);
    json_decref(root);
    return text;
}

static void
local_start(void *a1, void *a2)
{
    char *text = a1;
    int rc;
    (void)a2;

    rc = tern_bdev_init();
    if (rc != 0) {
        fprintf(stderr, "tern-perf: cannot start the bdev layer: %s\n", strerror(-rc));
        free(text);
        local_stop(EXIT_CONNECT);
        return;
    }
    tern_rpc_set_state(TERN_RPC_RUNTIME);
    rc = tern_rpc_config_load_string(text, g_opts.bdev_config, local_config_done, NULL);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "tern-perf: %s: cannot replay the configuration\n", g_opts.bdev_config);
        local_stop(EXIT_CONNECT);
    }
}

static int
local_run(void)
{
    char *text = local_bdev_config();
    int rc;

    if (text == NULL)
        return EXIT_USAGE;
    rc = tern_reactors_init();
    if (rc != 0) {
        fprintf(stderr, "tern-perf: cannot create the reactors: %s\n", strerror(-rc));
        free(text);
        return EXIT_CONNECT;
    }
    if (tern_reactor_send_msg(tern_env_main_lcore(), local_start, text, NULL) != 0) {
        fprintf(stderr, "tern-perf: cannot schedule the start on the main lcore\n");
        free(text);
        tern_reactors_fini();
        return EXIT_CONNECT;
    }
    g.exit_code = EXIT_CONNECT;     /* unless a step says otherwise */
    rc = tern_reactors_start();
    if (rc == 0 && g.exit_code == 0)
        rc = report();
    else
        rc = g.exit_code ? g.exit_code : EXIT_CONNECT;
    tern_bdev_fini();
    tern_reactors_fini();
    return rc;
}

int
main(int argc, char **argv)
{
    int eal_argc, n, rc;
    char **app_argv;

    rc = tern_env_split_args(argc, argv, &eal_argc, &n, &app_argv);
    if (rc == 1) {
        usage(argv[0]);
        tern_env_print_eal_usage_and_exit(argv[0]);
    }
    if (rc < 0)
        return EXIT_USAGE;
    rc = parse_args(n, app_argv);
    free(app_argv);
    if (rc != 0)
        return EXIT_USAGE;
    signals_init();
    if (tern_env_init(eal_argc, argv) < 0)
        return EXIT_USAGE;
    if (local_mode()) {
        rc = local_run();
        for (int i = 0; i < MAX_BDEVS; i++)
            free(g.bdev_names[i]);
        free(g.jobs);
        tern_env_fini();
        return rc;
    }
    rc = plan_jobs();
    if (rc != 0) {
        rc = rc == -EINVAL ? EXIT_USAGE : EXIT_CONNECT;
        goto out;
    }
    if (!g_opts.json)
        printf("tern-perf %s: %u qpair(s) on %u lcore(s), %s, %u bytes, QD %u, %u s%s%s\n",
               TERN_VERSION, g.njobs, tern_env_lcore_count(), g_opts.workload, g_opts.io_size,
               g_opts.depth, g_opts.seconds, g_opts.warmup ? " after a warm-up" : "",
               g_opts.verify ? ", verifying" : "");
    rc = tern_env_launch_all(lcore_main, NULL);
    if (rc != 0 || g.setup_failed) {
        rc = EXIT_CONNECT;
        goto out;
    }
    rc = report();
out:
    for (int c = 0; c < g_opts.ntrids; c++)
        tern_host_ctrlr_free(g.ctrlrs[c]);
    free(g.jobs);
    tern_env_fini();
    return rc;
}
