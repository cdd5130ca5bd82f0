/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "nvmf_internal.h"
#include "tern_bdev.h"
#include "tern_env.h"
#include "tern_nvmf.h"
#include "tern_reactor.h"

TERN_LOG_REGISTER(g_log, "tern.lib.nvmf.subsystem", INFO);

struct host {
    TAILQ_ENTRY(host) link;
    char nqn[TERN_NVMF_NQN_FIELD];
};

struct tern_nvmf_ns {
    struct tern_nvmf_subsystem *subsystem;
    uint32_t nsid;
    struct tern_bdev_desc *desc;
    bool has_nguid;
    bool has_eui64;
    uint8_t nguid[16];
    uint8_t eui64[8];
    uint8_t uuid[16];
};

struct sub_listener {
    TAILQ_ENTRY(sub_listener) link;
    struct tern_nvmf_trid trid;
};

struct tern_nvmf_subsystem {
    TAILQ_ENTRY(tern_nvmf_subsystem) link;
    uint32_t id;                    /* index of the lcores' views */
    uint32_t gen;
    uint64_t next_key;
    TAILQ_HEAD(, nvmf_ctrlr_rec) ctrlrs;
    TAILQ_HEAD(, sub_listener) listeners;
    uint16_t next_cntlid;
    char nqn[TERN_NVMF_NQN_FIELD];
    enum tern_nvmf_subtype type;
    char sn[TERN_NVMF_SN_LEN + 1];
    char mn[TERN_NVMF_MN_LEN + 1];
    bool allow_any_host;
    uint16_t min_cntlid;
    uint16_t max_cntlid;
    uint32_t max_nsid;
    struct tern_nvmf_ns **ns;       /* [max_nsid], index nsid - 1 */
    TAILQ_HEAD(, host) hosts;
};

static TAILQ_HEAD(, tern_nvmf_subsystem) g_subsystems = TAILQ_HEAD_INITIALIZER(g_subsystems);
static uint64_t g_genctr;
static uint32_t g_serial_seq;
static struct tern_nvmf_subsystem *g_by_id[NVMF_MAX_SUBSYSTEMS];
static uint32_t g_next_gen;
static uint64_t g_next_ctrlr_key;
/* After tern_nvmf_fini starts, nothing is sent to other lcores. */
static bool g_stopped;

static int
fail(char *why, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;
    char buf[300];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    TERN_LOG(g_log, ERR, "%s", buf);
    if (why != NULL)
        snprintf(why, len, "%s", buf);
    return rc;
}

static bool
printable_ascii(const char *s, size_t max)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    }
    return true;
}

uint64_t
tern_nvmf_discovery_genctr(void)
{
    return g_genctr;
}

int
tern_nvmf_subsystem_create(const char *nqn, const struct tern_nvmf_subsystem_opts *o,
                           struct tern_nvmf_subsystem **out, char *why, size_t why_len)
{
    struct tern_nvmf_subsystem_opts def = { 0 };
    struct tern_nvmf_subsystem *s;
    char reason[256];
    bool discovery = strcmp(nqn, TERN_NVMF_DISCOVERY_NQN) == 0;

