/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM command set I/O on the calling lcore's namespace view (NVM 3):
 * Read, Write, Compare, Flush, Write Zeroes, Dataset Management
 * (deallocate). Every field from the wire is checked before a bdev sees
 * it; a busy bdev pool parks the request on the channel's waiter list,
 * which the channel retries on every poll.
 */
#include <errno.h>
#include <string.h>

#include "nvmf_internal.h"

#define GEN(sc) TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_##sc)
#define DNR TERN_NVME_STATUS_DNR

/* req->dsm_next for Read/Write: 0, or 1 while the flush after an FUA write runs. */
#define FUA_FLUSHING 1

static void submit(struct tern_nvmf_request *req);

static uint16_t
bdev_status(enum tern_bdev_io_status st)
{
    switch (st) {
    case TERN_BDEV_IO_SUCCESS:
        return 0;
    case TERN_BDEV_IO_MISCOMPARE:
        return TERN_NVME_STATUS(TERN_NVME_SCT_MEDIA, TERN_NVME_SC_COMPARE_FAILURE) | DNR;
    case TERN_BDEV_IO_ABORTED:
        return GEN(ABORTED_SQ_DELETION);
    case TERN_BDEV_IO_FAILED:
    default:
        return GEN(INTERNAL_DEVICE_ERROR);
    }
}

static uint16_t
submit_status(int rc)
{
    switch (rc) {
    case -EINVAL:
        return GEN(INVALID_FIELD) | DNR;
    case -ENOTSUP:
        return GEN(INVALID_OPCODE) | DNR;
    case -ENODEV:
        return GEN(INVALID_NAMESPACE_OR_FORMAT) | DNR;
    default:
        return GEN(INTERNAL_DEVICE_ERROR);
    }
}

static void
finish(struct tern_nvmf_request *req, uint16_t status)
{
    struct nvmf_ns_view *nv = req->ns;

    req->ns = NULL;
    if (nv != NULL)
        nvmf_ns_view_put(nv);
    if (status != 0)
        req->data_len = 0;
    nvmf_request_complete(req, status);
}

static void
retry(void *arg)
{
    submit(arg);
}

/* Submit to the bdev; on an empty pool wait on the channel. */
static void
bdev_go(struct tern_nvmf_request *req, enum tern_bdev_io_type type, uint64_t lba, uint64_t nlb,
        struct iovec *iov, int iovcnt, tern_bdev_io_cb cb)
{
    struct nvmf_ns_view *nv = req->ns;
    int rc;

    if (nv->removed || nv->ch == NULL) {
        finish(req, GEN(INVALID_NAMESPACE_OR_FORMAT) | DNR);
        return;
    }
    rc = tern_bdev_submit(nv->ch, type, lba, nlb, iov, iovcnt, cb, req);
    if (rc == -ENOMEM) {
        req->bdev_wait.fn = retry;
        req->bdev_wait.arg = req;
        tern_bdev_queue_io_wait(nv->ch, &req->bdev_wait);
    } else if (rc != 0) {
        finish(req, submit_status(rc));
    }
}

static void
rw_done(void *arg, enum tern_bdev_io_status st)
{
    struct tern_nvmf_request *req = arg;
    struct tern_nvmf_qpair *qp = req->qpair;
    struct nvmf_ns_view *nv = req->ns;
    uint16_t status = bdev_status(st);
    uint8_t opc = req->cmd->opc;

    if (status == 0 && req->dsm_next != FUA_FLUSHING) {
        uint64_t bytes = (uint64_t)tern_nvme_io_nlb(req->cmd) * nv->block_size;

        if (opc == TERN_NVME_OPC_READ) {
            qp->stats.read_ops++;
            qp->stats.bytes_read += bytes;
            req->data_len = (uint32_t)bytes;
        } else if (opc == TERN_NVME_OPC_WRITE) {
            qp->stats.write_ops++;
            qp->stats.bytes_written += bytes;
            if ((req->cmd->cdw12 & TERN_NVME_IO_FUA) && nv->write_cache &&
                nv->sup[TERN_BDEV_IO_FLUSH]) {
                /* Force Unit Access: durable before the completion. */
                req->dsm_next = FUA_FLUSHING;
                submit(req);
                return;
            }
        }
    }
    finish(req, status);
}

