/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/nvme/pcie against a fake controller: a thread that plays an NVMe
 * device over a BAR in plain memory (registers, doorbells with any stride,
 * admin and I/O queues, PRPs and SGLs walked its own way, a RAM disk).
 * The EAL runs with --no-huge, so IOVAs are virtual addresses and the fake
 * reads the queues and buffers the driver hands it directly.
 * Also the pure parts: PRP and SGL building, doorbell offsets, register
 * polling deadlines.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ut_env.h"
#include "nvme_pcie_internal.h"
#include "nvme_pcie_mmio.h"

/* ------------------------------------------------------------------ helpers */

static uint64_t
ident(const void *va)
{
    return (uint64_t)(uintptr_t)va;
}

/* Every 4 KiB page of VA lands on an unrelated IOVA page (same offset), so
 * a builder that translated once per buffer instead of once per page shows. */
static uint64_t
scramble(const void *va)
{
    uint64_t v = (uint64_t)(uintptr_t)va;
    uint64_t page = v >> 12;

    return ((page * 0x9e3779b1ull) & 0xffffffffull) << 12 | (v & 0xfff);
}

static uint64_t
bad_iova(const void *va)
{
    (void)va;
    return TERN_ENV_IOVA_BAD;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ PRPs */

static uint64_t g_list[4 * NVME_PCIE_PRP_PER_PAGE] __attribute__((aligned(4096)));
#define LIST_IOVA 0x7700000000ull

Test(prp, one_page_with_offset)
{
    struct iovec iov = { (void *)0x100200, 1024 };
    uint64_t p1 = 1, p2 = 1;

    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, ident, g_list, LIST_IOVA, 1, &p1, &p2), 0);
    cr_assert_eq(p1, 0x100200);
    cr_assert_eq(p2, 0, "one page: no PRP2");
}

Test(prp, two_pages_no_list)
{
    struct iovec iov = { (void *)0x100e00, 4096 };  /* 512 B, then 3584 B of the next page */
    uint64_t p1, p2;

    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, scramble, g_list, LIST_IOVA, 1, &p1, &p2), 0);
    cr_assert_eq(p1, scramble((void *)0x100e00));
    cr_assert_eq(p2, scramble((void *)0x101000), "PRP2 is the second page itself");
}

Test(prp, three_pages_use_the_list)
{
    struct iovec iov = { (void *)0x100e00, 8192 };
    uint64_t p1, p2;

    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, scramble, g_list, LIST_IOVA, 1, &p1, &p2), 0);
    cr_assert_eq(p1, scramble((void *)0x100e00));
    cr_assert_eq(p2, LIST_IOVA);
    cr_assert_eq(g_list[0], scramble((void *)0x101000));
    cr_assert_eq(g_list[1], scramble((void *)0x102000));
}

Test(prp, page_aligned_segments_join)
{
    struct iovec iov[3] = {
        { (void *)0x200800, 2048 },     /* ends at a page end */
        { (void *)0x500000, 4096 },
        { (void *)0x900000, 100 * 4 },  /* the last may end short */
    };
    uint64_t p1, p2;

    cr_assert_eq(nvme_pcie_build_prps(iov, 3, ident, g_list, LIST_IOVA, 1, &p1, &p2), 0);
    cr_assert_eq(p1, 0x200800);
    cr_assert_eq(p2, LIST_IOVA);
    cr_assert_eq(g_list[0], 0x500000);
    cr_assert_eq(g_list[1], 0x900000);
}

Test(prp, shapes_prps_cannot_describe)
{
    struct iovec mid_offset[2] = { { (void *)0x200000, 4096 }, { (void *)0x300200, 512 } };
    struct iovec short_middle[2] = { { (void *)0x200000, 512 }, { (void *)0x300000, 512 } };
    struct iovec odd_start = { (void *)0x200002, 512 };
    uint64_t p1, p2;

    cr_assert_eq(nvme_pcie_build_prps(mid_offset, 2, ident, g_list, LIST_IOVA, 1, &p1, &p2),
                 -EINVAL, "a later entry must start a page");
    cr_assert_eq(nvme_pcie_build_prps(short_middle, 2, ident, g_list, LIST_IOVA, 1, &p1, &p2),
                 -EINVAL, "only the last chunk may end inside a page");
    cr_assert_eq(nvme_pcie_build_prps(&odd_start, 1, ident, g_list, LIST_IOVA, 1, &p1, &p2),
                 -EINVAL, "PRP1 must be dword aligned");
    cr_assert_eq(nvme_pcie_build_prps(&odd_start, 1, bad_iova, g_list, LIST_IOVA, 1, &p1, &p2),
                 -EFAULT, "memory without an IOVA");
}

