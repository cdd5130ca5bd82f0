/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controllers: one per admin queue, owned by that queue's lcore. Admin
 * commands (Identify, Get Log Page, features, async events, keep-alive,
 * abort), the fabrics properties (CAP, VS, CC, CSTS), and the life of the
 * controller's I/O queues, which may sit on other lcores: the controller
 * knows them by (lcore, qpair id), hears when one goes, and pings their
 * lcores so that a dead or stuck I/O lcore is noticed even when no command
 * fails (SEEDS.md incident 2c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_build_config.h"

TERN_LOG_REGISTER(g_log, "tern.lib.nvmf.ctrlr", INFO);

#define SC(sct, sc) TERN_NVME_STATUS(TERN_NVME_SCT_##sct, TERN_NVME_SC_##sc)
#define INVALID_FIELD (SC(GENERIC, INVALID_FIELD) | TERN_NVME_STATUS_DNR)

#define NVMF_VS TERN_NVME_VERSION(1, 3, 0)
#define MAX_PENDING_EVENTS 8

struct ioq_slot {
    bool used;
    bool ping_pending;
    uint32_t lcore;
    uint64_t qpair_id;
    uint64_t ping_tick;
};

struct tern_nvmf_ctrlr {
    TAILQ_ENTRY(tern_nvmf_ctrlr) link;
    struct nvmf_ctrlr_init info;
    struct tern_nvmf_qpair *admin;
    uint64_t cap;
    uint32_t cc;
    uint32_t csts;
    uint16_t nr_ioq_granted;        /* Set Features Number of Queues, 1-based */
    bool nq_set;
    uint16_t nr_slots;              /* qid 1..nr_slots-1 */
    struct ioq_slot *ioq;
    /* features */
    uint32_t aec;
    uint32_t wce;
    uint32_t temp_threshold;
    uint32_t error_recovery;
    uint32_t arbitration;
    uint32_t power_mgmt;
    uint32_t kato_ms;
    /* keep-alive and heartbeat */
    uint64_t last_ka;
    struct tern_poller *ka_poller;
    /* async events */
    struct tern_nvmf_request *aer[NVMF_MAX_AERS];
    uint8_t nr_aer;
    uint32_t events[MAX_PENDING_EVENTS];
    uint8_t nr_events;
    bool ns_notice_masked;
    bool disc_notice_masked;
    uint32_t changed_ns[TERN_NVME_CHANGED_NS_MAX];
    uint32_t nr_changed;
    bool changed_overflow;
    /* error log, newest at err_head - 1 */
    struct tern_nvme_error_entry errlog[NVMF_ERROR_LOG_ENTRIES];
    uint64_t error_count;
    uint32_t err_head;
    bool destructing;
    uint64_t created_tick;
};

static inline uint64_t
ms_to_ticks(uint64_t ms)
{
    return ms * tern_env_ticks_hz() / 1000;
}

uint64_t nvmf_ctrlr_key(const struct tern_nvmf_ctrlr *c) { return c->info.key; }
uint32_t nvmf_ctrlr_subsys_id(const struct tern_nvmf_ctrlr *c) { return c->info.subsys_id; }

struct tern_nvmf_ctrlr *
nvmf_pg_find_ctrlr(struct tern_nvmf_poll_group *pg, uint64_t key)
{
    struct tern_nvmf_ctrlr *c;

    if (pg == NULL)
        return NULL;
    TAILQ_FOREACH(c, &pg->ctrlrs, link) {
        if (c->info.key == key)
            return c;
    }
    return NULL;
}

struct tern_nvmf_ctrlr *
nvmf_ctrlr_next(struct tern_nvmf_poll_group *pg, struct tern_nvmf_ctrlr *prev)
{
    return prev == NULL ? TAILQ_FIRST(&pg->ctrlrs) : TAILQ_NEXT(prev, link);
}

static bool
is_discovery(const struct tern_nvmf_ctrlr *c)
{
    return c->info.subtype == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT;
}

/* ---- teardown ---- */
static void
disconnect_on_lcore(void *a1, void *a2)
{
    (void)a2;
    nvmf_qpair_disconnect_by_id((uint64_t)(uintptr_t)a1);
}

static void
drop_ioqs(struct tern_nvmf_ctrlr *c)
{
    uint16_t q;

    for (q = 1; q < c->nr_slots; q++) {
        struct ioq_slot *s = &c->ioq[q];

        if (!s->used)
            continue;
        s->used = false;
        if (tern_reactor_send_msg(s->lcore, disconnect_on_lcore, (void *)(uintptr_t)s->qpair_id,
                                  NULL) != 0)
            TERN_LOG(g_log, ERR, "cntlid %u: cannot reach lcore %u to close I/O queue %u",
                     c->info.cntlid, s->lcore, q);
    }
}

static void
ctrlr_destruct(struct tern_nvmf_ctrlr *c, const char *why)
{
    struct tern_nvmf_qpair *admin = c->admin;

    if (c->destructing)
        return;
    c->destructing = true;
    c->csts |= TERN_NVME_CSTS_CFS;
    TERN_LOG(g_log, NOTICE, "controller %u of %s (host %s): %s; closing its queues",
             c->info.cntlid, c->info.subnqn, c->info.hostnqn, why);
    drop_ioqs(c);
    /* May free c before it returns (the admin queue closes at once). */
    admin->transport->ops->qpair_disconnect(admin);
}

static void
record_remove_on_main(void *a1, void *a2)
{
    struct nvmf_ctrlr_init *in = a1;
    struct tern_nvmf_subsystem *s = nvmf_subsystem_by_id(in->subsys_id, in->subsys_gen);
    (void)a2;

    if (s != NULL)
        nvmf_subsystem_ctrlr_remove(s, in->key);
    free(in);
}

void
nvmf_ctrlr_admin_closed(struct tern_nvmf_ctrlr *c)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_ctrlr_init *copy;
    uint8_t i;

    c->destructing = true;
    for (i = 0; i < c->nr_aer; i++)
        nvmf_request_complete(c->aer[i], SC(GENERIC, ABORTED_SQ_DELETION));
    c->nr_aer = 0;
    drop_ioqs(c);
    tern_poller_unregister(&c->ka_poller);
    copy = malloc(sizeof(*copy));
    if (copy != NULL) {
        *copy = c->info;
        if (tern_reactor_send_msg(tern_env_main_lcore(), record_remove_on_main, copy, NULL) != 0) {
            TERN_LOG(g_log, ERR, "cntlid %u: cannot release the controller ID", c->info.cntlid);
            free(copy);
        }
    }
    TERN_LOG(g_log, INFO, "controller %u of %s (host %s) freed", c->info.cntlid, c->info.subnqn,
             c->info.hostnqn);
    TAILQ_REMOVE(&pg->ctrlrs, c, link);
    free(c->ioq);
    free(c);
}

