/*
 * conf_walk: the configuration schema, shared by both front ends.
 *
 * Owns every field rule: names, types, ranges, Xray's normalisations
 * (fallback dest inference, UUIDv5 ids, port lists, "geoip:private") and
 * the lists of Xray fields that sluice refuses because it does not
 * implement them yet.  It walks a tree through struct sl_node_ops, so the
 * same code serves libconfig and json-c; only paths differ ("a.[0].b"
 * with file:line versus "$.a[0].b").
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
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
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
#include "shm/ipset.h"	/* one CIDR parser and private list for all */

#define PATHBUF		512
#define SUN_PATH_MAX	108	/* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define MAX_SECONDS	(UINT32_MAX / 1000)	/* still fits in ms */
#define MAX_WORKERS	1024

struct walk {
	struct sl_conf		*conf;
	struct sl_errors	*errs;
	int			 nerr;
};

struct name_val {
	const char	*name;
	int		 val;
};

/* A growable arena array: doubling keeps big IP lists linear. */
struct vec {
	void		*p;
	size_t		 n, cap, sz;
};

/* ------------------------------------------------------------------ */
/* Nodes, paths, errors                                                */

static enum sl_node_kind
kind(const struct sl_node *n)
{
	return n->h == NULL ? SL_NODE_NULL : n->ops->kind(n->h);
}

static int
present(const struct sl_node *n)
{
	return kind(n) != SL_NODE_NULL;
}

static size_t
length(const struct sl_node *n)
{
	enum sl_node_kind k = kind(n);

	if (k != SL_NODE_OBJECT && k != SL_NODE_ARRAY)
		return 0;
	return n->ops->length(n->h);
}

/* Member NAME of OBJ into OUT; whether it is present and not null. */
static int
get(const struct sl_node *obj, const char *name, struct sl_node *out)
{
	out->ops = obj->ops;
	out->parent = obj;
	out->name = name;
	out->index = 0;
	out->h = NULL;
	if (kind(obj) == SL_NODE_OBJECT)
		out->h = obj->ops->member(obj->h, name);
	return present(out);
}

/* I-th member of an object or element of an array. */
static void
nth(const struct sl_node *agg, size_t i, struct sl_node *out)
{
	out->ops = agg->ops;
	out->parent = agg;
	out->name = NULL;
	out->index = i;
	out->h = agg->ops->child(agg->h, i, &out->name);
}

typedef void (*walk_elem_fn)(struct walk *, const struct sl_node *,
    void *elem, const void *ctx);

/* An array of objects becomes an arena array of model records, each
 * filled by fn.  The caller has checked that arr is an array. */
static void *
walk_each(struct walk *w, const struct sl_node *arr, size_t size,
    size_t *count, walk_elem_fn fn, const void *ctx)
{
	size_t n = length(arr);
	char *v = sl_arena_alloc(&w->conf->arena, n * size);
	struct sl_node el;

	for (size_t i = 0; i < n; i++) {
		nth(arr, i, &el);
		fn(w, &el, v + i * size, ctx);
	}
	*count = n;
	return v;
}

static size_t
path_fmt(const struct sl_node *n, char *buf, size_t sz)
{
	size_t len;
	int r;

	if (n->parent == NULL) {
		r = snprintf(buf, sz, "%s", n->ops->json ? "$" : "");
		return r > 0 ? (size_t)r : 0;
	}
	len = path_fmt(n->parent, buf, sz);
	if (len >= sz)
		return len;
	if (n->name != NULL)
		r = snprintf(buf + len, sz - len, "%s%s", len > 0 ? "." : "",
		    n->name);
	else
		r = snprintf(buf + len, sz - len,
		    n->ops->json ? "[%zu]" : ".[%zu]", n->index);
	return len + (r > 0 ? (size_t)r : 0);
}

/* An absent member has no line of its own: use its nearest container's. */
static int
node_line(const struct sl_node *n)
{
	for (; n != NULL; n = n->parent)
		if (n->h != NULL)
			return n->ops->line(n->h);
	return 0;
}

static const char *
node_file(const struct walk *w, const struct sl_node *n)
{
	const char *f;

	for (; n != NULL; n = n->parent)
		if (n->h != NULL) {
			f = n->ops->file(n->h);
			return f != NULL ? f : w->conf->file;
		}
	return w->conf->file;
}

