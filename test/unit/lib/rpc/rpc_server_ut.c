/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RPC socket server on a live reactor, driven by a client thread that
 * behaves badly in every way the issue lists: pipelined, partial, malformed,
 * oversized, half-closed, gone before its answer, too many connections.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tern_config.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "ut_env.h"

static char g_path[108];

static int
client(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 10 };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memcpy(a.sun_path, g_path, strlen(g_path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until EOF (or timeout); returns the bytes, NUL-terminated. */
static char *
read_all(int fd, int *eof)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    *eof = 0;
    while ((n = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t)n;
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    if (n == 0)
        *eof = 1;
    buf[len] = '\0';
    return buf;
}

/* Read one newline-terminated response. */
static char *
read_line(int fd)
{
    static char line[65536];
    size_t len = 0;

    while (len < sizeof(line) - 1) {
        ssize_t n = recv(fd, line + len, 1, 0);

        if (n <= 0)
            return NULL;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    return line;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay++;
    }
    return n;
}

struct results {
    int pipelined;          /* responses to 3 pipelined requests */
    int partial_ok;
    int malformed_code;
    int malformed_eof;
    int oversized_code;
    int half_closed_ok;
    int half_closed_eof;
    int gone_then_ok;
    int too_many_refused;
    int still_serving;
    int done;
};
static struct results g_r;

#define REQ(id, m) "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"" m "\"}"

static void *
client_thread(void *arg)
{
    int fd, eof, i, fds[TERN_RPC_MAX_CONNECTIONS + 1];
    char *out, *line;
    size_t n;
    (void)arg;

    /* Pipelined: three requests in one write, no separators. */
    fd = client();
    send_all(fd, REQ(1, "tern_get_version") REQ(2, "rpc_get_methods") REQ(3, "framework_get_reactors"),
             strlen(REQ(1, "tern_get_version") REQ(2, "rpc_get_methods") REQ(3, "framework_get_reactors")));
    shutdown(fd, SHUT_WR);
    out = read_all(fd, &eof);
    g_r.pipelined = count(out, "\"result\"");
    free(out);
    close(fd);

    /* Partial: one byte at a time. */
    fd = client();
    {
        const char *req = REQ(9, "tern_get_version");
        struct timespec ms = { .tv_nsec = 500000 };

        for (n = 0; n < strlen(req); n++) {
            send_all(fd, req + n, 1);
            nanosleep(&ms, NULL);
        }
    }
    line = read_line(fd);
    g_r.partial_ok = line && strstr(line, "\"id\":9") && strstr(line, "\"result\"");
    close(fd);

    /* Malformed: parse error, then the server closes. */
    fd = client();
    send_all(fd, "{\"jsonrpc\": oops}", 17);
    line = read_line(fd);
    g_r.malformed_code = line && strstr(line, "-32700") ? -32700 : 0;
    out = read_all(fd, &eof);
    g_r.malformed_eof = eof;
    free(out);
    close(fd);

    /* Oversized: a request that never ends. */
    fd = client();
    {
        size_t total = TERN_RPC_MAX_REQUEST_BYTES + 4096;
        char *big = malloc(total);

        memset(big, 'x', total);
        const char *head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"";

        memcpy(big, head, strlen(head));
        send_all(fd, big, total);   /* may stop early when the server gives up */
        free(big);
    }
    line = read_line(fd);
    g_r.oversized_code = line && strstr(line, "-32600") ? -32600 : 0;
    close(fd);

    /* Half-closed: the answer still comes, then EOF. */
    fd = client();
    send_all(fd, REQ(5, "tern_get_version"), strlen(REQ(5, "tern_get_version")));
    shutdown(fd, SHUT_WR);
    out = read_all(fd, &eof);
    g_r.half_closed_ok = strstr(out, "\"id\":5") != NULL;
    g_r.half_closed_eof = eof;
    free(out);
    close(fd);

    /* Gone before the (asynchronous) answer. */
    for (i = 0; i < 20; i++) {
        fd = client();
        send_all(fd, REQ(6, "framework_get_reactors"), strlen(REQ(6, "framework_get_reactors")));
        close(fd);
    }
    fd = client();
    send_all(fd, REQ(7, "framework_get_reactors"), strlen(REQ(7, "framework_get_reactors")));
    line = read_line(fd);
    g_r.gone_then_ok = line && strstr(line, "\"reactors\"") != NULL;
    close(fd);

    /* One connection more than the limit. */
    for (i = 0; i <= TERN_RPC_MAX_CONNECTIONS; i++)
        fds[i] = client();
    line = read_line(fds[TERN_RPC_MAX_CONNECTIONS]);
    g_r.too_many_refused = line && strstr(line, "too many") != NULL;
    for (i = 0; i <= TERN_RPC_MAX_CONNECTIONS; i++)
        close(fds[i]);

    /* And it still answers. */
    usleep(20000);
    fd = client();
    send_all(fd, REQ(8, "tern_get_version"), strlen(REQ(8, "tern_get_version")));
    line = read_line(fd);
    g_r.still_serving = line && strstr(line, "\"id\":8") != NULL;
    close(fd);

    g_r.done = 1;
    tern_reactors_stop();
    return NULL;
}

static void
setup(void)
{
    ut_env_init();
    cr_assert_eq(tern_reactors_init(), 0);
    tern_rpc_set_state(TERN_RPC_RUNTIME);
    snprintf(g_path, sizeof(g_path), "/tmp/tern_ut_rpc_%d.sock", getpid());
}

static void
teardown(void)
{
    tern_rpc_server_stop();
    tern_reactors_fini();
    tern_env_fini();
}

TestSuite(rpc_server, .init = setup, .fini = teardown, .timeout = 60);

Test(rpc_server, survives_bad_clients_and_keeps_answering)
{
    pthread_t t;
    struct stat st;

    cr_assert_eq(tern_rpc_server_start(g_path), 0);
    cr_assert_str_eq(tern_rpc_server_path(), g_path);
    cr_assert_eq(pthread_create(&t, NULL, client_thread, NULL), 0);
    cr_assert_eq(tern_reactors_start(), 0);
    pthread_join(t, NULL);
    cr_assert(g_r.done);
    cr_assert_eq(g_r.pipelined, 3, "three pipelined answers");
    cr_assert(g_r.partial_ok, "a request sent byte by byte");
    cr_assert_eq(g_r.malformed_code, -32700);
    cr_assert(g_r.malformed_eof, "closed after a parse error");
    cr_assert_eq(g_r.oversized_code, -32600);
    cr_assert(g_r.half_closed_ok);
    cr_assert(g_r.half_closed_eof);
    cr_assert(g_r.gone_then_ok);
    cr_assert(g_r.too_many_refused);
    cr_assert(g_r.still_serving);
    tern_rpc_server_stop();
    cr_assert_neq(stat(g_path, &st), 0, "socket file removed at stop");
}

Test(rpc_server, refuses_a_socket_another_server_holds)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memcpy(a.sun_path, g_path, strlen(g_path) + 1);
    unlink(g_path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(tern_rpc_server_start(g_path), -EADDRINUSE);
    close(fd);
    /* Now stale: taken over. */
    cr_assert_eq(tern_rpc_server_start(g_path), 0);
    tern_rpc_server_stop();
}

Test(rpc_server, refuses_paths_it_must_not_touch)
{
    char longpath[200];
    char file[] = "/tmp/tern_ut_notsock_XXXXXX";
    int fd = mkstemp(file);

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    cr_assert_eq(tern_rpc_server_start(longpath), -ENAMETOOLONG);
    cr_assert_eq(tern_rpc_server_start(""), -ENAMETOOLONG);
    close(fd);
    cr_assert_eq(tern_rpc_server_start(file), -EEXIST, "a regular file is not replaced");
    cr_assert_eq(access(file, F_OK), 0);
    unlink(file);
    cr_assert_eq(tern_rpc_server_start("/nonexistent-dir/x.sock"), -ENOENT);
}
