#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Functional tests of usertools/tern-netcheck (incident 1) on real
interfaces: each test builds its situation in a network namespace of its own
(`unshare -n`, gone when the test's shell exits), with interfaces, addresses,
sysctls and routes the real kernel keeps, and a fixture sysfs that names one
interface as the netdev of a soft-RoCE device rxe0 (this machine has no RDMA
device; TERN_NETCHECK_SYSFS). Only addresses inside those namespaces.

Checks: two interfaces in one subnet -> exit 1 naming both; one interface ->
exit 0; a bad address or command line -> exit 2; the kernel's route through
the other interface, strict rp_filter, mitigating sysctls, the other
interface down, IPv6, the 0.0.0.0 wildcard, no RDMA device, an address
nobody holds, -q, and a missing build.

Usage: test_netcheck.py BUILD_DIR [SOURCE_DIR]. Ends with `N passed, N
failed`; exit 77 (meson's skip) with ENVIRONMENT and the reason when this
machine cannot make namespaces or interfaces.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tgt import WORK, run_tests  # noqa: E402  (its temporary dir; removed at the end)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(SRC, "usertools", "tern-netcheck")
BIN = os.path.join(BUILD, "app", "tern-netcheck", "tern-netcheck")
RDMA = "tnc0"           # the interface the fixture sysfs names as rxe0's netdev
OTHER = "tnc1"
LINK_KIND = None        # "veth" or "dummy": what this kernel can make (check_environment)
LINE = re.compile(r"^(OK|WARN|PROBLEM)\s+(.*)$")


def fixture_sysfs(with_rdma=True):
    root = tempfile.mkdtemp(dir=WORK, prefix="sys-")
    if with_rdma:
        ndevs = os.path.join(root, "class", "infiniband", "rxe0", "ports", "1", "gid_attrs",
                             "ndevs")
        os.makedirs(ndevs)
        with open(os.path.join(ndevs, "0"), "w") as f:
            f.write(RDMA + "\n")
        with open(os.path.join(root, "class", "infiniband", "rxe0", "parent"), "w") as f:
            f.write(RDMA + "\n")
    return root


def link_cmds(name):
    """Shell lines that make interface `name`, up with carrier. A veth gets
    a peer of its own, so one interface going down leaves the other's
    carrier alone."""
    if LINK_KIND == "veth":
        return ["ip link add %s type veth peer name %sp" % (name, name),
                "ip link set %sp up" % name, "ip link set %s up" % name]
    return ["ip link add %s type dummy" % name, "ip link set %s up" % name]


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr
        self.lines = []
        for ln in p.stdout.splitlines():
            m = LINE.match(ln)
            if m:
                self.lines.append((m.group(1), m.group(2)))

    def __str__(self):
        return "exit %d\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out, self.err)

    def find(self, level, *words):
        for lvl, text in self.lines:
            if lvl == level and all(w in text for w in words):
                return text
        return None

    def expect(self, level, *words):
        assert self.find(level, *words), "no %s line with %s in:\n%s" % (level, words, self)

    def count(self, level):
        return sum(1 for lvl, _ in self.lines if lvl == level)


def netns(setup, args, sysfs=None, env=None):
    """Run `setup` (shell lines) in a fresh network namespace, then the tool
    with `args` there; the namespace ends with the shell."""
    script = "set -e\n" + "\n".join(setup) + "\nset +e\n" + \
        'exec "$TOOL" ' + " ".join("'%s'" % a for a in args) + "\n"
    e = dict(os.environ, TOOL=TOOL, TERN_BUILD_DIR=BUILD)
    e["TERN_NETCHECK_SYSFS"] = sysfs if sysfs is not None else fixture_sysfs()
    e.pop("TERN_NETCHECK_PROCFS", None)     # the namespace's own /proc/sys/net
    e.update(env or {})
    p = subprocess.run(["unshare", "-n", "bash", "-c", script], capture_output=True, text=True,
                       env=e, timeout=60)
    if p.returncode not in (0, 1, 2, 3):
        raise AssertionError("namespace setup failed:\n%s\n%s" % (script, Result(p)))
    return Result(p)


def two_interfaces(first=RDMA, sysctls=()):
    """tnc0 10.99.0.1/24 (RDMA) and tnc1 10.99.0.3/24; the address of
    `first` is added first, so its connected route wins."""
    addrs = {RDMA: "ip addr add 10.99.0.1/24 dev %s" % RDMA,
             OTHER: "ip addr add 10.99.0.3/24 dev %s" % OTHER}
    second = OTHER if first == RDMA else RDMA
    return (link_cmds(RDMA) + link_cmds(OTHER) + ["sysctl -qw %s" % s for s in sysctls]
            + [addrs[first], addrs[second]])


# Defaults in every namespace, whatever the machine's own sysctls are.
DEFAULTS = ["net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.all.arp_announce=0",
            "net.ipv4.conf.all.arp_filter=0", "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0"]


# ---------------------------------------------------------------- tests

def t_two_interfaces_one_subnet_exit_1_names_both():
    r = netns(two_interfaces(sysctls=DEFAULTS), ["10.99.0.1"])
    assert r.rc == 1, r
    r.expect("PROBLEM", "10.99.0.0/24", "on tnc0", "also on tnc1 (10.99.0.3/24)", "Fix:")
    r.expect("PROBLEM", "tnc1 answers ARP requests for 10.99.0.1",
             "sysctl -w net.ipv4.conf.all.arp_ignore=1")
    r.expect("OK", "10.99.0.1/24 is on tnc0, the netdev of rxe0 port 1")
    r.expect("OK", "leaves through tnc0")
    assert re.search(r"^Summary for 10\.99\.0\.1: [1-9]\d* problems?, \d+ warnings?$", r.out,
                     re.M), r


def t_one_interface_exit_0():
    r = netns(link_cmds(RDMA) + link_cmds(OTHER) + ["sysctl -qw %s" % s for s in DEFAULTS]
              + ["ip addr add 10.99.0.1/24 dev %s" % RDMA], ["10.99.0.1"])
    assert r.rc == 0, r
    assert r.count("PROBLEM") == 0 and r.count("WARN") == 0, r
    r.expect("OK", "rxe0 port 1 on tnc0")
    r.expect("OK", "no other interface has an address in 10.99.0.0/24")
    r.expect("OK", "leaves through tnc0")
    assert "Summary for 10.99.0.1: 0 problems, 0 warnings" in r.out, r


def t_bad_address_or_command_line_exit_2():
    for args in (["10.99.0.256"], ["foo"], ["10.99.0.1/24"], ["10.99.0.1:4420"], [],
                 ["-x", "10.99.0.1"], ["10.99.0.1", "nope"]):
        r = netns(link_cmds(RDMA), args)
        assert r.rc == 2, "%s: %s" % (args, r)
        assert r.err.strip(), "%s: nothing on stderr" % args
        assert not r.lines and "Summary" not in r.out, "%s: a report was printed: %s" % (args, r)
    r = netns([], ["foo"])
    assert "'foo' is not an IPv4 or IPv6 address" in r.err, r


def t_route_through_the_other_interface():
    # tnc1's address (and so its connected route) comes first: the kernel
    # routes the subnet through tnc1. This asserts the real RTM_GETROUTE.
    r = netns(two_interfaces(first=OTHER, sysctls=DEFAULTS), ["10.99.0.1"])
    assert r.rc == 1, r
    r.expect("PROBLEM", "asked for 10.99.0.2 from 10.99.0.1", "leaves through tnc1, not tnc0")
    r.expect("PROBLEM", "ARP requests that tnc1 sends", "net.ipv4.conf.all.arp_announce=2")


def t_strict_rp_filter_with_the_route_elsewhere():
    r = netns(two_interfaces(first=OTHER, sysctls=DEFAULTS + ["net.ipv4.conf.tnc0.rp_filter=1"]),
              ["10.99.0.1"])
    assert r.rc == 1, r
    r.expect("PROBLEM", "tnc0 drops ARP requests", "rp_filter=1 (all=0, tnc0=1)",
             "sysctl -w net.ipv4.conf.all.rp_filter=2")


def t_sysctls_in_the_namespace_mitigate_to_a_warning():
    # Read from the namespace's own /proc/sys/net: the machine's are untouched.
    r = netns(two_interfaces(sysctls=DEFAULTS + ["net.ipv4.conf.all.arp_ignore=1",
                                                 "net.ipv4.conf.all.arp_announce=2"]),
              ["10.99.0.1"])
    assert r.rc == 0, r
    r.expect("WARN", "also on tnc1", "safe now", "move tnc1 to another subnet")
    r.expect("OK", "tnc1 does not answer ARP", "arp_ignore=1 (all=1, tnc1=0)")


def t_other_interface_down_is_a_warning():
    r = netns(two_interfaces(sysctls=DEFAULTS) + ["ip link set %s down" % OTHER], ["10.99.0.1"])
    assert r.rc == 0, r
    r.expect("WARN", "also on tnc1 (10.99.0.3/24, down)")
    assert r.count("PROBLEM") == 0, r


def t_ipv6_shared_prefix():
    v6 = link_cmds(RDMA) + link_cmds(OTHER)
    r = netns(v6 + ["ip -6 addr add fd00:99::1/64 dev %s nodad" % RDMA,
                    "ip -6 addr add fd00:99::3/64 dev %s nodad" % OTHER], ["fd00:99::1"])
    assert r.rc == 0, r
    r.expect("WARN", "fd00:99::/64", "also on tnc1 (fd00:99::3/64)", "safe now")
    r.expect("OK", "leaves through tnc0")
    r = netns(v6 + ["ip -6 addr add fd00:99::3/64 dev %s nodad" % OTHER,
                    "ip -6 addr add fd00:99::1/64 dev %s nodad" % RDMA], ["fd00:99::1"])
    assert r.rc == 1, r
    r.expect("PROBLEM", "leaves through tnc1, not tnc0")
    assert not any("arp_" in t for _, t in r.lines), r


def t_wildcard_checks_the_rdma_netdev_addresses():
    r = netns(two_interfaces(sysctls=DEFAULTS), ["0.0.0.0"])
    assert r.rc == 1, r
    r.expect("OK", "10.99.0.1/24 is on tnc0")
    assert not r.find("OK", "10.99.0.3/24 is on"), r
    r.expect("PROBLEM", "also on tnc1")


def t_no_rdma_device():
    r = netns(link_cmds(RDMA) + ["ip addr add 10.99.0.1/24 dev %s" % RDMA], ["10.99.0.1"],
              sysfs=fixture_sysfs(with_rdma=False))
    assert r.rc == 1, r
    r.expect("PROBLEM", "no RDMA device on this machine", "rdma link add")
    r.expect("PROBLEM", "10.99.0.1/24 is on tnc0, which is not the netdev of any RDMA device")


def t_address_nobody_holds():
    r = netns(link_cmds(RDMA) + ["ip addr add 10.99.0.1/24 dev %s" % RDMA], ["10.99.0.77"])
    assert r.rc == 1, r
    r.expect("PROBLEM", "10.99.0.77 is not configured on any interface")


def t_quiet_keeps_warnings_problems_and_summaries():
    r = netns(two_interfaces(sysctls=DEFAULTS), ["-q", "10.99.0.1", "10.99.0.3"])
    assert r.rc == 1, r
    assert r.count("OK") == 0 and r.count("PROBLEM") >= 2, r
    assert "Summary for 10.99.0.1:" in r.out and "Summary for 10.99.0.3:" in r.out, r
    # 10.99.0.3 is on tnc1, which carries no RDMA device.
    r.expect("PROBLEM", "10.99.0.3/24 is on tnc1", "not the netdev of any RDMA device",
             "RDMA netdevs: tnc0")


def t_missing_build_says_how_to_build():
    p = subprocess.run([TOOL, "10.99.0.1"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, TERN_BUILD_DIR=os.path.join(WORK, "no-build")))
    assert p.returncode == 3, Result(p)
    assert "is not built" in p.stderr and "ninja" in p.stderr, Result(p)


TESTS = [t_two_interfaces_one_subnet_exit_1_names_both, t_one_interface_exit_0,
         t_bad_address_or_command_line_exit_2, t_route_through_the_other_interface,
         t_strict_rp_filter_with_the_route_elsewhere,
         t_sysctls_in_the_namespace_mitigate_to_a_warning, t_other_interface_down_is_a_warning,
         t_ipv6_shared_prefix, t_wildcard_checks_the_rdma_netdev_addresses, t_no_rdma_device,
         t_address_nobody_holds, t_quiet_keeps_warnings_problems_and_summaries,
         t_missing_build_says_how_to_build]


# ---------------------------------------------------------------- runner

def check_environment():
    """Environment, not product: say what is missing and skip (77)."""
    global LINK_KIND
    missing = []
    if not os.access(BIN, os.X_OK):
        missing.append("tern-netcheck binary at %s (build first)" % BIN)
    for prog in ("unshare", "ip", "sysctl", "bash"):
        if shutil.which(prog) is None:
            missing.append("the program %s" % prog)
    if not missing:
        p = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
        if p.returncode != 0:
            missing.append("network namespaces (unshare -n: %s; root needed)" % p.stderr.strip())
    if not missing:
        why = []
        for kind in ("veth", "dummy"):
            cmd = "ip link add t0 type veth peer name t1" if kind == "veth" else \
                "ip link add t0 type dummy"
            p = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True)
            if p.returncode == 0:
                LINK_KIND = kind
                break
            why.append("%s: %s" % (kind, p.stderr.strip()))
        if LINK_KIND is None:
            missing.append("a link type to make interfaces with (the kernel loads no modules "
                           "here; %s)" % "; ".join(why))
    if missing:
        print("ENVIRONMENT: missing " + "; ".join(missing))
        sys.exit(77)
    print("interfaces made as %s pairs in private network namespaces" % LINK_KIND
          if LINK_KIND == "veth" else "interfaces made as dummy links in private namespaces")


def main():
    try:
        return run_tests(TESTS, check_environment)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
