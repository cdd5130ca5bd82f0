/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fabrics commands (Base 6): Connect, Property Get/Set, Disconnect.
 * A Connect travels: the queue's lcore checks the command and its data, the
 * main lcore checks the subsystem, host and listener and (admin queue)
 * reserves a controller ID or (I/O queue) finds the controller's lcore,
 * which admits the queue; the answer returns to the queue's lcore. The
 * request stays outstanding meanwhile, which keeps its qpair alive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"
#include "tern_env.h"
#include "tern_reactor.h"

TERN_LOG_REGISTER(g_log, "tern.lib.nvmf.fabrics", INFO);

#define BAD_PARAM                                                                   \
    (TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC, TERN_NVMF_SC_CONNECT_INVALID_PARAMS) | \
     TERN_NVME_STATUS_DNR)
#define CONNECT_OFFSET(f) tern_nvmf_connect_invalid_param(0, offsetof(struct tern_nvmf_connect_cmd, f))
#define DATA_OFFSET(f) tern_nvmf_connect_invalid_param(1, offsetof(struct tern_nvmf_connect_data, f))

struct connect_ctx {
    struct tern_nvmf_request *req;
    uint32_t qp_lcore;
    uint64_t qpair_id;
    uint16_t qid;
    uint16_t sqsize;                /* entries */
    uint32_t kato;
    struct tern_nvmf_trid local;
    char subnqn[TERN_NVMF_NQN_FIELD];
    char hostnqn[TERN_NVMF_NQN_FIELD];
    char peer[TERN_NVMF_TRADDR_MAX + TERN_NVMF_TRSVCID_MAX + 2];
    uint8_t hostid[16];
    uint16_t cntlid;
    /* answers */
    uint16_t status;
    uint32_t cdw0;
    uint64_t key;
    uint32_t ctrlr_lcore;
    uint32_t subsys_id, subsys_gen;
    struct nvmf_ctrlr_init init;
};

static void connect_finish(void *a1, void *a2);

static void
reply_to_queue(struct connect_ctx *x)
{
    if (tern_reactor_send_msg(x->qp_lcore, connect_finish, x, NULL) != 0)
        TERN_LOG(g_log, ERR, "cannot return a Connect answer to lcore %u; queue %u of host %s "
                 "stays unconnected", x->qp_lcore, x->qid, x->hostnqn);
}

static void
connect_fail(struct connect_ctx *x, uint16_t status, uint32_t cdw0, const char *why)
{
    TERN_LOG(g_log, ERR, "Connect from %s (host %s, queue %u) to %s refused: %s", x->peer,
             x->hostnqn, x->qid, x->subnqn, why);
    x->status = status;
    x->cdw0 = cdw0;
}

static void
connect_on_ctrlr(void *a1, void *a2)
{
    struct connect_ctx *x = a1;
    struct tern_nvmf_ctrlr *c = nvmf_pg_find_ctrlr(nvmf_pg_local(), x->key);
    (void)a2;

    if (c == NULL) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(cntlid), "the controller is gone");
    } else {
        x->status = nvmf_ctrlr_add_ioq(c, x->hostnqn, x->hostid, x->qid, x->sqsize, x->qp_lcore,
                                       x->qpair_id, &x->cdw0);
        if (x->status != 0)
            TERN_LOG(g_log, ERR, "Connect from %s (host %s) of I/O queue %u to controller %u "
                     "refused (status 0x%x)", x->peer, x->hostnqn, x->qid, x->cntlid, x->status);
    }
    reply_to_queue(x);
}

