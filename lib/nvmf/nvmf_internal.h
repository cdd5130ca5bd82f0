/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside lib/nvmf. Ownership:
 *  - main lcore: subsystems, namespaces, hosts, listeners, transports, and
 *    the controller registry (which cntlid lives on which lcore);
 *  - each lcore: its poll group, its qpairs, the controllers whose admin
 *    queue it holds, and its view of every subsystem's namespaces (with its
 *    own bdev channels).
 * Lcores reach each other's objects only by message, naming them by key.
 */
#ifndef NVMF_INTERNAL_H
#define NVMF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "tern_bdev.h"
#include "tern_config.h"
#include "tern_nvmf.h"
#include "tern_nvmf_transport.h"

#define NVMF_MAX_SUBSYSTEMS 1024
/* Error log entries kept per controller (ELPE + 1). */
#define NVMF_ERROR_LOG_ENTRIES 16
/* Async Event Requests a controller holds (AERL + 1). */
#define NVMF_MAX_AERS 4
/* Keep-alive granularity reported in KAS, in 100 ms units. */
#define NVMF_KAS 10
/* A controller that hears nothing from an I/O queue's lcore for this long
 * (or its keep-alive timeout, if longer) declares that queue dead. */
#define NVMF_IOQ_HEARTBEAT_TIMEOUT_MS 5000
#define NVMF_HEARTBEAT_PERIOD_US 500000

/* One namespace as one lcore sees it. */
struct nvmf_ns_view {
    uint32_t nsid;
    uint64_t ns_key;                /* the main-side namespace, for release */
    struct tern_bdev_desc *desc;
    struct tern_bdev_channel *ch;   /* this lcore's, NULL if it could not be had */
    uint32_t block_size;
    uint64_t num_blocks;
    uint32_t max_xfer_blocks;
    bool write_cache;
    bool sup[TERN_BDEV_IO_NUM_TYPES];
    bool has_nguid, has_eui64;
    uint8_t nguid[16], eui64[8], uuid[16];
    uint32_t outstanding;
    bool removed;
    TAILQ_ENTRY(nvmf_ns_view) zombie_link;
};

struct nvmf_subsys_view {
    uint32_t gen;
    uint32_t max_nsid;
    struct nvmf_ns_view **ns;       /* [max_nsid] */
};

struct tern_nvmf_poll_group {
    uint32_t lcore;
    uint64_t next_qpair_seq;
    struct nvmf_subsys_view *subsys[NVMF_MAX_SUBSYSTEMS];
    TAILQ_HEAD(, tern_nvmf_qpair) qpairs;
    TAILQ_HEAD(, tern_nvmf_ctrlr) ctrlrs;
    TAILQ_HEAD(, nvmf_ns_view) zombies;   /* removed, I/O still outstanding */
    uint32_t num_qpairs;
    uint64_t qpairs_created;
    uint64_t qpairs_destroyed;
};

struct tern_nvmf_poll_group *nvmf_pg_local(void);
struct tern_nvmf_poll_group *nvmf_pg(uint32_t lcore);
struct tern_nvmf_qpair *nvmf_pg_find_qpair(struct tern_nvmf_poll_group *pg, uint64_t id);
struct tern_nvmf_ctrlr *nvmf_pg_find_ctrlr(struct tern_nvmf_poll_group *pg, uint64_t key);
/* The calling lcore's view of a subsystem, if it still has that generation. */
struct nvmf_subsys_view *nvmf_view(uint32_t subsys_id, uint32_t gen);
struct nvmf_ns_view *nvmf_view_ns(const struct nvmf_subsys_view *v, uint32_t nsid);
/* An I/O on a view finished: frees a removed view when it was the last. */
void nvmf_ns_view_put(struct nvmf_ns_view *nv);
int nvmf_pg_init_all(void);
void nvmf_pg_fini_all(void);