    if (o == NULL)
        o = &def;
    if (!tern_nvmf_nqn_valid(nqn, TERN_NVMF_NQN_FIELD, reason, sizeof(reason)))
        return fail(why, why_len, -EINVAL, "subsystem: %s", reason);
    if (tern_nvmf_subsystem_find(nqn) != NULL)
        return fail(why, why_len, -EEXIST, "subsystem %s already exists", nqn);
    if (o->serial_number && !printable_ascii(o->serial_number, TERN_NVMF_SN_LEN))
        return fail(why, why_len, -EINVAL, "subsystem %s: serial_number must be 1 to %d "
                    "printable ASCII characters", nqn, TERN_NVMF_SN_LEN);
    if (o->model_number && !printable_ascii(o->model_number, TERN_NVMF_MN_LEN))
        return fail(why, why_len, -EINVAL, "subsystem %s: model_number must be 1 to %d "
                    "printable ASCII characters", nqn, TERN_NVMF_MN_LEN);
    if (o->max_namespaces > TERN_NVMF_MAX_NAMESPACES_LIMIT)
        return fail(why, why_len, -EINVAL, "subsystem %s: max_namespaces %u is over the limit %d",
                    nqn, o->max_namespaces, TERN_NVMF_MAX_NAMESPACES_LIMIT);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    for (s->id = 0; s->id < NVMF_MAX_SUBSYSTEMS && g_by_id[s->id] != NULL; s->id++)
        ;
    if (s->id == NVMF_MAX_SUBSYSTEMS) {
        free(s);
        return fail(why, why_len, -ENOSPC, "subsystem %s: all %d subsystem slots are in use", nqn,
                    NVMF_MAX_SUBSYSTEMS);
    }
    s->gen = ++g_next_gen;
    TAILQ_INIT(&s->ctrlrs);
    TAILQ_INIT(&s->listeners);
    snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
    s->type = discovery ? TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT : TERN_NVMF_SUBTYPE_NVME;
    if (o->serial_number)
        snprintf(s->sn, sizeof(s->sn), "%s", o->serial_number);
    else
        snprintf(s->sn, sizeof(s->sn), "TERN%016u", ++g_serial_seq);
    snprintf(s->mn, sizeof(s->mn), "%s", o->model_number ? o->model_number : TERN_NVMF_DEFAULT_MN);
    s->allow_any_host = o->allow_any_host || discovery;
    s->min_cntlid = o->min_cntlid ? o->min_cntlid : TERN_NVMF_CNTLID_MIN;
    s->max_cntlid = o->max_cntlid ? o->max_cntlid : TERN_NVMF_CNTLID_MAX;
    if (s->min_cntlid > s->max_cntlid || s->max_cntlid > TERN_NVMF_CNTLID_MAX) {
        free(s);
        return fail(why, why_len, -EINVAL, "subsystem %s: controller ID range %u..%u is not within "
                    "1..%u", nqn, o->min_cntlid, o->max_cntlid, TERN_NVMF_CNTLID_MAX);
    }
    s->max_nsid = discovery ? 0 :
                  (o->max_namespaces ? o->max_namespaces : TERN_NVMF_DEFAULT_MAX_NAMESPACES);
    if (s->max_nsid) {
        s->ns = calloc(s->max_nsid, sizeof(*s->ns));
        if (s->ns == NULL) {
            free(s);
            return -ENOMEM;
        }
    }
    TAILQ_INIT(&s->hosts);
    if (nvmf_pg_subsys_added(s->id, s->gen, s->max_nsid) != 0) {
        free(s->ns);
        free(s);
        return fail(why, why_len, -ENOMEM, "subsystem %s: the lcores could not be told", nqn);
    }
    g_by_id[s->id] = s;
    TAILQ_INSERT_TAIL(&g_subsystems, s, link);
    nvmf_discovery_changed();
    TERN_LOG(g_log, INFO, "subsystem %s created (serial %s, up to %u namespaces)", s->nqn, s->sn,
             s->max_nsid);
    if (out)
        *out = s;
    return 0;
}

/* The lcores drop their channels, then the descriptor closes. */
static void
ns_free(struct tern_nvmf_ns *ns)
{
    struct tern_nvmf_subsystem *s = ns->subsystem;

    if (g_stopped)
        tern_bdev_close(ns->desc);
    else
        nvmf_pg_ns_removed(s->id, s->gen, ns->nsid, ns->desc);
    free(ns);
}

