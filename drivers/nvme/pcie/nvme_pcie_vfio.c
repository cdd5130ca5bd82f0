/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device side of the PCIe NVMe driver: a PCI function bound to vfio-pci,
 * opened through lib/env (DPDK's vfio container, so the IOMMU knows every
 * DPDK memory IOVA), BAR0 mapped into our address space, bus mastering on,
 * and vfio's "request" notification (the kernel asks us to let go of a
 * device that is being removed) on an eventfd the controller polls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tern_env.h"
#include "nvme_pcie_vfio.h"

TERN_LOG_REGISTER(g_log, "tern.drv.nvme.pcie.vfio", INFO);

/* "0000:00:04.0", also accepting "00:04.0" (domain 0). */
int
tern_nvme_pcie_parse_bdf(const char *in, char out[NVME_PCIE_BDF_LEN])
{
    unsigned dom = 0, bus, dev, fn;
    char tail;

    if (sscanf(in, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
        /* full form */
    } else if (sscanf(in, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3) {
        dom = 0;
    } else {
        return -EINVAL;
    }
    if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7 || strlen(in) > 12)
        return -EINVAL;
    snprintf(out, NVME_PCIE_BDF_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return 0;
}

static int
read_link_name(const char *path, char *out, size_t len)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    const char *base;

    if (n < 0)
        return -errno;
    buf[n] = '\0';
    base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    if (strlen(base) >= len)
        return -ENAMETOOLONG;
    memcpy(out, base, strlen(base) + 1);
    return 0;
}

/* Say why a device cannot be opened, in the words an operator needs. */
static int
check_binding(const char *bdf)
{
    char path[PATH_MAX], drv[64];
    int rc;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
    if (access(path, F_OK) != 0) {
        TERN_LOG(g_log, ERR, "%s: no such PCI device (usertools/tern-setup status lists NVMe "
                 "devices)", bdf);
        return -ENODEV;
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
    rc = read_link_name(path, drv, sizeof(drv));
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "%s: bound to no driver; bind it to vfio-pci first: "
                 "usertools/tern-setup bind %s", bdf, bdf);
        return -ENODEV;
    }
    if (strcmp(drv, "vfio-pci") != 0) {
        TERN_LOG(g_log, ERR, "%s: bound to %s, not vfio-pci; bind it first (refused if it is "
                 "in use): usertools/tern-setup bind %s", bdf, drv, bdf);
        return -EBUSY;
    }
    return 0;
}

static int
cfg_rw16(int fd, uint64_t cfg_off, uint32_t reg, uint16_t *v, bool write)
{
    ssize_t n = write ? pwrite(fd, v, 2, (off_t)(cfg_off + reg))
                      : pread(fd, v, 2, (off_t)(cfg_off + reg));

    return n == 2 ? 0 : -EIO;
}

static int
enable_req_notifier(struct nvme_pcie_dev *d)
{
    struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_REQ_IRQ_INDEX };
    char buf[sizeof(struct vfio_irq_set) + sizeof(int)];
    struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

    if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0 || irq.count == 0) {
        TERN_LOG(g_log, WARNING, "%s: this kernel's vfio has no removal notification: a "
                 "removal waits for a detach", d->bdf);
        return 0;
    }
    d->req_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->req_fd < 0)
        return -errno;
    memset(buf, 0, sizeof(buf));
    set->argsz = sizeof(buf);
    set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    set->index = VFIO_PCI_REQ_IRQ_INDEX;
    set->start = 0;
    set->count = 1;
    memcpy(set->data, &d->req_fd, sizeof(int));
    if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, set) != 0) {
        int rc = -errno;

        TERN_LOG(g_log, ERR, "%s: cannot register the removal notification: %s", d->bdf,
                 strerror(-rc));
        close(d->req_fd);
        d->req_fd = -1;
        return rc;
    }
    return 0;
}