/* ---- keep-alive and the I/O queue heartbeat ---- */
struct ping {
    uint64_t key;
    uint64_t qpair_id;
    uint32_t ctrlr_lcore;
    uint16_t qid;
    bool alive;
};

static void
pong_on_ctrlr(void *a1, void *a2)
{
    struct ping *p = a1;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), p->key);
    (void)a2;

    if (c != NULL && !c->destructing && p->qid < c->nr_slots && c->ioq[p->qid].used &&
        c->ioq[p->qid].qpair_id == p->qpair_id) {
        c->ioq[p->qid].ping_pending = false;
        if (!p->alive) {
            char why[96];

            snprintf(why, sizeof(why), "I/O queue %u on lcore %u is gone", p->qid,
                     c->ioq[p->qid].lcore);
            c->ioq[p->qid].used = false;
            ctrlr_destruct(c, why);
        }
    }
    free(p);
}

static void
ping_on_ioq_lcore(void *a1, void *a2)
{
    struct ping *p = a1;
    struct tern_nvmf_qpair *qp = nvmf_pg_find_qpair(nvmf_pg_local(), p->qpair_id);
    (void)a2;

    p->alive = qp != NULL && qp->state == TERN_NVMF_QPAIR_ACTIVE;
    if (tern_reactor_send_msg(p->ctrlr_lcore, pong_on_ctrlr, p, NULL) != 0)
        free(p);
}

static int
ka_poll(void *arg)
{
    struct tern_nvmf_ctrlr *c = arg;
    uint64_t now = tern_env_ticks();
    uint64_t hb_timeout = ms_to_ticks(c->kato_ms > NVMF_IOQ_HEARTBEAT_TIMEOUT_MS ?
                                      c->kato_ms : NVMF_IOQ_HEARTBEAT_TIMEOUT_MS);
    uint16_t q;

    if (c->destructing)
        return TERN_POLLER_IDLE;
    if (c->kato_ms != 0 && now - c->last_ka > ms_to_ticks(c->kato_ms)) {
        char why[96];

        snprintf(why, sizeof(why), "keep-alive timeout (%u ms) expired", c->kato_ms);
        ctrlr_destruct(c, why);
        return TERN_POLLER_BUSY;
    }
    for (q = 1; q < c->nr_slots; q++) {
        struct ioq_slot *s = &c->ioq[q];
        struct ping *p;

        if (!s->used)
            continue;
        if (s->ping_pending) {
            if (now - s->ping_tick > hb_timeout) {
                char why[128];

                snprintf(why, sizeof(why), "lcore %u did not answer for I/O queue %u in %u ms",
                         s->lcore, q, (unsigned)(hb_timeout * 1000 / tern_env_ticks_hz()));
                ctrlr_destruct(c, why);
                return TERN_POLLER_BUSY;
            }
            continue;
        }
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            continue;
        p->key = c->info.key;
        p->qpair_id = s->qpair_id;
        p->ctrlr_lcore = tern_env_lcore_id();
        p->qid = q;
        s->ping_pending = true;
        s->ping_tick = now;
        if (tern_reactor_send_msg(s->lcore, ping_on_ioq_lcore, p, NULL) != 0) {
            s->ping_pending = false;
            free(p);
        }
    }
    return TERN_POLLER_IDLE;
}

void
nvmf_ctrlr_keep_alive_reset(struct tern_nvmf_ctrlr *c)
{
    c->last_ka = tern_env_ticks();
}

/* KATO rounds up to the granularity reported in KAS (Base 5.27.1.12). */
static uint32_t
kato_round(uint32_t ms)
{
    const uint32_t g = NVMF_KAS * 100;

    return ms % g ? ms + g - ms % g : ms;
}

/* ---- creation ---- */
struct tern_nvmf_ctrlr *
nvmf_ctrlr_create(const struct nvmf_ctrlr_init *in, struct tern_nvmf_qpair *admin)
{
    const struct tern_nvmf_transport_opts *o = &admin->transport->opts;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct tern_nvmf_ctrlr *c = calloc(1, sizeof(*c));
    char name[TERN_POLLER_NAME_MAX];

    if (c == NULL)
        return NULL;
    c->info = *in;
    c->admin = admin;
    c->nr_slots = o->max_qpairs_per_ctrlr;
    c->ioq = calloc(c->nr_slots, sizeof(*c->ioq));
    /* CAP (Base Figure 36): MQES 0's based, CQR, TO in 500 ms units, CSS NVM. */
    c->cap = (uint64_t)(o->max_queue_depth - 1) | 1ull << 16 | 15ull << 24 |
             (uint64_t)TERN_NVME_CAP_CSS_NVM << 37;
    c->nr_ioq_granted = c->nr_slots - 1;
    c->kato_ms = kato_round(in->kato_ms);
    c->temp_threshold = 0;
    c->wce = 1;
    c->last_ka = tern_env_ticks();
    c->created_tick = c->last_ka;
    snprintf(name, sizeof(name), "nvmf_ctrlr:%u", in->cntlid);
    c->ka_poller = tern_poller_register(ka_poll, c, NVMF_HEARTBEAT_PERIOD_US, name);
    if (c->ioq == NULL || c->ka_poller == NULL) {
        tern_poller_unregister(&c->ka_poller);
        free(c->ioq);
        free(c);
        return NULL;
    }
    TAILQ_INSERT_TAIL(&pg->ctrlrs, c, link);
    TERN_LOG(g_log, INFO, "controller %u of %s for host %s on lcore %u (keep-alive %u ms)",
             in->cntlid, in->subnqn, in->hostnqn, pg->lcore, c->kato_ms);
    return c;
}