/* 2 MiB + 4 KiB from an offset: 514 pages, 513 list entries, so the first
 * list page (512 slots) ends with a pointer to the second. */
Test(prp, list_chains_to_a_second_page)
{
    struct iovec iov = { (void *)0x40000200, (2u << 20) + 4096 };
    uint64_t p1, p2, k;

    memset(g_list, 0xee, sizeof(g_list));
    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, scramble, g_list, LIST_IOVA, 1, &p1, &p2), -E2BIG,
                 "one list page holds 512 entries, not 512 + a pointer");
    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, scramble, g_list, LIST_IOVA, 2, &p1, &p2), 0);
    cr_assert_eq(p1, scramble((void *)0x40000200));
    cr_assert_eq(p2, LIST_IOVA);
    for (k = 0; k < 511; k++)
        cr_assert_eq(g_list[k], scramble((void *)(uintptr_t)(0x40001000 + k * 4096)),
                     "entry %lu", (unsigned long)k);
    cr_assert_eq(g_list[511], LIST_IOVA + 4096, "last slot of page 1 points at page 2");
    cr_assert_eq(g_list[512], scramble((void *)(uintptr_t)(0x40001000 + 511 * 4096ull)));
    cr_assert_eq(g_list[513], scramble((void *)(uintptr_t)(0x40001000 + 512 * 4096ull)));
}

/* Exactly 512 list entries fit one page without a chain pointer. */
Test(prp, full_list_page_needs_no_chain)
{
    struct iovec iov = { (void *)0x40000000, 513u * 4096 };
    uint64_t p1, p2;

    cr_assert_eq(nvme_pcie_build_prps(&iov, 1, ident, g_list, LIST_IOVA, 1, &p1, &p2), 0);
    cr_assert_eq(g_list[511], 0x40000000ull + 512 * 4096);
}

/* ------------------------------------------------------------------ SGLs */

Test(sgl, contiguous_data_is_one_data_block)
{
    struct iovec iov[2] = { { (void *)0x200100, 0xf00 }, { (void *)0x201000, 0x200 } };
    struct tern_nvme_sgl s;

    cr_assert_eq(nvme_pcie_build_sgl(iov, 2, ident, false, g_list, LIST_IOVA, 1, &s), 0);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_DATA_BLOCK);
    cr_assert_eq(s.address, 0x200100);
    cr_assert_eq(s.unkeyed.length, 0x1100);
}

Test(sgl, scattered_data_goes_to_a_last_segment)
{
    struct iovec iov[3] = {
        { (void *)0x200010, 1000 }, { (void *)0x300333, 1048 }, { (void *)0x400000, 8192 },
    };
    const struct tern_nvme_sgl *d = (const struct tern_nvme_sgl *)g_list;
    struct tern_nvme_sgl s;

    cr_assert_eq(nvme_pcie_build_sgl(iov, 3, scramble, false, g_list, LIST_IOVA, 1, &s), 0);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_LAST_SEGMENT);
    cr_assert_eq(s.address, LIST_IOVA);
    /* the third buffer spans two pages that scramble() puts apart */
    cr_assert_eq(s.unkeyed.length, 4 * 16);
    cr_assert_eq(d[0].address, scramble((void *)0x200010));
    cr_assert_eq(d[0].unkeyed.length, 1000);
    cr_assert_eq(d[1].unkeyed.length, 1048);
    cr_assert_eq(d[2].unkeyed.length, 4096);
    cr_assert_eq(d[3].address, scramble((void *)0x401000));
    cr_assert_eq(tern_nvme_sgl_type(&d[3]), TERN_NVME_SGL_DATA_BLOCK);
    cr_assert_eq(nvme_pcie_build_sgl(iov, 3, scramble, true, g_list, LIST_IOVA, 1, &s), -EINVAL,
                 "dword-aligned SGLs refuse an odd address");
}

/* ------------------------------------------------------------------ doorbells */

Test(mmio, doorbell_offsets_follow_the_stride)
{
    cr_assert_eq(nvme_pcie_sq_doorbell(0, 0), 0x1000);
    cr_assert_eq(nvme_pcie_cq_doorbell(0, 0), 0x1004);
    cr_assert_eq(nvme_pcie_sq_doorbell(1, 0), 0x1008);
    cr_assert_eq(nvme_pcie_cq_doorbell(3, 0), 0x101c);
    cr_assert_eq(nvme_pcie_sq_doorbell(1, 2), 0x1000 + 2 * 16);     /* 16-byte stride */
    cr_assert_eq(nvme_pcie_cq_doorbell(2, 3), 0x1000 + 5 * 32);     /* 32-byte stride */
}

