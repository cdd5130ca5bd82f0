/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by unit tests that need a live EAL: two lcores, no hugepages, no
 * files (the way every test and CI run starts DPDK). */
#ifndef UT_ENV_H
#define UT_ENV_H

#include <criterion/criterion.h>

#include "tern_env.h"

static inline void
ut_env_init(void)
{
    char *argv[] = {
        (char *)"ut", (char *)"-l", (char *)"0-1", (char *)"--no-huge", (char *)"-m",
        (char *)"64", (char *)"--no-shconf", (char *)"--no-pci", (char *)"--no-telemetry",
        (char *)"--log-level", (char *)"*:warning", NULL,
    };
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

    cr_assert_eq(tern_env_init(argc, argv), argc - 1, "EAL init");
}

#endif
