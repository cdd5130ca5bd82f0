/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nvme bdev: one bdev per namespace of a local PCIe NVMe controller
 * driven by drivers/nvme/pcie. A bdev's channel on an lcore is that lcore's
 * own I/O queue pair of the controller (shared by the controller's
 * namespaces on that lcore, never by two lcores). RPC names and shapes
 * follow SPDK: bdev_nvme_attach_controller {name, trtype "PCIe", traddr}
 * makes bdevs <name>n<nsid>; bdev_nvme_detach_controller {name}.
 *
 * A controller that fails (removed, fatal status, command timeout) has
 * every outstanding command aborted, its bdevs unregistered (their holders,
 * e.g. NVMe-oF namespaces, go away) and its name freed once the last holder
 * let go.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "tern_bdev_module.h"
#include "tern_nvme_pcie.h"

TERN_LOG_REGISTER(g_log, "tern.drv.bdev.nvme", INFO);

#define NAME_MAX_LEN 64

struct nvme_bdev;

struct nvme_bctrlr {
    TAILQ_ENTRY(nvme_bctrlr) link;
    char name[NAME_MAX_LEN];
    char bdf[TERN_NVME_PCIE_BDF_LEN];
    struct tern_nvme_pcie_ctrlr *c;
    uint32_t live;                  /* registered bdevs not yet destructed */
    bool failed;
    bool detaching;
    struct tern_rpc_request *detach_req;
    /* Stats walks over the lcores that hold this controller's queue pairs:
     * its release waits for them. */
    uint32_t pins;
    bool release_pending;
    uint32_t nb;
    struct nvme_bdev **bdevs;
};

struct nvme_bdev {
    struct nvme_bctrlr *nc;
    struct tern_bdev *bdev;         /* NULL once destructed */
    uint32_t nsid;
    bool wc;
    bool dsm;
    bool wz;
};

struct nvme_io {
    TAILQ_ENTRY(nvme_io) link;      /* on the channel's waiting list */
    struct tern_bdev_io *io;
    struct tern_nvme_dsm_range range;   /* DMA-able: the I/O object is in a mempool */
};
_Static_assert(sizeof(struct nvme_io) <= TERN_BDEV_IO_DRIVER_CTX, "driver ctx too small");

struct nvme_chan {
    struct nvme_bdev *nb;
    struct tern_nvme_pcie_qpair *qp;
    TAILQ_HEAD(, nvme_io) waiting;  /* no command slot free: retried on every poll */
    uint64_t unmappable;            /* I/O refused: buffers the controller cannot take */
};

static TAILQ_HEAD(, nvme_bctrlr) g_ctrlrs = TAILQ_HEAD_INITIALIZER(g_ctrlrs);

static struct nvme_bctrlr *
find_ctrlr(const char *name)
{
    struct nvme_bctrlr *nc;

    TAILQ_FOREACH(nc, &g_ctrlrs, link) {
        if (strcmp(nc->name, name) == 0)
            return nc;
    }
    return NULL;
}

/* ------------------------------------------------------------ I/O */

static void *
nvme_chan_create(struct tern_bdev *bdev)
{
    struct nvme_bdev *nb = tern_bdev_ctx(bdev);
    struct tern_nvme_pcie_qpair *qp = tern_nvme_pcie_lcore_qpair(nb->nc->c, tern_env_lcore_id());
    struct nvme_chan *ch;

    if (qp == NULL) {
        TERN_LOG(g_log, ERR, "bdev %s: lcore %u has no queue pair", tern_bdev_name(bdev),
                 tern_env_lcore_id());
        return NULL;
    }
    ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return NULL;
    ch->nb = nb;
    ch->qp = qp;
    TAILQ_INIT(&ch->waiting);
    return ch;
}

static void
nvme_chan_destroy(struct tern_bdev *bdev, void *c)
{
    struct nvme_chan *ch = c;
    struct nvme_io *ni;

    /* The bdev layer only releases an idle channel; be safe anyway. */
    while ((ni = TAILQ_FIRST(&ch->waiting)) != NULL) {
        TERN_LOG(g_log, ERR, "bdev %s: I/O still waiting at channel release: aborted",
                 tern_bdev_name(bdev));
        TAILQ_REMOVE(&ch->waiting, ni, link);
        tern_bdev_io_complete(ni->io, TERN_BDEV_IO_ABORTED);
    }
    free(ch);
}