/* ------------------------------------------------------------------ the fake device */

#define FQ 8
struct fake_q {
    uint64_t base;
    uint16_t size;
    uint16_t pos;       /* SQ: head; CQ: tail */
    uint8_t phase;
    uint16_t cqid;
    bool live;
};

struct fake {
    uint8_t *bar;
    pthread_t thr;
    atomic_bool stop;
    uint32_t dstrd;
    uint32_t mqes;              /* 0's based */
    uint32_t to;                /* CAP.TO */
    bool never_ready;
    bool sgl;
    uint32_t grant;             /* I/O queues granted */
    atomic_bool hold_io;        /* leave I/O commands without completion */
    struct fake_q sq[FQ], cq[FQ];
    uint8_t *disk;
    size_t disk_len;
    uint32_t last_cc;
    atomic_uint prp_cmds, sgl_cmds, deletes, io_cmds, bad;
    atomic_uint cq_db_max;
};

static struct fake g_f;

static uint32_t
rd(uint32_t off)
{
    return __atomic_load_n((uint32_t *)(g_f.bar + off), __ATOMIC_ACQUIRE);
}

static void
wr(uint32_t off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(g_f.bar + off), v, __ATOMIC_RELEASE);
}

static void
post(uint16_t sqid, uint16_t cid, uint16_t sct_sc, uint32_t cdw0)
{
    struct fake_q *sq = &g_f.sq[sqid], *cq = &g_f.cq[sq->cqid];
    struct tern_nvme_cpl *e = (struct tern_nvme_cpl *)(uintptr_t)(cq->base + cq->pos * 16u);

    e->cdw0 = cdw0;
    e->cdw1 = 0;
    e->sqhd = sq->pos;
    e->sqid = sqid;
    e->cid = cid;
    __atomic_store_n(&e->status, (uint16_t)(sct_sc << 1 | cq->phase), __ATOMIC_RELEASE);
    if (++cq->pos == cq->size) {
        cq->pos = 0;
        cq->phase ^= 1;
    }
}

/* Copy between the RAM disk and the command's buffers, walking its PRPs or
 * SGL the device's way. */
static bool
xfer(const struct tern_nvme_cmd *c, uint8_t *disk, size_t len, bool to_host)
{
    size_t done = 0;

    if (tern_nvme_cmd_psdt(c) == TERN_NVME_PSDT_PRP) {
        uint64_t p1 = c->dptr.prp.prp1, p2 = c->dptr.prp.prp2;
        size_t first = 4096 - (p1 & 4095);
        uint64_t *list;
        size_t k = 0;

        atomic_fetch_add(&g_f.prp_cmds, 1);
        if (first > len)
            first = len;
        to_host ? memcpy((void *)(uintptr_t)p1, disk, first) : memcpy(disk, (void *)(uintptr_t)p1, first);
        done = first;
        if (done == len)
            return true;
        if (len - done <= 4096) {
            to_host ? memcpy((void *)(uintptr_t)p2, disk + done, len - done)
                    : memcpy(disk + done, (void *)(uintptr_t)p2, len - done);
            return true;
        }
        list = (uint64_t *)(uintptr_t)p2;
        while (done < len) {
            size_t n = len - done < 4096 ? len - done : 4096;

            if (k == 511 && len - done > 4096) {    /* chain pointer */
                list = (uint64_t *)(uintptr_t)list[511];
                k = 0;
            }
            if (list[k] & 4095)
                return false;
            to_host ? memcpy((void *)(uintptr_t)list[k], disk + done, n)
                    : memcpy(disk + done, (void *)(uintptr_t)list[k], n);
            k++;
            done += n;
        }
        return true;
    } else {
        const struct tern_nvme_sgl *s = &c->dptr.sgl1, *d;
        uint32_t n, i;

        atomic_fetch_add(&g_f.sgl_cmds, 1);
        if (tern_nvme_sgl_type(s) == TERN_NVME_SGL_DATA_BLOCK) {
            d = s;
            n = 1;
        } else if (tern_nvme_sgl_type(s) == TERN_NVME_SGL_LAST_SEGMENT) {
            d = (const struct tern_nvme_sgl *)(uintptr_t)s->address;
            n = s->unkeyed.length / 16;
        } else {
            return false;
        }
        for (i = 0; i < n; i++) {
            size_t l = d[i].unkeyed.length;

            if (tern_nvme_sgl_type(&d[i]) != TERN_NVME_SGL_DATA_BLOCK || done + l > len)
                return false;
            to_host ? memcpy((void *)(uintptr_t)d[i].address, disk + done, l)
                    : memcpy(disk + done, (void *)(uintptr_t)d[i].address, l);
            done += l;
        }
        return done == len;
    }
}

