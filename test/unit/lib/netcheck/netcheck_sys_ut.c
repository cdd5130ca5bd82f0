/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/netcheck/netcheck_sys.c: RDMA netdevs from a fake sysfs, sysctls and
 * their effective values from a fake procfs, and the two live sources
 * (getifaddrs, the kernel's route lookup) on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "netcheck_internal.h"
#include "ut_tree.h"

TestSuite(netcheck_sys, .init = ut_tree_make, .fini = ut_tree_remove);

#define IB "class/infiniband/"

static int
scan(struct netcheck_rdma **v)
{
    int n = netcheck_rdma_scan(ut_tree_root, v);

    cr_assert_geq(n, 0, "scan failed: %s", strerror(-n));
    return n;
}

static void
expect(const struct netcheck_rdma *r, const char *ibdev, unsigned int port, const char *netdev)
{
    cr_expect_str_eq(r->ibdev, ibdev);
    cr_expect_eq(r->port, port, "%s: port %u, want %u", ibdev, r->port, port);
    cr_expect_str_eq(r->netdev, netdev, "%s: netdev '%s', want '%s'", ibdev, r->netdev, netdev);
}

Test(netcheck_sys, no_infiniband_class_means_no_rdma_device)
{
    struct netcheck_rdma *v;

    ut_tree_dir("class/net/eth0");
    cr_assert_eq(scan(&v), 0);
    free(v);
}

/* RoCE and soft-RoCE: the GID table names the netdev of each entry; unused
 * slots fail to read (EINVAL in real sysfs, here a directory and an empty
 * file) and are skipped; the same netdev in many slots is one entry. */
Test(netcheck_sys, roce_gid_table_names_the_netdev_once)
{
    struct netcheck_rdma *v;

    ut_tree_put(IB "rxe0/ports/1/gid_attrs/ndevs/0", "eth0\n");
    ut_tree_put(IB "rxe0/ports/1/gid_attrs/ndevs/1", "eth0\n");
    ut_tree_dir(IB "rxe0/ports/1/gid_attrs/ndevs/2");
    ut_tree_put(IB "rxe0/ports/1/gid_attrs/ndevs/3", "");
    ut_tree_put(IB "rxe0/ports/1/gid_attrs/ndevs/4", "eth0.100\n");     /* a VLAN's GIDs */
    cr_assert_eq(scan(&v), 2);
    expect(&v[0], "rxe0", 1, "eth0");
    expect(&v[1], "rxe0", 1, "eth0.100");
    free(v);
}

/* rxe's `parent` names its netdev before the GID table has entries; with
 * both, the entry keeps the port number. */
Test(netcheck_sys, rxe_parent_alone_and_with_gids)
{
    struct netcheck_rdma *v;

    ut_tree_put(IB "rxe1/parent", "eth1\n");
    ut_tree_dir(IB "rxe1/ports/1/gid_attrs/ndevs");
    ut_tree_put(IB "rxe2/parent", "eth2\n");
    ut_tree_put(IB "rxe2/ports/1/gid_attrs/ndevs/0", "eth2\n");
    cr_assert_eq(scan(&v), 2);
    expect(&v[0], "rxe1", 0, "eth1");
    expect(&v[1], "rxe2", 1, "eth2");
    free(v);
}

/* IPoIB and hardware RoCE: the netdev's parent device has the RDMA device
 * (class/net/<if>/device/infiniband/<dev>), and the RDMA device's parent
 * has the netdev (device/net/<if>). */
Test(netcheck_sys, parent_device_links_both_ways)
{
    struct netcheck_rdma *v;

    ut_tree_dir(IB "mlx5_0/ports/1");
    ut_tree_dir("class/net/ib0/device/infiniband/mlx5_0");
    ut_tree_dir("class/net/eth9");
    ut_tree_dir(IB "mlx5_1/device/net/enp1s0f1");
    cr_assert_eq(scan(&v), 2);
    expect(&v[0], "mlx5_0", 0, "ib0");
    expect(&v[1], "mlx5_1", 0, "enp1s0f1");
    free(v);
}

/* A device with no netdev is listed (so "no RDMA device" differs from
 * "RDMA devices without a netdev"); ports with their own netdevs are
 * separate entries; the list is sorted by device, port, netdev. */
Test(netcheck_sys, devices_without_netdev_and_two_ports_sorted)
{
    struct netcheck_rdma *v;

    ut_tree_dir(IB "siw0/ports/1/gid_attrs/ndevs");
    ut_tree_put(IB "mlx5_2/ports/2/gid_attrs/ndevs/0", "enp1s0f3\n");
    ut_tree_put(IB "mlx5_2/ports/1/gid_attrs/ndevs/0", "enp1s0f2\n");
    ut_tree_dir(IB "mlx5_2/ports/bogus");
    cr_assert_eq(scan(&v), 3);
    expect(&v[0], "mlx5_2", 1, "enp1s0f2");
    expect(&v[1], "mlx5_2", 2, "enp1s0f3");
    expect(&v[2], "siw0", 0, "");
    free(v);
}

#define CONF "sys/net/ipv4/conf/"

Test(netcheck_sys, sysctl_read_integer_or_errno)
{
    int v = -7;

    ut_tree_put(CONF "eth0/arp_ignore", "1\n");
    ut_tree_put(CONF "eth0/rp_filter", "two\n");
    ut_tree_put(CONF "eth0/arp_filter", "");
    ut_tree_put(CONF "eth0/arp_announce", "2 3\n");
    cr_assert_eq(netcheck_sysctl_read(ut_tree_root, "eth0", "arp_ignore", &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(netcheck_sysctl_read(ut_tree_root, "eth0", "rp_filter", &v), -EINVAL);
    cr_assert_eq(netcheck_sysctl_read(ut_tree_root, "eth0", "arp_filter", &v), -EINVAL);
    cr_assert_eq(netcheck_sysctl_read(ut_tree_root, "eth0", "arp_announce", &v), -EINVAL);
    cr_assert_eq(netcheck_sysctl_read(ut_tree_root, "eth1", "arp_ignore", &v), -ENOENT);
    cr_assert_eq(v, 1, "a failed read must not change the value");
}

static void
sysctl_pair(const char *name, const char *all, const char *dev)
{
    char rel[128];

    snprintf(rel, sizeof(rel), CONF "all/%s", name);
    ut_tree_put(rel, all);
    snprintf(rel, sizeof(rel), CONF "eth0/%s", name);
    ut_tree_put(rel, dev);
}

static int
eff(const char *name, const char *all, const char *dev)
{
    struct netcheck_sysctl s;

    sysctl_pair(name, all, dev);
    netcheck_sysctl_get(ut_tree_root, "eth0", name, &s);
    cr_assert_eq(s.err, 0, "%s: %s", name, strerror(-s.err));
    cr_assert_eq(s.all, atoi(all));
    cr_assert_eq(s.dev, atoi(dev));
    return s.eff;
}

/* ip-sysctl.rst: "The max value from conf/{all,interface}/..." for
 * arp_ignore, arp_announce and rp_filter. */
Test(netcheck_sys, effective_value_is_the_max_of_all_and_interface)
{
    cr_expect_eq(eff("arp_ignore", "0", "1"), 1);
    cr_expect_eq(eff("arp_ignore", "8", "1"), 8);
    cr_expect_eq(eff("arp_announce", "2", "0"), 2);
    cr_expect_eq(eff("arp_announce", "0", "1"), 1);
    cr_expect_eq(eff("rp_filter", "1", "2"), 2);
    cr_expect_eq(eff("rp_filter", "1", "0"), 1);
    cr_expect_eq(eff("rp_filter", "0", "0"), 0);
}

/* "arp_filter for the interface will be enabled if at least one of
 * conf/{all,interface}/arp_filter is set to TRUE". */
Test(netcheck_sys, arp_filter_is_enabled_by_either)
{
    cr_expect_eq(eff("arp_filter", "0", "0"), 0);
    cr_expect_eq(eff("arp_filter", "1", "0"), 1);
    cr_expect_eq(eff("arp_filter", "0", "1"), 1);
    cr_expect_eq(eff("arp_filter", "0", "5"), 1);
}

Test(netcheck_sys, unreadable_sysctl_is_an_error_not_a_value)
{
    struct netcheck_sysctl s;

    ut_tree_put(CONF "all/arp_ignore", "0\n");
    netcheck_sysctl_get(ut_tree_root, "eth0", "arp_ignore", &s);
    cr_assert_eq(s.err, -ENOENT);
    cr_assert_eq(s.eff, -1);
}

/* The live sources, on loopback: lo holds 127.0.0.1/8 and the kernel
 * routes 127.0.0.2 from 127.0.0.1 through lo. */
Test(netcheck_sys, getifaddrs_lists_loopback_with_its_prefix)
{
    struct netcheck_ifaddr *v;
    int n = netcheck_ifaddrs_scan(&v);
    bool found = false;

    cr_assert_geq(n, 1, "getifaddrs: %s", strerror(-n));
    for (int i = 0; i < n; i++)
        if (v[i].family == AF_INET && v[i].addr.v4.s_addr == htonl(INADDR_LOOPBACK)) {
            cr_expect_str_eq(v[i].ifname, "lo");
            cr_expect_eq(v[i].prefix, 8);
            found = true;
        }
    free(v);
    cr_assert(found, "127.0.0.1 not listed");
}

Test(netcheck_sys, kernel_route_lookup_names_the_output_interface)
{
    struct in_addr dst, src;
    struct in6_addr dst6 = IN6ADDR_LOOPBACK_INIT;
    char ifname[IF_NAMESIZE] = "";

    inet_pton(AF_INET, "127.0.0.2", &dst);
    inet_pton(AF_INET, "127.0.0.1", &src);
    cr_assert_eq(netcheck_route_get(NULL, AF_INET, &dst, &src, ifname), 0);
    cr_assert_str_eq(ifname, "lo");
    ifname[0] = '\0';
    cr_assert_eq(netcheck_route_get(NULL, AF_INET, &dst, NULL, ifname), 0);
    cr_assert_str_eq(ifname, "lo");
    /* A source that is not ours is refused by the kernel, not guessed at. */
    inet_pton(AF_INET, "198.51.100.7", &src);
    cr_assert_lt(netcheck_route_get(NULL, AF_INET, &dst, &src, ifname), 0);
    if (access("/proc/sys/net/ipv6", F_OK) == 0) {
        cr_assert_eq(netcheck_route_get(NULL, AF_INET6, &dst6, NULL, ifname), 0);
        cr_assert_str_eq(ifname, "lo");
    }
}
