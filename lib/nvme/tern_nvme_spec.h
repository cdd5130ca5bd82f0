/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe wire definitions: submission and completion queue entries, SGL
 * descriptors, status codes, opcodes, identify structures, log pages,
 * features, controller registers. Section numbers refer to the NVM Express
 * Base Specification 2.0 ("Base") and the NVM Command Set Specification 1.0
 * ("NVM"). Every structure's size and key offsets are checked at compile time.
 * Multi-byte fields are little-endian on the wire; Tern builds only for
 * little-endian hosts (x86-64, ARM64), checked below.
 */
#ifndef TERN_NVME_SPEC_H
#define TERN_NVME_SPEC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "NVMe structures are little-endian");

#define TERN_NVME_PACKED __attribute__((packed))
#define TERN_NVME_CHECK(type, size) _Static_assert(sizeof(type) == (size), #type " size")
#define TERN_NVME_OFFSET(type, field, off)                                     \
    _Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

/* ---- SGL descriptors (Base 4.1.2, Figure 115-122) ---- */
enum tern_nvme_sgl_type {
    TERN_NVME_SGL_DATA_BLOCK = 0x0,
    TERN_NVME_SGL_BIT_BUCKET = 0x1,
    TERN_NVME_SGL_SEGMENT = 0x2,
    TERN_NVME_SGL_LAST_SEGMENT = 0x3,
    TERN_NVME_SGL_KEYED_DATA_BLOCK = 0x4,
    TERN_NVME_SGL_TRANSPORT_DATA_BLOCK = 0x5,
    TERN_NVME_SGL_VENDOR = 0xf,
};
enum tern_nvme_sgl_subtype {
    TERN_NVME_SGL_SUBTYPE_ADDRESS = 0x0,
    TERN_NVME_SGL_SUBTYPE_OFFSET = 0x1,
    TERN_NVME_SGL_SUBTYPE_TRANSPORT = 0xa,
    /* Keyed data block: invalidate the key after the transfer. */
    TERN_NVME_SGL_SUBTYPE_INVALIDATE_KEY = 0xf,
};

struct tern_nvme_sgl {
    uint64_t address;
    union {
        struct {
            uint32_t length;
            uint8_t reserved[3];
            uint8_t id;         /* type << 4 | subtype */
        } TERN_NVME_PACKED unkeyed;
        struct {
            uint8_t length[3];  /* 24-bit */
            uint8_t key[4];     /* 32-bit, unaligned */
            uint8_t id;
        } TERN_NVME_PACKED keyed;
    };
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_sgl, 16);

static inline uint8_t
tern_nvme_sgl_type(const struct tern_nvme_sgl *s)
{
    return (uint8_t)(s->unkeyed.id >> 4);
}

static inline uint8_t
tern_nvme_sgl_subtype(const struct tern_nvme_sgl *s)
{
    return (uint8_t)(s->unkeyed.id & 0xf);
}

static inline uint32_t
tern_nvme_sgl_keyed_length(const struct tern_nvme_sgl *s)
{
    return (uint32_t)s->keyed.length[0] | (uint32_t)s->keyed.length[1] << 8 |
           (uint32_t)s->keyed.length[2] << 16;
}

static inline uint32_t
tern_nvme_sgl_key(const struct tern_nvme_sgl *s)
{
    return (uint32_t)s->keyed.key[0] | (uint32_t)s->keyed.key[1] << 8 |
           (uint32_t)s->keyed.key[2] << 16 | (uint32_t)s->keyed.key[3] << 24;
}

/* ---- Submission queue entry (Base 4.2, Figure 88) ---- */
#define TERN_NVME_PSDT_PRP 0x0
#define TERN_NVME_PSDT_SGL_MPTR_CONTIG 0x1
#define TERN_NVME_PSDT_SGL_MPTR_SGL 0x2

struct tern_nvme_cmd {
    uint8_t opc;
    uint8_t flags;      /* bits 1:0 FUSE, bits 7:6 PSDT */
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;
    union {
        struct {
            uint64_t prp1;
            uint64_t prp2;
        } prp;
        struct tern_nvme_sgl sgl1;
    } dptr;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;
};
TERN_NVME_CHECK(struct tern_nvme_cmd, 64);
TERN_NVME_OFFSET(struct tern_nvme_cmd, dptr, 24);
TERN_NVME_OFFSET(struct tern_nvme_cmd, cdw10, 40);

static inline uint8_t
tern_nvme_cmd_psdt(const struct tern_nvme_cmd *c)
{
    return (uint8_t)(c->flags >> 6);
}

static inline uint8_t
tern_nvme_cmd_fuse(const struct tern_nvme_cmd *c)
{
    return (uint8_t)(c->flags & 0x3);
}

/* ---- Completion queue entry (Base 4.6, Figure 92) ---- */
struct tern_nvme_cpl {
    uint32_t cdw0;
    uint32_t cdw1;
    uint16_t sqhd;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;    /* bit 0 P, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR */
};
TERN_NVME_CHECK(struct tern_nvme_cpl, 16);
TERN_NVME_OFFSET(struct tern_nvme_cpl, status, 14);

