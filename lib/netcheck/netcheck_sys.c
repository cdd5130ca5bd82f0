/* SPDX-License-Identifier: BSD-3-Clause */
/* Facts for the network checks: RDMA devices and their netdevs from sysfs,
 * IPv4 sysctls from procfs, interface addresses from getifaddrs(), and the
 * kernel's route lookup over netlink. Nothing here judges. */
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "netcheck_internal.h"

/* ------------------------------------------------------------ sysfs */

struct rdma_list {
    struct netcheck_rdma *v;
    int n;
    int cap;
};

/* Read the first line of a small file, without its newline. sysfs answers
 * a read of an unused GID slot's ndev with EINVAL: that is -errno here,
 * not a failure of the scan. */
static int
read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL)
        return -errno;
    errno = 0;
    if (fgets(buf, (int)len, f) == NULL) {
        int err = ferror(f) ? (errno != 0 ? -errno : -EIO) : -ENODATA;

        fclose(f);
        return err;
    }
    fclose(f);
    n = strcspn(buf, "\n");
    buf[n] = '\0';
    return n > 0 ? 0 : -ENODATA;
}

static int
rdma_add(struct rdma_list *l, const char *ibdev, unsigned int port, const char *netdev)
{
    for (int i = 0; i < l->n; i++) {
        struct netcheck_rdma *r = &l->v[i];

        if (strcmp(r->ibdev, ibdev) != 0)
            continue;
        if (strcmp(r->netdev, netdev) == 0) {
            if (r->port == 0)       /* a port number is better than none */
                r->port = port;
            return 0;
        }
        if (r->netdev[0] == '\0') { /* the placeholder of a device found before its netdev */
            snprintf(r->netdev, sizeof(r->netdev), "%s", netdev);
            r->port = port;
            return 0;
        }
    }
    if (netdev[0] == '\0') {        /* placeholder only when the device is not listed yet */
        for (int i = 0; i < l->n; i++)
            if (strcmp(l->v[i].ibdev, ibdev) == 0)
                return 0;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        struct netcheck_rdma *v = realloc(l->v, (size_t)cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
    snprintf(l->v[l->n].ibdev, sizeof(l->v[l->n].ibdev), "%s", ibdev);
    snprintf(l->v[l->n].netdev, sizeof(l->v[l->n].netdev), "%s", netdev);
    l->v[l->n].port = port;
    l->n++;
    return 0;
}

/* Call fn for each entry of a directory but . and .. ; a missing directory
 * has no entries. */
static int
each_entry(const char *dir, int (*fn)(const char *name, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return (errno == ENOENT || errno == ENOTDIR) ? 0 : -errno;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(e->d_name, arg);
    }
    closedir(d);
    return rc;
}

struct scan {
    const char *sysfs;
    struct rdma_list *list;
    const char *ibdev;              /* the device being scanned */
    const char *netdev;             /* the netdev being scanned (class/net) */
    unsigned int port;
    char dir[PATH_MAX];
};

static int
on_gid_ndev(const char *name, void *arg)
{
    struct scan *s = arg;
    char path[PATH_MAX + 64], ndev[IF_NAMESIZE + 2];

    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    if (read_line(path, ndev, sizeof(ndev)) != 0 || strlen(ndev) >= IF_NAMESIZE)
        return 0;
    return rdma_add(s->list, s->ibdev, s->port, ndev);
}

static int
on_port(const char *name, void *arg)
{
    struct scan *s = arg;
    char *end;
    unsigned long port = strtoul(name, &end, 10);

    if (*end != '\0' || port == 0 || port > 255)
        return 0;
    s->port = (unsigned int)port;
    snprintf(s->dir, sizeof(s->dir), "%s/class/infiniband/%s/ports/%s/gid_attrs/ndevs",
             s->sysfs, s->ibdev, name);
    return each_entry(s->dir, on_gid_ndev, s);
}

/* device/net/<if>: the netdevs of the RDMA device's parent (PCI) device. */
static int
on_parent_net(const char *name, void *arg)
{
    struct scan *s = arg;

    if (strlen(name) >= IF_NAMESIZE)
        return 0;
    return rdma_add(s->list, s->ibdev, 0, name);
}

static int
on_ibdev(const char *name, void *arg)
{
    struct scan *s = arg;
    char path[PATH_MAX], ndev[IF_NAMESIZE + 2];
    int rc;

    if (strlen(name) >= NETCHECK_IBDEV_MAX)
        return 0;
    s->ibdev = name;
    rc = rdma_add(s->list, name, 0, "");
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports", s->sysfs, name);
        rc = each_entry(path, on_port, s);
    }
    /* soft-RoCE names its netdev in `parent` even before its GID table is
     * filled (the port is down). */
    snprintf(path, sizeof(path), "%s/class/infiniband/%s/parent", s->sysfs, name);
    if (rc == 0 && read_line(path, ndev, sizeof(ndev)) == 0 && strlen(ndev) < IF_NAMESIZE)
        rc = rdma_add(s->list, name, 0, ndev);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/class/infiniband/%s/device/net", s->sysfs, name);
        rc = each_entry(path, on_parent_net, s);
    }
    return rc;
}

