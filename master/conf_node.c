/*
 * conf_node: the walker's primitives, shared by every schema file.
 *
 * Owns node access over a front end's tree (struct sl_node_ops), the
 * formatting of error locations ("file:line: a.[0].b" for libconfig,
 * "file: $.a[0].b" for JSON), the typed readers for optional members,
 * Xray's list forms (StringList, PortList, NetworkList), Go durations and
 * the located report of invalid regular expressions (sl_rx_valid).
 * Everything it allocates lives in the model's arena.  Declared in
 * conf_walk.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "shm/regex.h"

#define PATHBUF		512

/* ------------------------------------------------------------------ */
/* Nodes, paths, errors                                                */

enum sl_node_kind
walk_kind(const struct sl_node *n)
{
	return n->h == NULL ? SL_NODE_NULL : n->ops->kind(n->h);
}

int
walk_present(const struct sl_node *n)
{
	return walk_kind(n) != SL_NODE_NULL;
}

size_t
walk_length(const struct sl_node *n)
{
	enum sl_node_kind k = walk_kind(n);

	if (k != SL_NODE_OBJECT && k != SL_NODE_ARRAY)
		return 0;
	return n->ops->length(n->h);
}

/* Member NAME of OBJ into OUT; whether it is present and not null. */
int
walk_get(const struct sl_node *obj, const char *name, struct sl_node *out)
{
	out->ops = obj->ops;
	out->parent = obj;
	out->name = name;
	out->index = 0;
	out->h = NULL;
	if (walk_kind(obj) == SL_NODE_OBJECT)
		out->h = obj->ops->member(obj->h, name);
	return walk_present(out);
}

/* I-th member of an object or element of an array. */
void
walk_nth(const struct sl_node *agg, size_t i, struct sl_node *out)
{
	out->ops = agg->ops;
	out->parent = agg;
	out->name = NULL;
	out->index = i;
	out->h = agg->ops->child(agg->h, i, &out->name);
}

/* An array of objects becomes an arena array of model records, each
 * filled by fn.  The caller has checked that arr is an array. */
