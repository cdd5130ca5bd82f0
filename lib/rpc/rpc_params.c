/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "tern_rpc.h"

static int
decode_one(const json_t *v, const struct tern_rpc_param *p, void *out, char *err, size_t errlen)
{
    char *dst = (char *)out + p->offset;
    json_int_t i;

    switch (p->type) {
    case TERN_RPC_STRING:
        if (!json_is_string(v))
            goto type;
        *(const char **)dst = json_string_value(v);
        return 0;
    case TERN_RPC_BOOL:
        if (!json_is_boolean(v))
            goto type;
        *(bool *)dst = json_is_true(v);
        return 0;
    case TERN_RPC_JSON:
        *(const json_t **)dst = v;
        return 0;
    default:
        break;
    }
    if (!json_is_integer(v))
        goto type;
    i = json_integer_value(v);
    switch (p->type) {
    case TERN_RPC_UINT16:
        if (i < 0 || i > UINT16_MAX)
            goto range;
        *(uint16_t *)dst = (uint16_t)i;
        return 0;
    case TERN_RPC_UINT32:
        if (i < 0 || i > UINT32_MAX)
            goto range;
        *(uint32_t *)dst = (uint32_t)i;
        return 0;
    case TERN_RPC_UINT64:
        /* json_int_t is signed 64-bit: values above INT64_MAX do not parse. */
        if (i < 0)
            goto range;
        *(uint64_t *)dst = (uint64_t)i;
        return 0;
    case TERN_RPC_INT32:
        if (i < INT32_MIN || i > INT32_MAX)
            goto range;
        *(int32_t *)dst = (int32_t)i;
        return 0;
    default:
        break;
    }
type:
    {
        static const char *const names[] = {
            [TERN_RPC_STRING] = "a string", [TERN_RPC_BOOL] = "a boolean",
            [TERN_RPC_UINT16] = "an integer", [TERN_RPC_UINT32] = "an integer",
            [TERN_RPC_UINT64] = "an integer", [TERN_RPC_INT32] = "an integer",
            [TERN_RPC_JSON] = "a value",
        };
        snprintf(err, errlen, "parameter %s must be %s", p->name, names[p->type]);
    }
    return -1;
range:
    {
        static const char *const ranges[] = {
            [TERN_RPC_UINT16] = "0..65535", [TERN_RPC_UINT32] = "0..4294967295",
            [TERN_RPC_UINT64] = "0..9223372036854775807",
            [TERN_RPC_INT32] = "-2147483648..2147483647",
        };
        snprintf(err, errlen, "parameter %s = %lld is out of range %s", p->name, (long long)i,
                 ranges[p->type]);
    }
    return -1;
}

int
tern_rpc_decode(const json_t *params, const struct tern_rpc_param *spec, size_t n, void *out,
                char *err, size_t errlen)
{
    const char *key;
    const json_t *v;
    size_t k;

    if (params != NULL && !json_is_object(params)) {
        snprintf(err, errlen, "params must be an object");
        return -1;
    }
    /* Unknown names first: a typo must not pass silently as a default. */
    json_object_foreach((json_t *)params, key, v) {
        for (k = 0; k < n; k++) {
            if (strcmp(spec[k].name, key) == 0)
                break;
        }
        if (k == n) {
            snprintf(err, errlen, "unknown parameter %.100s", key);
            return -1;
        }
    }
    for (k = 0; k < n; k++) {
        v = params ? json_object_get(params, spec[k].name) : NULL;
        if (v == NULL) {
            if (spec[k].required) {
                snprintf(err, errlen, "missing required parameter %s", spec[k].name);
                return -1;
            }
            continue;
        }
        if (decode_one(v, &spec[k], out, err, errlen) != 0)
            return -1;
    }
    return 0;
}

bool
tern_rpc_decode_or_reply(struct tern_rpc_request *req, const json_t *params,
                         const struct tern_rpc_param *spec, size_t n, void *out)
{
    char err[256];

    if (tern_rpc_decode(params, spec, n, out, err, sizeof(err)) == 0)
        return true;
    tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "%s", err);
    return false;
}