/* ---- I/O queues ---- */
uint16_t
nvmf_ctrlr_add_ioq(struct tern_nvmf_ctrlr *c, const char *hostnqn, const uint8_t *hostid,
                   uint16_t qid, uint16_t sqsize, uint32_t lcore, uint64_t qpair_id, uint32_t *cdw0)
{
    const uint16_t bad_param = TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                TERN_NVMF_SC_CONNECT_INVALID_PARAMS) |
                               TERN_NVME_STATUS_DNR;

    if (c->destructing)
        return SC(GENERIC, COMMAND_SEQUENCE_ERROR) | TERN_NVME_STATUS_DNR;
    if (strcmp(hostnqn, c->info.hostnqn) != 0) {
        *cdw0 = tern_nvmf_connect_invalid_param(1, offsetof(struct tern_nvmf_connect_data, hostnqn));
        return bad_param;
    }
    if (memcmp(hostid, c->info.hostid, 16) != 0) {
        *cdw0 = tern_nvmf_connect_invalid_param(1, offsetof(struct tern_nvmf_connect_data, hostid));
        return bad_param;
    }
    if (!(c->cc & TERN_NVME_CC_EN) || !(c->csts & TERN_NVME_CSTS_RDY))
        return SC(GENERIC, COMMAND_SEQUENCE_ERROR) | TERN_NVME_STATUS_DNR;
    if (qid >= c->nr_slots || qid > c->nr_ioq_granted) {
        *cdw0 = tern_nvmf_connect_invalid_param(0, offsetof(struct tern_nvmf_connect_cmd, qid));
        return bad_param;
    }
    if (c->ioq[qid].used) {
        TERN_LOG(g_log, ERR, "controller %u: host %s connected I/O queue %u twice", c->info.cntlid,
                 hostnqn, qid);
        *cdw0 = tern_nvmf_connect_invalid_param(0, offsetof(struct tern_nvmf_connect_cmd, qid));
        return bad_param;
    }
    (void)sqsize;   /* checked against the transport's depth on the queue's lcore */
    c->ioq[qid].used = true;
    c->ioq[qid].ping_pending = false;
    c->ioq[qid].lcore = lcore;
    c->ioq[qid].qpair_id = qpair_id;
    *cdw0 = c->info.cntlid;
    return 0;
}

void
nvmf_ctrlr_ioq_gone(struct tern_nvmf_ctrlr *c, uint16_t qid, uint64_t qpair_id, bool error)
{
    char why[96];

    if (qid >= c->nr_slots || !c->ioq[qid].used || c->ioq[qid].qpair_id != qpair_id)
        return;
    c->ioq[qid].used = false;
    if (!error || c->destructing)
        return;
    snprintf(why, sizeof(why), "I/O queue %u on lcore %u failed", qid, c->ioq[qid].lcore);
    ctrlr_destruct(c, why);
}

/* ---- async events ---- */
static void
aer_dispatch(struct tern_nvmf_ctrlr *c)
{
    while (c->nr_aer > 0 && c->nr_events > 0) {
        struct tern_nvmf_request *req = c->aer[--c->nr_aer];
        uint32_t cdw0 = c->events[0];

        memmove(c->events, c->events + 1, (size_t)(--c->nr_events) * sizeof(c->events[0]));
        nvmf_request_complete_cdw0(req, 0, cdw0);
    }
}

static void
queue_event(struct tern_nvmf_ctrlr *c, uint32_t cdw0)
{
    if (c->nr_events == MAX_PENDING_EVENTS)
        return;
    c->events[c->nr_events++] = cdw0;
    aer_dispatch(c);
}

void
nvmf_ctrlr_event(struct tern_nvmf_ctrlr *c, enum nvmf_ctrlr_event ev, uint32_t arg)
{
    uint32_t i;

    if (c->destructing)
        return;
    switch (ev) {
    case NVMF_EV_NS_CHANGED:
        if (is_discovery(c))
            return;
        if (!c->changed_overflow) {
            for (i = 0; i < c->nr_changed && c->changed_ns[i] != arg; i++)
                ;
            if (i == c->nr_changed) {
                if (c->nr_changed == TERN_NVME_CHANGED_NS_MAX)
                    c->changed_overflow = true;
                else
                    c->changed_ns[c->nr_changed++] = arg;
            }
        }
        if ((c->aec & TERN_NVME_AEC_NS_ATTR_NOTICE) && !c->ns_notice_masked) {
            c->ns_notice_masked = true;
            queue_event(c, tern_nvme_aer_cdw0(TERN_NVME_AER_TYPE_NOTICE,
                                              TERN_NVME_AER_INFO_NOTICE_NS_ATTR_CHANGED,
                                              TERN_NVME_LOG_CHANGED_NS_LIST));
        }
        break;
    case NVMF_EV_DISCOVERY_CHANGED:
        if (is_discovery(c) && (c->aec & TERN_NVME_AEC_DISCOVERY_LOG_NOTICE) &&
            !c->disc_notice_masked) {
            c->disc_notice_masked = true;
            queue_event(c, tern_nvme_aer_cdw0(TERN_NVME_AER_TYPE_NOTICE,
                                              TERN_NVME_AER_INFO_NOTICE_DISCOVERY_LOG_CHANGE,
                                              TERN_NVME_LOG_DISCOVERY));
        }
        break;
    case NVMF_EV_DISCONNECT:
        ctrlr_destruct(c, "its subsystem or host was removed");
        break;
    }
}

static void
aer_submit(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    if (c->nr_aer == NVMF_MAX_AERS) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                    TERN_NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
    c->aer[c->nr_aer++] = req;
    aer_dispatch(c);
}

static void
record_error(struct tern_nvmf_ctrlr *c, const struct tern_nvmf_request *req, uint16_t status)
{
    struct tern_nvme_error_entry *e = &c->errlog[c->err_head];

    memset(e, 0, sizeof(*e));
    e->error_count = ++c->error_count;
    e->sqid = req->qpair->qid;
    e->cid = req->cmd->cid;
    e->status = tern_nvme_status_to_cqe(status, 0);
    e->error_location = 0xffff;
    e->nsid = req->cmd->nsid;
    e->trtype = req->qpair->transport->ops->trtype;
    c->err_head = (c->err_head + 1) % NVMF_ERROR_LOG_ENTRIES;
}

static void
admin_complete(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req, uint16_t status,
               uint32_t cdw0)
{
    if (status != 0 && c != NULL)
        record_error(c, req, status);
    nvmf_request_complete_cdw0(req, status, cdw0);
}

/* ---- Identify ---- */
static uint8_t
mdts_for(uint32_t max_io_size)
{
    uint8_t m = 0;

    while ((4096u << (m + 1)) <= max_io_size && m < 20)
        m++;
    return max_io_size >= 4096 ? (uint8_t)(m + 1) : 1;
}

