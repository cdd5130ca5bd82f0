/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by unit tests of bdev modules: a live EAL, reactors and the bdev
 * layer in the runtime RPC state, and a way to call an RPC handler. */
#ifndef UT_BDEV_H
#define UT_BDEV_H

#include <criterion/criterion.h>

#include "tern_bdev.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "ut_env.h"

static json_t *ut_rpc_resp;

static void
ut_rpc_on_resp(void *ctx, json_t *resp)
{
    (void)ctx;
    json_decref(ut_rpc_resp);
    ut_rpc_resp = resp;
}

/* Dispatch one request (JSON text); the response stays valid until the next call. */
static inline json_t *
ut_rpc(const char *text)
{
    json_t *req = json_loads(text, 0, NULL);

    cr_assert_not_null(req, "test request %s", text);
    tern_rpc_dispatch(req, ut_rpc_on_resp, NULL);
    json_decref(req);
    return ut_rpc_resp;
}

static inline int
ut_rpc_error_code(const json_t *resp)
{
    return (int)json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
}

static inline void
ut_bdev_env_init(void)
{
    ut_env_init();
    cr_assert_eq(tern_reactors_init(), 0);
    cr_assert_eq(tern_bdev_init(), 0);
    tern_rpc_set_state(TERN_RPC_RUNTIME);
}

static inline void
ut_bdev_env_fini(void)
{
    tern_bdev_fini();
    tern_reactors_fini();
    tern_env_fini();
}

#endif
