/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-tgt: the NVMe-oF target daemon.
 *
 *   tern-tgt [EAL options] -- [-c FILE] [-r SOCKET] [--wait-for-rpc]
 *
 * One reactor per EAL lcore; the main lcore's reactor also serves JSON-RPC.
 * The configuration (a file, or the embedded default) is replayed through
 * the RPC handlers at start. SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tern_bdev.h"
#include "tern_config.h"
#include "tern_nvmf.h"
#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"

TERN_LOG_REGISTER(g_log, "tern.app.tgt", INFO);

/* Exit codes. */
#define EXIT_STARTUP 1      /* configuration, socket or environment failure */
#define EXIT_USAGE 2        /* bad command line */

/*
 * The configuration used when no -c is given, so that the target starts with
 * no file at all: a 16 MiB malloc namespace served over NVMe/TCP on
 * 127.0.0.1:4420 to any host (loopback only, so nothing is exposed). Sized
 * to fit the EAL's 64 MiB default of --no-huge: 64 shared data buffers of
 * 128 KiB. config/examples/ has configs for real loads.
 */
static const char g_default_config[] =
    "{\n"
    "  \"subsystems\": [\n"
    "    {\n"
    "      \"subsystem\": \"bdev\",\n"
    "      \"config\": [\n"
    "        {\"method\": \"bdev_malloc_create\",\n"
    "         \"params\": {\"name\": \"Malloc0\", \"num_blocks\": 32768, \"block_size\": 512}}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"subsystem\": \"nvmf\",\n"
    "      \"config\": [\n"
    "        {\"method\": \"nvmf_create_transport\",\n"
    "         \"params\": {\"trtype\": \"TCP\", \"num_shared_buffers\": 64}},\n"
    "        {\"method\": \"nvmf_create_subsystem\",\n"
    "         \"params\": {\"nqn\": \"nqn.2016-06.io.tern:cnode1\", \"allow_any_host\": true,\n"
    "                    \"serial_number\": \"TERN0000000000000001\", \"model_number\": \"Tern Malloc0\"}},\n"
    "        {\"method\": \"nvmf_subsystem_add_ns\",\n"
    "         \"params\": {\"nqn\": \"nqn.2016-06.io.tern:cnode1\", \"namespace\": {\"bdev_name\": \"Malloc0\"}}},\n"
    "        {\"method\": \"nvmf_subsystem_add_listener\",\n"
    "         \"params\": {\"nqn\": \"nqn.2016-06.io.tern:cnode1\",\n"
    "                    \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\",\n"
    "                                       \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}}}\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static struct {
    const char *config_file;
    const char *rpc_socket;
    bool wait_for_rpc;
} g_opts = {
    .rpc_socket = TERN_RPC_DEFAULT_SOCKET,
};

static volatile sig_atomic_t g_signal;
/* framework_wait_init callers, answered when the configuration is applied. */
#define MAX_INIT_WAITERS 64
static struct tern_rpc_request *g_init_waiters[MAX_INIT_WAITERS];
static int g_n_init_waiters;
static enum { INIT_PENDING, INIT_DONE, INIT_FAILED } g_init_state;
static int g_exit_code;
static bool g_shutting_down;
static struct tern_poller *g_signal_poller;

static void
usage(const char *prog)
{
    printf("Usage: %s [EAL options] -- [options]\n"
           "\n"
           "Tern NVMe-over-Fabrics target %s. EAL options (DPDK's: -l, --main-lcore,\n"
           "--socket-mem, -a, --no-huge, -m, --file-prefix, --in-memory, --iova-mode,\n"
           "--log-level, ...) come before `--`; they are listed after this section.\n"
           "\n"
           "Options (after `--`):\n"
           "  -c, --config FILE        JSON configuration in SPDK's shape, replayed through\n"
           "                           the RPC handlers at start. Default: the embedded\n"
           "                           configuration (--print-default-config shows it).\n"
           "  -r, --rpc-socket PATH    JSON-RPC Unix socket (default %s).\n"
           "      --wait-for-rpc       serve RPC only; apply the configuration when\n"
           "                           framework_start_init is called.\n"
           "      --print-default-config  print the embedded configuration and exit.\n"
           "      --version            print the version and exit.\n"
           "  -h, --help               this text, then EAL's options.\n"
           "\n"
           "SIGINT or SIGTERM stops the target cleanly (exit 0); a second one while it\n"
           "stops exits at once with 128+signal. Exit 1: start-up failed (the log says\n"
           "why); exit 2: bad command line.\n"
           "\n"
           "Example: %s -l 0-1 --no-huge -m 256 -- -r /var/tmp/tern.sock\n"
           "\n",
           prog, TERN_VERSION, TERN_RPC_DEFAULT_SOCKET, prog);
}

