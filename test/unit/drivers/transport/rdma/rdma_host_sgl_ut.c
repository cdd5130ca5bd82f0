/* SPDX-License-Identifier: BSD-3-Clause */
/* Where a host command's data goes over NVMe/RDMA: registered regions,
 * in-capsule SGEs, keyed descriptors, per-command registration. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rdma_host_sgl.h"

static uint8_t g_mem[65536];
static struct rdma_host_regions g_t;

static void
setup(void)
{
    memset(&g_t, 0, sizeof(g_t));
    /* Two regions: [0, 32 KiB) and [40 KiB, 64 KiB) of g_mem. */
    cr_assert_eq(rdma_host_region_add(&g_t, (uintptr_t)g_mem, 32768, 0x11, 0x21, NULL), 0);
    cr_assert_eq(rdma_host_region_add(&g_t, (uintptr_t)g_mem + 40960, 24576, 0x12, 0x22, NULL),
                 0);
}

TestSuite(rdma_host_sgl, .init = setup);

static struct tern_host_req
req(uint8_t xfer, uint32_t len, int n, ...)
{
    struct tern_host_req r;
    va_list ap;

    memset(&r, 0, sizeof(r));
    r.xfer = xfer;
    r.len = len;
    r.iovcnt = n;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        r.iov[i].iov_base = g_mem + va_arg(ap, int);
        r.iov[i].iov_len = (size_t)va_arg(ap, int);
    }
    va_end(ap);
    return r;
}

Test(rdma_host_sgl, region_lookup_edges)
{
    uintptr_t b = (uintptr_t)g_mem;

    cr_assert_eq(rdma_host_region_find(&g_t, b, 32768)->lkey, 0x11, "a whole region");
    cr_assert_eq(rdma_host_region_find(&g_t, b + 32767, 1)->lkey, 0x11, "its last byte");
    cr_assert_null(rdma_host_region_find(&g_t, b + 32767, 2), "one byte past its end");
    cr_assert_null(rdma_host_region_find(&g_t, b + 32768, 1), "the gap");
    cr_assert_null(rdma_host_region_find(&g_t, b - 1, 2), "one byte before");
    cr_assert_eq(rdma_host_region_find(&g_t, b + 40960, 4096)->lkey, 0x12);
    cr_assert_null(rdma_host_region_find(&g_t, b + 30000, 16384), "across two regions");
    cr_assert_null(rdma_host_region_find(&g_t, UINTPTR_MAX - 4, 8), "no wrap-around");
}

Test(rdma_host_sgl, region_table_bounds)
{
    struct rdma_host_regions t;

    memset(&t, 0, sizeof(t));
    cr_assert_null(rdma_host_region_find(&t, (uintptr_t)g_mem, 1));
    cr_assert_eq(rdma_host_region_add(&t, (uintptr_t)g_mem, 0, 1, 1, NULL), -EINVAL);
    for (int i = 0; i < RDMA_HOST_MAX_REGIONS; i++)
        cr_assert_eq(rdma_host_region_add(&t, (uintptr_t)g_mem + i, 1, 1, 1, NULL), 0);
    cr_assert_eq(rdma_host_region_add(&t, (uintptr_t)g_mem, 1, 1, 1, NULL), -ENOSPC);
}

Test(rdma_host_sgl, iov_span)
{
    struct tern_host_req r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 8192, 3, 0, 4096, 4096, 0, 4096,
                                 4096);
    uintptr_t a = 0;

    cr_assert(rdma_host_iov_span(r.iov, r.iovcnt, r.len, &a), "abutting pieces, one empty");
    cr_assert_eq(a, (uintptr_t)g_mem);
    r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 4096, 2, 100, 4096, 9000, 4096);
    cr_assert(rdma_host_iov_span(r.iov, r.iovcnt, r.len, &a), "bytes past len do not count");
    cr_assert_eq(a, (uintptr_t)g_mem + 100);
    r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 8192, 2, 0, 4096, 8192, 4096);
    cr_assert_not(rdma_host_iov_span(r.iov, r.iovcnt, r.len, &a), "a hole");
    r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 8192, 1, 0, 4096);
    cr_assert_not(rdma_host_iov_span(r.iov, r.iovcnt, r.len, &a), "too short");
}

Test(rdma_host_sgl, no_data_is_a_zero_keyed_block)
{
    struct tern_host_req r = req(TERN_NVME_XFER_NONE, 0, 0);
    struct rdma_host_plan p;
    struct tern_nvme_sgl s;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_NONE);
    cr_assert_eq(p.nsge, 0);
    cr_assert_not(p.need_mr);
    memset(&s, 0xff, sizeof(s));
    rdma_host_plan_sgl(&p, &s);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_KEYED_DATA_BLOCK);
    cr_assert_eq(s.address, 0);
    cr_assert_eq(tern_nvme_sgl_keyed_length(&s), 0);
    cr_assert_eq(tern_nvme_sgl_key(&s), 0);
}

Test(rdma_host_sgl, small_write_in_a_region_goes_in_capsule_without_copy)
{
    struct tern_host_req r = req(TERN_NVME_XFER_HOST_TO_CTRLR, 4096, 1, 8192, 4096);
    struct rdma_host_plan p;
    struct tern_nvme_sgl s;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_INCAPSULE);
    cr_assert_not(p.need_mr);
    cr_assert_eq(p.nsge, 1);
    cr_assert_eq(p.sge[0].addr, (uintptr_t)g_mem + 8192);
    cr_assert_eq(p.sge[0].len, 4096);
    cr_assert_eq(p.sge[0].lkey, 0x11);
    rdma_host_plan_sgl(&p, &s);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_DATA_BLOCK);
    cr_assert_eq(tern_nvme_sgl_subtype(&s), TERN_NVME_SGL_SUBTYPE_OFFSET);
    cr_assert_eq(s.unkeyed.length, 4096);
    cr_assert_eq(s.address, 0);
}