static void
connect_on_main(void *a1, void *a2)
{
    struct connect_ctx *x = a1;
    struct tern_nvmf_subsystem *s = tern_nvmf_subsystem_find(x->subnqn);
    struct nvmf_ctrlr_rec *rec;
    int rc;
    (void)a2;

    if (s == NULL || (tern_nvmf_subsystem_type(s) == TERN_NVMF_SUBTYPE_NVME &&
                      !nvmf_subsystem_listener_allowed(s, &x->local))) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(subnqn),
                     s == NULL ? "no such subsystem" : "the subsystem does not listen there");
        goto reply;
    }
    if (!tern_nvmf_subsystem_host_allowed(s, x->hostnqn)) {
        connect_fail(x, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                         TERN_NVMF_SC_CONNECT_INVALID_HOST) | TERN_NVME_STATUS_DNR,
                     0, "the host is not on the subsystem's allow-list");
        goto reply;
    }
    x->subsys_id = nvmf_subsystem_id(s);
    x->subsys_gen = nvmf_subsystem_gen(s);
    if (x->qid == 0) {
        if (x->cntlid != TERN_NVMF_CNTLID_DYNAMIC) {
            connect_fail(x, BAD_PARAM, DATA_OFFSET(cntlid),
                         "only dynamic controllers (CNTLID FFFFh) exist");
            goto reply;
        }
        rc = nvmf_subsystem_ctrlr_add(s, x->hostnqn, x->hostid, x->qp_lcore, &rec);
        if (rc != 0) {
            connect_fail(x, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                             TERN_NVMF_SC_CONTROLLER_BUSY),
                         0, "no controller ID is free");
            goto reply;
        }
        x->key = rec->key;
        x->init.key = rec->key;
        x->init.cntlid = rec->cntlid;
        x->init.subsys_id = x->subsys_id;
        x->init.subsys_gen = x->subsys_gen;
        x->init.subtype = (uint8_t)tern_nvmf_subsystem_type(s);
        x->init.max_nsid = tern_nvmf_subsystem_max_nsid(s);
        x->init.kato_ms = x->kato;
        snprintf(x->init.subnqn, sizeof(x->init.subnqn), "%s", x->subnqn);
        snprintf(x->init.hostnqn, sizeof(x->init.hostnqn), "%s", x->hostnqn);
        memcpy(x->init.hostid, x->hostid, 16);
        snprintf(x->init.sn, sizeof(x->init.sn), "%s", tern_nvmf_subsystem_sn(s));
        snprintf(x->init.mn, sizeof(x->init.mn), "%s", tern_nvmf_subsystem_mn(s));
        x->cdw0 = rec->cntlid;
        goto reply;
    }
    rec = nvmf_subsystem_ctrlr_find(s, x->cntlid);
    if (rec == NULL) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(cntlid), "no such controller");
        goto reply;
    }
    x->key = rec->key;
    x->ctrlr_lcore = rec->lcore;
    if (tern_reactor_send_msg(rec->lcore, connect_on_ctrlr, x, NULL) == 0)
        return;
    connect_fail(x, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INTERNAL_DEVICE_ERROR), 0,
                 "the controller's lcore cannot be reached");
reply:
    reply_to_queue(x);
}

static void
undo_record_on_main(void *a1, void *a2)
{
    struct connect_ctx *x = a1;
    struct tern_nvmf_subsystem *s = nvmf_subsystem_by_id(x->subsys_id, x->subsys_gen);
    (void)a2;

    if (s != NULL)
        nvmf_subsystem_ctrlr_remove(s, x->key);
    free(x);
}

