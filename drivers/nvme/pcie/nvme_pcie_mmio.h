/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Register and doorbell access for the PCIe NVMe driver, with the ordering
 * each architecture needs between host memory (queues the device reads by
 * DMA) and the device's registers (BAR0, mapped uncached by vfio).
 *
 *  - Before a doorbell write, the submission queue entry (and PRP/SGL lists)
 *    stored to host memory must be visible to the device.
 *    x86-64: stores are not reordered with older stores, and an uncached
 *    store is not passed by write-back stores before it: a compiler barrier.
 *    ARM64: "dmb oshst" orders earlier stores before later ones for all
 *    observers in the outer shareable domain, the device included (the same
 *    barrier the kernel's writel() issues).
 *  - After a completion entry's phase bit is seen to flip, the rest of the
 *    entry must be read after it. x86-64: loads are not reordered with older
 *    loads (compiler barrier). ARM64: "dmb oshld".
 */
#ifndef NVME_PCIE_MMIO_H
#define NVME_PCIE_MMIO_H

#include <stdint.h>

#if defined(__x86_64__)
#define nvme_pcie_wmb() __asm__ volatile("" ::: "memory")
#define nvme_pcie_rmb() __asm__ volatile("" ::: "memory")
#elif defined(__aarch64__)
#define nvme_pcie_wmb() __asm__ volatile("dmb oshst" ::: "memory")
#define nvme_pcie_rmb() __asm__ volatile("dmb oshld" ::: "memory")
#else
#error "drivers/nvme/pcie: no memory barriers defined for this architecture"
#endif

static inline uint32_t
nvme_pcie_read32(const volatile uint8_t *regs, uint32_t off)
{
    return *(const volatile uint32_t *)(regs + off);
}

static inline void
nvme_pcie_write32(volatile uint8_t *regs, uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(regs + off) = v;
}

/* 64-bit registers as two 32-bit accesses, low half first: not every
 * controller (or PCIe path) takes 64-bit MMIO. */
static inline uint64_t
nvme_pcie_read64(const volatile uint8_t *regs, uint32_t off)
{
    uint64_t lo = nvme_pcie_read32(regs, off);

    return lo | (uint64_t)nvme_pcie_read32(regs, off + 4) << 32;
}

static inline void
nvme_pcie_write64(volatile uint8_t *regs, uint32_t off, uint64_t v)
{
    nvme_pcie_write32(regs, off, (uint32_t)v);
    nvme_pcie_write32(regs, off + 4, (uint32_t)(v >> 32));
}

/* Doorbell offsets (Base 3.1.3.x, SQyTDBL / CQyHDBL): the stride is
 * 4 << CAP.DSTRD bytes. */
static inline uint32_t
nvme_pcie_sq_doorbell(uint16_t qid, uint32_t dstrd)
{
    return 0x1000u + (2u * qid) * (4u << dstrd);
}

static inline uint32_t
nvme_pcie_cq_doorbell(uint16_t qid, uint32_t dstrd)
{
    return 0x1000u + (2u * qid + 1u) * (4u << dstrd);
}

#endif /* NVME_PCIE_MMIO_H */
