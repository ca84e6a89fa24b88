/*
 * conf_walk: the configuration schema, shared by both front ends: the top
 * level, log, sluice, policy and inbounds (outbounds are in conf_out.c,
 * routing, observatories and sniffing in conf_route.c, the walker's
 * primitives in conf_node.c).
 *
 * Owns every field rule of its part: names, types, ranges, Xray's
 * normalisations (fallback dest inference, UUIDv5 ids) and the lists of
 * Xray fields that sluice refuses because it does not implement them yet.
 * It walks a tree through struct sl_node_ops, so the same code serves
 * libconfig and json-c; only paths differ ("a.[0].b" with file:line
 * versus "$.a[0].b").
 *
 * Nothing is silently ignored: an unknown member is an error, and so is a
 * known-but-unimplemented Xray member, unless it is a boolean false (Go's
 * zero value, the same as leaving it out).  Errors are collected, never
 * fatal, so one run reports all of them.  Model-wide checks (tags, user
 * duplicates, levels) are in conf_check.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "master/uuid.h"

#define SUN_PATH_MAX	108	/* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define MAX_SECONDS	(UINT32_MAX / 1000)	/* still fits in ms */
#define MAX_WORKERS	1024

/* ------------------------------------------------------------------ */
/* log, sluice                                                         */

static const struct walk_name loglevels[] = {
	{ "debug", SL_LOG_DEBUG }, { "info", SL_LOG_INFO },
	{ "warning", SL_LOG_WARNING }, { "error", SL_LOG_ERROR },
	{ "none", SL_LOG_NONE }, { "", SL_LOG_WARNING }, { NULL, 0 }
};

static void
walk_log(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "access", "error", "loglevel",
	    "dnsLog", NULL };
	static const char *const unsup[] = { "maskAddress", NULL };
	struct sl_conf_log *log = &w->conf->log;
	struct sl_node n, dns;
	int v;

	if (!walk_get(root, "log", &n) || !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &n, known, unsup);
	walk_opt_str(w, &n, "access", &log->access);
	walk_opt_str(w, &n, "error", &log->error);
	if (walk_opt_enum(w, &n, "loglevel", loglevels, NULL,
	    "debug, info, warning, error or none", &v) > 0) {
		log->loglevel = (enum sl_loglevel)v;
		/* Xray: loglevel "none" turns the access log off too. */
		if (v == SL_LOG_NONE)
			log->access = "none";
	}
	if (walk_get(&n, "dnsLog", &dns) && walk_want(w, &dns, SL_NODE_BOOL) &&
	    dns.ops->boolean(dns.h))
		walk_err(w, &dns, "unsupported value true (no DNS module yet)");
}

/* DESIGN.md §4; "sockmap" falls back to splice when its self-test fails
 * (shm/sockmap.h). */
static const struct walk_name relays[] = {
	{ "copy", SL_RELAY_COPY }, { "splice", SL_RELAY_SPLICE },
	{ "sockmap", SL_RELAY_SOCKMAP }, { NULL, 0 }
};

static void
walk_sluice(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "workers", "user", "group",
	    "pidFile", "controlSocket", "stateDb", "assetDir", "relay",
	    "statsInterval", "shutdownTimeout", NULL };
	struct sl_conf_sluice *sl = &w->conf->sluice;
	struct sl_node n, cs;
	int64_t v;
	int e;

	if (!walk_get(root, "sluice", &n) || !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &n, known, NULL);
	if (walk_opt_int(w, &n, "workers", 0, MAX_WORKERS, &v) > 0)
		sl->workers = (int)v;
	/* Like nginx -t: a worker that cannot drop privileges would only
	 * crash-loop, so an unknown account is a config error. */
	if (walk_opt_nonempty(w, &n, "user", &sl->user) > 0 &&
	    getpwnam(sl->user) == NULL) {
		walk_get(&n, "user", &cs);
		walk_err(w, &cs, "no such user: %s", sl->user);
	}
	if (walk_opt_nonempty(w, &n, "group", &sl->group) > 0 &&
	    getgrnam(sl->group) == NULL) {
		walk_get(&n, "group", &cs);
		walk_err(w, &cs, "no such group: %s", sl->group);
	}
	walk_opt_nonempty(w, &n, "pidFile", &sl->pid_file);
	if (walk_opt_nonempty(w, &n, "controlSocket",
	    &sl->control_socket) > 0 &&
	    strlen(sl->control_socket) >= SUN_PATH_MAX) {
		walk_get(&n, "controlSocket", &cs);
		walk_err(w, &cs, "too long for a unix socket path (max %d "
		    "bytes)", SUN_PATH_MAX - 1);
	}
	walk_opt_nonempty(w, &n, "stateDb", &sl->state_db);
	walk_opt_nonempty(w, &n, "assetDir", &sl->asset_dir);
	if (walk_opt_enum(w, &n, "relay", relays, NULL,
	    "copy, splice or sockmap", &e) > 0)
		sl->relay = (enum sl_relay_mode)e;
	if (walk_opt_int(w, &n, "statsInterval", 1, 86400, &v) > 0)
		sl->stats_interval = (uint32_t)v;
	if (walk_opt_int(w, &n, "shutdownTimeout", 0, UINT32_MAX, &v) > 0)
		sl->shutdown_timeout = (uint32_t)v;
}