/*
 * Tern's command path returns a 16-bit NVMe status as `uint16_t` laid out
 * like the CQE status field without the phase bit: SC in bits 7:0, SCT in
 * 10:8, CRD 12:11, More 13, DNR 14. TERN_NVME_SC_SUCCESS is 0.
 */
#define TERN_NVME_STATUS(sct, sc) ((uint16_t)(((sct) & 0x7) << 8 | ((sc) & 0xff)))
#define TERN_NVME_STATUS_DNR 0x4000u
#define TERN_NVME_STATUS_SC(s) ((uint8_t)((s) & 0xff))
#define TERN_NVME_STATUS_SCT(s) ((uint8_t)(((s) >> 8) & 0x7))
#define TERN_NVME_STATUS_IS_DNR(s) (((s) & TERN_NVME_STATUS_DNR) != 0)
/* To and from the CQE field (phase bit 0 is the queue's, not the status'). */
static inline uint16_t
tern_nvme_status_to_cqe(uint16_t status, int phase)
{
    return (uint16_t)(status << 1 | (phase & 1));
}

static inline uint16_t
tern_nvme_status_from_cqe(uint16_t field)
{
    return (uint16_t)(field >> 1);
}

/* Status code types (Base 4.6.1.2.1, Figure 95). */
#define TERN_NVME_SCT_GENERIC 0x0
#define TERN_NVME_SCT_COMMAND_SPECIFIC 0x1
#define TERN_NVME_SCT_MEDIA 0x2
#define TERN_NVME_SCT_PATH 0x3
#define TERN_NVME_SCT_VENDOR 0x7

/* Generic command status (Base Figure 96, NVM Figure 17). */
enum tern_nvme_generic_sc {
    TERN_NVME_SC_SUCCESS = 0x00,
    TERN_NVME_SC_INVALID_OPCODE = 0x01,
    TERN_NVME_SC_INVALID_FIELD = 0x02,
    TERN_NVME_SC_COMMAND_ID_CONFLICT = 0x03,
    TERN_NVME_SC_DATA_TRANSFER_ERROR = 0x04,
    TERN_NVME_SC_ABORTED_POWER_LOSS = 0x05,
    TERN_NVME_SC_INTERNAL_DEVICE_ERROR = 0x06,
    TERN_NVME_SC_ABORTED_BY_REQUEST = 0x07,
    TERN_NVME_SC_ABORTED_SQ_DELETION = 0x08,
    TERN_NVME_SC_ABORTED_FAILED_FUSED = 0x09,
    TERN_NVME_SC_ABORTED_MISSING_FUSED = 0x0a,
    TERN_NVME_SC_INVALID_NAMESPACE_OR_FORMAT = 0x0b,
    TERN_NVME_SC_COMMAND_SEQUENCE_ERROR = 0x0c,
    TERN_NVME_SC_INVALID_SGL_SEG_DESCRIPTOR = 0x0d,
    TERN_NVME_SC_INVALID_NUM_SGL_DESCIRPTORS = 0x0e,
    TERN_NVME_SC_DATA_SGL_LENGTH_INVALID = 0x0f,
    TERN_NVME_SC_METADATA_SGL_LENGTH_INVALID = 0x10,
    TERN_NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID = 0x11,
    TERN_NVME_SC_INVALID_CONTROLLER_MEM_BUF = 0x12,
    TERN_NVME_SC_INVALID_PRP_OFFSET = 0x13,
    TERN_NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED = 0x14,
    TERN_NVME_SC_OPERATION_DENIED = 0x15,
    TERN_NVME_SC_INVALID_SGL_OFFSET = 0x16,
    TERN_NVME_SC_HOSTID_INCONSISTENT_FORMAT = 0x18,
    TERN_NVME_SC_KEEP_ALIVE_EXPIRED = 0x19,
    TERN_NVME_SC_KEEP_ALIVE_INVALID = 0x1a,
    TERN_NVME_SC_ABORTED_PREEMPT = 0x1b,
    TERN_NVME_SC_SANITIZE_FAILED = 0x1c,
    TERN_NVME_SC_SANITIZE_IN_PROGRESS = 0x1d,
    TERN_NVME_SC_SGL_DATA_BLOCK_GRANULARITY_INVALID = 0x1e,
    TERN_NVME_SC_COMMAND_INVALID_IN_CMB = 0x1f,
    TERN_NVME_SC_NAMESPACE_IS_WRITE_PROTECTED = 0x20,
    TERN_NVME_SC_COMMAND_INTERRUPTED = 0x21,
    TERN_NVME_SC_TRANSIENT_TRANSPORT_ERROR = 0x22,
    TERN_NVME_SC_COMMAND_PROHIBITED_BY_LOCKDOWN = 0x23,
    TERN_NVME_SC_ADMIN_COMMAND_MEDIA_NOT_READY = 0x24,
    /* NVM command set specific, in the generic space (NVM Figure 17) */
    TERN_NVME_SC_LBA_OUT_OF_RANGE = 0x80,
    TERN_NVME_SC_CAPACITY_EXCEEDED = 0x81,
    TERN_NVME_SC_NAMESPACE_NOT_READY = 0x82,
    TERN_NVME_SC_RESERVATION_CONFLICT = 0x83,
    TERN_NVME_SC_FORMAT_IN_PROGRESS = 0x84,
};

