/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC 2.0. Modules register methods; the Unix-socket server and the
 * configuration loader both dispatch through the same handlers. Everything
 * here runs on the main lcore's reactor: handlers that need other lcores send
 * them messages and reply when the answers are back.
 */
#ifndef TERN_RPC_H
#define TERN_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* JSON-RPC 2.0 error codes (spec section 5.1) and ours. */
#define TERN_RPC_PARSE_ERROR      (-32700)
#define TERN_RPC_INVALID_REQUEST  (-32600)
#define TERN_RPC_METHOD_NOT_FOUND (-32601)
#define TERN_RPC_INVALID_PARAMS   (-32602)
#define TERN_RPC_INTERNAL_ERROR   (-32603)
/* Method exists but not in this state (before/after framework_start_init);
 * the same number SPDK uses, so its scripts recognise it. */
#define TERN_RPC_INVALID_STATE    (-1)

/* When a method may be called. */
#define TERN_RPC_STARTUP 0x1u   /* --wait-for-rpc, before framework_start_init */
#define TERN_RPC_RUNTIME 0x2u

struct tern_rpc_request;
/* params is NULL when the request had none; it lives until the reply. */
typedef void (*tern_rpc_handler)(struct tern_rpc_request *req, const json_t *params);

struct tern_rpc_method {
    const char *name;
    tern_rpc_handler fn;
    uint32_t state_mask;
    struct tern_rpc_method *next;
};

void tern_rpc_register_method(struct tern_rpc_method *m);
#define TERN_RPC_REGISTER(method_name, handler, mask)                         \
    static struct tern_rpc_method handler##_method = {                        \
        .name = method_name, .fn = handler, .state_mask = mask,               \
    };                                                                        \
    __attribute__((constructor)) static void handler##_register(void)         \
    {                                                                         \
        tern_rpc_register_method(&handler##_method);                          \
    }

const struct tern_rpc_method *tern_rpc_find_method(const char *name);
/* Walk methods in name order. */
void tern_rpc_foreach_method(void (*cb)(const struct tern_rpc_method *m, void *ctx), void *ctx);

uint32_t tern_rpc_get_state(void);
void tern_rpc_set_state(uint32_t state);

/*
 * Every request gets exactly one reply: a result (the reference is stolen;
 * NULL means `true`) or an error. The request is freed by the reply.
 */
void tern_rpc_reply(struct tern_rpc_request *req, json_t *result);
void tern_rpc_reply_error(struct tern_rpc_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *tern_rpc_request_method(const struct tern_rpc_request *req);

/*
 * Validate and run one JSON-RPC request object. `done` gets the whole
 * response object (a new reference the callee must decref) or NULL for a
 * notification; it may be called before this returns or later.
 */
typedef void (*tern_rpc_response_cb)(void *ctx, json_t *response);
void tern_rpc_dispatch(const json_t *request, tern_rpc_response_cb done, void *ctx);
/* Build an error response (for requests that never reached dispatch). */
json_t *tern_rpc_error_response(const json_t *id, int code, const char *message);

/*
 * Parameter decoding: a table of named fields written into a struct.
 * Unknown names, wrong types, out-of-range numbers and missing required
 * fields are errors with a message naming the field. Strings point into the
 * params object (valid until the reply).
 */
enum tern_rpc_type {
    TERN_RPC_STRING,    /* const char * */
    TERN_RPC_BOOL,      /* bool */
    TERN_RPC_UINT16,    /* uint16_t */
    TERN_RPC_UINT32,    /* uint32_t */
    TERN_RPC_UINT64,    /* uint64_t */
    TERN_RPC_INT32,     /* int32_t */
    TERN_RPC_JSON,      /* const json_t *: any value, not checked */
};
struct tern_rpc_param {
    const char *name;
    enum tern_rpc_type type;
    size_t offset;
    bool required;
};
#define TERN_RPC_PARAM(st, field, type, req) { #field, type, offsetof(st, field), req }
int tern_rpc_decode(const json_t *params, const struct tern_rpc_param *spec, size_t n,
                    void *out, char *err, size_t errlen);
/* Decode or reply Invalid params; returns false when it replied. */
bool tern_rpc_decode_or_reply(struct tern_rpc_request *req, const json_t *params,
                              const struct tern_rpc_param *spec, size_t n, void *out);

/* The Unix-socket server, on the calling (main) lcore's reactor. */
int tern_rpc_server_start(const char *path);
void tern_rpc_server_stop(void);
const char *tern_rpc_server_path(void);

/*
 * Replay a configuration in SPDK's JSON config shape
 * ({"subsystems":[{"subsystem":S,"config":[{"method":M,"params":P}]}]})
 * through the RPC handlers, in order, on the calling lcore's reactor.
 * done(ctx, 0) after the last entry, or done(ctx, -EINVAL) at the first
 * failure, which is logged with the origin (file name), subsystem, method
 * and reason. Returns -errno if the replay could not start (also logged).
 */
typedef void (*tern_rpc_config_done)(void *ctx, int status);
int tern_rpc_config_load_file(const char *path, tern_rpc_config_done done, void *ctx);
int tern_rpc_config_load_string(const char *text, const char *origin,
                                tern_rpc_config_done done, void *ctx);

#endif /* TERN_RPC_H */
