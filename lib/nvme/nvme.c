/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tern_nvme.h"

struct name {
    uint16_t code;
    const char *name;
};

static const struct name g_generic[] = {
    { TERN_NVME_SC_SUCCESS, "SUCCESS" },
    { TERN_NVME_SC_INVALID_OPCODE, "INVALID_OPCODE" },
    { TERN_NVME_SC_INVALID_FIELD, "INVALID_FIELD" },
    { TERN_NVME_SC_COMMAND_ID_CONFLICT, "COMMAND_ID_CONFLICT" },
    { TERN_NVME_SC_DATA_TRANSFER_ERROR, "DATA_TRANSFER_ERROR" },
    { TERN_NVME_SC_INTERNAL_DEVICE_ERROR, "INTERNAL_DEVICE_ERROR" },
    { TERN_NVME_SC_ABORTED_BY_REQUEST, "ABORTED_BY_REQUEST" },
    { TERN_NVME_SC_ABORTED_SQ_DELETION, "ABORTED_SQ_DELETION" },
    { TERN_NVME_SC_INVALID_NAMESPACE_OR_FORMAT, "INVALID_NAMESPACE_OR_FORMAT" },
    { TERN_NVME_SC_COMMAND_SEQUENCE_ERROR, "COMMAND_SEQUENCE_ERROR" },
    { TERN_NVME_SC_INVALID_SGL_SEG_DESCRIPTOR, "INVALID_SGL_SEG_DESCRIPTOR" },
    { TERN_NVME_SC_INVALID_NUM_SGL_DESCIRPTORS, "INVALID_NUM_SGL_DESCRIPTORS" },
    { TERN_NVME_SC_DATA_SGL_LENGTH_INVALID, "DATA_SGL_LENGTH_INVALID" },
    { TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID, "SGL_DESCRIPTOR_TYPE_INVALID" },
    { TERN_NVME_SC_INVALID_SGL_OFFSET, "INVALID_SGL_OFFSET" },
    { TERN_NVME_SC_HOSTID_INCONSISTENT_FORMAT, "HOSTID_INCONSISTENT_FORMAT" },
    { TERN_NVME_SC_KEEP_ALIVE_EXPIRED, "KEEP_ALIVE_EXPIRED" },
    { TERN_NVME_SC_KEEP_ALIVE_INVALID, "KEEP_ALIVE_INVALID" },
    { TERN_NVME_SC_NAMESPACE_IS_WRITE_PROTECTED, "NAMESPACE_IS_WRITE_PROTECTED" },
    { TERN_NVME_SC_TRANSIENT_TRANSPORT_ERROR, "TRANSIENT_TRANSPORT_ERROR" },
    { TERN_NVME_SC_LBA_OUT_OF_RANGE, "LBA_OUT_OF_RANGE" },
    { TERN_NVME_SC_CAPACITY_EXCEEDED, "CAPACITY_EXCEEDED" },
    { TERN_NVME_SC_NAMESPACE_NOT_READY, "NAMESPACE_NOT_READY" },
};

static const struct name g_command_specific[] = {
    { TERN_NVME_SC_COMPLETION_QUEUE_INVALID, "COMPLETION_QUEUE_INVALID" },
    { TERN_NVME_SC_INVALID_QUEUE_IDENTIFIER, "INVALID_QUEUE_IDENTIFIER" },
    { TERN_NVME_SC_INVALID_QUEUE_SIZE, "INVALID_QUEUE_SIZE" },
    { TERN_NVME_SC_ABORT_COMMAND_LIMIT_EXCEEDED, "ABORT_COMMAND_LIMIT_EXCEEDED" },
    { TERN_NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED, "ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED" },
    { TERN_NVME_SC_INVALID_LOG_PAGE, "INVALID_LOG_PAGE" },
    { TERN_NVME_SC_INVALID_FORMAT, "INVALID_FORMAT" },
    { TERN_NVME_SC_FEATURE_ID_NOT_SAVEABLE, "FEATURE_ID_NOT_SAVEABLE" },
    { TERN_NVME_SC_FEATURE_NOT_CHANGEABLE, "FEATURE_NOT_CHANGEABLE" },
    { TERN_NVME_SC_FEATURE_NOT_NAMESPACE_SPECIFIC, "FEATURE_NOT_NAMESPACE_SPECIFIC" },
    { TERN_NVMF_SC_INCOMPATIBLE_FORMAT, "INCOMPATIBLE_FORMAT" },
    { TERN_NVMF_SC_CONTROLLER_BUSY, "CONTROLLER_BUSY" },
    { TERN_NVMF_SC_CONNECT_INVALID_PARAMS, "CONNECT_INVALID_PARAMETERS" },
    { TERN_NVMF_SC_CONNECT_RESTART_DISCOVERY, "CONNECT_RESTART_DISCOVERY" },
    { TERN_NVMF_SC_CONNECT_INVALID_HOST, "CONNECT_INVALID_HOST" },
    { TERN_NVMF_SC_INVALID_QUEUE_TYPE, "INVALID_QUEUE_TYPE" },
};