/* ------------------------------------------------------------------ */
/* policy                                                              */

static void
seconds_ms(struct walk *w, const struct sl_node *obj, const char *name,
    uint32_t *ms)
{
	int64_t v;

	if (walk_opt_int(w, obj, name, 0, MAX_SECONDS, &v) > 0)
		*ms = (uint32_t)v * 1000;
}

static void
walk_level(struct walk *w, const struct sl_node *n, int list_form,
    struct sl_conf_level *lvl)
{
	static const char *const known[] = { "handshake", "connIdle",
	    "uplinkOnly", "downlinkOnly", NULL };
	static const char *const known_list[] = { "level", "handshake",
	    "connIdle", "uplinkOnly", "downlinkOnly", NULL };
	static const char *const unsup[] = { "bufferSize", "statsUserUplink",
	    "statsUserDownlink", "statsUserOnline", NULL };

	walk_check_fields(w, n, list_form ? known_list : known, unsup);
	seconds_ms(w, n, "handshake", &lvl->handshake_ms);
	seconds_ms(w, n, "connIdle", &lvl->conn_idle_ms);
	seconds_ms(w, n, "uplinkOnly", &lvl->uplink_only_ms);
	seconds_ms(w, n, "downlinkOnly", &lvl->downlink_only_ms);
}

/* JSON names levels by key ("0"); libconfig cannot, so it lists them. */
static int
level_number(struct walk *w, const struct sl_node *n, int list_form)
{
	int64_t v = -1;
	const char *p;

	if (list_form) {
		if (walk_opt_int(w, n, "level", 0, INT_MAX, &v) == 0)
			walk_missing(w, n, "level", NULL);
		return (int)v;
	}
	for (p = n->name, v = 0; *p != '\0' && v <= INT_MAX; p++) {
		if (*p < '0' || *p > '9')
			break;
		v = v * 10 + (*p - '0');
	}
	if (n->name[0] == '\0' || *p != '\0' || v > INT_MAX) {
		walk_err(w, n, "level \"%s\" is not a number", n->name);
		return -1;
	}
	return (int)v;
}

static void
walk_levels(struct walk *w, const struct sl_node *lv, int list_form)
{
	struct sl_conf *conf = w->conf;
	struct sl_node el;
	size_t i, j, n = walk_length(lv);
	int level;

	conf->levels = sl_arena_alloc(&conf->arena, n * sizeof(*conf->levels));
	for (i = 0; i < n; i++) {
		walk_nth(lv, i, &el);
		if (!walk_want(w, &el, SL_NODE_OBJECT) ||
		    (level = level_number(w, &el, list_form)) < 0)
			continue;
		for (j = 0; j < conf->nlevels; j++)
			if (conf->levels[j].level == level)
				break;
		if (j < conf->nlevels) {
			walk_err(w, &el, "level %d is defined twice", level);
			continue;
		}
		sl_conf_level_defaults(&conf->levels[conf->nlevels], level);
		walk_level(w, &el, list_form, &conf->levels[conf->nlevels]);
		conf->nlevels++;
	}
}

static void
walk_policy(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "levels", NULL };
	static const char *const unsup[] = { "system", NULL };
	struct sl_node p, lv;

	if (!walk_get(root, "policy", &p) || !walk_want(w, &p, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &p, known, unsup);
	if (!walk_get(&p, "levels", &lv))
		return;
	/* libconfig group names cannot be digits: see conf_cfg.c. */
	if (walk_kind(&lv) == SL_NODE_ARRAY && !lv.ops->json)
		walk_levels(w, &lv, 1);
	else if (walk_want(w, &lv, SL_NODE_OBJECT))
		walk_levels(w, &lv, 0);
}

/* ------------------------------------------------------------------ */
/* inbounds: clients                                                   */

#define FLOW_VISION	"xtls-rprx-vision"