static void
io_done(void *arg, uint16_t status, uint32_t cdw0)
{
    struct nvme_io *ni = arg;
    struct tern_bdev_io *io = ni->io;

    (void)cdw0;
    if (status == 0) {
        tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
        return;
    }
    if (status == TERN_NVME_PCIE_ABORT_STATUS) {
        tern_bdev_io_complete(io, TERN_BDEV_IO_ABORTED);
        return;
    }
    TERN_LOG(g_log, ERR, "bdev %s: %s of %lu blocks at %lu failed: status SCT %u SC 0x%02x%s",
             tern_bdev_name(tern_bdev_io_bdev(io)), tern_bdev_io_type_name(tern_bdev_io_type(io)),
             (unsigned long)tern_bdev_io_num_blocks(io),
             (unsigned long)tern_bdev_io_offset_blocks(io), TERN_NVME_STATUS_SCT(status),
             TERN_NVME_STATUS_SC(status), TERN_NVME_STATUS_IS_DNR(status) ? " (DNR)" : "");
    tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
}

/* 0: submitted or completed; -EAGAIN: no command slot, try again later. */
static int
try_submit(struct nvme_chan *ch, struct nvme_io *ni)
{
    struct tern_bdev_io *io = ni->io;
    struct nvme_bdev *nb = ch->nb;
    struct tern_nvme_cmd cmd;
    struct iovec one, *iov = NULL;
    uint64_t lba = tern_bdev_io_offset_blocks(io);
    uint64_t nlb = tern_bdev_io_num_blocks(io);
    int iovcnt = 0;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    cmd.nsid = nb->nsid;
    cmd.cdw10 = (uint32_t)lba;
    cmd.cdw11 = (uint32_t)(lba >> 32);
    cmd.cdw12 = (uint32_t)(nlb - 1);
    switch (tern_bdev_io_type(io)) {
    case TERN_BDEV_IO_READ:
    case TERN_BDEV_IO_WRITE:
        cmd.opc = tern_bdev_io_type(io) == TERN_BDEV_IO_READ ? TERN_NVME_OPC_READ
                                                           : TERN_NVME_OPC_WRITE;
        iov = tern_bdev_io_iovs(io, &iovcnt);
        break;
    case TERN_BDEV_IO_FLUSH:
        if (!nb->wc) {
            /* Nothing volatile to write back. */
            tern_bdev_io_complete(io, TERN_BDEV_IO_SUCCESS);
            return 0;
        }
        cmd.opc = TERN_NVME_OPC_FLUSH;
        cmd.cdw10 = cmd.cdw11 = cmd.cdw12 = 0;
        break;
    case TERN_BDEV_IO_WRITE_ZEROES:
        if (nlb > 0x10000) {
            tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);     /* NLB is 16 bits */
            return 0;
        }
        cmd.opc = TERN_NVME_OPC_WRITE_ZEROES;
        break;
    case TERN_BDEV_IO_UNMAP:
        if (nlb > UINT32_MAX) {
            tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
            return 0;
        }
        cmd.opc = TERN_NVME_OPC_DATASET_MANAGEMENT;
        memset(&ni->range, 0, sizeof(ni->range));
        ni->range.length = (uint32_t)nlb;
        ni->range.slba = lba;
        cmd.cdw10 = 0;              /* one range */
        cmd.cdw11 = TERN_NVME_DSM_ATTR_DEALLOCATE;
        cmd.cdw12 = 0;
        one.iov_base = &ni->range;
        one.iov_len = sizeof(ni->range);
        iov = &one;
        iovcnt = 1;
        break;
    default:
        tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
        return 0;
    }
    rc = tern_nvme_pcie_qpair_submit(ch->qp, &cmd, iov, iovcnt, io_done, ni);
    switch (rc) {
    case 0:
    case -EAGAIN:
        return rc;
    case -ENXIO:
        tern_bdev_io_complete(io, TERN_BDEV_IO_ABORTED);
        return 0;
    default:
        if (ch->unmappable++ == 0)
            TERN_LOG(g_log, ERR, "bdev %s: %s at %lu: its buffers cannot be given to the "
                     "controller (%s); failed (logged once per channel)",
                     tern_bdev_name(tern_bdev_io_bdev(io)),
                     tern_bdev_io_type_name(tern_bdev_io_type(io)), (unsigned long)lba,
                     rc == -EFAULT ? "not DMA memory" : "layout needs SGLs the controller lacks");
        tern_bdev_io_complete(io, TERN_BDEV_IO_FAILED);
        return 0;
    }
}

