/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/netcheck/netcheck.c: subnet overlap, the peer the route is asked for,
 * and the report on made-up machines (addresses, RDMA devices, a route
 * answer and a fake procfs): which lines, which levels, which names and
 * fixes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "netcheck_internal.h"
#include "ut_tree.h"

/* ------------------------------------------------------------ a machine */

#define MAXA 8

static struct netcheck_ifaddr g_addrs[MAXA];
static struct netcheck_rdma g_rdma[4];
static struct netcheck_env g_env;
static char g_oif[IF_NAMESIZE];         /* what the fake route lookup answers */
static int g_route_rc;
static char g_asked_dst[INET6_ADDRSTRLEN], g_asked_src[INET6_ADDRSTRLEN];

static int
fake_route(void *ctx, int family, const void *dst, const void *src, char ifname[IF_NAMESIZE])
{
    (void)ctx;
    inet_ntop(family, dst, g_asked_dst, sizeof(g_asked_dst));
    inet_ntop(family, src, g_asked_src, sizeof(g_asked_src));
    if (g_route_rc != 0)
        return g_route_rc;
    snprintf(ifname, IF_NAMESIZE, "%s", g_oif);
    return 0;
}

static void
add_addr(const char *ifname, const char *ip, unsigned int prefix, unsigned int flags)
{
    struct netcheck_ifaddr *a = &g_addrs[g_env.naddrs++];

    memset(a, 0, sizeof(*a));
    snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
    a->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    cr_assert_eq(inet_pton(a->family, ip, &a->addr), 1, "%s", ip);
    a->prefix = prefix;
    a->flags = flags;
}

static void
add_rdma(const char *ibdev, unsigned int port, const char *netdev)
{
    struct netcheck_rdma *r = &g_rdma[g_env.nrdma++];

    snprintf(r->ibdev, sizeof(r->ibdev), "%s", ibdev);
    r->port = port;
    snprintf(r->netdev, sizeof(r->netdev), "%s", netdev);
}

/* conf/<ifname>/<name> in the fake procfs */
static void
set_sysctl(const char *ifname, const char *name, int v)
{
    char rel[128], val[16];

    snprintf(rel, sizeof(rel), "sys/net/ipv4/conf/%s/%s", ifname, name);
    snprintf(val, sizeof(val), "%d\n", v);
    ut_tree_put(rel, val);
}

