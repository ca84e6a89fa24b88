/*
 * route: first-match rule evaluation (spec xray-routing.md sections 1, 4).
 */
#include <netinet/in.h>

#include <string.h>
#include <strings.h>

#include "shm/domset.h"
#include "shm/ipset.h"
#include "shm/regex.h"
#include "shm/route.h"
#include "shm/types.h"

#define NET_TCP		0x1
#define NET_UDP		0x2

static const char *const cond_names[] = {
	[SL_COND_INBOUND] = "inboundTag",
	[SL_COND_NETWORK] = "network",
	[SL_COND_PROTOCOL] = "protocol",
	[SL_COND_PORT] = "port",
	[SL_COND_SRCPORT] = "sourcePort",
	[SL_COND_LOCALPORT] = "localPort",
	[SL_COND_VLESSROUTE] = "vlessRoute",
	[SL_COND_USER] = "user",
	[SL_COND_ATTRS] = "attrs",
	[SL_COND_IP] = "ip",
	[SL_COND_SRCIP] = "sourceIP",
	[SL_COND_LOCALIP] = "localIP",
	[SL_COND_DOMAIN] = "domain",
	[SL_COND_PROCESS] = "process",
	[SL_COND_NEVER] = "localOS",
};

const char *
sl_route_cond_name(uint32_t kind)
{
	if (kind >= SL_ARRAY_LEN(cond_names) || cond_names[kind] == NULL)
		return "?";
	return cond_names[kind];
}

static const struct sl_str *
strlist(const struct sl_img *img, uint32_t first)
{
	return SL_IMG_REC(img, SL_SECT_STRLIST, struct sl_str, first);
}

static int
str_eq(const struct sl_img *img, struct sl_str s, const char *v)
{
	return strlen(v) == s.len && memcmp(sl_img_str(img, s), v, s.len) == 0;
}

static int
match_strings(const struct sl_img *img, const struct sl_img_cond *c,
    const char *v)
{
	const struct sl_str *s = strlist(img, c->a);

	if (v == NULL || *v == '\0')
		return 0;
	for (uint32_t i = 0; i < c->b; i++)
		if (str_eq(img, s[i], v))
			return 1;
	return 0;
}

/* Xray's protocol condition is a prefix test: "http" matches "http1". */
static int
match_protocol(const struct sl_img *img, const struct sl_img_cond *c,
    const char *proto)
{
	const struct sl_str *s = strlist(img, c->a);

	if (proto == NULL || *proto == '\0')
		return 0;
	for (uint32_t i = 0; i < c->b; i++)
		if (strncmp(proto, sl_img_str(img, s[i]), s[i].len) == 0)
			return 1;
	return 0;
}

static int
match_port(const struct sl_img *img, const struct sl_img_cond *c,
    uint16_t port)
{
	const struct sl_img_port_range *r = SL_IMG_REC(img,
	    SL_SECT_PORT_RANGES, struct sl_img_port_range, c->a);

	for (uint32_t i = 0; i < c->b; i++)
		if (port >= r[i].from && port <= r[i].to)
			return 1;
	return 0;
}

static int
match_user(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_img_cond *c, const char *user)
{
	if (user == NULL || *user == '\0')
		return 0;
	if (match_strings(img, c, user))
		return 1;
	for (uint32_t i = 0; i < c->d; i++)
		if (sl_rx_match(rx, c->c + i, user, strlen(user)))
			return 1;
	return 0;
}

/* A rule's key (lower-case, no NUL) against a sniffed one in any case;
 * no process sets a locale, so the comparison is ASCII. */
static const struct sl_route_attr *
attr_find(const struct sl_route_ctx *x, const char *key, size_t len)
{
	for (size_t i = 0; i < x->nattrs; i++)
		if (x->attrs[i].key_len == len &&
		    strncasecmp(x->attrs[i].key, key, len) == 0)
			return &x->attrs[i];
	return NULL;
}

