/* SPDX-License-Identifier: BSD-3-Clause */
/* The NVMe/TCP header, SGL and digest checks the target runs on every PDU. */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_pdu.h"

static struct tern_nvme_tcp_ch
ch(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen)
{
    struct tern_nvme_tcp_ch c = { .pdu_type = type, .flags = flags, .hlen = hlen, .pdo = pdo,
                                  .plen = plen };
    return c;
}

static bool
check(struct tern_nvme_tcp_ch c, enum tcp_pdu_phase ph, bool hd, bool dd, struct tcp_pdu_layout *l,
      uint16_t *fes, uint32_t *fei)
{
    return tcp_pdu_check_ch(&c, ph, hd, dd, 0, 8192, l, fes, fei);
}

Test(tcp_pdu, crc32c_check_value)
{
    /* The standard CRC32C check value, and an incremental update. */
    cr_assert_eq(tcp_crc32c("123456789", 9), 0xe3069283u);
    uint32_t s = tcp_crc32c_update(TCP_CRC32C_INIT, "1234", 4);
    s = tcp_crc32c_update(s, "56789", 5);
    cr_assert_eq(TCP_CRC32C_FINAL(s), 0xe3069283u);
    cr_assert_eq(tcp_crc32c("", 0), 0u);
}

Test(tcp_pdu, icreq_only_first)
{
    struct tcp_pdu_layout l;
    uint16_t fes;
    uint32_t fei;

    cr_assert(check(ch(TERN_NVME_TCP_ICREQ, 0, 128, 0, 128), TCP_PHASE_ICREQ, 0, 0, &l, &fes, &fei));
    cr_assert_eq(l.hdr_len, 128);
    cr_assert_not(check(ch(TERN_NVME_TCP_ICREQ, 0, 128, 0, 128), TCP_PHASE_RUNNING, 0, 0, &l, &fes,
                        &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR);
    cr_assert_not(check(ch(TERN_NVME_TCP_CAPSULE_CMD, 0, 72, 0, 72), TCP_PHASE_ICREQ, 0, 0, &l,
                        &fes, &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR);
    /* ICReq with a header digest flag, or a wrong length. */
    cr_assert_not(check(ch(TERN_NVME_TCP_ICREQ, TERN_NVME_TCP_FLAG_HDGSTF, 128, 0, 128),
                        TCP_PHASE_ICREQ, 1, 0, &l, &fes, &fei));
    cr_assert_not(check(ch(TERN_NVME_TCP_ICREQ, 0, 128, 0, 132), TCP_PHASE_ICREQ, 0, 0, &l, &fes,
                        &fei));
    cr_assert_eq(fei, 4u);
}

Test(tcp_pdu, capsule_layouts)
{
    struct tcp_pdu_layout l;
    uint16_t fes;
    uint32_t fei;

    /* No data. */
    cr_assert(check(ch(4, 0, 72, 0, 72), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(l.data_len, 0);
    /* In-capsule data with both digests: 72 + 4 header, data, 4 digest. */
    cr_assert(check(ch(4, 3, 72, 76, 76 + 512 + 4), TCP_PHASE_RUNNING, 1, 1, &l, &fes, &fei));
    cr_assert_eq(l.hdr_len, 76);
    cr_assert_eq(l.data_len, 512);
    cr_assert(l.ddgst);
    /* Padding before PDO is allowed and reported. */
    cr_assert(check(ch(4, 0, 72, 128, 128 + 64), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(l.pad, 56);
    /* Header digest negotiated but flag missing. */
    cr_assert_not(check(ch(4, 0, 72, 0, 76), TCP_PHASE_RUNNING, 1, 0, &l, &fes, &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD);
    cr_assert_eq(fei, 1u);
    /* Wrong HLEN. */
    cr_assert_not(check(ch(4, 0, 80, 0, 80), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(fei, 2u);
    /* PDO inside the header. */
    cr_assert_not(check(ch(4, 0, 72, 40, 200), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(fei, 3u);
    /* PLEN shorter than the header. */
    cr_assert_not(check(ch(4, 0, 72, 0, 10), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(fei, 4u);
    /* Data digest flag without data digests negotiated. */
    cr_assert_not(check(ch(4, 2, 72, 72, 72 + 16 + 4), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    /* More in-capsule data than the limit (8192 here). */
    cr_assert_not(check(ch(4, 0, 72, 72, 72 + 8196), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_R2T_LIMIT_EXCEEDED);
    /* PLEN with room for the digest but not for data. */
    cr_assert_not(check(ch(4, 2, 72, 72, 76), TCP_PHASE_RUNNING, 0, 1, &l, &fes, &fei));
}

Test(tcp_pdu, h2c_data_and_term_req)
{
    struct tcp_pdu_layout l;
    uint16_t fes;
    uint32_t fei;

    cr_assert(check(ch(6, 4, 24, 24, 24 + 4096), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(l.data_len, 4096);
    /* H2CData without data. */
    cr_assert_not(check(ch(6, 4, 24, 0, 24), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    /* Term requests carry at most 128 bytes, never digests. */
    cr_assert(check(ch(2, 0, 24, 0, 24 + 72), TCP_PHASE_RUNNING, 1, 1, &l, &fes, &fei));
    cr_assert_eq(l.data_len, 72);
    cr_assert_not(check(ch(2, 0, 24, 0, 24 + 129), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    /* Controller-to-host types from a host. */
    cr_assert_not(check(ch(5, 0, 24, 0, 24), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
    cr_assert_eq(fei, 0u);
    cr_assert_not(check(ch(9, 0, 24, 0, 24), TCP_PHASE_RUNNING, 0, 0, &l, &fes, &fei));
}

static struct tern_nvme_cmd
cmd(uint8_t opc, uint8_t type, uint8_t sub, uint64_t addr, uint32_t len)
{
    struct tern_nvme_cmd c;

    memset(&c, 0, sizeof(c));
    c.opc = opc;
    c.flags = TERN_NVME_PSDT_SGL_MPTR_CONTIG << 6;
    c.dptr.sgl1.address = addr;
    c.dptr.sgl1.unkeyed.length = len;
    c.dptr.sgl1.unkeyed.id = (uint8_t)(type << 4 | sub);
    return c;
}

Test(tcp_pdu, sgl_kinds)
{
    enum tcp_sgl_kind k;
    uint32_t len;
    struct tern_nvme_cmd c;

    c = cmd(TERN_NVME_OPC_WRITE, 0, 1, 0, 4096);
    cr_assert_eq(tcp_sgl_parse(&c, tern_nvme_cmd_xfer(&c), 4096, 131072, &k, &len), 0);
    cr_assert_eq(k, TCP_SGL_IN_CAPSULE);
    cr_assert_eq(len, 4096);
    /* A zero-length in-capsule block is no data (the fuzzer found the
     * receiver waiting forever for zero bytes). */
    c = cmd(TERN_NVME_OPC_WRITE, 0, 1, 0, 0);
    cr_assert_eq(tcp_sgl_parse(&c, tern_nvme_cmd_xfer(&c), 0, 131072, &k, &len), 0);
    cr_assert_eq(k, TCP_SGL_NONE);
    c = cmd(TERN_NVME_OPC_WRITE, 0, 1, 0, 4096);
    /* In-capsule SGL whose length disagrees with the capsule. */
    cr_assert_neq(tcp_sgl_parse(&c, tern_nvme_cmd_xfer(&c), 512, 131072, &k, &len), 0);
    /* In-capsule data for a read. */
    c = cmd(TERN_NVME_OPC_READ, 0, 1, 0, 512);
    cr_assert_neq(tcp_sgl_parse(&c, tern_nvme_cmd_xfer(&c), 512, 131072, &k, &len), 0);
    /* Transport data block: R2T or C2HData. */
    c = cmd(TERN_NVME_OPC_READ, 5, 0xa, 0, 131072);
    cr_assert_eq(tcp_sgl_parse(&c, tern_nvme_cmd_xfer(&c), 0, 131072, &k, &len), 0);
    cr_assert_eq(k, TCP_SGL_TRANSPORT);
    /* Over max_io_size. */
    c = cmd(TERN_NVME_OPC_READ, 5, 0xa, 0, 131073);
    cr_assert_eq(TERN_NVME_STATUS_SC(tcp_sgl_parse(&c, 2, 0, 131072, &k, &len)),
                 TERN_NVME_SC_DATA_SGL_LENGTH_INVALID);
    /* Keyed SGL (RDMA's) on TCP. */
    c = cmd(TERN_NVME_OPC_READ, 4, 0, 0, 512);
    cr_assert_eq(TERN_NVME_STATUS_SC(tcp_sgl_parse(&c, 2, 0, 131072, &k, &len)),
                 TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
    /* PRPs are not for fabrics. */
    c = cmd(TERN_NVME_OPC_READ, 5, 0xa, 0, 512);
    c.flags = 0;
    cr_assert_neq(tcp_sgl_parse(&c, 2, 0, 131072, &k, &len), 0);
    /* Fabrics commands take their direction from FCTYPE. */
    c = cmd(TERN_NVME_OPC_FABRICS, 0, 1, 0, 1024);
    ((struct tern_nvmf_cmd *)&c)->fctype = TERN_NVMF_FCTYPE_CONNECT;
    cr_assert_eq(tern_nvme_cmd_xfer(&c), TERN_NVME_XFER_HOST_TO_CTRLR);
    ((struct tern_nvmf_cmd *)&c)->fctype = TERN_NVMF_FCTYPE_PROPERTY_GET;
    cr_assert_eq(tern_nvme_cmd_xfer(&c), TERN_NVME_XFER_NONE);
}

/* The host half's phases: controller-to-host PDUs only. */
Test(tcp_pdu, host_side_pdus)
{
    struct tcp_pdu_layout l;
    uint16_t fes;
    uint32_t fei;

    cr_assert(check(ch(TERN_NVME_TCP_ICRESP, 0, 128, 0, 128), TCP_PHASE_ICRESP, 0, 0, &l, &fes,
                    &fei));
    /* ICResp again once running: out of sequence. */
    cr_assert_not(check(ch(TERN_NVME_TCP_ICRESP, 0, 128, 0, 128), TCP_PHASE_HOST, 0, 0, &l, &fes,
                        &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR);
    /* A host's own PDU type arriving at the host: a bad type. */
    cr_assert_not(check(ch(TERN_NVME_TCP_CAPSULE_CMD, 0, 72, 0, 72), TCP_PHASE_HOST, 0, 0, &l,
                        &fes, &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD);
    cr_assert_eq(fei, offsetof(struct tern_nvme_tcp_ch, pdu_type));
    /* And a controller's at the target. */
    cr_assert_not(check(ch(TERN_NVME_TCP_CAPSULE_RESP, 0, 24, 0, 24), TCP_PHASE_RUNNING, 0, 0, &l,
                        &fes, &fei));
    cr_assert_eq(fes, TERN_NVME_TCP_FES_INVALID_HEADER_FIELD);
    cr_assert(check(ch(TERN_NVME_TCP_CAPSULE_RESP, 0, 24, 0, 24), TCP_PHASE_HOST, 0, 0, &l, &fes,
                    &fei));
    cr_assert(check(ch(TERN_NVME_TCP_R2T, TERN_NVME_TCP_FLAG_HDGSTF, 24, 0, 28), TCP_PHASE_HOST, 1,
                    0, &l, &fes, &fei));
    cr_assert_eq(l.hdr_len, 28);
    /* C2HData with header and data digests, data at PDO 28. */
    cr_assert(check(ch(TERN_NVME_TCP_C2H_DATA, TERN_NVME_TCP_FLAG_HDGSTF | TERN_NVME_TCP_FLAG_DDGSTF,
                       24, 28, 28 + 512 + 4),
                    TCP_PHASE_HOST, 1, 1, &l, &fes, &fei));
    cr_assert_eq(l.data_len, 512);
    cr_assert(l.ddgst);
    /* C2HData without data is malformed. */
    cr_assert_not(check(ch(TERN_NVME_TCP_C2H_DATA, 0, 24, 0, 24), TCP_PHASE_HOST, 0, 0, &l, &fes,
                        &fei));
    /* A C2HTermReq may come before the ICResp; an H2CTermReq never at the host. */
    cr_assert(check(ch(TERN_NVME_TCP_C2H_TERM_REQ, 0, 24, 0, 24 + 8), TCP_PHASE_ICRESP, 0, 0, &l,
                    &fes, &fei));
    cr_assert_eq(l.data_len, 8);
    cr_assert_not(check(ch(TERN_NVME_TCP_H2C_TERM_REQ, 0, 24, 0, 24), TCP_PHASE_HOST, 0, 0, &l,
                        &fes, &fei));
}