/* Linux defaults: every sysctl 0 on every interface. */
static void
default_sysctls(const char *ifname)
{
    static const char *names[] = {"arp_ignore", "arp_announce", "arp_filter", "rp_filter"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        set_sysctl(ifname, names[i], 0);
}

#define UPR (IFF_UP | IFF_RUNNING)

/* The VM's target: eth0 10.77.0.1/24 carrying rxe0, route through eth0. */
static void
setup(void)
{
    ut_tree_make();
    memset(&g_env, 0, sizeof(g_env));
    g_env.sysfs = "/fake/sys";
    g_env.procfs = ut_tree_root;
    g_env.addrs = g_addrs;
    g_env.rdma = g_rdma;
    g_env.route = fake_route;
    g_route_rc = 0;
    snprintf(g_oif, sizeof(g_oif), "eth0");
    g_asked_dst[0] = g_asked_src[0] = '\0';
    add_rdma("rxe0", 1, "eth0");
    add_addr("lo", "127.0.0.1", 8, UPR);
    add_addr("eth0", "10.77.0.1", 24, UPR);
    default_sysctls("all");
    default_sysctls("lo");
    default_sysctls("eth0");
    default_sysctls("dummy0");
}

TestSuite(netcheck, .init = setup, .fini = ut_tree_remove);

/* ------------------------------------------------------------ the lines */

#define MAXL 32

struct lines {
    int n;
    enum tern_netcheck_level lvl[MAXL];
    char *s[MAXL];
};

static struct lines g_out;

static void
collect(enum tern_netcheck_level lvl, const char *line, void *ctx)
{
    struct lines *o = ctx;

    cr_assert_lt(o->n, MAXL, "too many lines");
    cr_assert_null(strchr(line, '\n'), "a line with a newline: %s", line);
    o->lvl[o->n] = lvl;
    o->s[o->n] = strdup(line);
    o->n++;
}

static int
run(const char *addr)
{
    for (int i = 0; i < g_out.n; i++)
        free(g_out.s[i]);
    memset(&g_out, 0, sizeof(g_out));
    return netcheck_run(&g_env, addr, collect, &g_out);
}

static void
dump(void)
{
    for (int i = 0; i < g_out.n; i++)
        cr_log_info("%s %s", tern_netcheck_level_name(g_out.lvl[i]), g_out.s[i]);
}

/* The line of level lvl that contains every one of the words (NULL-ended). */
static const char *
find(enum tern_netcheck_level lvl, ...)
{
    for (int i = 0; i < g_out.n; i++) {
        va_list ap;
        const char *w;
        bool all = true;

        if (g_out.lvl[i] != lvl)
            continue;
        va_start(ap, lvl);
        while ((w = va_arg(ap, const char *)) != NULL)
            all = all && strstr(g_out.s[i], w) != NULL;
        va_end(ap);
        if (all)
            return g_out.s[i];
    }
    return NULL;
}

static int
count(enum tern_netcheck_level lvl)
{
    int n = 0;

    for (int i = 0; i < g_out.n; i++)
        n += g_out.lvl[i] == lvl;
    return n;
}

#define EXPECT_LINE(lvl, ...)                                                        \
    do {                                                                             \
        if (find(lvl, __VA_ARGS__, NULL) == NULL) {                                  \
            dump();                                                                  \
            cr_assert_fail("no %s line with: %s", tern_netcheck_level_name(lvl),     \
                           #__VA_ARGS__);                                            \
        }                                                                            \
    } while (0)

/* ------------------------------------------------------------ pieces */

static union netcheck_ip
ip(const char *s)
{
    union netcheck_ip v;

    memset(&v, 0, sizeof(v));
    cr_assert_eq(inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, &v), 1, "%s", s);
    return v;
}

static bool
ov(const char *a, unsigned int abits, const char *b, unsigned int bbits)
{
    union netcheck_ip x = ip(a), y = ip(b);

    return netcheck_subnets_overlap(strchr(a, ':') ? AF_INET6 : AF_INET, &x, abits, &y, bbits);
}

Test(netcheck, subnets_overlap_in_the_shorter_prefix)
{
    cr_expect(ov("10.77.0.1", 24, "10.77.0.200", 24));
    cr_expect(!ov("10.77.0.1", 24, "10.77.1.1", 24));
    cr_expect(ov("10.77.0.1", 24, "10.77.200.9", 16), "a /16 containing the /24");
    cr_expect(ov("10.77.200.9", 16, "10.77.0.1", 24));
    cr_expect(!ov("10.77.0.1", 25, "10.77.0.200", 25), "the two halves of a /24");
    cr_expect(ov("10.77.0.1", 25, "10.77.0.200", 24));
    cr_expect(!ov("10.77.8.1", 21, "10.77.16.1", 21), "a boundary inside a byte");
    cr_expect(ov("10.77.8.1", 21, "10.77.15.254", 21));
    cr_expect(ov("10.77.0.1", 32, "10.77.0.1", 32), "the same address");
    cr_expect(!ov("10.77.0.1", 32, "10.77.0.2", 32));
    cr_expect(ov("10.0.0.1", 0, "192.168.0.1", 24), "a default-route-sized prefix");
    cr_expect(ov("fd00:77::1", 64, "fd00:77::ffff:3", 64));
    cr_expect(!ov("fd00:77::1", 64, "fd00:78::1", 64));
    cr_expect(!ov("fd00:77::1", 127, "fd00:77::2", 127));
}

Test(netcheck, overlaps_skip_own_interface_and_other_family)
{
    int idx[8], n;

    add_addr("eth0", "10.77.0.9", 24, UPR);          /* a secondary on the same port */
    add_addr("dummy0", "10.77.0.3", 24, UPR);        /* 4 */
    add_addr("eth1", "10.78.0.3", 24, UPR);
    add_addr("eth2", "10.77.0.0", 16, UPR);          /* 6 */
    add_addr("eth3", "fd00::1", 64, UPR);
    n = netcheck_overlaps(&g_env, &g_addrs[1], idx, 8);
    cr_assert_eq(n, 2);
    cr_expect_eq(idx[0], 3);
    cr_expect_eq(idx[1], 5);
}

static void
expect_peer(const char *addr, unsigned int prefix, const char *want)
{
    union netcheck_ip a = ip(addr), p;
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    char got[INET6_ADDRSTRLEN];
    int rc = netcheck_peer(family, &a, prefix, &p);

    if (want == NULL) {
        cr_expect_eq(rc, -ENOENT, "%s/%u has a peer", addr, prefix);
        return;
    }
    cr_assert_eq(rc, 0, "%s/%u", addr, prefix);
    inet_ntop(family, &p, got, sizeof(got));
    cr_expect_str_eq(got, want, "%s/%u: peer %s, want %s", addr, prefix, got, want);
}

Test(netcheck, peer_is_a_host_of_the_subnet_other_than_the_address)
{
    expect_peer("10.77.0.5", 24, "10.77.0.1");
    expect_peer("10.77.0.1", 24, "10.77.0.2");
    expect_peer("10.77.0.130", 25, "10.77.0.129");
    expect_peer("10.77.0.4", 31, "10.77.0.5");
    expect_peer("10.77.0.5", 31, "10.77.0.4");
    expect_peer("10.77.0.5", 32, NULL);
    expect_peer("10.77.255.255", 16, "10.77.0.1");
    expect_peer("fd00:77::1", 64, "fd00:77::2");
    expect_peer("fd00:77::9", 64, "fd00:77::1");
    expect_peer("fd00:77::9", 128, NULL);
}

/* ------------------------------------------------------------ reports */

Test(netcheck, not_an_address_is_einval_and_says_nothing)
{
    const char *bad[] = {"", "foo", "10.77.0.1/24", "10.77.0.256", "10.77.0.1:4420", " 10.77.0.1",
                         "fd00::1::2"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(run(bad[i]), -EINVAL, "'%s'", bad[i]);
        cr_expect_eq(g_out.n, 0, "'%s' produced lines", bad[i]);
        cr_expect_eq(tern_netcheck_addr(bad[i], collect, &g_out), -EINVAL, "'%s'", bad[i]);
    }
    cr_expect_eq(tern_netcheck_addr("10.77.0.1", NULL, NULL), -EINVAL);
}

Test(netcheck, one_rdma_netdev_alone_in_its_subnet_is_all_ok)
{
    cr_assert_eq(run("10.77.0.1"), 0);
    cr_expect_eq(count(TERN_NETCHECK_PROBLEM) + count(TERN_NETCHECK_WARN), 0);
    EXPECT_LINE(TERN_NETCHECK_OK, "rxe0 port 1 on eth0");
    EXPECT_LINE(TERN_NETCHECK_OK, "10.77.0.1/24 is on eth0", "rxe0 port 1");
    EXPECT_LINE(TERN_NETCHECK_OK, "no other interface", "10.77.0.0/24");
    EXPECT_LINE(TERN_NETCHECK_OK, "leaves through eth0");
    EXPECT_LINE(TERN_NETCHECK_OK, "eth0 answers ARP", "arp_ignore=0 (all=0, eth0=0)");
    cr_expect_str_eq(g_asked_dst, "10.77.0.2");
    cr_expect_str_eq(g_asked_src, "10.77.0.1");
}

/* Incident 1 as the acceptance test builds it: a second interface with an
 * address in the listener's subnet, default sysctls. */
Test(netcheck, second_interface_in_the_subnet_is_a_problem_naming_both)
{
    add_addr("dummy0", "10.77.0.3", 24, UPR);
    cr_assert_geq(run("10.77.0.1"), 2);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "10.77.0.0/24", "on eth0", "also on dummy0 (10.77.0.3/24)",
                "ECONNRESET", "Fix: move dummy0 to another subnet",
                "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "dummy0 answers ARP requests for 10.77.0.1",
                "arp_ignore=0 (all=0, dummy0=0)", "Fix: sysctl -w net.ipv4.conf.all.arp_ignore=1");
    EXPECT_LINE(TERN_NETCHECK_WARN, "moved to dummy0", "arp_announce=0",
                "sysctl -w net.ipv4.conf.all.arp_announce=2");
    EXPECT_LINE(TERN_NETCHECK_OK, "leaves through eth0");
}