void *
walk_each(struct walk *w, const struct sl_node *arr, size_t size,
    size_t *count, walk_elem_fn *fn, const void *ctx)
{
	size_t n = walk_length(arr);
	char *v = sl_arena_alloc(&w->conf->arena, n * size);
	struct sl_node el;

	for (size_t i = 0; i < n; i++) {
		walk_nth(arr, i, &el);
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

void
walk_err(struct walk *w, const struct sl_node *n, const char *fmt, ...)
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
void
walk_missing(struct walk *w, const struct sl_node *obj, const char *name,
    const char *msg)
{
	struct sl_node n;

	walk_get(obj, name, &n);
	walk_err(w, &n, "%s", msg != NULL ? msg : "required field is missing");
}

/* Remember where an object came from, for later checks and the compiler. */
void
walk_where(struct walk *w, const struct sl_node *n, struct sl_where *out)
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

const char *
walk_kind_name(const struct sl_node *n, enum sl_node_kind k)
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
int
walk_want(struct walk *w, const struct sl_node *n, enum sl_node_kind k)
{
	if (walk_kind(n) == k)
		return 1;
	walk_err(w, n, "must be %s, not %s", walk_kind_name(n, k),
	    walk_kind_name(n, walk_kind(n)));
	return 0;
}

int
walk_in_list(const char *const *list, const char *s)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int
walk_lookup(const struct walk_name *t, const char *s, int *out)
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
void
walk_check_fields(struct walk *w, const struct sl_node *obj,
    const char *const *known, const char *const *unsup)
{
	struct sl_node m;
	size_t i, n = walk_length(obj);

	if (walk_kind(obj) != SL_NODE_OBJECT)
		return;
	for (i = 0; i < n; i++) {
		walk_nth(obj, i, &m);
		if (walk_in_list(known, m.name))
			continue;
		if (!walk_in_list(unsup, m.name))
			walk_err(w, &m, "unknown field");
		else if (walk_present(&m) && !(walk_kind(&m) == SL_NODE_BOOL &&
		    !m.ops->boolean(m.h)))
			walk_err(w, &m, "unsupported field (not implemented "
			    "yet)");
	}
}

/* An empty object or array: the same as leaving the field out. */
int
walk_is_empty(const struct sl_node *n)
{
	return !walk_present(n) || ((walk_kind(n) == SL_NODE_OBJECT ||
	    walk_kind(n) == SL_NODE_ARRAY) && walk_length(n) == 0);
}

void *
walk_vec_push(struct walk *w, struct walk_vec *v)
{
	v->p = sl_arena_room(&w->conf->arena, v->p, v->n, &v->cap, v->sz);
	return (char *)v->p + v->sz * v->n++;
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */

/* String value of N copied into the arena; 0 and reported if not one. */
int
walk_str(struct walk *w, const struct sl_node *n, const char **out)
{
	if (!walk_want(w, n, SL_NODE_STRING))
		return 0;
	*out = sl_arena_strdup(&w->conf->arena, n->ops->string(n->h));
	return 1;
}

/* Optional members: 1 stored, 0 absent, -1 wrong (reported). */
int
walk_opt_str(struct walk *w, const struct sl_node *obj, const char *name,
    const char **out)
{
	struct sl_node n;

	if (!walk_get(obj, name, &n))
		return 0;
	return walk_str(w, &n, out) ? 1 : -1;
}

/* Like opt_str, refusing "". */
int
walk_opt_nonempty(struct walk *w, const struct sl_node *obj, const char *name,
    const char **out)
{
	struct sl_node n;
	const char *s;

	if (!walk_get(obj, name, &n))
		return 0;
	if (!walk_str(w, &n, &s))
		return -1;
	if (s[0] == '\0') {
		walk_err(w, &n, "must not be empty");
		return -1;
	}
	*out = s;
	return 1;
}

int
walk_opt_int(struct walk *w, const struct sl_node *obj, const char *name,
    int64_t min, int64_t max, int64_t *out)
{
	struct sl_node n;
	int64_t v;

	if (!walk_get(obj, name, &n))
		return 0;
	if (!walk_want(w, &n, SL_NODE_INT))
		return -1;
	v = n.ops->integer(n.h);
	if (v < min || v > max) {
		walk_err(w, &n, "%" PRId64 " is out of range (%" PRId64 "-%"
		    PRId64 ")", v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

int
walk_opt_bool(struct walk *w, const struct sl_node *obj, const char *name,
    int *out)
{
	struct sl_node n;

	if (!walk_get(obj, name, &n))
		return 0;
	if (!walk_want(w, &n, SL_NODE_BOOL))
		return -1;
	*out = n.ops->boolean(n.h) != 0;
	return 1;
}

/* Member NAME as one of the names in T (case-insensitive, like Xray). */
int
walk_opt_enum(struct walk *w, const struct sl_node *obj, const char *name,
    const struct walk_name *t, const char *const *unsup, const char *expect,
    int *out)
{
	struct sl_node n;
	const char *s;

	if (!walk_get(obj, name, &n))
		return 0;
	if (!walk_str(w, &n, &s))
		return -1;
	if (walk_lookup(t, s, out))
		return 1;
	if (unsup != NULL) {
		const char *const *u;

		for (u = unsup; *u != NULL; u++)
			if (strcasecmp(*u, s) == 0) {
				walk_err(w, &n, "unsupported value \"%s\" (not "
				    "implemented yet; supported: %s)", s,
				    expect);
				return -1;
			}
	}
	walk_err(w, &n, "unknown value \"%s\" (expected %s)", s, expect);
	return -1;
}

char *
walk_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* Decimal digits only (Go's ParseUint), 0-65535; -1 otherwise. */
int
walk_parse_port(const char *s)
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

/*
 * Go's net.SplitHostPort: "host:port", "[v6]:port" or ":port".  HOST
 * (HOSTLEN bytes, no NUL) and PORT point into S; -1 with the reason in
 * *WHY.
 */
int
walk_split_host_port(const char *s, const char **host, size_t *hostlen,
    const char **port, const char **why)
{
	const char *colon;

	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL) {
			*why = "missing ']'";
			return -1;
		}
		if (colon[1] != ':') {
			*why = "missing port";
			return -1;
		}
		*host = s + 1;
		*hostlen = (size_t)(colon - s - 1);
		if (memchr(*host, '[', *hostlen) != NULL) {
			*why = "unexpected bracket";
			return -1;
		}
		*port = colon + 2;
		return 0;
	}
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
	*host = s;
	*hostlen = (size_t)(colon - s);
	*port = colon + 1;
	return 0;
}

/*
 * Xray StringList: an array of strings, or one string split on ','
 * (items not trimmed).  FN gets each item with the node to blame.
 */
void
walk_string_list(struct walk *w, const struct sl_node *n, walk_item_fn *fn,
    void *arg)
{
	struct sl_node el;
	size_t i, len;

	if (walk_kind(n) == SL_NODE_STRING) {
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
	if (walk_kind(n) != SL_NODE_ARRAY) {
		walk_err(w, n, "must be a string or %s of strings, not %s",
		    walk_kind_name(n, SL_NODE_ARRAY),
		    walk_kind_name(n, walk_kind(n)));
		return;
	}
	len = walk_length(n);
	for (i = 0; i < len; i++) {
		walk_nth(n, i, &el);
		if (walk_want(w, &el, SL_NODE_STRING))
			fn(w, &el, el.ops->string(el.h), arg);
	}
}


/* ------------------------------------------------------------------ */
/* PortList, NetworkList                                               */

/* One item of a PortList string: "443" or "1000-2000". */
static int
port_item(const char *s, int min, struct sl_conf_port_range *r)
{
	char buf[16];
	const char *dash = strchr(s, '-');
	int a, b;

	if (dash == NULL) {
		a = b = walk_parse_port(s);
	} else {
		if ((size_t)(dash - s) >= sizeof(buf))
			return -1;
		memcpy(buf, s, (size_t)(dash - s));
		buf[dash - s] = '\0';
		a = walk_parse_port(buf);
		b = walk_parse_port(dash + 1);
	}
	if (a < min || b < min || a > b)
		return -1;
	r->from = (uint16_t)a;
	r->to = (uint16_t)b;
	return 0;
}

/* Items of a PortList string, trimmed; empty items are skipped (Xray). */
static void
port_string(struct walk *w, const struct sl_node *n, int min,
    struct walk_vec *v)
{
	struct sl_conf_port_range pr;
	char *copy, *item, *next, *end;

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
			walk_err(w, n, "\"%s\": env: ports are not supported",
			    item);
		else if (port_item(item, min, &pr) != 0)
			walk_err(w, n, "\"%s\" is not a port or a range a-b of "
			    "ports (%d-65535)", item, min);
		else
			*(struct sl_conf_port_range *)walk_vec_push(w, v) = pr;
	}
}

void
walk_port_list(struct walk *w, const struct sl_node *n, int min,
    struct sl_conf_port_range **out, size_t *nout)
{
	struct walk_vec v = { .sz = sizeof(struct sl_conf_port_range) };
	struct sl_conf_port_range pr;
	int64_t num;

	if (walk_kind(n) == SL_NODE_INT) {
		if ((num = n->ops->integer(n->h)) < min || num > 65535) {
			walk_err(w, n, "%" PRId64 " is not a port (%d-65535)",
			    num, min);
			return;
		}
		pr.from = pr.to = (uint16_t)num;
		*(struct sl_conf_port_range *)walk_vec_push(w, &v) = pr;
	} else if (walk_want(w, n, SL_NODE_STRING)) {
		port_string(w, n, min, &v);
	}
	*out = v.p;
	*nout = v.n;
}

static const struct walk_name net_names[] = {
	{ "tcp", SL_NET_TCP }, { "udp", SL_NET_UDP }, { "unix", SL_NET_UNIX },
	{ NULL, 0 }
};

struct net_ctx {
	unsigned	 allowed;
	unsigned	*bits;
};

static void
network_item(struct walk *w, const struct sl_node *at, const char *s,
    void *arg)
{
	const struct net_ctx *nc = arg;
	const char *expect = nc->allowed & SL_NET_UNIX ? "tcp, udp or unix" :
	    "tcp or udp";
	int v;

	/* Xray lower-cases but does not trim network names. */
	if (!walk_lookup(net_names, s, &v))
		walk_err(w, at, "unknown network \"%s\" (%s)", s, expect);
	else if (((unsigned)v & nc->allowed) == 0)
		walk_err(w, at, "unsupported value \"%s\" (%s)", s, expect);
	else
		*nc->bits |= (unsigned)v;
}

void
walk_network_list(struct walk *w, const struct sl_node *n, unsigned allowed,
    unsigned *bits)
{
	struct net_ctx nc = { allowed, bits };

	walk_string_list(w, n, network_item, &nc);
}

/* ------------------------------------------------------------------ */
/* Numbers, durations, string arrays, regular expressions              */

int
walk_opt_real(struct walk *w, const struct sl_node *obj, const char *name,
    double min, double max, double *out)
{
	struct sl_node n;
	double v;

	if (!walk_get(obj, name, &n))
		return 0;
	if (walk_kind(&n) != SL_NODE_INT && walk_kind(&n) != SL_NODE_FLOAT) {
		walk_err(w, &n, "must be a number, not %s",
		    walk_kind_name(&n, walk_kind(&n)));
		return -1;
	}
	v = n.ops->real(n.h);
	if (!(v >= min && v <= max)) {
		walk_err(w, &n, "%g is out of range (%g-%g)", v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

#define NS_MAX		((uint64_t)INT64_MAX)	/* Go's time.Duration */

static const struct {
	const char	*name;
	uint64_t	 ns;
} units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
	{ "\xce\xbcs", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	{ "m", UINT64_C(60000000000) }, { "h", UINT64_C(3600000000000) },
	{ NULL, 0 }
};

/* One "1.5h" component of a duration at *PP; its nanoseconds, -1 if bad. */
static int
duration_part(const char **pp, uint64_t *ns)
{
	const char *p = *pp, *u;
	uint64_t v = 0, scale = 1, f = 0, unit = 0;
	size_t i, len;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (v > (NS_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (scale < UINT64_C(1000000000000000000)) {
				f = f * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
	if (digits == 0)
		return -1;
	for (u = p; *p != '\0' && *p != '.' && (*p < '0' || *p > '9'); p++)
		;
	len = (size_t)(p - u);
	for (i = 0; units[i].name != NULL; i++)
		if (strlen(units[i].name) == len &&
		    memcmp(units[i].name, u, len) == 0)
			unit = units[i].ns;
	if (unit == 0 || v > NS_MAX / unit)
		return -1;
	*ns = v * unit + (uint64_t)((double)f * (double)unit / (double)scale);
	*pp = p;
	return *ns > NS_MAX ? -1 : 0;
}

/* Go's time.ParseDuration after the sign. */
static int
parse_duration(const char *s, uint64_t *ns)
{
	uint64_t part;

	*ns = 0;
	if (strcmp(s, "0") == 0)
		return 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (duration_part(&s, &part) != 0 || part > NS_MAX - *ns)
			return -1;
		*ns += part;
	}
	return 0;
}

int
walk_duration(struct walk *w, const struct sl_node *n, uint32_t *ms)
{
	const char *s;
	uint64_t ns, v;

	if (!walk_want(w, n, SL_NODE_STRING))
		return 0;
	s = n->ops->string(n->h);
	if (parse_duration(s + (s[0] == '-' || s[0] == '+'), &ns) != 0) {
		walk_err(w, n, "\"%s\" is not a duration (like \"10s\", "
		    "\"1m30s\" or \"500ms\")", s);
		return 0;
	}
	if (s[0] == '-' && ns > 0) {
		walk_err(w, n, "\"%s\": must not be negative", s);
		return 0;
	}
	/* Milliseconds, rounded up: "500us" must not become "none". */
	v = ns / 1000000 + (ns % 1000000 != 0);
	if (v > UINT32_MAX) {
		walk_err(w, n, "\"%s\" is too long (at most %" PRIu32 "ms)", s,
		    UINT32_MAX);
		return 0;
	}
	*ms = (uint32_t)v;
	return 1;
}

int
walk_opt_duration(struct walk *w, const struct sl_node *obj,
    const char *name, uint32_t *ms)
{
	struct sl_node n;

	if (!walk_get(obj, name, &n))
		return 0;
	return walk_duration(w, &n, ms) ? 1 : -1;
}

struct strings_ctx {
	struct walk_vec	 v;
	int		 empty_ok;
};

static void
strings_item(struct walk *w, const struct sl_node *at, const char *s,
    void *arg)
{
	struct strings_ctx *sc = arg;

	if (s[0] == '\0' && !sc->empty_ok) {
		walk_err(w, at, "empty item");
		return;
	}
	*(const char **)walk_vec_push(w, &sc->v) =
	    sl_arena_strdup(&w->conf->arena, s);
}

void
walk_strings(struct walk *w, const struct sl_node *n, int empty_ok,
    const char ***out, size_t *nout)
{
	struct strings_ctx sc = { { .sz = sizeof(const char *) }, empty_ok };

	walk_string_list(w, n, strings_item, &sc);
	*out = sc.v.p;
	*nout = sc.v.n;
}

/*
 * Checked by the rules the workers compile with (shm/regex.c: bytes, not
 * UTF-8; backreferences refused), so that a pattern the check accepts
 * every worker loads; here only to report errors with their location.
 */
int
walk_regex(struct walk *w, const struct sl_node *at, const char *item,
    const char *pattern)
{
	char msg[320];

	if (sl_rx_valid(pattern, strlen(pattern), msg, sizeof(msg)) == 0)
		return 1;
	walk_err(w, at, "\"%s\": invalid regular expression: %s", item, msg);
	return 0;
}
