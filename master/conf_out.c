/*
 * conf_out: the outbounds part of the configuration schema.
 *
 * Owns "outbounds": freedom (finalRules, target strategies, redirect),
 * blackhole, and the Xray outbound fields sluice refuses.  Walks the tree
 * through the primitives of conf_node.c; cross-checks between outbounds
 * and other objects (tags) are in conf_check.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "shm/ipset.h"	/* one CIDR parser and private list for all */

/* ------------------------------------------------------------------ */
/* freedom finalRules                                                  */

static void
push_cidr(struct walk *w, struct walk_vec *v, const struct sl_cidr *c)
{
	struct sl_conf_cidr *o = walk_vec_push(w, v);

	o->family = c->family;
	memcpy(o->addr, c->addr, sizeof(o->addr));
	o->prefix = c->prefix;
}

static void
ip_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct walk_vec *v = arg;
	struct sl_cidr c;
	size_t i;

	if (s[0] == '!') {
		walk_err(w, at, "\"%s\": negated IP rules are not supported "
		    "yet", s);
	} else if (strncmp(s, "geoip:", 6) == 0) {
		if (strcasecmp(s + 6, "private") != 0) {
			walk_err(w, at, "unsupported value \"%s\" (geoip.dat "
			    "is not supported yet; only geoip:private)", s);
			return;
		}
		for (i = 0; sl_private_cidrs[i] != NULL; i++)
			if (sl_cidr_parse(sl_private_cidrs[i], &c) == 0)
				push_cidr(w, v, &c);
	} else if (strncmp(s, "ext:", 4) == 0 ||
	    strncmp(s, "ext-ip:", 7) == 0) {
		walk_err(w, at, "unsupported value \"%s\" (geodata files are "
		    "not supported yet)", s);
	} else if (sl_cidr_parse(s, &c) != 0) {
		walk_err(w, at, "\"%s\" is not an IP address or CIDR", s);
	} else {
		push_cidr(w, v, &c);
	}
}

/* Non-negative "a" or "a-b" (Xray Int32Range without negatives). */
static int
parse_range(const char *s, uint32_t *a, uint32_t *b)
{
	char *end;
	unsigned long x, y;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoul(s, &end, 10);
	y = x;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return -1;
		y = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0' || errno != 0 || x > INT32_MAX || y > INT32_MAX)
		return -1;
	*a = (uint32_t)(x < y ? x : y);
	*b = (uint32_t)(x < y ? y : x);
	return 0;
}

static void
walk_block_delay(struct walk *w, const struct sl_node *n,
    struct sl_conf_final_rule *r)
{
	int64_t v;

	if (walk_kind(n) == SL_NODE_INT) {
		if ((v = n->ops->integer(n->h)) < 0 || v > INT32_MAX) {
			walk_err(w, n, "%" PRId64 " is out of range (0-%d)", v,
			    INT32_MAX);
			return;
		}
		r->block_delay_min = r->block_delay_max = (uint32_t)v;
	} else if (walk_kind(n) != SL_NODE_STRING ||
	    parse_range(n->ops->string(n->h), &r->block_delay_min,
	    &r->block_delay_max) != 0) {
		walk_err(w, n, "must be seconds as \"min-max\" or a number");
		return;
	}
	r->has_block_delay = 1;
}

static const struct walk_name actions[] = {
	{ "allow", SL_FINAL_ALLOW }, { "block", SL_FINAL_BLOCK }, { NULL, 0 }
};

static void
walk_final_rule(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "action", "network", "port",
	    "ip", "blockDelay", NULL };
	struct walk_vec ips = { .sz = sizeof(struct sl_conf_cidr) };
	struct sl_node f;
	int v;
	struct sl_conf_final_rule *r = elem;

	(void)ctx;
	walk_where(w, n, &r->where);
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	if (walk_opt_enum(w, n, "action", actions, NULL, "allow or block",
	    &v) == 0)
		walk_missing(w, n, "action", NULL);
	r->action = (enum sl_final_action)v;
	if (walk_get(n, "network", &f))
		walk_network_list(w, &f, SL_NET_TCP | SL_NET_UDP,
		    &r->networks);
	if (walk_get(n, "port", &f))
		walk_port_list(w, &f, 1, &r->ports, &r->nports);
	if (walk_get(n, "ip", &f)) {
		walk_string_list(w, &f, ip_item, &ips);
		r->ips = ips.p;
		r->nips = ips.n;
	}
	if (walk_get(n, "blockDelay", &f))
		walk_block_delay(w, &f, r);
}

