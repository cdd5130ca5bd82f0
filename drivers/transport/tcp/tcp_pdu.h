/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP PDU checks that need no socket and no target: the common
 * header of a PDU against the connection's state and negotiated digests,
 * the command capsule's SGL, and CRC32C digests. Pure functions, so the
 * unit tests and the fuzzer exercise exactly what the target runs.
 */
#ifndef TCP_PDU_H
#define TCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tern_nvme.h"

/* What the receiver expects next: the target's two phases, then the host's. */
enum tcp_pdu_phase {
    TCP_PHASE_ICREQ,        /* target, before initialization: only ICReq */
    TCP_PHASE_RUNNING,      /* target: CapsuleCmd, H2CData, H2CTermReq */
    TCP_PHASE_ICRESP,       /* host, after its ICReq: ICResp (or C2HTermReq) */
    TCP_PHASE_HOST,         /* host: CapsuleResp, C2HData, R2T, C2HTermReq */
};

/* How a PDU's bytes split up, from its common header. */
struct tcp_pdu_layout {
    uint32_t hdr_len;       /* hlen + header digest */
    uint32_t pad;           /* bytes between the header and PDO */
    uint32_t data_len;      /* PDU data, without the data digest */
    bool ddgst;             /* a data digest follows the data */
};

/*
 * Check a common header. On error returns false and sets the fatal error
 * status (FES) and the byte offset of the bad field (FEI) for a
 * C2HTermReq.
 */
bool tcp_pdu_check_ch(const struct tern_nvme_tcp_ch *ch, enum tcp_pdu_phase phase, bool hdgst,
                      bool ddgst, uint32_t cpda_bytes, uint32_t max_data,
                      struct tcp_pdu_layout *out, uint16_t *fes, uint32_t *fei);

/* CRC32C (Castagnoli) as NVMe/TCP digests use it: initial value and final
 * XOR all ones. _iov covers `len` bytes of an iovec array. */
uint32_t tcp_crc32c(const void *buf, size_t len);
uint32_t tcp_crc32c_update(uint32_t state, const void *buf, size_t len);   /* raw, no XOR */
#define TCP_CRC32C_INIT 0xffffffffu
#define TCP_CRC32C_FINAL(state) ((state) ^ 0xffffffffu)

/* How the command's data arrives (TCP 3.3, Base 4.1.2). */
enum tcp_sgl_kind {
    TCP_SGL_NONE,           /* no data */
    TCP_SGL_IN_CAPSULE,     /* data block, offset addressing: data follows the SQE */
    TCP_SGL_TRANSPORT,      /* transport data block: R2T/H2CData or C2HData */
};
/*
 * Classify the SGL of a command whose transfer direction is `xfer` and
 * whose capsule carried `icd_len` bytes of data. Returns 0 and the kind
 * and length, or an NVMe status for the completion.
 */
uint16_t tcp_sgl_parse(const struct tern_nvme_cmd *cmd, uint8_t xfer, uint32_t icd_len,
                       uint32_t max_io_size, enum tcp_sgl_kind *kind, uint32_t *length);

#endif /* TCP_PDU_H */