static const struct name g_media[] = {
    { TERN_NVME_SC_WRITE_FAULTS, "WRITE_FAULTS" },
    { TERN_NVME_SC_UNRECOVERED_READ_ERROR, "UNRECOVERED_READ_ERROR" },
    { TERN_NVME_SC_COMPARE_FAILURE, "COMPARE_FAILURE" },
    { TERN_NVME_SC_ACCESS_DENIED, "ACCESS_DENIED" },
    { TERN_NVME_SC_DEALLOCATED_OR_UNWRITTEN_BLOCK, "DEALLOCATED_OR_UNWRITTEN_BLOCK" },
};

static const struct name g_path[] = {
    { TERN_NVME_SC_INTERNAL_PATH_ERROR, "INTERNAL_PATH_ERROR" },
    { TERN_NVME_SC_ANA_INACCESSIBLE, "ANA_INACCESSIBLE" },
    { TERN_NVME_SC_CONTROLLER_PATH_ERROR, "CONTROLLER_PATH_ERROR" },
    { TERN_NVME_SC_HOST_PATH_ERROR, "HOST_PATH_ERROR" },
    { TERN_NVME_SC_ABORTED_BY_HOST, "ABORTED_BY_HOST" },
};

/* The name of `code` in `table`, or `fallback`. */
#define LOOKUP(table, code, fallback) lookup(table, sizeof(table) / sizeof(table[0]), code, fallback)

static const char *
lookup(const struct name *t, size_t n, uint16_t code, const char *fallback)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (t[i].code == code)
            return t[i].name;
    }
    return fallback;
}

const char *
tern_nvme_status_name(uint16_t status, char *buf, size_t len)
{
    const char *n = NULL;
    uint8_t sct = TERN_NVME_STATUS_SCT(status), sc = TERN_NVME_STATUS_SC(status);

    switch (sct) {
    case TERN_NVME_SCT_GENERIC: n = LOOKUP(g_generic, sc, NULL); break;
    case TERN_NVME_SCT_COMMAND_SPECIFIC: n = LOOKUP(g_command_specific, sc, NULL); break;
    case TERN_NVME_SCT_MEDIA: n = LOOKUP(g_media, sc, NULL); break;
    case TERN_NVME_SCT_PATH: n = LOOKUP(g_path, sc, NULL); break;
    default: break;
    }
    if (n != NULL)
        return n;
    snprintf(buf, len, "sct %u sc 0x%02x", sct, sc);
    return buf;
}

static const struct name g_admin[] = {
    { TERN_NVME_OPC_DELETE_IO_SQ, "DELETE_IO_SQ" },
    { TERN_NVME_OPC_CREATE_IO_SQ, "CREATE_IO_SQ" },
    { TERN_NVME_OPC_GET_LOG_PAGE, "GET_LOG_PAGE" },
    { TERN_NVME_OPC_DELETE_IO_CQ, "DELETE_IO_CQ" },
    { TERN_NVME_OPC_CREATE_IO_CQ, "CREATE_IO_CQ" },
    { TERN_NVME_OPC_IDENTIFY, "IDENTIFY" },
    { TERN_NVME_OPC_ABORT, "ABORT" },
    { TERN_NVME_OPC_SET_FEATURES, "SET_FEATURES" },
    { TERN_NVME_OPC_GET_FEATURES, "GET_FEATURES" },
    { TERN_NVME_OPC_ASYNC_EVENT_REQUEST, "ASYNC_EVENT_REQUEST" },
    { TERN_NVME_OPC_NS_MANAGEMENT, "NS_MANAGEMENT" },
    { TERN_NVME_OPC_FIRMWARE_COMMIT, "FIRMWARE_COMMIT" },
    { TERN_NVME_OPC_FIRMWARE_IMAGE_DOWNLOAD, "FIRMWARE_IMAGE_DOWNLOAD" },
    { TERN_NVME_OPC_NS_ATTACHMENT, "NS_ATTACHMENT" },
    { TERN_NVME_OPC_KEEP_ALIVE, "KEEP_ALIVE" },
    { TERN_NVME_OPC_DOORBELL_BUFFER_CONFIG, "DOORBELL_BUFFER_CONFIG" },
    { TERN_NVME_OPC_FABRICS, "FABRICS" },
    { TERN_NVME_OPC_FORMAT_NVM, "FORMAT_NVM" },
    { TERN_NVME_OPC_SANITIZE, "SANITIZE" },
};

