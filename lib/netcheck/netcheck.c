/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The network checks of a listen address (incident 1), judged from the
 * facts netcheck_sys.c gathers. What each line means and why each level
 * was chosen: doc/netcheck.md. In short, PROBLEM means RDMA hosts fail (or
 * may fail, depending on which port's ARP answer arrives first) with the
 * machine as it is now; WARN means it works now but a flap or a link-up
 * of the other interface can break it, or something could not be checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcheck_internal.h"

#define LINE_MAX_LEN 1536
#define OVERLAP_MAX 64

const char *
tern_netcheck_level_name(enum tern_netcheck_level lvl)
{
    switch (lvl) {
    case TERN_NETCHECK_OK:
        return "OK";
    case TERN_NETCHECK_WARN:
        return "WARN";
    case TERN_NETCHECK_PROBLEM:
        return "PROBLEM";
    }
    return "?";
}

/* ------------------------------------------------------------ addresses */

static unsigned int
family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Clear every bit of `ip` past the first `bits`. */
static void
mask_to(union netcheck_ip *ip, int family, unsigned int bits)
{
    unsigned int len = family_bits(family) / 8;

    for (unsigned int i = 0; i < len; i++) {
        if (bits >= 8 * (i + 1))
            continue;
        ip->b[i] &= bits > 8 * i ? (uint8_t)(0xff << (8 - (bits - 8 * i))) : 0;
    }
}

bool
netcheck_subnets_overlap(int family, const union netcheck_ip *a, unsigned int abits,
                         const union netcheck_ip *b, unsigned int bbits)
{
    union netcheck_ip x = *a, y = *b;
    unsigned int bits = abits < bbits ? abits : bbits;

    mask_to(&x, family, bits);
    mask_to(&y, family, bits);
    return memcmp(x.b, y.b, family_bits(family) / 8) == 0;
}

int
netcheck_overlaps(const struct netcheck_env *env, const struct netcheck_ifaddr *self,
                  int *idx, int max)
{
    int n = 0;

    for (int i = 0; i < env->naddrs && n < max; i++) {
        const struct netcheck_ifaddr *o = &env->addrs[i];

        if (o->family != self->family || strcmp(o->ifname, self->ifname) == 0)
            continue;
        if (netcheck_subnets_overlap(self->family, &self->addr, self->prefix, &o->addr, o->prefix))
            idx[n++] = i;
    }
    return n;
}

/* ip + k, k small, carried through the bytes (the host part of a subnet). */
static void
add_small(union netcheck_ip *ip, int family, unsigned int k)
{
    for (int i = (int)family_bits(family) / 8 - 1; i >= 0 && k != 0; i--) {
        unsigned int v = ip->b[i] + k;

        ip->b[i] = (uint8_t)v;
        k = v >> 8;
    }
}

int
netcheck_peer(int family, const union netcheck_ip *addr, unsigned int prefix,
              union netcheck_ip *peer)
{
    unsigned int all = family_bits(family);
    unsigned int len = all / 8;

    if (prefix >= all)
        return -ENOENT;
    *peer = *addr;
    if (prefix == all - 1) {                /* RFC 3021 / RFC 6164 point-to-point pair */
        peer->b[len - 1] ^= 1;
        return 0;
    }
    mask_to(peer, family, prefix);
    add_small(peer, family, 1);
    if (memcmp(peer->b, addr->b, len) == 0)
        add_small(peer, family, 1);
    return 0;
}

static bool
is_v6_link_local(const struct netcheck_ifaddr *a)
{
    return a->family == AF_INET6 && a->addr.b[0] == 0xfe && (a->addr.b[1] & 0xc0) == 0x80;
}

static const char *
ip_str(int family, const union netcheck_ip *ip, char *buf, size_t len)
{
    if (inet_ntop(family, ip, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

/* ------------------------------------------------------------ lines */

struct line {
    char s[LINE_MAX_LEN];
    size_t n;
};

static void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
line_add(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (l->n >= sizeof(l->s) - 1)
        return;
    va_start(ap, fmt);
    w = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    l->n += (size_t)w;
    if (l->n >= sizeof(l->s) - 1) {         /* truncated: say so */
        l->n = sizeof(l->s) - 1;
        memcpy(l->s + l->n - 3, "...", 4);
    }
}

struct report {
    const struct netcheck_env *env;
    tern_netcheck_cb cb;
    void *ctx;
    int problems;
};

static void
emit(struct report *r, enum tern_netcheck_level lvl, struct line *l)
{
    if (lvl == TERN_NETCHECK_PROBLEM)
        r->problems++;
    r->cb(lvl, l->s, r->ctx);
    l->n = 0;
    l->s[0] = '\0';
}

/* "rxe0 port 1, mlx5_0" for the RDMA devices that netdev carries; false
 * (and nothing added) when it carries none. */
static bool
add_rdma_of(struct line *l, const struct netcheck_env *env, const char *netdev)
{
    bool any = false;

    for (int i = 0; i < env->nrdma; i++) {
        const struct netcheck_rdma *d = &env->rdma[i];

        if (d->netdev[0] == '\0' || strcmp(d->netdev, netdev) != 0)
            continue;
        line_add(l, "%s%s", any ? ", " : "", d->ibdev);
        if (d->port != 0)
            line_add(l, " port %u", d->port);
        any = true;
    }
    return any;
}

static bool
is_rdma_netdev(const struct netcheck_env *env, const char *netdev)
{
    for (int i = 0; i < env->nrdma; i++)
        if (env->rdma[i].netdev[0] != '\0' && strcmp(env->rdma[i].netdev, netdev) == 0)
            return true;
    return false;
}

/* The RDMA netdevs, each once: "eth0, ib0"; false when there is none. */
static bool
add_rdma_netdevs(struct line *l, const struct netcheck_env *env)
{
    bool any = false;

    for (int i = 0; i < env->nrdma; i++) {
        const char *n = env->rdma[i].netdev;
        bool seen = false;

        if (n[0] == '\0')
            continue;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(env->rdma[j].netdev, n) == 0;
        if (!seen) {
            line_add(l, "%s%s", any ? ", " : "", n);
            any = true;
        }
    }
    return any;
}

/* ------------------------------------------------------------ sysctls */

/* The name sysctl(8) gives an interface's key: dots in the name become
 * slashes (eth0.100 -> eth0/100). */
static void
add_sysctl_key(struct line *l, const char *ifname, const char *name)
{
    line_add(l, "net.ipv4.conf.");
    for (const char *c = ifname; *c != '\0'; c++)
        line_add(l, "%c", *c == '.' ? '/' : *c);
    line_add(l, ".%s", name);
}

/* "arp_ignore=0 (all=0, eth0=0)": the value in effect and where it comes from. */
static void
add_sysctl_value(struct line *l, const char *ifname, const char *name,
                 const struct netcheck_sysctl *s)
{
    line_add(l, "%s=%d (all=%d, %s=%d)", name, s->eff, s->all, ifname, s->dev);
}

/* "sysctl -w net.ipv4.conf.all.X=want", plus the interface's own key when
 * its value would still win over `want` (the kernel combines the two). */
static void
add_sysctl_fix(struct line *l, const char *ifname, const char *name, int want,
               const struct netcheck_sysctl *s)
{
    bool or_rule = strcmp(name, "arp_filter") == 0;
    int combined = or_rule ? ((want != 0 || s->dev != 0) ? 1 : 0) : (want > s->dev ? want : s->dev);

    line_add(l, "sysctl -w ");
    add_sysctl_key(l, "all", name);
    line_add(l, "=%d", want);
    if (combined != want) {
        line_add(l, " ");
        add_sysctl_key(l, ifname, name);
        line_add(l, "=%d", want);
    }
}

/* Whether an interface answers ARP requests for a local address that is
 * configured on ANOTHER interface, by the arp_ignore in effect on it (the
 * kernel's arp_ignore(): 1 and 2 want the address on the incoming
 * interface, 8 answers nothing, 3 only refuses host-scope addresses and the
 * reserved 4-7 and anything else behave like 0). */
static bool
arp_ignore_answers_for_others(int eff)
{
    return !(eff == 1 || eff == 2 || eff == 8);
}

static bool
sysctl_unreadable(struct report *r, struct line *l, const char *ifname, const char *name,
                  const struct netcheck_sysctl *s, const char *what)
{
    if (s->err == 0)
        return false;
    line_add(l, "cannot read ");
    add_sysctl_key(l, "all", name);
    line_add(l, " or ");
    add_sysctl_key(l, ifname, name);
    line_add(l, " under %s (%s): %s not checked", r->env->procfs, strerror(-s->err), what);
    emit(r, TERN_NETCHECK_WARN, l);
    return true;
}

/* ------------------------------------------------------------ one address */

struct other {                          /* an interface sharing the subnet */
    const char *ifname;
    bool up;
    struct netcheck_sysctl ignore, filter, announce;
    bool answers;                       /* answers hosts' ARP for the listen address */
};

/* Everything known about one listen address, gathered before any line is
 * written: the verdict on the shared subnet depends on the route and the
 * sysctls, but reads best before them. */
struct check {
    const struct netcheck_ifaddr *self;
    char addr[INET6_ADDRSTRLEN];
    char subnet[INET6_ADDRSTRLEN + 8];
    const char *home;
    bool v4;
    struct other other[OVERLAP_MAX];
    int nother;
    int ov[OVERLAP_MAX];                /* indexes of overlapping addresses */
    int nov;
    bool any_up;
    int peer_rc, route_rc;              /* -ENOENT: no peer (a /32); route lookup result */
    bool route_known, route_bad;
    char peer[INET6_ADDRSTRLEN];
    char oif[IF_NAMESIZE];
    struct netcheck_sysctl ignore, filter, rpf;        /* of home */
    struct netcheck_sysctl oif_announce;               /* of oif, when not among other[] */
    bool mitigated;
};

static void
add_other_names(struct line *l, const struct check *c)
{
    int k = 0, total = 0;

    for (int i = 0; i < c->nother; i++)
        total += c->other[i].up;
    for (int i = 0; i < c->nother; i++) {
        if (!c->other[i].up)
            continue;
        line_add(l, "%s%s", k == 0 ? "" : (k == total - 1 ? " and " : ", "), c->other[i].ifname);
        k++;
    }
}

static void
gather_others(const struct netcheck_env *env, struct check *c)
{
    c->nov = netcheck_overlaps(env, c->self, c->ov, OVERLAP_MAX);
    for (int i = 0; i < c->nov; i++) {
        const struct netcheck_ifaddr *o = &env->addrs[c->ov[i]];
        int j;

        for (j = 0; j < c->nother; j++)
            if (strcmp(c->other[j].ifname, o->ifname) == 0)
                break;
        if (j == c->nother) {
            memset(&c->other[j], 0, sizeof(c->other[j]));
            c->other[j].ifname = o->ifname;
            c->nother++;
        }
        if (o->flags & IFF_UP) {
            c->other[j].up = true;
            c->any_up = true;
        }
    }
}

static void
gather_route(const struct netcheck_env *env, struct check *c)
{
    const struct netcheck_ifaddr *s = c->self;
    union netcheck_ip peer;

    c->peer_rc = netcheck_peer(s->family, &s->addr, s->prefix, &peer);
    if (c->peer_rc != 0)
        return;
    ip_str(s->family, &peer, c->peer, sizeof(c->peer));
    c->route_rc = env->route(env->route_ctx, s->family, &peer, &s->addr, c->oif);
    c->route_known = c->route_rc == 0;
    c->route_bad = c->route_known && strcmp(c->oif, c->home) != 0;
}

static const struct other *
find_other(const struct check *c, const char *ifname)
{
    for (int i = 0; i < c->nother; i++)
        if (strcmp(c->other[i].ifname, ifname) == 0)
            return &c->other[i];
    return NULL;
}

/* IPv4 only: IPv6 has no ARP (a Linux host answers a neighbour
 * solicitation only on the interface that holds the address) and no
 * rp_filter sysctl. */
static void
gather_sysctls(const struct netcheck_env *env, struct check *c)
{
    const char *procfs = env->procfs;

    netcheck_sysctl_get(procfs, c->home, "arp_ignore", &c->ignore);
    netcheck_sysctl_get(procfs, c->home, "arp_filter", &c->filter);
    netcheck_sysctl_get(procfs, c->home, "rp_filter", &c->rpf);
    for (int i = 0; i < c->nother; i++) {
        struct other *o = &c->other[i];
        /* arp_filter: an interface answers only when the kernel would
         * route to the asking host through it. */
        bool via_o = c->route_known && strcmp(c->oif, o->ifname) == 0;

        if (!o->up)
            continue;
        netcheck_sysctl_get(procfs, o->ifname, "arp_ignore", &o->ignore);
        netcheck_sysctl_get(procfs, o->ifname, "arp_filter", &o->filter);
        netcheck_sysctl_get(procfs, o->ifname, "arp_announce", &o->announce);
        o->answers = o->ignore.err == 0 && o->filter.err == 0
                     && arp_ignore_answers_for_others(o->ignore.eff)
                     && (o->filter.eff == 0 || via_o);
        if (o->answers || o->ignore.err != 0 || o->filter.err != 0 || o->announce.err != 0
            || o->announce.eff < 2)
            c->mitigated = false;
    }
    if (c->route_bad && find_other(c, c->oif) == NULL)
        netcheck_sysctl_get(procfs, c->oif, "arp_announce", &c->oif_announce);
}

static void
report_holder(struct report *r, const struct check *c)
{
    const struct netcheck_env *env = r->env;
    struct line l = {0};

    line_add(&l, "%s/%u is on %s, ", c->addr, c->self->prefix, c->home);
    if (is_rdma_netdev(env, c->home)) {
        line_add(&l, "the netdev of ");
        add_rdma_of(&l, env, c->home);
        emit(r, TERN_NETCHECK_OK, &l);
    } else {
        struct line n = {0};

        line_add(&l, "which is not the netdev of any RDMA device");
        if (add_rdma_netdevs(&n, env))
            line_add(&l, " (RDMA netdevs: %s)", n.s);
        line_add(&l, ": the RDMA listener cannot bind to it (no RDMA device has the address). "
                 "Fix: put the address on an RDMA netdev, or listen on an address of one");
        emit(r, TERN_NETCHECK_PROBLEM, &l);
    }
    if (!(c->self->flags & IFF_UP)) {
        line_add(&l, "%s is down: no host can connect through it. Fix: ip link set %s up",
                 c->home, c->home);
        emit(r, TERN_NETCHECK_WARN, &l);
    } else if (!(c->self->flags & IFF_RUNNING)) {
        line_add(&l, "%s has no carrier (cable, switch port or peer down): no host can connect "
                 "through it until the link is back", c->home);
        emit(r, TERN_NETCHECK_WARN, &l);
    }
}

static void
report_overlap(struct report *r, const struct check *c)
{
    const struct netcheck_env *env = r->env;
    const char *how = c->v4 ? "ARP and the kernel's routing" : "the kernel's routing";
    struct line l = {0};

    if (c->nother == 0) {
        line_add(&l, "no other interface has an address in %s", c->subnet);
        emit(r, TERN_NETCHECK_OK, &l);
        return;
    }
    line_add(&l, "%s (%s on %s) is also on ", c->subnet, c->addr, c->home);
    for (int i = 0; i < c->nother; i++) {
        int k = 0;

        line_add(&l, "%s%s (", i == 0 ? "" : (i == c->nother - 1 ? " and " : ", "),
                 c->other[i].ifname);
        for (int j = 0; j < c->nov; j++) {
            const struct netcheck_ifaddr *o = &env->addrs[c->ov[j]];
            char a[INET6_ADDRSTRLEN];

            if (strcmp(o->ifname, c->other[i].ifname) != 0)
                continue;
            line_add(&l, "%s%s/%u", k++ ? ", " : "", ip_str(o->family, &o->addr, a, sizeof(a)),
                     o->prefix);
        }
        line_add(&l, "%s)", c->other[i].up ? "" : ", down");
    }
    if (!c->any_up) {
        line_add(&l, ": down now, but once up, hosts' %s may pick it instead of %s. "
                 "Fix: move it to another subnet", how, c->home);
        emit(r, TERN_NETCHECK_WARN, &l);
        return;
    }
    if (c->mitigated) {
        line_add(&l, ": safe now (");
        if (c->v4)
            line_add(&l, "no other interface answers ARP for %s or would announce it; ", c->addr);
        line_add(&l, "the route leaves through %s), but routes to a shared subnet follow the "
                 "order in which the interfaces came up, so a flap of %s can move it to ",
                 c->home, c->home);
        add_other_names(&l, c);
        line_add(&l, ". Fix: move ");
        add_other_names(&l, c);
        line_add(&l, " to another subnet");
        emit(r, TERN_NETCHECK_WARN, &l);
        return;
    }
    line_add(&l, ": hosts' %s may pick ", how);
    add_other_names(&l, c);
    line_add(&l, " instead of %s, and RDMA connections to %s then fail (incident 1: "
             "ECONNRESET on discover). Fix: move ", c->home, c->addr);
    add_other_names(&l, c);
    line_add(&l, " to another subnet (or take %s down)", c->nother > 1 ? "them" : "it");
    if (c->v4)
        line_add(&l, ", or set net.ipv4.conf.all.arp_ignore=1 and "
                 "net.ipv4.conf.all.arp_announce=2 and keep the route on %s", c->home);
    emit(r, TERN_NETCHECK_PROBLEM, &l);
}

static void
report_route(struct report *r, const struct check *c)
{
    struct line l = {0};

    if (c->peer_rc != 0) {
        line_add(&l, "%s/%u is a single address: it shares no subnet, route not checked",
                 c->addr, c->self->prefix);
        emit(r, TERN_NETCHECK_OK, &l);
        return;
    }
    if (!c->route_known) {
        line_add(&l, "cannot ask the kernel for its route to %s from %s (%s): route not checked",
                 c->peer, c->addr, strerror(-c->route_rc));
        emit(r, TERN_NETCHECK_WARN, &l);
        return;
    }
    line_add(&l, "the kernel's route to hosts in %s (asked for %s from %s) leaves through %s",
             c->subnet, c->peer, c->addr, c->oif);
    if (!c->route_bad) {
        emit(r, TERN_NETCHECK_OK, &l);
        return;
    }
    line_add(&l, ", not %s: the target's packets and ARP requests to those hosts go out %s. "
             "Fix: %s%s%sgive the route through %s priority (a lower metric than the one "
             "through %s; see `ip route show %s` and `ip rule`)", c->home, c->oif,
             find_other(c, c->oif) ? "move " : "",
             find_other(c, c->oif) ? c->oif : "",
             find_other(c, c->oif) ? " to another subnet, or " : "",
             c->home, c->oif, c->subnet);
    emit(r, TERN_NETCHECK_PROBLEM, &l);
}

/* The ARP and reverse-path sysctls of the interface holding the address. */
static void
report_home_sysctls(struct report *r, const struct check *c)
{
    const char *home = c->home;
    struct line l = {0};
    bool said = false;

    said |= sysctl_unreadable(r, &l, home, "arp_ignore", &c->ignore, "ARP answers");
    said |= sysctl_unreadable(r, &l, home, "arp_filter", &c->filter, "ARP answers");
    said |= sysctl_unreadable(r, &l, home, "rp_filter", &c->rpf, "reverse-path filtering");
    if (c->ignore.err == 0 && c->ignore.eff == 8) {
        line_add(&l, "%s answers no ARP request since ", home);
        add_sysctl_value(&l, home, "arp_ignore", &c->ignore);
        line_add(&l, ": hosts cannot find %s. Fix: ", c->addr);
        add_sysctl_fix(&l, home, "arp_ignore", 1, &c->ignore);
        emit(r, TERN_NETCHECK_PROBLEM, &l);
        said = true;
    }
    if (c->filter.err == 0 && c->filter.eff != 0 && c->route_bad) {
        line_add(&l, "%s does not answer ARP requests for %s from hosts in %s since ", home,
                 c->addr, c->subnet);
        add_sysctl_value(&l, home, "arp_filter", &c->filter);
        line_add(&l, " and the route to them leaves through %s. Fix: the route (above), or ",
                 c->oif);
        add_sysctl_fix(&l, home, "arp_filter", 0, &c->filter);
        emit(r, TERN_NETCHECK_PROBLEM, &l);
        said = true;
    }
    if (c->rpf.err == 0 && c->rpf.eff == 1 && c->route_bad) {
        line_add(&l, "%s drops ARP requests and packets from hosts in %s since ", home,
                 c->subnet);
        add_sysctl_value(&l, home, "rp_filter", &c->rpf);
        line_add(&l, " is strict and the route back to them leaves through %s. "
                 "Fix: the route (above), or loose mode: ", c->oif);
        add_sysctl_fix(&l, home, "rp_filter", 2, &c->rpf);
        emit(r, TERN_NETCHECK_PROBLEM, &l);
        said = true;
    } else if (c->rpf.err == 0 && c->rpf.eff == 1 && c->any_up) {
        line_add(&l, "%s checks source addresses strictly since ", home);
        add_sysctl_value(&l, home, "rp_filter", &c->rpf);
        line_add(&l, ": if the route to %s moved to ", c->subnet);
        add_other_names(&l, c);
        line_add(&l, ", %s would drop hosts' ARP requests and packets. Fix: loose mode: ", home);
        add_sysctl_fix(&l, home, "rp_filter", 2, &c->rpf);
        emit(r, TERN_NETCHECK_WARN, &l);
        said = true;
    }
    if (said)
        return;
    line_add(&l, "%s answers ARP requests for %s and accepts hosts' packets: ", home, c->addr);
    add_sysctl_value(&l, home, "arp_ignore", &c->ignore);
    line_add(&l, ", ");
    add_sysctl_value(&l, home, "arp_filter", &c->filter);
    line_add(&l, ", ");
    add_sysctl_value(&l, home, "rp_filter", &c->rpf);
    emit(r, TERN_NETCHECK_OK, &l);
}

/* arp_announce of an interface that sends (route through it) or would
 * send (after a route change) ARP requests to the subnet's hosts: below 2
 * those requests carry the listen address as their sender, and hosts then
 * learn that interface's MAC address for it. */
static void
report_announce(struct report *r, const struct check *c, const char *ifname,
                const struct netcheck_sysctl *ann)
{
    bool now = c->route_bad && strcmp(c->oif, ifname) == 0;
    struct line l = {0};

    if (sysctl_unreadable(r, &l, ifname, "arp_announce", ann, "ARP announcements"))
        return;
    if (ann->eff >= 2) {
        line_add(&l, "%s announces only its own addresses in its ARP requests: ", ifname);
        add_sysctl_value(&l, ifname, "arp_announce", ann);
        emit(r, TERN_NETCHECK_OK, &l);
        return;
    }
    if (now)
        line_add(&l, "ARP requests that %s sends to hosts in %s announce %s with %s's MAC "
                 "address since ", ifname, c->subnet, c->addr, ifname);
    else
        line_add(&l, "if the route to %s moved to %s, its ARP requests would announce %s with "
                 "%s's MAC address since ", c->subnet, ifname, c->addr, ifname);
    add_sysctl_value(&l, ifname, "arp_announce", ann);
    line_add(&l, ", so hosts %s the wrong port for %s. Fix: ", now ? "learn" : "would learn",
             c->addr);
    add_sysctl_fix(&l, ifname, "arp_announce", 2, ann);
    emit(r, now ? TERN_NETCHECK_PROBLEM : TERN_NETCHECK_WARN, &l);
}

/* Whether each other interface answers ARP for the listen address, and
 * what it would announce. */
static void
report_others(struct report *r, const struct check *c)
{
    for (int i = 0; i < c->nother; i++) {
        const struct other *o = &c->other[i];
        struct line l = {0};

        if (!o->up)
            continue;
        if (sysctl_unreadable(r, &l, o->ifname, "arp_ignore", &o->ignore, "ARP answers")
            | sysctl_unreadable(r, &l, o->ifname, "arp_filter", &o->filter, "ARP answers")) {
            /* both said, nothing to judge */
        } else if (o->answers) {
            line_add(&l, "%s answers ARP requests for %s with its own MAC address since ",
                     o->ifname, c->addr);
            add_sysctl_value(&l, o->ifname, "arp_ignore", &o->ignore);
            if (o->filter.eff != 0)
                line_add(&l, " and arp_filter=1 does not stop it (the route leaves through %s)",
                         o->ifname);
            line_add(&l, ": a host may send its RDMA traffic for %s to %s. Fix: ", c->addr,
                     o->ifname);
            add_sysctl_fix(&l, o->ifname, "arp_ignore", 1, &o->ignore);
            emit(r, TERN_NETCHECK_PROBLEM, &l);
        } else {
            line_add(&l, "%s does not answer ARP requests for %s since ", o->ifname, c->addr);
            if (!arp_ignore_answers_for_others(o->ignore.eff))
                add_sysctl_value(&l, o->ifname, "arp_ignore", &o->ignore);
            else
                line_add(&l, "arp_filter=1 and the route leaves through %s",
                         c->route_known ? c->oif : c->home);
            emit(r, TERN_NETCHECK_OK, &l);
        }
        report_announce(r, c, o->ifname, &o->announce);
    }
    if (c->route_bad && find_other(c, c->oif) == NULL)
        report_announce(r, c, c->oif, &c->oif_announce);
}

static void
check_one(struct report *r, const struct netcheck_ifaddr *self)
{
    struct check *c = calloc(1, sizeof(*c));
    union netcheck_ip net = self->addr;
    struct line l = {0};

    if (c == NULL) {
        line_add(&l, "out of memory: the checks of one address were skipped");
        emit(r, TERN_NETCHECK_WARN, &l);
        return;
    }
    c->self = self;
    c->home = self->ifname;
    c->v4 = self->family == AF_INET;
    ip_str(self->family, &self->addr, c->addr, sizeof(c->addr));
    mask_to(&net, self->family, self->prefix);
    ip_str(self->family, &net, c->subnet, sizeof(c->subnet));
    snprintf(c->subnet + strlen(c->subnet), sizeof(c->subnet) - strlen(c->subnet), "/%u",
             self->prefix);

    report_holder(r, c);
    if (is_v6_link_local(self)) {
        line_add(&l, "%s is link-local: every IPv6 interface has fe80::/64, so the subnet and "
                 "route checks do not apply", c->addr);
        emit(r, TERN_NETCHECK_OK, &l);
        free(c);
        return;
    }
    gather_others(r->env, c);
    gather_route(r->env, c);
    c->mitigated = !c->route_bad;
    if (c->v4)
        gather_sysctls(r->env, c);

    report_overlap(r, c);
    report_route(r, c);
    if (c->v4) {
        report_home_sysctls(r, c);
        report_others(r, c);
    }
    free(c);
}

/* ------------------------------------------------------------ entry */

static void
check_rdma_devices(struct report *r)
{
    const struct netcheck_env *env = r->env;
    struct line l = {0};

    if (env->nrdma == 0) {
        line_add(&l, "no RDMA device on this machine (none under %s/class/infiniband): no RDMA "
                 "host can connect. Fix: load the NIC's RDMA driver (mlx5_ib for ConnectX), or "
                 "add soft-RoCE: rdma link add rxe0 type rxe netdev <interface>", env->sysfs);
        emit(r, TERN_NETCHECK_PROBLEM, &l);
        return;
    }
    line_add(&l, "RDMA devices: ");
    for (int i = 0; i < env->nrdma; i++) {
        const struct netcheck_rdma *d = &env->rdma[i];

        line_add(&l, "%s%s", i ? ", " : "", d->ibdev);
        if (d->port != 0)
            line_add(&l, " port %u", d->port);
        line_add(&l, d->netdev[0] != '\0' ? " on %s" : " (no netdev)", d->netdev);
    }
    emit(r, TERN_NETCHECK_OK, &l);
}

int
netcheck_run(const struct netcheck_env *env, const char *addr, tern_netcheck_cb cb, void *ctx)
{
    struct report r = {.env = env, .cb = cb, .ctx = ctx};
    union netcheck_ip ip;
    int family, holder = -1, checked = 0;
    bool wildcard = true;
    struct line l = {0};

    if (addr == NULL || cb == NULL)
        return -EINVAL;
    memset(&ip, 0, sizeof(ip));
    if (inet_pton(AF_INET, addr, &ip.v4) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &ip.v6) == 1)
        family = AF_INET6;
    else
        return -EINVAL;
    for (unsigned int i = 0; i < family_bits(family) / 8; i++)
        wildcard = wildcard && ip.b[i] == 0;

    check_rdma_devices(&r);
    for (int i = 0; i < env->naddrs; i++) {
        const struct netcheck_ifaddr *a = &env->addrs[i];

        if (a->family != family)
            continue;
        if (wildcard) {
            if (is_rdma_netdev(env, a->ifname) && !is_v6_link_local(a)) {
                check_one(&r, a);
                checked++;
            }
        } else if (memcmp(a->addr.b, ip.b, family_bits(family) / 8) == 0) {
            /* The same address on two interfaces: judge the RDMA one; the
             * other then shows up as sharing its subnet. */
            if (holder < 0 || (!is_rdma_netdev(env, env->addrs[holder].ifname)
                               && is_rdma_netdev(env, a->ifname)))
                holder = i;
        }
    }
    if (wildcard && checked == 0) {
        line_add(&l, "no %s address on any RDMA netdev", family == AF_INET ? "IPv4" : "IPv6");
        {
            struct line n = {0};

            if (add_rdma_netdevs(&n, env))
                line_add(&l, " (%s)", n.s);
        }
        line_add(&l, ": a listener on %s accepts no RDMA connection. Fix: ip addr add "
                 "ADDRESS/PREFIX dev <RDMA netdev>", addr);
        emit(&r, TERN_NETCHECK_PROBLEM, &l);
    } else if (!wildcard && holder < 0) {
        line_add(&l, "%s is not configured on any interface: the listener cannot bind to it. "
                 "Fix: ip addr add %s/PREFIX dev <RDMA netdev>, or listen on a configured "
                 "address", addr, addr);
        emit(&r, TERN_NETCHECK_PROBLEM, &l);
    } else if (!wildcard) {
        check_one(&r, &env->addrs[holder]);
    }
    return r.problems;
}

/* Where sysfs and procfs are: the environment (tests point these at
 * fixture trees), else the usual mounts. */
static const char *
root_from_env(const char *var, const char *dflt)
{
    const char *v = getenv(var);

    return v != NULL && v[0] != '\0' ? v : dflt;
}

int
tern_netcheck_addr(const char *addr, tern_netcheck_cb cb, void *ctx)
{
    struct netcheck_env env = {
        .sysfs = root_from_env("TERN_NETCHECK_SYSFS", "/sys"),
        .procfs = root_from_env("TERN_NETCHECK_PROCFS", "/proc"),
        .route = netcheck_route_get,
    };
    struct netcheck_ifaddr *addrs = NULL;
    struct netcheck_rdma *rdma = NULL;
    union netcheck_ip ip;
    int rc;

    /* A bad address is refused before anything is read. */
    if (addr == NULL || cb == NULL
        || (inet_pton(AF_INET, addr, &ip) != 1 && inet_pton(AF_INET6, addr, &ip) != 1))
        return -EINVAL;
    rc = netcheck_ifaddrs_scan(&addrs);
    if (rc < 0)
        return rc;
    env.addrs = addrs;
    env.naddrs = rc;
    rc = netcheck_rdma_scan(env.sysfs, &rdma);
    if (rc < 0) {
        free(addrs);
        return rc;
    }
    env.rdma = rdma;
    env.nrdma = rc;
    rc = netcheck_run(&env, addr, cb, ctx);
    free(rdma);
    free(addrs);
    return rc;
}