static void
disable_req_notifier(struct nvme_pcie_dev *d)
{
    struct vfio_irq_set set = {
        .argsz = sizeof(set),
        .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
        .index = VFIO_PCI_REQ_IRQ_INDEX,
        .start = 0,
        .count = 0,
    };

    if (d->req_fd < 0)
        return;
    (void)ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &set);
    close(d->req_fd);
    d->req_fd = -1;
}

int
nvme_pcie_dev_open(struct nvme_pcie_dev *d, const char *bdf)
{
    struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
    struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    uint16_t cmd;
    void *va;
    int rc;

    memset(d, 0, sizeof(*d));
    d->fd = -1;
    d->req_fd = -1;
    rc = tern_nvme_pcie_parse_bdf(bdf, d->bdf);
    if (rc != 0) {
        TERN_LOG(g_log, ERR, "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", bdf);
        return rc;
    }
    rc = check_binding(d->bdf);
    if (rc != 0)
        return rc;
    rc = tern_env_vfio_setup_device(d->bdf, &d->fd);
    if (rc != 0) {
        d->fd = -1;
        return rc;
    }
    if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &bar) != 0 ||
        ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &cfg) != 0) {
        rc = -errno;
        TERN_LOG(g_log, ERR, "%s: cannot read the device's regions: %s", d->bdf, strerror(-rc));
        goto fail;
    }
    if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar.size < 0x2000) {
        TERN_LOG(g_log, ERR, "%s: BAR0 (%llu bytes, flags 0x%x) cannot be mapped: not an NVMe "
                 "controller?", d->bdf, (unsigned long long)bar.size, bar.flags);
        rc = -ENODEV;
        goto fail;
    }
    va = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)bar.offset);
    if (va == MAP_FAILED) {
        rc = -errno;
        TERN_LOG(g_log, ERR, "%s: cannot map BAR0 (%llu bytes): %s", d->bdf,
                 (unsigned long long)bar.size, strerror(-rc));
        goto fail;
    }
    d->bar = va;
    d->bar_len = bar.size;
    d->cfg_off = cfg.offset;
    /* Memory space decoding and bus mastering: the device reads our queues. */
    if (cfg_rw16(d->fd, d->cfg_off, PCI_COMMAND, &cmd, false) != 0) {
        rc = -EIO;
        TERN_LOG(g_log, ERR, "%s: cannot read the PCI command register", d->bdf);
        goto fail;
    }
    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    if (cfg_rw16(d->fd, d->cfg_off, PCI_COMMAND, &cmd, true) != 0) {
        rc = -EIO;
        TERN_LOG(g_log, ERR, "%s: cannot enable bus mastering", d->bdf);
        goto fail;
    }
    rc = enable_req_notifier(d);
    if (rc != 0)
        goto fail;
    TERN_LOG(g_log, INFO, "%s: opened through vfio, BAR0 %llu bytes, IOVA mode %s", d->bdf,
             (unsigned long long)bar.size, tern_env_iova_mode());
    return 0;

fail:
    nvme_pcie_dev_close(d);
    return rc;
}

bool
nvme_pcie_dev_removal_requested(struct nvme_pcie_dev *d)
{
    uint64_t v;

    return d->req_fd >= 0 && read(d->req_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

void
nvme_pcie_dev_close(struct nvme_pcie_dev *d)
{
    uint16_t cmd;

    if (d->fd >= 0) {
        disable_req_notifier(d);
        /* No DMA after we let go (the kernel does this too on release). */
        if (d->bar != NULL && cfg_rw16(d->fd, d->cfg_off, PCI_COMMAND, &cmd, false) == 0) {
            cmd &= (uint16_t)~PCI_COMMAND_MASTER;
            (void)cfg_rw16(d->fd, d->cfg_off, PCI_COMMAND, &cmd, true);
        }
    }
    if (d->bar != NULL)
        munmap((void *)d->bar, d->bar_len);
    d->bar = NULL;
    if (d->fd >= 0)
        tern_env_vfio_release_device(d->bdf, d->fd);
    d->fd = -1;
}