static void
connect_finish(void *a1, void *a2)
{
    struct connect_ctx *x = a1;
    struct tern_nvmf_request *req = x->req;
    struct tern_nvmf_qpair *qp = req->qpair;
    (void)a2;

    if (x->status == 0 && qp->state == TERN_NVMF_QPAIR_CLOSED) {
        /* The connection died while we were admitting it: give back what
         * was reserved for it (an I/O queue's QID the usual way). */
        if (x->qid == 0) {
            if (tern_reactor_send_msg(tern_env_main_lcore(), undo_record_on_main, x, NULL) == 0)
                x = NULL;
        } else {
            qp->ctrlr_key = x->key;
            qp->ctrlr_lcore = x->ctrlr_lcore;
            qp->notify_ctrlr = true;
            nvmf_qpair_release_ioq(qp, false);
        }
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_ABORTED_SQ_DELETION));
        free(x);
        return;
    }
    if (x->status == 0 && x->qid == 0) {
        qp->ctrlr = nvmf_ctrlr_create(&x->init, qp);
        if (qp->ctrlr == NULL) {
            TERN_LOG(g_log, ERR, "no memory for controller %u of %s", x->init.cntlid, x->subnqn);
            x->status = TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC, TERN_NVME_SC_INTERNAL_DEVICE_ERROR);
            x->cdw0 = 0;
            if (tern_reactor_send_msg(tern_env_main_lcore(), undo_record_on_main, x, NULL) == 0) {
                qp->state = TERN_NVMF_QPAIR_UNCONNECTED;
                nvmf_request_complete_cdw0(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                                 TERN_NVME_SC_INTERNAL_DEVICE_ERROR),
                                           0);
                return;
            }
        }
        x->ctrlr_lcore = qp->lcore;
    }
    if (x->status != 0) {
        qp->state = TERN_NVMF_QPAIR_UNCONNECTED;
        nvmf_request_complete_cdw0(req, x->status, x->cdw0);
        free(x);
        return;
    }
    qp->state = TERN_NVMF_QPAIR_ACTIVE;
    qp->qid = x->qid;
    qp->sqsize = x->sqsize;
    qp->sqhd = 0;
    qp->cntlid = (uint16_t)x->cdw0;
    qp->ctrlr_key = x->key;
    qp->ctrlr_lcore = x->ctrlr_lcore;
    qp->subsys_id = x->subsys_id;
    qp->subsys_gen = x->subsys_gen;
    qp->notify_ctrlr = x->qid != 0;
    TERN_LOG(g_log, INFO, "host %s (%s) connected queue %u (depth %u) of controller %u of %s "
             "on lcore %u", x->hostnqn, x->peer, x->qid, x->sqsize, qp->cntlid, x->subnqn,
             qp->lcore);
    nvmf_request_complete_cdw0(req, 0, x->cdw0);
    free(x);
}

static bool
nqn_field_ok(const char *field)
{
    return memchr(field, '\0', TERN_NVMF_NQN_FIELD) != NULL &&
           tern_nvmf_nqn_valid(field, TERN_NVMF_NQN_FIELD, NULL, 0);
}

