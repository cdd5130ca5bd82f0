/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe over Fabrics wire definitions: fabrics commands (Connect, Property
 * Get/Set, Disconnect), Connect data, discovery log page, transport and
 * address types, fabrics status codes. Section numbers refer to the NVM
 * Express Base Specification 2.0 ("Base") chapter 6 and the NVMe over Fabrics
 * parts it absorbed.
 */
#ifndef TERN_NVMF_SPEC_H
#define TERN_NVMF_SPEC_H

#include "tern_nvme_spec.h"

/* Fabrics command types (Base 6, Figure 540). */
enum tern_nvmf_fctype {
    TERN_NVMF_FCTYPE_PROPERTY_SET = 0x00,
    TERN_NVMF_FCTYPE_CONNECT = 0x01,
    TERN_NVMF_FCTYPE_PROPERTY_GET = 0x04,
    TERN_NVMF_FCTYPE_AUTH_SEND = 0x05,
    TERN_NVMF_FCTYPE_AUTH_RECV = 0x06,
    TERN_NVMF_FCTYPE_DISCONNECT = 0x08,
};

/* Common fabrics command layout (Base 6.1, Figure 539). */
struct tern_nvmf_cmd {
    uint8_t opcode;         /* 0x7f */
    uint8_t flags;
    uint16_t cid;
    uint8_t fctype;
    uint8_t rsvd5[19];
    struct tern_nvme_sgl sgl1;
    uint8_t specific[24];
};
TERN_NVME_CHECK(struct tern_nvmf_cmd, 64);
TERN_NVME_OFFSET(struct tern_nvmf_cmd, fctype, 4);
TERN_NVME_OFFSET(struct tern_nvmf_cmd, sgl1, 24);

/* Connect command (Base 6.3, Figure 547). */
struct tern_nvmf_connect_cmd {
    uint8_t opcode;
    uint8_t flags;
    uint16_t cid;
    uint8_t fctype;
    uint8_t rsvd5[19];
    struct tern_nvme_sgl sgl1;
    uint16_t recfmt;        /* record format: 0 */
    uint16_t qid;
    uint16_t sqsize;        /* 0's based */
    uint8_t cattr;          /* bit 2: I/O queue deletion; bits 1:0 priority */
    uint8_t rsvd47;
    uint32_t kato;          /* keep alive timeout, ms; admin queue only */
    uint8_t rsvd52[12];
};
TERN_NVME_CHECK(struct tern_nvmf_connect_cmd, 64);
TERN_NVME_OFFSET(struct tern_nvmf_connect_cmd, recfmt, 40);
TERN_NVME_OFFSET(struct tern_nvmf_connect_cmd, sqsize, 44);
TERN_NVME_OFFSET(struct tern_nvmf_connect_cmd, kato, 48);

#define TERN_NVMF_NQN_MAX_LEN 223       /* characters, without the NUL */
#define TERN_NVMF_NQN_FIELD 256

/* Connect data (Base 6.3, Figure 548). */
struct tern_nvmf_connect_data {
    uint8_t hostid[16];
    uint16_t cntlid;        /* FFFFh: dynamic controller; FFFEh: static any */
    uint8_t rsvd18[238];
    char subnqn[TERN_NVMF_NQN_FIELD];
    char hostnqn[TERN_NVMF_NQN_FIELD];
    uint8_t rsvd768[256];
};
TERN_NVME_CHECK(struct tern_nvmf_connect_data, 1024);
TERN_NVME_OFFSET(struct tern_nvmf_connect_data, cntlid, 16);
TERN_NVME_OFFSET(struct tern_nvmf_connect_data, subnqn, 256);
TERN_NVME_OFFSET(struct tern_nvmf_connect_data, hostnqn, 512);

#define TERN_NVMF_CNTLID_DYNAMIC 0xffff
#define TERN_NVMF_CNTLID_STATIC_ANY 0xfffe
/* Valid controller IDs are 1..FFEFh (Base 3.1.2.2.2 / 6.3). */
#define TERN_NVMF_CNTLID_MIN 0x0001
#define TERN_NVMF_CNTLID_MAX 0xffef

/* Connect response dword 0 on success: CNTLID 15:0, AUTHREQ 31:16. On
 * "Connect Invalid Parameters" it says where (Base Figure 549): IPO 15:0 is
 * the byte offset, IATTR bit 16 is 0 for the SQE, 1 for the Connect data. */
static inline uint32_t
tern_nvmf_connect_invalid_param(int in_data, uint16_t offset)
{
    return (uint32_t)offset | (in_data ? 1u << 16 : 0);
}

/* Property Get / Set (Base 6.5, 6.6, Figures 553-556). */
struct tern_nvmf_property_cmd {
    uint8_t opcode;
    uint8_t flags;
    uint16_t cid;
    uint8_t fctype;
    uint8_t rsvd5[35];
    uint8_t attrib;         /* bits 2:0 size: 0 = 4 bytes, 1 = 8 bytes */
    uint8_t rsvd41[3];
    uint32_t ofst;
    uint64_t value;         /* Property Set only */
    uint8_t rsvd56[8];
};
TERN_NVME_CHECK(struct tern_nvmf_property_cmd, 64);
TERN_NVME_OFFSET(struct tern_nvmf_property_cmd, attrib, 40);
TERN_NVME_OFFSET(struct tern_nvmf_property_cmd, ofst, 44);
TERN_NVME_OFFSET(struct tern_nvmf_property_cmd, value, 48);
#define TERN_NVMF_PROP_SIZE_4 0
#define TERN_NVMF_PROP_SIZE_8 1

