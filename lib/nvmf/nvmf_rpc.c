/* SPDX-License-Identifier: BSD-3-Clause */
/* Subsystem, namespace and host RPCs, with SPDK's method and parameter names. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvmf_internal.h"
#include "tern_bdev_module.h"
#include "tern_nvmf.h"
#include "tern_rpc.h"

/* An RPC error code for -errno results: SPDK answers with -errno too. */
/* -EPERM would read as SPDK's "invalid state" (-1): it is bad params here. */
#define ERRNO_CODE(rc) ((rc) == -EINVAL || (rc) == -EPERM ? TERN_RPC_INVALID_PARAMS : (rc))

static struct tern_nvmf_subsystem *
find_or_reply(struct tern_rpc_request *req, const char *nqn)
{
    struct tern_nvmf_subsystem *s = tern_nvmf_subsystem_find(nqn);

    if (s == NULL)
        tern_rpc_reply_error(req, -ENODEV, "subsystem %s does not exist", nqn);
    return s;
}

/* Hex digits with optional '-' separators into exactly `len` bytes. */
static int
parse_hex_id(const char *text, uint8_t *out, size_t len)
{
    size_t n = 0;
    int hi = -1;

    for (; *text; text++) {
        int v;

        if (*text == '-')
            continue;
        if (!isxdigit((unsigned char)*text))
            return -EINVAL;
        v = isdigit((unsigned char)*text) ? *text - '0' : (tolower((unsigned char)*text) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            if (n == len)
                return -EINVAL;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n == len && hi < 0 ? 0 : -EINVAL;
}

struct create_args {
    const char *nqn;
    const char *serial_number;
    const char *model_number;
    bool allow_any_host;
    uint32_t max_namespaces;
    uint16_t min_cntlid;
    uint16_t max_cntlid;
};

static void
nvmf_create_subsystem(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct create_args, nqn, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct create_args, serial_number, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct create_args, model_number, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct create_args, allow_any_host, TERN_RPC_BOOL, false),
        TERN_RPC_PARAM(struct create_args, max_namespaces, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct create_args, min_cntlid, TERN_RPC_UINT16, false),
        TERN_RPC_PARAM(struct create_args, max_cntlid, TERN_RPC_UINT16, false),
    };
    struct create_args a = { 0 };
    struct tern_nvmf_subsystem_opts o;
    char why[300];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, sizeof(spec) / sizeof(spec[0]), &a))
        return;
    if (strcmp(a.nqn, TERN_NVMF_DISCOVERY_NQN) == 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "the discovery subsystem always exists");
        return;
    }
    o = (struct tern_nvmf_subsystem_opts){
        .serial_number = a.serial_number, .model_number = a.model_number,
        .max_namespaces = a.max_namespaces, .allow_any_host = a.allow_any_host,
        .min_cntlid = a.min_cntlid, .max_cntlid = a.max_cntlid,
    };
    rc = tern_nvmf_subsystem_create(a.nqn, &o, NULL, why, sizeof(why));
    if (rc != 0) {
        tern_rpc_reply_error(req, ERRNO_CODE(rc), "%s", why);
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_create_subsystem", nvmf_create_subsystem, TERN_RPC_RUNTIME)

struct nqn_args {
    const char *nqn;
};

static void
nvmf_delete_subsystem(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct nqn_args, nqn, TERN_RPC_STRING, true),
    };
    struct nqn_args a = { 0 };
    struct tern_nvmf_subsystem *s;

    if (!tern_rpc_decode_or_reply(req, params, spec, 1, &a) || (s = find_or_reply(req, a.nqn)) == NULL)
        return;
    if (tern_nvmf_subsystem_delete(s) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "the discovery subsystem cannot be deleted");
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_delete_subsystem", nvmf_delete_subsystem, TERN_RPC_RUNTIME)

struct ns_params {
    const char *bdev_name;
    uint32_t nsid;
    const char *nguid;
    const char *eui64;
    const char *uuid;
};

struct add_ns_args {
    const char *nqn;
    const json_t *namespace;
};

