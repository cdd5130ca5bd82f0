/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <criterion/criterion.h>

#include "tern_nvme.h"

static char why[256];

static bool
valid(const char *nqn)
{
    why[0] = '\0';
    return tern_nvmf_nqn_valid(nqn, TERN_NVMF_NQN_FIELD, why, sizeof(why));
}

Test(nqn, accepts_the_forms_hosts_use)
{
    cr_assert(valid("nqn.2016-06.io.spdk:cnode1"), "%s", why);
    cr_assert(valid(TERN_NVMF_DISCOVERY_NQN), "%s", why);
    cr_assert(valid("nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), "%s", why);
    cr_assert(valid("nqn.2024-01.com.example-corp.storage"), "%s", why);
    cr_assert(valid("nqn.2024-01.com.example:\xc3\xa9t\xc3\xa9"), "UTF-8 after ':' %s", why);
}

Test(nqn, refuses_malformed_names_and_says_why)
{
    char long_nqn[300];

    cr_assert_not(valid(""));
    cr_assert_not(valid("iqn.2016-06.io.spdk:x"));
    cr_assert(strstr(why, "nqn.") != NULL, "%s", why);
    cr_assert_not(valid("nqn.16-06.io.spdk:x"));
    cr_assert_not(valid("nqn.2016-13.io.spdk:x"));
    cr_assert(strstr(why, "month") != NULL, "%s", why);
    cr_assert_not(valid("nqn.2016-06io.spdk:x"));
    cr_assert_not(valid("nqn.2016-06.:x"));
    cr_assert_not(valid("nqn.2016-06.io..spdk:x"));
    cr_assert_not(valid("nqn.2016-06.1o.spdk:x"), "label starting with a digit");
    cr_assert_not(valid("nqn.2016-06.io.spdk-:x"), "label ending with '-'");
    cr_assert_not(valid("nqn.2016-06.io.sp_dk:x"));
    cr_assert_not(valid("nqn.2016-06.io.spdk:"));
    cr_assert_not(valid("nqn.2014-08.org.nvmexpress:uuid:not-a-uuid"));
    cr_assert_not(valid("nqn.2016-06.io.spdk:\xff"));
    cr_assert(strstr(why, "UTF-8") != NULL, "%s", why);
    cr_assert_not(valid("nqn.2016-06.io.spdk:\xc0\xaf"), "overlong UTF-8");
    memset(long_nqn, 'a', sizeof(long_nqn));
    memcpy(long_nqn, "nqn.2016-06.io.spdk:", 20);
    long_nqn[224] = '\0';
    cr_assert_not(valid(long_nqn));
    cr_assert(strstr(why, "223") != NULL, "%s", why);
    long_nqn[223] = '\0';
    cr_assert(valid(long_nqn), "exactly 223 bytes: %s", why);
}

Test(nqn, must_end_within_its_field)
{
    char field[TERN_NVMF_NQN_FIELD];

    memset(field, 'a', sizeof(field));
    cr_assert_not(tern_nvmf_nqn_valid(field, sizeof(field), why, sizeof(why)));
    cr_assert(strstr(why, "NUL") != NULL, "%s", why);
}

Test(status, encodes_like_the_completion_entry)
{
    uint16_t s = TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC, TERN_NVMF_SC_CONNECT_INVALID_HOST);
    char buf[32];

    cr_assert_eq(TERN_NVME_STATUS_SCT(s), 1);
    cr_assert_eq(TERN_NVME_STATUS_SC(s), 0x84);
    cr_assert_eq(tern_nvme_status_to_cqe(s, 1), (0x184 << 1) | 1);
    cr_assert_eq(tern_nvme_status_from_cqe(tern_nvme_status_to_cqe(s | TERN_NVME_STATUS_DNR, 0)),
                 s | TERN_NVME_STATUS_DNR);
    cr_assert(TERN_NVME_STATUS_IS_DNR(s | TERN_NVME_STATUS_DNR));
    cr_assert_str_eq(tern_nvme_status_name(s, buf, sizeof(buf)), "CONNECT_INVALID_HOST");
    cr_assert_str_eq(tern_nvme_status_name(0, buf, sizeof(buf)), "SUCCESS");
    cr_assert_str_eq(tern_nvme_status_name(TERN_NVME_STATUS(2, 0x85), buf, sizeof(buf)),
                     "COMPARE_FAILURE");
    cr_assert_str_eq(tern_nvme_status_name(TERN_NVME_STATUS(7, 0x99), buf, sizeof(buf)),
                     "sct 7 sc 0x99");
}

Test(names, cover_opcodes_and_pdus)
{
    cr_assert_str_eq(tern_nvme_admin_opc_name(TERN_NVME_OPC_IDENTIFY), "IDENTIFY");
    cr_assert_str_eq(tern_nvme_admin_opc_name(0xee), "UNKNOWN_ADMIN");
    cr_assert_str_eq(tern_nvme_io_opc_name(TERN_NVME_OPC_WRITE_ZEROES), "WRITE_ZEROES");
    cr_assert_str_eq(tern_nvmf_fctype_name(TERN_NVMF_FCTYPE_CONNECT), "CONNECT");
    cr_assert_str_eq(tern_nvme_tcp_pdu_name(TERN_NVME_TCP_R2T), "R2T");
    cr_assert_str_eq(tern_nvme_tcp_pdu_name(0x08), "UNKNOWN_PDU");
}

Test(fields, ascii_and_u128_and_command_fields)
{
    char sn[20];
    uint8_t c[16];
    struct tern_nvme_cmd cmd = { 0 };
    struct tern_nvme_sgl sgl = { 0 };

    tern_nvme_set_ascii(sn, sizeof(sn), "TERN0001");
    cr_assert_eq(memcmp(sn, "TERN0001            ", 20), 0);
    tern_nvme_set_ascii(sn, sizeof(sn), "0123456789012345678901234");
    cr_assert_eq(memcmp(sn, "01234567890123456789", 20), 0, "truncated, never NUL-terminated");
    tern_nvme_set_u128(c, 0x0102030405060708ull);
    cr_assert_eq(c[0], 0x08);
    cr_assert_eq(c[7], 0x01);
    cr_assert_eq(c[8], 0);

    cmd.cdw10 = 0x89abcdef;
    cmd.cdw11 = 0x01234567;
    cmd.cdw12 = 0x0007;
    cr_assert_eq(tern_nvme_io_slba(&cmd), 0x0123456789abcdefull);
    cr_assert_eq(tern_nvme_io_nlb(&cmd), 8, "NLB is 0's based");
    cmd.flags = 0x40;
    cr_assert_eq(tern_nvme_cmd_psdt(&cmd), TERN_NVME_PSDT_SGL_MPTR_CONTIG);
    /* Get Log Page: NUMDL=0x0003, NUMDU=1 -> (0x10003+1) dwords */
    cr_assert_eq(tern_nvme_glp_bytes(0x00030002, 0x1), (0x10003ull + 1) * 4);
    cr_assert_eq(tern_nvme_glp_offset(0x10, 0x1), 0x100000010ull);

    /* Keyed SGL: 24-bit length, 32-bit key, type 4 subtype F. */
    sgl.keyed.length[0] = 0x00;
    sgl.keyed.length[1] = 0x00;
    sgl.keyed.length[2] = 0x02;
    sgl.keyed.key[0] = 0x78;
    sgl.keyed.key[3] = 0x12;
    sgl.keyed.id = (TERN_NVME_SGL_KEYED_DATA_BLOCK << 4) | TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY;
    cr_assert_eq(tern_nvme_sgl_keyed_length(&sgl), 0x20000);
    cr_assert_eq(tern_nvme_sgl_key(&sgl), 0x12000078);
    cr_assert_eq(tern_nvme_sgl_type(&sgl), TERN_NVME_SGL_KEYED_DATA_BLOCK);
    cr_assert_eq(tern_nvme_sgl_subtype(&sgl), TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY);
    cr_assert_eq(tern_nvme_aer_cdw0(TERN_NVME_AER_TYPE_NOTICE, TERN_NVME_AER_INFO_NOTICE_NS_ATTR_CHANGED,
                                    TERN_NVME_LOG_CHANGED_NS_LIST), 0x040002);
}