static void
dsm_done(void *arg, enum tern_bdev_io_status st)
{
    struct tern_nvmf_request *req = arg;
    uint16_t status = bdev_status(st);

    if (status != 0) {
        finish(req, status);
        return;
    }
    req->dsm_next++;
    submit(req);
}

/* Trim the iovec to exactly `len` bytes (the SGL may describe more). */
static int
trim_iov(struct tern_nvmf_request *req, uint64_t len)
{
    uint64_t have = 0;
    int i;

    for (i = 0; i < req->iovcnt; i++) {
        if (have + req->iov[i].iov_len >= len) {
            req->iov[i].iov_len = (size_t)(len - have);
            return i + 1;
        }
        have += req->iov[i].iov_len;
    }
    return -1;
}

static bool
range_ok(const struct nvmf_ns_view *nv, uint64_t slba, uint64_t nlb)
{
    return slba < nv->num_blocks && nlb <= nv->num_blocks - slba;
}

static void
submit_dsm(struct tern_nvmf_request *req)
{
    struct nvmf_ns_view *nv = req->ns;
    uint32_t nr = (req->cmd->cdw10 & 0xff) + 1;
    struct tern_nvme_dsm_range r = { 0 };

    if (!(req->cmd->cdw11 & TERN_NVME_DSM_ATTR_DEALLOCATE) || !nv->sup[TERN_BDEV_IO_UNMAP]) {
        /* Only deallocation does anything, and it is advisory. */
        finish(req, 0);
        return;
    }
    /* One range at a time, read from the data when its turn comes. */
    for (; req->dsm_next < nr; req->dsm_next++) {
        nvmf_request_copy_in(req, req->dsm_next * (uint32_t)sizeof(r), &r, sizeof(r));
        if (r.length != 0)
            break;
    }
    if (req->dsm_next == nr) {
        finish(req, 0);
        return;
    }
    bdev_go(req, TERN_BDEV_IO_UNMAP, r.slba, r.length, NULL, 0, dsm_done);
}

static void
submit(struct tern_nvmf_request *req)
{
    const struct tern_nvme_cmd *cmd = req->cmd;
    struct nvmf_ns_view *nv = req->ns;
    uint64_t slba = tern_nvme_io_slba(cmd);
    uint64_t nlb = tern_nvme_io_nlb(cmd);
    int iovcnt;

    switch (cmd->opc) {
    case TERN_NVME_OPC_READ:
    case TERN_NVME_OPC_WRITE:
        if (req->dsm_next == FUA_FLUSHING) {
            bdev_go(req, TERN_BDEV_IO_FLUSH, 0, nv->num_blocks, NULL, 0, rw_done);
            return;
        }
        /* fall through */
    case TERN_NVME_OPC_COMPARE:
        iovcnt = trim_iov(req, nlb * nv->block_size);
        if (iovcnt < 0) {
            finish(req, GEN(DATA_SGL_LENGTH_INVALID) | DNR);
            return;
        }
        bdev_go(req, cmd->opc == TERN_NVME_OPC_READ ? TERN_BDEV_IO_READ
                     : cmd->opc == TERN_NVME_OPC_WRITE ? TERN_BDEV_IO_WRITE
                                                       : TERN_BDEV_IO_COMPARE,
                slba, nlb, req->iov, iovcnt, rw_done);
        return;
    case TERN_NVME_OPC_FLUSH:
        bdev_go(req, TERN_BDEV_IO_FLUSH, 0, nv->num_blocks, NULL, 0, rw_done);
        return;
    case TERN_NVME_OPC_WRITE_ZEROES:
        bdev_go(req, TERN_BDEV_IO_WRITE_ZEROES, slba, nlb, NULL, 0, rw_done);
        return;
    case TERN_NVME_OPC_DATASET_MANAGEMENT:
        submit_dsm(req);
        return;
    default:
        finish(req, GEN(INVALID_OPCODE) | DNR);
        return;
    }
}

