/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC over a Unix stream socket, served by a timed poller on the main
 * reactor with non-blocking sockets only: a slow, broken or hostile client
 * costs at most one short pass per poll and never blocks the reactor.
 *
 * A connection carries requests back to back (pipelining). A request that
 * cannot be parsed gets a parse error and the connection is closed after the
 * reply is sent, because the stream cannot be resynchronised. A request that
 * grows past TERN_RPC_MAX_REQUEST_BYTES likewise. When the client shuts down
 * its sending side, the requests already received are answered, then the
 * connection closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.lib.rpc.server", INFO);

#define RECV_CHUNK 65536
#define ACCEPTS_PER_POLL 16
/* After a protocol error the reply is sent, our side shut down, and input
 * read and dropped for this long before the close: closing with unread
 * input would reset the connection and could destroy the reply in flight. */
#define LINGER_MS 2000

struct conn {
    TAILQ_ENTRY(conn) link;
    int fd;
    uint64_t serial;            /* for log lines */
    char *in;
    size_t in_len;
    char *out;
    size_t out_len;
    size_t out_off;
    uint32_t outstanding;       /* dispatched, not yet answered */
    bool eof;                   /* peer shut down its sending side */
    bool closing;               /* protocol error: flush, then linger */
    uint64_t linger_until;      /* ticks; 0 until the reply is flushed */
    bool dead;                  /* fd closed; freed by the poll sweep once
                                 * outstanding is 0, never under a caller */
};
TAILQ_HEAD(conn_list, conn);

static struct {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct tern_poller *poller;
    struct conn_list conns;
    uint32_t n_conns;
    uint64_t next_serial;
} g_srv = { .fd = -1 };

const char *
tern_rpc_server_path(void)
{
    return g_srv.fd >= 0 ? g_srv.path : NULL;
}

static void
conn_free(struct conn *c)
{
    TAILQ_REMOVE(&g_srv.conns, c, link);
    g_srv.n_conns--;
    free(c->in);
    free(c->out);
    free(c);
}

static void
conn_close(struct conn *c, const char *why)
{
    if (c->dead)
        return;
    if (why != NULL)
        TERN_LOG(g_log, INFO, "connection %lu closed: %s", (unsigned long)c->serial, why);
    close(c->fd);
    c->fd = -1;
    c->dead = true;
}

static int
out_append(struct conn *c, const char *data, size_t len)
{
    char *n;

    if (c->out_len + len + 1 > TERN_RPC_MAX_OUTPUT_BYTES)
        return -ENOBUFS;
    n = realloc(c->out, c->out_len + len + 1);
    if (n == NULL)
        return -ENOMEM;
    c->out = n;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    c->out[c->out_len++] = '\n';   /* one response per line, for humans and nc */
    return 0;
}

static void
queue_response(struct conn *c, json_t *resp)
{
    char *text;

    if (resp == NULL)
        return;
    text = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (text == NULL || out_append(c, text, strlen(text)) != 0) {
        free(text);
        conn_close(c, "response could not be queued (client not reading?)");
        return;
    }
    free(text);
}

static void
on_response(void *ctx, json_t *resp)
{
    struct conn *c = ctx;

    c->outstanding--;
    if (c->dead) {
        json_decref(resp);  /* the client left before its answer */
        /* After the server stopped nobody sweeps: the last answer frees. */
        if (c->outstanding == 0 && g_srv.fd < 0)
            conn_free(c);
        return;
    }
    queue_response(c, resp);
}

static void
protocol_error(struct conn *c, int code, const char *msg)
{
    TERN_LOG(g_log, NOTICE, "connection %lu: %s", (unsigned long)c->serial, msg);
    queue_response(c, tern_rpc_error_response(NULL, code, msg));
    c->closing = true;
    c->in_len = 0;
}

/* Parse and dispatch every complete request in the input buffer. */
static void
conn_parse(struct conn *c)
{
    size_t off = 0;

    while (!c->dead && !c->closing) {
        json_error_t err;
        json_t *req;

        while (off < c->in_len && strchr(" \t\r\n", c->in[off]) != NULL && c->in[off] != '\0')
            off++;
        if (off == c->in_len)
            break;
        req = json_loadb(c->in + off, c->in_len - off, JSON_DISABLE_EOF_CHECK, &err);
        if (req == NULL) {
            char msg[300];

            if (json_error_code(&err) == json_error_premature_end_of_input && !c->eof) {
                if (c->in_len - off >= TERN_RPC_MAX_REQUEST_BYTES) {
                    snprintf(msg, sizeof(msg), "request larger than %d bytes",
                             TERN_RPC_MAX_REQUEST_BYTES);
                    protocol_error(c, TERN_RPC_INVALID_REQUEST, msg);
                    return;
                }
                break;  /* wait for the rest */
            }
            snprintf(msg, sizeof(msg), "Parse error: %s (byte %d)", err.text, err.position);
            protocol_error(c, TERN_RPC_PARSE_ERROR, msg);
            return;
        }
        off += (size_t)err.position;
        c->outstanding++;
        tern_rpc_dispatch(req, on_response, c);
        json_decref(req);
    }
    if (c->dead || c->closing)
        return;
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

/* Returns 1 if it read anything. */
static int
conn_read(struct conn *c)
{
    int got = 0;

    while (!c->eof && !c->closing && !c->dead) {
        size_t room = TERN_RPC_MAX_REQUEST_BYTES - c->in_len;
        ssize_t n;

        if (room == 0) {
            /* A full buffer that does not parse: conn_parse reports it. */
            break;
        }
        if (room > RECV_CHUNK)
            room = RECV_CHUNK;
        if (c->in == NULL) {
            c->in = malloc(TERN_RPC_MAX_REQUEST_BYTES);
            if (c->in == NULL) {
                conn_close(c, "no memory for its input buffer");
                break;
            }
        }
        n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            got = 1;
            continue;
        }
        if (n == 0) {
            c->eof = true;
            got = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(c, strerror(errno));
        }
        break;
    }
    return got;
}