/* Fabrics command-specific status codes (Base Figure 97, SCT 1). */
enum tern_nvmf_sc {
    TERN_NVMF_SC_INCOMPATIBLE_FORMAT = 0x80,
    TERN_NVMF_SC_CONTROLLER_BUSY = 0x81,
    TERN_NVMF_SC_CONNECT_INVALID_PARAMS = 0x82,
    TERN_NVMF_SC_CONNECT_RESTART_DISCOVERY = 0x83,
    TERN_NVMF_SC_CONNECT_INVALID_HOST = 0x84,
    TERN_NVMF_SC_INVALID_QUEUE_TYPE = 0x85,
    TERN_NVMF_SC_DISCOVER_RESTART = 0x90,
    TERN_NVMF_SC_AUTH_REQUIRED = 0x91,
};

/* Transport types, address families, subsystem types (Base 6, Figure 292 and
 * the discovery log entry). */
enum tern_nvmf_trtype {
    TERN_NVMF_TRTYPE_RDMA = 0x1,
    TERN_NVMF_TRTYPE_FC = 0x2,
    TERN_NVMF_TRTYPE_TCP = 0x3,
    TERN_NVMF_TRTYPE_INTRA_HOST = 0xfe,
};
enum tern_nvmf_adrfam {
    TERN_NVMF_ADRFAM_IPV4 = 0x1,
    TERN_NVMF_ADRFAM_IPV6 = 0x2,
    TERN_NVMF_ADRFAM_IB = 0x3,
    TERN_NVMF_ADRFAM_FC = 0x4,
    TERN_NVMF_ADRFAM_INTRA_HOST = 0xfe,
};
enum tern_nvmf_subtype {
    TERN_NVMF_SUBTYPE_DISCOVERY_REFERRAL = 0x1,
    TERN_NVMF_SUBTYPE_NVME = 0x2,
    TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT = 0x3,
};
/* TREQ: secure channel bits 1:0, SQ flow control disable bit 2. */
#define TERN_NVMF_TREQ_SECURE_NOT_SPECIFIED 0x0
#define TERN_NVMF_TREQ_SECURE_REQUIRED 0x1
#define TERN_NVMF_TREQ_SECURE_NOT_REQUIRED 0x2
#define TERN_NVMF_TREQ_DISABLE_SQFLOW 0x4

/* Transport specific address subtype (TSAS) for RDMA and TCP. */
union tern_nvmf_tsas {
    uint8_t raw[256];
    struct {
        uint8_t qptype;     /* 1: reliable connected */
        uint8_t prtype;     /* 1: none, 2: IB, 3: RoCE, 4: RoCEv2, 5: iWARP */
        uint8_t cms;        /* 1: RDMA_CM */
        uint8_t rsvd3[5];
        uint16_t pkey;
        uint8_t rsvd10[246];
    } rdma;
    struct {
        uint8_t sectype;    /* 0: none */
        uint8_t rsvd1[255];
    } tcp;
};
TERN_NVME_CHECK(union tern_nvmf_tsas, 256);
#define TERN_NVMF_RDMA_QPTYPE_RC 1
#define TERN_NVMF_RDMA_PRTYPE_NONE 1
#define TERN_NVMF_RDMA_CMS_RDMA_CM 1

/* Discovery log page entry (Base Figure 293). */
struct tern_nvmf_disc_entry {
    uint8_t trtype;
    uint8_t adrfam;
    uint8_t subtype;
    uint8_t treq;
    uint16_t portid;
    uint16_t cntlid;
    uint16_t asqsz;
    uint16_t eflags;
    uint8_t rsvd12[20];
    char trsvcid[32];
    uint8_t rsvd64[192];
    char subnqn[256];
    char traddr[256];
    union tern_nvmf_tsas tsas;
};
TERN_NVME_CHECK(struct tern_nvmf_disc_entry, 1024);
TERN_NVME_OFFSET(struct tern_nvmf_disc_entry, trsvcid, 32);
TERN_NVME_OFFSET(struct tern_nvmf_disc_entry, subnqn, 256);
TERN_NVME_OFFSET(struct tern_nvmf_disc_entry, traddr, 512);
TERN_NVME_OFFSET(struct tern_nvmf_disc_entry, tsas, 768);

/* Discovery log page header (Base Figure 292). */
struct tern_nvmf_disc_log_header {
    uint64_t genctr;
    uint64_t numrec;
    uint16_t recfmt;
    uint8_t rsvd18[1006];
};
TERN_NVME_CHECK(struct tern_nvmf_disc_log_header, 1024);

/* The well-known discovery subsystem NQN (Base 3.1.2.3.3). */
#define TERN_NVMF_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"

#endif /* TERN_NVMF_SPEC_H */