/* "" or Vision; anything else is reported. */
static int
flow_of(struct walk *w, const struct sl_node *obj, const char **out)
{
	struct sl_node n;
	const char *s;

	if (!walk_get(obj, "flow", &n))
		return 0;
	if (!walk_str(w, &n, &s))
		return -1;
	if (s[0] != '\0' && strcmp(s, FLOW_VISION) != 0) {
		walk_err(w, &n, "unsupported value \"%s\" (only \"" FLOW_VISION
		    "\")", s);
		return -1;
	}
	*out = s;
	return 1;
}

static void
walk_vless_id(struct walk *w, const struct sl_node *obj,
    struct sl_conf_client *c)
{
	struct sl_node n;
	const char *s;
	size_t len;

	if (!walk_get(obj, "id", &n)) {
		walk_missing(w, obj, "id", NULL);
		return;
	}
	if (!walk_str(w, &n, &s))
		return;
	len = strlen(s);
	if (sl_uuid_parse(s, c->uuid) == 0)
		c->id = s;
	else if (len == 0)
		walk_err(w, &n, "must not be empty");
	else if (len >= 32 && len <= 36)
		walk_err(w, &n, "\"%s\" is not a valid UUID", s);
	else
		walk_err(w, &n, "\"%s\" is neither a UUID (32-36 hex digits) "
		    "nor a name of at most 30 bytes", s);
}

static void
walk_vless_client(struct walk *w, const struct sl_node *n,
    struct sl_conf_client *c, const char *dflt_flow)
{
	static const char *const known[] = { "id", "email", "level", "flow",
	    "encryption", NULL };
	static const char *const unsup[] = { "reverse", "testseed", NULL };
	struct sl_node enc;

	walk_check_fields(w, n, known, unsup);
	walk_vless_id(w, n, c);
	if (flow_of(w, n, &c->flow) <= 0 || c->flow[0] == '\0')
		c->flow = dflt_flow;
	/* Xray: "encryption" is a client-side (outbound) setting. */
	if (walk_get(n, "encryption", &enc) &&
	    (walk_kind(&enc) != SL_NODE_STRING ||
	    enc.ops->string(enc.h)[0] != '\0'))
		walk_err(w, &enc, "not allowed in inbound settings (it is for "
		    "clients; the server side is \"decryption\")");
}

static void
walk_trojan_client(struct walk *w, const struct sl_node *n,
    struct sl_conf_client *c)
{
	static const char *const known[] = { "password", "email", "level",
	    "flow", NULL };
	struct sl_node f;
	int r;

	walk_check_fields(w, n, known, NULL);
	if ((r = walk_opt_nonempty(w, n, "password", &c->password)) > 0)
		sl_trojan_key(c->password, c->trojan_key);
	else if (r == 0)
		walk_missing(w, n, "password", NULL);
	if (walk_get(n, "flow", &f) && (walk_kind(&f) != SL_NODE_STRING ||
	    f.ops->string(f.h)[0] != '\0'))
		walk_err(w, &f, "flow for Trojan was removed from Xray; use "
		    "VLESS");
}

struct client_ctx {
	const struct sl_conf_inbound	*in;
	const char			*dflt_flow;
};

static void
walk_client(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	struct sl_conf_client *c = elem;
	const struct sl_conf_inbound *in = ((const struct client_ctx *)ctx)->in;
	const char *dflt_flow = ((const struct client_ctx *)ctx)->dflt_flow;
	int64_t v;

	walk_where(w, n, &c->where);
	c->email = "";
	c->flow = "";
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_opt_str(w, n, "email", &c->email);
	/* Xray reads the level into a byte. */
	if (walk_opt_int(w, n, "level", 0, 255, &v) > 0)
		c->level = (int)v;
	if (in->protocol == SL_IN_VLESS)
		walk_vless_client(w, n, c, dflt_flow);
	else
		walk_trojan_client(w, n, c);
}

/* "clients", or its Xray alias "users". */
static void
walk_clients(struct walk *w, const struct sl_node *s,
    struct sl_conf_inbound *in, const char *dflt_flow)
{
	struct sl_node arr, users;
	int have_c = walk_get(s, "clients", &arr);
	int have_u = walk_get(s, "users", &users);
	struct client_ctx cc = { in, dflt_flow };

	if (have_c && have_u)
		walk_err(w, &users, "give \"clients\" or \"users\", not both");
	if (!have_c) {
		if (!have_u)
			return;
		arr = users;
	}
	if (!walk_want(w, &arr, SL_NODE_ARRAY))
		return;
	in->clients = walk_each(w, &arr, sizeof(*in->clients), &in->nclients,
	    walk_client, &cc);
}

/* ------------------------------------------------------------------ */
/* inbounds: fallbacks (Xray infra/conf/vless.go, trojan.go)           */

