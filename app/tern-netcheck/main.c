/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-netcheck ADDRESS...: the network checks tern-tgt runs when it adds an
 * RDMA listener (incident 1: two NICs in one subnet), on demand, with the
 * same lines. One line per finding, a summary per address.
 * Exit: 0 no problem, 1 a problem, 2 usage or a bad address, 3 the checks
 * could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern_build_config.h"
#include "tern_netcheck.h"

struct counts {
    int warn;
    int problem;
    int quiet;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: tern-netcheck [-q] ADDRESS [ADDRESS...]\n"
            "\n"
            "Checks an NVMe/RDMA listen address (IPv4 or IPv6; 0.0.0.0 or :: for every\n"
            "address of every RDMA netdev) the way tern-tgt does when it adds a listener:\n"
            "the interface that holds it and whether it is an RDMA netdev, other\n"
            "interfaces with an address in the same subnet, the interface the kernel's\n"
            "route to that subnet leaves through, and the ARP and rp_filter sysctls.\n"
            "Prints one line per finding (OK, WARN or PROBLEM; a problem names the\n"
            "interfaces and the fix) and a summary per address. doc/netcheck.md explains\n"
            "every line.\n"
            "\n"
            "  -q, --quiet    print only WARN and PROBLEM lines and the summaries\n"
            "  -h, --help     this text\n"
            "\n"
            "Environment: TERN_NETCHECK_SYSFS (default /sys), TERN_NETCHECK_PROCFS\n"
            "(default /proc): read RDMA devices and sysctls below another tree (tests).\n"
            "Exit status: 0 no problem (warnings allowed), 1 at least one problem,\n"
            "2 usage error or not an IPv4/IPv6 address, 3 the checks could not run.\n"
            "tern %s\n", TERN_VERSION);
}

static void
print_line(enum tern_netcheck_level lvl, const char *line, void *ctx)
{
    struct counts *c = ctx;

    if (lvl == TERN_NETCHECK_WARN)
        c->warn++;
    else if (lvl == TERN_NETCHECK_PROBLEM)
        c->problem++;
    if (c->quiet && lvl == TERN_NETCHECK_OK)
        return;
    printf("%-7s %s\n", tern_netcheck_level_name(lvl), line);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int quiet = 0, ch, any_problem = 0, failed = 0;

    while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "tern-netcheck: see --help\n");
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    /* Every address first, so that a typo costs nothing but its message. */
    for (int i = optind; i < argc; i++) {
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, argv[i], buf) != 1 && inet_pton(AF_INET6, argv[i], buf) != 1) {
            fprintf(stderr, "tern-netcheck: '%s' is not an IPv4 or IPv6 address "
                    "(no prefix, no port; e.g. 10.77.0.1 or fd00::1)\n", argv[i]);
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        struct counts c = {.quiet = quiet};
        int rc;

        if (i > optind)
            printf("\n");
        printf("== %s\n", argv[i]);
        fflush(stdout);
        rc = tern_netcheck_addr(argv[i], print_line, &c);
        if (rc < 0) {
            fprintf(stderr, "tern-netcheck: %s: cannot run the checks: %s\n", argv[i],
                    strerror(-rc));
            failed = 1;
            continue;
        }
        printf("Summary for %s: %d problem%s, %d warning%s\n", argv[i], c.problem,
               c.problem == 1 ? "" : "s", c.warn, c.warn == 1 ? "" : "s");
        any_problem |= c.problem > 0;
    }
    fflush(stdout);
    if (failed)
        return 3;
    return any_problem ? 1 : 0;
}