static void
connect(struct tern_nvmf_request *req)
{
    const struct tern_nvmf_connect_cmd *cmd = (const struct tern_nvmf_connect_cmd *)req->cmd;
    struct tern_nvmf_qpair *qp = req->qpair;
    const struct tern_nvmf_transport_opts *o = &qp->transport->opts;
    struct tern_nvmf_connect_data data;
    struct connect_ctx *x;
    uint32_t max;

    if (qp->state != TERN_NVMF_QPAIR_UNCONNECTED) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_COMMAND_SEQUENCE_ERROR) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
    if (req->xfer != TERN_NVME_XFER_HOST_TO_CTRLR || req->length < sizeof(data) ||
        nvmf_request_copy_in(req, 0, &data, sizeof(data)) != sizeof(data)) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_DATA_SGL_LENGTH_INVALID) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
    /* The Connect names the queue; its completion carries that SQID. */
    qp->qid = cmd->qid;
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_INTERNAL_DEVICE_ERROR));
        return;
    }
    x->req = req;
    x->qp_lcore = qp->lcore;
    x->qpair_id = qp->id;
    x->qid = cmd->qid;
    x->sqsize = (uint16_t)(cmd->sqsize + 1u);
    x->kato = cmd->kato;
    x->local = qp->local;
    x->cntlid = data.cntlid;
    memcpy(x->hostid, data.hostid, 16);
    snprintf(x->peer, sizeof(x->peer), "%s:%s", qp->peer.traddr, qp->peer.trsvcid);
    memcpy(x->subnqn, data.subnqn, sizeof(x->subnqn));
    memcpy(x->hostnqn, data.hostnqn, sizeof(x->hostnqn));
    x->subnqn[sizeof(x->subnqn) - 1] = '\0';
    x->hostnqn[sizeof(x->hostnqn) - 1] = '\0';

    max = cmd->qid == 0 ? o->max_aq_depth : o->max_queue_depth;
    if (cmd->recfmt != 0) {
        connect_fail(x, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                         TERN_NVMF_SC_INCOMPATIBLE_FORMAT) | TERN_NVME_STATUS_DNR,
                     0, "record format is not 0");
    } else if (cmd->sqsize == 0 || cmd->sqsize == 0xffff || cmd->sqsize + 1u > max) {
        char why[96];

        snprintf(why, sizeof(why), "SQSIZE %u is outside 1..%u", cmd->sqsize, max - 1);
        connect_fail(x, BAD_PARAM, CONNECT_OFFSET(sqsize), why);
    } else if (!nqn_field_ok(data.subnqn)) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(subnqn), "SUBNQN is not a valid NQN");
    } else if (!nqn_field_ok(data.hostnqn)) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(hostnqn), "HOSTNQN is not a valid NQN");
    } else if (cmd->qid != 0 && data.cntlid > TERN_NVMF_CNTLID_MAX) {
        connect_fail(x, BAD_PARAM, DATA_OFFSET(cntlid), "an I/O queue needs its controller's ID");
    } else {
        qp->state = TERN_NVMF_QPAIR_CONNECTING;
        /* CATTR bit 2: the host asks for SQ flow control off (no SQHD). */
        qp->sq_flow_disabled = (cmd->cattr & 0x4) != 0;
        if (tern_reactor_send_msg(tern_env_main_lcore(), connect_on_main, x, NULL) == 0)
            return;
        qp->state = TERN_NVMF_QPAIR_UNCONNECTED;
        connect_fail(x, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                         TERN_NVME_SC_INTERNAL_DEVICE_ERROR), 0,
                     "the main lcore cannot be reached");
    }
    nvmf_request_complete_cdw0(req, x->status, x->cdw0);
    free(x);
}

static void
disconnect(struct tern_nvmf_request *req)
{
    struct tern_nvmf_qpair *qp = req->qpair;

    if (qp->qid == 0) {
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                    TERN_NVMF_SC_INVALID_QUEUE_TYPE) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
    /* An orderly goodbye: the controller frees the queue ID now; closing
     * the connection afterwards is not an error. */
    nvmf_qpair_release_ioq(qp, false);
    nvmf_request_complete(req, 0);
}

void
nvmf_fabrics_exec(struct tern_nvmf_request *req)
{
    const struct tern_nvmf_cmd *f = (const struct tern_nvmf_cmd *)req->cmd;
    struct tern_nvmf_qpair *qp = req->qpair;

    if (f->fctype == TERN_NVMF_FCTYPE_CONNECT) {
        connect(req);
        return;
    }
    /* The queue is active: tern_nvmf_request_exec() lets only a Connect
     * through before. */
    switch (f->fctype) {
    case TERN_NVMF_FCTYPE_PROPERTY_GET:
    case TERN_NVMF_FCTYPE_PROPERTY_SET:
        if (qp->qid != 0) {
            nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_COMMAND_SPECIFIC,
                                                        TERN_NVMF_SC_INVALID_QUEUE_TYPE) |
                                       TERN_NVME_STATUS_DNR);
            return;
        }
        nvmf_ctrlr_property(req);
        return;
    case TERN_NVMF_FCTYPE_DISCONNECT:
        disconnect(req);
        return;
    default:
        nvmf_request_complete(req, TERN_NVME_STATUS(TERN_NVME_SCT_GENERIC,
                                                    TERN_NVME_SC_INVALID_OPCODE) |
                                   TERN_NVME_STATUS_DNR);
        return;
    }
}