static void
nvme_submit(void *c, struct tern_bdev_io *io)
{
    struct nvme_chan *ch = c;
    struct nvme_io *ni = tern_bdev_io_driver_ctx(io);

    ni->io = io;
    /* Behind earlier waiters, so order holds. */
    if (!TAILQ_EMPTY(&ch->waiting) || try_submit(ch, ni) == -EAGAIN)
        TAILQ_INSERT_TAIL(&ch->waiting, ni, link);
}

static int
nvme_poll(void *c)
{
    struct nvme_chan *ch = c;
    struct nvme_io *ni;
    int n = tern_nvme_pcie_qpair_poll(ch->qp, 0);

    /* Waiters go on every poll (SEEDS incident 2), oldest first. */
    while ((ni = TAILQ_FIRST(&ch->waiting)) != NULL) {
        TAILQ_REMOVE(&ch->waiting, ni, link);
        if (try_submit(ch, ni) == -EAGAIN) {
            TAILQ_INSERT_HEAD(&ch->waiting, ni, link);
            break;
        }
        n++;
    }
    return n;
}

static bool
nvme_supported(struct tern_bdev *bdev, enum tern_bdev_io_type type)
{
    struct nvme_bdev *nb = tern_bdev_ctx(bdev);

    switch (type) {
    case TERN_BDEV_IO_READ:
    case TERN_BDEV_IO_WRITE:
    case TERN_BDEV_IO_FLUSH:
        return true;
    case TERN_BDEV_IO_WRITE_ZEROES:
        return nb->wz;
    case TERN_BDEV_IO_UNMAP:
        return nb->dsm;
    default:
        return false;
    }
}

/* ------------------------------------------------------------ lifecycle */

static void
bctrlr_release(struct nvme_bctrlr *nc)
{
    struct tern_rpc_request *req = nc->detach_req;

    if (nc->pins > 0) {
        nc->release_pending = true;     /* the last stats walk releases it */
        return;
    }
    TAILQ_REMOVE(&g_ctrlrs, nc, link);
    tern_nvme_pcie_detach(nc->c);
    TERN_LOG(g_log, INFO, "controller %s (%s) %s", nc->name, nc->bdf,
             nc->failed ? "released after its failure" : "detached");
    free(nc->bdevs);
    free(nc);
    if (req)
        tern_rpc_reply(req, json_true());
}

static void
nvme_destruct(struct tern_bdev *bdev)
{
    struct nvme_bdev *nb = tern_bdev_ctx(bdev);
    struct nvme_bctrlr *nc = nb->nc;
    uint32_t i;

    for (i = 0; i < nc->nb; i++) {
        if (nc->bdevs[i] == nb)
            nc->bdevs[i] = NULL;
    }
    free(nb);
    /* The last namespace gone: the controller goes with it, whether a
     * detach, a failure or the target's stop removed the bdevs. */
    if (--nc->live == 0)
        bctrlr_release(nc);
}

static void
nvme_dump(struct tern_bdev *bdev, json_t *o)
{
    struct nvme_bdev *nb = tern_bdev_ctx(bdev);

    json_object_set_new(o, "nvme", json_pack("{s:s, s:s, s:i, s:s}", "ctrlr", nb->nc->name,
                                             "traddr", nb->nc->bdf, "nsid", (json_int_t)nb->nsid,
                                             "trtype", "PCIe"));
}

static const struct tern_bdev_ops g_nvme_ops = {
    .channel_create = nvme_chan_create,
    .channel_destroy = nvme_chan_destroy,
    .submit = nvme_submit,
    .poll = nvme_poll,
    .io_type_supported = nvme_supported,
    .destruct = nvme_destruct,
    .dump_json = nvme_dump,
};

static void
unregister_all(struct nvme_bctrlr *nc)
{
    uint32_t i;

    /* destruct may run inside tern_bdev_unregister and free nc with the
     * last one: count first, touch nc only while bdevs remain. */
    for (i = 0; i < nc->nb; i++) {
        struct nvme_bdev *nb = nc->bdevs[i];
        bool last = nc->live == 1;

        if (nb == NULL || nb->bdev == NULL)
            continue;
        tern_bdev_unregister(nb->bdev, NULL, NULL);
        if (last)
            return;
    }
}