/* Go's strconv.Atoi: an optional sign, then digits. */
static int
is_atoi(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '\0' || strlen(s) > 18)
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Go's net.SplitHostPort, then a port 1-65535. */
static int
dest_host_port(const char *s, const char **why)
{
	const char *host, *port;
	size_t hostlen;

	if (walk_split_host_port(s, &host, &hostlen, &port, why) != 0)
		return -1;
	if (walk_parse_port(port) < 1) {
		*why = "the port is not 1-65535";
		return -1;
	}
	return 0;
}

static void
unix_dest(struct walk *w, const struct sl_node *d, struct sl_conf_fallback *fb,
    const char *dest, int infer)
{
	size_t len = strlen(dest);
	char *p;

	fb->type = "unix";
	/*
	 * Xray (Linux): an inferred "@@name" becomes "@name" zero-padded to
	 * the whole sun_path, as HAProxy binds abstract sockets.
	 */
	if (infer && dest[0] == '@' && dest[1] == '@') {
		if (len - 1 > SUN_PATH_MAX) {
			walk_err(w, d, "too long for a unix socket address "
			    "(max %d bytes)", SUN_PATH_MAX);
			return;
		}
		p = sl_arena_alloc(&w->conf->arena, SUN_PATH_MAX + 1);
		memcpy(p, dest + 1, len - 1);
		fb->dest = p;
		fb->dest_len = SUN_PATH_MAX;
		return;
	}
	/* A path needs its NUL inside sun_path; an abstract name does not. */
	if (len > (dest[0] == '@' ? SUN_PATH_MAX : SUN_PATH_MAX - 1)) {
		walk_err(w, d, "too long for a unix socket address (max %d "
		    "bytes)", dest[0] == '@' ? SUN_PATH_MAX : SUN_PATH_MAX - 1);
		return;
	}
	fb->dest = sl_arena_strdup(&w->conf->arena, dest);
	fb->dest_len = len;
}

static void
dest_infer(struct walk *w, const struct sl_node *d, struct sl_conf_fallback *fb,
    const char *dest)
{
	char buf[64];
	const char *why, *hp = dest;

	if (strcmp(dest, "serve-ws-none") == 0) {
		walk_err(w, d, "unsupported value \"serve-ws-none\" (a v2fly "
		    "leftover that cannot be dialed)");
		return;
	}
	if (dest[0] == '/' || dest[0] == '@') {
		unix_dest(w, d, fb, dest, 1);
		return;
	}
	if (is_atoi(dest)) {
		snprintf(buf, sizeof(buf), "localhost:%s", dest);
		hp = buf;
	}
	if (dest_host_port(hp, &why) != 0) {
		walk_err(w, d, "\"%s\" is not a valid dest: %s (expected a "
		    "port, host:port, an absolute path or @name)", dest, why);
		return;
	}
	fb->type = "tcp";
	fb->dest = sl_arena_strdup(&w->conf->arena, hp);
	fb->dest_len = strlen(hp);
}

/* An explicit type: Xray dials dest as written, so it must be complete. */
static void
dest_explicit(struct walk *w, const struct sl_node *d,
    struct sl_conf_fallback *fb, const char *dest, const char *type)
{
	const char *why;

	if (strcmp(type, "unix") == 0) {
		if (dest[0] != '/' && dest[0] != '@')
			walk_err(w, d, "\"%s\" is not a unix socket address "
			    "(an absolute path or @name)", dest);
		else
			unix_dest(w, d, fb, dest, 0);
		return;
	}
	if (dest_host_port(dest, &why) != 0) {
		walk_err(w, d, "\"%s\" is not host:port: %s (with an explicit "
		    "\"type\", dest is used as written)", dest, why);
		return;
	}
	fb->type = type;
	fb->dest = sl_arena_strdup(&w->conf->arena, dest);
	fb->dest_len = strlen(dest);
}

static void
walk_dest(struct walk *w, const struct sl_node *obj,
    struct sl_conf_fallback *fb)
{
	static const char *const types[] = { "tcp", "tcp4", "tcp6", "unix",
	    NULL };
	struct sl_node d, t;
	const char *dest, *type = "";
	char num[24];
	int64_t v;

	if (!walk_get(obj, "dest", &d)) {
		walk_missing(w, obj, "dest", NULL);
		return;
	}
	if (walk_kind(&d) == SL_NODE_INT) {
		if ((v = d.ops->integer(d.h)) < 1 || v > 65535) {
			walk_err(w, &d, "%" PRId64 " is not a port (1-65535)",
			    v);
			return;
		}
		snprintf(num, sizeof(num), "%d", (int)v);
		dest = num;
	} else if (walk_kind(&d) == SL_NODE_STRING) {
		dest = d.ops->string(d.h);
	} else {
		walk_err(w, &d, "must be a port number or a string, not %s",
		    walk_kind_name(&d, walk_kind(&d)));
		return;
	}
	if (dest[0] == '\0') {
		walk_err(w, &d, "must not be empty");
		return;
	}
	if (walk_get(obj, "type", &t) && !walk_str(w, &t, &type))
		return;
	if (type[0] == '\0')
		dest_infer(w, &d, fb, dest);
	else if (!walk_in_list(types, type))
		walk_err(w, &t, "unsupported value \"%s\" (tcp, tcp4, tcp6 or "
		    "unix)", type);
	else
		dest_explicit(w, &d, fb, dest, type);
}