Test(netcheck, route_through_the_other_interface_is_a_problem)
{
    add_addr("dummy0", "10.77.0.3", 24, UPR);
    snprintf(g_oif, sizeof(g_oif), "dummy0");
    set_sysctl("all", "rp_filter", 1);
    set_sysctl("all", "arp_filter", 1);
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "leaves through dummy0, not eth0",
                "Fix: move dummy0 to another subnet");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "eth0 drops ARP requests", "rp_filter=1 (all=1, eth0=0)",
                "through dummy0", "sysctl -w net.ipv4.conf.all.rp_filter=2");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "eth0 does not answer ARP", "arp_filter=1");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "dummy0 answers ARP", "arp_filter=1 does not stop it");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "ARP requests that dummy0 sends", "announce 10.77.0.1",
                "net.ipv4.conf.all.arp_announce=2");
}

/* A route through an interface outside the subnet (a policy rule, a more
 * specific route): named, and its announcements judged. */
Test(netcheck, route_through_an_unrelated_interface)
{
    snprintf(g_oif, sizeof(g_oif), "eth9");
    default_sysctls("eth9");
    cr_assert_geq(run("10.77.0.1"), 2);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "leaves through eth9, not eth0", "ip rule");
    cr_expect_null(find(TERN_NETCHECK_PROBLEM, "move eth9", NULL));
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "ARP requests that eth9 sends");
}

