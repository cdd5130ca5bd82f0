/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The environment layer: the only code in Tern that calls DPDK (rte_*).
 * EAL start and stop, lcores and their NUMA sockets, launching one function
 * per lcore, memory (named, per-socket mempools and rings, zeroed
 * allocations, IOVA translation) and time.
 */
#ifndef TERN_ENV_H
#define TERN_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern_log.h"

#define TERN_ENV_SOCKET_ANY (-1)
#define TERN_ENV_LCORE_NONE UINT32_MAX
#define TERN_ENV_IOVA_BAD UINT64_MAX

/*
 * Start the EAL with DPDK's own arguments (everything before `--`).
 * Returns the number of arguments consumed, so the application's options are
 * argv[ret..] with argv[ret] being the program name again, like
 * rte_eal_init(); or -errno, with the reason logged.
 */
int tern_env_init(int argc, char **argv);
void tern_env_fini(void);
bool tern_env_initialized(void);
/*
 * Split a Tern program's command line at `--`: EAL's options before it, the
 * program's after. *eal_argc counts argv[0] and EAL's options; *app_argv
 * (free() it) is argv[0] followed by the program's options, NULL-ended,
 * *app_argc entries. Returns 1 when -h/--help comes before `--` (the
 * caller prints both usages), 0, or -ENOMEM.
 */
int tern_env_split_args(int argc, char **argv, int *eal_argc, int *app_argc, char ***app_argv);
/* Print EAL's own usage text and exit (used by --help). */
void tern_env_print_eal_usage_and_exit(const char *prog) __attribute__((noreturn));

/* lcores */
uint32_t tern_env_lcore_id(void);          /* TERN_ENV_LCORE_NONE off-lcore */
uint32_t tern_env_main_lcore(void);
uint32_t tern_env_lcore_count(void);
int tern_env_lcore_socket(uint32_t lcore);
uint32_t tern_env_lcore_first(void);
/* Next enabled lcore after `prev`, TERN_ENV_LCORE_NONE at the end. */
uint32_t tern_env_lcore_next(uint32_t prev);
#define TERN_ENV_FOREACH_LCORE(l)                                             \
    for ((l) = tern_env_lcore_first(); (l) != TERN_ENV_LCORE_NONE;            \
         (l) = tern_env_lcore_next(l))
uint32_t tern_env_socket_count(void);

/* Run fn(arg) on every lcore, the calling main lcore included, and wait for
 * all of them. Returns 0, or the first non-zero return value. */
int tern_env_launch_all(int (*fn)(void *arg), void *arg);

/* time */
uint64_t tern_env_ticks(void);
uint64_t tern_env_ticks_hz(void);
void tern_env_delay_us(uint32_t us);
void tern_env_pause(void);

/* memory: zeroed, DMA-capable, socket-local allocations */
void *tern_env_zmalloc(const char *name, size_t size, size_t align, int socket);
void tern_env_free(void *ptr);
/* IOVA of a byte of DPDK memory, TERN_ENV_IOVA_BAD for anything else. */
uint64_t tern_env_virt2iova(const void *va);
/* "PA" or "VA": the mode the EAL picked. */
const char *tern_env_iova_mode(void);
const char *tern_env_dpdk_version(void);

/*
 * DMA memory for devices (lib/env/env_vfio.c): zeroed, IOVA-contiguous, from
 * DPDK memory that the EAL maps into its vfio container. `what` names it in
 * logs.
 */
struct tern_env_dma {
    void *va;
    uint64_t iova;
    size_t len;
    void *handle;
};
int tern_env_dma_alloc(const char *what, size_t len, size_t align, int socket,
                       struct tern_env_dma *out);
void tern_env_dma_free(struct tern_env_dma *d);
/* IOVA of a byte of DPDK memory a device may reach, TERN_ENV_IOVA_BAD for
 * other memory (heap, stack), also in IOVA-as-VA mode. */
uint64_t tern_env_dma_iova(const void *va);
/*
 * Open a PCI device bound to vfio-pci through DPDK's vfio support: its IOMMU
 * group joins the EAL's default container (all DPDK memory DMA-mapped).
 * *device_fd is the vfio device fd. -ENODEV with the reason logged.
 */
int tern_env_vfio_setup_device(const char *bdf, int *device_fd);
int tern_env_vfio_release_device(const char *bdf, int device_fd);

/*
 * Mempools. The element count is the caller's (from configuration); the
 * per-lcore cache is computed so that caches of every lcore together can
 * never hold more than a third of the pool, and the choice is logged.
 */
struct tern_mempool;
struct tern_mempool *tern_mempool_create(const char *name, uint32_t count,
                                         size_t elt_size, int socket);
void tern_mempool_free(struct tern_mempool *mp);
int tern_mempool_get(struct tern_mempool *mp, void **obj);        /* 0 / -ENOMEM */
int tern_mempool_get_bulk(struct tern_mempool *mp, void **objs, uint32_t n);
void tern_mempool_put(struct tern_mempool *mp, void *obj);
void tern_mempool_put_bulk(struct tern_mempool *mp, void **objs, uint32_t n);
uint32_t tern_mempool_avail(const struct tern_mempool *mp);       /* free objects */
uint32_t tern_mempool_size(const struct tern_mempool *mp);
uint32_t tern_mempool_cache_size(const struct tern_mempool *mp);
const char *tern_mempool_name(const struct tern_mempool *mp);
/* The cache size tern_mempool_create() picks for `count` objects. */
uint32_t tern_mempool_cache_for(uint32_t count, uint32_t lcores);

/* Rings of pointers. */
enum tern_ring_mode {
    TERN_RING_MP_SC,    /* many producers, one consumer (message rings) */
    TERN_RING_SP_SC,
    TERN_RING_MP_MC,
};
struct tern_ring;
/* The ring holds exactly `count` objects. */
struct tern_ring *tern_ring_create(const char *name, uint32_t count, int socket,
                                   enum tern_ring_mode mode);
void tern_ring_free(struct tern_ring *r);
/* Returns how many were enqueued / dequeued (burst semantics). */
uint32_t tern_ring_enqueue_burst(struct tern_ring *r, void *const *objs, uint32_t n);
uint32_t tern_ring_dequeue_burst(struct tern_ring *r, void **objs, uint32_t n);
uint32_t tern_ring_count(const struct tern_ring *r);
uint32_t tern_ring_capacity(const struct tern_ring *r);

#endif /* TERN_ENV_H */
