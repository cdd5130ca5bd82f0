/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef NVME_PCIE_VFIO_H
#define NVME_PCIE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern_nvme_pcie.h"

#define NVME_PCIE_BDF_LEN TERN_NVME_PCIE_BDF_LEN

struct nvme_pcie_dev {
    char bdf[NVME_PCIE_BDF_LEN];
    int fd;                     /* vfio device */
    int req_fd;                 /* eventfd: the kernel asks for the device back */
    volatile uint8_t *bar;      /* BAR0 */
    size_t bar_len;
    uint64_t cfg_off;           /* config space offset in the device fd */
};

int nvme_pcie_dev_open(struct nvme_pcie_dev *d, const char *bdf);
/* Non-blocking: true once vfio asked for the device back (removal). */
bool nvme_pcie_dev_removal_requested(struct nvme_pcie_dev *d);
void nvme_pcie_dev_close(struct nvme_pcie_dev *d);

#endif /* NVME_PCIE_VFIO_H */