Test(netcheck, arp_ignore_and_announce_mitigate_to_a_warning)
{
    add_addr("dummy0", "10.77.0.3", 24, UPR);
    set_sysctl("all", "arp_ignore", 1);
    set_sysctl("all", "arp_announce", 2);
    cr_assert_eq(run("10.77.0.1"), 0);
    EXPECT_LINE(TERN_NETCHECK_WARN, "also on dummy0", "safe now", "flap of eth0",
                "move dummy0 to another subnet");
    EXPECT_LINE(TERN_NETCHECK_OK, "dummy0 does not answer ARP", "arp_ignore=1 (all=1, dummy0=0)");
    EXPECT_LINE(TERN_NETCHECK_OK, "dummy0 announces only its own", "arp_announce=2");
    cr_expect_eq(count(TERN_NETCHECK_PROBLEM), 0);
}

/* arp_ignore 3 answers for global addresses of other interfaces, and the
 * max rule means setting all=1 does not lower dummy0's own 3: the fix must
 * set both (and name a VLAN's key with a slash, as sysctl(8) does). */
Test(netcheck, arp_ignore_3_still_answers_and_the_fix_sets_the_interface_too)
{
    add_addr("eth1.100", "10.77.0.3", 24, UPR);
    default_sysctls("eth1.100");
    set_sysctl("eth1.100", "arp_ignore", 3);
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "eth1.100 answers ARP", "arp_ignore=3 (all=0, eth1.100=3)",
                "sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth1/100.arp_ignore=1");
}

Test(netcheck, arp_filter_on_the_other_interface_stops_its_answers_while_the_route_is_ours)
{
    add_addr("dummy0", "10.77.0.3", 24, UPR);
    set_sysctl("dummy0", "arp_filter", 1);
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_OK, "dummy0 does not answer ARP", "arp_filter=1",
                "leaves through eth0");
}

