/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Poll groups: one per lcore. Each holds the lcore's qpairs, the controllers
 * whose admin queue it owns, and its own view of every subsystem's
 * namespaces with this lcore's bdev channels. The main lcore changes views
 * only by message (tern_reactor_for_each), so the I/O path reads them
 * without locks. Requests enter the core here and leave through
 * nvmf_request_complete().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"
#include "tern_env.h"
#include "tern_reactor.h"

TERN_LOG_REGISTER(g_log, "tern.lib.nvmf.pg", INFO);

static struct tern_nvmf_poll_group *g_pgs[TERN_MAX_LCORES];
static bool g_accepting;
static uint32_t g_rr_lcore = TERN_ENV_LCORE_NONE;

struct tern_nvmf_poll_group *
nvmf_pg(uint32_t lcore)
{
    return lcore < TERN_MAX_LCORES ? g_pgs[lcore] : NULL;
}

struct tern_nvmf_poll_group *
nvmf_pg_local(void)
{
    return nvmf_pg(tern_env_lcore_id());
}

int
nvmf_pg_init_all(void)
{
    uint32_t l;

    TERN_ENV_FOREACH_LCORE(l) {
        struct tern_nvmf_poll_group *pg;

        if (l >= TERN_MAX_LCORES)
            return -ERANGE;
        if (g_pgs[l] != NULL)
            continue;
        pg = calloc(1, sizeof(*pg));
        if (pg == NULL)
            return -ENOMEM;
        pg->lcore = l;
        TAILQ_INIT(&pg->qpairs);
        TAILQ_INIT(&pg->ctrlrs);
        TAILQ_INIT(&pg->zombies);
        g_pgs[l] = pg;
    }
    g_accepting = true;
    return 0;
}

static void
view_free(struct nvmf_subsys_view *v)
{
    free(v->ns);
    free(v);
}

void
nvmf_pg_fini_all(void)
{
    uint32_t l, i;

    g_accepting = false;
    for (l = 0; l < TERN_MAX_LCORES; l++) {
        struct tern_nvmf_poll_group *pg = g_pgs[l];

        if (pg == NULL)
            continue;
        if (pg->num_qpairs)
            TERN_LOG(g_log, ERR, "lcore %u: %u qpairs still registered at exit", l, pg->num_qpairs);
        for (i = 0; i < NVMF_MAX_SUBSYSTEMS; i++) {
            if (pg->subsys[i] != NULL)
                view_free(pg->subsys[i]);
        }
        free(pg);
        g_pgs[l] = NULL;
    }
}

bool
tern_nvmf_accepting(void)
{
    return g_accepting;
}

void
nvmf_pg_stop_accepting(void)
{
    g_accepting = false;
}

uint32_t
tern_nvmf_next_lcore(void)
{
    /* Main lcore only (listeners accept there). */
    g_rr_lcore = g_rr_lcore == TERN_ENV_LCORE_NONE ? TERN_ENV_LCORE_NONE
                                                   : tern_env_lcore_next(g_rr_lcore);
    if (g_rr_lcore == TERN_ENV_LCORE_NONE)
        g_rr_lcore = tern_env_lcore_first();
    return g_rr_lcore;
}

/* ---- namespace views ---- */
struct nvmf_subsys_view *
nvmf_view(uint32_t subsys_id, uint32_t gen)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_subsys_view *v;

    if (pg == NULL || subsys_id >= NVMF_MAX_SUBSYSTEMS)
        return NULL;
    v = pg->subsys[subsys_id];
    return v != NULL && v->gen == gen ? v : NULL;
}

struct nvmf_ns_view *
nvmf_view_ns(const struct nvmf_subsys_view *v, uint32_t nsid)
{
    if (v == NULL || nsid == 0 || nsid > v->max_nsid)
        return NULL;
    return v->ns[nsid - 1];
}

struct view_msg {
    uint32_t subsys_id, gen, max_nsid;
    struct nvmf_ns_view tmpl;       /* namespace added: what every lcore copies */
    uint32_t nsid;
    struct tern_bdev_desc *desc;    /* namespace removed: closed when all let go */
    struct ns_release *release;     /* namespace removed: the main lcore's record */
    uint32_t holders;               /* namespace removed: lcores that held it (the
                                     * walk visits lcores one after another, so
                                     * only one writes this at a time) */
};

