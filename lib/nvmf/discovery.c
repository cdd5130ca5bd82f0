/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The discovery log page (Base 5.16.1.23): one entry per (subsystem the
 * host may connect to, listener of that subsystem), and one per listener
 * for this discovery subsystem itself, behind a header with the
 * generation counter. Built on the main lcore, where the configuration
 * lives, and copied out on the discovery controller's lcore.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"

static void
fill_entry(struct tern_nvmf_disc_entry *e, const struct tern_nvmf_trid *trid, uint8_t subtype,
           const char *subnqn)
{
    struct tern_nvmf_transport *t = tern_nvmf_transport_get(trid->trtype);

    memset(e, 0, sizeof(*e));
    e->trtype = trid->trtype;
    e->adrfam = trid->adrfam;
    e->subtype = subtype;
    e->treq = TERN_NVMF_TREQ_SECURE_NOT_REQUIRED;
    e->portid = nvmf_listener_portid(trid);
    e->cntlid = TERN_NVMF_CNTLID_DYNAMIC;
    e->asqsz = t ? t->opts.max_aq_depth : TERN_NVMF_DEFAULT_MAX_AQ_DEPTH;
    tern_nvme_set_ascii(e->trsvcid, sizeof(e->trsvcid), trid->trsvcid);
    tern_nvme_set_ascii(e->traddr, sizeof(e->traddr), trid->traddr);
    snprintf(e->subnqn, sizeof(e->subnqn), "%s", subnqn);
    if (trid->trtype == TERN_NVMF_TRTYPE_RDMA) {
        e->tsas.rdma.qptype = TERN_NVMF_RDMA_QPTYPE_RC;
        e->tsas.rdma.prtype = TERN_NVMF_RDMA_PRTYPE_NONE;
        e->tsas.rdma.cms = TERN_NVMF_RDMA_CMS_RDMA_CM;
    } else if (trid->trtype == TERN_NVMF_TRTYPE_TCP) {
        e->tsas.tcp.sectype = TERN_NVME_TCP_SECTYPE_NONE;
    }
}

void *
nvmf_discovery_log_build(const char *hostnqn, const struct tern_nvmf_trid *local, uint32_t *len)
{
    struct tern_nvmf_disc_log_header *h;
    struct tern_nvmf_subsystem *s;
    const struct tern_nvmf_trid *trid;
    uint64_t n = 0;
    uint32_t i;
    uint8_t *buf;

    (void)local;        /* every listener is reported, as to any host */
    for (s = tern_nvmf_subsystem_first(); s != NULL; s = tern_nvmf_subsystem_next(s)) {
        if (tern_nvmf_subsystem_type(s) != TERN_NVMF_SUBTYPE_NVME ||
            !tern_nvmf_subsystem_host_allowed(s, hostnqn))
            continue;
        for (i = 0; nvmf_subsystem_listener(s, i) != NULL; i++)
            n++;
    }
    for (i = 0; nvmf_listener_at(i) != NULL; i++)
        n++;
    buf = calloc(1, sizeof(*h) + n * sizeof(struct tern_nvmf_disc_entry));
    if (buf == NULL)
        return NULL;
    h = (struct tern_nvmf_disc_log_header *)buf;
    h->genctr = tern_nvmf_discovery_genctr();
    h->numrec = n;
    h->recfmt = 0;
    n = 0;
    for (s = tern_nvmf_subsystem_first(); s != NULL; s = tern_nvmf_subsystem_next(s)) {
        if (tern_nvmf_subsystem_type(s) != TERN_NVMF_SUBTYPE_NVME ||
            !tern_nvmf_subsystem_host_allowed(s, hostnqn))
            continue;
        for (i = 0; (trid = nvmf_subsystem_listener(s, i)) != NULL; i++) {
            struct tern_nvmf_disc_entry *e =
                (struct tern_nvmf_disc_entry *)(buf + sizeof(*h)) + n++;

            fill_entry(e, trid, TERN_NVMF_SUBTYPE_NVME, tern_nvmf_subsystem_nqn(s));
        }
    }
    for (i = 0; (trid = nvmf_listener_at(i)) != NULL; i++) {
        struct tern_nvmf_disc_entry *e = (struct tern_nvmf_disc_entry *)(buf + sizeof(*h)) + n++;

        fill_entry(e, trid, TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT, TERN_NVMF_DISCOVERY_NQN);
    }
    *len = (uint32_t)(sizeof(*h) + n * sizeof(struct tern_nvmf_disc_entry));
    return buf;
}
