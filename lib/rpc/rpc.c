/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern_env.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.lib.rpc", INFO);

struct tern_rpc_request {
    json_t *id;                 /* NULL: notification, no response */
    json_t *params;             /* held until the reply */
    const struct tern_rpc_method *method;
    tern_rpc_response_cb done;
    void *ctx;
};

static struct tern_rpc_method *g_methods;      /* sorted by name */
static uint32_t g_state = TERN_RPC_STARTUP;

void
tern_rpc_register_method(struct tern_rpc_method *m)
{
    struct tern_rpc_method **pp = &g_methods;

    while (*pp != NULL && strcmp((*pp)->name, m->name) < 0)
        pp = &(*pp)->next;
    if (*pp != NULL && strcmp((*pp)->name, m->name) == 0) {
        /* Two modules claiming a name is a build error; say so loudly. */
        fprintf(stderr, "tern: RPC method %s registered twice\n", m->name);
        abort();
    }
    m->next = *pp;
    *pp = m;
}

const struct tern_rpc_method *
tern_rpc_find_method(const char *name)
{
    const struct tern_rpc_method *m;

    for (m = g_methods; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

void
tern_rpc_foreach_method(void (*cb)(const struct tern_rpc_method *m, void *ctx), void *ctx)
{
    const struct tern_rpc_method *m;

    for (m = g_methods; m != NULL; m = m->next)
        cb(m, ctx);
}

uint32_t
tern_rpc_get_state(void)
{
    return g_state;
}

void
tern_rpc_set_state(uint32_t state)
{
    g_state = state;
}

const char *
tern_rpc_request_method(const struct tern_rpc_request *req)
{
    return req->method ? req->method->name : "";
}

json_t *
tern_rpc_error_response(const json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O?, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static void
finish(struct tern_rpc_request *req, json_t *response)
{
    if (req->id == NULL) {
        json_decref(response);  /* a notification is never answered */
        req->done(req->ctx, NULL);
    } else {
        req->done(req->ctx, response);
    }
    json_decref(req->id);
    json_decref(req->params);
    free(req);
}

void
tern_rpc_reply(struct tern_rpc_request *req, json_t *result)
{
    json_t *resp;

    if (result == NULL)
        result = json_true();
    resp = json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", req->id, "result", result);
    if (resp == NULL) {
        TERN_LOG(g_log, ERR, "%s: cannot build the response", tern_rpc_request_method(req));
        resp = tern_rpc_error_response(req->id, TERN_RPC_INTERNAL_ERROR, "out of memory");
    }
    finish(req, resp);
}

void
tern_rpc_reply_error(struct tern_rpc_request *req, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    TERN_LOG(g_log, INFO, "%s: error %d: %s", tern_rpc_request_method(req), code, msg);
    finish(req, tern_rpc_error_response(req->id, code, msg));
}

static void
reject(const json_t *id, int code, const char *msg, tern_rpc_response_cb done, void *ctx,
       bool notification)
{
    if (notification) {
        done(ctx, NULL);
        return;
    }
    done(ctx, tern_rpc_error_response(id, code, msg));
}

void
tern_rpc_dispatch(const json_t *request, tern_rpc_response_cb done, void *ctx)
{
    const json_t *version, *id, *method, *params;
    const struct tern_rpc_method *m;
    struct tern_rpc_request *req;
    char msg[256];

    if (json_is_array(request)) {
        reject(NULL, TERN_RPC_INVALID_REQUEST, "batch requests are not supported", done, ctx, false);
        return;
    }
    if (!json_is_object(request)) {
        reject(NULL, TERN_RPC_INVALID_REQUEST, "a request must be a JSON object", done, ctx, false);
        return;
    }
    id = json_object_get(request, "id");
    if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
        reject(NULL, TERN_RPC_INVALID_REQUEST, "id must be a string, a number or null",
               done, ctx, false);
        return;
    }
    version = json_object_get(request, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        reject(id, TERN_RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"", done, ctx, false);
        return;
    }
    method = json_object_get(request, "method");
    if (!json_is_string(method)) {
        reject(id, TERN_RPC_INVALID_REQUEST, "method must be a string", done, ctx, false);
        return;
    }
    params = json_object_get(request, "params");
    if (params != NULL && !json_is_object(params)) {
        reject(id, TERN_RPC_INVALID_PARAMS, json_is_array(params) ?
               "params must be an object (named parameters); positional params are not supported" :
               "params must be an object", done, ctx, id == NULL);
        return;
    }
    m = tern_rpc_find_method(json_string_value(method));
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "Method not found: %.200s", json_string_value(method));
        reject(id, TERN_RPC_METHOD_NOT_FOUND, msg, done, ctx, id == NULL);
        return;
    }
    if ((m->state_mask & g_state) == 0) {
        snprintf(msg, sizeof(msg), g_state == TERN_RPC_STARTUP ?
                 "Method %s may only be called after framework_start_init" :
                 "Method %s may only be called before framework_start_init (start with --wait-for-rpc)",
                 m->name);
        reject(id, TERN_RPC_INVALID_STATE, msg, done, ctx, id == NULL);
        return;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
        reject(id, TERN_RPC_INTERNAL_ERROR, "out of memory", done, ctx, id == NULL);
        return;
    }
    req->id = id ? json_deep_copy(id) : NULL;
    req->params = params ? json_incref((json_t *)params) : NULL;
    req->method = m;
    req->done = done;
    req->ctx = ctx;
    TERN_LOG(g_log, DEBUG, "calling %s", m->name);
    m->fn(req, req->params);
}
