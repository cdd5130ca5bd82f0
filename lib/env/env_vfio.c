/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA memory and vfio devices for userspace drivers (drivers/nvme/pcie).
 *
 * DMA memory is DPDK memory: the EAL maps every memory segment into its
 * default vfio container with the segment's IOVA, so a device whose IOMMU
 * group joins that container (tern_env_vfio_setup_device) can reach all of
 * it, including memory the EAL adds later. Rings and PRP/SGL list pages must
 * be IOVA-contiguous, so they come from memzones reserved with
 * RTE_MEMZONE_IOVA_CONTIG, never from rte_malloc (which does not promise
 * that in IOVA-as-PA mode).
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_vfio.h>

#include "tern_env.h"

TERN_LOG_REGISTER(g_log, "tern.lib.env.vfio", INFO);

#define PCI_SYSFS "/sys/bus/pci/devices"

int
tern_env_dma_alloc(const char *what, size_t len, size_t align, int socket, struct tern_env_dma *out)
{
    static atomic_uint seq;
    const struct rte_memzone *mz;
    char name[RTE_MEMZONE_NAMESIZE];

    memset(out, 0, sizeof(*out));
    if (len == 0 || align == 0 || (align & (align - 1)) != 0)
        return -EINVAL;
    /* Memzone names are global and unique: a sequence number makes them so. */
    snprintf(name, sizeof(name), "tdma%u_%.20s", atomic_fetch_add(&seq, 1), what);
    mz = rte_memzone_reserve_aligned(name, len,
                                     socket == TERN_ENV_SOCKET_ANY ? SOCKET_ID_ANY : socket,
                                     RTE_MEMZONE_IOVA_CONTIG, (unsigned)align);
    if (mz == NULL) {
        int rc = rte_errno ? rte_errno : ENOMEM;

        TERN_LOG(g_log, ERR, "%s: cannot reserve %zu bytes of IOVA-contiguous DMA memory on "
                 "socket %d: %s", what, len, socket, rte_strerror(rc));
        return -rc;
    }
    memset(mz->addr, 0, len);
    out->va = mz->addr;
    out->iova = mz->iova;
    out->len = len;
    out->handle = (void *)(uintptr_t)mz;
    return 0;
}

void
tern_env_dma_free(struct tern_env_dma *d)
{
    if (d->handle != NULL)
        rte_memzone_free((const struct rte_memzone *)d->handle);
    memset(d, 0, sizeof(*d));
}

uint64_t
tern_env_dma_iova(const void *va)
{
    rte_iova_t iova;

    /* In IOVA-as-VA mode rte_mem_virt2iova() answers for any pointer; only
     * memory of a segment list is in the IOMMU's tables. */
    if (rte_mem_virt2memseg_list(va) == NULL)
        return TERN_ENV_IOVA_BAD;
    iova = rte_mem_virt2iova(va);
    return iova == RTE_BAD_IOVA ? TERN_ENV_IOVA_BAD : (uint64_t)iova;
}

int
tern_env_vfio_setup_device(const char *bdf, int *device_fd)
{
    struct vfio_device_info info = { .argsz = sizeof(info) };
    int rc;

    if (!rte_vfio_is_enabled("vfio")) {
        TERN_LOG(g_log, ERR, "%s: vfio is not available to DPDK (is the vfio-pci module loaded "
                 "and /dev/vfio/vfio present? usertools/tern-setup status)", bdf);
        return -ENODEV;
    }
    rc = rte_vfio_setup_device(PCI_SYSFS, bdf, device_fd, &info);
    if (rc < 0) {
        TERN_LOG(g_log, ERR, "%s: vfio setup failed (see DPDK's EAL lines above): is the device "
                 "bound to vfio-pci (usertools/tern-setup bind %s) and its IOMMU group viable?",
                 bdf, bdf);
        return -ENODEV;
    }
    if (rc > 0) {
        TERN_LOG(g_log, ERR, "%s: not managed by vfio (bind it: usertools/tern-setup bind %s)",
                 bdf, bdf);
        return -ENODEV;
    }
    return 0;
}

int
tern_env_vfio_release_device(const char *bdf, int device_fd)
{
    if (rte_vfio_release_device(PCI_SYSFS, bdf, device_fd) < 0) {
        TERN_LOG(g_log, ERR, "%s: vfio release failed", bdf);
        return -EIO;
    }
    return 0;
}