/* ---- main-lcore side of subsystems (subsystem.c) ---- */
uint32_t nvmf_subsystem_id(const struct tern_nvmf_subsystem *s);
uint32_t nvmf_subsystem_gen(const struct tern_nvmf_subsystem *s);
struct tern_nvmf_subsystem *nvmf_subsystem_by_id(uint32_t id, uint32_t gen);
bool nvmf_subsystem_listener_allowed(const struct tern_nvmf_subsystem *s,
                                     const struct tern_nvmf_trid *trid);
/* Controller registry. */
struct nvmf_ctrlr_rec {
    TAILQ_ENTRY(nvmf_ctrlr_rec) link;
    uint16_t cntlid;
    uint64_t key;
    uint32_t lcore;
    char hostnqn[TERN_NVMF_NQN_FIELD];
    uint8_t hostid[16];
};
int nvmf_subsystem_ctrlr_add(struct tern_nvmf_subsystem *s, const char *hostnqn,
                             const uint8_t *hostid, uint32_t lcore, struct nvmf_ctrlr_rec **out);
struct nvmf_ctrlr_rec *nvmf_subsystem_ctrlr_find(struct tern_nvmf_subsystem *s, uint16_t cntlid);
void nvmf_subsystem_ctrlr_remove(struct tern_nvmf_subsystem *s, uint64_t key);
struct nvmf_ctrlr_rec *nvmf_subsystem_ctrlr_first(struct tern_nvmf_subsystem *s);
struct nvmf_ctrlr_rec *nvmf_subsystem_ctrlr_next(struct nvmf_ctrlr_rec *r);
/* Tell every controller of a subsystem (or all, s == NULL) about an event. */
enum nvmf_ctrlr_event {
    NVMF_EV_NS_CHANGED,             /* arg: nsid */
    NVMF_EV_DISCOVERY_CHANGED,
    NVMF_EV_DISCONNECT,             /* the subsystem or host goes away */
};
void nvmf_notify_ctrlrs(struct tern_nvmf_subsystem *s, enum nvmf_ctrlr_event ev, uint32_t arg,
                        const char *only_host);
/* The discovery log changed (subsystem, listener, host): bump the counter
 * and tell discovery controllers. */
void nvmf_discovery_changed(void);

/* ---- controllers (ctrlr.c) ---- */
struct nvmf_ctrlr_init {
    uint64_t key;
    uint16_t cntlid;
    uint32_t subsys_id, subsys_gen;
    uint8_t subtype;
    uint32_t max_nsid;
    uint32_t kato_ms;
    char subnqn[TERN_NVMF_NQN_FIELD];
    char hostnqn[TERN_NVMF_NQN_FIELD];
    uint8_t hostid[16];
    char sn[TERN_NVMF_SN_LEN + 1];
    char mn[TERN_NVMF_MN_LEN + 1];
};
struct tern_nvmf_ctrlr *nvmf_ctrlr_create(const struct nvmf_ctrlr_init *in,
                                          struct tern_nvmf_qpair *admin);
/* Admin queue commands (not fabrics). */
void nvmf_ctrlr_exec_admin(struct tern_nvmf_request *req);
/* Fabrics Property Get/Set on the admin queue. */
void nvmf_ctrlr_property(struct tern_nvmf_request *req);
/* Messages from other lcores, by key. */
uint16_t nvmf_ctrlr_add_ioq(struct tern_nvmf_ctrlr *c, const char *hostnqn, const uint8_t *hostid,
                            uint16_t qid, uint16_t sqsize, uint32_t lcore, uint64_t qpair_id,
                            uint32_t *cdw0);
void nvmf_ctrlr_ioq_gone(struct tern_nvmf_ctrlr *c, uint16_t qid, uint64_t qpair_id, bool error);
void nvmf_ctrlr_event(struct tern_nvmf_ctrlr *c, enum nvmf_ctrlr_event ev, uint32_t arg);
void nvmf_ctrlr_admin_closed(struct tern_nvmf_ctrlr *c);
void nvmf_ctrlr_keep_alive_reset(struct tern_nvmf_ctrlr *c);
/* JSON for nvmf_subsystem_get_controllers, on the controller's lcore. */
json_t *nvmf_ctrlr_info(const struct tern_nvmf_ctrlr *c);
uint64_t nvmf_ctrlr_key(const struct tern_nvmf_ctrlr *c);
/* Walk a poll group's controllers (prev NULL: the first). */
struct tern_nvmf_ctrlr *nvmf_ctrlr_next(struct tern_nvmf_poll_group *pg,
                                        struct tern_nvmf_ctrlr *prev);
