/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers over the wire definitions: names for logs, NQN validation, the
 * fixed-width ASCII and 128-bit fields of identify data and log pages. */
#ifndef TERN_NVME_H
#define TERN_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern_nvme_spec.h"
#include "tern_nvme_tcp_spec.h"
#include "tern_nvmf_spec.h"

/* "INVALID_FIELD" style names; "sct 1 sc 0x99" for codes we do not name.
 * The returned string is static or in `buf` (at least 32 bytes). */
const char *tern_nvme_status_name(uint16_t status, char *buf, size_t len);
const char *tern_nvme_admin_opc_name(uint8_t opc);
const char *tern_nvme_io_opc_name(uint8_t opc);
const char *tern_nvmf_fctype_name(uint8_t fctype);
const char *tern_nvme_tcp_pdu_name(uint8_t type);

/*
 * Whether `nqn` is a valid NVMe Qualified Name (Base 4.5): NUL-terminated
 * within `field_len` bytes, at most 223 bytes, valid UTF-8, and either
 * "nqn.2014-08.org.nvmexpress:uuid:<36-character UUID>" or
 * "nqn.<yyyy-mm>.<reverse domain>[:<anything>]". On false, `why` says what
 * is wrong.
 */
bool tern_nvmf_nqn_valid(const char *nqn, size_t field_len, char *why, size_t why_len);

/* Transport types and address families, by the names SPDK's RPCs and
 * transport IDs use (target listeners and host -r alike). */
const char *tern_nvmf_trtype_name(uint8_t trtype);      /* "TCP", "RDMA" */
const char *tern_nvmf_adrfam_name(uint8_t adrfam);      /* "IPv4", "IPv6" */
/* Parse "TCP"/"tcp" and "IPv4"/"ipv4"; -EINVAL when unknown. */
int tern_nvmf_trtype_parse(const char *s, uint8_t *trtype);
int tern_nvmf_adrfam_parse(const char *s, uint8_t *adrfam);

/* The transfer direction of a command (TERN_NVME_XFER_*): bits 1:0 of the
 * opcode, or of the fabrics command type for fabrics commands (Base 6.1). */
static inline uint8_t
tern_nvme_cmd_xfer(const struct tern_nvme_cmd *cmd)
{
    if (cmd->opc == TERN_NVME_OPC_FABRICS)
        return ((const struct tern_nvmf_cmd *)cmd)->fctype & 0x3;
    return TERN_NVME_OPC_XFER(cmd->opc);
}

/* Copy `src` into a fixed ASCII field padded with spaces (sn, mn, fr). */
void tern_nvme_set_ascii(char *dst, size_t len, const char *src);
/* Store a 64-bit count into a 128-bit little-endian log page counter. */
void tern_nvme_set_u128(uint8_t dst[16], uint64_t value);

#endif /* TERN_NVME_H */