/*
 * Main-side record of a removed namespace's desc, waiting for lcores. Only
 * the main lcore touches it: lcores count themselves in the walk's message
 * and tell the main lcore by message when they let go.
 */
struct ns_release {
    struct tern_bdev_desc *desc;
    uint32_t expected;      /* lcores that held it; known when the walk is done */
    uint32_t released;      /* lcores that let go so far */
    bool walk_done;
};

static void
ns_release_check(struct ns_release *r)
{
    if (r->walk_done && r->released == r->expected) {
        tern_bdev_close(r->desc);
        free(r);
    }
}

static void
release_msg_on_main(void *a1, void *a2)
{
    struct ns_release *r = a1;
    (void)a2;

    r->released++;
    ns_release_check(r);
}

/* Drop one lcore's hold on a removed namespace. */
static void
view_ns_release(struct nvmf_ns_view *nv)
{
    struct ns_release *r = (struct ns_release *)(uintptr_t)nv->ns_key;

    if (nv->ch != NULL)
        tern_bdev_put_channel(nv->ch);
    free(nv);
    if (r != NULL &&
        tern_reactor_send_msg(tern_env_main_lcore(), release_msg_on_main, r, NULL) != 0)
        TERN_LOG(g_log, ERR, "cannot tell the main lcore a namespace was released; "
                 "its bdev stays open");
}

void
nvmf_ns_view_put(struct nvmf_ns_view *nv)
{
    nv->outstanding--;
    if (nv->removed && nv->outstanding == 0) {
        struct tern_nvmf_poll_group *pg = nvmf_pg_local();

        TAILQ_REMOVE(&pg->zombies, nv, zombie_link);
        view_ns_release(nv);
    }
}

static void
subsys_add_on_lcore(void *ctx)
{
    struct view_msg *m = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_subsys_view *v;

    if (pg == NULL)
        return;
    v = calloc(1, sizeof(*v));
    if (v != NULL && m->max_nsid > 0)
        v->ns = calloc(m->max_nsid, sizeof(*v->ns));
    if (v == NULL || (m->max_nsid > 0 && v->ns == NULL)) {
        TERN_LOG(g_log, ERR, "lcore %u: no memory for subsystem %u's view", pg->lcore,
                 m->subsys_id);
        free(v);
        return;
    }
    v->gen = m->gen;
    v->max_nsid = m->max_nsid;
    pg->subsys[m->subsys_id] = v;
}

static void
walk_done_free(void *ctx, int status)
{
    if (status != 0)
        TERN_LOG(g_log, ERR, "namespace view update did not reach every lcore: %s",
                 strerror(-status));
    free(ctx);
}

static int
walk(tern_reactor_each_fn fn, struct view_msg *m, tern_reactor_each_done done)
{
    int rc = tern_reactor_for_each(fn, m, done);

    if (rc != 0) {
        TERN_LOG(g_log, ERR, "cannot update the lcores' namespace views: %s", strerror(-rc));
        free(m);
    }
    return rc;
}

int
nvmf_pg_subsys_added(uint32_t id, uint32_t gen, uint32_t max_nsid)
{
    struct view_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return -ENOMEM;
    m->subsys_id = id;
    m->gen = gen;
    m->max_nsid = max_nsid;
    return walk(subsys_add_on_lcore, m, walk_done_free);
}

static void
ns_remove_local(struct tern_nvmf_poll_group *pg, struct nvmf_ns_view *nv)
{
    if (nv->outstanding == 0) {
        view_ns_release(nv);
    } else {
        nv->removed = true;
        TAILQ_INSERT_TAIL(&pg->zombies, nv, zombie_link);
    }
}

static void
subsys_remove_on_lcore(void *ctx)
{
    struct view_msg *m = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_subsys_view *v = nvmf_view(m->subsys_id, m->gen);
    uint32_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->max_nsid; i++) {
        if (v->ns[i] != NULL)
            ns_remove_local(pg, v->ns[i]);
    }
    pg->subsys[m->subsys_id] = NULL;
    view_free(v);
}