static void
walk_fallback(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "name", "alpn", "path", "type",
	    "dest", "xver", NULL };
	struct sl_node p;
	int64_t v;
	struct sl_conf_fallback *fb = elem;

	(void)ctx;
	walk_where(w, n, &fb->where);
	fb->name = fb->alpn = fb->path = "";
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	/*
	 * Xray lower-cases SNI and ALPN at run time but not the config, so
	 * an upper-case value never matches there; here it does.
	 */
	if (walk_opt_str(w, n, "name", &fb->name) > 0)
		walk_lower((char *)(uintptr_t)fb->name);
	if (walk_opt_str(w, n, "alpn", &fb->alpn) > 0)
		walk_lower((char *)(uintptr_t)fb->alpn);
	if (walk_opt_str(w, n, "path", &fb->path) > 0 && fb->path[0] != '\0' &&
	    fb->path[0] != '/') {
		walk_get(n, "path", &p);
		walk_err(w, &p, "path must be empty or start with / (got "
		    "\"%s\")", fb->path);
	}
	if (walk_get(n, "xver", &p) && walk_want(w, &p, SL_NODE_INT)) {
		if ((v = p.ops->integer(p.h)) < 0 || v > 2)
			walk_err(w, &p, "xver %" PRId64 " is not 0, 1 or 2", v);
		else
			fb->xver = (int)v;
	}
	walk_dest(w, n, fb);
}

static void
walk_fallbacks(struct walk *w, const struct sl_node *arr,
    struct sl_conf_inbound *in)
{
	if (!walk_want(w, arr, SL_NODE_ARRAY))
		return;
	in->fallbacks = walk_each(w, arr, sizeof(*in->fallbacks),
	    &in->nfallbacks, walk_fallback, NULL);
}

/* ------------------------------------------------------------------ */
/* inbounds: settings                                                  */

static void
walk_vless(struct walk *w, const struct sl_node *s, struct sl_conf_inbound *in)
{
	static const char *const known[] = { "clients", "users", "decryption",
	    "flow", "fallbacks", NULL };
	static const char *const unsup[] = { "fallback", "testseed", NULL };
	struct sl_node n;
	const char *flow = "";

	if (walk_present(s) && !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, unsup);
	flow_of(w, s, &flow);
	walk_clients(w, s, in, flow);
	if (!walk_get(s, "decryption", &n))
		walk_missing(w, s, "decryption", "required field is missing "
		    "(set \"decryption\": \"none\")");
	else if (walk_str(w, &n, &in->decryption) &&
	    strcmp(in->decryption, "none") != 0)
		walk_err(w, &n, "unsupported value \"%s\" (only \"none\")",
		    in->decryption);
	if (!walk_get(s, "fallbacks", &n))
		return;
	if (in->decryption != NULL && strcmp(in->decryption, "none") != 0)
		walk_err(w, &n, "fallbacks can not be used together with "
		    "decryption \"%s\"", in->decryption);
	walk_fallbacks(w, &n, in);
}

static void
walk_trojan(struct walk *w, const struct sl_node *s,
    struct sl_conf_inbound *in)
{
	static const char *const known[] = { "clients", "users", "fallbacks",
	    NULL };
	struct sl_node n;

	if (walk_present(s) && !walk_want(w, s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, s, known, NULL);
	walk_clients(w, s, in, "");
	if (walk_get(s, "fallbacks", &n))
		walk_fallbacks(w, &n, in);
}

/* ------------------------------------------------------------------ */
/* inbounds: streamSettings                                            */

static void
walk_tcp(struct walk *w, const struct sl_node *s, const char *name,
    struct sl_conf_inbound *in)
{
	static const char *const known[] = { "acceptProxyProtocol", "header",
	    NULL };
	static const char *const hknown[] = { "type", NULL };
	static const char *const hunsup[] = { "request", "response", NULL };
	static const struct walk_name htypes[] = { { "none", 0 }, { "", 0 },
	    { NULL, 0 } };
	static const char *const hxray[] = { "http", NULL };
	struct sl_node t, h;
	int b, v;