Test(rdma_host_sgl, write_over_icd_or_on_the_admin_queue_is_keyed)
{
    struct tern_host_req r = req(TERN_NVME_XFER_HOST_TO_CTRLR, 8192, 1, 0, 8192);
    struct rdma_host_plan p;
    struct tern_nvme_sgl s;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_KEYED);
    r.len = 512;
    cr_assert_eq(rdma_host_plan(&g_t, &r, 0, 16, &p, why, sizeof(why)), 0, "icd_max 0");
    cr_assert_eq(p.kind, RDMA_HOST_DATA_KEYED);
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 0, &p, why, sizeof(why)), 0, "no data SGE");
    cr_assert_eq(p.kind, RDMA_HOST_DATA_KEYED);
    rdma_host_plan_sgl(&p, &s);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_KEYED_DATA_BLOCK);
    cr_assert_eq(tern_nvme_sgl_subtype(&s), TERN_NVME_SGL_SUBTYPE_ADDRESS);
    cr_assert_eq(s.address, (uintptr_t)g_mem);
    cr_assert_eq(tern_nvme_sgl_keyed_length(&s), 512);
    cr_assert_eq(tern_nvme_sgl_key(&s), 0x21);
}

Test(rdma_host_sgl, read_is_keyed_with_the_regions_rkey)
{
    struct tern_host_req r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 131072 / 8, 2, 40960, 8192,
                                 49152, 8192);
    struct rdma_host_plan p;
    struct tern_nvme_sgl s;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_KEYED, "reads never go in-capsule");
    cr_assert_not(p.need_mr);
    rdma_host_plan_sgl(&p, &s);
    cr_assert_eq(s.address, (uintptr_t)g_mem + 40960, "two abutting pieces, one descriptor");
    cr_assert_eq(tern_nvme_sgl_keyed_length(&s), 16384);
    cr_assert_eq(tern_nvme_sgl_key(&s), 0x22);
}

Test(rdma_host_sgl, memory_in_no_region_gets_a_registration_of_its_own)
{
    static uint8_t other[4096];
    struct tern_host_req r;
    struct rdma_host_plan p;
    struct tern_nvme_sgl s;
    char why[128];

    memset(&r, 0, sizeof(r));
    r.xfer = TERN_NVME_XFER_CTRLR_TO_HOST;
    r.len = 4096;
    r.iovcnt = 1;
    r.iov[0].iov_base = other;
    r.iov[0].iov_len = 4096;
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert(p.need_mr);
    cr_assert_eq(p.span, (uintptr_t)other);
    rdma_host_plan_use_mr(&p, 0x77, 0x88);
    rdma_host_plan_sgl(&p, &s);
    cr_assert_eq(tern_nvme_sgl_key(&s), 0x88);
    /* The same for in-capsule data: the SGE takes the new lkey. */
    r.xfer = TERN_NVME_XFER_HOST_TO_CTRLR;
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_INCAPSULE);
    cr_assert(p.need_mr);
    rdma_host_plan_use_mr(&p, 0x77, 0x88);
    cr_assert_eq(p.sge[0].lkey, 0x77);
    /* A range that runs off the end of a region is not in it. */
    r = req(TERN_NVME_XFER_CTRLR_TO_HOST, 8192, 1, 28672, 8192);
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0);
    cr_assert(p.need_mr);
}

Test(rdma_host_sgl, scattered_pieces)
{
    struct tern_host_req r = req(TERN_NVME_XFER_HOST_TO_CTRLR, 2048, 2, 0, 1024, 40960, 1024);
    struct rdma_host_plan p;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(p.kind, RDMA_HOST_DATA_INCAPSULE, "in-capsule: one SGE per piece");
    cr_assert_eq(p.nsge, 2);
    cr_assert_eq(p.sge[0].lkey, 0x11);
    cr_assert_eq(p.sge[1].lkey, 0x12);
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 1, &p, why, sizeof(why)), -EINVAL,
                 "more pieces than SGEs");
    cr_assert(strstr(why, "2 pieces"), "%s", why);
    r.xfer = TERN_NVME_XFER_CTRLR_TO_HOST;
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), -EINVAL,
                 "one keyed descriptor only");
    cr_assert(strstr(why, "one contiguous range"), "%s", why);
    r = req(TERN_NVME_XFER_HOST_TO_CTRLR, 2048, 2, 0, 1024, 36864, 1024);
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), -EINVAL,
                 "a scattered piece in no region");
}

Test(rdma_host_sgl, refused_transfers)
{
    struct tern_host_req r = req(TERN_NVME_XFER_BIDIRECTIONAL, 512, 1, 0, 512);
    struct rdma_host_plan p;
    char why[128];

    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "bidirectional"), "%s", why);
    r.xfer = TERN_NVME_XFER_CTRLR_TO_HOST;
    r.len = TERN_RDMA_KEYED_LEN_MAX + 1;
    r.iov[0].iov_len = r.len;
    cr_assert_eq(rdma_host_plan(&g_t, &r, 4096, 16, &p, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "24-bit"), "%s", why);
}
