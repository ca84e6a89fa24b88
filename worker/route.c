/*
 * route (worker glue): from an authenticated request to its outbound.
 *
 *   [sniff the first payload bytes] -> rules (shm/route.c), with an
 *   asynchronous DNS lookup when domainStrategy asks for the target's
 *   addresses -> [balancer pick] -> sl_outbound_start()
 *
 * Sniffing follows Xray (spec xray-routing.md section 5): at most 200 ms
 * and SL_SNIFF_BUF bytes; "no clue" twice gives up; the bytes read are
 * not consumed, they go to the outbound unchanged.  The routing scratch
 * state is allocated only while a decision is pending.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "shm/domset.h"
#include "shm/log.h"
#include "shm/route.h"
#include "shm/balancer.h"
#include "worker/conn.h"
#include "worker/dns.h"
#include "worker/sniff.h"

#define SL_SNIFF_MS	200

struct sl_route_state {
	struct sl_route_ctx	 ctx;
	struct sockaddr_storage	 target_ss;
	char			 domain[256];	/* the target's, lower-cased */
	struct sl_sniff_result	 sniff;
	unsigned		 sniffers;	/* still in play */
	struct sockaddr_storage	*dns;		/* the lookup's answer */
	int			 dns_status;
	const char		*dns_err;
	int			 no_clue;
	uint64_t		 sniff_deadline;
};

static void
state_free(struct sl_route_state *rs)
{
	if (rs == NULL)
		return;
	free(rs->dns);
	free(rs);
}

void
sl_route_free(struct sl_conn *c)
{
	state_free(c->rs);
	c->rs = NULL;
}

static size_t
lower_copy(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; src[n] != '\0' && n + 1 < cap; n++)
		dst[n] = (char)tolower((unsigned char)src[n]);
	dst[n] = '\0';
	return n;
}

static uint16_t
sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* The request's own target as an address, if it is one. */
static const struct sockaddr *
target_addr(const struct sl_target *t, struct sockaddr_storage *ss)
{
	return sl_target_sockaddr(t, ss) > 0 ? (const struct sockaddr *)ss :
	    NULL;
}

static void
ctx_fill(struct sl_conn *c, struct sl_route_state *rs)
{
	struct sl_route_ctx *x = &rs->ctx;

	x->inbound = c->inbound;
	x->network = 0x1;		/* tcp: sluice relays no UDP yet */
	x->source = (const struct sockaddr *)&c->peer;
	x->local = sl_conn_local(c);
	x->source_port = sa_port(&c->peer);
	x->local_port = sa_port(&c->local);
	x->port = c->target.port;
	x->user = c->email;
	x->vless_route = c->vless_route;
	x->target_addr = target_addr(&c->target, &rs->target_ss);
	if (c->target.atyp == SL_ATYP_DOMAIN) {
		x->domain_len = lower_copy(rs->domain, sizeof(rs->domain),
		    c->target.host);
		x->domain = rs->domain;
	}
}

/* ---- deciding ---- */

static void
route_done(struct sl_conn *c, const struct sl_route_result *res)
{
	const struct sl_img *img = &c->g->img;
	struct sl_route_state *rs = c->rs;
	struct sl_dns_answer known = { rs->ctx.domain, c->target.port,
	    rs->dns_status, rs->dns_err, rs->dns, rs->ctx.ndns };
	uint32_t out = res->target;

	c->rule = res->rule;
	if (res->target_kind == SL_IMG_TARGET_BALANCER) {
		out = sl_balancer_pick(img, res->target, c->g->obs,
		    &c->g->bal);
		if (out == SL_IMG_NONE)
			out = img->hdr->globals.default_outbound;
	}
	c->outbound = out;
	if (res->rule != SL_IMG_NONE) {
		const struct sl_img_rule *r = SL_IMG_REC(img, SL_SECT_RULES,
		    struct sl_img_rule, res->rule);

		if (r->rule_tag.len > 0)
			sl_info("rule %s (#%u) matched: %s", sl_img_str(img,
			    r->rule_tag), res->rule, sl_img_str(img,
			    SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
			    struct sl_img_outbound, out)->tag));
	}
	/* The state outlives the start of the outbound, which may close c:
	 * freedom reuses the routing lookup instead of asking again. */
	c->rs = NULL;
	sl_outbound_start(c, rs->ctx.dns_done ? &known : NULL);
	state_free(rs);
}