int
tern_nvmf_subsystem_delete(struct tern_nvmf_subsystem *s)
{
    struct host *h;
    uint32_t i;

    struct sub_listener *l;
    struct nvmf_ctrlr_rec *r;

    if (s->type == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT && !g_stopped)
        return -EPERM;
    if (!g_stopped)
        nvmf_notify_ctrlrs(s, NVMF_EV_DISCONNECT, 0, NULL);
    for (i = 0; i < s->max_nsid; i++) {
        if (s->ns[i] != NULL)
            ns_free(s->ns[i]);
    }
    if (!g_stopped)
        nvmf_pg_subsys_removed(s->id, s->gen);
    while ((h = TAILQ_FIRST(&s->hosts)) != NULL) {
        TAILQ_REMOVE(&s->hosts, h, link);
        free(h);
    }
    while ((l = TAILQ_FIRST(&s->listeners)) != NULL) {
        TAILQ_REMOVE(&s->listeners, l, link);
        if (!g_stopped)
            nvmf_listener_put(&l->trid);
        free(l);
    }
    /* Controllers still registered say goodbye by key; the key no longer
     * matches anything here, which is what they expect. */
    while ((r = TAILQ_FIRST(&s->ctrlrs)) != NULL) {
        TAILQ_REMOVE(&s->ctrlrs, r, link);
        free(r);
    }
    g_by_id[s->id] = NULL;
    TAILQ_REMOVE(&g_subsystems, s, link);
    if (!g_stopped)
        nvmf_discovery_changed();
    TERN_LOG(g_log, INFO, "subsystem %s deleted", s->nqn);
    free(s->ns);
    free(s);
    return 0;
}

struct tern_nvmf_subsystem *
tern_nvmf_subsystem_find(const char *nqn)
{
    struct tern_nvmf_subsystem *s;

    TAILQ_FOREACH(s, &g_subsystems, link) {
        if (strcmp(s->nqn, nqn) == 0)
            return s;
    }
    return NULL;
}

struct tern_nvmf_subsystem *tern_nvmf_subsystem_first(void) { return TAILQ_FIRST(&g_subsystems); }
struct tern_nvmf_subsystem *tern_nvmf_subsystem_next(struct tern_nvmf_subsystem *p) { return TAILQ_NEXT(p, link); }
const char *tern_nvmf_subsystem_nqn(const struct tern_nvmf_subsystem *s) { return s->nqn; }
enum tern_nvmf_subtype tern_nvmf_subsystem_type(const struct tern_nvmf_subsystem *s) { return s->type; }
const char *tern_nvmf_subsystem_sn(const struct tern_nvmf_subsystem *s) { return s->sn; }
const char *tern_nvmf_subsystem_mn(const struct tern_nvmf_subsystem *s) { return s->mn; }
uint32_t tern_nvmf_subsystem_max_nsid(const struct tern_nvmf_subsystem *s) { return s->max_nsid; }
bool tern_nvmf_subsystem_allow_any_host(const struct tern_nvmf_subsystem *s) { return s->allow_any_host; }

void
tern_nvmf_subsystem_cntlid_range(const struct tern_nvmf_subsystem *s, uint16_t *min, uint16_t *max)
{
    *min = s->min_cntlid;
    *max = s->max_cntlid;
}

/* ---- hosts ---- */
static struct host *
host_find(const struct tern_nvmf_subsystem *s, const char *nqn)
{
    struct host *h;

    TAILQ_FOREACH(h, &s->hosts, link) {
        if (strcmp(h->nqn, nqn) == 0)
            return h;
    }
    return NULL;
}

int
tern_nvmf_subsystem_add_host(struct tern_nvmf_subsystem *s, const char *hostnqn, char *why,
                             size_t why_len)
{
    char reason[256];
    struct host *h;

    if (s->type == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT)
        return fail(why, why_len, -EPERM, "the discovery subsystem admits every host");
    if (!tern_nvmf_nqn_valid(hostnqn, TERN_NVMF_NQN_FIELD, reason, sizeof(reason)))
        return fail(why, why_len, -EINVAL, "host: %s", reason);
    if (host_find(s, hostnqn) != NULL)
        return fail(why, why_len, -EEXIST, "host %s is already allowed on %s", hostnqn, s->nqn);
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
    TAILQ_INSERT_TAIL(&s->hosts, h, link);
    nvmf_discovery_changed();
    TERN_LOG(g_log, INFO, "subsystem %s: host %s allowed", s->nqn, hostnqn);
    return 0;
}