int
nvmf_pg_subsys_removed(uint32_t id, uint32_t gen)
{
    struct view_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return -ENOMEM;
    m->subsys_id = id;
    m->gen = gen;
    return walk(subsys_remove_on_lcore, m, walk_done_free);
}

static void
ns_add_on_lcore(void *ctx)
{
    struct view_msg *m = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_subsys_view *v = nvmf_view(m->subsys_id, m->gen);
    struct nvmf_ns_view *nv;

    if (v == NULL || m->nsid == 0 || m->nsid > v->max_nsid)
        return;
    nv = malloc(sizeof(*nv));
    if (nv == NULL) {
        TERN_LOG(g_log, ERR, "lcore %u: no memory for namespace %u's view", pg->lcore, m->nsid);
        return;
    }
    *nv = m->tmpl;
    nv->ch = tern_bdev_get_channel(nv->desc);
    if (nv->ch == NULL)
        TERN_LOG(g_log, ERR, "lcore %u: no bdev channel for namespace %u: its I/O will fail "
                 "on this lcore", pg->lcore, m->nsid);
    /* The release record is attached when the namespace is removed. */
    nv->ns_key = 0;
    v->ns[m->nsid - 1] = nv;
}

int
nvmf_pg_ns_added(uint32_t id, uint32_t gen, uint32_t nsid, struct tern_bdev_desc *desc,
                 const uint8_t *nguid, const uint8_t *eui64, const uint8_t *uuid)
{
    struct view_msg *m = calloc(1, sizeof(*m));
    struct tern_bdev *b = tern_bdev_desc_bdev(desc);
    int t;

    if (m == NULL)
        return -ENOMEM;
    m->subsys_id = id;
    m->gen = gen;
    m->nsid = nsid;
    m->tmpl.nsid = nsid;
    m->tmpl.desc = desc;
    m->tmpl.block_size = tern_bdev_block_size(b);
    m->tmpl.num_blocks = tern_bdev_num_blocks(b);
    m->tmpl.max_xfer_blocks = tern_bdev_max_transfer_blocks(b);
    m->tmpl.write_cache = tern_bdev_has_write_cache(b);
    for (t = 0; t < TERN_BDEV_IO_NUM_TYPES; t++)
        m->tmpl.sup[t] = tern_bdev_io_type_supported(b, (enum tern_bdev_io_type)t);
    if (nguid) {
        m->tmpl.has_nguid = true;
        memcpy(m->tmpl.nguid, nguid, 16);
    }
    if (eui64) {
        m->tmpl.has_eui64 = true;
        memcpy(m->tmpl.eui64, eui64, 8);
    }
    memcpy(m->tmpl.uuid, uuid, 16);
    return walk(ns_add_on_lcore, m, walk_done_free);
}

static void
ns_remove_on_lcore(void *ctx)
{
    struct view_msg *m = ctx;
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();
    struct nvmf_subsys_view *v = nvmf_view(m->subsys_id, m->gen);
    struct nvmf_ns_view *nv = nvmf_view_ns(v, m->nsid);

    if (nv == NULL || nv->desc != m->desc)
        return;
    v->ns[m->nsid - 1] = NULL;
    nv->ns_key = (uint64_t)(uintptr_t)m->release;
    m->holders++;
    ns_remove_local(pg, nv);
}

static void
ns_remove_done(void *ctx, int status)
{
    struct view_msg *m = ctx;
    struct ns_release *r = m->release;

    (void)status;
    r->expected = m->holders;
    r->walk_done = true;
    free(m);
    ns_release_check(r);
}

/*
 * The namespace left the subsystem: every lcore drops its channel once its
 * I/O on it is done, and the descriptor closes after the last one (so the
 * bdev can go only when nothing uses it).
 */