static void
ctrlr_failed(struct tern_nvme_pcie_ctrlr *c, void *ctx)
{
    struct nvme_bctrlr *nc = ctx;

    (void)c;
    nc->failed = true;
    TERN_LOG(g_log, ERR, "controller %s (%s) failed: removing its %u bdev(s)", nc->name,
             nc->bdf, nc->live);
    if (nc->live == 0)
        bctrlr_release(nc);
    else
        unregister_all(nc);
}

static bool
nonzero(const uint8_t *p, size_t n)
{
    while (n-- > 0) {
        if (*p++)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ RPC */

struct attach_args {
    const char *name;
    const char *trtype;
    const char *traddr;
    uint32_t io_queue_size;
    uint32_t io_timeout_ms;
};

static void
bdev_nvme_attach_controller(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct attach_args, name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct attach_args, trtype, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct attach_args, traddr, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct attach_args, io_queue_size, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct attach_args, io_timeout_ms, TERN_RPC_UINT32, false),
    };
    struct attach_args a = { .io_queue_size = TERN_NVME_PCIE_DEFAULT_IO_QUEUE_SIZE,
                             .io_timeout_ms = TERN_NVME_PCIE_DEFAULT_IO_TIMEOUT_MS };
    const struct tern_nvme_ctrlr_data *cd;
    struct tern_nvme_pcie_opts o;
    struct nvme_bctrlr *nc, *it;
    json_t *names;
    uint32_t i;

    if (!tern_rpc_decode_or_reply(req, params, spec, 5, &a))
        return;
    if (strcasecmp(a.trtype, "PCIe") != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "trtype %s: tern's nvme bdev drives "
                             "local PCIe controllers only (trtype PCIe)", a.trtype);
        return;
    }
    if (strlen(a.name) == 0 || strlen(a.name) >= NAME_MAX_LEN - 12) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "name must be 1 to %d characters",
                             NAME_MAX_LEN - 13);
        return;
    }
    if (a.io_queue_size < TERN_NVME_PCIE_MIN_IO_QUEUE_SIZE ||
        a.io_queue_size > TERN_NVME_PCIE_MAX_IO_QUEUE_SIZE) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "io_queue_size %u: must be %u to %u",
                             a.io_queue_size, TERN_NVME_PCIE_MIN_IO_QUEUE_SIZE,
                             TERN_NVME_PCIE_MAX_IO_QUEUE_SIZE);
        return;
    }
    if (find_ctrlr(a.name) != NULL) {
        tern_rpc_reply_error(req, -EEXIST, "controller %s already exists", a.name);
        return;
    }
    nc = calloc(1, sizeof(*nc));
    if (nc == NULL) {
        tern_rpc_reply_error(req, -ENOMEM, "out of memory");
        return;
    }
    snprintf(nc->name, sizeof(nc->name), "%s", a.name);
    /* Canonical address, so "00:04.0" and "0000:00:04.0" are one device. */
    if (tern_nvme_pcie_parse_bdf(a.traddr, nc->bdf) != 0) {
        free(nc);
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "traddr %s is not a PCI address "
                             "(DDDD:BB:DD.F)", a.traddr);
        return;
    }
    TAILQ_FOREACH(it, &g_ctrlrs, link) {
        if (strcmp(it->bdf, nc->bdf) == 0) {
            tern_rpc_reply_error(req, -EEXIST, "%s is already attached as %s", nc->bdf, it->name);
            free(nc);
            return;
        }
    }
    tern_nvme_pcie_default_opts(&o);
    o.io_queue_size = a.io_queue_size;
    o.io_timeout_ms = a.io_timeout_ms;
    nc->c = tern_nvme_pcie_attach(nc->bdf, &o);
    if (nc->c == NULL) {
        int rc = errno;

        tern_rpc_reply_error(req, -rc, "cannot attach %s: %s (the log says why)", nc->bdf,
                             strerror(rc));
        free(nc);
        return;
    }
    cd = tern_nvme_pcie_cdata(nc->c);
    nc->nb = tern_nvme_pcie_ns_count(nc->c);
    nc->bdevs = calloc(nc->nb ? nc->nb : 1, sizeof(*nc->bdevs));
    names = json_array();
    if (nc->bdevs == NULL || names == NULL) {
        tern_nvme_pcie_detach(nc->c);
        free(nc->bdevs);
        free(nc);
        json_decref(names);
        tern_rpc_reply_error(req, -ENOMEM, "out of memory");
        return;
    }
    TAILQ_INSERT_TAIL(&g_ctrlrs, nc, link);
    nc->live = 1;   /* held while registering, so a failing register cannot free nc */
    for (i = 0; i < nc->nb; i++) {
        const struct tern_nvme_pcie_ns *ns = tern_nvme_pcie_ns(nc->c, i);
        struct tern_bdev_params p = { 0 };
        struct nvme_bdev *nb = calloc(1, sizeof(*nb));
        char bname[NAME_MAX_LEN + 16];
        uint8_t uuid[16];

        if (nb == NULL)
            continue;
        snprintf(bname, sizeof(bname), "%sn%u", nc->name, ns->nsid);
        nb->nc = nc;
        nb->nsid = ns->nsid;
        nb->wc = (cd->vwc & TERN_NVME_CTRLR_VWC_PRESENT) != 0;
        nb->dsm = (cd->oncs & TERN_NVME_CTRLR_ONCS_DSM) != 0;
        nb->wz = (cd->oncs & TERN_NVME_CTRLR_ONCS_WRITE_ZEROES) != 0;
        p.name = bname;
        p.module = "nvme";
        p.block_size = ns->block_size;
        p.num_blocks = ns->num_blocks;
        /* The namespace's own identity, so hosts see the same one through
         * every target: NGUID, else EUI-64 (twice), else a random one. */
        if (nonzero(ns->nguid, 16)) {
            memcpy(uuid, ns->nguid, 16);
            p.uuid = uuid;
        } else if (nonzero(ns->eui64, 8)) {
            memcpy(uuid, ns->eui64, 8);
            memcpy(uuid + 8, ns->eui64, 8);
            p.uuid = uuid;
        }
        p.write_cache = nb->wc;
        p.max_transfer_blocks = tern_nvme_pcie_max_xfer(nc->c) / ns->block_size;
        p.ops = &g_nvme_ops;
        p.ctx = nb;
        if (tern_bdev_register(&p, &nb->bdev) != 0) {
            TERN_LOG(g_log, ERR, "controller %s: namespace %u: bdev %s not registered (name "
                     "taken?)", nc->name, ns->nsid, bname);
            free(nb);
            continue;
        }
        nc->bdevs[i] = nb;
        nc->live++;
        json_array_append_new(names, json_string(bname));
    }
    nc->live--;
    tern_nvme_pcie_set_fail_cb(nc->c, ctrlr_failed, nc);
    TERN_LOG(g_log, INFO, "controller %s: %s attached, %zu bdev(s)", nc->name, nc->bdf,
             json_array_size(names));
    if (nc->live == 0) {
        /* No namespace to serve; keep the controller attached (SPDK does). */
        TERN_LOG(g_log, WARNING, "controller %s (%s) has no usable namespace", nc->name,
                 nc->bdf);
    }
    tern_rpc_reply(req, names);
}
TERN_RPC_REGISTER("bdev_nvme_attach_controller", bdev_nvme_attach_controller, TERN_RPC_RUNTIME)

