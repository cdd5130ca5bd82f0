/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Network checks for an NVMe/RDMA listen address (SEEDS.md incident 1: an
 * Ethernet NIC and the RDMA NIC with addresses in one subnet; hosts' ARP and
 * the kernel's routing picked the wrong port and `nvme discover` got
 * ECONNRESET).
 *
 * For one address the checks find the interface that holds it and whether
 * that is the netdev of an RDMA device, list every other interface with an
 * address in the same subnet, ask the kernel which interface its route to a
 * host of that subnet leaves through, and read the ARP and reverse-path
 * sysctls that decide which port answers hosts' ARP requests and whether
 * their packets are dropped. Each finding is one line that names the
 * interfaces and, for a problem, the fix. doc/netcheck.md explains every
 * line.
 *
 * libc only (no DPDK, no verbs): the target calls it when it adds an RDMA
 * listener and routes the lines into its log; usertools/tern-netcheck runs
 * it on demand and prints the same lines. It reads sysfs and procfs, calls
 * getifaddrs() and sends one netlink request per address; no state is kept
 * between calls and it is safe to call from any thread.
 *
 * Environment (for tests; doc/netcheck.md):
 *   TERN_NETCHECK_SYSFS   where sysfs is mounted (default /sys): RDMA devices
 *                         and their netdevs are read below it
 *   TERN_NETCHECK_PROCFS  where procfs is mounted (default /proc): the
 *                         sysctls under sys/net/ipv4/conf/
 */
#ifndef TERN_NETCHECK_H
#define TERN_NETCHECK_H

enum tern_netcheck_level {
    TERN_NETCHECK_OK,       /* a check passed; the line says what was seen */
    TERN_NETCHECK_WARN,     /* works now but fragile, or could not be checked */
    TERN_NETCHECK_PROBLEM,  /* RDMA hosts will fail to connect, or may */
};

/* One finding: `line` is a complete sentence without a level prefix or a
 * newline, valid only during the call. */
typedef void (*tern_netcheck_cb)(enum tern_netcheck_level lvl, const char *line, void *ctx);

/*
 * Check the listen address `addr` (IPv4 or IPv6 text, no prefix, no port;
 * "0.0.0.0" and "::" check every address of every RDMA netdev) and call
 * `cb` once per finding, in order. Returns the number of PROBLEM findings
 * (0 when none), or -EINVAL when `addr` is not an IPv4/IPv6 address (cb is
 * not called), or another -errno when the interfaces cannot be listed.
 */
int tern_netcheck_addr(const char *addr, tern_netcheck_cb cb, void *ctx);

/* "OK", "WARN", "PROBLEM". */
const char *tern_netcheck_level_name(enum tern_netcheck_level lvl);

#endif /* TERN_NETCHECK_H */