static void
on_signal(int signo)
{
    if (g_signal != 0)
        _exit(128 + signo);     /* second signal: the user insists */
    g_signal = signo;
}

static void answer_init_waiters(void);

static void
target_stopped(void *arg)
{
    (void)arg;
    tern_rpc_server_stop();
    tern_reactors_stop();
}

/* Hosts are disconnected and their I/O finished before the reactors stop. */
static void
shutdown_target(void)
{
    if (g_shutting_down)
        return;
    g_shutting_down = true;
    if (g_init_state == INIT_PENDING)
        g_init_state = INIT_FAILED;
    answer_init_waiters();
    tern_poller_unregister(&g_signal_poller);
    tern_nvmf_shutdown(target_stopped, NULL);
}

static int
signal_poll(void *arg)
{
    (void)arg;
    if (g_signal == 0)
        return TERN_POLLER_IDLE;
    TERN_LOG(g_log, NOTICE, "%s received: stopping", strsignal(g_signal));
    shutdown_target();
    return TERN_POLLER_BUSY;
}

static void
answer_init_waiters(void)
{
    while (g_n_init_waiters > 0) {
        struct tern_rpc_request *w = g_init_waiters[--g_n_init_waiters];

        if (g_init_state == INIT_DONE)
            tern_rpc_reply(w, NULL);
        else
            tern_rpc_reply_error(w, TERN_RPC_INTERNAL_ERROR, "start-up failed; see the log");
    }
}

static void
framework_wait_init(struct tern_rpc_request *req, const json_t *params)
{
    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    if (g_init_state == INIT_DONE) {
        tern_rpc_reply(req, NULL);
    } else if (g_init_state == INIT_FAILED) {
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "start-up failed; see the log");
    } else if (g_n_init_waiters == MAX_INIT_WAITERS) {
        tern_rpc_reply_error(req, TERN_RPC_INTERNAL_ERROR, "too many framework_wait_init calls waiting");
    } else {
        g_init_waiters[g_n_init_waiters++] = req;
    }
}
TERN_RPC_REGISTER("framework_wait_init", framework_wait_init, TERN_RPC_STARTUP | TERN_RPC_RUNTIME)

static void
config_done(void *ctx, int status)
{
    struct tern_rpc_request *req = ctx;

    g_init_state = status == 0 ? INIT_DONE : INIT_FAILED;
    answer_init_waiters();

    if (status != 0) {
        if (req != NULL) {
            tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS,
                                 "configuration %s failed; see the target's log",
                                 g_opts.config_file ? g_opts.config_file : "(embedded default)");
        }
        TERN_LOG(g_log, ERR, "configuration failed: stopping");
        g_exit_code = EXIT_STARTUP;
        shutdown_target();
        return;
    }
    TERN_LOG(g_log, NOTICE, "tern-tgt ready: RPC on %s", g_opts.rpc_socket);
    if (req != NULL)
        tern_rpc_reply(req, NULL);
}

/* Start the subsystems with the options set so far (--wait-for-rpc lets a
 * script set them first), then replay the configuration. */
static int
apply_config(struct tern_rpc_request *req)
{
    int rc = tern_bdev_init();

    if (rc != 0) {
        TERN_LOG(g_log, ERR, "cannot start the bdev layer: %s", strerror(-rc));
        return rc;
    }
    rc = tern_nvmf_init();
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "cannot start the NVMe-oF target: %s", strerror(-rc));
        return rc;
    }
    tern_rpc_set_state(TERN_RPC_RUNTIME);
    if (g_opts.config_file != NULL)
        return tern_rpc_config_load_file(g_opts.config_file, config_done, req);
    return tern_rpc_config_load_string(g_default_config, "embedded default config",
                                       config_done, req);
}

