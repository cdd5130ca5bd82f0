/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe-oF target core, transport-agnostic. Subsystems, their namespaces
 * and allowed hosts are configuration: they live on the main lcore, change
 * only there (RPC), and reach the lcores that serve I/O by message.
 */
#ifndef TERN_NVMF_H
#define TERN_NVMF_H

#include <stdbool.h>
#include <stdint.h>

#include "tern_nvme.h"

struct tern_nvmf_subsystem;
struct tern_nvmf_ns;

#define TERN_NVMF_DEFAULT_MAX_NAMESPACES 32
#define TERN_NVMF_MAX_NAMESPACES_LIMIT 1024
#define TERN_NVMF_SN_LEN 20
#define TERN_NVMF_MN_LEN 40
#define TERN_NVMF_DEFAULT_MN "Tern NVMe-oF Controller"

/* A subsystem's type is its discovery log subtype: TERN_NVMF_SUBTYPE_NVME,
 * or TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT for the discovery subsystem. */

struct tern_nvmf_subsystem_opts {
    const char *serial_number;      /* NULL: generated */
    const char *model_number;       /* NULL: TERN_NVMF_DEFAULT_MN */
    uint32_t max_namespaces;        /* 0: default */
    bool allow_any_host;
    uint16_t min_cntlid;            /* 0: 1 */
    uint16_t max_cntlid;            /* 0: FFEFh */
};

/* Target lifecycle (main lcore): creates the discovery subsystem. */
int tern_nvmf_init(void);
/* Orderly stop while the reactors run: stop accepting, close every queue
 * and wait (bounded) for their requests, release the lcores' bdev
 * channels, take the transports down; then done(arg) on the main lcore. */
void tern_nvmf_shutdown(void (*done)(void *arg), void *arg);
void tern_nvmf_fini(void);

/* Subsystems (main lcore). Errors are -errno with the reason logged and, for
 * RPC callers, written into `why`. */
int tern_nvmf_subsystem_create(const char *nqn, const struct tern_nvmf_subsystem_opts *opts,
                               struct tern_nvmf_subsystem **out, char *why, size_t why_len);
int tern_nvmf_subsystem_delete(struct tern_nvmf_subsystem *s);
struct tern_nvmf_subsystem *tern_nvmf_subsystem_find(const char *nqn);
struct tern_nvmf_subsystem *tern_nvmf_subsystem_first(void);
struct tern_nvmf_subsystem *tern_nvmf_subsystem_next(struct tern_nvmf_subsystem *prev);
const char *tern_nvmf_subsystem_nqn(const struct tern_nvmf_subsystem *s);
enum tern_nvmf_subtype tern_nvmf_subsystem_type(const struct tern_nvmf_subsystem *s);
const char *tern_nvmf_subsystem_sn(const struct tern_nvmf_subsystem *s);
const char *tern_nvmf_subsystem_mn(const struct tern_nvmf_subsystem *s);
uint32_t tern_nvmf_subsystem_max_nsid(const struct tern_nvmf_subsystem *s);
void tern_nvmf_subsystem_cntlid_range(const struct tern_nvmf_subsystem *s, uint16_t *min,
                                      uint16_t *max);

/* Hosts. */
int tern_nvmf_subsystem_add_host(struct tern_nvmf_subsystem *s, const char *hostnqn,
                                 char *why, size_t why_len);
int tern_nvmf_subsystem_remove_host(struct tern_nvmf_subsystem *s, const char *hostnqn);
void tern_nvmf_subsystem_set_allow_any_host(struct tern_nvmf_subsystem *s, bool allow);
bool tern_nvmf_subsystem_allow_any_host(const struct tern_nvmf_subsystem *s);
bool tern_nvmf_subsystem_host_allowed(const struct tern_nvmf_subsystem *s, const char *hostnqn);
/* Walk the allow-list. */
const char *tern_nvmf_subsystem_host(const struct tern_nvmf_subsystem *s, uint32_t index);

/* Namespaces. */
struct tern_nvmf_ns_opts {
    uint32_t nsid;                  /* 0: the lowest free */
    const uint8_t *nguid;           /* 16 bytes, NULL: none */
    const uint8_t *eui64;           /* 8 bytes, NULL: none */
    const uint8_t *uuid;            /* 16 bytes, NULL: the bdev's */
};
/* Returns the NSID (> 0) or -errno. */
int tern_nvmf_subsystem_add_ns(struct tern_nvmf_subsystem *s, const char *bdev_name,
                               const struct tern_nvmf_ns_opts *opts, char *why, size_t why_len);
int tern_nvmf_subsystem_remove_ns(struct tern_nvmf_subsystem *s, uint32_t nsid);
struct tern_nvmf_ns *tern_nvmf_subsystem_ns(const struct tern_nvmf_subsystem *s, uint32_t nsid);
/* Next active namespace after `nsid` (0 starts), NULL at the end. */
struct tern_nvmf_ns *tern_nvmf_subsystem_next_ns(const struct tern_nvmf_subsystem *s, uint32_t nsid);
uint32_t tern_nvmf_ns_id(const struct tern_nvmf_ns *ns);
struct tern_bdev *tern_nvmf_ns_bdev(const struct tern_nvmf_ns *ns);
const uint8_t *tern_nvmf_ns_nguid(const struct tern_nvmf_ns *ns);    /* NULL: none */
const uint8_t *tern_nvmf_ns_eui64(const struct tern_nvmf_ns *ns);    /* NULL: none */
const uint8_t *tern_nvmf_ns_uuid(const struct tern_nvmf_ns *ns);

/* Changes the discovery log generation counter follows. */
uint64_t tern_nvmf_discovery_genctr(void);

#endif /* TERN_NVMF_H */
