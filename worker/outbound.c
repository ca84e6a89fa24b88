/*
 * outbound: send an authenticated request to its outbound.
 *
 * freedom: resolve the target (asynchronously, or take routing's lookup
 * of the same name and port), apply finalRules to every candidate
 * address, dial the allowed ones.  When no final rule matches,
 * a connection that came in through VLESS or Trojan may not reach a
 * private address (Xray's default), so clients cannot reach the server's
 * own backends through the tunnel.  A blocked connection is "blackholed"
 * as in Xray: its input is drained and it is closed after blockDelay
 * (default a random 30-90 s), so a scanner learns nothing from timing.
 *
 * freedom's domainStrategy picks the address family it resolves
 * (UseIPv4/UseIPv6 fall back to any family when the name has none of the
 * one asked for, ForceIPv4/ForceIPv6 do not; the v4v6/v6v4 variants order
 * the candidates); redirect replaces the target; sendThrough binds the
 * source address.
 *
 * blackhole: close at once, or write Xray's 403 response first.
 * socks, http: worker/outbound_proxy.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "shm/ipset.h"
#include "shm/log.h"
#include "worker/acct.h"
#include "worker/conn.h"
#include "worker/dns.h"

enum verdict { ALLOW, BLOCK };

static const struct sl_img_outbound *
cur_outbound(struct sl_conn *c)
{
	return SL_IMG_REC(&c->g->img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, c->outbound);
}

static int
rule_matches(struct sl_conn *c, const struct sl_img_final_rule *r,
    const struct sockaddr *sa)
{
	const struct sl_img_port_range *p;
	uint32_t i;

	if (r->networks != 0 && !(r->networks & 0x1))	/* SL_NET_TCP */
		return 0;
	if (r->ports_count > 0) {
		p = SL_IMG_REC(&c->g->img, SL_SECT_PORT_RANGES,
		    struct sl_img_port_range, r->ports_first);
		for (i = 0; i < r->ports_count; i++)
			if (c->target.port >= p[i].from &&
			    c->target.port <= p[i].to)
				break;
		if (i == r->ports_count)
			return 0;
	}
	return !r->has_ips || sl_ipset_match(&c->g->img, r->ipset, sa);
}

static enum verdict
final_verdict(struct sl_conn *c, const struct sockaddr *sa,
    const struct sl_img_final_rule **hit)
{
	const struct sl_img_outbound *o = cur_outbound(c);

	*hit = NULL;
	for (uint32_t i = 0; i < o->final_count; i++) {
		const struct sl_img_final_rule *r = SL_IMG_REC(&c->g->img,
		    SL_SECT_FINAL_RULES, struct sl_img_final_rule,
		    o->final_first + i);

		if (rule_matches(c, r, sa)) {
			*hit = r;
			return r->action == SL_IMG_FINAL_ALLOW ? ALLOW : BLOCK;
		}
	}
	/* Every inbound sluice has today is VLESS or Trojan. */
	return sl_ipset_match(&c->g->img, o->default_block_ipset, sa) ?
	    BLOCK : ALLOW;
}

static uint32_t
random_between(uint32_t lo, uint32_t hi)
{
	uint32_t r = 0;

	if (hi <= lo)
		return lo;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return lo + r % (hi - lo + 1);
}

static void
hold(struct sl_conn *c, const struct sl_img_final_rule *r)
{
	uint32_t s = r && r->has_block_delay ?
	    random_between(r->block_delay_min, r->block_delay_max) :
	    random_between(30, 90);
	char dst[300];

	sl_target_str(&c->target, dst, sizeof(dst));
	sl_info("blocked by final rule: %s", dst);
	c->reason = "blocked";
	c->state = SL_C_HOLD;
	c->idle_ms = s * 1000;
	sl_conn_touch(c);
	sl_conn_set_events(c, &c->cev, EPOLLIN);
}

/* Keep the allowed candidates, in order. */
static void
filter_and_dial(struct sl_conn *c)
{
	const struct sl_img_final_rule *hit = NULL, *first_hit = NULL;
	size_t o = 0;

	for (size_t i = 0; i < c->naddrs; i++) {
		if (final_verdict(c, (struct sockaddr *)&c->addrs[i].ss,
		    &hit) == ALLOW)
			c->addrs[o++] = c->addrs[i];
		else if (first_hit == NULL)
			first_hit = hit;
	}
	if (o == 0) {
		hold(c, first_hit);
		return;
	}
	c->naddrs = o;
	sl_dial_start(c, 5);
}

/* The family freedom's strategy resolves first. */
static int
strategy_family(uint8_t s)
{
	switch (s) {
	case SL_IMG_FS_USEIP4: case SL_IMG_FS_FORCEIP4:
		return AF_INET;
	case SL_IMG_FS_USEIP6: case SL_IMG_FS_FORCEIP6:
		return AF_INET6;
	default:
		return AF_UNSPEC;
	}
}