int
tern_nvmf_subsystem_remove_host(struct tern_nvmf_subsystem *s, const char *hostnqn)
{
    struct host *h = host_find(s, hostnqn);

    if (h == NULL)
        return -ENOENT;
    TAILQ_REMOVE(&s->hosts, h, link);
    free(h);
    nvmf_discovery_changed();
    TERN_LOG(g_log, INFO, "subsystem %s: host %s no longer allowed", s->nqn, hostnqn);
    if (!s->allow_any_host)
        nvmf_notify_ctrlrs(s, NVMF_EV_DISCONNECT, 0, hostnqn);
    return 0;
}

void
tern_nvmf_subsystem_set_allow_any_host(struct tern_nvmf_subsystem *s, bool allow)
{
    if (s->type == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT || s->allow_any_host == allow)
        return;
    s->allow_any_host = allow;
    nvmf_discovery_changed();
}

bool
tern_nvmf_subsystem_host_allowed(const struct tern_nvmf_subsystem *s, const char *hostnqn)
{
    return s->allow_any_host || host_find(s, hostnqn) != NULL;
}

const char *
tern_nvmf_subsystem_host(const struct tern_nvmf_subsystem *s, uint32_t index)
{
    struct host *h;

    TAILQ_FOREACH(h, &s->hosts, link) {
        if (index-- == 0)
            return h->nqn;
    }
    return NULL;
}

/* ---- namespaces ---- */
static void
ns_bdev_event(enum tern_bdev_event ev, struct tern_bdev *bdev, void *ctx)
{
    struct tern_nvmf_ns *ns = ctx;

    if (ev == TERN_BDEV_EVENT_REMOVE) {
        TERN_LOG(g_log, NOTICE, "subsystem %s: bdev %s is going away; removing namespace %u",
                 ns->subsystem->nqn, tern_bdev_name(bdev), ns->nsid);
        tern_nvmf_subsystem_remove_ns(ns->subsystem, ns->nsid);
    }
}