/* Command specific status (Base Figure 97, NVM Figure 18). */
enum tern_nvme_command_specific_sc {
    TERN_NVME_SC_COMPLETION_QUEUE_INVALID = 0x00,
    TERN_NVME_SC_INVALID_QUEUE_IDENTIFIER = 0x01,
    TERN_NVME_SC_INVALID_QUEUE_SIZE = 0x02,
    TERN_NVME_SC_ABORT_COMMAND_LIMIT_EXCEEDED = 0x03,
    TERN_NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED = 0x05,
    TERN_NVME_SC_INVALID_FIRMWARE_SLOT = 0x06,
    TERN_NVME_SC_INVALID_FIRMWARE_IMAGE = 0x07,
    TERN_NVME_SC_INVALID_INTERRUPT_VECTOR = 0x08,
    TERN_NVME_SC_INVALID_LOG_PAGE = 0x09,
    TERN_NVME_SC_INVALID_FORMAT = 0x0a,
    TERN_NVME_SC_FEATURE_ID_NOT_SAVEABLE = 0x0d,
    TERN_NVME_SC_FEATURE_NOT_CHANGEABLE = 0x0e,
    TERN_NVME_SC_FEATURE_NOT_NAMESPACE_SPECIFIC = 0x0f,
    TERN_NVME_SC_NAMESPACE_ALREADY_ATTACHED = 0x18,
    TERN_NVME_SC_NAMESPACE_IS_PRIVATE = 0x19,
    TERN_NVME_SC_NAMESPACE_NOT_ATTACHED = 0x1a,
    TERN_NVME_SC_INVALID_CONTROLLER_LIST = 0x1c,
    TERN_NVME_SC_CONFLICTING_ATTRIBUTES = 0x80,      /* NVM: DSM, Write Zeroes... */
    TERN_NVME_SC_INVALID_PROTECTION_INFO = 0x81,
    TERN_NVME_SC_ATTEMPTED_WRITE_TO_RO_RANGE = 0x82,
};

/* Media and data integrity errors (Base Figure 98, NVM Figure 19). */
enum tern_nvme_media_sc {
    TERN_NVME_SC_WRITE_FAULTS = 0x80,
    TERN_NVME_SC_UNRECOVERED_READ_ERROR = 0x81,
    TERN_NVME_SC_COMPARE_FAILURE = 0x85,
    TERN_NVME_SC_ACCESS_DENIED = 0x86,
    TERN_NVME_SC_DEALLOCATED_OR_UNWRITTEN_BLOCK = 0x87,
};

/* Path related status (Base Figure 99). */
enum tern_nvme_path_sc {
    TERN_NVME_SC_INTERNAL_PATH_ERROR = 0x00,
    TERN_NVME_SC_ANA_PERSISTENT_LOSS = 0x01,
    TERN_NVME_SC_ANA_INACCESSIBLE = 0x02,
    TERN_NVME_SC_ANA_TRANSITION = 0x03,
    TERN_NVME_SC_CONTROLLER_PATH_ERROR = 0x60,
    TERN_NVME_SC_HOST_PATH_ERROR = 0x70,
    TERN_NVME_SC_ABORTED_BY_HOST = 0x71,
};

/* ---- Opcodes ---- */
/* Admin (Base 5, Figure 142). */
enum tern_nvme_admin_opc {
    TERN_NVME_OPC_DELETE_IO_SQ = 0x00,
    TERN_NVME_OPC_CREATE_IO_SQ = 0x01,
    TERN_NVME_OPC_GET_LOG_PAGE = 0x02,
    TERN_NVME_OPC_DELETE_IO_CQ = 0x04,
    TERN_NVME_OPC_CREATE_IO_CQ = 0x05,
    TERN_NVME_OPC_IDENTIFY = 0x06,
    TERN_NVME_OPC_ABORT = 0x08,
    TERN_NVME_OPC_SET_FEATURES = 0x09,
    TERN_NVME_OPC_GET_FEATURES = 0x0a,
    TERN_NVME_OPC_ASYNC_EVENT_REQUEST = 0x0c,
    TERN_NVME_OPC_NS_MANAGEMENT = 0x0d,
    TERN_NVME_OPC_FIRMWARE_COMMIT = 0x10,
    TERN_NVME_OPC_FIRMWARE_IMAGE_DOWNLOAD = 0x11,
    TERN_NVME_OPC_DEVICE_SELF_TEST = 0x14,
    TERN_NVME_OPC_NS_ATTACHMENT = 0x15,
    TERN_NVME_OPC_KEEP_ALIVE = 0x18,
    TERN_NVME_OPC_DIRECTIVE_SEND = 0x19,
    TERN_NVME_OPC_DIRECTIVE_RECEIVE = 0x1a,
    TERN_NVME_OPC_VIRTUALIZATION_MANAGEMENT = 0x1c,
    TERN_NVME_OPC_NVME_MI_SEND = 0x1d,
    TERN_NVME_OPC_NVME_MI_RECEIVE = 0x1e,
    TERN_NVME_OPC_DOORBELL_BUFFER_CONFIG = 0x7c,
    TERN_NVME_OPC_FABRICS = 0x7f,
    TERN_NVME_OPC_FORMAT_NVM = 0x80,
    TERN_NVME_OPC_SECURITY_SEND = 0x81,
    TERN_NVME_OPC_SECURITY_RECEIVE = 0x82,
    TERN_NVME_OPC_SANITIZE = 0x84,
    TERN_NVME_OPC_GET_LBA_STATUS = 0x86,
};

