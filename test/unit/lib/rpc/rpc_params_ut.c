/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <criterion/criterion.h>

#include "tern_rpc.h"

struct args {
    const char *name;
    bool flag;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    const json_t *any;
};

static const struct tern_rpc_param spec[] = {
    TERN_RPC_PARAM(struct args, name, TERN_RPC_STRING, true),
    TERN_RPC_PARAM(struct args, flag, TERN_RPC_BOOL, false),
    TERN_RPC_PARAM(struct args, u16, TERN_RPC_UINT16, false),
    TERN_RPC_PARAM(struct args, u32, TERN_RPC_UINT32, false),
    TERN_RPC_PARAM(struct args, u64, TERN_RPC_UINT64, false),
    TERN_RPC_PARAM(struct args, i32, TERN_RPC_INT32, false),
    TERN_RPC_PARAM(struct args, any, TERN_RPC_JSON, false),
};
#define N (sizeof(spec) / sizeof(spec[0]))

static char err[256];

static int
decode(const char *text, struct args *a)
{
    json_t *p = json_loads(text, 0, NULL);
    int rc;

    cr_assert_not_null(p, "test input %s", text);
    memset(a, 0, sizeof(*a));
    a->u32 = 1234;  /* a default the decoder must leave alone */
    err[0] = '\0';
    rc = tern_rpc_decode(p, spec, N, a, err, sizeof(err));
    json_decref(p);
    return rc;
}

Test(rpc_params, decodes_every_type)
{
    struct args a;

    /* Strings point into params; keep them alive for the check. */
    json_t *p = json_loads("{\"name\":\"x\",\"flag\":true,\"u16\":65535,\"u64\":9000000000,"
                           "\"i32\":-5,\"any\":[1]}", 0, NULL);
    memset(&a, 0, sizeof(a));
    a.u32 = 1234;
    cr_assert_eq(tern_rpc_decode(p, spec, N, &a, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(a.name, "x");
    cr_assert(a.flag);
    cr_assert_eq(a.u16, 65535);
    cr_assert_eq(a.u32, 1234, "absent optional keeps its default");
    cr_assert_eq(a.u64, 9000000000ull);
    cr_assert_eq(a.i32, -5);
    cr_assert(json_is_array(a.any));
    json_decref(p);
}

Test(rpc_params, errors_name_the_field)
{
    struct args a;

    cr_assert_neq(decode("{}", &a), 0);
    cr_assert_str_eq(err, "missing required parameter name");
    cr_assert_neq(decode("{\"name\":\"x\",\"nmae\":1}", &a), 0);
    cr_assert_str_eq(err, "unknown parameter nmae");
    cr_assert_neq(decode("{\"name\":3}", &a), 0);
    cr_assert_str_eq(err, "parameter name must be a string");
    cr_assert_neq(decode("{\"name\":\"x\",\"flag\":1}", &a), 0);
    cr_assert_str_eq(err, "parameter flag must be a boolean");
    cr_assert_neq(decode("{\"name\":\"x\",\"u16\":65536}", &a), 0);
    cr_assert_str_eq(err, "parameter u16 = 65536 is out of range 0..65535");
    cr_assert_neq(decode("{\"name\":\"x\",\"u32\":-1}", &a), 0);
    cr_assert_neq(decode("{\"name\":\"x\",\"u32\":4294967296}", &a), 0);
    cr_assert_neq(decode("{\"name\":\"x\",\"u64\":-1}", &a), 0);
    cr_assert_neq(decode("{\"name\":\"x\",\"i32\":2147483648}", &a), 0);
    cr_assert_neq(decode("{\"name\":\"x\",\"u32\":1.5}", &a), 0);
    cr_assert_str_eq(err, "parameter u32 must be an integer");
}

Test(rpc_params, no_params_is_fine_without_required_fields)
{
    char e[64];

    cr_assert_eq(tern_rpc_decode(NULL, NULL, 0, NULL, e, sizeof(e)), 0);
    cr_assert_neq(tern_rpc_decode(NULL, spec, N, NULL, e, sizeof(e)), 0, "name is required");
}