static void	route_decide(struct sl_conn *);

static void
route_resolved(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct sl_conn *c = arg;
	struct sl_route_state *rs = c->rs;

	c->dnsq = NULL;
	rs->ctx.dns_done = 1;
	rs->dns_status = status;
	rs->dns_err = err;
	if (status != 0 || n == 0) {
		sl_debug("routing: cannot resolve %s: %s", rs->ctx.domain,
		    err ? err : "no address");
	} else if ((rs->dns = calloc(n, sizeof(*rs->dns))) == NULL) {
		sl_conn_close(c, "out of memory");
		return;
	} else {
		memcpy(rs->dns, addrs, n * sizeof(*addrs));
		rs->ctx.dns = rs->dns;
		rs->ctx.ndns = n;
	}
	route_decide(c);
}

static void
route_decide(struct sl_conn *c)
{
	struct sl_route_state *rs = c->rs;
	struct sl_route_result res;
	struct sl_dns_query *q;

	if (sl_route_pick(&c->g->img, c->g->rx, &rs->ctx, &res) == SL_OK) {
		route_done(c, &res);
		return;
	}
	/* The callback may run (and free c) before this returns. */
	c->state = SL_C_RESOLVE;
	sl_conn_set_events(c, &c->cev, 0);
	q = sl_dns_resolve(c->w->dns, rs->ctx.domain, c->target.port,
	    AF_UNSPEC, route_resolved, c);
	if (q != NULL)
		c->dnsq = q;
}

/* ---- sniffing ---- */

static int
excluded(struct sl_conn *c, const char *domain, size_t len)
{
	const struct sl_img *img = &c->g->img;
	const uint32_t *sets = SL_IMG_REC(img, SL_SECT_U32, uint32_t,
	    c->in->sniff_excl_first);
	/* Nothing is overridden yet: the request's own address. */
	const struct sockaddr *sa = c->rs->ctx.target_addr;

	for (uint32_t i = 0; i < c->in->sniff_excl_count; i++)
		if (sl_domset_match(img, c->g->rx, sets[i], domain, len))
			return 1;
	return c->in->sniff_ips_excl != 0 && sa != NULL &&
	    sl_route_ipmatch(img, c->in->sniff_ips_excl - 1, sa);
}

/* Xray's shouldOverride: a destOverride entry and the sniffed protocol
 * are prefixes of each other ("http" and "http1"). */
static int
override_wanted(struct sl_conn *c, const struct sl_sniff_result *r)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ SL_IMG_PROTO_HTTP, "http" }, { SL_IMG_PROTO_TLS, "tls" },
		{ SL_IMG_PROTO_QUIC, "quic" }, { SL_IMG_PROTO_BT, "bittorrent" },
	};
	size_t pl = strlen(r->protocol);

	if (r->domain[0] == '\0' || excluded(c, r->domain, strlen(r->domain)))
		return 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
		size_t nl = strlen(names[i].name);

		if ((c->in->sniff_override & names[i].bit) &&
		    strncmp(r->protocol, names[i].name, pl < nl ? pl : nl) == 0)
			return 1;
	}
	return 0;
}

/* The attrs condition reads the sniffer's attributes in place: those of
 * the latest sniff that found any (one that finds none writes no entry,
 * so the array still holds them). */
static void
attrs_keep(struct sl_route_state *rs)
{
	if (rs->sniff.nattrs > 0) {
		rs->ctx.attrs = rs->sniff.attrs;
		rs->ctx.nattrs = rs->sniff.nattrs;
	}
}