struct detach_args {
    const char *name;
    const char *trtype;
    const char *traddr;
};

static void
bdev_nvme_detach_controller(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct detach_args, name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct detach_args, trtype, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct detach_args, traddr, TERN_RPC_STRING, false),
    };
    struct detach_args a = { 0 };
    struct nvme_bctrlr *nc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 3, &a))
        return;
    nc = find_ctrlr(a.name);
    if (nc == NULL) {
        tern_rpc_reply_error(req, -ENODEV, "controller %s does not exist", a.name);
        return;
    }
    if (nc->detaching || nc->failed) {
        tern_rpc_reply_error(req, -EBUSY, "controller %s is already being %s", a.name,
                             nc->failed ? "removed after its failure" : "detached");
        return;
    }
    nc->detaching = true;
    nc->detach_req = req;
    if (nc->live == 0)
        bctrlr_release(nc);     /* replies */
    else
        unregister_all(nc);     /* the last destruct releases and replies */
}
TERN_RPC_REGISTER("bdev_nvme_detach_controller", bdev_nvme_detach_controller, TERN_RPC_RUNTIME)

struct get_args {
    const char *name;
};

/* bdev_nvme_get_controllers: the controllers (main lcore), then each
 * lcore adds its own queue pair's counters (only the owner reads them). */
struct get_walk {
    struct tern_rpc_request *req;
    json_t *list;
    uint32_t n;
    struct {
        struct nvme_bctrlr *nc;     /* pinned: not released during the walk */
        json_t *qpairs;
    } e[];
};