static void
framework_start_init(struct tern_rpc_request *req, const json_t *params)
{
    if (!tern_rpc_decode_or_reply(req, params, NULL, 0, NULL))
        return;
    if (apply_config(req) != 0) {
        tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS,
                             "configuration %s could not be read; see the target's log",
                             g_opts.config_file ? g_opts.config_file : "(embedded default)");
        g_exit_code = EXIT_STARTUP;
        shutdown_target();
    }
}
TERN_RPC_REGISTER("framework_start_init", framework_start_init, TERN_RPC_STARTUP)

static void
start_target(void *a1, void *a2)
{
    int rc;
    (void)a1;
    (void)a2;

    rc = tern_rpc_server_start(g_opts.rpc_socket);
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "cannot serve RPC on %s: %s", g_opts.rpc_socket, strerror(-rc));
        g_exit_code = EXIT_STARTUP;
        shutdown_target();
        return;
    }
    if (g_opts.wait_for_rpc) {
        TERN_LOG(g_log, NOTICE, "waiting for framework_start_init on %s", g_opts.rpc_socket);
        return;
    }
    if (apply_config(NULL) != 0) {
        g_exit_code = EXIT_STARTUP;
        shutdown_target();
    }
}

/* Parse our half of the command line (argv[0] is the program). */
static int
parse_app_args(int argc, char **argv)
{
    enum { OPT_WAIT = 256, OPT_PRINT_CONFIG, OPT_VERSION };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "rpc-socket", required_argument, NULL, 'r' },
        { "wait-for-rpc", no_argument, NULL, OPT_WAIT },
        { "print-default-config", no_argument, NULL, OPT_PRINT_CONFIG },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:r:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            g_opts.config_file = optarg;
            break;
        case 'r':
            g_opts.rpc_socket = optarg;
            break;
        case OPT_WAIT:
            g_opts.wait_for_rpc = true;
            break;
        case OPT_PRINT_CONFIG:
            fputs(g_default_config, stdout);
            exit(0);
        case OPT_VERSION:
            printf("tern-tgt %s\n", TERN_VERSION);
            exit(0);
        case 'h':
            usage(argv[0]);
            tern_env_print_eal_usage_and_exit(argv[0]);
        case ':':
            fprintf(stderr, "%s: option %s needs an argument (see --help)\n", argv[0],
                    argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "%s: unknown option %s (see --help)\n", argv[0], argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", argv[0], argv[optind]);
        return -EINVAL;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct sigaction sa;
    int eal_argc, app_argc, rc;
    char **app_argv;

    /* EAL's half before `--`, ours after. Ours is checked first so that a
     * typo costs no EAL start-up. --help anywhere shows both. */
    rc = tern_env_split_args(argc, argv, &eal_argc, &app_argc, &app_argv);
    if (rc == 1) {
        usage(argv[0]);
        tern_env_print_eal_usage_and_exit(argv[0]);
    }
    if (rc < 0)
        return EXIT_STARTUP;
    rc = parse_app_args(app_argc, app_argv);
    if (rc != 0) {
        free(app_argv);
        return EXIT_USAGE;
    }

    rc = tern_env_init(eal_argc, argv);
    if (rc < 0) {
        free(app_argv);
        return EXIT_STARTUP;
    }
    rc = tern_reactors_init();
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "cannot create the reactors: %s", strerror(-rc));
        tern_env_fini();
        free(app_argv);
        return EXIT_STARTUP;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g_signal_poller = tern_poller_register(signal_poll, NULL, 10000, "signal");
    if (g_signal_poller == NULL ||
        tern_reactor_send_msg(tern_env_main_lcore(), start_target, NULL, NULL) != 0) {
        TERN_LOG(g_log, ERR, "cannot schedule start-up on the main lcore");
        g_exit_code = EXIT_STARTUP;
    } else {
        rc = tern_reactors_start();
        if (rc != 0 && g_exit_code == 0)
            g_exit_code = EXIT_STARTUP;
    }
    tern_rpc_server_stop();
    tern_nvmf_fini();
    tern_bdev_fini();
    tern_reactors_fini();
    tern_env_fini();
    free(app_argv);
    TERN_LOG(g_log, NOTICE, "tern-tgt exiting with status %d", g_exit_code);
    return g_exit_code;
}
