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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "perf_hist.h"
#include "tern_build_config.h"
#include "tern_env.h"
#include "tern_host.h"
#include "tern_log.h"

#define EXIT_IO_ERRORS 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

#define MAX_TRIDS 16
#define MAX_JOBS 1024

enum pattern { PAT_SEQ, PAT_RAND };

static struct {
    struct tern_host_trid trids[MAX_TRIDS];
    int ntrids;
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
};

struct job {
    struct tern_host_ctrlr *ctrlr;
    int ctrlr_idx;
    uint32_t nsid;
    uint32_t block_size;
    uint64_t blocks;
    uint32_t nlb;                   /* blocks per I/O */
    uint32_t lcore;
    uint32_t index_on_ns;           /* 0..P-1 */
    struct tern_host_qpair *qp;
    struct slot *slots;
    uint64_t seq_next;
    uint64_t rng;
    /* Counted during the measured interval only. */
    bool measuring;
    struct perf_hist hist;
    uint64_t ios, bytes, errors, verify_failures;
    uint64_t live_ios;              /* for progress (any interval), relaxed atomics */
    bool failed;
    char fail_why[160];             /* why the qpair stopped */
    char first_error[160];          /* the first I/O that failed, for the report */
};

static struct {
    struct tern_host_ctrlr *ctrlrs[MAX_TRIDS];
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

static void
slot_submit(struct slot *s)
{
    struct job *j = s->job;
    uint32_t len = j->nlb * j->block_size;
    int rc;

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
    s->t0 = tern_env_ticks();
    if (s->is_read)
        rc = tern_host_read(j->qp, j->nsid, s->lba, j->nlb, s->buf, len, io_done, s);
    else
        rc = tern_host_write(j->qp, j->nsid, s->lba, j->nlb, s->buf, len, io_done, s);
    if (rc != 0)
        job_fail(j, rc == -ENOTCONN ? "the I/O qpair failed: %s" : "submit failed: %s", rc);
}

static void
io_done(void *arg, const struct tern_nvme_cpl *cpl)
{
    struct slot *s = arg;
    struct job *j = s->job;
    uint64_t now = tern_env_ticks();
    uint16_t st = tern_host_cpl_status(cpl);
    uint32_t len = j->nlb * j->block_size;

    __atomic_store_n(&j->live_ios, j->live_ios + 1, __ATOMIC_RELAXED);
    if (j->measuring) {
        perf_hist_add(&j->hist, now - s->t0);
        j->ios++;
        j->bytes += len;
        if (st != 0)
            j->errors++;
    }
    if (st != 0 && !j->measuring)
        j->errors++;            /* warm-up errors count too, for the exit status */
    if (st != 0 && j->first_error[0] == 0) {
        char name[48];

        snprintf(j->first_error, sizeof(j->first_error), "%s of LBA %" PRIu64 " failed: %s",
                 s->is_read ? "read" : "write", s->lba,
                 tern_nvme_status_name(st, name, sizeof(name)));
    }
    if (g_opts.verify && st == 0) {
        if (s->verify_read) {
            uint8_t want = 0, got = 0;
            int64_t off = pattern_check(s->buf, j->block_size, j->nlb, s->lba, j->nsid, s->gen,
                                        &want, &got);

            if (off >= 0) {
                j->verify_failures++;
                fprintf(stderr,
                        "tern-perf: VERIFY FAILED: ctrlr %d nsid %u LBA %" PRIu64
                        " byte %" PRId64 ": expected 0x%02x, read 0x%02x\n",
                        j->ctrlr_idx, j->nsid, s->lba + (uint64_t)off / j->block_size,
                        off % j->block_size, want, got);
            }
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
    if (g.phase < 3 && !j->failed)
        slot_submit(s);
}

/* ---- lcores ---- */
static int
job_setup(struct job *j)
{
    char why[256];
    uint32_t len = j->nlb * j->block_size;
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
    j->slots = calloc(g_opts.depth, sizeof(*j->slots));
    if (j->slots == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < g_opts.depth; i++) {
        j->slots[i].job = j;
        j->slots[i].buf = tern_env_zmalloc("tern_perf_buf", len, 4096, -1);
        if (j->slots[i].buf == NULL)
            return -ENOMEM;
    }
    perf_hist_init(&j->hist);
    j->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)j->nsid << 40) ^ ((uint64_t)j->index_on_ns << 20) ^
             (uint64_t)(uintptr_t)j;
    j->seq_next = (j->blocks / j->nlb) / g_opts.qpairs_per_ns * j->index_on_ns;
    return 0;
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

static int
lcore_main(void *arg)
{
    uint32_t me = tern_env_lcore_id();
    bool is_main = me == tern_env_main_lcore();
    bool tty = is_main && !g_opts.json && isatty(STDERR_FILENO);
    uint64_t hz = tern_env_ticks_hz(), start, next_tick, t_warm_end, t_end;
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

    start = tern_env_ticks();
    t_warm_end = start + hz * g_opts.warmup;
    t_end = t_warm_end + hz * g_opts.seconds;
    next_tick = start + hz;
    if (is_main) {
        g.phase = g_opts.warmup ? 1 : 2;
        if (!g_opts.warmup)
            g.t_measure0 = start;
    } else {
        while (g.phase == 0)
            tern_env_pause();
    }
    for (uint32_t i = 0; i < g.njobs; i++) {
        if (g.jobs[i].lcore != me)
            continue;
        g.jobs[i].measuring = g.phase == 2;
        for (uint32_t k = 0; k < g_opts.depth && !g.jobs[i].failed; k++)
            slot_submit(&g.jobs[i].slots[k]);
    }
    for (;;) {
        int phase = g.phase;

        for (uint32_t i = 0; i < g.njobs; i++) {
            struct job *j = &g.jobs[i];

            if (j->lcore != me || j->qp == NULL)
                continue;
            j->measuring = phase == 2;
            if (tern_host_qpair_poll(j->qp) < 0 && !j->failed)
                job_fail(j, "the I/O qpair failed: %s", -ECONNRESET);
        }
        if (is_main) {
            uint64_t now = tern_env_ticks();

            for (int c = 0; c < g_opts.ntrids; c++) {
                if (tern_host_ctrlr_poll(g.ctrlrs[c]) < 0 && g.phase != 3) {
                    fprintf(stderr, "tern-perf: controller %d: admin queue failed\n", c);
                    if (g.phase == 2)
                        g.t_measure1 = now;     /* rates over the time measured */
                    g.phase = 3;
                }
            }
            if (phase == 1 && now >= t_warm_end) {
                g.t_measure0 = now;
                g.phase = 2;
            } else if (phase == 2 && now >= t_end) {
                g.t_measure1 = now;
                g.phase = 3;
            }
            if (tty && now >= next_tick) {
                print_progress((double)(now - start) / (double)hz);
                next_tick += hz;
            }
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
                j->measuring = false;
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
            for (uint32_t k = 0; k < g_opts.depth && j->slots; k++)
                tern_env_free(j->slots[k].buf);
            free(j->slots);
            j->slots = NULL;
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
    printf("%-28s %10.0f %9.2f %9.2f %9.2f %10.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", what, r->iops,
           r->mib_s, r->avg_us, r->min_us, r->max_us, r->p[0], r->p[1], r->p[2], r->p[3], r->p[4]);
}

static int
report(void)
{
    struct perf_hist *total = malloc(sizeof(*total));
    uint64_t bytes = 0, errors = 0, vf = 0;
    struct result r;
    char what[64];
    int rc = 0;

    if (total == NULL)
        return EXIT_IO_ERRORS;
    perf_hist_init(total);
    if (!g_opts.json)
        printf("%-28s %10s %9s %9s %9s %10s %9s %9s %9s %9s %9s\n", "job (latency in us)", "IOPS",
               "MiB/s", "avg", "min", "max", "p50", "p90", "p99", "p99.9", "p99.99");
    for (uint32_t i = 0; i < g.njobs; i++) {
        struct job *j = &g.jobs[i];

        perf_hist_merge(total, &j->hist);
        bytes += j->bytes;
        errors += j->errors;
        vf += j->verify_failures;
        if (j->first_error[0])
            fprintf(stderr, "tern-perf: ctrlr %d nsid %u qpair %u: first error: %s\n",
                    j->ctrlr_idx, j->nsid, j->index_on_ns, j->first_error);
        if (j->failed) {
            fprintf(stderr, "tern-perf: ctrlr %d nsid %u qpair %u: %s\n", j->ctrlr_idx, j->nsid,
                    j->index_on_ns, j->fail_why);
            rc = EXIT_IO_ERRORS;
        }
        if (!g_opts.json) {
            result_of(&j->hist, j->bytes, j->errors, j->verify_failures, &r);
            snprintf(what, sizeof(what), "ctrlr %d nsid %u qpair %u (lcore %u)", j->ctrlr_idx,
                     j->nsid, j->index_on_ns, j->lcore);
            print_row(what, &r);
        }
    }
    result_of(total, bytes, errors, vf, &r);
    if (g_opts.json) {
        json_t *o = result_json(&r, "total");
        char *s = json_dumps(o, JSON_COMPACT);

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
            "  -r, --transport TRID   'trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420\n"
            "                         subnqn:NQN' (SPDK's transport ID form; repeatable)\n"
            "  -q, --queue-depth N    I/Os outstanding per qpair (32)\n"
            "  -o, --io-size BYTES    I/O size, a multiple of the block size (4096)\n"
            "  -w, --workload W       read write randread randwrite rw randrw (randread)\n"
            "  -M, --rwmixread PCT    reads in rw/randrw, percent (50 for those, else implied)\n"
            "  -t, --time SECONDS     measured time (10)\n"
            "      --warmup SECONDS   run this long first, not counted (0)\n"
            "  -P, --qpairs N         I/O qpairs per namespace (1), spread over the lcores\n"
            "  -V, --verify           write a pattern (LBA, generation) and check every read\n"
            "      --hdgst, --ddgst   NVMe/TCP header / data digests\n"
            "      --kato MS          keep-alive timeout asked for (10000)\n"
            "      --json             one JSON object with the totals on stdout\n"
            "  -h, --help             this, then the EAL options\n"
            "Exit: 0 done, 1 I/O errors or verify failures, 2 usage, 3 cannot connect.\n",
            prog);
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
    static const struct option longopts[] = {
        {"transport", required_argument, NULL, 'r'}, {"queue-depth", required_argument, NULL, 'q'},
        {"io-size", required_argument, NULL, 'o'},   {"workload", required_argument, NULL, 'w'},
        {"rwmixread", required_argument, NULL, 'M'}, {"time", required_argument, NULL, 't'},
        {"warmup", required_argument, NULL, OPT_WARMUP}, {"qpairs", required_argument, NULL, 'P'},
        {"verify", no_argument, NULL, 'V'},          {"json", no_argument, NULL, OPT_JSON},
        {"hdgst", no_argument, NULL, OPT_HDGST},     {"ddgst", no_argument, NULL, OPT_DDGST},
        {"kato", required_argument, NULL, OPT_KATO}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch, mix = -1;
    uint32_t v;
    char why[256];

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:q:o:w:M:t:P:Vh", longopts, NULL)) != -1) {
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
            break;
        case OPT_DDGST:
            g_opts.ddgst = true;
            break;
        case OPT_KATO:
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
    if (g_opts.ntrids == 0) {
        fprintf(stderr, "tern-perf: no target: give -r 'trtype:TCP traddr:... subnqn:...'\n");
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
            uint32_t bs;
            uint64_t blocks;

            tern_host_ns_geometry(g.ctrlrs[c], nsid, &bs, &blocks);
            if (g_opts.io_size % bs) {
                fprintf(stderr, "tern-perf: -o %u is not a multiple of nsid %u's %u-byte blocks\n",
                        g_opts.io_size, nsid, bs);
                return -EINVAL;
            }
            if (tern_host_ctrlr_max_xfer(g.ctrlrs[c]) &&
                g_opts.io_size > tern_host_ctrlr_max_xfer(g.ctrlrs[c])) {
                fprintf(stderr, "tern-perf: -o %u is over the controller's largest transfer (%u)\n",
                        g_opts.io_size, tern_host_ctrlr_max_xfer(g.ctrlrs[c]));
                return -EINVAL;
            }
            if ((uint64_t)g_opts.io_size / bs * (g_opts.verify ? g_opts.depth * g_opts.qpairs_per_ns
                                                                : 1) > blocks) {
                fprintf(stderr, "tern-perf: nsid %u (%" PRIu64 " blocks) is too small for this run\n",
                        nsid, blocks);
                return -EINVAL;
            }
            for (uint32_t p = 0; p < g_opts.qpairs_per_ns; p++) {
                struct job *j;

                if (g.njobs == MAX_JOBS) {
                    fprintf(stderr, "tern-perf: more than %d qpairs\n", MAX_JOBS);
                    return -EINVAL;
                }
                j = &g.jobs[g.njobs++];
                j->ctrlr = g.ctrlrs[c];
                j->ctrlr_idx = c;
                j->nsid = nsid;
                j->block_size = bs;
                j->blocks = blocks;
                j->nlb = g_opts.io_size / bs;
                j->index_on_ns = p;
                j->lcore = lcore;
                lcore = tern_env_lcore_next(lcore);
                if (lcore == TERN_ENV_LCORE_NONE)
                    lcore = tern_env_lcore_first();
                need++;
            }
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
    if (tern_env_init(eal_argc, argv) < 0)
        return EXIT_USAGE;
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