/* Every configured key must be present and its regex must match. */
static int
match_attrs(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_img_cond *c, const struct sl_route_ctx *x)
{
	if (x->attrs == NULL)
		return 0;
	for (uint32_t i = 0; i < c->b; i++) {
		const struct sl_img_attr *a = SL_IMG_REC(img, SL_SECT_ATTRS,
		    struct sl_img_attr, c->a + i);
		const struct sl_route_attr *v = attr_find(x,
		    sl_img_str(img, a->key), a->key.len);

		if (v == NULL || !sl_rx_match(rx, a->regex, v->val, v->val_len))
			return 0;
	}
	return 1;
}

static int
family_present(const struct sl_img *img, uint32_t set, int v4)
{
	const struct sl_img_ipset *s = SL_IMG_REC(img, SL_SECT_IPSETS,
	    struct sl_img_ipset, set);

	return v4 ? s->v4_count > 0 : s->v6_count > 0;
}

static int
is_v4(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	return sa->sa_family == AF_INET ||
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
}

/*
 * Xray's four groups, ORed: an address is in a positive group's set, or
 * outside a reversed group's set -- but a reversed set says nothing about
 * a family it has no prefix of.
 */
int
sl_route_ipmatch(const struct sl_img *img, uint32_t ipmatch,
    const struct sockaddr *sa)
{
	const struct sl_img_ipmatch *m = SL_IMG_REC(img, SL_SECT_IPMATCH,
	    struct sl_img_ipmatch, ipmatch);

	for (int g = 0; g < 4; g++) {
		uint32_t set = m->set[g];
		int in;

		if (set == SL_IMG_NONE)
			continue;
		in = sl_ipset_match(img, set, sa);
		if (g == SL_IPM_POS_CIDR || g == SL_IPM_POS_GEO) {
			if (in)
				return 1;
		} else if (!in && family_present(img, set, is_v4(sa))) {
			return 1;
		}
	}
	return 0;
}

static int
match_ips(const struct sl_img *img, uint32_t ipmatch,
    const struct sockaddr_storage *ips, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sl_route_ipmatch(img, ipmatch, (const struct sockaddr *)
		    &ips[i]))
			return 1;
	return 0;
}

static int
match_domain(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_img_cond *c, const struct sl_route_ctx *x,
    uint32_t *domset)
{
	const uint32_t *sets = SL_IMG_REC(img, SL_SECT_U32, uint32_t, c->a);

	if (x->domain == NULL || x->domain_len == 0)
		return 0;
	for (uint32_t i = 0; i < c->b; i++)
		if (sl_domset_match(img, rx, sets[i], x->domain,
		    x->domain_len)) {
			if (domset != NULL)
				*domset = sets[i];
			return 1;
		}
	return 0;
}

int
sl_route_cond(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_img_cond *c, const struct sl_route_ctx *x,
    const struct sockaddr_storage *ips, size_t nips, uint32_t *domset)
{
	switch (c->kind) {
	case SL_COND_INBOUND:
		return x->inbound != SL_IMG_NONE && match_strings(img, c,
		    sl_img_str(img, SL_IMG_REC(img, SL_SECT_INBOUNDS,
		    struct sl_img_inbound, x->inbound)->tag));
	case SL_COND_NETWORK:
		return (c->a & x->network) != 0;
	case SL_COND_PROTOCOL:
		return match_protocol(img, c, x->protocol);
	case SL_COND_PORT:
		return match_port(img, c, x->port);
	case SL_COND_SRCPORT:
		return match_port(img, c, x->source_port);
	case SL_COND_LOCALPORT:
		return match_port(img, c, x->local_port);
	case SL_COND_VLESSROUTE:
		return match_port(img, c, x->vless_route);
	case SL_COND_USER:
		return match_user(img, rx, c, x->user);
	case SL_COND_ATTRS:
		return match_attrs(img, rx, c, x);
	case SL_COND_IP:
		return match_ips(img, c->a, ips, nips);
	case SL_COND_SRCIP:
		return x->source != NULL &&
		    sl_route_ipmatch(img, c->a, x->source);
	case SL_COND_LOCALIP:
		return x->local != NULL &&
		    sl_route_ipmatch(img, c->a, x->local);
	case SL_COND_DOMAIN:
		return match_domain(img, rx, c, x, domset);
	case SL_COND_PROCESS:
		return match_strings(img, c, x->process);
	default:
		return 0;
	}
}