/* NVM command set I/O (NVM 3, Figure 13). */
enum tern_nvme_io_opc {
    TERN_NVME_OPC_FLUSH = 0x00,
    TERN_NVME_OPC_WRITE = 0x01,
    TERN_NVME_OPC_READ = 0x02,
    TERN_NVME_OPC_WRITE_UNCORRECTABLE = 0x04,
    TERN_NVME_OPC_COMPARE = 0x05,
    TERN_NVME_OPC_WRITE_ZEROES = 0x08,
    TERN_NVME_OPC_DATASET_MANAGEMENT = 0x09,
    TERN_NVME_OPC_VERIFY = 0x0c,
    TERN_NVME_OPC_RESERVATION_REGISTER = 0x0d,
    TERN_NVME_OPC_RESERVATION_REPORT = 0x0e,
    TERN_NVME_OPC_RESERVATION_ACQUIRE = 0x11,
    TERN_NVME_OPC_RESERVATION_RELEASE = 0x15,
    TERN_NVME_OPC_COPY = 0x19,
};

/* Data transfer direction: bits 1:0 of every opcode (Base 5, Figure 142). */
#define TERN_NVME_OPC_XFER(opc) ((opc) & 0x3)
#define TERN_NVME_XFER_NONE 0x0
#define TERN_NVME_XFER_HOST_TO_CTRLR 0x1
#define TERN_NVME_XFER_CTRLR_TO_HOST 0x2
#define TERN_NVME_XFER_BIDIRECTIONAL 0x3

/* ---- Controller registers (Base 3.1.3, Figure 35) ---- */
#define TERN_NVME_REG_CAP 0x00
#define TERN_NVME_REG_VS 0x08
#define TERN_NVME_REG_INTMS 0x0c
#define TERN_NVME_REG_INTMC 0x10
#define TERN_NVME_REG_CC 0x14
#define TERN_NVME_REG_CSTS 0x1c
#define TERN_NVME_REG_NSSR 0x20
#define TERN_NVME_REG_AQA 0x24
#define TERN_NVME_REG_ASQ 0x28
#define TERN_NVME_REG_ACQ 0x30
#define TERN_NVME_REG_DOORBELLS 0x1000

/* CAP fields (Base Figure 36). */
#define TERN_NVME_CAP_MQES(cap) ((uint32_t)((cap) & 0xffff))           /* 0's based */
#define TERN_NVME_CAP_CQR(cap) ((uint32_t)(((cap) >> 16) & 0x1))
#define TERN_NVME_CAP_AMS(cap) ((uint32_t)(((cap) >> 17) & 0x3))
#define TERN_NVME_CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xff))       /* 500 ms units */
#define TERN_NVME_CAP_DSTRD(cap) ((uint32_t)(((cap) >> 32) & 0xf))     /* 4 << DSTRD bytes */
#define TERN_NVME_CAP_NSSRS(cap) ((uint32_t)(((cap) >> 36) & 0x1))
#define TERN_NVME_CAP_CSS(cap) ((uint32_t)(((cap) >> 37) & 0xff))
#define TERN_NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf))    /* 2^(12+n) */
#define TERN_NVME_CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xf))
#define TERN_NVME_CAP_CSS_NVM 0x01

/* CC fields (Base Figure 41). */
#define TERN_NVME_CC_EN 0x1u
#define TERN_NVME_CC_CSS_SHIFT 4
#define TERN_NVME_CC_MPS_SHIFT 7
#define TERN_NVME_CC_AMS_SHIFT 11
#define TERN_NVME_CC_SHN_SHIFT 14
#define TERN_NVME_CC_SHN_MASK (0x3u << TERN_NVME_CC_SHN_SHIFT)
#define TERN_NVME_CC_SHN_NORMAL 0x1u
#define TERN_NVME_CC_SHN_ABRUPT 0x2u
#define TERN_NVME_CC_IOSQES_SHIFT 16
#define TERN_NVME_CC_IOCQES_SHIFT 20

/* CSTS fields (Base Figure 42). */
#define TERN_NVME_CSTS_RDY 0x1u
#define TERN_NVME_CSTS_CFS 0x2u
#define TERN_NVME_CSTS_SHST_SHIFT 2
#define TERN_NVME_CSTS_SHST_MASK (0x3u << TERN_NVME_CSTS_SHST_SHIFT)
#define TERN_NVME_CSTS_SHST_NORMAL 0x0u
#define TERN_NVME_CSTS_SHST_OCCURRING 0x1u
#define TERN_NVME_CSTS_SHST_COMPLETE 0x2u

/* Version register value. */
#define TERN_NVME_VERSION(mjr, mnr, ter) ((uint32_t)((mjr) << 16 | (mnr) << 8 | (ter)))