int
tern_nvmf_subsystem_add_ns(struct tern_nvmf_subsystem *s, const char *bdev_name,
                           const struct tern_nvmf_ns_opts *o, char *why, size_t why_len)
{
    struct tern_nvmf_ns_opts def = { 0 };
    struct tern_nvmf_ns *ns;
    uint32_t nsid, i;
    int rc;

    if (o == NULL)
        o = &def;
    if (s->type == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT)
        return fail(why, why_len, -EPERM, "the discovery subsystem has no namespaces");
    nsid = o->nsid;
    if (nsid == 0) {
        for (i = 0; i < s->max_nsid && s->ns[i] != NULL; i++)
            ;
        if (i == s->max_nsid)
            return fail(why, why_len, -ENOSPC, "subsystem %s: all %u namespace IDs are in use",
                        s->nqn, s->max_nsid);
        nsid = i + 1;
    } else if (nsid > s->max_nsid || nsid == TERN_NVME_NSID_ALL) {
        return fail(why, why_len, -EINVAL, "subsystem %s: NSID %u is outside 1..%u (max_namespaces)",
                    s->nqn, nsid, s->max_nsid);
    } else if (s->ns[nsid - 1] != NULL) {
        return fail(why, why_len, -EEXIST, "subsystem %s: NSID %u is in use", s->nqn, nsid);
    }
    for (i = 0; i < s->max_nsid; i++) {
        if (s->ns[i] != NULL && strcmp(tern_bdev_name(tern_bdev_desc_bdev(s->ns[i]->desc)),
                                       bdev_name) == 0)
            return fail(why, why_len, -EEXIST, "subsystem %s: bdev %s is already namespace %u",
                        s->nqn, bdev_name, i + 1);
    }
    ns = calloc(1, sizeof(*ns));
    if (ns == NULL)
        return -ENOMEM;
    ns->subsystem = s;
    ns->nsid = nsid;
    rc = tern_bdev_open(bdev_name, true, ns_bdev_event, ns, &ns->desc);
    if (rc != 0) {
        free(ns);
        return fail(why, why_len, rc, "subsystem %s: bdev %s %s", s->nqn, bdev_name,
                    rc == -ENODEV ? "does not exist" : "cannot be opened");
    }
    if (o->nguid) {
        memcpy(ns->nguid, o->nguid, 16);
        ns->has_nguid = true;
    }
    if (o->eui64) {
        memcpy(ns->eui64, o->eui64, 8);
        ns->has_eui64 = true;
    }
    memcpy(ns->uuid, o->uuid ? o->uuid : tern_bdev_uuid(tern_bdev_desc_bdev(ns->desc)), 16);
    rc = nvmf_pg_ns_added(s->id, s->gen, nsid, ns->desc, o->nguid ? ns->nguid : NULL,
                          o->eui64 ? ns->eui64 : NULL, ns->uuid);
    if (rc != 0) {
        tern_bdev_close(ns->desc);
        free(ns);
        return fail(why, why_len, rc, "subsystem %s: the lcores could not be told about "
                    "namespace %u", s->nqn, nsid);
    }
    s->ns[nsid - 1] = ns;
    nvmf_notify_ctrlrs(s, NVMF_EV_NS_CHANGED, nsid, NULL);
    TERN_LOG(g_log, INFO, "subsystem %s: namespace %u is bdev %s", s->nqn, nsid, bdev_name);
    return (int)nsid;
}

int
tern_nvmf_subsystem_remove_ns(struct tern_nvmf_subsystem *s, uint32_t nsid)
{
    struct tern_nvmf_ns *ns = tern_nvmf_subsystem_ns(s, nsid);

    if (ns == NULL)
        return -ENOENT;
    s->ns[nsid - 1] = NULL;
    ns_free(ns);
    if (!g_stopped)
        nvmf_notify_ctrlrs(s, NVMF_EV_NS_CHANGED, nsid, NULL);
    TERN_LOG(g_log, INFO, "subsystem %s: namespace %u removed", s->nqn, nsid);
    return 0;
}

struct tern_nvmf_ns *
tern_nvmf_subsystem_ns(const struct tern_nvmf_subsystem *s, uint32_t nsid)
{
    if (nsid == 0 || nsid > s->max_nsid)
        return NULL;
    return s->ns[nsid - 1];
}

struct tern_nvmf_ns *
tern_nvmf_subsystem_next_ns(const struct tern_nvmf_subsystem *s, uint32_t nsid)
{
    uint32_t i;

    for (i = nsid; i < s->max_nsid; i++) {
        if (s->ns[i] != NULL)
            return s->ns[i];
    }
    return NULL;
}

uint32_t tern_nvmf_ns_id(const struct tern_nvmf_ns *ns) { return ns->nsid; }
struct tern_bdev *tern_nvmf_ns_bdev(const struct tern_nvmf_ns *ns) { return tern_bdev_desc_bdev(ns->desc); }
const uint8_t *tern_nvmf_ns_nguid(const struct tern_nvmf_ns *ns) { return ns->has_nguid ? ns->nguid : NULL; }
const uint8_t *tern_nvmf_ns_eui64(const struct tern_nvmf_ns *ns) { return ns->has_eui64 ? ns->eui64 : NULL; }
const uint8_t *tern_nvmf_ns_uuid(const struct tern_nvmf_ns *ns) { return ns->uuid; }

