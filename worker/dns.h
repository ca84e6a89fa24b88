/*
 * dns: asynchronous name resolution for a worker, on c-ares, in the loop.
 *
 * Owns one c-ares channel per worker, the loop handlers of its sockets, the
 * timer that drives c-ares timeouts, the in-flight queries and a small
 * positive cache.  Nothing here blocks: c-ares sockets are non-blocking and
 * served by the worker's epoll loop.  /etc/hosts is consulted before DNS (as
 * configured in resolv.conf / nsswitch.conf).  "localhost" is answered
 * here, always loopback (RFC 6761), without c-ares.
 */
#ifndef SL_WORKER_DNS_H
#define SL_WORKER_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sl_loop;
struct sl_dns;			/* one per worker */
struct sl_dns_query;		/* opaque handle */

/*
 * The answer.  addrs are sockaddr_in / sockaddr_in6 with the port already
 * set; IPv4 addresses come first, then IPv6.  On failure n is 0 and addrs
 * NULL.  status is 0 or an ARES_E* code (> 0); err is a static string
 * saying what it means.  Called exactly once per query unless the query was
 * cancelled or the resolver freed.  addrs is valid during the call only.
 * The query's handle is invalid from the moment the callback is entered.
 */
typedef void (*sl_dns_cb)(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n);

struct sl_dns_opts {			/* zero fields: system defaults */
	const char	*servers;	/* "ip[:port],[ip6]:port,..." */
	int		 timeout_ms;	/* first try; doubles per round */
	int		 tries;		/* per server */
	size_t		 cache_max;	/* default SL_DNS_CACHE_MAX */
	int		 env_hosts;	/* honour $CARES_HOSTS (tests) */
};

#define SL_DNS_CACHE_MAX	1024
#define SL_DNS_TTL_MAX		300	/* seconds: longer TTLs are cut */
#define SL_DNS_MAX_ADDRS	32	/* per answer; the rest are dropped */

/* NULL on failure, *err (if err) then says why. */
struct sl_dns	*sl_dns_new(struct sl_loop *, const char **err);
/* The same, asking these servers instead of resolv.conf's (tests). */
struct sl_dns	*sl_dns_new_servers(struct sl_loop *, const char *servers_csv,
		    const char **err);
struct sl_dns	*sl_dns_new_opts(struct sl_loop *, const struct sl_dns_opts *,
		    const char **err);
/*
 * Cancels every pending query WITHOUT calling its callback and frees
 * everything.  May be called from a resolver callback: the teardown then
 * completes when control returns to the resolver.
 */
void		 sl_dns_free(struct sl_dns *);

/*
 * Resolve name for family AF_UNSPEC (both), AF_INET or AF_INET6.
 *
 * The callback MAY RUN SYNCHRONOUSLY, before this returns: for an IP
 * literal, "localhost", a cache hit, an /etc/hosts answer, and on
 * immediate errors (bad family, no memory, ...).  Then NULL is returned;
 * otherwise the returned handle stays valid until the callback is entered or
 * the query is cancelled.  Callers must be ready for both.
 */
struct sl_dns_query *sl_dns_resolve(struct sl_dns *, const char *name,
		    uint16_t port, int family, sl_dns_cb, void *arg);
/* The owner goes away: the callback will never be called.  The handle is
 * invalid after this.  Not for a query whose callback has started. */
void		 sl_dns_cancel(struct sl_dns *, struct sl_dns_query *);

/* Queries c-ares still works on (cancelled ones included), for tests. */
size_t		 sl_dns_pending(const struct sl_dns *);
/* Drop every cached answer (e.g. on reload). */
void		 sl_dns_cache_flush(struct sl_dns *);

#endif
