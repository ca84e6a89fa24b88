/*
 * conn: one client connection and its state machine.
 *
 *   accept -> [PROXY header in] -> [TLS handshake] -> first packet ->
 *     classify: VLESS/Trojan request -> outbound -> relay
 *               anything else        -> fallback dest -> relay
 *
 * Owns struct sl_conn, the per-worker context (struct sl_wctx) and the
 * access log line.  The other worker modules (tls, dial, relay, outbound,
 * fallback) each drive one stage of the same structure.
 */
#ifndef SL_WORKER_CONN_H
#define SL_WORKER_CONN_H

#include <sys/socket.h>

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/counters.h"
#include "shm/image.h"
#include "shm/types.h"
#include "worker/buf.h"
#include "worker/loop.h"
#include "shm/sockmap.h"
#include "worker/splice.h"
#include "worker/wgen.h"

#define SL_FIRST_MAX	8192	/* Xray's first read: one 8 KiB buffer */

struct sl_dns;
struct sl_dns_query;
struct sl_route_state;
struct sl_pxc;

/* Everything a worker shares between its connections. */
struct sl_wctx {
	struct sl_loop		*loop;
	struct sl_dns		*dns;
	struct sl_wgen		*gen;		/* current generation */
	struct sl_conn		*conns;		/* every open connection */
	size_t			 nconns;
	int			 draining;
	struct sl_cnt_slot	*cnt;		/* this worker's counters */
	const struct sl_cnt_region *cntr;	/* all of them (acct.c) */
	struct sl_timer		 acct_timer;
	uint64_t		 acct_epoch;	/* the region's, last seen */
	struct sl_bufpool	 bufs;		/* relay buffers (worker/buf.h) */
	struct sl_pipepool	 pipes;		/* empty pipes (worker/splice.h) */
};

/* How one direction of a relay moves its bytes (worker/relay.c). */
enum sl_dir_mode {
	SL_DIR_COPY,		/* read/write through a struct sl_buf */
	SL_DIR_SPLICE,		/* splice(2) through a pipe */
	SL_DIR_SOCKMAP		/* redirected by the kernel (eBPF) */
};

enum sl_conn_state {
	SL_C_PROXY_IN,		/* reading the PROXY header */
	SL_C_TLS,		/* TLS handshake */
	SL_C_FIRST,		/* waiting for the first packet */
	SL_C_HEADER,		/* proxy header incomplete: reading more */
	SL_C_SNIFF,		/* routing: reading more payload to sniff */
	SL_C_RESOLVE,		/* outbound: DNS */
	SL_C_DIAL,		/* connecting to a target or fallback dest */
	SL_C_RELAY,
	SL_C_HOLD		/* blocked: drain the client, then close */
};

struct sl_dial_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct sl_conn {
	struct sl_wctx		*w;
	struct sl_conn		*prev, *next;
	struct sl_wgen		*g;		/* accepted under; a reference */
	enum sl_conn_state	 state;
	uint32_t		 inbound;
	const struct sl_img_inbound *in;

	/* client side */
	struct sl_ev		 cev;
	SSL			*ssl;
	struct sockaddr_storage	 peer, local;	/* PROXY header overrides */
	socklen_t		 peer_len, local_len; /* local: 0 = not asked yet */

	/* server side (target or fallback dest) */
	struct sl_ev		 sev;

	struct sl_timer		 timer;		/* handshake / idle deadline */
	struct sl_timer		 dial_timer;	/* retry back-off */
	uint64_t		 started;	/* ms on the loop clock */
	uint32_t		 idle_ms;	/* current inactivity limit */
	const struct sl_img_level *policy;

	/* up: client -> server (starts with the first packet); down: back */
	struct sl_buf		 up, down;
	size_t			 first_len;
	uint64_t		 up_bytes, down_bytes;
	unsigned		 client_eof:1, server_eof:1;
	unsigned		 up_shut:1, down_shut:1;
	unsigned		 down_prefix:2;	/* VLESS: "00 00" before data */
	unsigned		 ssl_read_wants_write:1;
	unsigned		 ssl_write_wants_read:1;
	unsigned		 client_write_blocked:1;
	unsigned		 notify_sent:1;	/* close_notify written */

	/* relay modes: plaintext pairs move on from copying, per direction */
	uint8_t			 up_mode, down_mode;	/* enum sl_dir_mode */
	uint8_t			 fast;		/* the best mode left to try */
	struct sl_pipe		 up_pipe, down_pipe;
	struct sl_smlink	 sm;
	uint64_t		 client_rx;	/* bytes read from the client's */
	uint64_t		 server_rx;	/* and the server's socket */
	uint32_t		 barrier_ms;	/* sockmap: FIN barrier poll */
	unsigned		 client_fin:1;	/* sockmap: FIN, not a reset */
	unsigned		 server_fin:1;