/* ---- target ---- */
int
tern_nvmf_init(void)
{
    struct tern_nvmf_subsystem_opts o = { .allow_any_host = true };
    int rc;

    if (tern_nvmf_subsystem_find(TERN_NVMF_DISCOVERY_NQN) != NULL)
        return 0;
    g_stopped = false;
    rc = nvmf_pg_init_all();
    if (rc != 0)
        return rc;
    return tern_nvmf_subsystem_create(TERN_NVMF_DISCOVERY_NQN, &o, NULL, NULL, 0);
}

void
tern_nvmf_fini(void)
{
    struct tern_nvmf_subsystem *s;

    g_stopped = true;
    while ((s = TAILQ_FIRST(&g_subsystems)) != NULL)
        tern_nvmf_subsystem_delete(s);
    nvmf_transports_fini();
    nvmf_pg_fini_all();
}

/* ---- identity, controllers and listeners (main lcore) ---- */
uint32_t nvmf_subsystem_id(const struct tern_nvmf_subsystem *s) { return s->id; }
uint32_t nvmf_subsystem_gen(const struct tern_nvmf_subsystem *s) { return s->gen; }

struct tern_nvmf_subsystem *
nvmf_subsystem_by_id(uint32_t id, uint32_t gen)
{
    struct tern_nvmf_subsystem *s = id < NVMF_MAX_SUBSYSTEMS ? g_by_id[id] : NULL;

    return s != NULL && s->gen == gen ? s : NULL;
}

int
nvmf_subsystem_ctrlr_add(struct tern_nvmf_subsystem *s, const char *hostnqn, const uint8_t *hostid,
                         uint32_t lcore, struct nvmf_ctrlr_rec **out)
{
    uint32_t span = (uint32_t)s->max_cntlid - s->min_cntlid + 1, i;
    struct nvmf_ctrlr_rec *r;
    uint16_t id = 0;

    /* Controller IDs rotate through the range so that a host reconnecting
     * does not get the ID of the controller it just lost. */
    for (i = 0; i < span; i++) {
        uint16_t cand = (uint16_t)(s->min_cntlid + (s->next_cntlid + i) % span);

        if (nvmf_subsystem_ctrlr_find(s, cand) == NULL) {
            id = cand;
            s->next_cntlid = (uint16_t)((s->next_cntlid + i + 1) % span);
            break;
        }
    }
    if (id == 0)
        return -ENOSPC;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->cntlid = id;
    r->key = ++g_next_ctrlr_key;
    r->lcore = lcore;
    snprintf(r->hostnqn, sizeof(r->hostnqn), "%s", hostnqn);
    memcpy(r->hostid, hostid, 16);
    TAILQ_INSERT_TAIL(&s->ctrlrs, r, link);
    *out = r;
    return 0;
}

struct nvmf_ctrlr_rec *
nvmf_subsystem_ctrlr_find(struct tern_nvmf_subsystem *s, uint16_t cntlid)
{
    struct nvmf_ctrlr_rec *r;

    TAILQ_FOREACH(r, &s->ctrlrs, link) {
        if (r->cntlid == cntlid)
            return r;
    }
    return NULL;
}

void
nvmf_subsystem_ctrlr_remove(struct tern_nvmf_subsystem *s, uint64_t key)
{
    struct nvmf_ctrlr_rec *r;

    TAILQ_FOREACH(r, &s->ctrlrs, link) {
        if (r->key == key) {
            TAILQ_REMOVE(&s->ctrlrs, r, link);
            free(r);
            return;
        }
    }
}

struct nvmf_ctrlr_rec *nvmf_subsystem_ctrlr_first(struct tern_nvmf_subsystem *s) { return TAILQ_FIRST(&s->ctrlrs); }
struct nvmf_ctrlr_rec *nvmf_subsystem_ctrlr_next(struct nvmf_ctrlr_rec *r) { return TAILQ_NEXT(r, link); }

struct event_msg {
    uint64_t key;
    enum nvmf_ctrlr_event ev;
    uint32_t arg;
};