static void err(struct walk *, const struct sl_node *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
err(struct walk *w, const struct sl_node *n, const char *fmt, ...)
{
	char path[PATHBUF], msg[1024];
	struct sl_where wh;
	va_list ap;

	path_fmt(n, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wh.file = node_file(w, n);
	wh.line = node_line(n);
	wh.path = path;
	sl_errors_add(w->errs, &wh, "%s", msg);
	w->nerr++;
}

/* Report member NAME of OBJ as missing. */
static void
missing(struct walk *w, const struct sl_node *obj, const char *name,
    const char *msg)
{
	struct sl_node n;

	get(obj, name, &n);
	err(w, &n, "%s", msg != NULL ? msg : "required field is missing");
}

/* Remember where an object came from, for later checks and the compiler. */
static void
where_keep(struct walk *w, const struct sl_node *n, struct sl_where *out)
{
	char path[PATHBUF];
	const char *file = node_file(w, n);

	path_fmt(n, path, sizeof(path));
	/* libconfig's own copy of the name dies with its tree. */
	out->file = strcmp(file, w->conf->file) == 0 ? w->conf->file :
	    sl_arena_strdup(&w->conf->arena, file);
	out->line = node_line(n);
	out->path = sl_arena_strdup(&w->conf->arena, path);
}

static const char *
kind_name(const struct sl_node *n, enum sl_node_kind k)
{
	switch (k) {
	case SL_NODE_OBJECT:
		return n->ops->json ? "an object" : "a group";
	case SL_NODE_ARRAY:
		return n->ops->json ? "an array" : "a list or an array";
	case SL_NODE_STRING:
		return "a string";
	case SL_NODE_INT:
		return "an integer";
	case SL_NODE_BOOL:
		return "a boolean";
	case SL_NODE_FLOAT:
		return "a fractional number";
	default:
		return "null";
	}
}

/* Whether N has kind K; reports it when not. */
static int
want(struct walk *w, const struct sl_node *n, enum sl_node_kind k)
{
	if (kind(n) == k)
		return 1;
	err(w, n, "must be %s, not %s", kind_name(n, k),
	    kind_name(n, kind(n)));
	return 0;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static int
lookup(const struct name_val *t, const char *s, int *out)
{
	for (; t->name != NULL; t++)
		if (strcasecmp(t->name, s) == 0) {
			*out = t->val;
			return 1;
		}
	return 0;
}

/*
 * Every member of OBJ must be in KNOWN.  Members in UNSUP are Xray fields
 * not implemented yet: refused unless null or false (= absent in Xray).
 */
static void
check_fields(struct walk *w, const struct sl_node *obj,
    const char *const *known, const char *const *unsup)
{
	struct sl_node m;
	size_t i, n = length(obj);

	if (kind(obj) != SL_NODE_OBJECT)
		return;
	for (i = 0; i < n; i++) {
		nth(obj, i, &m);
		if (in_list(known, m.name))
			continue;
		if (!in_list(unsup, m.name))
			err(w, &m, "unknown field");
		else if (present(&m) && !(kind(&m) == SL_NODE_BOOL &&
		    !m.ops->boolean(m.h)))
			err(w, &m, "unsupported field (not implemented yet)");
	}
}

/* An empty object or array: the same as leaving the field out. */
static int
is_empty(const struct sl_node *n)
{
	return !present(n) || ((kind(n) == SL_NODE_OBJECT ||
	    kind(n) == SL_NODE_ARRAY) && length(n) == 0);
}

static void *
vec_push(struct walk *w, struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;

		v->p = sl_arena_grow(&w->conf->arena, v->p, v->n * v->sz,
		    cap * v->sz);
		v->cap = cap;
	}
	return (char *)v->p + v->sz * v->n++;
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */

/* String value of N copied into the arena; 0 and reported if not one. */
static int
str_of(struct walk *w, const struct sl_node *n, const char **out)
{
	if (!want(w, n, SL_NODE_STRING))
		return 0;
	*out = sl_arena_strdup(&w->conf->arena, n->ops->string(n->h));
	return 1;
}

/* Optional members: 1 stored, 0 absent, -1 wrong (reported). */
static int
opt_str(struct walk *w, const struct sl_node *obj, const char *name,
    const char **out)
{
	struct sl_node n;

	if (!get(obj, name, &n))
		return 0;
	return str_of(w, &n, out) ? 1 : -1;
}

/* Like opt_str, refusing "". */
static int
opt_nonempty(struct walk *w, const struct sl_node *obj, const char *name,
    const char **out)
{
	struct sl_node n;
	const char *s;

	if (!get(obj, name, &n))
		return 0;
	if (!str_of(w, &n, &s))
		return -1;
	if (s[0] == '\0') {
		err(w, &n, "must not be empty");
		return -1;
	}
	*out = s;
	return 1;
}

static int
opt_int(struct walk *w, const struct sl_node *obj, const char *name,
    int64_t min, int64_t max, int64_t *out)
{
	struct sl_node n;
	int64_t v;

	if (!get(obj, name, &n))
		return 0;
	if (!want(w, &n, SL_NODE_INT))
		return -1;
	v = n.ops->integer(n.h);
	if (v < min || v > max) {
		err(w, &n, "%" PRId64 " is out of range (%" PRId64 "-%" PRId64
		    ")", v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

static int
opt_bool(struct walk *w, const struct sl_node *obj, const char *name,
    int *out)
{
	struct sl_node n;

	if (!get(obj, name, &n))
		return 0;
	if (!want(w, &n, SL_NODE_BOOL))
		return -1;
	*out = n.ops->boolean(n.h) != 0;
	return 1;
}

/* Member NAME as one of the names in T (case-insensitive, like Xray). */
static int
opt_enum(struct walk *w, const struct sl_node *obj, const char *name,
    const struct name_val *t, const char *const *unsup, const char *expect,
    int *out)
{
	struct sl_node n;
	const char *s;

	if (!get(obj, name, &n))
		return 0;
	if (!str_of(w, &n, &s))
		return -1;
	if (lookup(t, s, out))
		return 1;
	if (unsup != NULL) {
		const char *const *u;

		for (u = unsup; *u != NULL; u++)
			if (strcasecmp(*u, s) == 0) {
				err(w, &n, "unsupported value \"%s\" (not "
				    "implemented yet; supported: %s)", s, expect);
				return -1;
			}
	}
	err(w, &n, "unknown value \"%s\" (expected %s)", s, expect);
	return -1;
}

static char *
lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* Decimal digits only (Go's ParseUint), 0-65535; -1 otherwise. */
static int
parse_port(const char *s)
{
	long v = 0;
	const char *p;

	if (*s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return -1;
	}
	return (int)v;
}

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

/*
 * Xray StringList: an array of strings, or one string split on ','
 * (items not trimmed).  FN gets each item with the node to blame.
 */
typedef void	 item_fn(struct walk *, const struct sl_node *, const char *,
		    void *);

static void
string_list(struct walk *w, const struct sl_node *n, item_fn *fn, void *arg)
{
	struct sl_node el;
	size_t i, len;

	if (kind(n) == SL_NODE_STRING) {
		char *copy = sl_arena_strdup(&w->conf->arena,
		    n->ops->string(n->h));
		char *item, *next;

		for (item = copy; item != NULL; item = next) {
			if ((next = strchr(item, ',')) != NULL)
				*next++ = '\0';
			fn(w, n, item, arg);
		}
		return;
	}
	if (kind(n) != SL_NODE_ARRAY) {
		err(w, n, "must be a string or %s of strings, not %s",
		    kind_name(n, SL_NODE_ARRAY), kind_name(n, kind(n)));
		return;
	}
	len = length(n);
	for (i = 0; i < len; i++) {
		nth(n, i, &el);
		if (want(w, &el, SL_NODE_STRING))
			fn(w, &el, el.ops->string(el.h), arg);
	}
}

/* ------------------------------------------------------------------ */
/* log, sluice                                                         */

static const struct name_val loglevels[] = {
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

	if (!get(root, "log", &n) || !want(w, &n, SL_NODE_OBJECT))
		return;
	check_fields(w, &n, known, unsup);
	opt_str(w, &n, "access", &log->access);
	opt_str(w, &n, "error", &log->error);
	if (opt_enum(w, &n, "loglevel", loglevels, NULL,
	    "debug, info, warning, error or none", &v) > 0) {
		log->loglevel = (enum sl_loglevel)v;
		/* Xray: loglevel "none" turns the access log off too. */
		if (v == SL_LOG_NONE)
			log->access = "none";
	}
	if (get(&n, "dnsLog", &dns) && want(w, &dns, SL_NODE_BOOL) &&
	    dns.ops->boolean(dns.h))
		err(w, &dns, "unsupported value true (no DNS module yet)");
}

/* splice and sockmap are planned (DESIGN.md §4); refuse them until they
 * exist rather than relay by copying behind the user's back. */
static const struct name_val relays[] = {
	{ "copy", SL_RELAY_COPY }, { NULL, 0 }
};
static const char *const relays_planned[] = { "splice", "sockmap", NULL };

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

	if (!get(root, "sluice", &n) || !want(w, &n, SL_NODE_OBJECT))
		return;
	check_fields(w, &n, known, NULL);
	if (opt_int(w, &n, "workers", 0, MAX_WORKERS, &v) > 0)
		sl->workers = (int)v;
	opt_nonempty(w, &n, "user", &sl->user);
	opt_nonempty(w, &n, "group", &sl->group);
	opt_nonempty(w, &n, "pidFile", &sl->pid_file);
	if (opt_nonempty(w, &n, "controlSocket", &sl->control_socket) > 0 &&
	    strlen(sl->control_socket) >= SUN_PATH_MAX) {
		get(&n, "controlSocket", &cs);
		err(w, &cs, "too long for a unix socket path (max %d bytes)",
		    SUN_PATH_MAX - 1);
	}
	opt_nonempty(w, &n, "stateDb", &sl->state_db);
	opt_nonempty(w, &n, "assetDir", &sl->asset_dir);
	if (opt_enum(w, &n, "relay", relays, relays_planned, "copy",
	    &e) > 0)
		sl->relay = (enum sl_relay_mode)e;
	if (opt_int(w, &n, "statsInterval", 0, UINT32_MAX, &v) > 0)
		sl->stats_interval = (uint32_t)v;
	if (opt_int(w, &n, "shutdownTimeout", 0, UINT32_MAX, &v) > 0)
		sl->shutdown_timeout = (uint32_t)v;
}

/* ------------------------------------------------------------------ */
/* policy                                                              */

static void
seconds_ms(struct walk *w, const struct sl_node *obj, const char *name,
    uint32_t *ms)
{
	int64_t v;

	if (opt_int(w, obj, name, 0, MAX_SECONDS, &v) > 0)
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

	check_fields(w, n, list_form ? known_list : known, unsup);
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
		if (opt_int(w, n, "level", 0, INT_MAX, &v) == 0)
			missing(w, n, "level", NULL);
		return (int)v;
	}
	for (p = n->name, v = 0; *p != '\0' && v <= INT_MAX; p++) {
		if (*p < '0' || *p > '9')
			break;
		v = v * 10 + (*p - '0');
	}
	if (n->name[0] == '\0' || *p != '\0' || v > INT_MAX) {
		err(w, n, "level \"%s\" is not a number", n->name);
		return -1;
	}
	return (int)v;
}

static void
walk_levels(struct walk *w, const struct sl_node *lv, int list_form)
{
	struct sl_conf *conf = w->conf;
	struct sl_node el;
	size_t i, j, n = length(lv);
	int level;

	conf->levels = sl_arena_alloc(&conf->arena, n * sizeof(*conf->levels));
	for (i = 0; i < n; i++) {
		nth(lv, i, &el);
		if (!want(w, &el, SL_NODE_OBJECT) ||
		    (level = level_number(w, &el, list_form)) < 0)
			continue;
		for (j = 0; j < conf->nlevels; j++)
			if (conf->levels[j].level == level)
				break;
		if (j < conf->nlevels) {
			err(w, &el, "level %d is defined twice", level);
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

	if (!get(root, "policy", &p) || !want(w, &p, SL_NODE_OBJECT))
		return;
	check_fields(w, &p, known, unsup);
	if (!get(&p, "levels", &lv))
		return;
	/* libconfig group names cannot be digits: see conf_cfg.c. */
	if (kind(&lv) == SL_NODE_ARRAY && !lv.ops->json)
		walk_levels(w, &lv, 1);
	else if (want(w, &lv, SL_NODE_OBJECT))
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

	if (!get(obj, "flow", &n))
		return 0;
	if (!str_of(w, &n, &s))
		return -1;
	if (s[0] != '\0' && strcmp(s, FLOW_VISION) != 0) {
		err(w, &n, "unsupported value \"%s\" (only \"" FLOW_VISION
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

	if (!get(obj, "id", &n)) {
		missing(w, obj, "id", NULL);
		return;
	}
	if (!str_of(w, &n, &s))
		return;
	len = strlen(s);
	if (sl_uuid_parse(s, c->uuid) == 0)
		c->id = s;
	else if (len == 0)
		err(w, &n, "must not be empty");
	else if (len >= 32 && len <= 36)
		err(w, &n, "\"%s\" is not a valid UUID", s);
	else
		err(w, &n, "\"%s\" is neither a UUID (32-36 hex digits) nor "
		    "a name of at most 30 bytes", s);
}

static void
walk_vless_client(struct walk *w, const struct sl_node *n,
    struct sl_conf_client *c, const char *dflt_flow)
{
	static const char *const known[] = { "id", "email", "level", "flow",
	    "encryption", NULL };
	static const char *const unsup[] = { "reverse", "testseed", NULL };
	struct sl_node enc;

	check_fields(w, n, known, unsup);
	walk_vless_id(w, n, c);
	if (flow_of(w, n, &c->flow) <= 0 || c->flow[0] == '\0')
		c->flow = dflt_flow;
	/* Xray: "encryption" is a client-side (outbound) setting. */
	if (get(n, "encryption", &enc) && (kind(&enc) != SL_NODE_STRING ||
	    enc.ops->string(enc.h)[0] != '\0'))
		err(w, &enc, "not allowed in inbound settings (it is for "
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

	check_fields(w, n, known, NULL);
	if ((r = opt_nonempty(w, n, "password", &c->password)) > 0)
		sl_trojan_key(c->password, c->trojan_key);
	else if (r == 0)
		missing(w, n, "password", NULL);
	if (get(n, "flow", &f) && (kind(&f) != SL_NODE_STRING ||
	    f.ops->string(f.h)[0] != '\0'))
		err(w, &f, "flow for Trojan was removed from Xray; use VLESS");
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

	where_keep(w, n, &c->where);
	c->email = "";
	c->flow = "";
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	opt_str(w, n, "email", &c->email);
	/* Xray reads the level into a byte. */
	if (opt_int(w, n, "level", 0, 255, &v) > 0)
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
	int have_c = get(s, "clients", &arr), have_u = get(s, "users", &users);
	struct client_ctx cc = { in, dflt_flow };

	if (have_c && have_u)
		err(w, &users, "give \"clients\" or \"users\", not both");
	if (!have_c) {
		if (!have_u)
			return;
		arr = users;
	}
	if (!want(w, &arr, SL_NODE_ARRAY))
		return;
	in->clients = walk_each(w, &arr, sizeof(*in->clients), &in->nclients,
	    walk_client, &cc);
}

/* ------------------------------------------------------------------ */
/* inbounds: fallbacks (Xray infra/conf/vless.go, trojan.go)           */

/* Go's net.SplitHostPort, then a port 1-65535. */
static int
split_host_port(const char *s, const char **why)
{
	const char *colon, *port;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL) {
			*why = "missing ']'";
			return -1;
		}
		if (rb[1] != ':') {
			*why = "missing port";
			return -1;
		}
		port = rb + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "missing port";
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			*why = "too many colons (write IPv6 as [addr]:port)";
			return -1;
		}
		if (strpbrk(s, "[]") != NULL) {
			*why = "unexpected bracket";
			return -1;
		}
		port = colon + 1;
	}
	if (parse_port(port) < 1) {
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
			err(w, d, "too long for a unix socket address (max %d "
			    "bytes)", SUN_PATH_MAX);
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
		err(w, d, "too long for a unix socket address (max %d bytes)",
		    dest[0] == '@' ? SUN_PATH_MAX : SUN_PATH_MAX - 1);
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
		err(w, d, "unsupported value \"serve-ws-none\" (a v2fly "
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
	if (split_host_port(hp, &why) != 0) {
		err(w, d, "\"%s\" is not a valid dest: %s (expected a port, "
		    "host:port, an absolute path or @name)", dest, why);
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
			err(w, d, "\"%s\" is not a unix socket address (an "
			    "absolute path or @name)", dest);
		else
			unix_dest(w, d, fb, dest, 0);
		return;
	}
	if (split_host_port(dest, &why) != 0) {
		err(w, d, "\"%s\" is not host:port: %s (with an explicit "
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

	if (!get(obj, "dest", &d)) {
		missing(w, obj, "dest", NULL);
		return;
	}
	if (kind(&d) == SL_NODE_INT) {
		if ((v = d.ops->integer(d.h)) < 1 || v > 65535) {
			err(w, &d, "%" PRId64 " is not a port (1-65535)", v);
			return;
		}
		snprintf(num, sizeof(num), "%d", (int)v);
		dest = num;
	} else if (kind(&d) == SL_NODE_STRING) {
		dest = d.ops->string(d.h);
	} else {
		err(w, &d, "must be a port number or a string, not %s",
		    kind_name(&d, kind(&d)));
		return;
	}
	if (dest[0] == '\0') {
		err(w, &d, "must not be empty");
		return;
	}
	if (get(obj, "type", &t) && !str_of(w, &t, &type))
		return;
	if (type[0] == '\0')
		dest_infer(w, &d, fb, dest);
	else if (!in_list(types, type))
		err(w, &t, "unsupported value \"%s\" (tcp, tcp4, tcp6 or unix)",
		    type);
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
	where_keep(w, n, &fb->where);
	fb->name = fb->alpn = fb->path = "";
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	check_fields(w, n, known, NULL);
	/*
	 * Xray lower-cases SNI and ALPN at run time but not the config, so
	 * an upper-case value never matches there; here it does.
	 */
	if (opt_str(w, n, "name", &fb->name) > 0)
		lower((char *)(uintptr_t)fb->name);
	if (opt_str(w, n, "alpn", &fb->alpn) > 0)
		lower((char *)(uintptr_t)fb->alpn);
	if (opt_str(w, n, "path", &fb->path) > 0 && fb->path[0] != '\0' &&
	    fb->path[0] != '/') {
		get(n, "path", &p);
		err(w, &p, "path must be empty or start with / (got \"%s\")",
		    fb->path);
	}
	if (get(n, "xver", &p) && want(w, &p, SL_NODE_INT)) {
		if ((v = p.ops->integer(p.h)) < 0 || v > 2)
			err(w, &p, "xver %" PRId64 " is not 0, 1 or 2", v);
		else
			fb->xver = (int)v;
	}
	walk_dest(w, n, fb);
}

static void
walk_fallbacks(struct walk *w, const struct sl_node *arr,
    struct sl_conf_inbound *in)
{
	if (!want(w, arr, SL_NODE_ARRAY))
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

	if (present(s) && !want(w, s, SL_NODE_OBJECT))
		return;
	check_fields(w, s, known, unsup);
	flow_of(w, s, &flow);
	walk_clients(w, s, in, flow);
	if (!get(s, "decryption", &n))
		missing(w, s, "decryption", "required field is missing (set "
		    "\"decryption\": \"none\")");
	else if (str_of(w, &n, &in->decryption) &&
	    strcmp(in->decryption, "none") != 0)
		err(w, &n, "unsupported value \"%s\" (only \"none\")",
		    in->decryption);
	if (!get(s, "fallbacks", &n))
		return;
	if (in->decryption != NULL && strcmp(in->decryption, "none") != 0)
		err(w, &n, "fallbacks can not be used together with "
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

	if (present(s) && !want(w, s, SL_NODE_OBJECT))
		return;
	check_fields(w, s, known, NULL);
	walk_clients(w, s, in, "");
	if (get(s, "fallbacks", &n))
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
	static const struct name_val htypes[] = { { "none", 0 }, { "", 0 },
	    { NULL, 0 } };
	static const char *const hxray[] = { "http", NULL };
	struct sl_node t, h;
	int b, v;

	if (!get(s, name, &t) || !want(w, &t, SL_NODE_OBJECT))
		return;
	check_fields(w, &t, known, NULL);
	if (opt_bool(w, &t, "acceptProxyProtocol", &b) > 0 && b)
		in->accept_proxy_protocol = 1;
	if (!get(&t, "header", &h) || !want(w, &h, SL_NODE_OBJECT))
		return;
	check_fields(w, &h, hknown, hunsup);
	opt_enum(w, &h, "type", htypes, hxray, "none", &v);
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

	if (!get(s, "sockopt", &n) || !want(w, &n, SL_NODE_OBJECT))
		return;
	check_fields(w, &n, known, unsup);
	if (opt_bool(w, &n, "acceptProxyProtocol", &b) > 0 && b)
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

	if (!get(obj, name, &n)) {
		/* The inline form is already refused as unsupported. */
		if (!get(obj, inline_name, &alt))
			missing(w, obj, name, NULL);
		return NULL;
	}
	if (opt_nonempty(w, obj, name, &path) <= 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err(w, &n, "cannot read \"%s\": %s", path, strerror(errno));
		return path;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
		err(w, &n, "\"%s\" is not a regular file", path);
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
	static const struct name_val usages[] = { { "encipherment", 0 },
	    { "", 0 }, { NULL, 0 } };
	static const char *const xusages[] = { "verify", "issue", NULL };
	int v;
	struct sl_conf_cert *c = elem;

	(void)ctx;
	where_keep(w, n, &c->where);
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	check_fields(w, n, known, unsup);
	opt_enum(w, n, "usage", usages, xusages, "encipherment", &v);
	c->certificate_file = readable_file(w, n, "certificateFile",
	    "certificate");
	c->key_file = readable_file(w, n, "keyFile", "key");
}

static void
alpn_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct vec *v = arg;

	if (s[0] == '\0' || strlen(s) > 255)
		err(w, at, "\"%s\" is not an ALPN protocol name (1-255 bytes)",
		    s);
	else
		*(const char **)vec_push(w, v) = sl_arena_strdup(
		    &w->conf->arena, s);
}

static const struct name_val tls_versions[] = {
	{ "1.0", SL_TLS_10 }, { "1.1", SL_TLS_11 }, { "1.2", SL_TLS_12 },
	{ "1.3", SL_TLS_13 }, { "", SL_TLS_ANY }, { NULL, 0 }
};

static void
walk_tls_versions(struct walk *w, const struct sl_node *tls,
    struct sl_conf_inbound *in)
{
	struct sl_node n;
	int v;

	if (opt_enum(w, tls, "minVersion", tls_versions, NULL,
	    "1.0, 1.1, 1.2 or 1.3", &v) > 0)
		in->min_version = (enum sl_tls_version)v;
	if (opt_enum(w, tls, "maxVersion", tls_versions, NULL,
	    "1.0, 1.1, 1.2 or 1.3", &v) > 0)
		in->max_version = (enum sl_tls_version)v;
	if (in->min_version != SL_TLS_ANY && in->max_version != SL_TLS_ANY &&
	    in->min_version > in->max_version) {
		get(tls, "maxVersion", &n);
		err(w, &n, "is below minVersion");
	}
}

static void
walk_tls(struct walk *w, const struct sl_node *tls, struct sl_conf_inbound *in)
{
	static const char *const known[] = { "certificates", "alpn",
	    "minVersion", "maxVersion", "serverName", "rejectUnknownSni",
	    NULL };
	static const char *const unsup[] = { "allowInsecure",
	    "enableSessionResumption", "disableSystemRoot", "cipherSuites",
	    "fingerprint", "curvePreferences", "masterKeyLog",
	    "pinnedPeerCertSha256", "pinnedPeerCertificateChainSha256",
	    "pinnedPeerCertificatePublicKeySha256", "verifyPeerCertByName",
	    "verifyPeerCertInNames", "echServerKeys", "echConfigList",
	    "echForceQuery", "echSockopt", "preferServerCipherSuites", NULL };
	struct vec alpn = { .sz = sizeof(const char *) };
	struct sl_node certs, el;

	if (present(tls) && !want(w, tls, SL_NODE_OBJECT))
		return;
	check_fields(w, tls, known, unsup);
	if (!get(tls, "certificates", &certs) || (kind(&certs) ==
	    SL_NODE_ARRAY && length(&certs) == 0))
		err(w, &certs, "security \"tls\" needs at least one "
		    "certificate");
	else if (want(w, &certs, SL_NODE_ARRAY))
		in->certs = walk_each(w, &certs, sizeof(*in->certs),
		    &in->ncerts, walk_cert, NULL);
	if (get(tls, "alpn", &el)) {
		string_list(w, &el, alpn_item, &alpn);
		in->alpn = alpn.p;
		in->nalpn = alpn.n;
	}
	walk_tls_versions(w, tls, in);
	opt_str(w, tls, "serverName", &in->server_name);
	opt_bool(w, tls, "rejectUnknownSni", &in->reject_unknown_sni);
}

static const struct name_val networks[] = {
	{ "tcp", 0 }, { "raw", 0 }, { "", 0 }, { NULL, 0 }
};
static const char *const xray_networks[] = { "kcp", "mkcp", "ws",
	"websocket", "http", "h2", "h3", "quic", "grpc", "gun", "httpupgrade",
	"splithttp", "xhttp", "hysteria", "domainsocket", "ds", NULL };
static const struct name_val securities[] = {
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

	if (!get(inb, "streamSettings", &s) || !want(w, &s, SL_NODE_OBJECT))
		return;
	check_fields(w, &s, known, unsup);
	opt_enum(w, &s, "network", networks, xray_networks, "tcp or raw", &v);
	if (opt_enum(w, &s, "security", securities, xray_securities,
	    "none or tls", &v) > 0)
		in->security = (enum sl_security)v;
	if (get(&s, "tlsSettings", &tls) && in->security != SL_SEC_TLS)
		err(w, &tls, "given, but \"security\" is not \"tls\"");
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

	if (!get(obj, "listen", &n) || !str_of(w, &n, &s) || s[0] == '\0')
		return;
	if (s[0] == '/' || s[0] == '@') {
		err(w, &n, "\"%s\": listening on a unix socket is not "
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
	err(w, &n, "\"%s\" is not an IP address (host names are not "
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

	if (!get(obj, "port", &n)) {
		missing(w, obj, "port", NULL);
		return;
	}
	if (kind(&n) == SL_NODE_INT) {
		if ((v = n.ops->integer(n.h)) < 1 || v > 65535)
			err(w, &n, "%" PRId64 " is not a port (1-65535)", v);
		else
			in->port = (int)v;
		return;
	}
	if (kind(&n) != SL_NODE_STRING) {
		err(w, &n, "must be a port number or a string, not %s",
		    kind_name(&n, kind(&n)));
		return;
	}
	s = n.ops->string(n.h);
	if (strncmp(s, "env:", 4) == 0) {
		err(w, &n, "\"%s\": env: ports are not supported", s);
		return;
	}
	if (strpbrk(s, "-,") != NULL) {
		err(w, &n, "\"%s\": port ranges are not supported (one port "
		    "per inbound)", s);
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
		if ((in->port = parse_port(buf)) >= 1)
			return;
	}
	in->port = 0;
	err(w, &n, "\"%s\" is not a port (1-65535)", n.ops->string(n.h));
}

static const struct name_val in_protocols[] = {
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
	    "protocol", "settings", "streamSettings", NULL };
	static const char *const unsup[] = { "sniffing", "allocate", NULL };
	struct sl_node s;
	int v = 0;
	struct sl_conf_inbound *in = elem;

	(void)ctx;
	where_keep(w, n, &in->where);
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	check_fields(w, n, known, unsup);
	opt_str(w, n, "tag", &in->tag);
	walk_listen(w, n, in);
	walk_in_port(w, n, in);
	if (opt_enum(w, n, "protocol", in_protocols, xray_in_protocols,
	    "vless or trojan", &v) == 0)
		missing(w, n, "protocol", NULL);
	in->protocol = (enum sl_proto_in)v;
	get(n, "settings", &s);
	if (in->protocol == SL_IN_VLESS)
		walk_vless(w, &s, in);
	else if (in->protocol == SL_IN_TROJAN)
		walk_trojan(w, &s, in);
	walk_stream(w, n, in);
}

static void
walk_inbounds(struct walk *w, const struct sl_node *root)
{
	struct sl_conf *conf = w->conf;
	struct sl_node arr;

	if (!get(root, "inbounds", &arr) || !want(w, &arr, SL_NODE_ARRAY))
		return;
	conf->inbounds = walk_each(w, &arr, sizeof(*conf->inbounds),
	    &conf->ninbounds, walk_inbound, NULL);
}

/* ------------------------------------------------------------------ */
/* outbounds: freedom finalRules                                       */

static void
network_item(struct walk *w, const struct sl_node *at, const char *s,
    void *arg)
{
	struct sl_conf_final_rule *r = arg;

	/* Xray lower-cases but does not trim network names. */
	if (strcasecmp(s, "tcp") == 0)
		r->networks |= SL_NET_TCP;
	else if (strcasecmp(s, "udp") == 0)
		r->networks |= SL_NET_UDP;
	else if (strcasecmp(s, "unix") == 0)
		err(w, at, "unsupported value \"%s\" (tcp or udp)", s);
	else
		err(w, at, "unknown network \"%s\" (tcp or udp)", s);
}

/* One item of a PortList string: "443" or "1000-2000". */
static int
port_item(const char *s, struct sl_conf_port_range *r)
{
	char buf[16];
	const char *dash = strchr(s, '-');
	int a, b;

	if (dash == NULL) {
		a = b = parse_port(s);
	} else {
		if ((size_t)(dash - s) >= sizeof(buf))
			return -1;
		memcpy(buf, s, (size_t)(dash - s));
		buf[dash - s] = '\0';
		a = parse_port(buf);
		b = parse_port(dash + 1);
	}
	if (a < 1 || b < 1 || a > b)
		return -1;
	r->from = (uint16_t)a;
	r->to = (uint16_t)b;
	return 0;
}

/* Xray PortList: a number, or "53,443,1000-2000" (items trimmed). */
static void
walk_port_list(struct walk *w, const struct sl_node *n,
    struct sl_conf_final_rule *r)
{
	struct vec v = { .sz = sizeof(struct sl_conf_port_range) };
	struct sl_conf_port_range pr;
	char *copy, *item, *next, *end;
	int64_t num;

	if (kind(n) == SL_NODE_INT) {
		if ((num = n->ops->integer(n->h)) < 1 || num > 65535) {
			err(w, n, "%" PRId64 " is not a port (1-65535)", num);
			return;
		}
		pr.from = pr.to = (uint16_t)num;
		*(struct sl_conf_port_range *)vec_push(w, &v) = pr;
	} else if (want(w, n, SL_NODE_STRING)) {
		copy = sl_arena_strdup(&w->conf->arena, n->ops->string(n->h));
		for (item = copy; item != NULL; item = next) {
			if ((next = strchr(item, ',')) != NULL)
				*next++ = '\0';
			while (*item == ' ' || *item == '\t')
				item++;
			end = item + strlen(item);
			while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (*item == '\0')
				continue;
			if (strncmp(item, "env:", 4) == 0)
				err(w, n, "\"%s\": env: ports are not "
				    "supported", item);
			else if (port_item(item, &pr) != 0)
				err(w, n, "\"%s\" is not a port or a range "
				    "a-b of ports (1-65535)", item);
			else
				*(struct sl_conf_port_range *)vec_push(w,
				    &v) = pr;
		}
	}
	r->ports = v.p;
	r->nports = v.n;
}

static void
push_cidr(struct walk *w, struct vec *v, const struct sl_cidr *c)
{
	struct sl_conf_cidr *o = vec_push(w, v);

	o->family = c->family;
	memcpy(o->addr, c->addr, sizeof(o->addr));
	o->prefix = c->prefix;
}

static void
ip_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct vec *v = arg;
	struct sl_cidr c;
	size_t i;

	if (s[0] == '!') {
		err(w, at, "\"%s\": negated IP rules are not supported yet", s);
	} else if (strncmp(s, "geoip:", 6) == 0) {
		if (strcasecmp(s + 6, "private") != 0) {
			err(w, at, "unsupported value \"%s\" (geoip.dat is "
			    "not supported yet; only geoip:private)", s);
			return;
		}
		for (i = 0; sl_private_cidrs[i] != NULL; i++)
			if (sl_cidr_parse(sl_private_cidrs[i], &c) == 0)
				push_cidr(w, v, &c);
	} else if (strncmp(s, "ext:", 4) == 0 || strncmp(s, "ext-ip:", 7) == 0) {
		err(w, at, "unsupported value \"%s\" (geodata files are not "
		    "supported yet)", s);
	} else if (sl_cidr_parse(s, &c) != 0) {
		err(w, at, "\"%s\" is not an IP address or CIDR", s);
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

	if (kind(n) == SL_NODE_INT) {
		if ((v = n->ops->integer(n->h)) < 0 || v > INT32_MAX) {
			err(w, n, "%" PRId64 " is out of range (0-%d)", v,
			    INT32_MAX);
			return;
		}
		r->block_delay_min = r->block_delay_max = (uint32_t)v;
	} else if (kind(n) != SL_NODE_STRING ||
	    parse_range(n->ops->string(n->h), &r->block_delay_min,
	    &r->block_delay_max) != 0) {
		err(w, n, "must be seconds as \"min-max\" or a number");
		return;
	}
	r->has_block_delay = 1;
}

static const struct name_val actions[] = {
	{ "allow", SL_FINAL_ALLOW }, { "block", SL_FINAL_BLOCK }, { NULL, 0 }
};

static void
walk_final_rule(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "action", "network", "port",
	    "ip", "blockDelay", NULL };
	struct vec ips = { .sz = sizeof(struct sl_conf_cidr) };
	struct sl_node f;
	int v;
	struct sl_conf_final_rule *r = elem;

	(void)ctx;
	where_keep(w, n, &r->where);
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	check_fields(w, n, known, NULL);
	if (opt_enum(w, n, "action", actions, NULL, "allow or block", &v) == 0)
		missing(w, n, "action", NULL);
	r->action = (enum sl_final_action)v;
	if (get(n, "network", &f))
		string_list(w, &f, network_item, r);
	if (get(n, "port", &f))
		walk_port_list(w, &f, r);
	if (get(n, "ip", &f)) {
		string_list(w, &f, ip_item, &ips);
		r->ips = ips.p;
		r->nips = ips.n;
	}
	if (get(n, "blockDelay", &f))
		walk_block_delay(w, &f, r);
}

/* ------------------------------------------------------------------ */
/* outbounds                                                           */

static const struct name_val strategies[] = {
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

	if (!present(s) || !want(w, s, SL_NODE_OBJECT))
		return;
	check_fields(w, s, known, unsup);
	opt_enum(w, s, "targetStrategy", strategies, xray_strategies, "AsIs",
	    &e);
	opt_enum(w, s, "domainStrategy", strategies, xray_strategies, "AsIs",
	    &e);
	if (opt_int(w, s, "userLevel", 0, INT_MAX, &v) > 0)
		out->user_level = (int)v;
	if (!get(s, "finalRules", &arr) || !want(w, &arr, SL_NODE_ARRAY))
		return;
	out->final_rules = walk_each(w, &arr, sizeof(*out->final_rules),
	    &out->nfinal_rules, walk_final_rule, NULL);
}

static const struct name_val responses[] = {
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

	if (!present(s) || !want(w, s, SL_NODE_OBJECT))
		return;
	check_fields(w, s, known, NULL);
	if (!get(s, "response", &r) || !want(w, &r, SL_NODE_OBJECT))
		return;
	check_fields(w, &r, rknown, NULL);
	if (opt_enum(w, &r, "type", responses, NULL, "none or http", &v) > 0)
		out->blackhole_http = v;
}

static const struct name_val out_protocols[] = {
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
	where_keep(w, n, &out->where);
	out->tag = "";
	if (!want(w, n, SL_NODE_OBJECT))
		return;
	check_fields(w, n, known, unsup);
	opt_str(w, n, "tag", &out->tag);
	for (p = empty_only; *p != NULL; p++)
		if (get(n, *p, &s) && !is_empty(&s))
			err(w, &s, "unsupported field (not implemented yet)");
	if (opt_enum(w, n, "protocol", out_protocols, xray_out_protocols,
	    "freedom or blackhole", &v) == 0)
		missing(w, n, "protocol", NULL);
	out->protocol = (enum sl_proto_out)v;
	get(n, "settings", &s);
	if (out->protocol == SL_OUT_FREEDOM)
		walk_freedom(w, &s, out);
	else if (out->protocol == SL_OUT_BLACKHOLE)
		walk_blackhole(w, &s, out);
}

static void
walk_outbounds(struct walk *w, const struct sl_node *root)
{
	struct sl_conf *conf = w->conf;
	struct sl_node arr;

	if (!get(root, "outbounds", &arr)) {
		missing(w, root, "outbounds",
		    "at least one outbound is required");
		return;
	}
	if (!want(w, &arr, SL_NODE_ARRAY))
		return;
	if (length(&arr) == 0) {
		err(w, &arr, "at least one outbound is required");
		return;
	}
	conf->outbounds = walk_each(w, &arr, sizeof(*conf->outbounds),
	    &conf->noutbounds, walk_outbound, NULL);
}

/* ------------------------------------------------------------------ */

int
sl_conf_walk(struct sl_conf *conf, const struct sl_node *root,
    struct sl_errors *errs)
{
	static const char *const known[] = { "log", "inbounds", "outbounds",
	    "policy", "sluice", NULL };
	static const char *const unsup[] = { "routing", "dns", "api",
	    "metrics", "stats", "reverse", "fakeDns", "fakedns", "transport",
	    "observatory", "burstObservatory", "version", "geodata", "env",
	    NULL };
	struct walk w = { conf, errs, 0 };

	if (!want(&w, root, SL_NODE_OBJECT))
		return w.nerr;
	check_fields(&w, root, known, unsup);
	walk_log(&w, root);
	walk_inbounds(&w, root);
	walk_outbounds(&w, root);
	walk_policy(&w, root);
	walk_sluice(&w, root);
	return w.nerr;
}