/* v4v6 / v6v4: candidates of the preferred family first, stable. */
static void
order_families(struct sl_conn *c, uint8_t s)
{
	int first = s == SL_IMG_FS_USEIP46 || s == SL_IMG_FS_FORCEIP46 ?
	    AF_INET : s == SL_IMG_FS_USEIP64 || s == SL_IMG_FS_FORCEIP64 ?
	    AF_INET6 : AF_UNSPEC;
	size_t o = 0;

	if (first == AF_UNSPEC)
		return;
	for (size_t i = 0; i < c->naddrs; i++)
		if (c->addrs[i].ss.ss_family == first) {
			struct sl_dial_addr t = c->addrs[i];

			memmove(&c->addrs[o + 1], &c->addrs[o],
			    (i - o) * sizeof(t));
			c->addrs[o++] = t;
		}
}

static void	resolve(struct sl_conn *, int family);

static void
resolved(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct sl_conn *c = arg;
	uint8_t s = cur_outbound(c)->strategy;

	c->dnsq = NULL;
	if ((status != 0 || n == 0) && c->family_retry) {
		c->family_retry = 0;	/* UseIPv4/v6: any family will do */
		resolve(c, AF_UNSPEC);
		return;
	}
	if (status != 0 || n == 0) {
		sl_info("cannot resolve %s: %s", c->target.host,
		    err ? err : "no address");
		sl_conn_close(c, "DNS failure");
		return;
	}
	c->addrs = calloc(n, sizeof(*c->addrs));
	if (c->addrs == NULL) {
		sl_conn_close(c, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		c->addrs[i].ss = addrs[i];
		c->addrs[i].len = addrs[i].ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	}
	c->naddrs = n;
	order_families(c, s);
	filter_and_dial(c);
}

static void
resolve(struct sl_conn *c, int family)
{
	struct sl_dns_query *q;

	/* The callback may run (and free c) before this returns. */
	q = sl_dns_resolve(c->w->dns, c->target.host, c->target.port,
	    family, resolved, c);
	if (q != NULL)
		c->dnsq = q;
}

static void
target_ip(struct sl_conn *c)
{
	struct sl_dial_addr *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		sl_conn_close(c, "out of memory");
		return;
	}
	a->len = sl_target_sockaddr(&c->target, &a->ss);
	c->addrs = a;
	c->naddrs = 1;
	filter_and_dial(c);
}

static void
blackhole(struct sl_conn *c, int http)
{
	static const char resp[] = "HTTP/1.1 403 Forbidden\r\n"
	    "Connection: close\r\nCache-Control: max-age=3600, public\r\n"
	    "Content-Length: 0\r\n\r\n";

	/* Best effort: a response this small fits the socket buffer. */
	if (http)
		sl_relay_client_write(c, (const uint8_t *)resp,
		    sizeof(resp) - 1);
	sl_conn_close(c, "blackhole");
}

/* redirect "host:port": a host other than 0.0.0.0/:: replaces the
 * target's address, a non-zero port its port. */
static void
redirect(struct sl_conn *c, const struct sl_img_outbound *o)
{
	const char *h = sl_img_str(&c->g->img, o->redirect_host);
	struct sl_target *t = &c->target;

	if (o->redirect_port != 0)
		t->port = o->redirect_port;
	if (*h == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0)
		return;
	sl_target_set_host(t, h);
}

static void
freedom(struct sl_conn *c, const struct sl_img_outbound *o,
    const struct sl_dns_answer *known)
{
	int fam = strategy_family(o->strategy);

	redirect(c, o);
	c->bind = o->send_through == 0 ? NULL : SL_IMG_REC(&c->g->img,
	    SL_SECT_ADDRS, struct sl_img_addr, o->send_through - 1);
	if (c->target.atyp != SL_ATYP_DOMAIN) {
		target_ip(c);
		return;
	}
	c->family_retry = fam != AF_UNSPEC && o->strategy <= SL_IMG_FS_USEIP64;
	/* Routing looked this very target up already: take its answer.
	 * Asking again would be a second query whenever the cache kept
	 * nothing (a failure, an answer without a TTL). */
	if (known != NULL && fam == AF_UNSPEC &&
	    known->port == c->target.port &&
	    strcasecmp(known->name, c->target.host) == 0) {
		resolved(c, known->status, known->err, known->addrs,
		    known->n);
		return;
	}
	resolve(c, fam);
}

void
sl_outbound_start(struct sl_conn *c, const struct sl_dns_answer *known)
{
	const struct sl_img_outbound *o = cur_outbound(c);

	c->idle_ms = c->policy->conn_idle_ms;
	sl_conn_touch(c);
	sl_conn_set_events(c, &c->cev, 0);
	c->state = SL_C_RESOLVE;
	sl_acct_outbound(c);
	switch (o->protocol) {
	case SL_IMG_OUT_BLACKHOLE:
		blackhole(c, o->blackhole_http);
		break;
	case SL_IMG_OUT_SOCKS:
	case SL_IMG_OUT_HTTP:
		sl_outbound_proxy_start(c, o);
		break;
	default:
		freedom(c, o, known);
		break;
	}
}