/* ---- Identify (Base 5.17) ---- */
enum tern_nvme_identify_cns {
    TERN_NVME_CNS_NS = 0x00,
    TERN_NVME_CNS_CTRLR = 0x01,
    TERN_NVME_CNS_ACTIVE_NS_LIST = 0x02,
    TERN_NVME_CNS_NS_ID_DESCRIPTOR_LIST = 0x03,
    TERN_NVME_CNS_NVM_SET_LIST = 0x04,
    TERN_NVME_CNS_IOCS_NS = 0x05,
    TERN_NVME_CNS_IOCS_CTRLR = 0x06,
    TERN_NVME_CNS_IOCS_ACTIVE_NS_LIST = 0x07,
    TERN_NVME_CNS_ALLOCATED_NS_LIST = 0x10,
    TERN_NVME_CNS_ALLOCATED_NS = 0x11,
    TERN_NVME_CNS_ATTACHED_CTRLR_LIST = 0x12,
    TERN_NVME_CNS_CTRLR_LIST = 0x13,
    TERN_NVME_CNS_IOCS = 0x1c,
};

struct tern_nvme_power_state {
    uint16_t mp;            /* maximum power, centiwatts */
    uint8_t rsvd2;
    uint8_t flags;          /* MXPS bit 0, NOPS bit 1 */
    uint32_t enlat;
    uint32_t exlat;
    uint8_t rrt;
    uint8_t rrl;
    uint8_t rwt;
    uint8_t rwl;
    uint16_t idlp;
    uint8_t ips;
    uint8_t rsvd19;
    uint16_t actp;
    uint8_t apws;
    uint8_t rsvd23[9];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_power_state, 32);

/* Identify Controller data structure (Base Figure 275). */
struct tern_nvme_ctrlr_data {
    uint16_t vid;
    uint16_t ssvid;
    char sn[20];
    char mn[40];
    char fr[8];
    uint8_t rab;
    uint8_t ieee[3];
    uint8_t cmic;
    uint8_t mdts;
    uint16_t cntlid;
    uint32_t ver;
    uint32_t rtd3r;
    uint32_t rtd3e;
    uint32_t oaes;
    uint32_t ctratt;
    uint16_t rrls;
    uint8_t rsvd102[9];
    uint8_t cntrltype;
    uint8_t fguid[16];
    uint16_t crdt1;
    uint16_t crdt2;
    uint16_t crdt3;
    uint8_t rsvd134[119];
    uint8_t nvmsr;
    uint8_t vwci;
    uint8_t mec;
    /* admin command set attributes */
    uint16_t oacs;
    uint8_t acl;
    uint8_t aerl;
    uint8_t frmw;
    uint8_t lpa;
    uint8_t elpe;
    uint8_t npss;
    uint8_t avscc;
    uint8_t apsta;
    uint16_t wctemp;
    uint16_t cctemp;
    uint16_t mtfa;
    uint32_t hmpre;
    uint32_t hmmin;
    uint8_t tnvmcap[16];
    uint8_t unvmcap[16];
    uint32_t rpmbs;
    uint16_t edstt;
    uint8_t dsto;
    uint8_t fwug;
    uint16_t kas;           /* keep alive granularity, 100 ms units */
    uint16_t hctma;
    uint16_t mntmt;
    uint16_t mxtmt;
    uint32_t sanicap;
    uint32_t hmminds;
    uint16_t hmmaxd;
    uint16_t nsetidmax;
    uint16_t endgidmax;
    uint8_t anatt;
    uint8_t anacap;
    uint32_t anagrpmax;
    uint32_t nanagrpid;
    uint32_t pels;
    uint16_t domainid;
    uint8_t rsvd358[10];
    uint8_t megcap[16];
    uint8_t rsvd384[128];
    /* NVM command set attributes */
    uint8_t sqes;
    uint8_t cqes;
    uint16_t maxcmd;
    uint32_t nn;
    uint16_t oncs;
    uint16_t fuses;
    uint8_t fna;
    uint8_t vwc;
    uint16_t awun;
    uint16_t awupf;
    uint8_t icsvscc;
    uint8_t nwpc;
    uint16_t acwu;
    uint16_t ocfs;
    uint32_t sgls;
    uint32_t mnan;
    uint8_t maxdna[16];
    uint32_t maxcna;
    uint8_t rsvd564[204];
    char subnqn[256];
    uint8_t rsvd1024[768];
    /* NVMe over Fabrics attributes (Base Figure 275, bytes 1792-2047) */
    uint32_t ioccsz;        /* 16-byte units */
    uint32_t iorcsz;
    uint16_t icdoff;
    uint8_t fcatt;
    uint8_t msdbd;
    uint16_t ofcs;
    uint8_t rsvd1806[242];
    struct tern_nvme_power_state psd[32];
    uint8_t vs[1024];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_ctrlr_data, 4096);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, sn, 4);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, mn, 24);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, fr, 64);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, mdts, 77);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, cntlid, 78);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, ver, 80);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, oaes, 92);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, ctratt, 96);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, cntrltype, 111);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, fguid, 112);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, oacs, 256);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, lpa, 261);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, kas, 320);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, anacap, 343);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, sqes, 512);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, nn, 516);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, oncs, 520);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, vwc, 525);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, sgls, 536);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, subnqn, 768);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, ioccsz, 1792);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, msdbd, 1803);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, psd, 2048);
