/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/RDMA connection manager exchange (Fabrics 1.1, 7.3.1): what the
 * host puts in its CM REQUEST, and how it reads the controller's ACCEPT and
 * REJECT. Pure functions, shared by the host half and its unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rdma_proto.h"

void
tern_rdma_cm_req_init(struct tern_rdma_cm_req *r, uint16_t qid, uint16_t depth, uint16_t cntlid)
{
    memset(r, 0, sizeof(*r));
    r->recfmt = TERN_RDMA_CM_RECFMT;
    r->qid = qid;
    r->hrqsize = depth;
    r->hsqsize = (uint16_t)(depth - 1);
    r->cntlid = qid == 0 ? 0xffff : cntlid;
}

int
tern_rdma_cm_rep_parse(const void *data, size_t len, uint16_t *crqsize, char *why, size_t why_len)
{
    struct tern_rdma_cm_rep rep;

    /* The CM hands over the whole private data field of its message
     * (zero-padded), so only a minimum length can be checked. */
    if (data == NULL || len < offsetof(struct tern_rdma_cm_rep, reserved)) {
        snprintf(why, why_len, "the controller accepted without NVMe/RDMA private data (%zu bytes)",
                 data ? len : 0);
        return -EPROTO;
    }
    memset(&rep, 0, sizeof(rep));
    memcpy(&rep, data, len < sizeof(rep) ? len : sizeof(rep));
    if (rep.recfmt != TERN_RDMA_CM_RECFMT) {
        snprintf(why, why_len, "the controller's accept has record format %u (want %u)",
                 rep.recfmt, TERN_RDMA_CM_RECFMT);
        return -EPROTO;
    }
    if (rep.crqsize == 0) {
        snprintf(why, why_len, "the controller's accept has CRQSIZE 0");
        return -EPROTO;
    }
    *crqsize = rep.crqsize;
    return 0;
}

const char *
tern_rdma_cm_rej_sts_str(uint16_t sts)
{
    switch (sts) {
    case TERN_RDMA_CM_INVALID_PRIVATE_DATA_LENGTH:
        return "invalid private data length";
    case TERN_RDMA_CM_INVALID_RECFMT:
        return "invalid record format";
    case TERN_RDMA_CM_INVALID_QID:
        return "invalid queue ID";
    case TERN_RDMA_CM_INVALID_HSQSIZE:
        return "invalid HSQSIZE";
    case TERN_RDMA_CM_INVALID_HRQSIZE:
        return "invalid HRQSIZE";
    case TERN_RDMA_CM_NO_RESOURCES:
        return "no resources";
    case TERN_RDMA_CM_INVALID_IRD:
        return "invalid IRD";
    case TERN_RDMA_CM_INVALID_ORD:
        return "invalid ORD";
    default:
        return NULL;
    }
}

const char *
tern_rdma_cm_rej_describe(int cm_status, const void *data, size_t len, char *buf, size_t buf_len)
{
    struct tern_rdma_cm_rej rej;
    const char *s;

    if (cm_status == TERN_RDMA_CM_REJ_INVALID_SERVICE_ID) {
        snprintf(buf, buf_len, "nothing listens on that address and port "
                 "(CM reject reason %d, invalid service ID)", cm_status);
        return buf;
    }
    if (cm_status != TERN_RDMA_CM_REJ_CONSUMER_DEFINED) {
        if (cm_status < 0)
            snprintf(buf, buf_len, "status %d (%s)", cm_status, strerror(-cm_status));
        else
            snprintf(buf, buf_len, "CM reject reason %d", cm_status);
        return buf;
    }
    if (data == NULL || len < sizeof(rej)) {
        snprintf(buf, buf_len, "the controller rejected it without an NVMe/RDMA status");
        return buf;
    }
    memcpy(&rej, data, sizeof(rej));
    if (rej.recfmt != TERN_RDMA_CM_RECFMT) {
        snprintf(buf, buf_len, "the controller rejected it (record format %u, status 0x%x)",
                 rej.recfmt, rej.sts);
        return buf;
    }
    s = tern_rdma_cm_rej_sts_str(rej.sts);
    if (s != NULL)
        snprintf(buf, buf_len, "the controller rejected it: %s (NVMe/RDMA status 0x%x)", s,
                 rej.sts);
    else
        snprintf(buf, buf_len, "the controller rejected it: NVMe/RDMA status 0x%x", rej.sts);
    return buf;
}
