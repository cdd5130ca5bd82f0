/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP PDUs (NVM Express TCP Transport Specification 1.0, "TCP").
 * Headers only; digests (CRC32C) follow the header or the data when
 * negotiated. Sizes and offsets are checked at compile time.
 */
#ifndef TERN_NVME_TCP_SPEC_H
#define TERN_NVME_TCP_SPEC_H

#include "tern_nvme_spec.h"

/* PDU types (TCP 3.6.1, Figure 19). */
enum tern_nvme_tcp_pdu_type {
    TERN_NVME_TCP_ICREQ = 0x00,
    TERN_NVME_TCP_ICRESP = 0x01,
    TERN_NVME_TCP_H2C_TERM_REQ = 0x02,
    TERN_NVME_TCP_C2H_TERM_REQ = 0x03,
    TERN_NVME_TCP_CAPSULE_CMD = 0x04,
    TERN_NVME_TCP_CAPSULE_RESP = 0x05,
    TERN_NVME_TCP_H2C_DATA = 0x06,
    TERN_NVME_TCP_C2H_DATA = 0x07,
    TERN_NVME_TCP_R2T = 0x09,
};

/* Common header flags (TCP 3.6.1, Figure 20). */
#define TERN_NVME_TCP_FLAG_HDGSTF 0x01
#define TERN_NVME_TCP_FLAG_DDGSTF 0x02
#define TERN_NVME_TCP_FLAG_LAST_PDU 0x04    /* H2CData / C2HData */
#define TERN_NVME_TCP_FLAG_SUCCESS 0x08     /* C2HData: no CapsuleResp follows */

#define TERN_NVME_TCP_DIGEST_LEN 4
#define TERN_NVME_TCP_PFV_1_0 0x0000
/* ICReq DGST bits. */
#define TERN_NVME_TCP_DGST_HDR 0x01
#define TERN_NVME_TCP_DGST_DATA 0x02

/* Common header (TCP 3.6.1, Figure 18). */
struct tern_nvme_tcp_ch {
    uint8_t pdu_type;
    uint8_t flags;
    uint8_t hlen;           /* PDU header length, without the header digest */
    uint8_t pdo;            /* PDU data offset: where the data starts */
    uint32_t plen;          /* the whole PDU, digests and padding included */
};
TERN_NVME_CHECK(struct tern_nvme_tcp_ch, 8);

/* ICReq (TCP 3.6.2.2, Figure 26). */
struct tern_nvme_tcp_icreq {
    struct tern_nvme_tcp_ch ch;
    uint16_t pfv;
    uint8_t hpda;           /* host PDU data alignment, 4-byte units, 0's based */
    uint8_t dgst;
    uint32_t maxr2t;        /* 0's based */
    uint8_t rsvd16[112];
};
TERN_NVME_CHECK(struct tern_nvme_tcp_icreq, 128);
TERN_NVME_OFFSET(struct tern_nvme_tcp_icreq, maxr2t, 12);

/* ICResp (TCP 3.6.2.3, Figure 27). */
struct tern_nvme_tcp_icresp {
    struct tern_nvme_tcp_ch ch;
    uint16_t pfv;
    uint8_t cpda;           /* controller PDU data alignment */
    uint8_t dgst;
    uint32_t maxh2cdata;    /* bytes, multiple of 4, >= 4096 */
    uint8_t rsvd16[112];
};
TERN_NVME_CHECK(struct tern_nvme_tcp_icresp, 128);

/* H2CTermReq / C2HTermReq (TCP 3.6.2.4-5, Figures 28-31). */
struct tern_nvme_tcp_term_req {
    struct tern_nvme_tcp_ch ch;
    uint16_t fes;
    uint8_t fei[4];         /* little-endian, unaligned */
    uint8_t rsvd14[10];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_tcp_term_req, 24);
/* A termination request carries at most this much of the offending header. */
#define TERN_NVME_TCP_TERM_REQ_MAX_DATA 128
enum tern_nvme_tcp_fes {
    TERN_NVME_TCP_FES_INVALID_HEADER_FIELD = 0x01,
    TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR = 0x02,
    TERN_NVME_TCP_FES_HDGST_ERROR = 0x03,
    TERN_NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
    TERN_NVME_TCP_FES_R2T_LIMIT_EXCEEDED = 0x05,    /* "data transfer limit exceeded" */
    TERN_NVME_TCP_FES_UNSUPPORTED_PARAMETER = 0x06,
};

/* CapsuleCmd (TCP 3.6.2.6, Figure 32): the SQE, then in-capsule data. */
struct tern_nvme_tcp_cmd {
    struct tern_nvme_tcp_ch ch;
    struct tern_nvme_cmd sqe;
};
TERN_NVME_CHECK(struct tern_nvme_tcp_cmd, 72);

/* CapsuleResp (TCP 3.6.2.7, Figure 33). */
struct tern_nvme_tcp_rsp {
    struct tern_nvme_tcp_ch ch;
    struct tern_nvme_cpl cqe;
};
TERN_NVME_CHECK(struct tern_nvme_tcp_rsp, 24);

/* H2CData and C2HData (TCP 3.6.2.8-9, Figures 34-35). */
struct tern_nvme_tcp_data {
    struct tern_nvme_tcp_ch ch;
    uint16_t cccid;
    uint16_t ttag;          /* H2CData: from the R2T; C2HData: reserved */
    uint32_t datao;
    uint32_t datal;
    uint8_t rsvd20[4];
};
TERN_NVME_CHECK(struct tern_nvme_tcp_data, 24);

/* R2T (TCP 3.6.2.10, Figure 36). */
struct tern_nvme_tcp_r2t {
    struct tern_nvme_tcp_ch ch;
    uint16_t cccid;
    uint16_t ttag;
    uint32_t r2to;
    uint32_t r2tl;
    uint8_t rsvd20[4];
};
TERN_NVME_CHECK(struct tern_nvme_tcp_r2t, 24);

/* The TSAS "security type" and the SGL the host uses for in-capsule data
 * (TCP 3.3: the command's SGL1 is a transport SGL data block descriptor,
 * or a data block with offset addressing for in-capsule data). */
#define TERN_NVME_TCP_SECTYPE_NONE 0

#endif /* TERN_NVME_TCP_SPEC_H */