Test(netcheck, arp_ignore_8_on_the_rdma_netdev_answers_nothing)
{
    set_sysctl("eth0", "arp_ignore", 8);
    cr_assert_eq(run("10.77.0.1"), 1);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "eth0 answers no ARP request", "arp_ignore=8",
                "net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=1");
}

Test(netcheck, strict_rp_filter_with_a_shared_subnet_is_a_warning_while_the_route_is_ours)
{
    add_addr("dummy0", "10.77.0.3", 24, UPR);
    set_sysctl("eth0", "rp_filter", 1);
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_WARN, "eth0 checks source addresses strictly",
                "rp_filter=1 (all=0, eth0=1)", "moved to dummy0",
                "sysctl -w net.ipv4.conf.all.rp_filter=2");
    /* max(all=2, eth0=1) is 2: the interface's own key needs no change. */
    cr_expect_null(find(TERN_NETCHECK_WARN, "net.ipv4.conf.eth0.rp_filter", NULL));
}

Test(netcheck, other_interface_down_is_a_warning_only)
{
    add_addr("dummy0", "10.77.0.3", 24, 0);
    cr_assert_eq(run("10.77.0.1"), 0);
    EXPECT_LINE(TERN_NETCHECK_WARN, "also on dummy0 (10.77.0.3/24, down)", "once up");
    cr_expect_null(find(TERN_NETCHECK_PROBLEM, "dummy0", NULL));
}

Test(netcheck, rdma_netdev_down_or_without_carrier_is_a_warning)
{
    g_addrs[1].flags = IFF_UP;
    cr_assert_eq(run("10.77.0.1"), 0);
    EXPECT_LINE(TERN_NETCHECK_WARN, "eth0 has no carrier");
    g_addrs[1].flags = 0;
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_WARN, "eth0 is down", "ip link set eth0 up");
}

Test(netcheck, address_not_configured)
{
    cr_assert_eq(run("10.77.0.9"), 1);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "10.77.0.9 is not configured on any interface");
}

Test(netcheck, address_on_an_interface_without_rdma)
{
    add_addr("eth1", "10.88.0.1", 24, UPR);
    snprintf(g_oif, sizeof(g_oif), "eth1");
    default_sysctls("eth1");
    cr_assert_eq(run("10.88.0.1"), 1);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "10.88.0.1/24 is on eth1", "not the netdev of any RDMA",
                "RDMA netdevs: eth0");
}

Test(netcheck, no_rdma_device_is_a_problem)
{
    g_env.nrdma = 0;
    cr_assert_geq(run("10.77.0.1"), 2);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "no RDMA device", "/fake/sys/class/infiniband",
                "rdma link add");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "10.77.0.1/24 is on eth0", "not the netdev");
}

/* The same address on two interfaces: judged on the RDMA one, the other
 * shares its subnet. */
Test(netcheck, same_address_on_two_interfaces)
{
    add_addr("dummy0", "10.77.0.1", 24, UPR);
    g_addrs[1] = g_addrs[2];
    snprintf(g_addrs[1].ifname, sizeof(g_addrs[1].ifname), "dummy0");
    snprintf(g_addrs[2].ifname, sizeof(g_addrs[2].ifname), "eth0");
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_OK, "10.77.0.1/24 is on eth0");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "also on dummy0 (10.77.0.1/24)");
}

Test(netcheck, wildcard_checks_every_rdma_netdev_address)
{
    add_rdma("rxe1", 1, "eth1");
    add_addr("eth1", "10.79.0.1", 24, UPR);
    add_addr("dummy0", "10.79.0.3", 24, UPR);       /* shares eth1's subnet */
    add_addr("eth0", "fd00:77::1", 64, UPR);
    default_sysctls("eth1");
    snprintf(g_oif, sizeof(g_oif), "eth1");         /* right for eth1, wrong for eth0 */
    cr_assert_geq(run("0.0.0.0"), 2);
    EXPECT_LINE(TERN_NETCHECK_OK, "10.77.0.1/24 is on eth0");
    EXPECT_LINE(TERN_NETCHECK_OK, "10.79.0.1/24 is on eth1");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "10.79.0.0/24", "also on dummy0");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "leaves through eth1, not eth0");
    cr_expect_null(find(TERN_NETCHECK_OK, "10.79.0.3/24 is on", NULL), "not an RDMA netdev's");
    cr_expect_null(find(TERN_NETCHECK_OK, "fd00", NULL), "IPv6 under an IPv4 wildcard");
}

