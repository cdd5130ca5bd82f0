/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: a byte stream from a host, walked PDU by PDU with the
 * checks the TCP target runs (tcp_pdu.c): common header against the phase
 * and negotiated digests, header digest, command SGL. Aborts when a check
 * accepts a layout that does not add up, which would let the receiver read
 * past a PDU or into the wrong buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_pdu.h"

#define MAX_IO 131072u
#define ICD_MAX 8192u

#define require(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_tcp_pdu: %s:%d: %s does not hold\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum tcp_pdu_phase phase = TCP_PHASE_ICREQ;
    bool hdgst = false, ddgst = false;
    size_t pos = 1;

    if (size < 1)
        return 0;
    /* The first byte stands for what ICReq negotiated, if the stream skips it. */
    if (data[0] & 0x80) {
        phase = TCP_PHASE_RUNNING;
        hdgst = data[0] & 1;
        ddgst = data[0] & 2;
    }
    while (size - pos >= sizeof(struct tern_nvme_tcp_ch)) {
        struct tern_nvme_tcp_ch ch;
        struct tcp_pdu_layout l;
        uint16_t fes = 0;
        uint32_t fei = 0, max_data;
        uint8_t hdr[sizeof(struct tern_nvme_tcp_icreq) + 4];

        memcpy(&ch, data + pos, sizeof(ch));
        max_data = ch.pdu_type == TERN_NVME_TCP_H2C_DATA ? MAX_IO : ICD_MAX;
        if (!tcp_pdu_check_ch(&ch, phase, hdgst, ddgst, 0, max_data, &l, &fes, &fei)) {
            require(fes >= TERN_NVME_TCP_FES_INVALID_HEADER_FIELD &&
                    fes <= TERN_NVME_TCP_FES_UNSUPPORTED_PARAMETER);
            require(fei < sizeof(struct tern_nvme_tcp_icreq));
            return 0;
        }
        /* The layout must describe exactly PLEN bytes. */
        require(l.hdr_len >= ch.hlen && l.hdr_len <= sizeof(hdr));
        require(l.data_len <= max_data || ch.pdu_type == TERN_NVME_TCP_H2C_TERM_REQ);
        if (ch.pdu_type == TERN_NVME_TCP_H2C_TERM_REQ)
            require(ch.hlen + l.data_len == ch.plen);
        else
            require((uint64_t)l.hdr_len + l.pad + l.data_len + (l.ddgst ? 4 : 0) == ch.plen);
        if (size - pos < ch.plen)
            return 0;
        memcpy(hdr, data + pos, l.hdr_len);
        if (l.hdr_len > ch.hlen) {
            uint32_t want;

            memcpy(&want, hdr + ch.hlen, 4);
            if (tcp_crc32c(hdr, ch.hlen) != want)
                return 0;   /* the target terminates here */
        }
        if (ch.pdu_type == TERN_NVME_TCP_ICREQ) {
            const struct tern_nvme_tcp_icreq *q = (const void *)hdr;

            phase = TCP_PHASE_RUNNING;
            hdgst = q->dgst & TERN_NVME_TCP_DGST_HDR;
            ddgst = q->dgst & TERN_NVME_TCP_DGST_DATA;
        } else if (ch.pdu_type == TERN_NVME_TCP_CAPSULE_CMD) {
            const struct tern_nvme_tcp_cmd *c = (const void *)hdr;
            enum tcp_sgl_kind kind;
            uint32_t len;
            uint8_t xfer = tern_nvme_cmd_xfer(&c->sqe);

            require(xfer <= 3);
            if (tcp_sgl_parse(&c->sqe, xfer, l.data_len, MAX_IO, &kind, &len) == 0) {
                if (kind == TCP_SGL_IN_CAPSULE)
                    require(len == l.data_len && len > 0 && xfer == TERN_NVME_XFER_HOST_TO_CTRLR);
                else
                    require(l.data_len == 0 && len <= MAX_IO);
                if (kind == TCP_SGL_NONE)
                    require(len == 0);
            }
        } else if (ch.pdu_type == TERN_NVME_TCP_H2C_TERM_REQ) {
            return 0;       /* the connection closes */
        }
        if (l.ddgst) {
            uint32_t got;

            memcpy(&got, data + pos + ch.plen - 4, 4);
            (void)(tcp_crc32c(data + pos + l.hdr_len + l.pad, l.data_len) == got);
        }
        pos += ch.plen;
    }
    return 0;
}