void
nvmf_pg_ns_removed(uint32_t id, uint32_t gen, uint32_t nsid, struct tern_bdev_desc *desc)
{
    struct view_msg *m = calloc(1, sizeof(*m));
    struct ns_release *r = calloc(1, sizeof(*r));

    if (m == NULL || r == NULL) {
        TERN_LOG(g_log, ERR, "no memory to retire namespace %u; its bdev stays open", nsid);
        free(m);
        free(r);
        return;
    }
    r->desc = desc;
    m->subsys_id = id;
    m->gen = gen;
    m->nsid = nsid;
    m->desc = desc;
    m->release = r;
    if (tern_reactor_for_each(ns_remove_on_lcore, m, ns_remove_done) != 0) {
        /* Reactors are not running (shutdown): nothing holds a channel. */
        tern_bdev_close(desc);
        free(r);
        free(m);
    }
}

/* ---- qpairs ---- */
struct tern_nvmf_qpair *
nvmf_pg_find_qpair(struct tern_nvmf_poll_group *pg, uint64_t id)
{
    struct tern_nvmf_qpair *qp;

    if (pg == NULL)
        return NULL;
    TAILQ_FOREACH(qp, &pg->qpairs, link) {
        if (qp->id == id)
            return qp;
    }
    return NULL;
}

void
tern_nvmf_qpair_init(struct tern_nvmf_qpair *qp)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();

    qp->state = TERN_NVMF_QPAIR_UNCONNECTED;
    qp->lcore = pg->lcore;
    qp->id = (uint64_t)pg->lcore << 48 | ++pg->next_qpair_seq;
    qp->outstanding = 0;
    qp->ctrlr = NULL;
    qp->ctrlr_key = 0;
    qp->notify_ctrlr = false;
    memset(&qp->stats, 0, sizeof(qp->stats));
    TAILQ_INSERT_TAIL(&pg->qpairs, qp, link);
    pg->num_qpairs++;
    pg->qpairs_created++;
}

struct ioq_msg {
    uint64_t key;
    uint64_t qpair_id;
    uint16_t qid;
    bool error;
};

static void
ioq_gone_on_ctrlr(void *a1, void *a2)
{
    struct ioq_msg *m = a1;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), m->key);
    (void)a2;

    if (c != NULL)
        nvmf_ctrlr_ioq_gone(c, m->qid, m->qpair_id, m->error);
    free(m);
}

void
nvmf_qpair_release_ioq(struct tern_nvmf_qpair *qp, bool error)
{
    struct ioq_msg *m;

    if (!qp->notify_ctrlr)
        return;
    qp->notify_ctrlr = false;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return;
    m->key = qp->ctrlr_key;
    m->qpair_id = qp->id;
    m->qid = qp->qid;
    m->error = error;
    if (tern_reactor_send_msg(qp->ctrlr_lcore, ioq_gone_on_ctrlr, m, NULL) != 0)
        free(m);
}

void
tern_nvmf_qpair_closed(struct tern_nvmf_qpair *qp, bool error)
{
    enum tern_nvmf_qpair_state prev = qp->state;

    if (prev == TERN_NVMF_QPAIR_CLOSED)
        return;
    qp->state = TERN_NVMF_QPAIR_CLOSED;
    if (qp->qid == 0 && qp->ctrlr != NULL) {
        struct tern_nvmf_ctrlr *c = qp->ctrlr;

        qp->ctrlr = NULL;
        nvmf_ctrlr_admin_closed(c);
    } else if (qp->qid != 0 && prev == TERN_NVMF_QPAIR_ACTIVE) {
        nvmf_qpair_release_ioq(qp, error);
    }
}

void
tern_nvmf_qpair_fini(struct tern_nvmf_qpair *qp)
{
    struct tern_nvmf_poll_group *pg = nvmf_pg_local();

    if (qp->state != TERN_NVMF_QPAIR_CLOSED)
        tern_nvmf_qpair_closed(qp, false);
    if (qp->outstanding != 0)
        TERN_LOG(g_log, ERR, "qpair %u (cntlid %u) freed with %u requests outstanding", qp->qid,
                 qp->cntlid, qp->outstanding);
    TAILQ_REMOVE(&pg->qpairs, qp, link);
    pg->num_qpairs--;
    pg->qpairs_destroyed++;
}