TERN_NVME_OFFSET(struct tern_nvme_ctrlr_data, vs, 3072);

/* Identify controller bits used by the target. */
#define TERN_NVME_CTRLR_CNTRLTYPE_IO 0x1
#define TERN_NVME_CTRLR_CNTRLTYPE_DISCOVERY 0x2
#define TERN_NVME_CTRLR_OAES_NS_ATTR 0x100u          /* namespace attribute notices */
#define TERN_NVME_CTRLR_OAES_DISCOVERY_LOG 0x80000000u
#define TERN_NVME_CTRLR_LPA_CMD_EFFECTS 0x02
#define TERN_NVME_CTRLR_LPA_EXTENDED_DATA 0x04
#define TERN_NVME_CTRLR_ONCS_COMPARE 0x01
#define TERN_NVME_CTRLR_ONCS_WRITE_UNC 0x02
#define TERN_NVME_CTRLR_ONCS_DSM 0x04
#define TERN_NVME_CTRLR_ONCS_WRITE_ZEROES 0x08
#define TERN_NVME_CTRLR_FUSES_COMPARE_WRITE 0x01
#define TERN_NVME_CTRLR_VWC_PRESENT 0x01
#define TERN_NVME_CTRLR_VWC_NSID_FFFFFFFF 0x06     /* flush with NSID FFFFFFFFh supported */
#define TERN_NVME_CTRLR_SGLS_SUPPORTED 0x1u
#define TERN_NVME_CTRLR_SGLS_KEYED 0x4u
#define TERN_NVME_CTRLR_SGLS_OFFSET 0x100000u      /* bit 20: offset addressing */
#define TERN_NVME_CTRLR_CMIC_MULTI_CTRLR 0x2

/* LBA format (NVM Figure 116). */
struct tern_nvme_lbaf {
    uint16_t ms;            /* metadata bytes per LBA */
    uint8_t lbads;          /* 2^lbads bytes per LBA */
    uint8_t rp;             /* relative performance, bits 1:0 */
};
TERN_NVME_CHECK(struct tern_nvme_lbaf, 4);

/* Identify Namespace data structure, NVM command set (NVM Figure 97). */
struct tern_nvme_ns_data {
    uint64_t nsze;
    uint64_t ncap;
    uint64_t nuse;
    uint8_t nsfeat;
    uint8_t nlbaf;          /* 0's based */
    uint8_t flbas;
    uint8_t mc;
    uint8_t dpc;
    uint8_t dps;
    uint8_t nmic;
    uint8_t rescap;
    uint8_t fpi;
    uint8_t dlfeat;
    uint16_t nawun;
    uint16_t nawupf;
    uint16_t nacwu;
    uint16_t nabsn;
    uint16_t nabo;
    uint16_t nabspf;
    uint16_t noiob;
    uint8_t nvmcap[16];
    uint16_t npwg;
    uint16_t npwa;
    uint16_t npdg;
    uint16_t npda;
    uint16_t nows;
    uint16_t mssrl;
    uint32_t mcl;
    uint8_t msrc;
    uint8_t rsvd81[11];
    uint32_t anagrpid;
    uint8_t rsvd96[3];
    uint8_t nsattr;
    uint16_t nvmsetid;
    uint16_t endgid;
    uint8_t nguid[16];
    uint8_t eui64[8];
    struct tern_nvme_lbaf lbaf[64];
    uint8_t vs[3712];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_ns_data, 4096);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, nlbaf, 25);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, dlfeat, 33);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, nvmcap, 48);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, anagrpid, 92);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, nsattr, 99);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, nguid, 104);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, eui64, 120);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, lbaf, 128);
TERN_NVME_OFFSET(struct tern_nvme_ns_data, vs, 384);

#define TERN_NVME_NS_NSFEAT_THIN 0x01
#define TERN_NVME_NS_NSFEAT_DEALLOC_ERR 0x04
#define TERN_NVME_NS_NSFEAT_IO_OPT 0x10       /* npwg..nows valid */
#define TERN_NVME_NS_DLFEAT_READ_ZEROES 0x01
#define TERN_NVME_NS_DLFEAT_WRITE_ZEROES_DEALLOC 0x08
#define TERN_NVME_NS_DLFEAT_GUARD_CRC 0x10
#define TERN_NVME_NS_NMIC_SHARED 0x01

/* Namespace identification descriptor (Base Figure 278). */
enum tern_nvme_nidt {
    TERN_NVME_NIDT_EUI64 = 0x1,     /* 8 bytes */
    TERN_NVME_NIDT_NGUID = 0x2,     /* 16 bytes */
    TERN_NVME_NIDT_UUID = 0x3,      /* 16 bytes */
    TERN_NVME_NIDT_CSI = 0x4,       /* 1 byte */
};
struct tern_nvme_ns_id_desc {
    uint8_t nidt;
    uint8_t nidl;
    uint16_t rsvd;
    uint8_t nid[];
};
TERN_NVME_CHECK(struct tern_nvme_ns_id_desc, 4);
#define TERN_NVME_CSI_NVM 0x0