static const struct name g_io[] = {
    { TERN_NVME_OPC_FLUSH, "FLUSH" },
    { TERN_NVME_OPC_WRITE, "WRITE" },
    { TERN_NVME_OPC_READ, "READ" },
    { TERN_NVME_OPC_WRITE_UNCORRECTABLE, "WRITE_UNCORRECTABLE" },
    { TERN_NVME_OPC_COMPARE, "COMPARE" },
    { TERN_NVME_OPC_WRITE_ZEROES, "WRITE_ZEROES" },
    { TERN_NVME_OPC_DATASET_MANAGEMENT, "DATASET_MANAGEMENT" },
    { TERN_NVME_OPC_VERIFY, "VERIFY" },
    { TERN_NVME_OPC_FABRICS, "FABRICS" },
};

static const struct name g_fctype[] = {
    { TERN_NVMF_FCTYPE_PROPERTY_SET, "PROPERTY_SET" },
    { TERN_NVMF_FCTYPE_CONNECT, "CONNECT" },
    { TERN_NVMF_FCTYPE_PROPERTY_GET, "PROPERTY_GET" },
    { TERN_NVMF_FCTYPE_AUTH_SEND, "AUTH_SEND" },
    { TERN_NVMF_FCTYPE_AUTH_RECV, "AUTH_RECV" },
    { TERN_NVMF_FCTYPE_DISCONNECT, "DISCONNECT" },
};

static const struct name g_pdu[] = {
    { TERN_NVME_TCP_ICREQ, "ICReq" },
    { TERN_NVME_TCP_ICRESP, "ICResp" },
    { TERN_NVME_TCP_H2C_TERM_REQ, "H2CTermReq" },
    { TERN_NVME_TCP_C2H_TERM_REQ, "C2HTermReq" },
    { TERN_NVME_TCP_CAPSULE_CMD, "CapsuleCmd" },
    { TERN_NVME_TCP_CAPSULE_RESP, "CapsuleResp" },
    { TERN_NVME_TCP_H2C_DATA, "H2CData" },
    { TERN_NVME_TCP_C2H_DATA, "C2HData" },
    { TERN_NVME_TCP_R2T, "R2T" },
};

const char *
tern_nvme_admin_opc_name(uint8_t opc)
{
    return LOOKUP(g_admin, opc, "UNKNOWN_ADMIN");
}

const char *
tern_nvme_io_opc_name(uint8_t opc)
{
    return LOOKUP(g_io, opc, "UNKNOWN_IO");
}

const char *
tern_nvmf_fctype_name(uint8_t fctype)
{
    return LOOKUP(g_fctype, fctype, "UNKNOWN_FABRICS");
}

const char *
tern_nvme_tcp_pdu_name(uint8_t type)
{
    return LOOKUP(g_pdu, type, "UNKNOWN_PDU");
}

