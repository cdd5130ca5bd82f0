/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_log.h>

#include "tern_log.h"

_Static_assert(TERN_LOG_ERR == RTE_LOG_ERR, "log level mismatch");
_Static_assert(TERN_LOG_WARNING == RTE_LOG_WARNING, "log level mismatch");
_Static_assert(TERN_LOG_NOTICE == RTE_LOG_NOTICE, "log level mismatch");
_Static_assert(TERN_LOG_INFO == RTE_LOG_INFO, "log level mismatch");
_Static_assert(TERN_LOG_DEBUG == RTE_LOG_DEBUG, "log level mismatch");

/* rte_log has no public "name of type" call; keep the names we gave. */
#define MAX_TYPES 1024
static const char *g_names[MAX_TYPES];

int
tern_log_register(const char *name, int default_level)
{
    int type = rte_log_register_type_and_pick_level(name, (uint32_t)default_level);

    if (type >= 0 && type < MAX_TYPES)
        g_names[type] = name;
    return type;
}

int
tern_log_type_level(int type)
{
    return rte_log_get_level((uint32_t)type);
}

static const char *
level_name(int level)
{
    switch (level) {
    case TERN_LOG_ERR: return "error";
    case TERN_LOG_WARNING: return "warning";
    case TERN_LOG_NOTICE: return "notice";
    case TERN_LOG_INFO: return "info";
    case TERN_LOG_DEBUG: return "debug";
    default: return "log";
    }
}

void
tern_log_write(int type, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    const char *name = "tern";

    if (type < 0 || !rte_log_can_log((uint32_t)type, (uint32_t)level))
        return;
    if (type < MAX_TYPES && g_names[type] != NULL)
        name = g_names[type];
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
        msg[sizeof(msg) - 2] = '\n'; /* truncated: keep one line per message */
    va_end(ap);
    rte_log((uint32_t)level, (uint32_t)type, "%s: %s: %s", name, level_name(level), msg);
}