static void
admin(const struct tern_nvme_cmd *c)
{
    void *buf = (void *)(uintptr_t)c->dptr.prp.prp1;
    uint16_t qid = (uint16_t)(c->cdw10 & 0xffff);

    switch (c->opc) {
    case TERN_NVME_OPC_IDENTIFY:
        memset(buf, 0, 4096);
        if ((c->cdw10 & 0xff) == TERN_NVME_CNS_CTRLR) {
            struct tern_nvme_ctrlr_data *d = buf;

            memcpy(d->sn, "FAKE0001            ", 20);
            memcpy(d->mn, "fake controller", 15);
            d->ver = 0x10400;
            d->mdts = 5;        /* 128 KiB */
            d->nn = 1;
            d->sgls = g_f.sgl ? 1 : 0;
            d->oncs = TERN_NVME_CTRLR_ONCS_DSM | TERN_NVME_CTRLR_ONCS_WRITE_ZEROES;
            d->vwc = 1;
        } else if ((c->cdw10 & 0xff) == TERN_NVME_CNS_ACTIVE_NS_LIST) {
            ((uint32_t *)buf)[0] = 1;
        } else if ((c->cdw10 & 0xff) == TERN_NVME_CNS_NS && c->nsid == 1) {
            struct tern_nvme_ns_data *d = buf;

            d->nsze = d->ncap = g_f.disk_len / 512;
            d->lbaf[0].lbads = 9;
        }
        post(0, c->cid, 0, 0);
        break;
    case TERN_NVME_OPC_SET_FEATURES:
        post(0, c->cid, 0, (g_f.grant - 1) | (g_f.grant - 1) << 16);
        break;
    case TERN_NVME_OPC_CREATE_IO_CQ:
        g_f.cq[qid] = (struct fake_q){ .base = c->dptr.prp.prp1,
                                       .size = (uint16_t)((c->cdw10 >> 16) + 1), .phase = 1,
                                       .live = true };
        post(0, c->cid, 0, 0);
        break;
    case TERN_NVME_OPC_CREATE_IO_SQ:
        g_f.sq[qid] = (struct fake_q){ .base = c->dptr.prp.prp1,
                                       .size = (uint16_t)((c->cdw10 >> 16) + 1),
                                       .cqid = (uint16_t)(c->cdw11 >> 16), .live = true };
        post(0, c->cid, 0, 0);
        break;
    case TERN_NVME_OPC_DELETE_IO_SQ:
    case TERN_NVME_OPC_DELETE_IO_CQ:
        atomic_fetch_add(&g_f.deletes, 1);
        if (c->opc == TERN_NVME_OPC_DELETE_IO_SQ)
            g_f.sq[qid].live = false;
        else
            g_f.cq[qid].live = false;
        post(0, c->cid, 0, 0);
        break;
    default:
        post(0, c->cid, TERN_NVME_SC_INVALID_OPCODE, 0);
    }
}

static void
io(uint16_t qid, const struct tern_nvme_cmd *c)
{
    uint64_t lba = c->cdw10 | (uint64_t)c->cdw11 << 32;
    size_t len = ((size_t)(c->cdw12 & 0xffff) + 1) * 512;

    atomic_fetch_add(&g_f.io_cmds, 1);
    if (atomic_load(&g_f.hold_io))
        return;
    if (c->opc == TERN_NVME_OPC_READ || c->opc == TERN_NVME_OPC_WRITE) {
        if (lba * 512 + len > g_f.disk_len ||
            !xfer(c, g_f.disk + lba * 512, len, c->opc == TERN_NVME_OPC_READ)) {
            atomic_fetch_add(&g_f.bad, 1);
            post(qid, c->cid, TERN_NVME_SC_INVALID_FIELD, 0);
            return;
        }
    }
    post(qid, c->cid, 0, 0);
}

static void
fake_reset(void)
{
    memset(g_f.sq, 0, sizeof(g_f.sq));
    memset(g_f.cq, 0, sizeof(g_f.cq));
}