/* Length of the UTF-8 sequence at p (bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p)
{
    size_t n, i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), false)

static bool
uuid_valid(const char *u)
{
    int i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)u[i])) {
            return false;
        }
    }
    return u[36] == '\0';
}

bool
tern_nvmf_nqn_valid(const char *nqn, size_t field_len, char *why, size_t why_len)
{
    static const char uuid_prefix[] = "nqn.2014-08.org.nvmexpress:uuid:";
    size_t len, i;
    const char *p;
    bool label_start = true;
    char last = 0;

    len = strnlen(nqn, field_len);
    if (len == field_len)
        return WHY("NQN is not NUL-terminated within %zu bytes", field_len);
    if (len == 0)
        return WHY("NQN is empty");
    if (len > TERN_NVMF_NQN_MAX_LEN)
        return WHY("NQN is %zu bytes long; the limit is %d", len, TERN_NVMF_NQN_MAX_LEN);
    for (i = 0; i < len;) {
        size_t n = utf8_len((const unsigned char *)nqn + i);

        if (n == 0 || i + n > len)
            return WHY("NQN is not valid UTF-8 at byte %zu", i);
        i += n;
    }
    if (strncmp(nqn, uuid_prefix, sizeof(uuid_prefix) - 1) == 0) {
        if (!uuid_valid(nqn + sizeof(uuid_prefix) - 1))
            return WHY("NQN \"%.64s\" has a malformed UUID", nqn);
        return true;
    }
    if (strncmp(nqn, "nqn.", 4) != 0)
        return WHY("NQN \"%.64s\" does not start with \"nqn.\"", nqn);
    /* nqn.yyyy-mm. */
    p = nqn + 4;
    for (i = 0; i < 7; i++) {
        if (i == 4 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
            return WHY("NQN \"%.64s\" lacks a yyyy-mm date after \"nqn.\"", nqn);
    }
    if ((p[5] - '0') * 10 + (p[6] - '0') < 1 || (p[5] - '0') * 10 + (p[6] - '0') > 12)
        return WHY("NQN \"%.64s\" has month %c%c", nqn, p[5], p[6]);
    if (p[7] != '.')
        return WHY("NQN \"%.64s\" lacks a '.' after the date", nqn);
    /* Reverse domain name up to ':' or the end: labels of letters, digits
     * and '-', each starting with a letter and not ending with '-'. */
    for (p += 8; *p != '\0' && *p != ':'; p++) {
        char c = *p;

        if (c == '.') {
            if (label_start || last == '-')
                return WHY("NQN \"%.64s\" has an empty or malformed domain label", nqn);
            label_start = true;
        } else if (label_start) {
            if (!isalpha((unsigned char)c))
                return WHY("NQN \"%.64s\": a domain label must start with a letter", nqn);
            label_start = false;
        } else if (!isalnum((unsigned char)c) && c != '-') {
            return WHY("NQN \"%.64s\": '%c' is not allowed in the domain", nqn, c);
        }
        last = c;
    }
    if (label_start || last == '-')
        return WHY("NQN \"%.64s\" has no reverse domain name or ends it badly", nqn);
    if (*p == ':' && p[1] == '\0')
        return WHY("NQN \"%.64s\" has nothing after ':'", nqn);
    return true;
}

void
tern_nvme_set_ascii(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len);

    memcpy(dst, src, n);
    memset(dst + n, ' ', len - n);
}

void
tern_nvme_set_u128(uint8_t dst[16], uint64_t value)
{
    int i;

    for (i = 0; i < 8; i++)
        dst[i] = (uint8_t)(value >> (8 * i));
    memset(dst + 8, 0, 8);
}

/* ---- transport types and address families (discovery log TRTYPE, ADRFAM) ---- */
const char *
tern_nvmf_trtype_name(uint8_t t)
{
    switch (t) {
    case TERN_NVMF_TRTYPE_TCP: return "TCP";
    case TERN_NVMF_TRTYPE_RDMA: return "RDMA";
    case TERN_NVMF_TRTYPE_FC: return "FC";
    default: return "unknown";
    }
}

const char *
tern_nvmf_adrfam_name(uint8_t a)
{
    switch (a) {
    case TERN_NVMF_ADRFAM_IPV4: return "IPv4";
    case TERN_NVMF_ADRFAM_IPV6: return "IPv6";
    case TERN_NVMF_ADRFAM_IB: return "IB";
    case TERN_NVMF_ADRFAM_FC: return "FC";
    default: return "unknown";
    }
}

int
tern_nvmf_trtype_parse(const char *s, uint8_t *t)
{
    if (strcasecmp(s, "TCP") == 0)
        *t = TERN_NVMF_TRTYPE_TCP;
    else if (strcasecmp(s, "RDMA") == 0)
        *t = TERN_NVMF_TRTYPE_RDMA;
    else
        return -EINVAL;
    return 0;
}

int
tern_nvmf_adrfam_parse(const char *s, uint8_t *a)
{
    if (strcasecmp(s, "IPv4") == 0)
        *a = TERN_NVMF_ADRFAM_IPV4;
    else if (strcasecmp(s, "IPv6") == 0)
        *a = TERN_NVMF_ADRFAM_IPV6;
    else
        return -EINVAL;
    return 0;
}
