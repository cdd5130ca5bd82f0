/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA wire definitions shared by the target and host halves
 * (NVM Express over Fabrics 1.1, section 7.3 "RDMA Transport", and the
 * NVMe/RDMA transport binding): the RDMA_CM private data of the connect
 * request, accept and reject, and the capsule sizes.
 */
#ifndef TERN_RDMA_PROTO_H
#define TERN_RDMA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tern_nvme_spec.h"

/* Record format of the private data (the only one defined). */
#define TERN_RDMA_CM_RECFMT 0

/* RDMA_CM REQUEST private data, host to controller (32 bytes). */
struct tern_rdma_cm_req {
    uint16_t recfmt;
    uint16_t qid;
    uint16_t hrqsize;       /* host receive queue size: responses it can take */
    uint16_t hsqsize;       /* host send queue size, 0's based (Connect SQSIZE) */
    uint16_t cntlid;        /* 0xffff for the admin queue of a dynamic controller */
    uint8_t reserved[22];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_rdma_cm_req, 32);

/* RDMA_CM ACCEPT private data, controller to host (32 bytes). */
struct tern_rdma_cm_rep {
    uint16_t recfmt;
    uint16_t crqsize;       /* controller receive queue size: commands it can take */
    uint8_t reserved[28];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_rdma_cm_rep, 32);

/* RDMA_CM REJECT private data, controller to host. */
struct tern_rdma_cm_rej {
    uint16_t recfmt;
    uint16_t sts;           /* enum tern_rdma_cm_rej_sts */
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_rdma_cm_rej, 4);

enum tern_rdma_cm_rej_sts {
    TERN_RDMA_CM_INVALID_PRIVATE_DATA_LENGTH = 0x01,
    TERN_RDMA_CM_INVALID_RECFMT = 0x02,
    TERN_RDMA_CM_INVALID_QID = 0x03,
    TERN_RDMA_CM_INVALID_HSQSIZE = 0x04,
    TERN_RDMA_CM_INVALID_HRQSIZE = 0x05,
    TERN_RDMA_CM_NO_RESOURCES = 0x06,
    TERN_RDMA_CM_INVALID_IRD = 0x07,
    TERN_RDMA_CM_INVALID_ORD = 0x08,
};

/* A command capsule is the 64-byte SQE followed by in-capsule data; a
 * response capsule is the 16-byte CQE alone. */
#define TERN_RDMA_CMD_CAPSULE_MIN 64u
#define TERN_RDMA_RSP_CAPSULE 16u

/* The 24-bit length field of a keyed SGL data block descriptor. */
#define TERN_RDMA_KEYED_LEN_MAX 0xffffffu

static inline void
tern_rdma_sgl_set_keyed(struct tern_nvme_sgl *s, uint64_t addr, uint32_t len, uint32_t key,
                        uint8_t subtype)
{
    s->address = addr;
    s->keyed.length[0] = (uint8_t)len;
    s->keyed.length[1] = (uint8_t)(len >> 8);
    s->keyed.length[2] = (uint8_t)(len >> 16);
    s->keyed.key[0] = (uint8_t)key;
    s->keyed.key[1] = (uint8_t)(key >> 8);
    s->keyed.key[2] = (uint8_t)(key >> 16);
    s->keyed.key[3] = (uint8_t)(key >> 24);
    s->keyed.id = (uint8_t)(TERN_NVME_SGL_KEYED_DATA_BLOCK << 4 | subtype);
}

/* SGL1 of a command whose data travels in the capsule, right after the
 * SQE (Fabrics 7.3.2: a data block descriptor, offset addressing, 0). */
static inline void
tern_rdma_sgl_set_incapsule(struct tern_nvme_sgl *s, uint32_t len)
{
    s->address = 0;
    s->unkeyed.length = len;
    s->unkeyed.reserved[0] = s->unkeyed.reserved[1] = s->unkeyed.reserved[2] = 0;
    s->unkeyed.id = (uint8_t)(TERN_NVME_SGL_DATA_BLOCK << 4 | TERN_NVME_SGL_SUBTYPE_OFFSET);
}

/* ---- the connection manager exchange (rdma_proto.c) ---- */

/* The CM reject reason a consumer-defined reject carries (InfiniBand CM
 * REJ reason 28), the one whose private data holds a tern_rdma_cm_rej. */
#define TERN_RDMA_CM_REJ_CONSUMER_DEFINED 28
/* The CM's reject when nothing listens on the service ID (port). */
#define TERN_RDMA_CM_REJ_INVALID_SERVICE_ID 8

/* The host's CM REQUEST private data for queue `qid` of `depth` entries
 * (HRQSIZE = depth, HSQSIZE = depth - 1); cntlid 0xffff on the admin queue. */
void tern_rdma_cm_req_init(struct tern_rdma_cm_req *r, uint16_t qid, uint16_t depth,
                           uint16_t cntlid);
/* The controller's ACCEPT private data: 0 and CRQSIZE, or -EPROTO with the
 * reason in `why` (missing, short, unknown record format, CRQSIZE 0). */
int tern_rdma_cm_rep_parse(const void *data, size_t len, uint16_t *crqsize, char *why,
                           size_t why_len);
/* "invalid HSQSIZE" for a tern_rdma_cm_rej status; NULL when unknown. */
const char *tern_rdma_cm_rej_sts_str(uint16_t sts);
/* One phrase for a REJECTED event: the NVMe/RDMA status of a controller's
 * reject, or the CM's own reason (nothing listening, ...). Returns buf. */
const char *tern_rdma_cm_rej_describe(int cm_status, const void *data, size_t len, char *buf,
                                      size_t buf_len);

#endif /* TERN_RDMA_PROTO_H */