void
nvmf_qpair_disconnect_by_id(uint64_t qpair_id)
{
    struct tern_nvmf_qpair *qp = nvmf_pg_find_qpair(nvmf_pg_local(), qpair_id);

    if (qp != NULL)
        qp->transport->ops->qpair_disconnect(qp);
}

/* ---- requests ---- */
bool
tern_nvmf_request_is_connect(const struct tern_nvmf_request *req)
{
    const struct tern_nvmf_cmd *f = (const struct tern_nvmf_cmd *)req->cmd;

    return f->opcode == TERN_NVME_OPC_FABRICS && f->fctype == TERN_NVMF_FCTYPE_CONNECT;
}

void
nvmf_request_complete_cdw0(struct tern_nvmf_request *req, uint16_t status, uint32_t cdw0)
{
    struct tern_nvmf_qpair *qp = req->qpair;

    req->cpl.cdw0 = cdw0;
    req->cpl.cid = req->cmd->cid;
    req->cpl.sqid = qp->qid;
    if (qp->sqsize != 0)
        qp->sqhd = (uint16_t)((qp->sqhd + 1) % qp->sqsize);
    req->cpl.sqhd = qp->sqhd;
    req->cpl.status = tern_nvme_status_to_cqe(status, 0);
    qp->outstanding--;
    qp->stats.completed++;
    if (status != 0)
        qp->stats.errors++;
    qp->transport->ops->req_complete(req);
}

void
nvmf_request_complete(struct tern_nvmf_request *req, uint16_t status)
{
    nvmf_request_complete_cdw0(req, status, req->cpl.cdw0);
}

void
tern_nvmf_request_fail(struct tern_nvmf_request *req, uint16_t status)
{
    req->qpair->outstanding++;
    req->qpair->stats.submitted++;
    req->cpl.cdw0 = 0;
    req->cpl.cdw1 = 0;
    nvmf_request_complete(req, status);
}

void
tern_nvmf_request_exec(struct tern_nvmf_request *req)
{
    struct tern_nvmf_qpair *qp = req->qpair;

    qp->outstanding++;
    qp->stats.submitted++;
    req->cpl.cdw0 = 0;
    req->cpl.cdw1 = 0;
    req->data_len = 0;
    req->ns = NULL;
    if (qp->state == TERN_NVMF_QPAIR_CLOSED) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_ABORTED_SQ_DELETION));
        return;
    }
    /* Until its Connect succeeds, a queue takes nothing but the Connect. */
    if (qp->state != TERN_NVMF_QPAIR_ACTIVE && !tern_nvmf_request_is_connect(req)) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_COMMAND_SEQUENCE_ERROR) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
    if (req->cmd->opc == TERN_NVME_OPC_FABRICS) {
        nvmf_fabrics_exec(req);
        return;
    }
    if (qp->qid == 0)
        nvmf_ctrlr_exec_admin(req);
    else
        nvmf_io_exec(req);
}

uint32_t
nvmf_request_copy_out(struct tern_nvmf_request *req, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    uint32_t done = 0;
    int i;

    if (len > req->length)
        len = req->length;
    for (i = 0; i < req->iovcnt && done < len; i++) {
        uint32_t n = (uint32_t)req->iov[i].iov_len;

        if (n > len - done)
            n = len - done;
        memcpy(req->iov[i].iov_base, p + done, n);
        done += n;
    }
    req->data_len = done;
    return done;
}

uint32_t
nvmf_request_copy_in(const struct tern_nvmf_request *req, uint32_t offset, void *buf,
                     uint32_t len)
{
    uint8_t *p = buf;
    uint32_t done = 0;
    int i;

    if (offset >= req->length)
        return 0;
    if (len > req->length - offset)
        len = req->length - offset;
    for (i = 0; i < req->iovcnt && done < len; i++) {
        uint32_t n = (uint32_t)req->iov[i].iov_len;

        if (offset >= n) {
            offset -= n;
            continue;
        }
        n -= offset;
        if (n > len - done)
            n = len - done;
        memcpy(p + done, (const uint8_t *)req->iov[i].iov_base + offset, n);
        offset = 0;
        done += n;
    }
    return done;
}