static void
identify_ctrlr(struct tern_nvmf_ctrlr *c, struct tern_nvme_ctrlr_data *d)
{
    const struct tern_nvmf_transport *t = c->admin->transport;
    const struct tern_nvmf_transport_opts *o = &t->opts;

    memset(d, 0, sizeof(*d));
    tern_nvme_set_ascii(d->sn, sizeof(d->sn), c->info.sn);
    tern_nvme_set_ascii(d->mn, sizeof(d->mn), c->info.mn);
    tern_nvme_set_ascii(d->fr, sizeof(d->fr), TERN_VERSION);
    d->rab = 6;
    d->cmic = TERN_NVME_CTRLR_CMIC_MULTI_CTRLR;
    /* MDTS is in units of the minimum page size (4 KiB), a power of two. */
    d->mdts = (uint8_t)(mdts_for(o->max_io_size) - 1);
    d->cntlid = c->info.cntlid;
    d->ver = NVMF_VS;
    d->ctratt = 0x1;                /* 128-bit host identifier */
    d->acl = 3;
    d->aerl = NVMF_MAX_AERS - 1;
    d->elpe = NVMF_ERROR_LOG_ENTRIES - 1;
    d->kas = NVMF_KAS;
    d->sqes = 0x66;
    d->cqes = 0x44;
    d->maxcmd = is_discovery(c) ? o->max_aq_depth : o->max_queue_depth;
    d->sgls = t->ops->sgls;
    tern_nvme_set_ascii(d->subnqn, 0, "");
    snprintf(d->subnqn, sizeof(d->subnqn), "%s", c->info.subnqn);
    d->ioccsz = (uint32_t)(sizeof(struct tern_nvme_cmd) + o->in_capsule_data_size) / 16;
    d->iorcsz = sizeof(struct tern_nvme_cpl) / 16;
    d->msdbd = 1;
    d->psd[0].mp = 0;
    if (is_discovery(c)) {
        d->cntrltype = TERN_NVME_CTRLR_CNTRLTYPE_DISCOVERY;
        d->oaes = TERN_NVME_CTRLR_OAES_DISCOVERY_LOG;
        d->lpa = TERN_NVME_CTRLR_LPA_EXTENDED_DATA;
        return;
    }
    d->cntrltype = TERN_NVME_CTRLR_CNTRLTYPE_IO;
    d->oaes = TERN_NVME_CTRLR_OAES_NS_ATTR;
    d->frmw = 0x3;                  /* one slot, read-only */
    d->lpa = TERN_NVME_CTRLR_LPA_CMD_EFFECTS | TERN_NVME_CTRLR_LPA_EXTENDED_DATA;
    d->nn = c->info.max_nsid;
    d->mnan = c->info.max_nsid;
    d->oncs = TERN_NVME_CTRLR_ONCS_COMPARE | TERN_NVME_CTRLR_ONCS_DSM |
              TERN_NVME_CTRLR_ONCS_WRITE_ZEROES;
    /* Volatile write cache present; Flush with NSID FFFFFFFFh not supported (10b). */
    d->vwc = TERN_NVME_CTRLR_VWC_PRESENT | 0x4;
}

static uint8_t
log2_u32(uint32_t v)
{
    uint8_t r = 0;

    while (v > 1) {
        v >>= 1;
        r++;
    }
    return r;
}

static void
identify_ns(const struct nvmf_ns_view *nv, struct tern_nvme_ns_data *d)
{
    memset(d, 0, sizeof(*d));
    d->nsze = d->ncap = d->nuse = nv->num_blocks;
    d->nlbaf = 0;
    d->flbas = 0;
    d->nmic = TERN_NVME_NS_NMIC_SHARED;
    d->lbaf[0].lbads = log2_u32(nv->block_size);
    if (nv->max_xfer_blocks != 0 && nv->max_xfer_blocks <= 0xffff)
        d->noiob = (uint16_t)nv->max_xfer_blocks;
    if (nv->has_nguid)
        memcpy(d->nguid, nv->nguid, 16);
    if (nv->has_eui64)
        memcpy(d->eui64, nv->eui64, 8);
}

static size_t
put_desc(uint8_t *buf, size_t off, uint8_t type, const void *id, uint8_t len)
{
    struct tern_nvme_ns_id_desc *h = (struct tern_nvme_ns_id_desc *)(buf + off);

    h->nidt = type;
    h->nidl = len;
    memcpy(h->nid, id, len);
    return off + sizeof(*h) + len;
}

static void
admin_identify(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    uint8_t cns = (uint8_t)(req->cmd->cdw10 & 0xff);
    uint8_t csi = (uint8_t)(req->cmd->cdw11 >> 24);
    uint32_t nsid = req->cmd->nsid;
    struct nvmf_subsys_view *v;
    struct nvmf_ns_view *nv;
    uint8_t buf[4096];
    uint16_t status = 0;

    if (req->length < sizeof(buf) || req->xfer != TERN_NVME_XFER_CTRLR_TO_HOST) {
        admin_complete(c, req, SC(GENERIC, DATA_SGL_LENGTH_INVALID) | TERN_NVME_STATUS_DNR, 0);
        return;
    }
    memset(buf, 0, sizeof(buf));
    if (cns == TERN_NVME_CNS_CTRLR) {
        identify_ctrlr(c, (struct tern_nvme_ctrlr_data *)buf);
        goto out;
    }
    if (is_discovery(c)) {
        status = INVALID_FIELD;
        goto out;
    }
    v = nvmf_view(c->info.subsys_id, c->info.subsys_gen);
    switch (cns) {
    case TERN_NVME_CNS_NS:
        if (nsid == 0 || nsid == TERN_NVME_NSID_ALL || nsid > c->info.max_nsid) {
            status = SC(GENERIC, INVALID_NAMESPACE_OR_FORMAT) | TERN_NVME_STATUS_DNR;
            break;
        }
        nv = nvmf_view_ns(v, nsid);
        if (nv != NULL)     /* an inactive NSID reads as zeroes (Base 5.17.2.1) */
            identify_ns(nv, (struct tern_nvme_ns_data *)buf);
        break;
    case TERN_NVME_CNS_ACTIVE_NS_LIST: {
        uint32_t *list = (uint32_t *)buf, n = 0, id;

        if (nsid >= 0xfffffffeu) {
            status = SC(GENERIC, INVALID_NAMESPACE_OR_FORMAT) | TERN_NVME_STATUS_DNR;
            break;
        }
        for (id = nsid + 1; v != NULL && id <= v->max_nsid && n < 1024; id++) {
            if (v->ns[id - 1] != NULL)
                list[n++] = id;
        }
        break;
    }
    case TERN_NVME_CNS_NS_ID_DESCRIPTOR_LIST: {
        static const uint8_t csi_nvm = TERN_NVME_CSI_NVM;
        size_t off = 0;

        nv = nvmf_view_ns(v, nsid);
        if (nv == NULL) {
            status = SC(GENERIC, INVALID_NAMESPACE_OR_FORMAT) | TERN_NVME_STATUS_DNR;
            break;
        }
        if (nv->has_eui64)
            off = put_desc(buf, off, TERN_NVME_NIDT_EUI64, nv->eui64, 8);
        if (nv->has_nguid)
            off = put_desc(buf, off, TERN_NVME_NIDT_NGUID, nv->nguid, 16);
        off = put_desc(buf, off, TERN_NVME_NIDT_UUID, nv->uuid, 16);
        put_desc(buf, off, TERN_NVME_NIDT_CSI, &csi_nvm, 1);
        break;
    }
    case TERN_NVME_CNS_IOCS_CTRLR:
    case TERN_NVME_CNS_IOCS_NS:
        /* The NVM command set has no fields beyond the common structures. */
        if (csi != TERN_NVME_CSI_NVM)
            status = INVALID_FIELD;
        else if (cns == TERN_NVME_CNS_IOCS_NS && nvmf_view_ns(v, nsid) == NULL)
            status = SC(GENERIC, INVALID_NAMESPACE_OR_FORMAT) | TERN_NVME_STATUS_DNR;
        break;
    default:
        status = INVALID_FIELD;
        break;
    }
out:
    if (status == 0)
        nvmf_request_copy_out(req, buf, sizeof(buf));
    admin_complete(c, req, status, 0);
}