Test(netcheck, wildcard_without_an_address_on_rdma_netdevs)
{
    cr_assert_eq(run("::"), 1);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "no IPv6 address on any RDMA netdev (eth0)", "::");
}

/* IPv6: the subnet and route checks, and no ARP sysctls (there is no ARP;
 * a Linux host answers neighbour solicitations only on the interface that
 * holds the address). */
Test(netcheck, ipv6_shared_prefix_and_route)
{
    add_addr("eth0", "fd00:77::1", 64, UPR);
    add_addr("dummy0", "fd00:77::3", 64, UPR);
    cr_assert_eq(run("fd00:77::1"), 0);
    EXPECT_LINE(TERN_NETCHECK_WARN, "fd00:77::/64", "also on dummy0 (fd00:77::3/64)", "safe now");
    cr_expect_str_eq(g_asked_dst, "fd00:77::2");
    snprintf(g_oif, sizeof(g_oif), "dummy0");
    cr_assert_eq(run("fd00:77::1"), 2);
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "also on dummy0", "the kernel's routing may pick dummy0");
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "leaves through dummy0, not eth0");
    for (int i = 0; i < g_out.n; i++)
        cr_expect_null(strstr(g_out.s[i], "arp_"), "IPv6 line about ARP: %s", g_out.s[i]);
}

Test(netcheck, ipv6_link_local_skips_subnet_and_route)
{
    add_addr("eth0", "fe80::1", 64, UPR);
    add_addr("dummy0", "fe80::3", 64, UPR);
    cr_assert_eq(run("fe80::1"), 0);
    EXPECT_LINE(TERN_NETCHECK_OK, "fe80::1 is link-local");
    cr_expect_null(find(TERN_NETCHECK_WARN, "dummy0", NULL));
    cr_expect_eq(g_asked_dst[0], '\0', "a route was asked for");
}

Test(netcheck, single_address_prefix_and_failed_route_lookup)
{
    g_addrs[1].prefix = 32;
    cr_assert_eq(run("10.77.0.1"), 0);
    EXPECT_LINE(TERN_NETCHECK_OK, "10.77.0.1/32 is a single address");
    g_addrs[1].prefix = 24;
    g_route_rc = -ENETUNREACH;
    cr_assert_eq(run("10.77.0.1"), 0);
    EXPECT_LINE(TERN_NETCHECK_WARN, "cannot ask the kernel", "route not checked");
}

Test(netcheck, unreadable_sysctls_are_warnings_not_guesses)
{
    char path[PATH_MAX];

    add_addr("dummy0", "10.77.0.3", 24, UPR);
    snprintf(path, sizeof(path), "%s/sys/net/ipv4/conf/dummy0/arp_ignore", ut_tree_root);
    cr_assert_eq(unlink(path), 0);
    run("10.77.0.1");
    EXPECT_LINE(TERN_NETCHECK_WARN, "cannot read", "net.ipv4.conf.dummy0.arp_ignore");
    /* Not known to be safe, so the shared subnet stays a problem. */
    EXPECT_LINE(TERN_NETCHECK_PROBLEM, "also on dummy0");
}

Test(netcheck, level_names)
{
    cr_expect_str_eq(tern_netcheck_level_name(TERN_NETCHECK_OK), "OK");
    cr_expect_str_eq(tern_netcheck_level_name(TERN_NETCHECK_WARN), "WARN");
    cr_expect_str_eq(tern_netcheck_level_name(TERN_NETCHECK_PROBLEM), "PROBLEM");
}