/* ------------------------------------------------------------------ */
/* outbounds                                                           */

static const struct walk_name strategies[] = {
	{ "AsIs", 0 }, { "", 0 }, { NULL, 0 }
};
static const char *const xray_strategies[] = { "UseIP", "UseIPv4",
	"UseIPv6", "UseIPv4v6", "UseIPv6v4", "ForceIP", "ForceIPv4",
	"ForceIPv6", "ForceIPv4v6", "ForceIPv6v4", NULL };

static void
walk_freedom(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	static const char *const known[] = { "domainStrategy",
	    "targetStrategy", "userLevel", "finalRules", NULL };
	static const char *const unsup[] = { "redirect", "fragment", "noise",
	    "noises", "proxyProtocol", "ipsBlocked", NULL };
	struct sl_node arr;
	int64_t v;
	int e;

	if (!walk_present(s) || !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, unsup);
	walk_opt_enum(w, s, "targetStrategy", strategies, xray_strategies,
	    "AsIs", &e);
	walk_opt_enum(w, s, "domainStrategy", strategies, xray_strategies,
	    "AsIs", &e);
	if (walk_opt_int(w, s, "userLevel", 0, INT_MAX, &v) > 0)
		out->user_level = (int)v;
	if (!walk_get(s, "finalRules", &arr) ||
	    !walk_want(w, &arr, SL_NODE_ARRAY))
		return;
	out->final_rules = walk_each(w, &arr, sizeof(*out->final_rules),
	    &out->nfinal_rules, walk_final_rule, NULL);
}

static const struct walk_name responses[] = {
	{ "none", 0 }, { "", 0 }, { "http", 1 }, { NULL, 0 }
};

static void
walk_blackhole(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	static const char *const known[] = { "response", NULL };
	static const char *const rknown[] = { "type", NULL };
	struct sl_node r;
	int v;

	if (!walk_present(s) || !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, NULL);
	if (!walk_get(s, "response", &r) || !walk_want(w, &r, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &r, rknown, NULL);
	if (walk_opt_enum(w, &r, "type", responses, NULL, "none or http",
	    &v) > 0)
		out->blackhole_http = v;
}

static const struct walk_name out_protocols[] = {
	{ "freedom", SL_OUT_FREEDOM }, { "blackhole", SL_OUT_BLACKHOLE },
	{ NULL, 0 }
};
static const char *const xray_out_protocols[] = { "vless", "vmess",
	"trojan", "shadowsocks", "socks", "http", "dns", "loopback",
	"wireguard", "hysteria", NULL };

static void
walk_outbound(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "tag", "protocol", "settings",
	    "streamSettings", "proxySettings", "mux", NULL };
	static const char *const unsup[] = { "sendThrough", "targetStrategy",
	    NULL };
	static const char *const empty_only[] = { "streamSettings",
	    "proxySettings", "mux", NULL };
	const char *const *p;
	struct sl_node s;
	int v = 0;
	struct sl_conf_outbound *out = elem;

	(void)ctx;
	walk_where(w, n, &out->where);
	out->tag = "";
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, unsup);
	walk_opt_str(w, n, "tag", &out->tag);
	for (p = empty_only; *p != NULL; p++)
		if (walk_get(n, *p, &s) && !walk_is_empty(&s))
			walk_err(w, &s, "unsupported field (not implemented "
			    "yet)");
	if (walk_opt_enum(w, n, "protocol", out_protocols, xray_out_protocols,
	    "freedom or blackhole", &v) == 0)
		walk_missing(w, n, "protocol", NULL);
	out->protocol = (enum sl_proto_out)v;
	walk_get(n, "settings", &s);
	if (out->protocol == SL_OUT_FREEDOM)
		walk_freedom(w, &s, out);
	else if (out->protocol == SL_OUT_BLACKHOLE)
		walk_blackhole(w, &s, out);
}

void
walk_outbounds(struct walk *w, const struct sl_node *root)
{
	struct sl_conf *conf = w->conf;
	struct sl_node arr;

	if (!walk_get(root, "outbounds", &arr)) {
		walk_missing(w, root, "outbounds",
		    "at least one outbound is required");
		return;
	}
	if (!walk_want(w, &arr, SL_NODE_ARRAY))
		return;
	if (walk_length(&arr) == 0) {
		walk_err(w, &arr, "at least one outbound is required");
		return;
	}
	conf->outbounds = walk_each(w, &arr, sizeof(*conf->outbounds),
	    &conf->noutbounds, walk_outbound, NULL);
}