static void *
fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_f.stop)) {
        uint32_t cc = rd(TERN_NVME_REG_CC), csts = rd(TERN_NVME_REG_CSTS), q;

        if ((cc & TERN_NVME_CC_EN) && !(g_f.last_cc & TERN_NVME_CC_EN) && !g_f.never_ready) {
            uint32_t aqa = rd(TERN_NVME_REG_AQA);

            fake_reset();
            g_f.sq[0] = (struct fake_q){ .base = rd(TERN_NVME_REG_ASQ) |
                                                 (uint64_t)rd(TERN_NVME_REG_ASQ + 4) << 32,
                                         .size = (uint16_t)((aqa & 0xfff) + 1), .live = true };
            g_f.cq[0] = (struct fake_q){ .base = rd(TERN_NVME_REG_ACQ) |
                                                 (uint64_t)rd(TERN_NVME_REG_ACQ + 4) << 32,
                                         .size = (uint16_t)((aqa >> 16) + 1), .phase = 1,
                                         .live = true };
            csts |= TERN_NVME_CSTS_RDY;
        }
        if (!(cc & TERN_NVME_CC_EN) && (g_f.last_cc & TERN_NVME_CC_EN)) {
            fake_reset();
            csts &= ~(TERN_NVME_CSTS_RDY | TERN_NVME_CSTS_SHST_MASK);
        }
        if (((cc & TERN_NVME_CC_SHN_MASK) >> TERN_NVME_CC_SHN_SHIFT) == TERN_NVME_CC_SHN_NORMAL)
            csts = (csts & ~TERN_NVME_CSTS_SHST_MASK) |
                   TERN_NVME_CSTS_SHST_COMPLETE << TERN_NVME_CSTS_SHST_SHIFT;
        g_f.last_cc = cc;
        wr(TERN_NVME_REG_CSTS, csts);
        for (q = 0; q < FQ && (csts & TERN_NVME_CSTS_RDY); q++) {
            struct fake_q *sq = &g_f.sq[q];
            uint32_t cqh;

            if (!sq->live)
                continue;
            cqh = rd(nvme_pcie_cq_doorbell((uint16_t)sq->cqid, g_f.dstrd));
            if (sq->cqid != 0 && cqh > atomic_load(&g_f.cq_db_max))
                atomic_store(&g_f.cq_db_max, cqh);
            while (sq->pos != rd(nvme_pcie_sq_doorbell((uint16_t)q, g_f.dstrd))) {
                struct tern_nvme_cmd c;

                memcpy(&c, (void *)(uintptr_t)(sq->base + sq->pos * 64u), sizeof(c));
                if (++sq->pos == sq->size)
                    sq->pos = 0;
                if (q == 0)
                    admin(&c);
                else
                    io((uint16_t)q, &c);
            }
        }
        sched_yield();
    }
    return NULL;
}

static void
fake_start(uint32_t dstrd, uint32_t mqes, bool sgl)
{
    uint64_t cap;

    memset(&g_f, 0, sizeof(g_f));
    g_f.bar = aligned_alloc(4096, 0x4000);
    memset(g_f.bar, 0, 0x4000);
    g_f.dstrd = dstrd;
    g_f.sgl = sgl;
    g_f.grant = 4;
    g_f.disk_len = 8u << 20;
    g_f.disk = calloc(1, g_f.disk_len);
    cap = mqes | 1ull << 16 | 1ull << 24 /* TO: 500 ms */ | (uint64_t)dstrd << 32 |
          (uint64_t)TERN_NVME_CAP_CSS_NVM << 37;
    memcpy(g_f.bar, &cap, 8);
}

static void
fake_run(void)
{
    cr_assert_eq(pthread_create(&g_f.thr, NULL, fake_main, NULL), 0);
}

static void
fake_stop(void)
{
    atomic_store(&g_f.stop, true);
    pthread_join(g_f.thr, NULL);
    free(g_f.bar);
    free(g_f.disk);
}

static void
setup(void)
{
    static bool up;

    if (!up) {
        ut_env_init();
        up = true;
    }
    cr_assert_str_eq(tern_env_iova_mode(), "VA", "the fake device needs IOVA == VA");
}

struct done {
    int n;
    uint16_t status;
};

static void
on_done(void *arg, uint16_t status, uint32_t cdw0)
{
    struct done *d = arg;

    (void)cdw0;
    d->n++;
    d->status = status;
}

static void
wait_done(struct tern_nvme_pcie_qpair *qp, struct done *d, int n)
{
    double end = now_s() + 10;

    while (d->n < n && now_s() < end)
        tern_nvme_pcie_qpair_poll(qp, 0);
    cr_assert_eq(d->n, n, "completions: %d of %d", d->n, n);
}

static int
rw(struct tern_nvme_pcie_qpair *qp, uint8_t opc, uint64_t lba, struct iovec *iov, int n,
   struct done *d)
{
    struct tern_nvme_cmd c = { .opc = opc, .nsid = 1 };
    size_t len = 0;
    int i;

    for (i = 0; i < n; i++)
        len += iov[i].iov_len;
    c.cdw10 = (uint32_t)lba;
    c.cdw12 = (uint32_t)(len / 512 - 1);
    return tern_nvme_pcie_qpair_submit(qp, &c, iov, n, on_done, d);
}