/* ---- Log pages (Base 5.16) ---- */
enum tern_nvme_log_page {
    TERN_NVME_LOG_SUPPORTED_PAGES = 0x00,
    TERN_NVME_LOG_ERROR = 0x01,
    TERN_NVME_LOG_HEALTH = 0x02,
    TERN_NVME_LOG_FIRMWARE_SLOT = 0x03,
    TERN_NVME_LOG_CHANGED_NS_LIST = 0x04,
    TERN_NVME_LOG_COMMAND_EFFECTS = 0x05,
    TERN_NVME_LOG_DEVICE_SELF_TEST = 0x06,
    TERN_NVME_LOG_TELEMETRY_HOST = 0x07,
    TERN_NVME_LOG_ANA = 0x0c,
    TERN_NVME_LOG_DISCOVERY = 0x70,
    TERN_NVME_LOG_RESERVATION_NOTIFICATION = 0x80,
    TERN_NVME_LOG_SANITIZE_STATUS = 0x81,
};

/* Error information entry (Base Figure 205). */
struct tern_nvme_error_entry {
    uint64_t error_count;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;        /* CQE status field layout, phase bit included */
    uint16_t error_location;
    uint64_t lba;
    uint32_t nsid;
    uint8_t vendor_specific;
    uint8_t trtype;
    uint8_t rsvd30[2];
    uint64_t command_specific;
    uint16_t trtype_specific;
    uint8_t rsvd42[21];
    uint8_t log_page_version;
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_error_entry, 64);
TERN_NVME_OFFSET(struct tern_nvme_error_entry, lba, 16);
TERN_NVME_OFFSET(struct tern_nvme_error_entry, trtype, 29);

/* SMART / Health Information (Base Figure 207). */
struct tern_nvme_health_log {
    uint8_t critical_warning;
    uint16_t composite_temperature;     /* kelvin */
    uint8_t available_spare;
    uint8_t available_spare_threshold;
    uint8_t percentage_used;
    uint8_t endurance_group_critical_warning;
    uint8_t rsvd7[25];
    uint8_t data_units_read[16];        /* 1000 x 512 bytes */
    uint8_t data_units_written[16];
    uint8_t host_read_commands[16];
    uint8_t host_write_commands[16];
    uint8_t controller_busy_time[16];   /* minutes */
    uint8_t power_cycles[16];
    uint8_t power_on_hours[16];
    uint8_t unsafe_shutdowns[16];
    uint8_t media_errors[16];
    uint8_t num_error_info_log_entries[16];
    uint32_t warning_temp_time;
    uint32_t critical_temp_time;
    uint16_t temp_sensor[8];
    uint32_t thm_temp1_trans_count;
    uint32_t thm_temp2_trans_count;
    uint32_t thm_temp1_total_time;
    uint32_t thm_temp2_total_time;
    uint8_t rsvd232[280];
} TERN_NVME_PACKED;
TERN_NVME_CHECK(struct tern_nvme_health_log, 512);
TERN_NVME_OFFSET(struct tern_nvme_health_log, data_units_read, 32);
TERN_NVME_OFFSET(struct tern_nvme_health_log, num_error_info_log_entries, 176);
TERN_NVME_OFFSET(struct tern_nvme_health_log, warning_temp_time, 192);

/* Firmware Slot Information (Base Figure 208). */
struct tern_nvme_firmware_log {
    uint8_t afi;
    uint8_t rsvd1[7];
    char frs[7][8];
    uint8_t rsvd64[448];
};
TERN_NVME_CHECK(struct tern_nvme_firmware_log, 512);

/* Changed Namespace List (Base Figure 209): up to 1024 NSIDs; a first entry
 * of FFFFFFFFh means more than 1024 changed. */
#define TERN_NVME_CHANGED_NS_MAX 1024
struct tern_nvme_changed_ns_list {
    uint32_t nsid[TERN_NVME_CHANGED_NS_MAX];
};
TERN_NVME_CHECK(struct tern_nvme_changed_ns_list, 4096);

/* Commands Supported and Effects (Base Figure 210-211). */
#define TERN_NVME_CSE_CSUPP 0x1u        /* command supported */
#define TERN_NVME_CSE_LBCC 0x2u         /* logical block content change */
#define TERN_NVME_CSE_NCC 0x4u          /* namespace capability change */
#define TERN_NVME_CSE_NIC 0x8u          /* namespace inventory change */
#define TERN_NVME_CSE_CCC 0x10u         /* controller capability change */
struct tern_nvme_cmd_effects_log {
    uint32_t acs[256];
    uint32_t iocs[256];
    uint8_t rsvd2048[2048];
};
TERN_NVME_CHECK(struct tern_nvme_cmd_effects_log, 4096);

/* Get Log Page command fields (Base Figure 197-199). */
#define TERN_NVME_GLP_LID(cdw10) ((uint8_t)((cdw10) & 0xff))
#define TERN_NVME_GLP_LSP(cdw10) ((uint8_t)(((cdw10) >> 8) & 0x7f))
#define TERN_NVME_GLP_RAE(cdw10) (((cdw10) >> 15) & 0x1)
/* Number of dwords, 0's based, split over NUMDL (cdw10 31:16) and NUMDU (cdw11 15:0). */
static inline uint64_t
tern_nvme_glp_bytes(uint32_t cdw10, uint32_t cdw11)
{
    return (((uint64_t)(cdw11 & 0xffff) << 16 | (cdw10 >> 16)) + 1) * 4;
}