/* Checks that need no bdev; 0 when the command may go. */
static uint16_t
check(struct tern_nvmf_request *req, struct nvmf_ns_view *nv)
{
    const struct tern_nvme_cmd *cmd = req->cmd;
    uint64_t slba = tern_nvme_io_slba(cmd);
    uint64_t nlb = tern_nvme_io_nlb(cmd);
    uint32_t i, nr;

    switch (cmd->opc) {
    case TERN_NVME_OPC_READ:
    case TERN_NVME_OPC_WRITE:
    case TERN_NVME_OPC_COMPARE:
        if (!range_ok(nv, slba, nlb))
            return GEN(LBA_OUT_OF_RANGE) | DNR;
        if (req->xfer != TERN_NVME_OPC_XFER(cmd->opc) || nlb * nv->block_size > req->length)
            return GEN(DATA_SGL_LENGTH_INVALID) | DNR;
        if (cmd->opc == TERN_NVME_OPC_COMPARE && !nv->sup[TERN_BDEV_IO_COMPARE])
            return GEN(INVALID_OPCODE) | DNR;
        return 0;
    case TERN_NVME_OPC_FLUSH:
        return 0;
    case TERN_NVME_OPC_WRITE_ZEROES:
        if (!range_ok(nv, slba, nlb))
            return GEN(LBA_OUT_OF_RANGE) | DNR;
        if (!nv->sup[TERN_BDEV_IO_WRITE_ZEROES])
            return GEN(INVALID_OPCODE) | DNR;
        return 0;
    case TERN_NVME_OPC_DATASET_MANAGEMENT: {
        struct tern_nvme_dsm_range ranges[TERN_NVME_DSM_MAX_RANGES];

        nr = (cmd->cdw10 & 0xff) + 1;
        if (req->xfer != TERN_NVME_XFER_HOST_TO_CTRLR ||
            req->length < nr * sizeof(struct tern_nvme_dsm_range))
            return GEN(DATA_SGL_LENGTH_INVALID) | DNR;
        nvmf_request_copy_in(req, 0, ranges, nr * (uint32_t)sizeof(ranges[0]));
        for (i = 0; i < nr; i++) {
            if (ranges[i].length != 0 && !range_ok(nv, ranges[i].slba, ranges[i].length))
                return GEN(LBA_OUT_OF_RANGE) | DNR;
        }
        return 0;
    }
    default:
        return GEN(INVALID_OPCODE) | DNR;
    }
}

void
nvmf_io_exec(struct tern_nvmf_request *req)
{
    const struct tern_nvme_cmd *cmd = req->cmd;
    struct nvmf_subsys_view *v;
    struct nvmf_ns_view *nv;
    uint16_t status;

    if (tern_nvme_cmd_fuse(cmd) != 0) {
        nvmf_request_complete(req, GEN(INVALID_FIELD) | DNR);
        return;
    }
    v = nvmf_view(req->qpair->subsys_id, req->qpair->subsys_gen);
    nv = nvmf_view_ns(v, cmd->nsid);
    if (nv == NULL) {
        nvmf_request_complete(req, GEN(INVALID_NAMESPACE_OR_FORMAT) | DNR);
        return;
    }
    status = check(req, nv);
    if (status != 0) {
        nvmf_request_complete(req, status);
        return;
    }
    nv->outstanding++;
    req->ns = nv;
    req->dsm_next = 0;
    submit(req);
}