static void
nvmf_subsystem_add_ns(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct add_ns_args, nqn, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct add_ns_args, namespace, TERN_RPC_JSON, true),
    };
    static const struct tern_rpc_param ns_spec[] = {
        TERN_RPC_PARAM(struct ns_params, bdev_name, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct ns_params, nsid, TERN_RPC_UINT32, false),
        TERN_RPC_PARAM(struct ns_params, nguid, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct ns_params, eui64, TERN_RPC_STRING, false),
        TERN_RPC_PARAM(struct ns_params, uuid, TERN_RPC_STRING, false),
    };
    struct add_ns_args a = { 0 };
    struct ns_params n = { 0 };
    struct tern_nvmf_ns_opts o = { 0 };
    struct tern_nvmf_subsystem *s;
    uint8_t nguid[16], eui64[8], uuid[16];
    char why[300];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, spec, 2, &a))
        return;
    if (!json_is_object(a.namespace)) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "namespace must be an object");
        return;
    }
    if (tern_rpc_decode(a.namespace, ns_spec, sizeof(ns_spec) / sizeof(ns_spec[0]), &n, why,
                        sizeof(why)) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "namespace: %s", why);
        return;
    }
    if ((s = find_or_reply(req, a.nqn)) == NULL)
        return;
    if (n.nguid && parse_hex_id(n.nguid, nguid, 16) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "nguid must be 32 hex digits");
        return;
    }
    if (n.eui64 && parse_hex_id(n.eui64, eui64, 8) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "eui64 must be 16 hex digits");
        return;
    }
    if (n.uuid && tern_bdev_uuid_parse(n.uuid, uuid) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "uuid %s is not a UUID", n.uuid);
        return;
    }
    o.nsid = n.nsid;
    o.nguid = n.nguid ? nguid : NULL;
    o.eui64 = n.eui64 ? eui64 : NULL;
    o.uuid = n.uuid ? uuid : NULL;
    rc = tern_nvmf_subsystem_add_ns(s, n.bdev_name, &o, why, sizeof(why));
    if (rc < 0) {
        tern_rpc_reply_error(req, ERRNO_CODE(rc), "%s", why);
        return;
    }
    tern_rpc_reply(req, json_integer(rc));
}
TERN_RPC_REGISTER("nvmf_subsystem_add_ns", nvmf_subsystem_add_ns, TERN_RPC_RUNTIME)

struct remove_ns_args {
    const char *nqn;
    uint32_t nsid;
};

static void
nvmf_subsystem_remove_ns(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct remove_ns_args, nqn, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct remove_ns_args, nsid, TERN_RPC_UINT32, true),
    };
    struct remove_ns_args a = { 0 };
    struct tern_nvmf_subsystem *s;

    if (!tern_rpc_decode_or_reply(req, params, spec, 2, &a) || (s = find_or_reply(req, a.nqn)) == NULL)
        return;
    if (tern_nvmf_subsystem_remove_ns(s, a.nsid) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "subsystem %s has no namespace %u",
                             a.nqn, a.nsid);
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_remove_ns", nvmf_subsystem_remove_ns, TERN_RPC_RUNTIME)

struct host_args {
    const char *nqn;
    const char *host;
};

static const struct tern_rpc_param g_host_spec[] = {
    TERN_RPC_PARAM(struct host_args, nqn, TERN_RPC_STRING, true),
    TERN_RPC_PARAM(struct host_args, host, TERN_RPC_STRING, true),
};