static int
conn_write(struct conn *c)
{
    int busy = 0;

    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            c->out_off += (size_t)n;
            busy = 1;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        conn_close(c, n < 0 ? strerror(errno) : "peer stopped reading");
        return busy;
    }
    if (!c->dead && c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    return busy;
}

/* Drop whatever the peer still sends until it closes or time runs out. */
static int
conn_linger(struct conn *c)
{
    char sink[4096];
    ssize_t n;
    int busy = 0;

    while ((n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
        busy = 1;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
        tern_env_ticks() > c->linger_until)
        conn_close(c, NULL);
    return busy;
}

static int
accept_new(void)
{
    int i, busy = 0;

    for (i = 0; i < ACCEPTS_PER_POLL; i++) {
        struct conn *c;
        int fd = accept4(g_srv.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                TERN_LOG(g_log, WARNING, "accept on %s: %s", g_srv.path, strerror(errno));
            break;
        }
        busy = 1;
        if (g_srv.n_conns >= TERN_RPC_MAX_CONNECTIONS) {
            static const char msg[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                                      "\"message\":\"too many RPC connections\"}}\n";

            TERN_LOG(g_log, WARNING, "refusing an RPC connection: %u already open (limit)",
                     g_srv.n_conns);
            if (send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                /* Best effort: the client learns either way when we close. */
            }
            close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->serial = ++g_srv.next_serial;
        TAILQ_INSERT_TAIL(&g_srv.conns, c, link);
        g_srv.n_conns++;
        TERN_LOG(g_log, DEBUG, "connection %lu accepted", (unsigned long)c->serial);
    }
    return busy;
}

static int
server_poll(void *arg)
{
    struct conn *c, *next;
    int busy;
    (void)arg;

    busy = accept_new();
    for (c = TAILQ_FIRST(&g_srv.conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        if (c->dead) {
            if (c->outstanding == 0)
                conn_free(c);
            continue;   /* else waiting for its handlers to answer */
        }
        if (c->linger_until != 0) {
            busy |= conn_linger(c);
            if (c->dead && c->outstanding == 0)
                conn_free(c);
            continue;
        }
        if (conn_read(c))
            busy = 1;
        if (!c->dead)
            conn_parse(c);
        if (!c->dead)
            busy |= conn_write(c);
        if (!c->dead && c->closing && c->out_len == 0 && c->outstanding == 0) {
            shutdown(c->fd, SHUT_WR);
            c->linger_until = tern_env_ticks() + tern_env_ticks_hz() * LINGER_MS / 1000;
        } else if (!c->dead && c->eof && c->outstanding == 0 && c->out_len == 0) {
            conn_close(c, NULL);
        }
        if (c->dead && c->outstanding == 0)
            conn_free(c);
    }
    return busy ? TERN_POLLER_BUSY : TERN_POLLER_IDLE;
}

/* Refuse to take over a socket another live process serves; remove a stale one. */
static int
claim_path(const struct sockaddr_un *addr)
{
    struct stat st;
    int fd, rc;

    if (lstat(addr->sun_path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        TERN_LOG(g_log, ERR, "%s exists and is not a socket; not touching it", addr->sun_path);
        return -EEXIST;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    close(fd);
    if (rc == 0) {
        TERN_LOG(g_log, ERR, "%s is served by another process (another tern-tgt?); "
                 "choose another socket with -r", addr->sun_path);
        return -EADDRINUSE;
    }
    TERN_LOG(g_log, NOTICE, "removing stale socket %s", addr->sun_path);
    return unlink(addr->sun_path) == 0 ? 0 : -errno;
}

int
tern_rpc_server_start(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd, rc;

    if (g_srv.fd >= 0)
        return -EALREADY;
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(addr.sun_path)) {
        TERN_LOG(g_log, ERR, "RPC socket path '%s' is empty or longer than %zu bytes",
                 path ? path : "", sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    rc = claim_path(&addr);
    if (rc != 0) {
        if (rc != -EADDRINUSE && rc != -EEXIST)
            TERN_LOG(g_log, ERR, "cannot use RPC socket %s: %s", path, strerror(-rc));
        return rc;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 64) != 0) {
        rc = -errno;
        TERN_LOG(g_log, ERR, "cannot listen on RPC socket %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    TAILQ_INIT(&g_srv.conns);
    g_srv.n_conns = 0;
    g_srv.poller = tern_poller_register(server_poll, NULL, TERN_RPC_POLL_PERIOD_US, "rpc_server");
    if (g_srv.poller == NULL) {
        rc = -errno;
        close(fd);
        unlink(path);
        return rc;
    }
    g_srv.fd = fd;
    snprintf(g_srv.path, sizeof(g_srv.path), "%s", path);
    TERN_LOG(g_log, INFO, "serving JSON-RPC on %s", path);
    return 0;
}

void
tern_rpc_server_stop(void)
{
    struct conn *c, *next;

    if (g_srv.fd < 0)
        return;
    tern_poller_unregister(&g_srv.poller);
    for (c = TAILQ_FIRST(&g_srv.conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_close(c, NULL);
        /* One still waiting for a handler is freed by its last answer. */
        if (c->outstanding == 0)
            conn_free(c);
    }
    close(g_srv.fd);
    g_srv.fd = -1;
    unlink(g_srv.path);
    TERN_LOG(g_log, INFO, "RPC socket %s closed", g_srv.path);
}
