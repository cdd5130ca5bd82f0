/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block devices: what the target serves namespaces from. A bdev is registered
 * by a module (malloc, null, uring, nvme) on the main lcore. Users open a
 * descriptor on the main lcore and get a per-lcore channel on each lcore that
 * does I/O; a channel is created, used and released only on its lcore.
 * I/O objects come from one mempool sized by configuration
 * (bdev_set_options); when it is empty, a submitter may queue a waiter,
 * which the channel retries on every poll, busy or idle.
 */
#ifndef TERN_BDEV_H
#define TERN_BDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

struct tern_bdev;
struct tern_bdev_desc;
struct tern_bdev_channel;
struct tern_bdev_io;

enum tern_bdev_io_type {
    TERN_BDEV_IO_READ,
    TERN_BDEV_IO_WRITE,
    TERN_BDEV_IO_FLUSH,
    TERN_BDEV_IO_WRITE_ZEROES,
    TERN_BDEV_IO_UNMAP,
    TERN_BDEV_IO_COMPARE,
    TERN_BDEV_IO_NUM_TYPES,
};

enum tern_bdev_io_status {
    TERN_BDEV_IO_SUCCESS = 0,
    TERN_BDEV_IO_FAILED,         /* device error */
    TERN_BDEV_IO_MISCOMPARE,
    TERN_BDEV_IO_ABORTED,        /* device went away, channel torn down */
};

typedef void (*tern_bdev_io_cb)(void *cb_arg, enum tern_bdev_io_status status);

/* Events delivered on the main lcore to whoever holds a descriptor. */
enum tern_bdev_event {
    TERN_BDEV_EVENT_REMOVE,      /* close your descriptor; the bdev is going */
    TERN_BDEV_EVENT_RESIZE,
};
typedef void (*tern_bdev_event_cb)(enum tern_bdev_event ev, struct tern_bdev *bdev, void *ctx);

struct tern_bdev_opts {
    uint32_t io_pool_size;       /* I/O objects in the shared pool */
};
#define TERN_BDEV_DEFAULT_IO_POOL_SIZE 65535
/* The floor: every lcore can have one full queue of 128 commands in flight. */
#define TERN_BDEV_MIN_IO_POOL_PER_LCORE 128

/* Lifecycle (main lcore). init creates the I/O pool from the options. */
int tern_bdev_set_opts(const struct tern_bdev_opts *opts);
void tern_bdev_get_opts(struct tern_bdev_opts *opts);
int tern_bdev_init(void);
void tern_bdev_fini(void);

struct tern_bdev *tern_bdev_get_by_name(const char *name);
struct tern_bdev *tern_bdev_first(void);
struct tern_bdev *tern_bdev_next(struct tern_bdev *prev);
const char *tern_bdev_name(const struct tern_bdev *bdev);
const char *tern_bdev_module_name(const struct tern_bdev *bdev);
uint32_t tern_bdev_block_size(const struct tern_bdev *bdev);
uint64_t tern_bdev_num_blocks(const struct tern_bdev *bdev);
const uint8_t *tern_bdev_uuid(const struct tern_bdev *bdev);      /* 16 bytes */
bool tern_bdev_has_write_cache(const struct tern_bdev *bdev);
bool tern_bdev_io_type_supported(const struct tern_bdev *bdev, enum tern_bdev_io_type type);
/* Largest transfer in blocks, 0 = no limit. */
uint32_t tern_bdev_max_transfer_blocks(const struct tern_bdev *bdev);

/* Descriptors (main lcore). */
int tern_bdev_open(const char *name, bool write, tern_bdev_event_cb cb, void *ctx,
                   struct tern_bdev_desc **desc);
void tern_bdev_close(struct tern_bdev_desc *desc);
struct tern_bdev *tern_bdev_desc_bdev(const struct tern_bdev_desc *desc);

/* Channels (on the lcore that does I/O; refcounted per lcore). */
struct tern_bdev_channel *tern_bdev_get_channel(struct tern_bdev_desc *desc);
void tern_bdev_put_channel(struct tern_bdev_channel *ch);

/*
 * Submit one I/O on the calling lcore's channel. The iovec array and the
 * buffers stay the caller's and must stay valid until cb runs (modules read
 * the array when they reach the device, not during this call). Returns 0 (cb will be
 * called exactly once, never from inside this call), -ENOMEM (no I/O object:
 * queue a waiter and try again when it runs), -EINVAL (range or arguments),
 * -ENOTSUP (the bdev does not do this type) or -ENODEV (the bdev is being
 * removed).
 */
int tern_bdev_submit(struct tern_bdev_channel *ch, enum tern_bdev_io_type type,
                     uint64_t offset_blocks, uint64_t num_blocks, struct iovec *iov, int iovcnt,
                     tern_bdev_io_cb cb, void *cb_arg);

struct tern_bdev_io_wait {
    TAILQ_ENTRY(tern_bdev_io_wait) link;
    void (*fn)(void *arg);
    void *arg;
};
/* Run wait->fn(wait->arg) on this channel's lcore once an I/O object may be
 * free. The waiter is unlinked before it runs. */
void tern_bdev_queue_io_wait(struct tern_bdev_channel *ch, struct tern_bdev_io_wait *wait);
/* Take a waiter back (the caller is going away). */
void tern_bdev_cancel_io_wait(struct tern_bdev_channel *ch, struct tern_bdev_io_wait *wait);

struct tern_bdev_channel_stats {
    uint64_t ops[TERN_BDEV_IO_NUM_TYPES];
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t errors;
    uint32_t outstanding;
    uint32_t io_waiters;
};
void tern_bdev_channel_stats(const struct tern_bdev_channel *ch, struct tern_bdev_channel_stats *st);
/* Call cb for every channel of the calling lcore (stats gathering). */
void tern_bdev_foreach_local_channel(void (*cb)(const char *bdev_name,
                                               const struct tern_bdev_channel_stats *st,
                                               void *ctx),
                                     void *ctx);
/* Free I/O objects in the shared pool, and its size. */
uint32_t tern_bdev_io_pool_free(void);
uint32_t tern_bdev_io_pool_size(void);

const char *tern_bdev_io_type_name(enum tern_bdev_io_type type);

#endif /* TERN_BDEV_H */
