/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "tern_env.h"

TERN_LOG_REGISTER(g_log, "tern.lib.env.mem", INFO);

/* Our opaque handles are the DPDK objects themselves. */
#define MP(p) ((struct rte_mempool *)(p))
#define CMP(p) ((const struct rte_mempool *)(p))
#define RING(p) ((struct rte_ring *)(p))
#define CRING(p) ((const struct rte_ring *)(p))

void *
tern_env_zmalloc(const char *name, size_t size, size_t align, int socket)
{
    return rte_zmalloc_socket(name, size, (unsigned)align,
                              socket == TERN_ENV_SOCKET_ANY ? SOCKET_ID_ANY : socket);
}

void
tern_env_free(void *ptr)
{
    rte_free(ptr);
}

uint64_t
tern_env_virt2iova(const void *va)
{
    rte_iova_t iova = rte_mem_virt2iova(va);

    return iova == RTE_BAD_IOVA ? TERN_ENV_IOVA_BAD : (uint64_t)iova;
}

uint32_t
tern_mempool_cache_for(uint32_t count, uint32_t lcores)
{
    uint32_t cache;

    if (lcores == 0)
        lcores = 1;
    /*
     * Objects parked in per-lcore caches are invisible to other lcores. Keep
     * the caches of all lcores (each may hold up to 1.5x its size) to at most
     * a third of the pool, so a pool sized from configuration cannot look
     * empty while most of it sits in idle caches.
     */
    cache = (uint32_t)((uint64_t)count * 2 / ((uint64_t)lcores * 9));
    if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
        cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
    if (cache < 4)
        cache = 0;  /* not worth a cache */
    return cache;
}

struct tern_mempool *
tern_mempool_create(const char *name, uint32_t count, size_t elt_size, int socket)
{
    struct rte_mempool *mp;
    uint32_t cache;

    if (name == NULL || count == 0 || elt_size == 0 || elt_size > UINT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (strlen(name) >= RTE_MEMPOOL_NAMESIZE) {
        TERN_LOG(g_log, ERR, "mempool name '%s' longer than %d characters", name,
                 (int)RTE_MEMPOOL_NAMESIZE - 1);
        errno = ENAMETOOLONG;
        return NULL;
    }
    cache = tern_mempool_cache_for(count, rte_lcore_count());
    mp = rte_mempool_create(name, count, (unsigned)elt_size, cache, 0, NULL, NULL,
                            NULL, NULL,
                            socket == TERN_ENV_SOCKET_ANY ? SOCKET_ID_ANY : socket, 0);
    if (mp == NULL) {
        errno = rte_errno ? rte_errno : ENOMEM;
        TERN_LOG(g_log, ERR, "mempool %s: cannot create %u x %zu bytes on socket %d: %s",
                 name, count, elt_size, socket, rte_strerror(errno));
        return NULL;
    }
    TERN_LOG(g_log, INFO, "mempool %s: %u objects x %zu bytes on socket %d, per-lcore cache %u (%u lcores)",
             name, count, elt_size, socket, cache, rte_lcore_count());
    return (struct tern_mempool *)mp;
}

void
tern_mempool_free(struct tern_mempool *mp)
{
    rte_mempool_free(MP(mp));
}

int
tern_mempool_get(struct tern_mempool *mp, void **obj)
{
    return rte_mempool_get(MP(mp), obj) == 0 ? 0 : -ENOMEM;
}

int
tern_mempool_get_bulk(struct tern_mempool *mp, void **objs, uint32_t n)
{
    return rte_mempool_get_bulk(MP(mp), objs, n) == 0 ? 0 : -ENOMEM;
}

void
tern_mempool_put(struct tern_mempool *mp, void *obj)
{
    rte_mempool_put(MP(mp), obj);
}

void
tern_mempool_put_bulk(struct tern_mempool *mp, void **objs, uint32_t n)
{
    rte_mempool_put_bulk(MP(mp), objs, n);
}

uint32_t
tern_mempool_avail(const struct tern_mempool *mp)
{
    return rte_mempool_avail_count(CMP(mp));
}

uint32_t
tern_mempool_size(const struct tern_mempool *mp)
{
    return CMP(mp)->size;
}

uint32_t
tern_mempool_cache_size(const struct tern_mempool *mp)
{
    return CMP(mp)->cache_size;
}

const char *
tern_mempool_name(const struct tern_mempool *mp)
{
    return CMP(mp)->name;
}

struct tern_ring *
tern_ring_create(const char *name, uint32_t count, int socket, enum tern_ring_mode mode)
{
    unsigned flags;
    struct rte_ring *r;

    switch (mode) {
    case TERN_RING_MP_SC: flags = RING_F_SC_DEQ; break;
    case TERN_RING_SP_SC: flags = RING_F_SP_ENQ | RING_F_SC_DEQ; break;
    case TERN_RING_MP_MC: flags = 0; break;
    default: errno = EINVAL; return NULL;
    }
    if (name == NULL || count == 0 || count > RTE_RING_SZ_MASK) {
        errno = EINVAL;
        return NULL;
    }
    /* RING_F_EXACT_SZ: the ring holds exactly `count`, rounded internally. */
    r = rte_ring_create(name, count, socket == TERN_ENV_SOCKET_ANY ? SOCKET_ID_ANY : socket,
                        flags | RING_F_EXACT_SZ);
    if (r == NULL) {
        errno = rte_errno ? rte_errno : ENOMEM;
        TERN_LOG(g_log, ERR, "ring %s: cannot create %u slots on socket %d: %s", name, count,
                 socket, rte_strerror(errno));
        return NULL;
    }
    TERN_LOG(g_log, DEBUG, "ring %s: %u slots on socket %d", name, rte_ring_get_capacity(r), socket);
    return (struct tern_ring *)r;
}

void
tern_ring_free(struct tern_ring *r)
{
    rte_ring_free(RING(r));
}

uint32_t
tern_ring_enqueue_burst(struct tern_ring *r, void *const *objs, uint32_t n)
{
    return rte_ring_enqueue_burst(RING(r), objs, n, NULL);
}

uint32_t
tern_ring_dequeue_burst(struct tern_ring *r, void **objs, uint32_t n)
{
    return rte_ring_dequeue_burst(RING(r), objs, n, NULL);
}

uint32_t
tern_ring_count(const struct tern_ring *r)
{
    return rte_ring_count(CRING(r));
}

uint32_t
tern_ring_capacity(const struct tern_ring *r)
{
    return rte_ring_get_capacity(CRING(r));
}