/* class/net/<if>/device/infiniband/<ibdev>: an IPoIB or RoCE netdev whose
 * parent device is an RDMA device. */
static int
on_netdev_ibdev(const char *name, void *arg)
{
    struct scan *s = arg;

    if (strlen(name) >= NETCHECK_IBDEV_MAX)
        return 0;
    return rdma_add(s->list, name, 0, s->netdev);
}

static int
on_netdev(const char *name, void *arg)
{
    struct scan *s = arg;
    char path[PATH_MAX];

    if (strlen(name) >= IF_NAMESIZE)
        return 0;
    s->netdev = name;
    snprintf(path, sizeof(path), "%s/class/net/%s/device/infiniband", s->sysfs, name);
    return each_entry(path, on_netdev_ibdev, s);
}

static int
rdma_cmp(const void *a, const void *b)
{
    const struct netcheck_rdma *x = a, *y = b;
    int c = strcmp(x->ibdev, y->ibdev);

    if (c == 0)
        c = (int)x->port - (int)y->port;
    if (c == 0)
        c = strcmp(x->netdev, y->netdev);
    return c;
}

int
netcheck_rdma_scan(const char *sysfs, struct netcheck_rdma **out)
{
    struct rdma_list list = {0};
    struct scan s = {.sysfs = sysfs, .list = &list};
    char path[PATH_MAX];
    int rc;

    snprintf(path, sizeof(path), "%s/class/infiniband", sysfs);
    rc = each_entry(path, on_ibdev, &s);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/class/net", sysfs);
        rc = each_entry(path, on_netdev, &s);
    }
    if (rc != 0) {
        free(list.v);
        *out = NULL;
        return rc;
    }
    if (list.n > 1)
        qsort(list.v, (size_t)list.n, sizeof(list.v[0]), rdma_cmp);
    *out = list.v;
    return list.n;
}

/* ------------------------------------------------------------ procfs */

int
netcheck_sysctl_read(const char *procfs, const char *ifname, const char *name, int *val)
{
    char path[PATH_MAX], buf[32], *end;
    long v;
    int rc;

    snprintf(path, sizeof(path), "%s/sys/net/ipv4/conf/%s/%s", procfs, ifname, name);
    rc = read_line(path, buf, sizeof(buf));
    if (rc == -ENODATA)
        return -EINVAL;
    if (rc != 0)
        return rc;
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -EINVAL;
    *val = (int)v;
    return 0;
}

void
netcheck_sysctl_get(const char *procfs, const char *ifname, const char *name,
                    struct netcheck_sysctl *out)
{
    out->all = out->dev = out->eff = -1;
    out->err = netcheck_sysctl_read(procfs, "all", name, &out->all);
    if (out->err == 0)
        out->err = netcheck_sysctl_read(procfs, ifname, name, &out->dev);
    if (out->err != 0)
        return;
    if (strcmp(name, "arp_filter") == 0)
        out->eff = (out->all != 0 || out->dev != 0) ? 1 : 0;
    else
        out->eff = out->all > out->dev ? out->all : out->dev;
}

/* ------------------------------------------------------------ getifaddrs */

static unsigned int
mask_bits(const uint8_t *m, size_t len)
{
    unsigned int bits = 0;

    for (size_t i = 0; i < len; i++)
        bits += (unsigned int)__builtin_popcount(m[i]);
    return bits;
}

