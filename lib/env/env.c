/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_version.h>

#include "tern_config.h"
#include "tern_env.h"

_Static_assert(TERN_MAX_LCORES >= RTE_MAX_LCORE,
               "TERN_MAX_LCORES must cover every lcore id DPDK can hand out");

TERN_LOG_REGISTER(g_log, "tern.lib.env", INFO);

static bool g_initialized;
/* The primary process's runtime directory (/run/dpdk/<prefix>), removed at
 * exit after a clean stop so that no state outlives the target. */
static char g_runtime_dir[PATH_MAX];
static bool g_remove_runtime_dir;

static void
remove_runtime_dir(void)
{
    /* Runs after DPDK's own exit handlers (registered later, run earlier),
     * which unlink the telemetry sockets. */
    if (g_remove_runtime_dir && rmdir(g_runtime_dir) != 0 && errno != ENOENT)
        fprintf(stderr, "tern: could not remove %s: %s\n", g_runtime_dir, strerror(errno));
}

static void
remove_runtime_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX + 256];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        /* The telemetry socket goes with DPDK's exit handler. */
        if (e->d_name[0] == '.' || strncmp(e->d_name, "dpdk_telemetry", 14) == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            TERN_LOG(g_log, WARNING, "could not remove %s: %s", path, strerror(errno));
    }
    closedir(d);
}

int
tern_env_init(int argc, char **argv)
{
    int ret;

    static bool exit_hook;

    if (g_initialized)
        return -EALREADY;
    if (!exit_hook && atexit(remove_runtime_dir) == 0)
        exit_hook = true;
    ret = rte_eal_init(argc, argv);
    if (ret < 0) {
        int err = rte_errno ? rte_errno : EINVAL;

        TERN_LOG(g_log, ERR, "EAL initialisation failed: %s%s", rte_strerror(err),
                 err == ENOMEM || err == EACCES || err == ENOTSUP ?
                 " (no usable hugepages? run usertools/tern-setup, or pass --no-huge -m <MiB>)" : "");
        return -err;
    }
    g_initialized = true;
    TERN_LOG(g_log, INFO, "EAL up: %u lcore(s), main lcore %u, %u NUMA socket(s), IOVA as %s, %s",
             rte_lcore_count(), rte_get_main_lcore(), rte_socket_count(),
             tern_env_iova_mode(), rte_version());
    return ret;
}

void
tern_env_fini(void)
{
    bool primary;

    if (!g_initialized)
        return;
    primary = rte_eal_process_type() == RTE_PROC_PRIMARY;
    snprintf(g_runtime_dir, sizeof(g_runtime_dir), "%s", rte_eal_get_runtime_dir());
    rte_eal_cleanup();
    g_initialized = false;
    if (primary) {
        /* Files kept for secondary processes (config, fbarray_*, mp_socket). */
        remove_runtime_files(g_runtime_dir);
        g_remove_runtime_dir = true;
    }
}

bool
tern_env_initialized(void)
{
    return g_initialized;
}

void
tern_env_print_eal_usage_and_exit(const char *prog)
{
    /* EAL prints its usage and exits on --help, before touching memory. */
    char *args[] = { (char *)prog, (char *)"--help", NULL };

    rte_eal_init(2, args);
    exit(0);
}

uint32_t
tern_env_lcore_id(void)
{
    unsigned id = rte_lcore_id();

    return id == LCORE_ID_ANY ? TERN_ENV_LCORE_NONE : id;
}

uint32_t
tern_env_main_lcore(void)
{
    return rte_get_main_lcore();
}

uint32_t
tern_env_lcore_count(void)
{
    return rte_lcore_count();
}

int
tern_env_lcore_socket(uint32_t lcore)
{
    if (lcore >= RTE_MAX_LCORE)
        return -1;
    return (int)rte_lcore_to_socket_id(lcore);
}

uint32_t
tern_env_lcore_first(void)
{
    return tern_env_lcore_next(TERN_ENV_LCORE_NONE);
}

uint32_t
tern_env_lcore_next(uint32_t prev)
{
    /* rte_get_next_lcore(-1, ...) starts from the first lcore. */
    unsigned next = rte_get_next_lcore(prev == TERN_ENV_LCORE_NONE ? (unsigned)-1 : prev, 0, 0);

    return next >= RTE_MAX_LCORE ? TERN_ENV_LCORE_NONE : next;
}

uint32_t
tern_env_socket_count(void)
{
    return rte_socket_count();
}

int
tern_env_launch_all(int (*fn)(void *arg), void *arg)
{
    unsigned lcore;
    int ret, first;

    ret = rte_eal_mp_remote_launch(fn, arg, SKIP_MAIN);
    if (ret != 0) {
        TERN_LOG(g_log, ERR, "cannot launch on every lcore: a worker lcore is busy (%d)", ret);
        rte_eal_mp_wait_lcore();
        return ret;
    }
    first = fn(arg);
    RTE_LCORE_FOREACH_WORKER(lcore) {
        ret = rte_eal_wait_lcore(lcore);
        if (ret != 0 && first == 0)
            first = ret;
    }
    return first;
}

uint64_t
tern_env_ticks(void)
{
    return rte_get_timer_cycles();
}

uint64_t
tern_env_ticks_hz(void)
{
    return rte_get_timer_hz();
}

void
tern_env_delay_us(uint32_t us)
{
    rte_delay_us_sleep(us);
}

void
tern_env_pause(void)
{
    rte_pause();
}

const char *
tern_env_iova_mode(void)
{
    switch (rte_eal_iova_mode()) {
    case RTE_IOVA_PA: return "PA";
    case RTE_IOVA_VA: return "VA";
    default: return "DC";
    }
}

const char *
tern_env_dpdk_version(void)
{
    return rte_version();
}

int
tern_env_split_args(int argc, char **argv, int *eal_argc, int *app_argc, char ***app_argv)
{
    int i, n = 1, split = argc;
    char **a;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    a = calloc((size_t)(argc - split) + 2, sizeof(char *));
    if (a == NULL)
        return -ENOMEM;
    a[0] = argv[0];
    for (i = split + 1; i < argc; i++)
        a[n++] = argv[i];
    *eal_argc = split;
    *app_argc = n;
    *app_argv = a;
    return 0;
}