static struct tern_nvme_pcie_ctrlr *
attach(uint32_t qsize, int *rc)
{
    struct tern_nvme_pcie_opts o;

    tern_nvme_pcie_default_opts(&o);
    o.io_queue_size = qsize;
    o.admin_timeout_ms = 2000;
    return nvme_pcie_ctrlr_init_regs("fake", g_f.bar, &o, rc);
}

/* Write through the driver, read back into a fresh buffer, compare. */
static void
roundtrip(struct tern_nvme_pcie_qpair *qp, uint64_t lba, size_t len, size_t off, uint8_t seed)
{
    uint8_t *w = tern_env_zmalloc("ut_w", len + off, 4096, -1);
    uint8_t *r = tern_env_zmalloc("ut_r", len + off, 4096, -1);
    struct iovec iv;
    struct done d = { 0 };
    size_t i;

    cr_assert(w && r);
    for (i = 0; i < len; i++)
        w[off + i] = (uint8_t)(seed + i * 7 + (i >> 9));
    iv = (struct iovec){ w + off, len };
    cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, lba, &iv, 1, &d), 0);
    wait_done(qp, &d, 1);
    cr_assert_eq(d.status, 0);
    iv = (struct iovec){ r + off, len };
    cr_assert_eq(rw(qp, TERN_NVME_OPC_READ, lba, &iv, 1, &d), 0);
    wait_done(qp, &d, 2);
    cr_assert_eq(d.status, 0);
    cr_assert_eq(memcmp(w + off, r + off, len), 0, "data read back differs (len %zu off %zu)",
                 len, off);
    cr_assert_eq(memcmp(g_f.disk + lba * 512, w + off, len), 0, "disk holds other data");
    tern_env_free(w);
    tern_env_free(r);
}

/* Start the fake, attach, and return the calling lcore's queue pair. */
static struct tern_nvme_pcie_qpair *
fake_up(uint32_t dstrd, bool sgl, uint32_t qsize, struct tern_nvme_pcie_ctrlr **c)
{
    struct tern_nvme_pcie_qpair *qp;
    int rc;

    fake_start(dstrd, 1023, sgl);
    fake_run();
    *c = attach(qsize, &rc);
    cr_assert_not_null(*c, "attach: %d", rc);
    qp = tern_nvme_pcie_lcore_qpair(*c, tern_env_lcore_id());
    cr_assert_not_null(qp);
    return qp;
}

TestSuite(fake, .init = setup);

Test(fake, init_identify_and_io)
{
    struct tern_nvme_pcie_ctrlr *c;
    const struct tern_nvme_pcie_ns *ns;
    struct tern_nvme_pcie_qpair *qp;
    int rc;

    fake_start(0, 1023, false);
    fake_run();
    c = attach(64, &rc);
    cr_assert_not_null(c, "attach: %d", rc);
    cr_assert_eq(tern_nvme_pcie_ns_count(c), 1);
    ns = tern_nvme_pcie_ns(c, 0);
    cr_assert_eq(ns->nsid, 1);
    cr_assert_eq(ns->block_size, 512);
    cr_assert_eq(ns->num_blocks, g_f.disk_len / 512);
    cr_assert_eq(tern_nvme_pcie_max_xfer(c), 128 * 1024, "MDTS 5 of 4 KiB pages");
    cr_assert(g_f.sq[1].live && g_f.sq[2].live && !g_f.sq[3].live, "one I/O queue per lcore");
    qp = tern_nvme_pcie_lcore_qpair(c, tern_env_lcore_id());
    cr_assert_not_null(qp);
    roundtrip(qp, 0, 512, 0, 1);
    roundtrip(qp, 8, 4096, 0, 2);
    roundtrip(qp, 100, 8192, 512, 3);           /* 3 pages: a PRP list */
    roundtrip(qp, 1000, 128 * 1024, 3584, 4);   /* 33 pages */
    cr_assert_eq(atomic_load(&g_f.bad), 0);
    cr_assert_eq(atomic_load(&g_f.sgl_cmds), 0, "no SGLs offered: PRPs only");
    tern_nvme_pcie_detach(c);
    cr_assert_eq(atomic_load(&g_f.deletes), 4, "2 SQs and 2 CQs deleted");
    cr_assert(rd(TERN_NVME_REG_CC) & TERN_NVME_CC_SHN_MASK, "shutdown notified");
    fake_stop();
}

/* A 4-entry queue (3 commands in flight) wraps about every other command:
 * the phase bit the driver expects must flip each time round. */
