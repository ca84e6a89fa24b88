/*
 * conf_out: the outbounds part of the configuration schema.
 *
 * Owns "outbounds": sendThrough, freedom (finalRules, target strategies,
 * redirect), blackhole, the socks and http clients (one server each), and
 * the Xray outbound fields sluice refuses.  Walks the tree
 * through the primitives of conf_node.c; cross-checks between outbounds
 * and other objects (tags) are in conf_check.c.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "shm/ipset.h"	/* one CIDR parser and private list for all */
#include "shm/types.h"

/* ------------------------------------------------------------------ */
/* freedom finalRules                                                  */

static void
ip_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct walk_vec *v = arg;
	struct sl_cidr c, priv[32];
	size_t i, n;

	if (s[0] == '!') {
		walk_err(w, at, "\"%s\": negated IP rules are not supported "
		    "yet", s);
	} else if (strncmp(s, "geoip:", 6) == 0) {
		if (strcasecmp(s + 6, "private") != 0) {
			walk_err(w, at, "unsupported value \"%s\" (geoip.dat "
			    "is not supported yet; only geoip:private)", s);
			return;
		}
		n = sl_private_list(priv, SL_ARRAY_LEN(priv));
		for (i = 0; i < n; i++)
			*(struct sl_cidr *)walk_vec_push(w, v) = priv[i];
	} else if (strncmp(s, "ext:", 4) == 0 ||
	    strncmp(s, "ext-ip:", 7) == 0) {
		walk_err(w, at, "unsupported value \"%s\" (geodata files are "
		    "not supported yet)", s);
	} else if (sl_cidr_parse(s, &c) != 0) {
		walk_err(w, at, "\"%s\" is not an IP address or CIDR", s);
	} else {
		*(struct sl_cidr *)walk_vec_push(w, v) = c;
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
	struct walk_vec ips = { .sz = sizeof(struct sl_cidr) };
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

/* ------------------------------------------------------------------ */
/* freedom                                                             */

static const struct walk_name strategies[] = {
	{ "AsIs", SL_FS_ASIS }, { "", SL_FS_ASIS }, { "UseIP", SL_FS_USEIP },
	{ "UseIPv4", SL_FS_USEIP4 }, { "UseIPv6", SL_FS_USEIP6 },
	{ "UseIPv4v6", SL_FS_USEIP46 }, { "UseIPv6v4", SL_FS_USEIP64 },
	{ "ForceIP", SL_FS_FORCEIP }, { "ForceIPv4", SL_FS_FORCEIP4 },
	{ "ForceIPv6", SL_FS_FORCEIP6 }, { "ForceIPv4v6", SL_FS_FORCEIP46 },
	{ "ForceIPv6v4", SL_FS_FORCEIP64 }, { NULL, 0 }
};
#define STRATEGY_NAMES	"AsIs, UseIP, UseIPv4, UseIPv6, UseIPv4v6, " \
			"UseIPv6v4, ForceIP, ForceIPv4, ForceIPv6, " \
			"ForceIPv4v6 or ForceIPv6v4"

/* targetStrategy, or its older name domainStrategy when it is empty. */
static void
walk_target_strategy(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	struct sl_node n;
	int t, d;

	if (walk_opt_enum(w, s, "targetStrategy", strategies, NULL,
	    STRATEGY_NAMES, &t) < 0 ||
	    walk_opt_enum(w, s, "domainStrategy", strategies, NULL,
	    STRATEGY_NAMES, &d) < 0)
		return;
	if (walk_get(s, "targetStrategy", &n) &&
	    n.ops->string(n.h)[0] != '\0')
		out->strategy = (enum sl_freedom_strategy)t;
	else if (walk_get(s, "domainStrategy", &n))
		out->strategy = (enum sl_freedom_strategy)d;
}

/* An address that means "any": Xray keeps the target's own then. */
static int
is_any_addr(const char *host)
{
	static const uint8_t zero[16];
	uint8_t a[16];

	return (inet_pton(AF_INET, host, a) == 1 && memcmp(a, zero, 4) == 0) ||
	    (inet_pton(AF_INET6, host, a) == 1 && memcmp(a, zero, 16) == 0);
}

static void
walk_redirect(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	struct sl_node n;
	const char *r, *h, *port, *why;
	char *host;
	size_t hl;
	int p;

	if (walk_opt_str(w, s, "redirect", &r) <= 0 || r[0] == '\0')
		return;
	walk_get(s, "redirect", &n);
	if (walk_split_host_port(r, &h, &hl, &port, &why) != 0) {
		walk_err(w, &n, "\"%s\" is not host:port (write IPv6 as "
		    "[addr]:port)", r);
		return;
	}
	if ((p = walk_parse_port(port)) < 0) {
		walk_err(w, &n, "\"%s\": \"%s\" is not a port (0-65535)", r,
		    port);
		return;
	}
	host = sl_arena_strndup(&w->conf->arena, h, hl);
	out->redirect_host = is_any_addr(host) ? "" : host;
	out->redirect_port = p;
}

static void
walk_freedom(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	static const char *const known[] = { "domainStrategy",
	    "targetStrategy", "redirect", "userLevel", "finalRules", NULL };
	static const char *const unsup[] = { "fragment", "noise", "noises",
	    "proxyProtocol", "ipsBlocked", NULL };
	struct sl_node arr;
	int64_t v;

	if (!walk_present(s) || !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, unsup);
	walk_target_strategy(w, s, out);
	walk_redirect(w, s, out);
	if (walk_opt_int(w, s, "userLevel", 0, INT_MAX, &v) > 0)
		out->user_level = (int)v;
	if (!walk_get(s, "finalRules", &arr) ||
	    !walk_want(w, &arr, SL_NODE_ARRAY))
		return;
	out->final_rules = walk_each(w, &arr, sizeof(*out->final_rules),
	    &out->nfinal_rules, walk_final_rule, NULL);
}

/* ------------------------------------------------------------------ */
/* socks, http: exactly one server                                     */

#define SOCKS_AUTH_MAX	255	/* RFC 1929: one length byte */

/* user, pass and level of the one account (no user: no authentication). */
static void
walk_account(struct walk *w, const struct sl_node *obj,
    struct sl_conf_outbound *out)
{
	struct sl_node n;
	const char *user = NULL, *pass = "";
	int64_t v;
	int ru, rp;

	if (walk_opt_int(w, obj, "level", 0, INT_MAX, &v) > 0)
		out->user_level = (int)v;
	rp = walk_opt_str(w, obj, "pass", &pass);
	if ((ru = walk_opt_nonempty(w, obj, "user", &user)) <= 0) {
		walk_get(obj, "pass", &n);
		if (ru == 0 && rp > 0)
			walk_err(w, &n, "a password needs a \"user\"");
		return;
	}
	walk_get(obj, "user", &n);
	if (out->protocol == SL_OUT_HTTP && strchr(user, ':') != NULL)
		walk_err(w, &n, "an HTTP user name cannot contain ':'");
	if (out->protocol == SL_OUT_SOCKS && (strlen(user) > SOCKS_AUTH_MAX ||
	    strlen(pass) > SOCKS_AUTH_MAX))
		walk_err(w, &n, "SOCKS user names and passwords are at most "
		    "%d bytes", SOCKS_AUTH_MAX);
	out->user = user;
	out->pass = pass;
}

/* address and port of the server; a name is resolved by the master. */
static void
walk_server_addr(struct walk *w, const struct sl_node *obj,
    struct sl_conf_outbound *out)
{
	struct sl_node n;
	const char *a;
	size_t len;
	int64_t v;

	if (walk_opt_nonempty(w, obj, "address", &a) == 0)
		walk_missing(w, obj, "address", NULL);
	else if (a != NULL) {
		len = strlen(a);
		if (len >= 2 && a[0] == '[' && a[len - 1] == ']')
			a = sl_arena_strndup(&w->conf->arena, a + 1, len - 2);
		out->server_host = a;
	}
	if (!walk_get(obj, "port", &n))
		walk_missing(w, obj, "port", NULL);
	else if (walk_opt_int(w, obj, "port", 1, 65535, &v) > 0)
		out->server_port = (int)v;
}

static void
walk_server(struct walk *w, const struct sl_node *n,
    struct sl_conf_outbound *out)
{
	static const char *const known[] = { "address", "port", "users",
	    NULL };
	static const char *const uknown[] = { "user", "pass", "level", NULL };
	static const char *const uunsup[] = { "email", NULL };
	struct sl_node users, u;

	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	walk_server_addr(w, n, out);
	if (!walk_get(n, "users", &users) ||
	    !walk_want(w, &users, SL_NODE_ARRAY) || walk_length(&users) == 0)
		return;
	/* Reported, then the first one is read as usual. */
	if (walk_length(&users) > 1)
		walk_err(w, &users, "at most one user (Xray: use one outbound "
		    "per user and a balancer)");
	walk_nth(&users, 0, &u);
	if (!walk_want(w, &u, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &u, uknown, uunsup);
	walk_account(w, &u, out);
}

/*
 * Xray's two forms: "servers": [ { address, port, users: [ { user, pass
 * } ] } ], or the newer flat { address, port, user, pass }.
 */
static void
walk_proxy_client(struct walk *w, const struct sl_node *s,
    struct sl_conf_outbound *out)
{
	static const char *const known[] = { "servers", "address", "port",
	    "user", "pass", "level", NULL };
	static const char *const flat[] = { "port", "user", "pass", "level",
	    NULL };
	static const char *const unsup[] = { "email", "headers", NULL };
	const char *const *p;
	struct sl_node srv, el;

	if (!walk_present(s) || !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, unsup);
	if (walk_get(s, "address", &el)) {
		if (walk_get(s, "servers", &srv))
			walk_err(w, &srv, "give \"servers\" or \"address\", "
			    "not both");
		walk_server_addr(w, s, out);
		walk_account(w, s, out);
		return;
	}
	for (p = flat; *p != NULL; p++)
		if (walk_get(s, *p, &el))
			walk_err(w, &el, "only with \"address\" (without it, "
			    "the server is in \"servers\")");
	if (!walk_get(s, "servers", &srv) || !walk_want(w, &srv,
	    SL_NODE_ARRAY) || walk_length(&srv) == 0)
		return;		/* conf_check.c: "needs a server" */
	if (walk_length(&srv) > 1)
		walk_err(w, &srv, "sluice supports exactly one server (use "
		    "one outbound per server and a balancer)");
	walk_nth(&srv, 0, &el);
	walk_server(w, &el, out);
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

/* ------------------------------------------------------------------ */
/* outbounds                                                           */

static const struct walk_name out_protocols[] = {
	{ "freedom", SL_OUT_FREEDOM }, { "blackhole", SL_OUT_BLACKHOLE },
	{ "socks", SL_OUT_SOCKS }, { "http", SL_OUT_HTTP }, { NULL, 0 }
};
static const char *const xray_out_protocols[] = { "vless", "vmess",
	"trojan", "shadowsocks", "dns", "loopback", "wireguard", "hysteria",
	NULL };

/* sendThrough: the local address to dial from, an IP address here. */
static void
walk_send_through(struct walk *w, const struct sl_node *obj,
    struct sl_conf_outbound *out)
{
	struct sl_node n;
	const char *s;
	uint8_t a[16];
	char buf[INET6_ADDRSTRLEN];
	int af;

	if (walk_opt_str(w, obj, "sendThrough", &s) <= 0)
		return;
	walk_get(obj, "sendThrough", &n);
	af = inet_pton(AF_INET, s, a) == 1 ? AF_INET :
	    inet_pton(AF_INET6, s, a) == 1 ? AF_INET6 : 0;
	if (af != 0) {
		inet_ntop(af, a, buf, sizeof(buf));
		out->send_through = sl_arena_strdup(&w->conf->arena, buf);
	} else if (strcmp(s, "origin") == 0 || strcmp(s, "srcip") == 0 ||
	    strchr(s, '/') != NULL)
		walk_err(w, &n, "unsupported value \"%s\" (not implemented "
		    "yet; supported: an IP address)", s);
	else
		walk_err(w, &n, "\"%s\" is not an IP address", s);
}

static void
walk_outbound(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "tag", "protocol", "settings",
	    "sendThrough", "streamSettings", "proxySettings", "mux", NULL };
	static const char *const unsup[] = { "targetStrategy", NULL };
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
	    "freedom, blackhole, socks or http", &v) == 0)
		walk_missing(w, n, "protocol", NULL);
	out->protocol = (enum sl_proto_out)v;
	walk_send_through(w, n, out);
	walk_get(n, "settings", &s);
	if (out->protocol == SL_OUT_FREEDOM)
		walk_freedom(w, &s, out);
	else if (out->protocol == SL_OUT_BLACKHOLE)
		walk_blackhole(w, &s, out);
	else if (out->protocol == SL_OUT_SOCKS ||
	    out->protocol == SL_OUT_HTTP)
		walk_proxy_client(w, &s, out);
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
