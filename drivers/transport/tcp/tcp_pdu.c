/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>

#include <isa-l/crc.h>

#include "tcp_pdu.h"

uint32_t
tcp_crc32c_update(uint32_t state, const void *buf, size_t len)
{
    /* ISA-L's crc32_iscsi is the raw CRC32C update (no pre/post inversion). */
    while (len > 0) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;

        state = crc32_iscsi((unsigned char *)(uintptr_t)buf, n, state);
        buf = (const uint8_t *)buf + n;
        len -= (size_t)n;
    }
    return state;
}

uint32_t
tcp_crc32c(const void *buf, size_t len)
{
    return TCP_CRC32C_FINAL(tcp_crc32c_update(TCP_CRC32C_INIT, buf, len));
}

static bool
fail(uint16_t *fes, uint32_t *fei, uint16_t f, uint32_t off)
{
    *fes = f;
    *fei = off;
    return false;
}

bool
tcp_pdu_check_ch(const struct tern_nvme_tcp_ch *ch, enum tcp_pdu_phase phase, bool hdgst,
                 bool ddgst, uint32_t cpda_bytes, uint32_t max_data, struct tcp_pdu_layout *out,
                 uint16_t *fes, uint32_t *fei)
{
    const uint16_t BAD = TERN_NVME_TCP_FES_INVALID_HEADER_FIELD;
    const bool host = phase == TCP_PHASE_ICRESP || phase == TCP_PHASE_HOST;
    uint32_t expect_hlen, hd = 0, dd = 0, end_of_hdr;
    bool digests = true, may_have_data = false, is_term = false;
    /* The phase in which a PDU type may come; the initialization PDUs and
     * termination requests are checked below. */
    enum tcp_pdu_phase when;

    switch (ch->pdu_type) {
    case TERN_NVME_TCP_ICREQ:
    case TERN_NVME_TCP_ICRESP:
        when = ch->pdu_type == TERN_NVME_TCP_ICREQ ? TCP_PHASE_ICREQ : TCP_PHASE_ICRESP;
        expect_hlen = sizeof(struct tern_nvme_tcp_icreq);
        digests = false;
        break;
    case TERN_NVME_TCP_CAPSULE_CMD:
        when = TCP_PHASE_RUNNING;
        expect_hlen = sizeof(struct tern_nvme_tcp_cmd);
        may_have_data = true;
        break;
    case TERN_NVME_TCP_H2C_DATA:
    case TERN_NVME_TCP_C2H_DATA:
        when = ch->pdu_type == TERN_NVME_TCP_H2C_DATA ? TCP_PHASE_RUNNING : TCP_PHASE_HOST;
        expect_hlen = sizeof(struct tern_nvme_tcp_data);
        may_have_data = true;
        break;
    case TERN_NVME_TCP_CAPSULE_RESP:
        when = TCP_PHASE_HOST;
        expect_hlen = sizeof(struct tern_nvme_tcp_rsp);
        break;
    case TERN_NVME_TCP_R2T:
        when = TCP_PHASE_HOST;
        expect_hlen = sizeof(struct tern_nvme_tcp_r2t);
        break;
    case TERN_NVME_TCP_H2C_TERM_REQ:
    case TERN_NVME_TCP_C2H_TERM_REQ:
        /* Either phase of its side: a peer may give up at any time. */
        if ((ch->pdu_type == TERN_NVME_TCP_C2H_TERM_REQ) != host)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, pdu_type));
        when = phase;
        is_term = true;
        expect_hlen = sizeof(struct tern_nvme_tcp_term_req);
        digests = false;
        break;
    default:
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, pdu_type));
    }
    if (when != phase) {
        /* A PDU of the other side is a bad type; one of ours out of its
         * phase is a sequence error. */
        bool ours = (when == TCP_PHASE_ICRESP || when == TCP_PHASE_HOST) == host;

        return fail(fes, fei, ours ? TERN_NVME_TCP_FES_PDU_SEQUENCE_ERROR : BAD,
                    ours ? 0 : offsetof(struct tern_nvme_tcp_ch, pdu_type));
    }
    if (ch->hlen != expect_hlen)
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, hlen));
    if (digests && hdgst) {
        if (!(ch->flags & TERN_NVME_TCP_FLAG_HDGSTF))
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, flags));
        hd = TERN_NVME_TCP_DIGEST_LEN;
    } else if (ch->flags & TERN_NVME_TCP_FLAG_HDGSTF) {
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, flags));
    }
    end_of_hdr = ch->hlen + hd;
    out->hdr_len = end_of_hdr;
    out->pad = 0;
    out->data_len = 0;
    out->ddgst = false;
    if (is_term) {
        /* The peer may append up to 128 bytes of the header it objects to. */
        if (ch->plen < expect_hlen || ch->plen > expect_hlen + TERN_NVME_TCP_TERM_REQ_MAX_DATA)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, plen));
        out->data_len = ch->plen - expect_hlen;
        return true;
    }
    if (!may_have_data || ch->plen == end_of_hdr) {
        if (ch->plen != end_of_hdr)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, plen));
        if (ch->pdo != 0 && ch->pdu_type != TERN_NVME_TCP_CAPSULE_CMD)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, pdo));
        if (ch->flags & TERN_NVME_TCP_FLAG_DDGSTF)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, flags));
        if (ch->pdu_type == TERN_NVME_TCP_H2C_DATA ||   /* data PDUs always carry data */
            ch->pdu_type == TERN_NVME_TCP_C2H_DATA)
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, plen));
        return true;
    }
    if (ch->plen < end_of_hdr)
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, plen));
    if (ch->pdo < end_of_hdr || (cpda_bytes > 1 && ch->pdo % cpda_bytes != 0))
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, pdo));
    if (ddgst) {
        if (!(ch->flags & TERN_NVME_TCP_FLAG_DDGSTF))
            return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, flags));
        dd = TERN_NVME_TCP_DIGEST_LEN;
    } else if (ch->flags & TERN_NVME_TCP_FLAG_DDGSTF) {
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, flags));
    }
    if ((uint64_t)ch->pdo + dd >= ch->plen)
        return fail(fes, fei, BAD, offsetof(struct tern_nvme_tcp_ch, plen));
    out->pad = ch->pdo - end_of_hdr;
    out->data_len = ch->plen - ch->pdo - dd;
    out->ddgst = ddgst;
    if (out->data_len > max_data)
        return fail(fes, fei, TERN_NVME_TCP_FES_R2T_LIMIT_EXCEEDED,
                    offsetof(struct tern_nvme_tcp_ch, plen));
    return true;
}

