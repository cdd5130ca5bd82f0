/* SPDX-License-Identifier: BSD-3-Clause */
/* Request validation and dispatch, without a socket. */
#include <string.h>

#include <criterion/criterion.h>

#include "tern_rpc.h"

static int g_calls;

static void
ut_echo(struct tern_rpc_request *req, const json_t *params)
{
    g_calls++;
    tern_rpc_reply(req, params ? json_deep_copy(params) : NULL);
}
TERN_RPC_REGISTER("ut_echo", ut_echo, TERN_RPC_RUNTIME)

static void
ut_fail(struct tern_rpc_request *req, const json_t *params)
{
    (void)params;
    g_calls++;
    tern_rpc_reply_error(req, -5, "failed on %s", tern_rpc_request_method(req));
}
TERN_RPC_REGISTER("ut_fail", ut_fail, TERN_RPC_RUNTIME)

static void
ut_startup_only(struct tern_rpc_request *req, const json_t *params)
{
    (void)params;
    g_calls++;
    tern_rpc_reply(req, json_string("early"));
}
TERN_RPC_REGISTER("ut_startup_only", ut_startup_only, TERN_RPC_STARTUP)

static json_t *g_resp;
static int g_done;

static void
on_done(void *ctx, json_t *resp)
{
    (void)ctx;
    g_done++;
    json_decref(g_resp);
    g_resp = resp;
}

static json_t *
call(const char *text)
{
    json_error_t err;
    json_t *req = json_loads(text, JSON_DECODE_ANY, &err);

    cr_assert_not_null(req, "test input %s: %s", text, err.text);
    g_done = 0;
    tern_rpc_dispatch(req, on_done, NULL);
    json_decref(req);
    cr_assert_eq(g_done, 1, "exactly one completion for %s", text);
    return g_resp;
}

static int
error_code(const json_t *resp)
{
    const json_t *e = json_object_get(resp, "error");

    cr_assert_not_null(e, "expected an error response");
    cr_assert_null(json_object_get(resp, "result"));
    return (int)json_integer_value(json_object_get(e, "code"));
}

static void
setup(void)
{
    tern_rpc_set_state(TERN_RPC_RUNTIME);
}

TestSuite(rpc, .init = setup);

Test(rpc, result_carries_the_request_id)
{
    json_t *r = call("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ut_echo\",\"params\":{\"a\":1}}");

    cr_assert_str_eq(json_string_value(json_object_get(r, "jsonrpc")), "2.0");
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 7);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "result"), "a")), 1);
    r = call("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ut_echo\"}");
    cr_assert_str_eq(json_string_value(json_object_get(r, "id")), "abc");
    cr_assert(json_is_true(json_object_get(r, "result")), "no result means true");
}

Test(rpc, invalid_requests_get_their_codes)
{
    cr_assert_eq(error_code(call("[1,2]")), TERN_RPC_INVALID_REQUEST);
    cr_assert_eq(error_code(call("\"x\"")), TERN_RPC_INVALID_REQUEST);
    cr_assert_eq(error_code(call("{\"id\":1,\"method\":\"ut_echo\"}")), TERN_RPC_INVALID_REQUEST,
                 "jsonrpc missing");
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ut_echo\"}")),
                 TERN_RPC_INVALID_REQUEST);
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}")),
                 TERN_RPC_INVALID_REQUEST);
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ut_echo\"}")),
                 TERN_RPC_INVALID_REQUEST, "object id");
    cr_assert(json_is_null(json_object_get(g_resp, "id")), "a bad id is answered with null");
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ut_echo\",\"params\":[1]}")),
                 TERN_RPC_INVALID_PARAMS);
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ut_echo\",\"params\":3}")),
                 TERN_RPC_INVALID_PARAMS);
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}")),
                 TERN_RPC_METHOD_NOT_FOUND);
    cr_assert_eq(g_calls, 0, "no handler ran for any of them");
}

Test(rpc, handler_errors_are_error_objects)
{
    json_t *r = call("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ut_fail\"}");

    cr_assert_eq(error_code(r), -5);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                     "failed on ut_fail");
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 3);
}

Test(rpc, notifications_run_but_get_no_response)
{
    cr_assert_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"ut_echo\"}"));
    cr_assert_eq(g_calls, 1);
    cr_assert_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"), "even when they fail");
}

Test(rpc, methods_are_checked_against_the_state)
{
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ut_startup_only\"}")),
                 TERN_RPC_INVALID_STATE);
    tern_rpc_set_state(TERN_RPC_STARTUP);
    cr_assert_eq(error_code(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ut_echo\"}")),
                 TERN_RPC_INVALID_STATE);
    cr_assert_str_eq(json_string_value(json_object_get(call(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ut_startup_only\"}"), "result")), "early");
    cr_assert_eq(g_calls, 1);
}

Test(rpc, registry_is_sorted_and_finds_methods)
{
    cr_assert_not_null(tern_rpc_find_method("ut_echo"));
    cr_assert_not_null(tern_rpc_find_method("rpc_get_methods"));
    cr_assert_null(tern_rpc_find_method("ut_ech"));
}

Test(rpc, get_methods_lists_current_ones)
{
    json_t *all = json_object_get(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc_get_methods\"}"),
                                  "result");
    size_t i, n_all = json_array_size(all);

    all = json_incref(all);
    for (i = 1; i < n_all; i++)
        cr_assert_lt(strcmp(json_string_value(json_array_get(all, i - 1)),
                            json_string_value(json_array_get(all, i))), 0, "sorted");
    json_t *cur = json_object_get(call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc_get_methods\","
                                       "\"params\":{\"current\":true}}"), "result");
    cr_assert_eq(json_array_size(cur), n_all - 1, "all but the startup-only one");
    json_decref(all);
}
