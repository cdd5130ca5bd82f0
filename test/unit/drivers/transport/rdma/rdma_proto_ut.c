/* SPDX-License-Identifier: BSD-3-Clause */
/* The NVMe/RDMA CM private data: the host's request, the controller's
 * accept and reject as the host reads them, and the in-capsule SGL. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rdma_proto.h"

Test(rdma_proto, admin_request_asks_for_a_dynamic_controller)
{
    struct tern_rdma_cm_req r;
    uint8_t raw[32];

    memset(&r, 0xa5, sizeof(r));
    tern_rdma_cm_req_init(&r, 0, 32, 7);
    memcpy(raw, &r, sizeof(raw));
    /* Little-endian wire layout: RECFMT, QID, HRQSIZE, HSQSIZE, CNTLID. */
    cr_assert_eq(raw[0] | raw[1] << 8, 0);
    cr_assert_eq(raw[2] | raw[3] << 8, 0);
    cr_assert_eq(raw[4] | raw[5] << 8, 32, "HRQSIZE is the queue's depth");
    cr_assert_eq(raw[6] | raw[7] << 8, 31, "HSQSIZE is 0's based");
    cr_assert_eq(raw[8] | raw[9] << 8, 0xffff, "admin queue: cntlid 0xffff whatever is passed");
    for (int i = 10; i < 32; i++)
        cr_assert_eq(raw[i], 0, "reserved byte %d", i);
}

Test(rdma_proto, io_request_carries_the_controller_id)
{
    struct tern_rdma_cm_req r;

    tern_rdma_cm_req_init(&r, 3, 128, 5);
    cr_assert_eq(r.qid, 3);
    cr_assert_eq(r.hrqsize, 128);
    cr_assert_eq(r.hsqsize, 127);
    cr_assert_eq(r.cntlid, 5);
}

Test(rdma_proto, accept_gives_crqsize)
{
    uint8_t pd[196] = {0, 0, 0x80, 0};      /* the CM pads the field with zeros */
    uint16_t crq = 0;
    char why[128] = "";

    cr_assert_eq(tern_rdma_cm_rep_parse(pd, sizeof(pd), &crq, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(crq, 128);
    cr_assert_eq(tern_rdma_cm_rep_parse(pd, 4, &crq, why, sizeof(why)), 0, "4 bytes are enough");
}

Test(rdma_proto, bad_accepts_are_refused_with_a_reason)
{
    uint8_t pd[32] = {0};
    uint16_t crq = 99;
    char why[128];

    cr_assert_eq(tern_rdma_cm_rep_parse(NULL, 0, &crq, why, sizeof(why)), -EPROTO);
    cr_assert(strstr(why, "without NVMe/RDMA private data"), "%s", why);
    cr_assert_eq(tern_rdma_cm_rep_parse(pd, 3, &crq, why, sizeof(why)), -EPROTO);
    cr_assert(strstr(why, "3 bytes"), "%s", why);
    pd[0] = 1;
    pd[2] = 8;
    cr_assert_eq(tern_rdma_cm_rep_parse(pd, sizeof(pd), &crq, why, sizeof(why)), -EPROTO);
    cr_assert(strstr(why, "record format 1"), "%s", why);
    pd[0] = 0;
    pd[2] = 0;
    cr_assert_eq(tern_rdma_cm_rep_parse(pd, sizeof(pd), &crq, why, sizeof(why)), -EPROTO);
    cr_assert(strstr(why, "CRQSIZE 0"), "%s", why);
    cr_assert_eq(crq, 99, "nothing written on failure");
}

Test(rdma_proto, every_reject_status_has_a_name)
{
    for (uint16_t s = TERN_RDMA_CM_INVALID_PRIVATE_DATA_LENGTH; s <= TERN_RDMA_CM_INVALID_ORD; s++)
        cr_assert_not_null(tern_rdma_cm_rej_sts_str(s), "status %u", s);
    cr_assert_str_eq(tern_rdma_cm_rej_sts_str(TERN_RDMA_CM_INVALID_HSQSIZE), "invalid HSQSIZE");
    cr_assert_null(tern_rdma_cm_rej_sts_str(0));
    cr_assert_null(tern_rdma_cm_rej_sts_str(9));
}

Test(rdma_proto, reject_is_described_from_the_status_or_the_cm_reason)
{
    uint8_t pd[148] = {0, 0, TERN_RDMA_CM_INVALID_HSQSIZE, 0};
    char buf[160];

    tern_rdma_cm_rej_describe(TERN_RDMA_CM_REJ_CONSUMER_DEFINED, pd, sizeof(pd), buf, sizeof(buf));
    cr_assert_str_eq(buf, "the controller rejected it: invalid HSQSIZE (NVMe/RDMA status 0x4)");
    pd[2] = 0x42;
    tern_rdma_cm_rej_describe(TERN_RDMA_CM_REJ_CONSUMER_DEFINED, pd, sizeof(pd), buf, sizeof(buf));
    cr_assert_str_eq(buf, "the controller rejected it: NVMe/RDMA status 0x42");
    pd[0] = 2;
    tern_rdma_cm_rej_describe(TERN_RDMA_CM_REJ_CONSUMER_DEFINED, pd, sizeof(pd), buf, sizeof(buf));
    cr_assert(strstr(buf, "record format 2"), "%s", buf);
    tern_rdma_cm_rej_describe(TERN_RDMA_CM_REJ_CONSUMER_DEFINED, NULL, 0, buf, sizeof(buf));
    cr_assert(strstr(buf, "without an NVMe/RDMA status"), "%s", buf);
    tern_rdma_cm_rej_describe(TERN_RDMA_CM_REJ_INVALID_SERVICE_ID, NULL, 0, buf, sizeof(buf));
    cr_assert(strstr(buf, "nothing listens"), "%s", buf);
    tern_rdma_cm_rej_describe(3, NULL, 0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "CM reject reason 3");
    tern_rdma_cm_rej_describe(-ECONNREFUSED, NULL, 0, buf, sizeof(buf));
    cr_assert(strstr(buf, "status -111") && strstr(buf, "refused"), "%s", buf);
}

Test(rdma_proto, incapsule_sgl_is_an_offset_data_block)
{
    struct tern_nvme_sgl s;

    memset(&s, 0xff, sizeof(s));
    tern_rdma_sgl_set_incapsule(&s, 4096);
    cr_assert_eq(s.address, 0);
    cr_assert_eq(s.unkeyed.length, 4096);
    cr_assert_eq(tern_nvme_sgl_type(&s), TERN_NVME_SGL_DATA_BLOCK);
    cr_assert_eq(tern_nvme_sgl_subtype(&s), TERN_NVME_SGL_SUBTYPE_OFFSET);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s.unkeyed.reserved[i], 0);
}