/* The target's addresses an IP condition sees in this pass. */
struct pass {
	const struct sockaddr_storage *ips;
	size_t		 nips;
	struct sockaddr_storage own;	/* the target address, if any */
	int		 lazy;		/* IPOnDemand: resolve at first use */
	int		 used_dns;
};

static void
pass_target_only(struct pass *p, const struct sl_route_ctx *x)
{
	memset(p, 0, sizeof(*p));
	if (x->target_addr != NULL) {
		memcpy(&p->own, x->target_addr, x->target_addr->sa_family ==
		    AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6));
		p->ips = &p->own;
		p->nips = 1;
	}
}

/* After a lookup: its answer, or the original address when it failed. */
static void
pass_use_dns(struct pass *p, const struct sl_route_ctx *x)
{
	if (x->ndns > 0) {
		p->ips = x->dns;
		p->nips = x->ndns;
		p->used_dns = 1;
	}
}

static int
wants_dns(const struct sl_route_ctx *x)
{
	return x->domain != NULL && x->domain_len > 0 && !x->no_dns;
}

/* SL_OK (match or not: *hit), SL_AGAIN (lazy DNS needed). */
static int
eval_rule(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_img_rule *r, const struct sl_route_ctx *x,
    struct pass *p, int *hit, struct sl_route_result *res)
{
	*hit = 0;
	res->cond = res->domset = SL_IMG_NONE;
	for (uint32_t i = 0; i < r->conds_count; i++) {
		const struct sl_img_cond *c = SL_IMG_REC(img, SL_SECT_CONDS,
		    struct sl_img_cond, r->conds_first + i);

		if (c->kind == SL_COND_IP && p->lazy) {
			if (!x->dns_done)
				return SL_AGAIN;
			pass_use_dns(p, x);
			p->lazy = 0;
		}
		if (!sl_route_cond(img, rx, c, x, p->ips, p->nips,
		    &res->domset))
			return SL_OK;
		res->cond = r->conds_first + i;
	}
	*hit = 1;
	return SL_OK;
}

static int
run_pass(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_route_ctx *x, struct pass *p,
    struct sl_route_result *res)
{
	uint32_t n = sl_img_count(img, SL_SECT_RULES);

	for (uint32_t i = 0; i < n; i++) {
		const struct sl_img_rule *r = SL_IMG_REC(img, SL_SECT_RULES,
		    struct sl_img_rule, i);
		int hit;

		if (eval_rule(img, rx, r, x, p, &hit, res) == SL_AGAIN)
			return SL_AGAIN;
		if (hit) {
			res->rule = i;
			res->target_kind = r->target_kind;
			res->target = r->target;
			res->used_dns = p->used_dns;
			return SL_OK;
		}
	}
	return SL_DECLINED;
}

int
sl_route_pick(const struct sl_img *img, const struct sl_rxtab *rx,
    const struct sl_route_ctx *x, struct sl_route_result *res)
{
	uint32_t strategy = img->hdr->globals.domain_strategy;
	struct pass p;
	int rc;

	memset(res, 0, sizeof(*res));
	res->rule = res->cond = res->domset = SL_IMG_NONE;
	res->target_kind = SL_IMG_TARGET_OUTBOUND;
	res->target = img->hdr->globals.default_outbound;
	res->pass = 1;
	pass_target_only(&p, x);
	p.lazy = strategy == SL_IMG_DS_IPONDEMAND && wants_dns(x);
	rc = run_pass(img, rx, x, &p, res);
	if (rc != SL_DECLINED || strategy != SL_IMG_DS_IPIFNONMATCH ||
	    !wants_dns(x))
		return rc == SL_AGAIN ? SL_AGAIN : SL_OK;
	/* IPIfNonMatch: every rule again, IP conditions on the answer. */
	if (!x->dns_done)
		return SL_AGAIN;
	res->pass = 2;
	pass_use_dns(&p, x);
	return run_pass(img, rx, x, &p, res) == SL_AGAIN ? SL_AGAIN : SL_OK;
}
