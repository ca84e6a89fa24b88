/*
 * route: Xray's rule engine over the table image.
 *
 * Owns the meaning of RULES and CONDS: first match wins, conditions of a
 * rule are ANDed in the order the compiler stored them (Xray's order,
 * cheap ones first), items of one condition are ORed, IP fields use the
 * four-group rule.  Used by workers for every proxied request and by
 * `sluicectl route` to explain a decision, so it does no I/O: when
 * domainStrategy needs the target's addresses it returns SL_AGAIN and the
 * caller resolves the domain (asynchronously in a worker) and asks again.
 */
#ifndef SL_SHM_ROUTE_H
#define SL_SHM_ROUTE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"

struct sl_rxtab;

/* One HTTP attribute (sniffed header).  Keys in any case: a rule's keys
 * are lower-case and match them ASCII-case-insensitively, as Xray
 * lower-cases header names. */
struct sl_route_attr {
	const char	*key, *val;
	size_t		 key_len, val_len;
};

/* What a routing decision looks at; fields the caller does not know stay
 * zero/NULL (a condition on an unknown value is false, as in Xray). */
struct sl_route_ctx {
	uint32_t	 inbound;	/* INBOUNDS index, SL_IMG_NONE = none */
	unsigned	 network;	/* SL_NET_TCP 1, SL_NET_UDP 2 */
	const struct sockaddr *source, *local;
	uint16_t	 source_port, local_port;
	/* target: a lower-case domain (maybe sniffed), an address, or both
	 * (sniffing with routeOnly keeps the original address) */
	const char	*domain;
	size_t		 domain_len;
	const struct sockaddr *target_addr;
	uint16_t	 port;
	const char	*user;		/* email */
	uint16_t	 vless_route;
	const char	*protocol;	/* sniffed: "http1", "tls", ... */
	const struct sl_route_attr *attrs;
	size_t		 nattrs;	/* attrs NULL: no attributes known */
	const char	*process;	/* client process name, NULL unknown */
	/* DNS answer for the domain (filled by the caller after SL_AGAIN) */
	const struct sockaddr_storage *dns;
	size_t		 ndns;
	int		 dns_done;	/* 1: dns/ndns hold the answer (maybe
					   none: the lookup failed) */
	int		 no_dns;	/* never ask (sluicectl --no-resolve) */
};

struct sl_route_result {
	uint32_t	 rule;		/* RULES index, SL_IMG_NONE: default */
	uint32_t	 target_kind;	/* SL_IMG_TARGET_* */
	uint32_t	 target;	/* OUTBOUNDS or BALANCERS index */
	uint32_t	 cond;		/* CONDS index of the deciding (last)
					   condition, SL_IMG_NONE */
	uint32_t	 domset;	/* DOMAIN: the set that matched */
	int		 pass;		/* 1, or 2 for IPIfNonMatch's 2nd */
	int		 used_dns;	/* IP conditions saw the DNS answer */
};

/*
 * Route CTX.  SL_OK with *res filled (no rule matched: rule =
 * SL_IMG_NONE and the default outbound), or SL_AGAIN: resolve ctx->domain
 * (A and AAAA), set dns/ndns/dns_done and call again.
 */
int	 sl_route_pick(const struct sl_img *, const struct sl_rxtab *,
	    const struct sl_route_ctx *, struct sl_route_result *);

/* Evaluate one condition (sluicectl uses it to show every condition). */
int	 sl_route_cond(const struct sl_img *, const struct sl_rxtab *,
	    const struct sl_img_cond *, const struct sl_route_ctx *,
	    const struct sockaddr_storage *ips, size_t nips, uint32_t *domset);

/* Is the address in one IP rule field (the four-group rule)? */
int	 sl_route_ipmatch(const struct sl_img *, uint32_t ipmatch,
	    const struct sockaddr *);

/* Name of a condition kind as written in the config ("domain", ...). */
const char *sl_route_cond_name(uint32_t kind);

#endif
