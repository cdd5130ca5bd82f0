#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Functional tests of usertools/tern-setup on fake /sys, /proc and /dev
trees (TERN_SETUP_ROOT), one per test, under a temporary directory removed at
the end. The kernel's part (unbind, drivers_probe, nr_hugepages, modprobe,
mount) is played by this file: tern-setup runs it as its
TERN_SETUP_KERNEL_HOOK (`test_setup.py --kernel write PATH VALUE`), and
TERN_FAKE_KERNEL says how it behaves: `obey` (what Linux does), `no-probe`
(unbinds, but no driver takes the device), `huge-cap=NODE:N` (the node has
room for N pages only).

Checks: status of a kernel-bound controller (namespace, partitions, what
uses them) and a vfio-bound one (its group, who holds it open), text and
JSON, per-node and system-wide hugepages; bind refused while a partition is
mounted (found by major:minor), is swap, is held by dm, or is open by a
process, with nothing written; bind of a free controller (driver_override,
unbind, drivers_probe, /dev/vfio/N) and a clear failure when the kernel does
not move it; reset refused while /dev/vfio/N is open, and reset to nvme;
bad BDFs and arguments (exit 2); missing vfio-pci, IOMMU and page sizes
(exit 3); hugepages per node and a shortfall (exit 1).

Usage: test_setup.py [BUILD_DIR [SOURCE_DIR]] (the build is not used). Ends
with `N passed, N failed`.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

KERNEL = len(sys.argv) > 1 and sys.argv[1] == "--kernel"     # run as the fake kernel
if not KERNEL:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_tgt import WORK, run_tests  # noqa: E402  (its temporary dir; removed at the end)

SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 and not KERNEL else
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(SRC, "usertools", "tern-setup")
A = "0000:00:04.0"      # NVMe on the kernel's nvme driver
B = "0000:00:05.0"      # NVMe on vfio-pci
NIC = "0000:00:02.0"    # not NVMe


