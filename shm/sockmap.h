/*
 * sockmap: the eBPF relay of plaintext pairs (sluice.relay "sockmap").
 *
 * Owns the BPF object (worker/bpf/relay.bpf.c, built with clang and
 * embedded at build time), its two maps and the start-up self-test.  The
 * master loads it once, as root and before any fork; workers inherit the
 * map descriptors and this module's state with the fork, so a worker that
 * has given up root still inserts and deletes entries.  It lives in shm/
 * because both use it: the master loads and tests, worker/relay.c relays.
 *
 * Two SOCKHASH maps: PEERS (cookie of a source -> its destination) has no
 * program; SOCKS (cookie -> the socket itself) carries the stream verdict.
 * A socket's bytes are redirected only from its insertion into SOCKS, and
 * both PEERS entries exist by then: there is no window in which a socket
 * runs the verdict without a peer and bytes pile up in its own queue.
 *
 * The traps of spec/relay-reload-shm-lab.md §3.3 and where they are met:
 * u64 values (1); insertion fails for a socket that is no longer
 * ESTABLISHED, the caller keeps copying or splicing (2); SO_RCVLOWAT kicks
 * bytes queued before the insertion (3); the caller inserts only sockets
 * read to EAGAIN (4); nothing here uses FIONREAD (5); the caller forwards
 * EOF itself (6) after sl_sockmap_flushed() (8); the verdict never
 * redirects an empty skb (it drops it: see relay.bpf.c) and passes a
 * peerless one (7); the caller watches EPOLLRDHUP only (9);
 * sl_sockmap_unlink() before close (10).  Both sockets of a pair are in
 * SOCKS while either direction is redirected: a redirect target without
 * the verdict gets no write-space wake-up and stalls.
 */
#ifndef SL_SHM_SOCKMAP_H
#define SL_SHM_SOCKMAP_H

#include <stddef.h>
#include <stdint.h>

enum { SL_SM_UP = 0, SL_SM_DOWN = 1 };	/* client->server, server->client */

/* One relayed pair. */
struct sl_smlink {
	uint64_t	 cookie[2];	/* client, server */
	uint64_t	 tx0[2];	/* dst acked+queued when dir was armed */
	uint64_t	 stamp;		/* last activity sum (sl_sockmap_busy) */
	unsigned	 linked:1;	/* PEERS entries in */
	unsigned	 armed:2;	/* bit per direction: source in SOCKS */
};

/* Master: load, attach and self-test; 0, or -1 with *why set (and the
 * module stays unusable).  Does nothing after a first success. */
int	 sl_sockmap_load(const char **why);
/* 1 if loaded and tested, so workers may use it. */
int	 sl_sockmap_ready(void);
/* Why it is not (NULL if it is, or was never asked for). */
const char *sl_sockmap_why(void);

/* PEERS entries for the pair (both sockets must be ESTABLISHED TCP):
 * 0, or -1 (errno; nothing is left in the maps). */
int	 sl_sockmap_link(struct sl_smlink *, int cfd, int sfd);
/* Redirect direction DIR: its source goes into SOCKS, then the kick.
 * The source must have been read to EAGAIN and nothing be left for its
 * destination in user space.  0, or -1 (errno): the direction stays
 * with the caller. */
int	 sl_sockmap_arm(struct sl_smlink *, int dir, int cfd, int sfd);
/* Every entry out (SOCKS first, then PEERS). */
void	 sl_sockmap_unlink(struct sl_smlink *);
/* An armed source's state, read without taking a byte: 0 open, 1 end of
 * stream (FIN), 2 reset or error. */
int	 sl_sockmap_eof(int fd);
/* Bytes the kernel has queued on DIR's destination since it was armed;
 * FIN_SENT if the worker has shut that destination down since. */
uint64_t sl_sockmap_sent(const struct sl_smlink *, int dir, int cfd, int sfd,
	    int fin_sent);
/* 1 when every byte DIR's source received, less the USER_READ bytes the
 * worker read itself and the FIN, is queued on the destination (the
 * barrier before passing EOF on), 0 if not yet. */
int	 sl_sockmap_flushed(const struct sl_smlink *, int dir, int cfd,
	    int sfd, uint64_t user_read, int fin);
/* The barrier's arithmetic: received - fin - user_read <= acked + outq -
 * base, in unsigned 64-bit without wrapping. */
int	 sl_sockmap_barrier(uint64_t received, int fin, uint64_t user_read,
	    uint64_t acked, uint64_t outq, uint64_t base);
/* 1 if bytes moved on the pair since the last call (idle timers). */
int	 sl_sockmap_busy(struct sl_smlink *, int cfd, int sfd);

#endif
