/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging. Every module registers one log type named `tern.lib.<x>` or
 * `tern.drv.<class>.<name>` and logs through it; levels and routing are
 * DPDK's (--log-level=tern.lib.rpc:debug works), the text says what failed,
 * on which object and why.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>

/* Same numbers as RTE_LOG_* (checked in env_log.c). */
#define TERN_LOG_ERR     4
#define TERN_LOG_WARNING 5
#define TERN_LOG_NOTICE  6
#define TERN_LOG_INFO    7
#define TERN_LOG_DEBUG   8

/* Register a log type; returns its id (>= 0) or -1. Safe before EAL init. */
int tern_log_register(const char *name, int default_level);
void tern_log_write(int type, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tern_log_type_level(int type);

/* Defines `static int var` and registers it at program load. */
#define TERN_LOG_REGISTER(var, name, level)                                  \
    static int var = -1;                                                     \
    __attribute__((constructor)) static void var##_register(void)            \
    {                                                                        \
        var = tern_log_register(name, TERN_LOG_##level);                     \
    }

#define TERN_LOG(type, level, fmt, ...)                                      \
    tern_log_write(type, TERN_LOG_##level, fmt "\n", ##__VA_ARGS__)

#endif /* TERN_LOG_H */