Test(fake, queue_wrap_and_phase)
{
    struct tern_nvme_pcie_ctrlr *c;
    struct tern_nvme_pcie_qpair *qp;
    uint8_t *buf = tern_env_zmalloc("ut_b", 3 * 4096, 4096, -1);
    uint32_t flips = 0, round, k;
    uint8_t phase;

    qp = fake_up(0, false, 4, &c);
    cr_assert_eq(qp->size, 4);
    phase = qp->phase;
    for (round = 0; round < 200; round++) {
        struct done d = { 0 };
        struct iovec iv[3];

        for (k = 0; k < 3; k++) {
            memset(buf + k * 4096, (int)(round * 3 + k), 4096);
            iv[k] = (struct iovec){ buf + k * 4096, 4096 };
            cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, k * 8, &iv[k], 1, &d), 0);
        }
        cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, 0, &iv[0], 1, &d), -EAGAIN,
                     "size - 1 commands at most");
        wait_done(qp, &d, 3);
        if (qp->phase != phase)
            flips++;
        phase = qp->phase;
        for (k = 0; k < 3; k++)
            cr_assert_eq(g_f.disk[k * 4096 + 17], (uint8_t)(round * 3 + k));
    }
    /* 600 completions on 4 entries: 150 times round the queue. */
    cr_assert_geq(flips, 100, "phase flipped %u times", flips);
    cr_assert_eq(qp->st.completed, 600);
    cr_assert_lt(atomic_load(&g_f.cq_db_max), 4, "CQ head doorbell stays inside the queue");
    cr_assert_eq(qp->st.no_slot, 200);
    tern_nvme_pcie_detach(c);
    tern_env_free(buf);
    fake_stop();
}

/* CAP.DSTRD = 3: doorbells 32 bytes apart; the fake only looks there. */
Test(fake, doorbell_stride)
{
    struct tern_nvme_pcie_ctrlr *c;
    struct tern_nvme_pcie_qpair *qp;

    qp = fake_up(3, false, 16, &c);
    cr_assert_eq(qp->sq_db, 0x1000u + 2u * qp->qid * 32u);
    roundtrip(qp, 16, 4096, 0, 9);
    tern_nvme_pcie_detach(c);
    fake_stop();
}

Test(fake, queue_size_capped_by_mqes)
{
    struct tern_nvme_pcie_ctrlr *c;
    int rc;

    fake_start(0, 15, false);
    fake_run();
    c = attach(256, &rc);
    cr_assert_not_null(c);
    cr_assert_eq(tern_nvme_pcie_io_queue_size(c), 16);
    cr_assert_eq(g_f.sq[1].size, 16);
    tern_nvme_pcie_detach(c);
    fake_stop();
}

Test(fake, too_few_queues_granted)
{
    int rc;

    fake_start(0, 1023, false);
    g_f.grant = 1;
    fake_run();
    cr_assert_null(attach(16, &rc));
    cr_assert_eq(rc, -ENOSPC);
    cr_assert_eq(rd(TERN_NVME_REG_CC) & TERN_NVME_CC_EN, 0, "left disabled");
    fake_stop();
}

/* A controller that never becomes ready: attach gives up after CAP.TO. */
Test(fake, enable_times_out_after_cap_to)
{
    double t0;
    int rc;

    fake_start(0, 1023, false);
    g_f.never_ready = true;
    fake_run();
    t0 = now_s();
    cr_assert_null(attach(16, &rc));
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.45, "waited CAP.TO (500 ms)");
    fake_stop();
}

/* Data whose middle buffer is not page aligned: an SGL when offered. */
Test(fake, sgl_when_prps_cannot)
{
    struct tern_nvme_pcie_ctrlr *c;
    struct tern_nvme_pcie_qpair *qp;
    uint8_t *a = tern_env_zmalloc("ut_a", 3 * 4096, 4096, -1);
    struct iovec iov[3] = { { a + 24, 1000 }, { a + 4096 + 40, 1048 }, { a + 8192 + 8, 2048 } };
    struct done d = { 0 };
    size_t i;

    for (i = 0; i < 3 * 4096; i++)
        a[i] = (uint8_t)(i * 13);
    qp = fake_up(0, true, 16, &c);
    cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, 40, iov, 3, &d), 0);
    wait_done(qp, &d, 1);
    cr_assert_eq(d.status, 0);
    cr_assert_eq(atomic_load(&g_f.sgl_cmds), 1);
    cr_assert_eq(qp->st.sgl_cmds, 1);
    cr_assert_eq(memcmp(g_f.disk + 40 * 512, a + 24, 1000), 0);
    cr_assert_eq(memcmp(g_f.disk + 40 * 512 + 1000, a + 4096 + 40, 1048), 0);
    cr_assert_eq(memcmp(g_f.disk + 40 * 512 + 2048, a + 8192 + 8, 2048), 0);
    qp->sgl = false;
    cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, 40, iov, 3, &d), -EINVAL,
                 "without SGLs the layout cannot be described");
    tern_nvme_pcie_detach(c);
    tern_env_free(a);
    fake_stop();
}