	/* accounting (worker/acct.c): counter ids, bytes counted so far */
	struct sl_cnt_ids	 ids;
	uint64_t		 acct_up, acct_down;
	char			*refusal;	/* why a known user was refused */

	/* what the first packet turned out to be */
	int			 is_fallback;
	const char		*reason;	/* fallback or reject reason */
	const char		*email;
	uint32_t		 level;
	struct sl_target	 target;
	uint16_t		 vless_route;	/* UUID bytes 6-7 */
	uint32_t		 rule;		/* RULES index, SL_IMG_NONE */
	struct sl_route_state	*rs;		/* while routing */
	uint32_t		 outbound;
	uint32_t		 dest;		/* fallback: index into DESTS */
	char			 sni[256], alpn[64], path[64];

	/* dialing */
	struct sl_dns_query	*dnsq;
	const struct sl_img_addr *bind;		/* freedom sendThrough */
	struct sl_pxc		*pxc;		/* socks/http handshake */
	int			 family_retry;
	struct sl_dial_addr	*addrs;		/* candidates, in order */
	size_t			 naddrs, addr_next;
	int			 attempt, max_attempts;
	const char		*dial_err;
};

/* Accept a bounded batch from LFD: 1 if more may be queued, 0 if the
 * queue was emptied. */
int	 sl_conn_accept(struct sl_wctx *, int lfd, uint32_t inbound);
void	 sl_conn_close_all(struct sl_wctx *);
/* End the connection now (access-logged with its outcome). */
void	 sl_conn_close(struct sl_conn *, const char *why);
/* The connection's local address (from the PROXY header if one came). */
const struct sockaddr *sl_conn_local(struct sl_conn *);
/* Re-arm the inactivity timer after progress. */
void	 sl_conn_touch(struct sl_conn *);
void	 sl_conn_set_events(struct sl_conn *, struct sl_ev *, uint32_t);
const char *sl_addr_str(const struct sockaddr *, char *, size_t);
void	 sl_target_str(const struct sl_target *, char *, size_t);
/* The target's address from text: an IPv4 or IPv6 literal, else a
 * domain name (the port is left alone). */
void	 sl_target_set_host(struct sl_target *, const char *host);
/* An IP target as a socket address: its length, 0 for a domain. */
socklen_t sl_target_sockaddr(const struct sl_target *,
	    struct sockaddr_storage *);

/* Stages implemented by other modules. */
void	 sl_fallback_start(struct sl_conn *, const char *reason);
/* Route an authenticated request (sniff, rules, balancer), then start
 * its outbound. */
void	 sl_route_start(struct sl_conn *);
void	 sl_route_sniff_event(struct sl_conn *);
void	 sl_route_free(struct sl_conn *);
/*
 * What a DNS callback (worker/dns.h) received, kept for another asker:
 * routing's lookup of NAME (AF_UNSPEC, addresses with PORT set), which
 * freedom takes instead of asking again when its target is the same.
 */
struct sl_dns_answer {
	const char		*name;
	uint16_t		 port;
	int			 status;
	const char		*err;
	const struct sockaddr_storage *addrs;
	size_t			 n;
};

/* Start c->outbound for c->target; KNOWN (or NULL) as above. */
void	 sl_outbound_start(struct sl_conn *, const struct sl_dns_answer *known);
void	 sl_outbound_proxy_start(struct sl_conn *,
	    const struct sl_img_outbound *);
void	 sl_outbound_proxy_connected(struct sl_conn *);
void	 sl_outbound_proxy_free(struct sl_conn *);
/* c->addrs from COUNT ADDRS records of the image (resolved by the
 * master) from FIRST on.  0, or -1 when out of memory. */
int	 sl_dial_img_addrs(struct sl_conn *, uint32_t first, uint32_t count);
/* Connect to c->addrs; calls sl_relay_start when connected. */
void	 sl_dial_start(struct sl_conn *, int retries);
void	 sl_relay_start(struct sl_conn *);
/* One read from the client, appended to the up buffer (at most max
 * bytes).  >0, 0 = EOF, -1 = would block, -2 = error. */
ssize_t	 sl_relay_client_read(struct sl_conn *, size_t max);
/* One write to the client: >0 bytes written, -1 would block, -2 error. */
ssize_t	 sl_relay_client_write(struct sl_conn *, const uint8_t *, size_t);
void	 sl_relay_event(struct sl_ev *, uint32_t);
/* The inactivity timer fired in the relay: 1 if bytes moved where the
 * worker does not see them (sockmap), and the timer should start again. */
int	 sl_relay_busy(struct sl_conn *);
/* Before the sockets close: sockmap entries out, pipes and buffers back. */
void	 sl_relay_free(struct sl_conn *);
/* Bytes written to the server (up) and to the client (down) so far,
 * including what the kernel moved in sockmap mode. */
void	 sl_relay_moved(struct sl_conn *, uint64_t *up, uint64_t *down);

#endif