/* An IP in Host/SNI: the override target is that address. */
static void
override_ip(struct sl_conn *c, const struct sl_sniff_result *r)
{
	struct sl_route_state *rs = c->rs;
	struct sl_target t = c->target;

	t.atyp = r->atyp;
	memcpy(t.ip, r->ip, 16);
	rs->ctx.domain = NULL;
	rs->ctx.domain_len = 0;
	rs->ctx.target_addr = target_addr(&t, &rs->target_ss);
	if (!(c->in->sniff & SL_IMG_SNIFF_ROUTE_ONLY))
		c->target = t;
}

static void
sniff_apply(struct sl_conn *c, const struct sl_sniff_result *r)
{
	struct sl_route_state *rs = c->rs;
	struct sl_route_ctx *x = &rs->ctx;

	x->protocol = r->protocol;
	attrs_keep(rs);
	if (!override_wanted(c, r))
		return;
	if (r->atyp != SL_ATYP_DOMAIN) {
		override_ip(c, r);
		return;
	}
	x->domain = r->domain;		/* lower-case already */
	x->domain_len = strlen(r->domain);
	if (c->in->sniff & SL_IMG_SNIFF_ROUTE_ONLY)
		return;		/* routing sees the name, the dial does not */
	/* The outbound connects to the sniffed name, resolving it itself. */
	c->target.atyp = SL_ATYP_DOMAIN;
	memcpy(c->target.host, r->domain, x->domain_len + 1);
	x->target_addr = NULL;
}

/* SL_OK: decided (sniffed or given up); SL_AGAIN: read more. */
static int
sniff_step(struct sl_conn *c)
{
	struct sl_route_state *rs = c->rs;
	int rc = sl_sniff(c->up.data + c->up.off, c->up.len, &rs->sniffers,
	    &rs->sniff);

	if (rc == SL_OK) {
		sniff_apply(c, &rs->sniff);
		return SL_OK;
	}
	attrs_keep(rs);
	if ((rc == SL_SNIFF_MORE || (rc == SL_AGAIN && ++rs->no_clue < 2)) &&
	    sl_loop_now(c->w->loop) < rs->sniff_deadline &&
	    c->up.off + c->up.len < SL_BUF_SIZE)
		return SL_AGAIN;
	return SL_OK;
}

static void
sniff_timeout(struct sl_timer *t)
{
	struct sl_conn *c = t->data;

	route_decide(c);
}

/* Client bytes while sniffing: more of the first payload. */
void
sl_route_sniff_event(struct sl_conn *c)
{
	ssize_t n = sl_relay_client_read(c, SIZE_MAX);

	if (n == -1)
		return;
	if (n <= 0 || sniff_step(c) == SL_OK) {
		sl_timer_del(c->w->loop, &c->dial_timer);
		if (n == -2) {
			sl_conn_close(c, "client read error");
			return;
		}
		route_decide(c);
	}
}

void
sl_route_start(struct sl_conn *c)
{
	uint8_t sniff = c->in->sniff;

	c->rule = SL_IMG_NONE;
	if ((c->rs = calloc(1, sizeof(*c->rs))) == NULL) {
		sl_conn_close(c, "out of memory");
		return;
	}
	ctx_fill(c, c->rs);
	c->rs->sniffers = SL_SNIFF_TCP;
	c->rs->sniff_deadline = sl_loop_now(c->w->loop) + SL_SNIFF_MS;
	if (!(sniff & SL_IMG_SNIFF_ON) || (sniff & SL_IMG_SNIFF_META_ONLY) ||
	    sniff_step(c) == SL_OK) {
		route_decide(c);
		return;
	}
	c->state = SL_C_SNIFF;
	c->dial_timer.cb = sniff_timeout;
	sl_timer_add(c->w->loop, &c->dial_timer, SL_SNIFF_MS);
	sl_conn_set_events(c, &c->cev, EPOLLIN);
}