	if (!walk_get(s, name, &t) || !walk_want(w, &t, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &t, known, NULL);
	if (walk_opt_bool(w, &t, "acceptProxyProtocol", &b) > 0 && b)
		in->accept_proxy_protocol = 1;
	if (!walk_get(&t, "header", &h) || !walk_want(w, &h, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &h, hknown, hunsup);
	walk_opt_enum(w, &h, "type", htypes, hxray, "none", &v);
}

static void
walk_sockopt(struct walk *w, const struct sl_node *s,
    struct sl_conf_inbound *in)
{
	static const char *const known[] = { "acceptProxyProtocol", NULL };
	static const char *const unsup[] = { "mark", "tcpFastOpen", "tproxy",
	    "domainStrategy", "dialerProxy", "tcpKeepAliveInterval",
	    "tcpKeepAliveIdle", "tcpCongestion", "tcpcongestion",
	    "tcpWindowClamp", "tcpMaxSeg", "penetrate", "tcpUserTimeout",
	    "v6only", "interface", "tcpMptcp", "customSockopt",
	    "addressPortStrategy", "happyEyeballs", "trustedXForwardedFor",
	    NULL };
	struct sl_node n;
	int b;

	if (!walk_get(s, "sockopt", &n) || !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &n, known, unsup);
	if (walk_opt_bool(w, &n, "acceptProxyProtocol", &b) > 0 && b)
		in->accept_proxy_protocol = 1;
}

/* Certificate files are read by the compiler; fail early if it cannot. */
static const char *
readable_file(struct walk *w, const struct sl_node *obj, const char *name,
    const char *inline_name)
{
	struct sl_node n, alt;
	struct stat st;
	const char *path;
	int fd;

	if (!walk_get(obj, name, &n)) {
		/* The inline form is already refused as unsupported. */
		if (!walk_get(obj, inline_name, &alt))
			walk_missing(w, obj, name, NULL);
		return NULL;
	}
	if (walk_opt_nonempty(w, obj, name, &path) <= 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		walk_err(w, &n, "cannot read \"%s\": %s", path,
		    strerror(errno));
		return path;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
		walk_err(w, &n, "\"%s\" is not a regular file", path);
	close(fd);
	return path;
}

static void
walk_cert(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "certificateFile", "keyFile",
	    "usage", NULL };
	static const char *const unsup[] = { "certificate", "key",
	    "ocspStapling", "oneTimeLoading", "buildChain", NULL };
	static const struct walk_name usages[] = { { "encipherment", 0 },
	    { "", 0 }, { NULL, 0 } };
	static const char *const xusages[] = { "verify", "issue", NULL };
	int v;
	struct sl_conf_cert *c = elem;

	(void)ctx;
	walk_where(w, n, &c->where);
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, unsup);
	walk_opt_enum(w, n, "usage", usages, xusages, "encipherment", &v);
	c->certificate_file = readable_file(w, n, "certificateFile",
	    "certificate");
	c->key_file = readable_file(w, n, "keyFile", "key");
}

static void
alpn_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct walk_vec *v = arg;

	if (s[0] == '\0' || strlen(s) > 255)
		walk_err(w, at, "\"%s\" is not an ALPN protocol name (1-255 "
		    "bytes)", s);
	else
		*(const char **)walk_vec_push(w, v) = sl_arena_strdup(
		    &w->conf->arena, s);
}

static const struct walk_name tls_versions[] = {
	{ "1.0", SL_TLS_10 }, { "1.1", SL_TLS_11 }, { "1.2", SL_TLS_12 },
	{ "1.3", SL_TLS_13 }, { "", SL_TLS_ANY }, { NULL, 0 }
};

static void
walk_tls_versions(struct walk *w, const struct sl_node *tls,
    struct sl_conf_inbound *in)
{
	struct sl_node n;
	int v;