/* ---- Get Log Page ---- */
struct log_ctx {
    struct tern_nvmf_request *req;
    uint64_t key;
    uint64_t offset;
    uint32_t len;
    bool rae;
    void *buf;                      /* discovery: the log built on main */
    uint32_t buf_len;
    char hostnqn[TERN_NVMF_NQN_FIELD];
    struct tern_nvmf_trid local;
    uint32_t lcore;
    /* SMART: sums over the controller's I/O queues */
    struct tern_nvmf_qpair_stats sum;
};

static void
copy_log(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req, const void *log, uint64_t size,
         uint64_t offset, uint32_t len)
{
    uint8_t *tmp;

    if (offset > size || (offset & 3)) {
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    /* Bytes past the end of the log read as zeroes. */
    tmp = calloc(1, len);
    if (tmp == NULL) {
        admin_complete(c, req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
        return;
    }
    memcpy(tmp, (const uint8_t *)log + offset, size - offset < len ? size - offset : len);
    nvmf_request_copy_out(req, tmp, len);
    free(tmp);
    admin_complete(c, req, 0, 0);
}

static void
discovery_log_on_lcore(void *a1, void *a2)
{
    struct log_ctx *x = a1;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), x->key);
    (void)a2;

    if (x->buf == NULL) {
        admin_complete(c, x->req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
    } else {
        if (c != NULL && !x->rae)
            c->disc_notice_masked = false;
        copy_log(c, x->req, x->buf, x->buf_len, x->offset, x->len);
    }
    free(x->buf);
    free(x);
}

static void
discovery_log_on_main(void *a1, void *a2)
{
    struct log_ctx *x = a1;
    (void)a2;

    x->buf = nvmf_discovery_log_build(x->hostnqn, &x->local, &x->buf_len);
    if (tern_reactor_send_msg(x->lcore, discovery_log_on_lcore, x, NULL) != 0)
        TERN_LOG(g_log, ERR, "cannot return the discovery log to lcore %u", x->lcore);
}

static void
smart_sum_on_lcore(void *ctx)
{
    struct log_ctx *x = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct tern_nvmf_qpair *qp;

    TAILQ_FOREACH(qp, &pg->qpairs, link) {
        if (qp->ctrlr_key != x->key || qp->qid == 0)
            continue;
        x->sum.read_ops += qp->stats.read_ops;
        x->sum.write_ops += qp->stats.write_ops;
        x->sum.bytes_read += qp->stats.bytes_read;
        x->sum.bytes_written += qp->stats.bytes_written;
        x->sum.errors += qp->stats.errors;
    }
}

static void
smart_done(void *ctx, int status)
{
    struct log_ctx *x = ctx;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), x->key);
    struct tern_nvme_health_log h;
    uint64_t hours;

    (void)status;
    memset(&h, 0, sizeof(h));
    /* A fabrics controller has no sensor: temperature 0 K means "not reported". */
    h.available_spare = 100;
    h.available_spare_threshold = 10;
    /* Data units are thousands of 512-byte units, rounded up (Base Figure 207). */
    tern_nvme_set_u128(h.data_units_read, (x->sum.bytes_read / 512 + 999) / 1000);
    tern_nvme_set_u128(h.data_units_written, (x->sum.bytes_written / 512 + 999) / 1000);
    tern_nvme_set_u128(h.host_read_commands, x->sum.read_ops);
    tern_nvme_set_u128(h.host_write_commands, x->sum.write_ops);
    if (c != NULL) {
        hours = (tern_env_ticks() - c->created_tick) / tern_env_ticks_hz() / 3600;
        tern_nvme_set_u128(h.power_on_hours, hours);
        tern_nvme_set_u128(h.num_error_info_log_entries, c->error_count);
    }
    copy_log(c, x->req, &h, sizeof(h), x->offset, x->len);
    free(x);
}