static void
nvmf_subsystem_add_host(struct tern_rpc_request *req, const json_t *params)
{
    struct host_args a = { 0 };
    struct tern_nvmf_subsystem *s;
    char why[300];
    int rc;

    if (!tern_rpc_decode_or_reply(req, params, g_host_spec, 2, &a) ||
        (s = find_or_reply(req, a.nqn)) == NULL)
        return;
    rc = tern_nvmf_subsystem_add_host(s, a.host, why, sizeof(why));
    if (rc != 0) {
        tern_rpc_reply_error(req, ERRNO_CODE(rc), "%s", why);
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_add_host", nvmf_subsystem_add_host, TERN_RPC_RUNTIME)

static void
nvmf_subsystem_remove_host(struct tern_rpc_request *req, const json_t *params)
{
    struct host_args a = { 0 };
    struct tern_nvmf_subsystem *s;

    if (!tern_rpc_decode_or_reply(req, params, g_host_spec, 2, &a) ||
        (s = find_or_reply(req, a.nqn)) == NULL)
        return;
    if (tern_nvmf_subsystem_remove_host(s, a.host) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "host %s is not on %s's list", a.host,
                             a.nqn);
        return;
    }
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_remove_host", nvmf_subsystem_remove_host, TERN_RPC_RUNTIME)

struct allow_args {
    const char *nqn;
    bool allow_any_host;
};

static void
nvmf_subsystem_allow_any_host(struct tern_rpc_request *req, const json_t *params)
{
    static const struct tern_rpc_param spec[] = {
        TERN_RPC_PARAM(struct allow_args, nqn, TERN_RPC_STRING, true),
        TERN_RPC_PARAM(struct allow_args, allow_any_host, TERN_RPC_BOOL, true),
    };
    struct allow_args a = { 0 };
    struct tern_nvmf_subsystem *s;

    if (!tern_rpc_decode_or_reply(req, params, spec, 2, &a) || (s = find_or_reply(req, a.nqn)) == NULL)
        return;
    if (tern_nvmf_subsystem_type(s) == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "the discovery subsystem admits every host");
        return;
    }
    tern_nvmf_subsystem_set_allow_any_host(s, a.allow_any_host);
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("nvmf_subsystem_allow_any_host", nvmf_subsystem_allow_any_host, TERN_RPC_RUNTIME)

static void
hex(char *out, const uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02X", b[i]);
}

static json_t *
subsystem_json(struct tern_nvmf_subsystem *s)
{
    bool disc = tern_nvmf_subsystem_type(s) == TERN_NVMF_SUBTYPE_DISCOVERY_CURRENT;
    json_t *o = json_pack("{s:s, s:s, s:[], s:b, s:[]}", "nqn", tern_nvmf_subsystem_nqn(s),
                          "subtype", disc ? "Discovery" : "NVMe", "listen_addresses",
                          "allow_any_host", tern_nvmf_subsystem_allow_any_host(s), "hosts");
    const char *h;
    uint32_t i;

    const struct tern_nvmf_trid *l;

    for (i = 0; (h = tern_nvmf_subsystem_host(s, i)) != NULL; i++)
        json_array_append_new(json_object_get(o, "hosts"), json_pack("{s:s}", "nqn", h));
    for (i = 0; (l = nvmf_subsystem_listener(s, i)) != NULL; i++)
        json_array_append_new(json_object_get(o, "listen_addresses"),
                              json_pack("{s:s, s:s, s:s, s:s}", "trtype",
                                        tern_nvmf_trtype_name(l->trtype), "adrfam",
                                        tern_nvmf_adrfam_name(l->adrfam), "traddr", l->traddr,
                                        "trsvcid", l->trsvcid));
    if (!disc) {
        struct tern_nvmf_ns *ns;
        json_t *list = json_array();
        uint16_t lo, hi;

        for (ns = tern_nvmf_subsystem_next_ns(s, 0); ns != NULL;
             ns = tern_nvmf_subsystem_next_ns(s, tern_nvmf_ns_id(ns))) {
            char uuid[37], nguid[33], eui[17];
            json_t *n;

            tern_bdev_uuid_fmt(tern_nvmf_ns_uuid(ns), uuid);
            n = json_pack("{s:i, s:s, s:s, s:s}", "nsid", (int)tern_nvmf_ns_id(ns),
                          "bdev_name", tern_bdev_name(tern_nvmf_ns_bdev(ns)),
                          "name", tern_bdev_name(tern_nvmf_ns_bdev(ns)), "uuid", uuid);
            if (tern_nvmf_ns_nguid(ns)) {
                hex(nguid, tern_nvmf_ns_nguid(ns), 16);
                json_object_set_new(n, "nguid", json_string(nguid));
            }
            if (tern_nvmf_ns_eui64(ns)) {
                hex(eui, tern_nvmf_ns_eui64(ns), 8);
                json_object_set_new(n, "eui64", json_string(eui));
            }
            json_array_append_new(list, n);
        }
        tern_nvmf_subsystem_cntlid_range(s, &lo, &hi);
        json_object_set_new(o, "serial_number", json_string(tern_nvmf_subsystem_sn(s)));
        json_object_set_new(o, "model_number", json_string(tern_nvmf_subsystem_mn(s)));
        json_object_set_new(o, "max_namespaces", json_integer(tern_nvmf_subsystem_max_nsid(s)));
        json_object_set_new(o, "min_cntlid", json_integer(lo));
        json_object_set_new(o, "max_cntlid", json_integer(hi));
        json_object_set_new(o, "namespaces", list);
    }
    return o;
}

static void
nvmf_get_subsystems(struct tern_rpc_request *req, const json_t *params)
{
    struct tern_nvmf_subsystem *s;
    json_t *list;

    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    list = json_array();
    for (s = tern_nvmf_subsystem_first(); s != NULL; s = tern_nvmf_subsystem_next(s))
        json_array_append_new(list, subsystem_json(s));
    tern_rpc_reply(req, list);
}
TERN_RPC_REGISTER("nvmf_get_subsystems", nvmf_get_subsystems, TERN_RPC_RUNTIME)