static inline uint64_t
tern_nvme_glp_offset(uint32_t cdw12, uint32_t cdw13)
{
    return (uint64_t)cdw13 << 32 | cdw12;
}

/* ---- Features (Base 5.27.1, Figure 317) ---- */
enum tern_nvme_feature {
    TERN_NVME_FEAT_ARBITRATION = 0x01,
    TERN_NVME_FEAT_POWER_MANAGEMENT = 0x02,
    TERN_NVME_FEAT_LBA_RANGE_TYPE = 0x03,
    TERN_NVME_FEAT_TEMPERATURE_THRESHOLD = 0x04,
    TERN_NVME_FEAT_ERROR_RECOVERY = 0x05,
    TERN_NVME_FEAT_VOLATILE_WRITE_CACHE = 0x06,
    TERN_NVME_FEAT_NUMBER_OF_QUEUES = 0x07,
    TERN_NVME_FEAT_INTERRUPT_COALESCING = 0x08,
    TERN_NVME_FEAT_INTERRUPT_VECTOR_CONFIG = 0x09,
    TERN_NVME_FEAT_WRITE_ATOMICITY = 0x0a,
    TERN_NVME_FEAT_ASYNC_EVENT_CONFIG = 0x0b,
    TERN_NVME_FEAT_AUTONOMOUS_POWER_STATE = 0x0c,
    TERN_NVME_FEAT_HOST_MEM_BUFFER = 0x0d,
    TERN_NVME_FEAT_TIMESTAMP = 0x0e,
    TERN_NVME_FEAT_KEEP_ALIVE_TIMER = 0x0f,
    TERN_NVME_FEAT_HOST_CONTROLLED_THERMAL = 0x10,
    TERN_NVME_FEAT_NON_OP_POWER_STATE = 0x11,
    TERN_NVME_FEAT_HOST_BEHAVIOR = 0x16,
    TERN_NVME_FEAT_HOST_IDENTIFIER = 0x81,
    TERN_NVME_FEAT_RESERVATION_NOTIFICATION_MASK = 0x82,
    TERN_NVME_FEAT_RESERVATION_PERSISTENCE = 0x83,
};
#define TERN_NVME_FEAT_FID(cdw10) ((uint8_t)((cdw10) & 0xff))
#define TERN_NVME_FEAT_SEL(cdw10) ((uint8_t)(((cdw10) >> 8) & 0x7))   /* Get Features */
#define TERN_NVME_FEAT_SV(cdw10) (((cdw10) >> 31) & 0x1)              /* Set Features */
#define TERN_NVME_FEAT_SEL_CURRENT 0x0
#define TERN_NVME_FEAT_SEL_DEFAULT 0x1
#define TERN_NVME_FEAT_SEL_SAVED 0x2
#define TERN_NVME_FEAT_SEL_SUPPORTED 0x3

/* ---- Asynchronous events (Base 5.2, Figure 145-150) ---- */
#define TERN_NVME_AER_TYPE_ERROR 0x0
#define TERN_NVME_AER_TYPE_SMART 0x1
#define TERN_NVME_AER_TYPE_NOTICE 0x2
#define TERN_NVME_AER_INFO_NOTICE_NS_ATTR_CHANGED 0x00
#define TERN_NVME_AER_INFO_NOTICE_DISCOVERY_LOG_CHANGE 0xf0
/* Completion dword 0: type 2:0, info 15:8, log page 23:16. */
static inline uint32_t
tern_nvme_aer_cdw0(uint8_t type, uint8_t info, uint8_t log_page)
{
    return (uint32_t)type | (uint32_t)info << 8 | (uint32_t)log_page << 16;
}
/* Async Event Configuration feature bits (Base Figure 330). */
#define TERN_NVME_AEC_NS_ATTR_NOTICE 0x100u
#define TERN_NVME_AEC_DISCOVERY_LOG_NOTICE 0x80000000u

/* ---- Dataset Management range (NVM Figure 38) ---- */
struct tern_nvme_dsm_range {
    uint32_t attributes;
    uint32_t length;        /* logical blocks */
    uint64_t slba;
};
TERN_NVME_CHECK(struct tern_nvme_dsm_range, 16);
#define TERN_NVME_DSM_ATTR_DEALLOCATE 0x4u      /* cdw11 bit 2 */
#define TERN_NVME_DSM_MAX_RANGES 256

/* ---- NVM I/O command fields (NVM 3.2.4, 3.2.6) ---- */
static inline uint64_t
tern_nvme_io_slba(const struct tern_nvme_cmd *c)
{
    return (uint64_t)c->cdw11 << 32 | c->cdw10;
}

static inline uint32_t
tern_nvme_io_nlb(const struct tern_nvme_cmd *c)    /* 1-based count */
{
    return (c->cdw12 & 0xffff) + 1;
}
#define TERN_NVME_IO_FUA (1u << 30)
#define TERN_NVME_IO_LR (1u << 31)
#define TERN_NVME_WZ_DEAC (1u << 25)        /* Write Zeroes: deallocate */

#define TERN_NVME_NSID_ALL 0xffffffffu

#endif /* TERN_NVME_SPEC_H */