static void
get_lcore(void *ctx)
{
    struct get_walk *g = ctx;
    uint32_t lcore = tern_env_lcore_id(), i;

    for (i = 0; i < g->n; i++) {
        struct tern_nvme_pcie_qpair *qp = tern_nvme_pcie_lcore_qpair(g->e[i].nc->c, lcore);
        struct tern_nvme_pcie_qpair_stats st;

        if (qp == NULL)
            continue;
        tern_nvme_pcie_qpair_stats(qp, &st);
        json_array_append_new(g->e[i].qpairs, json_pack(
            "{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}", "lcore", (json_int_t)lcore,
            "submitted", (json_int_t)st.submitted, "completed", (json_int_t)st.completed,
            "errors", (json_int_t)st.errors, "aborted", (json_int_t)st.aborted,
            "no_slot", (json_int_t)st.no_slot, "sgl_cmds", (json_int_t)st.sgl_cmds,
            "outstanding", (json_int_t)st.outstanding,
            "max_outstanding", (json_int_t)st.max_outstanding));
    }
}

static void
get_done(void *ctx, int status)
{
    struct get_walk *g = ctx;
    uint32_t i;

    for (i = 0; i < g->n; i++) {
        struct nvme_bctrlr *nc = g->e[i].nc;

        if (--nc->pins == 0 && nc->release_pending)
            bctrlr_release(nc);
    }
    if (status != 0) {
        json_decref(g->list);
        tern_rpc_reply_error(g->req, TERN_RPC_INTERNAL_ERROR, "cannot reach the reactors: %s",
                             strerror(-status));
    } else {
        tern_rpc_reply(g->req, g->list);
    }
    free(g);
}

static void
bdev_nvme_get_controllers(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct get_args, name, TERN_RPC_STRING, false),
    };
    struct get_args a = { 0 };
    struct nvme_bctrlr *nc;
    struct get_walk *g;
    uint32_t n = 0;
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a))
        return;
    if (a.name && find_ctrlr(a.name) == NULL) {
        tern_rpc_reply_error(req, -ENODEV, "controller %s does not exist", a.name);
        return;
    }
    TAILQ_FOREACH(nc, &g_ctrlrs, link)
        n++;
    g = calloc(1, sizeof(*g) + n * sizeof(g->e[0]));
    if (g == NULL || (g->list = json_array()) == NULL) {
        free(g);
        tern_rpc_reply_error(req, -ENOMEM, "out of memory");
        return;
    }
    g->req = req;
    TAILQ_FOREACH(nc, &g_ctrlrs, link) {
        const struct tern_nvme_ctrlr_data *cd = tern_nvme_pcie_cdata(nc->c);
        json_t *nss = json_array();
        char mn[41], sn[21];
        uint32_t i;

        if (a.name && strcmp(a.name, nc->name) != 0)
            continue;
        for (i = 0; i < nc->nb; i++) {
            if (nc->bdevs[i] && nc->bdevs[i]->bdev)
                json_array_append_new(nss, json_pack("{s:i, s:s}", "nsid",
                                                     (json_int_t)nc->bdevs[i]->nsid, "bdev",
                                                     tern_bdev_name(nc->bdevs[i]->bdev)));
        }
        snprintf(mn, sizeof(mn), "%.40s", cd->mn);
        snprintf(sn, sizeof(sn), "%.20s", cd->sn);
        g->e[g->n].nc = nc;
        g->e[g->n].qpairs = json_array();
        json_array_append_new(g->list, json_pack(
            "{s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:i, s:i, s:b, s:o, s:O}",
            "name", nc->name, "trid", "trtype", "PCIe", "traddr", nc->bdf,
            "state", nc->failed ? "failed" : nc->detaching ? "detaching" : "enabled",
            "model_number", mn, "serial_number", sn,
            "io_queue_size", (json_int_t)tern_nvme_pcie_io_queue_size(nc->c),
            "max_transfer_bytes", (json_int_t)tern_nvme_pcie_max_xfer(nc->c),
            "sgl", tern_nvme_pcie_sgl_supported(nc->c), "namespaces", nss,
            "io_qpairs", g->e[g->n].qpairs));
        json_decref(g->e[g->n].qpairs);     /* the entry holds it; e[] borrows */
        nc->pins++;
        g->n++;
    }
    rc = tern_reactor_for_each(get_lcore, g, get_done);
    if (rc != 0)
        get_done(g, rc);
}
TERN_RPC_REGISTER("bdev_nvme_get_controllers", bdev_nvme_get_controllers, TERN_RPC_RUNTIME)