	if (walk_opt_enum(w, tls, "minVersion", tls_versions, NULL,
	    "1.0, 1.1, 1.2 or 1.3", &v) > 0)
		in->min_version = (enum sl_tls_version)v;
	if (walk_opt_enum(w, tls, "maxVersion", tls_versions, NULL,
	    "1.0, 1.1, 1.2 or 1.3", &v) > 0)
		in->max_version = (enum sl_tls_version)v;
	if (in->min_version != SL_TLS_ANY && in->max_version != SL_TLS_ANY &&
	    in->min_version > in->max_version) {
		walk_get(tls, "maxVersion", &n);
		walk_err(w, &n, "is below minVersion");
	}
}

static void
walk_tls(struct walk *w, const struct sl_node *tls, struct sl_conf_inbound *in)
{
	static const char *const known[] = { "certificates", "alpn",
	    "minVersion", "maxVersion", "serverName", "rejectUnknownSni",
	    "enableSessionResumption", NULL };
	static const char *const unsup[] = { "allowInsecure",
	    "disableSystemRoot", "cipherSuites",
	    "fingerprint", "curvePreferences", "masterKeyLog",
	    "pinnedPeerCertSha256", "pinnedPeerCertificateChainSha256",
	    "pinnedPeerCertificatePublicKeySha256", "verifyPeerCertByName",
	    "verifyPeerCertInNames", "echServerKeys", "echConfigList",
	    "echForceQuery", "echSockopt", "preferServerCipherSuites", NULL };
	struct walk_vec alpn = { .sz = sizeof(const char *) };
	struct sl_node certs, el;

	if (walk_present(tls) && !walk_want(w, tls, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, tls, known, unsup);
	if (!walk_get(tls, "certificates", &certs) || (walk_kind(&certs) ==
	    SL_NODE_ARRAY && walk_length(&certs) == 0))
		walk_err(w, &certs, "security \"tls\" needs at least one "
		    "certificate");
	else if (walk_want(w, &certs, SL_NODE_ARRAY))
		in->certs = walk_each(w, &certs, sizeof(*in->certs),
		    &in->ncerts, walk_cert, NULL);
	if (walk_get(tls, "alpn", &el)) {
		walk_string_list(w, &el, alpn_item, &alpn);
		in->alpn = alpn.p;
		in->nalpn = alpn.n;
	}
	walk_tls_versions(w, tls, in);
	walk_opt_str(w, tls, "serverName", &in->server_name);
	walk_opt_bool(w, tls, "rejectUnknownSni", &in->reject_unknown_sni);
	walk_opt_bool(w, tls, "enableSessionResumption", &in->resumption);
}

static const struct walk_name networks[] = {
	{ "tcp", 0 }, { "raw", 0 }, { "", 0 }, { NULL, 0 }
};
static const char *const xray_networks[] = { "kcp", "mkcp", "ws",
	"websocket", "http", "h2", "h3", "quic", "grpc", "gun", "httpupgrade",
	"splithttp", "xhttp", "hysteria", "domainsocket", "ds", NULL };
static const struct walk_name securities[] = {
	{ "none", SL_SEC_NONE }, { "", SL_SEC_NONE }, { "tls", SL_SEC_TLS },
	{ NULL, 0 }
};
static const char *const xray_securities[] = { "reality", "xtls", NULL };

static void
walk_stream(struct walk *w, const struct sl_node *inb,
    struct sl_conf_inbound *in)
{
	static const char *const known[] = { "network", "security",
	    "tlsSettings", "tcpSettings", "rawSettings", "sockopt", NULL };
	static const char *const unsup[] = { "realitySettings",
	    "xtlsSettings", "kcpSettings", "wsSettings", "httpSettings",
	    "dsSettings", "quicSettings", "grpcSettings", "gunSettings",
	    "httpupgradeSettings", "splithttpSettings", "xhttpSettings",
	    "hysteriaSettings", "finalmask", "address", "port", "method",
	    NULL };
	struct sl_node s, tls;
	int v;

	if (!walk_get(inb, "streamSettings", &s) ||
	    !walk_want(w, &s, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &s, known, unsup);
	walk_opt_enum(w, &s, "network", networks, xray_networks, "tcp or raw",
	    &v);
	if (walk_opt_enum(w, &s, "security", securities, xray_securities,
	    "none or tls", &v) > 0)
		in->security = (enum sl_security)v;
	if (walk_get(&s, "tlsSettings", &tls) && in->security != SL_SEC_TLS)
		walk_err(w, &tls, "given, but \"security\" is not \"tls\"");
	else if (in->security == SL_SEC_TLS)
		walk_tls(w, &tls, in);
	walk_tcp(w, &s, "tcpSettings", in);
	walk_tcp(w, &s, "rawSettings", in);
	walk_sockopt(w, &s, in);
}

/* ------------------------------------------------------------------ */
/* inbounds                                                            */

static void
walk_listen(struct walk *w, const struct sl_node *obj,
    struct sl_conf_inbound *in)
{
	struct sl_node n;
	unsigned char addr[16];
	char buf[INET6_ADDRSTRLEN];
	const char *s;
	size_t len;

	if (!walk_get(obj, "listen", &n) || !walk_str(w, &n, &s) ||
	    s[0] == '\0')
		return;
	if (s[0] == '/' || s[0] == '@') {
		walk_err(w, &n, "\"%s\": listening on a unix socket is not "
		    "supported yet", s);
		return;
	}
	len = strlen(s);
	/* Xray strips the brackets of "[::1]". */
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len < sizeof(buf)) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET, buf, addr) == 1 ||
		    inet_pton(AF_INET6, buf, addr) == 1) {
			in->listen = sl_arena_strdup(&w->conf->arena, buf);
			return;
		}
	}
	walk_err(w, &n, "\"%s\" is not an IP address (host names are not "
	    "supported)", n.ops->string(n.h));
}