/* A failed controller completes what it held with the abort status and
 * refuses new commands. */
Test(fake, failure_aborts_outstanding_commands)
{
    struct tern_nvme_pcie_ctrlr *c;
    struct tern_nvme_pcie_qpair *qp;
    uint8_t *b = tern_env_zmalloc("ut_b", 4096, 4096, -1);
    struct iovec iv = { b, 4096 };
    struct done d = { 0 };

    qp = fake_up(0, false, 16, &c);
    atomic_store(&g_f.hold_io, true);
    cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, 0, &iv, 1, &d), 0);
    cr_assert_eq(rw(qp, TERN_NVME_OPC_READ, 8, &iv, 1, &d), 0);
    while (atomic_load(&g_f.io_cmds) < 2)
        sched_yield();
    tern_nvme_pcie_qpair_poll(qp, 0);
    cr_assert_eq(d.n, 0, "held by the device");
    nvme_pcie_ctrlr_fail(c, "unit test");
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.status, TERN_NVME_PCIE_ABORT_STATUS);
    cr_assert_eq(qp->st.aborted, 2);
    cr_assert_eq(tern_nvme_pcie_qpair_outstanding(qp), 0);
    cr_assert(tern_nvme_pcie_failed(c));
    cr_assert_eq(rw(qp, TERN_NVME_OPC_READ, 8, &iv, 1, &d), -ENXIO);
    cr_assert_eq(rd(TERN_NVME_REG_CC) & TERN_NVME_CC_EN, 0, "disabled before the abort");
    tern_nvme_pcie_detach(c);
    cr_assert_eq(atomic_load(&g_f.deletes), 0, "a failed controller gets no admin commands");
    tern_env_free(b);
    fake_stop();
}

static int g_timeouts;
static uint16_t g_timeout_cid;

static void
count_timeout(struct tern_nvme_pcie_qpair *qp, uint16_t cid)
{
    (void)qp;
    g_timeouts++;
    g_timeout_cid = cid;
}

Test(fake, command_timeout_reported_once)
{
    struct tern_nvme_pcie_ctrlr *c;
    struct tern_nvme_pcie_qpair *qp;
    uint8_t *b = tern_env_zmalloc("ut_b", 4096, 4096, -1);
    struct iovec iv = { b, 4096 };
    struct done d = { 0 };
    double end;

    qp = fake_up(0, false, 16, &c);
    qp->timeout_ticks = tern_env_ticks_hz() / 10;   /* 100 ms */
    qp->on_timeout = count_timeout;
    atomic_store(&g_f.hold_io, true);
    cr_assert_eq(rw(qp, TERN_NVME_OPC_WRITE, 0, &iv, 1, &d), 0);
    end = now_s() + 0.05;
    while (now_s() < end)
        tern_nvme_pcie_qpair_poll(qp, 0);
    cr_assert_eq(g_timeouts, 0, "not yet");
    end = now_s() + 0.6;
    while (now_s() < end)
        tern_nvme_pcie_qpair_poll(qp, 0);
    cr_assert_eq(g_timeouts, 1);
    cr_assert_eq(g_timeout_cid, 0);
    nvme_pcie_ctrlr_fail(c, "unit test");
    cr_assert_eq(d.n, 1);
    tern_nvme_pcie_detach(c);
    tern_env_free(b);
    fake_stop();
}

/* ------------------------------------------------------------------ register polling */

Test(csts, deadlines_and_absent_devices, .init = setup)
{
    static uint8_t regs[0x2000] __attribute__((aligned(4096)));
    double t0;

    memset(regs, 0, sizeof(regs));
    t0 = now_s();
    cr_assert_eq(nvme_pcie_wait_csts(regs, TERN_NVME_CSTS_RDY, TERN_NVME_CSTS_RDY, 200), -ETIMEDOUT);
    cr_assert_geq(now_s() - t0, 0.19, "waited the whole deadline");
    cr_assert_eq(nvme_pcie_wait_csts(regs, TERN_NVME_CSTS_RDY, 0, 200), 0, "already there");
    memset(regs + TERN_NVME_REG_CSTS, 0xff, 4);
    t0 = now_s();
    cr_assert_eq(nvme_pcie_wait_csts(regs, TERN_NVME_CSTS_RDY, 0, 5000), -ENODEV,
                 "all ones: no device");
    cr_assert_lt(now_s() - t0, 1.0, "a gone device does not wait out the deadline");
}