uint16_t
tcp_sgl_parse(const struct tern_nvme_cmd *cmd, uint8_t xfer, uint32_t icd_len,
              uint32_t max_io_size, enum tcp_sgl_kind *kind, uint32_t *length)
{
    const struct tern_nvme_sgl *sgl = &cmd->dptr.sgl1;
    uint8_t type = tern_nvme_sgl_type(sgl), sub = tern_nvme_sgl_subtype(sgl);
    const uint16_t dnr = TERN_NVME_STATUS_DNR;

    *kind = TCP_SGL_NONE;
    *length = 0;
    if (tern_nvme_cmd_psdt(cmd) != TERN_NVME_PSDT_SGL_MPTR_CONTIG &&
        tern_nvme_cmd_psdt(cmd) != TERN_NVME_PSDT_SGL_MPTR_SGL) {
        /* Fabrics commands use SGLs only (Base 6.1: PSDT 01b or 10b). */
        if (xfer == TERN_NVME_XFER_NONE && icd_len == 0)
            return 0;
        return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_FIELD) | dnr;
    }
    if (xfer == TERN_NVME_XFER_NONE) {
        if (icd_len != 0)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_FIELD) | dnr;
        return 0;
    }
    if (xfer == TERN_NVME_XFER_BIDIRECTIONAL)
        return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_FIELD) | dnr;
    if (type == TERN_NVME_SGL_DATA_BLOCK && sub == TERN_NVME_SGL_SUBTYPE_OFFSET) {
        /* In-capsule data: only for host-to-controller, within the capsule. */
        if (xfer != TERN_NVME_XFER_HOST_TO_CTRLR)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_FIELD) | dnr;
        if (sgl->address != 0 || sgl->address + sgl->unkeyed.length > icd_len)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_SGL_OFFSET) | dnr;
        if (sgl->unkeyed.length != icd_len)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_DATA_SGL_LENGTH_INVALID) |
                   dnr;
        /* A zero-length in-capsule block is a command without data. */
        *kind = icd_len ? TCP_SGL_IN_CAPSULE : TCP_SGL_NONE;
        *length = icd_len;
        return 0;
    }
    if (type == TERN_NVME_SGL_TRANSPORT_DATA_BLOCK && sub == TERN_NVME_SGL_SUBTYPE_TRANSPORT) {
        if (icd_len != 0)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INVALID_FIELD) | dnr;
        if (sgl->unkeyed.length > max_io_size)
            return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_DATA_SGL_LENGTH_INVALID) |
                   dnr;
        *kind = sgl->unkeyed.length ? TCP_SGL_TRANSPORT : TCP_SGL_NONE;
        *length = sgl->unkeyed.length;
        return 0;
    }
    return TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID) | dnr;
}