static void
walk_in_port(struct walk *w, const struct sl_node *obj,
    struct sl_conf_inbound *in)
{
	struct sl_node n;
	const char *s, *e;
	char buf[16];
	int64_t v;

	if (!walk_get(obj, "port", &n)) {
		walk_missing(w, obj, "port", NULL);
		return;
	}
	if (walk_kind(&n) == SL_NODE_INT) {
		if ((v = n.ops->integer(n.h)) < 1 || v > 65535)
			walk_err(w, &n, "%" PRId64 " is not a port (1-65535)",
			    v);
		else
			in->port = (int)v;
		return;
	}
	if (walk_kind(&n) != SL_NODE_STRING) {
		walk_err(w, &n, "must be a port number or a string, not %s",
		    walk_kind_name(&n, walk_kind(&n)));
		return;
	}
	s = n.ops->string(n.h);
	if (strncmp(s, "env:", 4) == 0) {
		walk_err(w, &n, "\"%s\": env: ports are not supported", s);
		return;
	}
	if (strpbrk(s, "-,") != NULL) {
		walk_err(w, &n, "\"%s\": port ranges are not supported (one "
		    "port per inbound)", s);
		return;
	}
	/* Xray trims each item of a port list. */
	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if ((size_t)(e - s) < sizeof(buf)) {
		memcpy(buf, s, (size_t)(e - s));
		buf[e - s] = '\0';
		if ((in->port = walk_parse_port(buf)) >= 1)
			return;
	}
	in->port = 0;
	walk_err(w, &n, "\"%s\" is not a port (1-65535)", n.ops->string(n.h));
}

static const struct walk_name in_protocols[] = {
	{ "vless", SL_IN_VLESS }, { "trojan", SL_IN_TROJAN }, { NULL, 0 }
};
static const char *const xray_in_protocols[] = { "vmess", "shadowsocks",
	"socks", "http", "mixed", "dokodemo-door", "tunnel", "wireguard",
	"hysteria", "tun", NULL };

static void
walk_inbound(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "listen", "port", "tag",
	    "protocol", "settings", "streamSettings", "sniffing", NULL };
	static const char *const unsup[] = { "allocate", NULL };
	struct sl_node s;
	int v = 0;
	struct sl_conf_inbound *in = elem;

	(void)ctx;
	walk_where(w, n, &in->where);
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, unsup);
	walk_opt_str(w, n, "tag", &in->tag);
	walk_listen(w, n, in);
	walk_in_port(w, n, in);
	if (walk_opt_enum(w, n, "protocol", in_protocols, xray_in_protocols,
	    "vless or trojan", &v) == 0)
		walk_missing(w, n, "protocol", NULL);
	in->protocol = (enum sl_proto_in)v;
	walk_get(n, "settings", &s);
	if (in->protocol == SL_IN_VLESS)
		walk_vless(w, &s, in);
	else if (in->protocol == SL_IN_TROJAN)
		walk_trojan(w, &s, in);
	walk_stream(w, n, in);
	if (walk_get(n, "sniffing", &s))
		walk_sniffing(w, &s, &in->sniffing);
}

static void
walk_inbounds(struct walk *w, const struct sl_node *root)
{
	struct sl_conf *conf = w->conf;
	struct sl_node arr;

	if (!walk_get(root, "inbounds", &arr) ||
	    !walk_want(w, &arr, SL_NODE_ARRAY))
		return;
	conf->inbounds = walk_each(w, &arr, sizeof(*conf->inbounds),
	    &conf->ninbounds, walk_inbound, NULL);
}

/* ------------------------------------------------------------------ */

int
sl_conf_walk(struct sl_conf *conf, const struct sl_node *root,
    struct sl_errors *errs)
{
	static const char *const known[] = { "log", "inbounds", "outbounds",
	    "routing", "observatory", "burstObservatory", "policy", "sluice",
	    NULL };
	static const char *const unsup[] = { "dns", "api", "metrics", "stats",
	    "reverse", "fakeDns", "fakedns", "transport", "version", "geodata",
	    "env", NULL };
	struct walk w = { conf, errs, 0 };

	if (!walk_want(&w, root, SL_NODE_OBJECT))
		return w.nerr;
	walk_check_fields(&w, root, known, unsup);
	walk_log(&w, root);
	walk_inbounds(&w, root);
	walk_outbounds(&w, root);
	walk_routing(&w, root);
	walk_observatories(&w, root);
	walk_policy(&w, root);
	walk_sluice(&w, root);
	return w.nerr;
}