int
netcheck_ifaddrs_scan(struct netcheck_ifaddr **out)
{
    struct ifaddrs *ifa, *i;
    struct netcheck_ifaddr *v;
    int n = 0;

    *out = NULL;
    if (getifaddrs(&ifa) != 0)
        return -errno;
    for (i = ifa; i != NULL; i = i->ifa_next)
        n++;
    v = calloc((size_t)n + 1, sizeof(*v));
    if (v == NULL) {
        freeifaddrs(ifa);
        return -ENOMEM;
    }
    n = 0;
    for (i = ifa; i != NULL; i = i->ifa_next) {
        struct netcheck_ifaddr *a = &v[n];

        if (i->ifa_addr == NULL || i->ifa_netmask == NULL || strlen(i->ifa_name) >= IF_NAMESIZE)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            a->addr.v4 = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
            a->prefix = mask_bits((const uint8_t *)
                                  &((const struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            a->addr.v6 = ((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            a->prefix = mask_bits((const uint8_t *)
                                  &((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, 16);
        } else {
            continue;
        }
        a->family = i->ifa_addr->sa_family;
        a->flags = i->ifa_flags;
        snprintf(a->ifname, sizeof(a->ifname), "%s", i->ifa_name);
        n++;
    }
    freeifaddrs(ifa);
    *out = v;
    return n;
}

/* ------------------------------------------------------------ netlink */

static void
add_rta(struct nlmsghdr *nh, size_t room, int type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

    if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > room)
        return;     /* cannot happen with the sizes below; a short request fails cleanly */
    rta->rta_type = (unsigned short)type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    nh->nlmsg_len = (uint32_t)(NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len));
}

/* Why netlink and not /proc/net/route: the answer must be the one the
 * kernel gives the target's own packets, after policy rules (`ip rule`),
 * metrics and the order in which equal routes were added; re-deriving that
 * from the main table's dump would be a second, wrong FIB. RTM_GETROUTE
 * runs the real lookup (it is what `ip route get` sends), needs no
 * privilege, and answers for the caller's network namespace. */
int
netcheck_route_get(void *ctx, int family, const void *dst, const void *src,
                   char ifname[IF_NAMESIZE])
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        char attrs[64];
    } req;
    union {
        struct nlmsghdr nh;
        char buf[8192];
    } ans;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct timeval tv = {.tv_sec = 2};
    size_t alen = family == AF_INET ? 4 : 16;
    uint32_t seq = 1;
    int fd, rc = -EIO, oif = 0;
    ssize_t got;

    (void)ctx;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.nh.nlmsg_type = RTM_GETROUTE;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.nh.nlmsg_seq = seq;
    req.rt.rtm_family = (unsigned char)family;
    req.rt.rtm_dst_len = (unsigned char)(alen * 8);
    add_rta(&req.nh, sizeof(req), RTA_DST, dst, alen);
    if (src != NULL) {
        req.rt.rtm_src_len = (unsigned char)(alen * 8);
        add_rta(&req.nh, sizeof(req), RTA_SRC, src, alen);
    }

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    /* Bounded: a listener being added must never hang on this. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        struct nlmsghdr *nh;
        size_t left;

        got = recv(fd, ans.buf, sizeof(ans.buf), 0);
        if (got < 0) {
            rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
            goto out;
        }
        left = (size_t)got;
        for (nh = &ans.nh; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
            if (nh->nlmsg_seq != seq)
                continue;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(nh);

                rc = e->error != 0 ? e->error : -ENOENT;
                goto out;
            }
            if (nh->nlmsg_type == RTM_NEWROUTE) {
                const struct rtmsg *rt = NLMSG_DATA(nh);
                const struct rtattr *a = RTM_RTA(rt);
                unsigned int alen_left = (unsigned int)RTM_PAYLOAD(nh);

                for (; RTA_OK(a, alen_left); a = RTA_NEXT(a, alen_left))
                    if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int))
                        memcpy(&oif, RTA_DATA(a), sizeof(int));
                rc = oif > 0 ? 0 : -ENODEV;
                goto out;
            }
        }
    }
out:
    close(fd);
    if (rc == 0 && if_indextoname((unsigned int)oif, ifname) == NULL)
        rc = -errno;
    return rc;
}
