/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the SGL of an NVMe/RDMA command capsule from a host, as
 * the target's engine parses it (rdma_qp.c: rdma_sgl_parse) and then counts
 * the data work requests it needs. Aborts when an accepted SGL does not add
 * up (in-capsule data outside the capsule, descriptor lengths that do not
 * sum to the transfer, more than the largest I/O) or when a transfer it
 * accepted would need more data WRs than the engine's per-request arrays
 * hold (RDMA_MAX_WRS: a stack overflow in try_read / try_send).
 *
 * Input: byte 0 picks the data direction, the io unit size and the SGEs per
 * WR; bytes 1..64 are the SQE; the rest is what follows it in the capsule.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdma_qp.h"
#include "tern_log.h"
#include "tern_nvme.h"

#define ICD_MAX 8192u

#define require(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_rdma_sgl: %s:%d: %s does not hold\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* The engine's other neighbours: never reached from the parser. */
int tern_log_register(const char *name, int level) { (void)name; (void)level; return 0; }
void tern_log_write(int type, int level, const char *fmt, ...) { (void)type; (void)level; (void)fmt; }
void tern_nvmf_request_exec(struct tern_nvmf_request *req) { (void)req; abort(); }
void tern_nvmf_request_fail(struct tern_nvmf_request *req, uint16_t st) { (void)req; (void)st; abort(); }
void tern_nvmf_qpair_closed(struct tern_nvmf_qpair *qp, bool error) { (void)qp; (void)error; abort(); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t xfers[4] = {TERN_NVME_XFER_NONE, TERN_NVME_XFER_HOST_TO_CTRLR,
                                     TERN_NVME_XFER_CTRLR_TO_HOST, TERN_NVME_XFER_BIDIRECTIONAL};
    static const uint32_t units[4] = {4096, 8192, 65536, 131072};
    static const uint32_t sges[4] = {1, 2, 16, RDMA_WR_MAX_SGE};
    struct tern_nvme_cmd cmd;
    struct rdma_sgl sgl;
    uint8_t icd[ICD_MAX];
    uint32_t icd_len, unit, max_io, max_sge, sum = 0, i;
    uint8_t xfer;
    uint16_t st;

    if (size < 1 + sizeof(cmd))
        return 0;
    xfer = xfers[data[0] & 3];
    unit = units[(data[0] >> 2) & 3];
    max_sge = sges[(data[0] >> 4) & 3];
    /* As the transport's options allow: the largest I/O is at most
     * TERN_NVMF_REQ_MAX_IOV io units. */
    max_io = unit * (data[0] & 0x40 ? TERN_NVMF_REQ_MAX_IOV : 1);
    memcpy(&cmd, data + 1, sizeof(cmd));
    icd_len = (uint32_t)(size - 1 - sizeof(cmd));
    if (icd_len > ICD_MAX)
        icd_len = ICD_MAX;
    memcpy(icd, data + 1 + sizeof(cmd), icd_len);

    st = rdma_sgl_parse(&cmd, xfer, icd, icd_len, max_io, &sgl);
    if (st != 0) {
        /* Refused: a generic status, Do Not Retry (the host's SGL is wrong). */
        require(st & TERN_NVME_STATUS_DNR);
        return 0;
    }
    require(sgl.ndesc <= RDMA_MAX_DESC);
    switch (sgl.kind) {
    case RDMA_SGL_NONE:
        require(sgl.length == 0);
        break;
    case RDMA_SGL_IN_CAPSULE:
        require(xfer == TERN_NVME_XFER_HOST_TO_CTRLR);
        require(sgl.length > 0);
        require(sgl.icd_offset <= icd_len && sgl.length <= icd_len - sgl.icd_offset);
        break;
    case RDMA_SGL_KEYED:
        require(xfer == TERN_NVME_XFER_HOST_TO_CTRLR || xfer == TERN_NVME_XFER_CTRLR_TO_HOST);
        require(sgl.ndesc >= 1);
        require(sgl.length > 0 && sgl.length <= max_io);
        for (i = 0; i < sgl.ndesc; i++)
            sum += sgl.desc[i].length;
        require(sum == sgl.length);
        if (sgl.invalidate) {
            bool found = false;

            for (i = 0; i < sgl.ndesc; i++)
                found = found || sgl.desc[i].key == sgl.inv_rkey;
            require(found);
        }
        /* What try_read and try_send size their WR arrays by. */
        require(rdma_data_wrs_needed(sgl.desc, sgl.ndesc, sgl.length, unit, max_sge) <=
                RDMA_MAX_WRS);
        /* A short read (the core moved less) never needs more. */
        require(rdma_data_wrs_needed(sgl.desc, sgl.ndesc, sgl.length / 2, unit, max_sge) <=
                rdma_data_wrs_needed(sgl.desc, sgl.ndesc, sgl.length, unit, max_sge));
        break;
    default:
        require(!"an SGL kind the engine does not know");
    }
    return 0;
}