static void
admin_get_log_page(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    const struct tern_nvme_cmd *cmd = req->cmd;
    uint8_t lid = TERN_NVME_GLP_LID(cmd->cdw10);
    bool rae = TERN_NVME_GLP_RAE(cmd->cdw10);
    uint64_t len64 = tern_nvme_glp_bytes(cmd->cdw10, cmd->cdw11);
    uint64_t offset = tern_nvme_glp_offset(cmd->cdw12, cmd->cdw13);
    uint32_t len;

    if (req->xfer != TERN_NVME_XFER_CTRLR_TO_HOST || len64 > req->length) {
        admin_complete(c, req, SC(GENERIC, DATA_SGL_LENGTH_INVALID) | TERN_NVME_STATUS_DNR, 0);
        return;
    }
    len = (uint32_t)len64;
    if (lid == TERN_NVME_LOG_DISCOVERY && is_discovery(c)) {
        struct log_ctx *x = calloc(1, sizeof(*x));

        if (x == NULL) {
            admin_complete(c, req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
            return;
        }
        x->req = req;
        x->key = c->info.key;
        x->offset = offset;
        x->len = len;
        x->rae = rae;
        x->lcore = tern_env_lcore_id();
        snprintf(x->hostnqn, sizeof(x->hostnqn), "%s", c->info.hostnqn);
        x->local = c->admin->local;
        if (tern_reactor_send_msg(tern_env_main_lcore(), discovery_log_on_main, x, NULL) != 0) {
            free(x);
            admin_complete(c, req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
        }
        return;
    }
    if (lid == TERN_NVME_LOG_ERROR) {
        struct tern_nvme_error_entry log[NVMF_ERROR_LOG_ENTRIES];
        uint32_t i, n = c->error_count < NVMF_ERROR_LOG_ENTRIES ? (uint32_t)c->error_count
                                                                 : NVMF_ERROR_LOG_ENTRIES;

        memset(log, 0, sizeof(log));
        for (i = 0; i < n; i++)     /* newest first */
            log[i] = c->errlog[(c->err_head + NVMF_ERROR_LOG_ENTRIES - 1 - i) %
                               NVMF_ERROR_LOG_ENTRIES];
        copy_log(c, req, log, sizeof(log), offset, len);
        return;
    }
    if (is_discovery(c)) {
        admin_complete(c, req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                TERN_NVME_SC_INVALID_LOG_PAGE) |
                               TERN_NVME_STATUS_DNR, 0);
        return;
    }
    switch (lid) {
    case TERN_NVME_LOG_HEALTH: {
        struct log_ctx *x;

        if (cmd->nsid != 0 && cmd->nsid != TERN_NVME_NSID_ALL) {
            /* LPA bit 0 is clear: no per-namespace SMART data. */
            admin_complete(c, req, INVALID_FIELD, 0);
            return;
        }
        x = calloc(1, sizeof(*x));
        if (x == NULL) {
            admin_complete(c, req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
            return;
        }
        x->req = req;
        x->key = c->info.key;
        x->offset = offset;
        x->len = len;
        if (tern_reactor_for_each(smart_sum_on_lcore, x, smart_done) != 0) {
            free(x);
            admin_complete(c, req, SC(GENERIC, INTERNAL_DEVICE_ERROR), 0);
        }
        return;
    }
    case TERN_NVME_LOG_FIRMWARE_SLOT: {
        struct tern_nvme_firmware_log fw;

        memset(&fw, 0, sizeof(fw));
        fw.afi = 1;
        tern_nvme_set_ascii(fw.frs[0], sizeof(fw.frs[0]), TERN_VERSION);
        copy_log(c, req, &fw, sizeof(fw), offset, len);
        return;
    }
    case TERN_NVME_LOG_CHANGED_NS_LIST: {
        struct tern_nvme_changed_ns_list l;

        memset(&l, 0, sizeof(l));
        if (c->changed_overflow)
            l.nsid[0] = TERN_NVME_NSID_ALL;
        else
            memcpy(l.nsid, c->changed_ns, c->nr_changed * sizeof(uint32_t));
        if (!rae) {
            c->nr_changed = 0;
            c->changed_overflow = false;
            c->ns_notice_masked = false;
        }
        copy_log(c, req, &l, sizeof(l), offset, len);
        return;
    }
    case TERN_NVME_LOG_COMMAND_EFFECTS: {
        static const uint8_t admin_ops[] = {
            TERN_NVME_OPC_GET_LOG_PAGE, TERN_NVME_OPC_IDENTIFY, TERN_NVME_OPC_ABORT,
            TERN_NVME_OPC_SET_FEATURES, TERN_NVME_OPC_GET_FEATURES,
            TERN_NVME_OPC_ASYNC_EVENT_REQUEST, TERN_NVME_OPC_KEEP_ALIVE,
        };
        struct tern_nvme_cmd_effects_log e;
        size_t i;

        memset(&e, 0, sizeof(e));
        for (i = 0; i < sizeof(admin_ops); i++)
            e.acs[admin_ops[i]] = TERN_NVME_CSE_CSUPP;
        e.iocs[TERN_NVME_OPC_FLUSH] = TERN_NVME_CSE_CSUPP;
        e.iocs[TERN_NVME_OPC_READ] = TERN_NVME_CSE_CSUPP;
        e.iocs[TERN_NVME_OPC_COMPARE] = TERN_NVME_CSE_CSUPP;
        e.iocs[TERN_NVME_OPC_WRITE] = TERN_NVME_CSE_CSUPP | TERN_NVME_CSE_LBCC;
        e.iocs[TERN_NVME_OPC_WRITE_ZEROES] = TERN_NVME_CSE_CSUPP | TERN_NVME_CSE_LBCC;
        e.iocs[TERN_NVME_OPC_DATASET_MANAGEMENT] = TERN_NVME_CSE_CSUPP | TERN_NVME_CSE_LBCC;
        copy_log(c, req, &e, sizeof(e), offset, len);
        return;
    }
    default:
        admin_complete(c, req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                TERN_NVME_SC_INVALID_LOG_PAGE) |
                               TERN_NVME_STATUS_DNR, 0);
        return;
    }
}

/* ---- features ---- */
static bool
feature_changeable(uint8_t fid)
{
    switch (fid) {
    case TERN_NVME_FEAT_ARBITRATION:
    case TERN_NVME_FEAT_POWER_MANAGEMENT:
    case TERN_NVME_FEAT_TEMPERATURE_THRESHOLD:
    case TERN_NVME_FEAT_ERROR_RECOVERY:
    case TERN_NVME_FEAT_VOLATILE_WRITE_CACHE:
    case TERN_NVME_FEAT_NUMBER_OF_QUEUES:
    case TERN_NVME_FEAT_ASYNC_EVENT_CONFIG:
    case TERN_NVME_FEAT_KEEP_ALIVE_TIMER:
        return true;
    default:
        return false;
    }
}

/* Features that are just a stored value: where it lives, and its default. */
static uint32_t *
stored_feature(struct tern_nvmf_ctrlr *c, uint8_t fid, uint32_t *def)
{
    *def = 0;
    switch (fid) {
    case TERN_NVME_FEAT_ARBITRATION: return &c->arbitration;
    case TERN_NVME_FEAT_POWER_MANAGEMENT: return &c->power_mgmt;
    case TERN_NVME_FEAT_TEMPERATURE_THRESHOLD: return &c->temp_threshold;
    case TERN_NVME_FEAT_ERROR_RECOVERY: return &c->error_recovery;
    case TERN_NVME_FEAT_ASYNC_EVENT_CONFIG: return &c->aec;
    case TERN_NVME_FEAT_KEEP_ALIVE_TIMER: return &c->kato_ms;
    case TERN_NVME_FEAT_VOLATILE_WRITE_CACHE:
        *def = 1;
        return &c->wce;
    default:
        return NULL;
    }
}

static void
admin_get_features(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    uint8_t fid = TERN_NVME_FEAT_FID(req->cmd->cdw10);
    uint8_t sel = TERN_NVME_FEAT_SEL(req->cmd->cdw10);
    uint32_t cdw0 = 0, def, *val;
    uint16_t nq = c->nr_slots - 1;

    if (sel == TERN_NVME_FEAT_SEL_SUPPORTED) {
        /* Capabilities: changeable (bit 2); nothing saveable or per namespace. */
        if (!feature_changeable(fid) && fid != TERN_NVME_FEAT_HOST_IDENTIFIER &&
            fid != TERN_NVME_FEAT_INTERRUPT_COALESCING && fid != TERN_NVME_FEAT_WRITE_ATOMICITY)
            admin_complete(c, req, INVALID_FIELD, 0);
        else
            admin_complete(c, req, 0, feature_changeable(fid) ? 0x4 : 0);
        return;
    }
    if (sel > TERN_NVME_FEAT_SEL_SUPPORTED) {
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    val = stored_feature(c, fid, &def);
    if (val != NULL) {
        /* Nothing is saveable: "saved" reads as current (Base 5.27.1). */
        admin_complete(c, req, 0, sel == TERN_NVME_FEAT_SEL_DEFAULT ? def : *val);
        return;
    }
    switch (fid) {
    case TERN_NVME_FEAT_NUMBER_OF_QUEUES:
        if (sel != TERN_NVME_FEAT_SEL_DEFAULT && c->nq_set)
            nq = c->nr_ioq_granted;
        cdw0 = (uint32_t)(nq - 1) | (uint32_t)(nq - 1) << 16;
        break;
    case TERN_NVME_FEAT_INTERRUPT_COALESCING:
    case TERN_NVME_FEAT_WRITE_ATOMICITY:
        cdw0 = 0;
        break;
    case TERN_NVME_FEAT_INTERRUPT_VECTOR_CONFIG:
        cdw0 = req->cmd->cdw11 & 0xffff;
        break;
    case TERN_NVME_FEAT_HOST_IDENTIFIER:
        /* Only the 128-bit form (EXHID, cdw11 bit 0) exists on fabrics. */
        if (!(req->cmd->cdw11 & 1)) {
            admin_complete(c, req, INVALID_FIELD, 0);
            return;
        }
        if (req->length < 16 || req->xfer != TERN_NVME_XFER_CTRLR_TO_HOST) {
            admin_complete(c, req, SC(GENERIC, DATA_SGL_LENGTH_INVALID) | TERN_NVME_STATUS_DNR, 0);
            return;
        }
        nvmf_request_copy_out(req, c->info.hostid, 16);
        cdw0 = 1;
        break;
    default:
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    admin_complete(c, req, 0, cdw0);
}

static void
admin_set_features(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    uint8_t fid = TERN_NVME_FEAT_FID(req->cmd->cdw10);
    uint32_t v = req->cmd->cdw11;
    uint32_t cdw0 = 0, def;

    if (TERN_NVME_FEAT_SV(req->cmd->cdw10)) {
        admin_complete(c, req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                TERN_NVME_SC_FEATURE_ID_NOT_SAVEABLE) |
                               TERN_NVME_STATUS_DNR, 0);
        return;
    }
    switch (fid) {
    case TERN_NVME_FEAT_ARBITRATION:
    case TERN_NVME_FEAT_TEMPERATURE_THRESHOLD:
    case TERN_NVME_FEAT_ERROR_RECOVERY:
        *stored_feature(c, fid, &def) = v;
        break;
    case TERN_NVME_FEAT_POWER_MANAGEMENT:
        if ((v & 0x1f) != 0) {      /* there is only power state 0 */
            admin_complete(c, req, INVALID_FIELD, 0);
            return;
        }
        c->power_mgmt = v;
        break;
    case TERN_NVME_FEAT_VOLATILE_WRITE_CACHE:
        c->wce = v & 1;
        break;
    case TERN_NVME_FEAT_NUMBER_OF_QUEUES: {
        uint32_t nsq = (v & 0xffff) + 1, ncq = (v >> 16) + 1, max = c->nr_slots - 1u, q;
        uint16_t want;

        if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff) {
            admin_complete(c, req, INVALID_FIELD, 0);
            return;
        }
        for (q = 1; q < c->nr_slots; q++) {
            if (c->ioq[q].used) {
                admin_complete(c, req, SC(GENERIC, COMMAND_SEQUENCE_ERROR) | TERN_NVME_STATUS_DNR, 0);
                return;
            }
        }
        want = (uint16_t)(nsq < ncq ? nsq : ncq);
        c->nr_ioq_granted = want < max ? want : (uint16_t)max;
        c->nq_set = true;
        cdw0 = (uint32_t)(c->nr_ioq_granted - 1) | (uint32_t)(c->nr_ioq_granted - 1) << 16;
        break;
    }
    case TERN_NVME_FEAT_ASYNC_EVENT_CONFIG:
        c->aec = v & (is_discovery(c) ? TERN_NVME_AEC_DISCOVERY_LOG_NOTICE
                                      : (TERN_NVME_AEC_NS_ATTR_NOTICE | 0xff));
        break;
    case TERN_NVME_FEAT_KEEP_ALIVE_TIMER:
        c->kato_ms = kato_round(v);
        nvmf_ctrlr_keep_alive_reset(c);
        break;
    case TERN_NVME_FEAT_HOST_IDENTIFIER:
        /* Fabrics hosts give their identifier in Connect (Base 5.27.1.28). */
        admin_complete(c, req, SC(GENERIC, COMMAND_SEQUENCE_ERROR) | TERN_NVME_STATUS_DNR, 0);
        return;
    default:
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    admin_complete(c, req, 0, cdw0);
}

static void
admin_abort(struct tern_nvmf_ctrlr *c, struct tern_nvmf_request *req)
{
    uint16_t sqid = (uint16_t)(req->cmd->cdw10 & 0xffff);
    uint16_t cid = (uint16_t)(req->cmd->cdw10 >> 16);
    uint8_t i;

    /* Only a waiting Async Event Request can be aborted; anything else is
     * already on a device or a wire. cdw0 bit 0 set: not aborted. */
    if (sqid == 0) {
        for (i = 0; i < c->nr_aer; i++) {
            struct tern_nvmf_request *aer = c->aer[i];

            if (aer->cmd->cid != cid)
                continue;
            c->aer[i] = c->aer[--c->nr_aer];
            nvmf_request_complete(aer, SC(GENERIC, ABORTED_BY_REQUEST));
            admin_complete(c, req, 0, 0);
            return;
        }
    }
    admin_complete(c, req, 0, 1);
}

void
nvmf_ctrlr_exec_admin(struct tern_nvmf_request *req)
{
    struct tern_nvmf_ctrlr *c = req->qpair->ctrlr;
    uint8_t opc = req->cmd->opc;

    if (c == NULL || c->destructing) {
        nvmf_request_complete(req, SC(GENERIC, ABORTED_SQ_DELETION));
        return;
    }
    nvmf_ctrlr_keep_alive_reset(c);
    if (!(c->cc & TERN_NVME_CC_EN)) {
        admin_complete(c, req, SC(GENERIC, COMMAND_SEQUENCE_ERROR) | TERN_NVME_STATUS_DNR, 0);
        return;
    }
    if (tern_nvme_cmd_fuse(req->cmd) != 0) {
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    switch (opc) {
    case TERN_NVME_OPC_IDENTIFY:
        admin_identify(c, req);
        return;
    case TERN_NVME_OPC_GET_LOG_PAGE:
        admin_get_log_page(c, req);
        return;
    case TERN_NVME_OPC_GET_FEATURES:
        admin_get_features(c, req);
        return;
    case TERN_NVME_OPC_SET_FEATURES:
        admin_set_features(c, req);
        return;
    case TERN_NVME_OPC_ASYNC_EVENT_REQUEST:
        aer_submit(c, req);
        return;
    case TERN_NVME_OPC_KEEP_ALIVE:
        admin_complete(c, req, 0, 0);
        return;
    case TERN_NVME_OPC_ABORT:
        admin_abort(c, req);
        return;
    default:
        TERN_LOG(g_log, INFO, "controller %u: unsupported admin opcode 0x%02x (%s) from %s",
                 c->info.cntlid, opc, tern_nvme_admin_opc_name(opc), c->info.hostnqn);
        admin_complete(c, req, SC(GENERIC, INVALID_OPCODE) | TERN_NVME_STATUS_DNR, 0);
        return;
    }
}

/* ---- properties (Base 3.1.4; fabrics Property Get/Set) ---- */
static void
cc_write(struct tern_nvmf_ctrlr *c, uint32_t cc)
{
    uint32_t old = c->cc;

    c->cc = cc;
    if ((cc & TERN_NVME_CC_EN) && !(old & TERN_NVME_CC_EN)) {
        uint32_t iosqes = (cc >> TERN_NVME_CC_IOSQES_SHIFT) & 0xf;
        uint32_t iocqes = (cc >> TERN_NVME_CC_IOCQES_SHIFT) & 0xf;
        uint32_t mps = (cc >> TERN_NVME_CC_MPS_SHIFT) & 0xf;
        uint32_t css = (cc >> TERN_NVME_CC_CSS_SHIFT) & 0x7;

        if (!is_discovery(c) && (iosqes != 6 || iocqes != 4 || mps != 0 || css != 0)) {
            TERN_LOG(g_log, ERR, "controller %u: host %s enabled it with IOSQES %u IOCQES %u "
                     "MPS %u CSS %u; only 6/4/0/0 work: controller fatal status",
                     c->info.cntlid, c->info.hostnqn, iosqes, iocqes, mps, css);
            c->csts |= TERN_NVME_CSTS_CFS;
            return;
        }
        c->csts |= TERN_NVME_CSTS_RDY;
    } else if (!(cc & TERN_NVME_CC_EN) && (old & TERN_NVME_CC_EN)) {
        /* Reset: the I/O queues go, the admin queue stays (Base 3.7.2). */
        drop_ioqs(c);
        c->nq_set = false;
        c->nr_ioq_granted = c->nr_slots - 1;
        c->csts &= ~(TERN_NVME_CSTS_RDY | TERN_NVME_CSTS_SHST_MASK);
    }
    if ((cc & TERN_NVME_CC_SHN_MASK) && !(old & TERN_NVME_CC_SHN_MASK)) {
        TERN_LOG(g_log, INFO, "controller %u: host %s shut it down", c->info.cntlid,
                 c->info.hostnqn);
        c->csts = (c->csts & ~TERN_NVME_CSTS_SHST_MASK) |
                  TERN_NVME_CSTS_SHST_COMPLETE << TERN_NVME_CSTS_SHST_SHIFT;
    } else if (!(cc & TERN_NVME_CC_SHN_MASK)) {
        c->csts &= ~TERN_NVME_CSTS_SHST_MASK;
    }
}

void
nvmf_ctrlr_property(struct tern_nvmf_request *req)
{
    const struct tern_nvmf_property_cmd *p = (const struct tern_nvmf_property_cmd *)req->cmd;
    struct tern_nvmf_ctrlr *c = req->qpair->ctrlr;
    uint8_t size = p->attrib & 0x7;
    bool set = p->fctype == TERN_NVMF_FCTYPE_PROPERTY_SET;
    uint64_t value = 0;
    uint8_t want;

    if (c == NULL || c->destructing) {
        nvmf_request_complete(req, SC(GENERIC, ABORTED_SQ_DELETION));
        return;
    }
    nvmf_ctrlr_keep_alive_reset(c);
    switch (p->ofst) {
    case TERN_NVME_REG_CAP:
        want = TERN_NVMF_PROP_SIZE_8;
        value = c->cap;
        break;
    case TERN_NVME_REG_VS:
        want = TERN_NVMF_PROP_SIZE_4;
        value = NVMF_VS;
        break;
    case TERN_NVME_REG_CC:
        want = TERN_NVMF_PROP_SIZE_4;
        value = c->cc;
        break;
    case TERN_NVME_REG_CSTS:
        want = TERN_NVMF_PROP_SIZE_4;
        value = c->csts;
        break;
    default:
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    if (size != want || (set && p->ofst != TERN_NVME_REG_CC)) {
        admin_complete(c, req, INVALID_FIELD, 0);
        return;
    }
    if (set) {
        cc_write(c, (uint32_t)p->value);
        admin_complete(c, req, 0, 0);
        return;
    }
    /* An 8-byte property's high half goes in completion dword 1. */
    req->cpl.cdw1 = (uint32_t)(value >> 32);
    admin_complete(c, req, 0, (uint32_t)value);
}

json_t *
nvmf_ctrlr_info(const struct tern_nvmf_ctrlr *c)
{
    char hostid[40];
    const uint8_t *h = c->info.hostid;
    json_t *o;

    snprintf(hostid, sizeof(hostid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
             h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
             h[15]);
    o = json_pack("{s:I, s:s, s:s, s:i, s:I, s:b}", "cntlid", (json_int_t)c->info.cntlid,
                  "hostnqn", c->info.hostnqn, "hostid", hostid, "lcore", (int)c->admin->lcore,
                  "keep_alive_timeout_ms", (json_int_t)c->kato_ms, "enabled",
                  (c->csts & TERN_NVME_CSTS_RDY) != 0);
    if (o != NULL) {
        uint16_t q;
        int n = 1;

        for (q = 1; q < c->nr_slots; q++)
            n += c->ioq[q].used;
        json_object_set_new(o, "num_qpairs", json_integer(n));
    }
    return o;
}