uint32_t nvmf_ctrlr_subsys_id(const struct tern_nvmf_ctrlr *c);

/* ---- fabrics commands (fabrics_cmd.c) ---- */
void nvmf_fabrics_exec(struct tern_nvmf_request *req);

/* ---- I/O commands (io_cmd.c) ---- */
void nvmf_io_exec(struct tern_nvmf_request *req);

/* ---- requests (request.c part of poll_group.c) ---- */
void nvmf_request_complete(struct tern_nvmf_request *req, uint16_t status);
void nvmf_request_complete_cdw0(struct tern_nvmf_request *req, uint16_t status, uint32_t cdw0);
/* Copy into the request's controller-to-host buffers; returns bytes copied. */
uint32_t nvmf_request_copy_out(struct tern_nvmf_request *req, const void *buf, uint32_t len);
/* Copy `len` bytes from `offset` of the host-to-controller buffers; returns
 * bytes copied. */
uint32_t nvmf_request_copy_in(const struct tern_nvmf_request *req, uint32_t offset, void *buf,
                              uint32_t len);
/* Tell the controller an I/O queue is gone (once). */
void nvmf_qpair_release_ioq(struct tern_nvmf_qpair *qp, bool error);
/* View updates, from the main lcore to every lcore. */
int nvmf_pg_subsys_added(uint32_t id, uint32_t gen, uint32_t max_nsid);
int nvmf_pg_subsys_removed(uint32_t id, uint32_t gen);
int nvmf_pg_ns_added(uint32_t id, uint32_t gen, uint32_t nsid, struct tern_bdev_desc *desc,
                     const uint8_t *nguid, const uint8_t *eui64, const uint8_t *uuid);
void nvmf_pg_ns_removed(uint32_t id, uint32_t gen, uint32_t nsid, struct tern_bdev_desc *desc);
void nvmf_pg_stop_accepting(void);
/* Disconnect a qpair on this lcore by id (no-op when gone). */
void nvmf_qpair_disconnect_by_id(uint64_t qpair_id);

/* ---- discovery (discovery.c) ---- */
/* Build the discovery log for a host on the main lcore: a malloc'd buffer
 * of header + entries, *len bytes. */
void *nvmf_discovery_log_build(const char *hostnqn, const struct tern_nvmf_trid *local,
                               uint32_t *len);

/* ---- transports and listeners (transport.c) ---- */
struct tern_nvmf_transport *nvmf_transport_first(void);
struct tern_nvmf_transport *nvmf_transport_next(struct tern_nvmf_transport *t);
const struct tern_nvmf_transport_ops *nvmf_transport_ops_find(const char *name);
int nvmf_transport_create(const struct tern_nvmf_transport_ops *ops,
                          const struct tern_nvmf_transport_opts *opts, const json_t *params,
                          void (*done)(void *arg, int status, const char *why), void *arg,
                          char *why, size_t why_len);
void nvmf_transports_fini(void);
uint16_t nvmf_listener_portid(const struct tern_nvmf_trid *trid);
const struct tern_nvmf_trid *nvmf_listener_at(uint32_t index);
int nvmf_listener_get(const struct tern_nvmf_trid *trid, char *why, size_t why_len);
void nvmf_listener_put(const struct tern_nvmf_trid *trid);
/* Subsystem listeners. */
int nvmf_subsystem_add_listener(struct tern_nvmf_subsystem *s, const struct tern_nvmf_trid *trid,
                                char *why, size_t why_len);
int nvmf_subsystem_remove_listener(struct tern_nvmf_subsystem *s,
                                   const struct tern_nvmf_trid *trid);
const struct tern_nvmf_trid *nvmf_subsystem_listener(const struct tern_nvmf_subsystem *s,
                                                     uint32_t index);

#endif /* NVMF_INTERNAL_H */
