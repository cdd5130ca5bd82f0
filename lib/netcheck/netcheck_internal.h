/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pieces of lib/netcheck, between its two files and for the unit tests:
 * netcheck_sys.c gathers facts from the system (sysfs, procfs, getifaddrs,
 * netlink); netcheck.c judges them and writes the lines. The judging side
 * takes every fact through struct netcheck_env, so a test can hand it a
 * made-up machine.
 */
#ifndef NETCHECK_INTERNAL_H
#define NETCHECK_INTERNAL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "tern_netcheck.h"

#define NETCHECK_IBDEV_MAX 64   /* IB_DEVICE_NAME_MAX in the kernel */

/* One (RDMA device, netdev) pair. A device with no netdev at all is listed
 * once with netdev "" so that "no RDMA device" and "RDMA devices, none with
 * a netdev" can be told apart. */
struct netcheck_rdma {
    char ibdev[NETCHECK_IBDEV_MAX];
    unsigned int port;              /* 0: found without a port (parent, device/) */
    char netdev[IF_NAMESIZE];
};

union netcheck_ip {
    struct in_addr v4;
    struct in6_addr v6;
    uint8_t b[16];
};

/* One address of one interface, as getifaddrs() reports it. */
struct netcheck_ifaddr {
    char ifname[IF_NAMESIZE];
    int family;                     /* AF_INET or AF_INET6 */
    union netcheck_ip addr;
    unsigned int prefix;            /* bits of the netmask */
    unsigned int flags;             /* the interface's IFF_UP, IFF_RUNNING, ... */
};

/* An IPv4 conf sysctl as the kernel applies it to one interface. */
struct netcheck_sysctl {
    int all;                        /* conf/all/<name> */
    int dev;                        /* conf/<if>/<name> */
    int eff;                        /* what the kernel uses: max, or OR for arp_filter */
    int err;                        /* 0, or -errno when a file could not be read */
};

/* Output interface of the kernel's route to `dst` from `src` (src may be
 * NULL): 0 with `ifname` filled, or -errno. */
typedef int (*netcheck_route_fn)(void *ctx, int family, const void *dst, const void *src,
                                 char ifname[IF_NAMESIZE]);

/* Everything the checks know about the machine. */
struct netcheck_env {
    const char *sysfs;              /* shown in messages */
    const char *procfs;             /* sysctls are read below it */
    const struct netcheck_ifaddr *addrs;
    int naddrs;
    const struct netcheck_rdma *rdma;
    int nrdma;
    netcheck_route_fn route;
    void *route_ctx;
};

/* ---- netcheck_sys.c: facts */

/* Every RDMA device under <sysfs>/class/infiniband and the netdevs that
 * carry it: the per-port GID table's netdev names (gid_attrs/ndevs/<i>:
 * RoCE, soft-RoCE), the device's `parent` (rxe), the netdevs of its parent
 * device (device/net/) and netdevs whose parent device has it
 * (class/net/<if>/device/infiniband/: IPoIB). Sorted, without duplicates.
 * *out is malloc'ed (free() it); returns the count (0 when there is no
 * RDMA device) or -errno. */
int netcheck_rdma_scan(const char *sysfs, struct netcheck_rdma **out);

/* Read <procfs>/sys/net/ipv4/conf/<ifname>/<name> into *val: 0, -ENOENT, or
 * -EINVAL when the file does not hold one integer. */
int netcheck_sysctl_read(const char *procfs, const char *ifname, const char *name, int *val);

/* conf/all/<name>, conf/<ifname>/<name> and the value the kernel applies
 * to ifname (ip-sysctl.rst: arp_filter is enabled if either is; for
 * arp_ignore, arp_announce and rp_filter the larger one is used). On a
 * read error out->err says which, eff is -1, and 0 is still returned. */
void netcheck_sysctl_get(const char *procfs, const char *ifname, const char *name,
                         struct netcheck_sysctl *out);

/* Every IPv4 and IPv6 address of every interface (getifaddrs). *out is
 * malloc'ed; returns the count or -errno. */
int netcheck_ifaddrs_scan(struct netcheck_ifaddr **out);

/* The kernel's own route lookup, as `ip route get DST from SRC` asks it
 * (netlink RTM_GETROUTE). A netcheck_route_fn; ctx unused. */
int netcheck_route_get(void *ctx, int family, const void *dst, const void *src,
                       char ifname[IF_NAMESIZE]);

/* ---- netcheck.c: judgement */

/* Whether a/abits and b/bbits overlap: equal in the shorter prefix. */
bool netcheck_subnets_overlap(int family, const union netcheck_ip *a, unsigned int abits,
                              const union netcheck_ip *b, unsigned int bbits);

/* Indexes into env->addrs of the addresses on interfaces other than
 * self's whose subnet overlaps self's; returns how many (at most max). */
int netcheck_overlaps(const struct netcheck_env *env, const struct netcheck_ifaddr *self,
                      int *idx, int max);

/* A host address in addr/prefix other than addr itself, to ask the route
 * for: the subnet's first host, or its second when addr is the first; the
 * other end of a /31 (/127). -ENOENT for /32 (/128): no subnet to share. */
int netcheck_peer(int family, const union netcheck_ip *addr, unsigned int prefix,
                  union netcheck_ip *peer);

/* tern_netcheck_addr() on the facts in env. */
int netcheck_run(const struct netcheck_env *env, const char *addr, tern_netcheck_cb cb,
                 void *ctx);

#endif /* NETCHECK_INTERNAL_H */