static void
event_on_lcore(void *a1, void *a2)
{
    struct event_msg *m = a1;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), m->key);
    (void)a2;

    if (c != NULL)
        nvmf_ctrlr_event(c, m->ev, m->arg);
    free(m);
}

void
nvmf_notify_ctrlrs(struct tern_nvmf_subsystem *s, enum nvmf_ctrlr_event ev, uint32_t arg,
                   const char *only_host)
{
    struct nvmf_ctrlr_rec *r;

    if (g_stopped)
        return;
    TAILQ_FOREACH(r, &s->ctrlrs, link) {
        struct event_msg *m;

        if (only_host != NULL && strcmp(only_host, r->hostnqn) != 0)
            continue;
        m = malloc(sizeof(*m));
        if (m == NULL)
            continue;
        m->key = r->key;
        m->ev = ev;
        m->arg = arg;
        if (tern_reactor_send_msg(r->lcore, event_on_lcore, m, NULL) != 0) {
            TERN_LOG(g_log, ERR, "subsystem %s: cannot reach controller %u on lcore %u",
                     s->nqn, r->cntlid, r->lcore);
            free(m);
        }
    }
}

void
nvmf_discovery_changed(void)
{
    struct tern_nvmf_subsystem *d = tern_nvmf_subsystem_find(TERN_NVMF_DISCOVERY_NQN);

    g_genctr++;
    if (d != NULL)
        nvmf_notify_ctrlrs(d, NVMF_EV_DISCOVERY_CHANGED, 0, NULL);
}

bool
nvmf_subsystem_listener_allowed(const struct tern_nvmf_subsystem *s,
                                const struct tern_nvmf_trid *trid)
{
    const struct sub_listener *l;

    TAILQ_FOREACH(l, &s->listeners, link) {
        if (tern_nvmf_trid_equal(&l->trid, trid))
            return true;
    }
    return false;
}

int
nvmf_subsystem_add_listener(struct tern_nvmf_subsystem *s, const struct tern_nvmf_trid *trid,
                            char *why, size_t why_len)
{
    struct sub_listener *l;
    int rc;

    if (nvmf_subsystem_listener_allowed(s, trid))
        return fail(why, why_len, -EEXIST, "subsystem %s already listens on %s %s:%s", s->nqn,
                    tern_nvmf_trtype_name(trid->trtype), trid->traddr, trid->trsvcid);
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    rc = nvmf_listener_get(trid, why, why_len);
    if (rc != 0) {
        free(l);
        return rc;
    }
    l->trid = *trid;
    TAILQ_INSERT_TAIL(&s->listeners, l, link);
    nvmf_discovery_changed();
    TERN_LOG(g_log, INFO, "subsystem %s listens on %s %s:%s", s->nqn,
             tern_nvmf_trtype_name(trid->trtype), trid->traddr, trid->trsvcid);
    return 0;
}

int
nvmf_subsystem_remove_listener(struct tern_nvmf_subsystem *s, const struct tern_nvmf_trid *trid)
{
    struct sub_listener *l;

    TAILQ_FOREACH(l, &s->listeners, link) {
        if (tern_nvmf_trid_equal(&l->trid, trid)) {
            TAILQ_REMOVE(&s->listeners, l, link);
            nvmf_listener_put(&l->trid);
            free(l);
            nvmf_discovery_changed();
            TERN_LOG(g_log, INFO, "subsystem %s no longer listens on %s %s:%s", s->nqn,
                     tern_nvmf_trtype_name(trid->trtype), trid->traddr, trid->trsvcid);
            return 0;
        }
    }
    return -ENOENT;
}

const struct tern_nvmf_trid *
nvmf_subsystem_listener(const struct tern_nvmf_subsystem *s, uint32_t index)
{
    const struct sub_listener *l;

    TAILQ_FOREACH(l, &s->listeners, link) {
        if (index-- == 0)
            return &l->trid;
    }
    return NULL;
}