class Tree:
    """A fake machine: the parts of /sys, /proc and /dev tern-setup reads."""

    def __init__(self, root=None, nodes=(0,), sizes_kb=(2048, 1048576)):
        self.root = root or tempfile.mkdtemp(dir=WORK, prefix="root-")
        if root:
            return
        for d in ("sys/bus/pci/devices", "sys/kernel/iommu_groups", "sys/block", "proc/self",
                  "dev"):
            os.makedirs(self.p(d), exist_ok=True)
        for drv in ("nvme", "vfio-pci", "e1000e"):
            self.driver_dir(drv)
        self.put("sys/bus/pci/drivers_probe", "")
        self.put("proc/self/mountinfo",
                 "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                 "27 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n")
        self.put("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        self.put("proc/meminfo", "MemTotal:       8000000 kB\nHugepagesize:       2048 kB\n")
        self.put("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N\n")
        for n in nodes:
            for kb in sizes_kb:
                self.hugepages("sys/devices/system/node/node%d/hugepages/hugepages-%dkB" % (n, kb))
        if not nodes:
            for kb in sizes_kb:
                self.hugepages("sys/kernel/mm/hugepages/hugepages-%dkB" % kb)
        self.pci(NIC, "0x020000", "e1000e", group=1)

    def p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def put(self, path, text):
        os.makedirs(os.path.dirname(self.p(path)), exist_ok=True)
        with open(self.p(path), "w") as f:
            f.write(text)

    def get(self, path):
        with open(self.p(path)) as f:
            return f.read()

    def append(self, path, text):
        with open(self.p(path), "a") as f:
            f.write(text)

    def link(self, path, target):
        if os.path.lexists(self.p(path)):
            os.remove(self.p(path))
        os.makedirs(os.path.dirname(self.p(path)), exist_ok=True)
        os.symlink(target, self.p(path))

    def driver_dir(self, drv):
        os.makedirs(self.p("sys/bus/pci/drivers/" + drv), exist_ok=True)
        self.put("sys/bus/pci/drivers/%s/unbind" % drv, "")

    def hugepages(self, d, total=0, free=0):
        self.put(d + "/nr_hugepages", "%d\n" % total)
        self.put(d + "/free_hugepages", "%d\n" % free)
        self.put(d + "/surplus_hugepages", "0\n")

    def pci(self, bdf, klass, driver, group=None, override=None, numa=-1):
        d = "sys/bus/pci/devices/" + bdf
        self.put(d + "/class", klass + "\n")
        self.put(d + "/vendor", "0x1b36\n" if klass.startswith("0x0108") else "0x8086\n")
        self.put(d + "/device", "0x0010\n")
        self.put(d + "/numa_node", "%d\n" % numa)
        self.put(d + "/driver_override", (override or "(null)") + "\n")
        if group is not None:
            self.link(d + "/iommu_group", self.p("sys/kernel/iommu_groups/%d" % group))
            self.link("sys/kernel/iommu_groups/%d/devices/%s" % (group, bdf), self.p(d))
        if driver:
            self.attach(bdf, driver)
        return d

    def attach(self, bdf, driver):
        """What the kernel does when `driver` binds `bdf`."""
        d = "sys/bus/pci/devices/" + bdf
        self.link(d + "/driver", self.p("sys/bus/pci/drivers/" + driver))
        if driver == "nvme":
            n = int(bdf[-4:-2], 16)         # nvme4 for 00:04.0: unique per device
            self.nvme(bdf, "nvme%d" % n, {"nvme%dn1" % n: {}})
        if driver == "vfio-pci":
            g = os.path.basename(os.readlink(self.p(d + "/iommu_group")))
            self.put("dev/vfio/" + g, "")

    def detach(self, bdf):
        d = "sys/bus/pci/devices/" + bdf
        drv = os.path.basename(os.readlink(self.p(d + "/driver")))
        os.remove(self.p(d + "/driver"))
        shutil.rmtree(self.p(d + "/nvme"), ignore_errors=True)
        if drv == "vfio-pci" and os.path.lexists(self.p(d + "/iommu_group")):
            g = os.path.basename(os.readlink(self.p(d + "/iommu_group")))
            if os.path.exists(self.p("dev/vfio/" + g)):
                os.remove(self.p("dev/vfio/" + g))

    def nvme(self, bdf, ctrl, namespaces):
        """Controller `ctrl` of `bdf` with {namespace: [partitions]}; block
        devices get 259:N (N counting up in this tree), the controller 241:M."""
        c = "sys/bus/pci/devices/%s/nvme/%s" % (bdf, ctrl)
        minor = len(os.listdir(self.p("sys/block")))
        self.put(c + "/dev", "241:%s\n" % ctrl[4:])
        self.put(c + "/state", "live\n")
        for ns, parts in namespaces.items():
            self.put("%s/ng%sn1/dev" % (c, ctrl[4:]), "242:%s\n" % ctrl[4:])
            for name, d in [(ns, c + "/" + ns)] + [(p, "%s/%s/%s" % (c, ns, p)) for p in parts]:
                self.put(d + "/dev", "259:%d\n" % minor)
                self.put(d + "/size", "%d\n" % (1 << 20))     # 512 MiB in sectors
                os.makedirs(self.p(d + "/holders"), exist_ok=True)
                if name != ns:
                    self.put(d + "/partition", "1\n")
                self.link("sys/block/" + name, self.p(d))
                minor += 1

    def majmin(self, name):
        return self.get("sys/block/%s/dev" % name).strip()

    def proc(self, pid, comm, *targets):
        self.put("proc/%d/comm" % pid, comm + "\n")
        os.makedirs(self.p("proc/%d/fd" % pid), exist_ok=True)
        for i, t in enumerate(["/dev/null"] + list(targets)):
            self.link("proc/%d/fd/%d" % (pid, i), t)

    def standard(self):
        """A on nvme with nvme4n1 (partitions p1, p2), B on vfio-pci."""
        self.pci(A, "0x010802", None, group=4, numa=0)
        self.link("sys/bus/pci/devices/%s/driver" % A, self.p("sys/bus/pci/drivers/nvme"))
        self.nvme(A, "nvme4", {"nvme4n1": ["nvme4n1p1", "nvme4n1p2"]})
        self.pci(B, "0x010802", "vfio-pci", group=5, override="vfio-pci")
        return self


class Run:
    def __init__(self, tree, args, kernel="obey", hook=True, timeout=None):
        env = dict(os.environ, TERN_SETUP_ROOT=tree.root, TERN_FAKE_KERNEL=kernel)
        env.pop("TERN_SETUP_KERNEL_HOOK", None)
        if hook:
            env["TERN_SETUP_KERNEL_HOOK"] = shlex.join(
                [sys.executable, os.path.abspath(__file__), "--kernel"])
        if timeout is not None and args and args[0] in ("bind", "reset"):
            args = [args[0], "--timeout", str(timeout)] + args[1:]
        p = subprocess.run([TOOL] + args, capture_output=True, text=True, env=env, timeout=60)
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.args = args

    def __str__(self):
        return "tern-setup %s: exit %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.args), self.rc, self.out, self.err)

    def has(self, *words, where="both"):
        text = {"out": self.out, "err": self.err, "both": self.out + self.err}[where]
        for w in words:
            assert w in text, "%r missing in\n%s" % (w, self)

    def line(self, *words):
        """A stdout line holding every word."""
        for ln in self.out.splitlines():
            if all(w in ln for w in words):
                return ln
        raise AssertionError("no line with %s in\n%s" % (words, self))


# ------------------------------------------------------ the fake kernel

def fake_kernel(argv):
    """tern-setup's TERN_SETUP_KERNEL_HOOK: react as Linux would."""
    t = Tree(root=os.environ["TERN_SETUP_ROOT"])
    mode = os.environ.get("TERN_FAKE_KERNEL", "obey")
    log = t.p("kernel.log")
    with open(log, "a") as f:
        f.write(" ".join(argv).strip() + "\n")
    if argv[0] == "write":
        path, value = argv[1], argv[2].strip()
        parts = path.strip("/").split("/")
        if path.endswith("/unbind") and mode in ("obey", "no-probe"):
            t.detach(value)
        elif path == "/sys/bus/pci/drivers_probe" and mode == "obey":
            d = "sys/bus/pci/devices/" + value
            drv = t.get(d + "/driver_override").strip()
            if drv in ("", "(null)"):
                drv = "nvme" if t.get(d + "/class").startswith("0x0108") else None
            if drv and os.path.isdir(t.p("sys/bus/pci/drivers/" + drv)):
                t.attach(value, drv)
        elif path.endswith("/nr_hugepages") and mode.startswith("huge-cap="):
            node, cap = mode[len("huge-cap="):].split(":")
            if parts[4] == "node" + node:
                t.put(path, "%d\n" % min(int(value), int(cap)))
        return 0
    if argv[0] == "exec":
        cmd = argv[1:]
        if cmd[0] == "modprobe" and mode != "no-modules":
            t.driver_dir(cmd[1].replace("_", "-") if cmd[1] == "vfio_pci" else cmd[1])
            return 0
        if cmd[0] == "mount" and "hugetlbfs" in cmd:
            kb = int(cmd[cmd.index("-o") + 1][len("pagesize="):-1])      # pagesize=NK
            shown = "%dG" % (kb >> 20) if kb % (1 << 20) == 0 else "%dM" % (kb >> 10)
            t.append("proc/self/mountinfo", "40 24 0:50 / %s rw,relatime - hugetlbfs nodev "
                     "rw,pagesize=%s\n" % (cmd[-1], shown))
            return 0
        print("fake kernel: cannot run %s" % cmd, file=sys.stderr)
        return 1
    return 2


# ---------------------------------------------------------------- tests

def t_status_kernel_and_vfio_devices():
    t = Tree(nodes=(0, 1)).standard()
    t.hugepages("sys/devices/system/node/node1/hugepages/hugepages-2048kB", 256, 200)
    t.append("proc/self/mountinfo",
             "30 27 %s / /data rw - ext4 /dev/nvme4n1p1 rw\n" % t.majmin("nvme4n1p1") +
             "31 24 0:40 / /dev/hugepages rw - hugetlbfs hugetlbfs rw,pagesize=2M\n")
    t.proc(4242, "tern-tgt", "/dev/vfio/5", "/dev/vfio/vfio")
    os.makedirs(t.p("sys/bus/pci/devices/%s/vfio-dev/vfio0" % B))   # 6.1: no cdev for it
    r = Run(t, ["status"])
    assert r.rc == 0, r
    r.line("node 1", "2 MiB pages: 256 total, 200 free")
    r.line("node 0", "1 GiB pages: 0 total, 0 free")
    r.line("hugetlbfs: mounted on /dev/hugepages (2 MiB pages)")
    r.line("vfio: vfio-pci loaded", "/dev/vfio present")
    r.line("NVMe controllers", ": 2")
    r.line(A, "1b36:0010", "numa=0", "driver=nvme", "override=-", "iommu_group=4")
    r.line("nvme4n1 (259:0, 512 MiB): free")
    r.line("nvme4n1p1 (259:1", "mounted on /data (ext4)")
    r.line("nvme4n1p2 (259:2", "free")
    r.line(B, "numa=-", "driver=vfio-pci", "override=vfio-pci", "iommu_group=5")
    r.line("/dev/vfio/5: present; open by PID 4242 (tern-tgt)")
    assert NIC not in r.out and "/dev/vfio/devices" not in r.out, r
    assert Run(t, []).out == r.out          # status is the default

    j = Run(t, ["status", "--json"])
    assert j.rc == 0, j
    s = json.loads(j.out)
    a, b = s["nvme"]
    assert a["bdf"] == A and a["driver"] == "nvme" and a["numa_node"] == 0, a
    assert [x["name"] for x in a["block_devices"]] == ["nvme4n1", "nvme4n1p1", "nvme4n1p2"], a
    assert a["block_devices"][1]["mounted"] == [{"mountpoint": "/data", "fstype": "ext4"}], a
    assert a["in_use"] == ["nvme4n1p1 (259:1) is mounted on /data (ext4)"], a
    assert b["driver_override"] == "vfio-pci" and b["iommu_group"] == "5", b
    assert b["vfio"][0]["open_by"] == [{"pid": 4242, "comm": "tern-tgt"}], b
    assert {"node": 1, "size_kb": 2048, "total": 256, "free": 200, "surplus": 0} \
        in s["hugepages"], s
    assert s["vfio"] == {"vfio_pci_loaded": True, "dev_vfio": True, "iommu_groups": 3,
                         "noiommu": False}, s

    one = Run(t, ["status", "00:05.0"])
    assert one.rc == 0 and B in one.out and A not in one.out, one


def t_status_without_numa_nodes_or_hugetlbfs():
    t = Tree(nodes=(), sizes_kb=(2048,))
    t.hugepages("sys/kernel/mm/hugepages/hugepages-2048kB", 64, 64)
    shutil.rmtree(t.p("sys/bus/pci/drivers/vfio-pci"))
    r = Run(t, ["status"])
    assert r.rc == 0, r
    r.line("system", "2 MiB pages: 64 total, 64 free")
    r.line("hugetlbfs: not mounted")
    r.line("vfio-pci not loaded", "/dev/vfio missing")
    r.line("NVMe controllers", ": 0")


def refused(t, *words):
    """bind A is refused with `words` in its message, and nothing written."""
    r = Run(t, ["bind", A])
    assert r.rc == 1, r
    r.has("refused " + A, *words, where="err")
    assert t.get("sys/bus/pci/devices/%s/driver_override" % A) == "(null)\n", r
    assert t.get("sys/bus/pci/drivers_probe") == "", r
    assert t.get("sys/bus/pci/drivers/nvme/unbind") == "", r
    assert os.path.islink(t.p("sys/bus/pci/devices/%s/driver" % A)), r
    return r


def t_bind_refused_partition_mounted_by_major_minor():
    t = Tree().standard()
    # The mount names another path (a /dev/root alias): only 259:2 tells.
    t.append("proc/self/mountinfo",
             "30 27 %s / /srv/my\\040data rw - xfs /dev/root rw\n" % t.majmin("nvme4n1p2"))
    refused(t, "nvme4n1p2 (259:2) is mounted on /srv/my data (xfs)", "unmount")


def t_bind_refused_swap():
    t = Tree().standard()
    t.append("proc/swaps", "/dev/nvme4n1p1\tpartition\t1048572\t0\t-2\n")
    refused(t, "nvme4n1p1 (259:1) is in use as swap")


def t_bind_refused_held_by_dm():
    t = Tree().standard()
    os.makedirs(t.p("sys/bus/pci/devices/%s/nvme/nvme4/nvme4n1/holders/dm-0" % A))
    t.put("sys/block/dm-0/dm/name", "vg0-lv0\n")
    refused(t, "nvme4n1 (259:0) is held by dm-0 (vg0-lv0)")


def t_bind_refused_open_by_a_process():
    t = Tree().standard()
    t.proc(777, "fio", "/dev/nvme4n1p2")
    t.proc(778, "nvme", "/dev/nvme4")
    refused(t, "/dev/nvme4n1p2 is open by PID 777 (fio)", "/dev/nvme4 is open by PID 778 (nvme)")
    Run(t, ["status"]).line("nvme4n1p2", "open by PID 777 (fio)")


def t_bind_free_device():
    t = Tree().standard()
    r = Run(t, ["bind", "00:04.0"])
    assert r.rc == 0, r
    r.has("%s: bound to vfio-pci (was nvme); /dev/vfio/4" % A, where="out")
    assert t.get("sys/bus/pci/devices/%s/driver_override" % A) == "vfio-pci\n"
    assert t.get("sys/bus/pci/drivers/nvme/unbind") == A
    assert t.get("sys/bus/pci/drivers_probe") == A
    assert t.get("kernel.log").splitlines() == [
        "write /sys/bus/pci/devices/%s/driver_override vfio-pci" % A,
        "write /sys/bus/pci/drivers/nvme/unbind %s" % A,
        "write /sys/bus/pci/drivers_probe %s" % A], t.get("kernel.log")
    s = Run(t, ["status"])
    s.line(A, "driver=vfio-pci", "override=vfio-pci")
    s.line("/dev/vfio/4: present")
    again = Run(t, ["bind", A])
    assert again.rc == 0, again
    again.has("%s: already on vfio-pci; /dev/vfio/4" % A)


def t_bind_kernel_does_not_move_it():
    # The kernel unbinds it, but no driver takes it.
    t = Tree().standard()
    r = Run(t, ["bind", A], kernel="no-probe", timeout=0.3)
    assert r.rc == 1, r
    r.has("%s: not on vfio-pci after drivers_probe (0.3s): it is on no driver" % A,
          "driver_override is vfio-pci", "tern-setup reset %s" % A, where="err")
    assert t.get("sys/bus/pci/drivers_probe") == A
    # No kernel at all: the unbind does nothing.
    t = Tree().standard()
    r = Run(t, ["bind", A], hook=False, timeout=0.3)
    assert r.rc == 1, r
    r.has("%s: still on nvme after writing its unbind (0.3s)" % A, where="err")
    assert t.get("sys/bus/pci/drivers_probe") == "", r


def t_reset_refused_while_vfio_group_open():
    t = Tree().standard()
    t.proc(4242, "tern-tgt", "/dev/vfio/vfio", "/dev/vfio/5")
    r = Run(t, ["reset", B])
    assert r.rc == 1, r
    r.has("refused " + B, "/dev/vfio/5 is open by PID 4242 (tern-tgt)", where="err")
    assert t.get("sys/bus/pci/devices/%s/driver_override" % B) == "vfio-pci\n"
    assert t.get("sys/bus/pci/drivers_probe") == ""
    # so is moving it to another userspace driver (modprobe brings that one)
    r = Run(t, ["bind", "--driver", "uio_pci_generic", B])
    assert r.rc == 1, r
    r.has("/dev/vfio/5 is open by PID 4242 (tern-tgt)", where="err")


def t_reset_back_to_nvme():
    t = Tree().standard()
    r = Run(t, ["reset", B])
    assert r.rc == 0, r
    r.has("%s: reset to nvme (was vfio-pci); nvme5: /dev/nvme5n1" % B, where="out")
    assert t.get("sys/bus/pci/devices/%s/driver_override" % B) == "\n"
    assert t.get("sys/bus/pci/drivers/vfio-pci/unbind") == B
    assert t.get("sys/bus/pci/drivers_probe") == B
    again = Run(t, ["reset", B])
    assert again.rc == 0 and "nothing to do" in again.out, again


def t_bad_bdf_and_arguments_exit_2():
    t = Tree().standard()
    for args in (["bind", "00:04"], ["bind", "0000:00:04.8"], ["bind", "00:20.0"],
                 ["bind", "0000:00:04.0x"], ["bind", "nvme0"], ["reset", "0:4.0"],
                 ["bind", A, "junk"], ["status", "xyz"], ["bind"], ["frob"],
                 ["hugepages", "lots"], ["hugepages", "--size", "3X", "8"],
                 ["hugepages", "--node", "7", "8"], ["hugepages", "--node", "a", "8"],
                 ["bind", "--timeout", "x", A]):
        r = Run(t, args)
        assert r.rc == 2, r
        assert r.err.strip(), r
    r = Run(t, ["bind", "00:4.0"])
    r.has("bad PCI address '00:4.0'", "DDDD:BB:DD.F", where="err")
    assert t.get("sys/bus/pci/drivers_probe") == "" and not os.path.exists(t.p("kernel.log"))


def t_refused_not_nvme_or_missing():
    t = Tree().standard()
    r = Run(t, ["bind", NIC])
    assert r.rc == 1, r
    r.has("%s is not an NVMe controller (class 0x020000" % NIC, where="err")
    r = Run(t, ["bind", "00:09.0"])
    assert r.rc == 1, r
    r.has("0000:00:09.0: no such PCI device", where="err")
    # one bad device does not stop the others, and the exit says it
    r = Run(t, ["bind", "00:09.0", A])
    assert r.rc == 1 and "bound to vfio-pci" in r.out, r


def t_environment_missing_exit_3():
    t = Tree().standard()
    shutil.rmtree(t.p("sys/bus/pci/drivers/vfio-pci"))
    r = Run(t, ["bind", A], kernel="no-modules")
    assert r.rc == 3, r
    r.has("driver vfio-pci is not available: modprobe vfio_pci", where="err")
    r = Run(t, ["bind", A], hook=False)
    assert r.rc == 3, r
    # modprobe brings it
    r = Run(t, ["bind", A])
    assert r.rc == 0, r
    r.has("loaded vfio-pci (modprobe vfio_pci)", "bound to vfio-pci", where="out")
    # no IOMMU groups
    t = Tree()
    t.pci(A, "0x010802", "nvme")
    for g in os.listdir(t.p("sys/kernel/iommu_groups")):
        shutil.rmtree(t.p("sys/kernel/iommu_groups/" + g))
    os.remove(t.p("sys/bus/pci/devices/%s/iommu_group" % NIC))
    r = Run(t, ["bind", A])
    assert r.rc == 3, r
    r.has("no IOMMU groups", "intel_iommu=on", where="err")
    # no 1 GiB pages
    t = Tree(sizes_kb=(2048,))
    r = Run(t, ["hugepages", "--size", "1G", "2"])
    assert r.rc == 3, r
    r.has("no 1 GiB hugepages (it has: 2 MiB)", where="err")


def t_hugepages_per_node():
    t = Tree(nodes=(0, 1))
    node = "sys/devices/system/node/node%d/hugepages/hugepages-%dkB/nr_hugepages"
    r = Run(t, ["hugepages", "512"])
    assert r.rc == 0, r
    assert t.get(node % (0, 2048)) == "512\n" and t.get(node % (1, 2048)) == "512\n"
    r.line("node 0: 512 x 2 MiB pages (1 GiB) reserved")
    r.line("node 1: 512 x 2 MiB pages (1 GiB) reserved")
    r.line("hugetlbfs: mounted on /dev/hugepages (2 MiB pages)")
    assert "hugetlbfs nodev rw,pagesize=2M" in t.get("proc/self/mountinfo")
    assert os.path.isdir(t.p("dev/hugepages"))
    # one node, a size: 1G = 512 pages; hugetlbfs is there now
    t.put(node % (1, 2048), "0\n")
    r = Run(t, ["hugepages", "--node", "1", "1G"])
    assert r.rc == 0, r
    assert t.get(node % (1, 2048)) == "512\n" and t.get(node % (0, 2048)) == "512\n"
    r.line("hugetlbfs: mounted on /dev/hugepages")
    assert r.out.count("node") == 1, r
    # 1 GiB pages on node 0 get their own mount
    r = Run(t, ["hugepages", "--size", "1G", "--node", "0", "2"])
    assert r.rc == 0, r
    assert t.get(node % (0, 1048576)) == "2\n"
    r.line("hugetlbfs: mounted on /dev/hugepages-1G (1 GiB pages)")
    # without NUMA nodes: the system-wide file
    t = Tree(nodes=(), sizes_kb=(2048,))
    r = Run(t, ["hugepages", "--no-mount", "64"])
    assert r.rc == 0, r
    assert t.get("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") == "64\n"
    r.line("system: 64 x 2 MiB pages")
    assert "hugetlbfs" not in r.out, r


def t_hugepages_shortfall_exit_1():
    t = Tree(nodes=(0, 1))
    r = Run(t, ["hugepages", "512"], kernel="huge-cap=1:100")
    assert r.rc == 1, r
    r.line("node 0: 512 x 2 MiB pages (1 GiB) reserved")
    r.line("node 1: 100 x 2 MiB pages (200 MiB) reserved, asked for 512")
    r.has("node 1: the kernel gave 100 of 512 2 MiB pages", "hugepages=N", where="err")
    r.line("hugetlbfs: mounted on /dev/hugepages")
    # nothing reserved at all: nothing mounted either
    t = Tree(nodes=(0, 1))
    r = Run(t, ["hugepages", "--node", "1", "8"], kernel="huge-cap=1:0")
    assert r.rc == 1 and "hugetlbfs" not in r.out + r.err, r
    r.line("node 1: 0 x 2 MiB pages (0 B) reserved, asked for 8")


def t_help():
    r = Run(Tree(), ["--help"])
    assert r.rc == 0, r
    r.has("status", "hugepages", "bind", "reset", "Exit: 0", "3 environment missing",
          "TERN_SETUP_ROOT", where="out")


TESTS = [t_status_kernel_and_vfio_devices, t_status_without_numa_nodes_or_hugetlbfs,
         t_bind_refused_partition_mounted_by_major_minor, t_bind_refused_swap,
         t_bind_refused_held_by_dm, t_bind_refused_open_by_a_process, t_bind_free_device,
         t_bind_kernel_does_not_move_it, t_reset_refused_while_vfio_group_open,
         t_reset_back_to_nvme, t_bad_bdf_and_arguments_exit_2, t_refused_not_nvme_or_missing,
         t_environment_missing_exit_3, t_hugepages_per_node, t_hugepages_shortfall_exit_1,
         t_help]


def check_environment():
    if not os.access(TOOL, os.X_OK):
        print("ENVIRONMENT: missing %s (not executable)" % TOOL)
        sys.exit(77)


def main():
    if KERNEL:
        return fake_kernel(sys.argv[2:])
    try:
        return run_tests(TESTS, check_environment)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
