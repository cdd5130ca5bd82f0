/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Static limits of Tern. Everything here is a compile-time bound; run-time
 * sizes (pools, queue depths) come from configuration and are only capped or
 * floored by these values.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include "tern_build_config.h"

/* Highest lcore id a reactor may run on (DPDK's RTE_MAX_LCORE is 128 in
 * Debian's build; env checks that ours is not larger). */
#define TERN_MAX_LCORES 128

/* Per-reactor message ring: a power of two (rte_ring requirement). */
#define TERN_REACTOR_RING_SIZE 4096
/* Message objects in the shared pool, per lcore that runs a reactor: one
 * reactor's full ring must not be able to empty the pool for the others. */
#define TERN_REACTOR_MSGS_PER_LCORE TERN_REACTOR_RING_SIZE
/* How long reactors keep draining their rings after a stop request before
 * they give up and report the messages they dropped. */
#define TERN_REACTOR_STOP_DRAIN_MS 5000
/* Longest poller name kept (for stats). */
#define TERN_POLLER_NAME_MAX 48

/* JSON-RPC server. */
#define TERN_RPC_DEFAULT_SOCKET "/var/tmp/tern.sock"
/* A request larger than this closes its connection with an error. */
#define TERN_RPC_MAX_REQUEST_BYTES (1024 * 1024)
/* Replies queued to a client that does not read are capped at this; past it
 * the connection is closed so one slow client cannot grow the heap. */
#define TERN_RPC_MAX_OUTPUT_BYTES (16 * 1024 * 1024)
#define TERN_RPC_MAX_CONNECTIONS 64
/* The RPC server runs as a timed poller on the main reactor. */
#define TERN_RPC_POLL_PERIOD_US 1000
/* A configuration file larger than this is refused. */
#define TERN_CONFIG_MAX_BYTES (64 * 1024 * 1024)

#endif /* TERN_CONFIG_H */
