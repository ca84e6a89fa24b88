/*
 * dlc: domain-list-community text lists -> packed GeoSiteList.
 *
 * Three passes, as the upstream tool does: load every file (rules go to
 * their own list and to each "&affiliation"), resolve includes (depth
 * first, filtering the included list's unpolished entries), then polish
 * and sort each list.  Every string and record lives in one arena freed at
 * the end; entries shared by several lists are stored once.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/arena.h"
#include "master/dlc.h"
#include "shm/types.h"
#include "master/geodat.pb-c.h"
#include "shm/regex.h"

#define MAX_DOMAIN	253
#define MAX_LABEL	63
#define MAX_DEPTH	16	/* directory nesting */

/* Rule types, numbered as on the wire (Domain.Type). */
static const char *const type_names[] = {
	"keyword", "regexp", "domain", "full"
};
enum { T_KEYWORD = 0, T_REGEXP = 1, T_DOMAIN = 2, T_FULL = 3 };

struct entry {
	int		 type;
	const char	*value;
	const char	**attrs;	/* sorted, unique */
	size_t		 nattrs;
	const char	*plain;		/* "type:value[:@a,@b]": dedup and sort key */
	Sluice__Domain	*msg;		/* made once, shared by every list */
};

struct incl {
	const char	*src;		/* upper-cased list name */
	const char	**must, **ban;
	size_t		 nmust, nban;
	const char	*file;
	int		 line;
};

enum { UNRESOLVED, RESOLVING, RESOLVED };

struct list {
	const char	*name;		/* upper-cased */
	struct entry	**entries;	/* its own rules and affiliated ones */
	size_t		 nentries, capentries;
	struct incl	*incls;
	size_t		 nincls, capincls;
	int		 state;
	struct entry	**rough;	/* entries + includes, by plain, unique */
	size_t		 nrough;
	struct entry	**final;	/* rough without redundant subdomains */
	size_t		 nfinal;
};

struct dlc {
	struct sl_arena	 arena;
	struct list	**tab;		/* open addressing by name */
	size_t		 tabcap, nlists;
	struct list	**stack;	/* lists being resolved, for messages */
	size_t		 depth, capstack;
	Sluice__Domain__Attribute **attrs; /* one message per attribute name */
	size_t		 nattrs, capattrs;
	char		*err;
	size_t		 errlen;
};

static int fail(struct dlc *, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* Format "FILE:LINE: message" (or "FILE: message" for LINE 0). */
static int
fail(struct dlc *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;
	int r;

	if (d->err == NULL || d->errlen == 0)
		return -1;
	d->err[0] = '\0';
	if (file != NULL) {
		r = line > 0 ? snprintf(d->err, d->errlen, "%s:%d: ", file, line)
		    : snprintf(d->err, d->errlen, "%s: ", file);
		n = r > 0 && (size_t)r < d->errlen ? (size_t)r : 0;
	}
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------ list table */

static struct list **
tab_slot(struct list **tab, size_t cap, const char *name)
{
	size_t i = sl_str_hash(name) & (cap - 1);

	while (tab[i] != NULL && strcmp(tab[i]->name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static struct list *
list_find(const struct dlc *d, const char *name)
{
	return d->tabcap ? *tab_slot(d->tab, d->tabcap, name) : NULL;
}

/* The list NAME (upper-cased), made on first mention. */
static struct list *
list_get(struct dlc *d, const char *name)
{
	struct list **slot, **old = d->tab;
	size_t i, oldcap = d->tabcap;

	if (d->nlists * 2 >= d->tabcap) {
		d->tabcap = oldcap ? oldcap * 2 : 1024;
		d->tab = sl_arena_alloc(&d->arena, d->tabcap * sizeof(*d->tab));
		for (i = 0; i < oldcap; i++)
			if (old[i] != NULL)
				*tab_slot(d->tab, d->tabcap, old[i]->name) =
				    old[i];
	}
	slot = tab_slot(d->tab, d->tabcap, name);
	if (*slot == NULL) {
		*slot = sl_arena_alloc(&d->arena, sizeof(**slot));
		(*slot)->name = sl_arena_strdup(&d->arena, name);
		d->nlists++;
	}
	return *slot;
}

static void
list_add(struct dlc *d, struct list *l, struct entry *e)
{
	l->entries = sl_arena_room(&d->arena, l->entries, l->nentries,
	    &l->capentries, sizeof(*l->entries));
	l->entries[l->nentries++] = e;
}

/* ------------------------------------------------------------ validation */

#define LOWER_DIGITS	"abcdefghijklmnopqrstuvwxyz0123456789"
#define UPPER_DIGITS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* S is not empty and has only bytes of SET. */
static int
only_chars(const char *s, const char *set)
{
	return *s != '\0' && s[strspn(s, set)] == '\0';
}

static int
domain_chars(const char *s)
{
	return only_chars(s, LOWER_DIGITS ".-");
}

/* LDH labels of 1..63 bytes, no hyphen at either end, 253 bytes at most. */
static int
domain_name(const char *s)
{
	size_t n;

	if (!domain_chars(s) || strlen(s) > MAX_DOMAIN)
		return 0;
	for (;;) {
		n = strcspn(s, ".");
		if (n == 0 || n > MAX_LABEL || s[0] == '-' || s[n - 1] == '-')
			return 0;
		if (s[n] == '\0')
			return 1;
		s += n + 1;
	}
}

static int
attr_chars(const char *s)
{
	return only_chars(s, LOWER_DIGITS "!");
}

static int
list_name(const char *s)
{
	return only_chars(s, UPPER_DIGITS "!-");
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static void
upper(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* ------------------------------------------------------------ parsing */

#define MAX_FIELDS	64

/* Split S in place on blanks; the count, or -1 past MAX_FIELDS. */
static int
fields(char *s, char **tok)
{
	int n = 0;

	for (;;) {
		s += strspn(s, " \t\r\v\f");
		if (*s == '\0')
			return n;
		if (n == MAX_FIELDS)
			return -1;
		tok[n++] = s;
		s += strcspn(s, " \t\r\v\f");
		if (*s != '\0')
			*s++ = '\0';
	}
}

static int
str_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort and drop repeats; the new count. */
static size_t
uniq_strs(const char **v, size_t n)
{
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), str_order);
	for (i = 1; i < n; i++)
		if (strcmp(v[i], v[k]) != 0)
			v[++k] = v[i];
	return k + 1;
}

static const char *
make_plain(struct dlc *d, const struct entry *e)
{
	size_t len, i;
	char *p, *s;

	len = strlen(type_names[e->type]) + 1 + strlen(e->value) + 1;
	for (i = 0; i < e->nattrs; i++)
		len += 2 + strlen(e->attrs[i]);
	s = p = sl_arena_alloc(&d->arena, len);
	p = stpcpy(p, type_names[e->type]);
	*p++ = ':';
	p = stpcpy(p, e->value);
	for (i = 0; i < e->nattrs; i++) {
		*p++ = i == 0 ? ':' : ',';
		*p++ = '@';
		p = stpcpy(p, e->attrs[i]);
	}
	return s;
}

static int
parse_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(s, type_names[i]) == 0)
			return (int)i;
	return -1;
}

static int
check_value(struct dlc *d, const char *file, int line, int type, char *v)
{
	char msg[256];

	if (type != T_REGEXP)
		lower(v);
	switch (type) {
	case T_REGEXP:
		/* Upstream checks with Go's RE2; this is the check sluice's
		 * compiler applies to every geosite regexp it loads. */
		if (sl_rx_valid(v, strlen(v), msg, sizeof(msg)) == -1)
			return fail(d, file, line, "invalid regexp \"%s\": %s",
			    v, msg);
		break;
	case T_KEYWORD:
		if (!domain_chars(v))
			return fail(d, file, line, "invalid keyword \"%s\"", v);
		break;
	default:
		if (!domain_name(v))
			return fail(d, file, line, "invalid domain \"%s\"", v);
	}
	return 0;
}

/* "value [@attr | &list]..." of a rule of TYPE, added to L and affiliates. */
static int
parse_rule(struct dlc *d, struct list *l, const char *file, int line,
    int type, char *rest)
{
	char *tok[MAX_FIELDS], *a;
	const char *affs[MAX_FIELDS];
	size_t i, naffs = 0;
	struct entry *e;
	int n;

	if ((n = fields(rest, tok)) <= 0)
		return fail(d, file, line, n == 0 ? "empty %s rule" :
		    "too many fields in a %s rule", type_names[type]);
	if (check_value(d, file, line, type, tok[0]) == -1)
		return -1;
	e = sl_arena_alloc(&d->arena, sizeof(*e));
	e->type = type;
	e->value = sl_arena_strdup(&d->arena, tok[0]);
	e->attrs = sl_arena_alloc(&d->arena, (size_t)n * sizeof(*e->attrs));
	for (i = 1; i < (size_t)n; i++) {
		a = tok[i] + 1;
		if (tok[i][0] == '@') {
			lower(a);
			if (!attr_chars(a))
				return fail(d, file, line,
				    "invalid attribute \"%s\"", a);
			e->attrs[e->nattrs++] = sl_arena_strdup(&d->arena, a);
		} else if (tok[i][0] == '&') {
			upper(a);
			if (!list_name(a))
				return fail(d, file, line,
				    "invalid affiliation \"%s\"", a);
			affs[naffs++] = a;
		} else
			return fail(d, file, line, "unknown field \"%s\"",
			    tok[i]);
	}
	e->nattrs = uniq_strs(e->attrs, e->nattrs);
	e->plain = make_plain(d, e);
	for (i = 0; i < naffs; i++)
		list_add(d, list_get(d, affs[i]), e);
	list_add(d, l, e);
	return 0;
}

/* "LIST [@attr | @-attr]...": include LIST, maybe filtered. */
static int
parse_include(struct dlc *d, struct list *l, const char *file, int line,
    char *rest)
{
	char *tok[MAX_FIELDS], *a;
	struct incl *inc;
	size_t i;
	int n;

	if ((n = fields(rest, tok)) <= 0)
		return fail(d, file, line, n == 0 ? "empty include" :
		    "too many fields in an include");
	upper(tok[0]);
	if (!list_name(tok[0]))
		return fail(d, file, line, "invalid included list name \"%s\"",
		    tok[0]);
	l->incls = sl_arena_room(&d->arena, l->incls, l->nincls,
	    &l->capincls, sizeof(*l->incls));
	inc = &l->incls[l->nincls++];
	inc->src = sl_arena_strdup(&d->arena, tok[0]);
	inc->file = file;
	inc->line = line;
	inc->must = sl_arena_alloc(&d->arena, (size_t)n * sizeof(*inc->must));
	inc->ban = sl_arena_alloc(&d->arena, (size_t)n * sizeof(*inc->ban));
	for (i = 1; i < (size_t)n; i++) {
		if (tok[i][0] == '&')
			return fail(d, file, line, "affiliation is not allowed "
			    "in an include");
		if (tok[i][0] != '@')
			return fail(d, file, line, "unknown field \"%s\"",
			    tok[i]);
		a = tok[i] + 1;
		lower(a);
		if (*a == '-') {
			if (!attr_chars(a + 1))
				return fail(d, file, line,
				    "invalid attribute \"%s\"", a + 1);
			inc->ban[inc->nban++] = sl_arena_strdup(&d->arena,
			    a + 1);
		} else {
			if (!attr_chars(a))
				return fail(d, file, line,
				    "invalid attribute \"%s\"", a);
			inc->must[inc->nmust++] = sl_arena_strdup(&d->arena, a);
		}
	}
	return 0;
}

/* One line: "# comment", "type:rest" or a bare domain. */
static int
parse_line(struct dlc *d, struct list *l, const char *file, int line,
    char *s)
{
	char *colon, *end;
	int type;

	s[strcspn(s, "#")] = '\0';
	s += strspn(s, " \t\r\v\f");
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\v\f\n", end[-1]) != NULL)
		*--end = '\0';
	if (*s == '\0')
		return 0;
	if ((colon = strchr(s, ':')) == NULL)
		return parse_rule(d, l, file, line, T_DOMAIN, s);
	*colon = '\0';
	lower(s);
	if (strcmp(s, "include") == 0)
		return parse_include(d, l, file, line, colon + 1);
	if ((type = parse_type(s)) == -1)
		return fail(d, file, line, "unknown rule type \"%s\"", s);
	return parse_rule(d, l, file, line, type, colon + 1);
}

static int
load_file(struct dlc *d, const char *path, const char *base)
{
	char name[256], *buf = NULL;
	const char *file;
	size_t cap = 0;
	struct list *l;
	int line = 0, r = 0;
	FILE *fp;

	if (strlen(base) >= sizeof(name))
		return fail(d, path, 0, "list name too long");
	strcpy(name, base);
	upper(name);
	if (!list_name(name))
		return fail(d, path, 0, "invalid list name \"%s\"", name);
	if ((fp = fopen(path, "re")) == NULL)
		return fail(d, path, 0, "%s", strerror(errno));
	file = sl_arena_strdup(&d->arena, path);
	l = list_get(d, name);
	while (r == 0 && getline(&buf, &cap, fp) != -1)
		r = parse_line(d, l, file, ++line, buf);
	if (r == 0 && ferror(fp))
		r = fail(d, path, 0, "%s", strerror(errno));
	free(buf);
	fclose(fp);
	return r;
}

/* Every regular file under DIR, in name order (like Go's WalkDir). */
static int
load_dir(struct dlc *d, const char *dir, int depth)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat st;
	int r = 0;
	DIR *dp;

	if (depth > MAX_DEPTH)
		return fail(d, dir, 0, "directories nested too deep");
	if ((dp = opendir(dir)) == NULL)
		return fail(d, dir, 0, "%s", strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = sl_arena_room(&d->arena, names, n, &cap,
		    sizeof(*names));
		names[n++] = sl_arena_strdup(&d->arena, de->d_name);
	}
	closedir(dp);
	if (n > 0)
		qsort(names, n, sizeof(*names), str_order);
	for (i = 0; r == 0 && i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]) >= sizeof(path))
			return fail(d, dir, 0, "path too long");
		if (stat(path, &st) == -1)
			r = fail(d, path, 0, "%s", strerror(errno));
		else if (S_ISDIR(st.st_mode))
			r = load_dir(d, path, depth + 1);
		else if (S_ISREG(st.st_mode))
			r = load_file(d, path, names[i]);
	}
	return r;
}

/* ------------------------------------------------------------ resolving */

static int
has(const struct entry *e, const char *attr)
{
	size_t i;

	for (i = 0; i < e->nattrs; i++)
		if (strcmp(e->attrs[i], attr) == 0)
			return 1;
	return 0;
}

/* An entry without attributes passes only a filter that requires none. */
static int
passes(const struct entry *e, const struct incl *inc)
{
	size_t i;

	if (e->nattrs == 0)
		return inc->nmust == 0;
	for (i = 0; i < inc->nmust; i++)
		if (!has(e, inc->must[i]))
			return 0;
	for (i = 0; i < inc->nban; i++)
		if (has(e, inc->ban[i]))
			return 0;
	return 1;
}

static int
plain_order(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	return strcmp(x->plain, y->plain);
}

static int
key_found(const char **keys, size_t n, const char *k)
{
	return bsearch(&k, keys, n, sizeof(*keys), str_order) != NULL;
}

/*
 * A domain/full rule is redundant under a "domain:" parent: any parent for
 * a rule without attributes, a parent with the same attributes otherwise.
 * "domain:x" also covers "full:x".  Keys: a parent's value, and for a
 * parent with attributes "value:@a,@b" (its plain form after the type);
 * the suffixes of a rule's own key are looked up among them.
 */
static void
polish(struct dlc *d, struct list *l)
{
	const char **keys, *p;
	size_t i, nkeys = 0, n = 0;
	struct entry *e;

	keys = sl_arena_alloc(&d->arena, 2 * l->nrough * sizeof(*keys) + 1);
	for (i = 0; i < l->nrough; i++) {
		e = l->rough[i];
		if (e->type != T_DOMAIN)
			continue;
		keys[nkeys++] = e->value;
		if (e->nattrs > 0)
			keys[nkeys++] = strchr(e->plain, ':') + 1;
	}
	nkeys = uniq_strs(keys, nkeys);
	l->final = sl_arena_alloc(&d->arena, l->nrough * sizeof(*l->final) + 1);
	for (i = 0; i < l->nrough; i++) {
		e = l->rough[i];
		if (e->type == T_DOMAIN || e->type == T_FULL) {
			p = e->nattrs ? strchr(e->plain, ':') + 1 : e->value;
			if (e->type == T_DOMAIN && (p = strchr(p, '.')) != NULL)
				p++;
			while (p != NULL && !key_found(keys, nkeys, p))
				if ((p = strchr(p, '.')) != NULL)
					p++;
			if (p != NULL)
				continue;
		}
		l->final[n++] = e;
	}
	l->nfinal = n;
}

/* "A -> B -> A" from the resolving stack, starting at L. */
static int
circular(struct dlc *d, const struct incl *inc, const struct list *l)
{
	char chain[1024];
	size_t i, used = 0;
	int r;

	chain[0] = '\0';
	for (i = 0; i < d->depth && d->stack[i] != l; i++)
		;
	for (; i < d->depth; i++) {
		r = snprintf(chain + used, sizeof(chain) - used, "%s -> ",
		    d->stack[i]->name);
		if (r < 0 || (size_t)r >= sizeof(chain) - used)
			break;
		used += (size_t)r;
	}
	return fail(d, inc->file, inc->line, "circular include: %s%s", chain,
	    l->name);
}

static int resolve(struct dlc *, struct list *);

/* Append the entries of INC's list that pass its filter to *V. */
static int
include(struct dlc *d, const struct incl *inc, struct entry ***v, size_t *n,
    size_t *cap)
{
	struct list *src;
	size_t i;
	int all = inc->nmust == 0 && inc->nban == 0;

	if ((src = list_find(d, inc->src)) == NULL)
		return fail(d, inc->file, inc->line, "included list \"%s\" "
		    "not found", inc->src);
	if (src->state == RESOLVING)
		return circular(d, inc, src);
	if (resolve(d, src) == -1)
		return -1;
	for (i = 0; i < src->nrough; i++)
		if (all || passes(src->rough[i], inc)) {
			*v = sl_arena_room(&d->arena, *v, *n, cap, sizeof(**v));
			(*v)[(*n)++] = src->rough[i];
		}
	return 0;
}

static int
resolve(struct dlc *d, struct list *l)
{
	struct entry **v = NULL;
	size_t n = 0, cap = 0, i, k;

	if (l->state == RESOLVED)
		return 0;
	l->state = RESOLVING;
	d->stack = sl_arena_room(&d->arena, d->stack, d->depth,
	    &d->capstack, sizeof(*d->stack));
	d->stack[d->depth++] = l;
	for (i = 0; i < l->nentries; i++) {
		v = sl_arena_room(&d->arena, v, n, &cap, sizeof(*v));
		v[n++] = l->entries[i];
	}
	for (i = 0; i < l->nincls; i++)
		if (include(d, &l->incls[i], &v, &n, &cap) == -1)
			return -1;
	if (n > 0) {
		qsort(v, n, sizeof(*v), plain_order);
		for (i = 1, k = 0; i < n; i++)
			if (strcmp(v[i]->plain, v[k]->plain) != 0)
				v[++k] = v[i];
		n = k + 1;
	}
	l->rough = v;
	l->nrough = n;
	polish(d, l);
	l->state = RESOLVED;
	d->depth--;
	return 0;
}

/* ------------------------------------------------------------ output */

static Sluice__Domain__Attribute *
attr_msg(struct dlc *d, const char *key)
{
	Sluice__Domain__Attribute *a;
	size_t i;

	/* Tens of distinct attributes exist: a linear search is enough. */
	for (i = 0; i < d->nattrs; i++)
		if (strcmp(d->attrs[i]->key, key) == 0)
			return d->attrs[i];
	a = sl_arena_alloc(&d->arena, sizeof(*a));
	sluice__domain__attribute__init(a);
	a->key = (char *)key;
	a->typed_value_case = SLUICE__DOMAIN__ATTRIBUTE__TYPED_VALUE_BOOL_VALUE;
	a->bool_value = 1;
	d->attrs = sl_arena_room(&d->arena, d->attrs, d->nattrs,
	    &d->capattrs, sizeof(*d->attrs));
	d->attrs[d->nattrs++] = a;
	return a;
}

/* The message of E, made on first use (protobuf-c only reads it). */
static Sluice__Domain *
domain_msg(struct dlc *d, struct entry *e)
{
	Sluice__Domain *m;
	size_t i;

	if (e->msg != NULL)
		return e->msg;
	m = sl_arena_alloc(&d->arena, sizeof(*m));
	sluice__domain__init(m);
	m->type = (Sluice__Domain__Type)e->type;
	m->value = (char *)e->value;
	m->n_attribute = e->nattrs;
	m->attribute = sl_arena_alloc(&d->arena,
	    e->nattrs * sizeof(*m->attribute) + 1);
	for (i = 0; i < e->nattrs; i++)
		m->attribute[i] = attr_msg(d, e->attrs[i]);
	return e->msg = m;
}

static int
code_order(const void *a, const void *b)
{
	const struct list *x = *(const struct list *const *)a;
	const struct list *y = *(const struct list *const *)b;

	return strcmp(x->name, y->name);
}

/* Non-empty lists sorted by code, packed. */
static int
pack(struct dlc *d, uint8_t **out, size_t *outlen, size_t *ncodes)
{
	Sluice__GeoSiteList gl = SLUICE__GEO_SITE_LIST__INIT;
	struct list **v;
	Sluice__GeoSite *gs;
	size_t i, k, n = 0;

	v = sl_arena_alloc(&d->arena, d->nlists * sizeof(*v) + 1);
	for (i = 0; i < d->tabcap; i++)
		if (d->tab[i] != NULL && d->tab[i]->nfinal > 0)
			v[n++] = d->tab[i];
	qsort(v, n, sizeof(*v), code_order);
	gl.n_entry = n;
	gl.entry = sl_arena_alloc(&d->arena, n * sizeof(*gl.entry) + 1);
	for (i = 0; i < n; i++) {
		gs = gl.entry[i] = sl_arena_alloc(&d->arena, sizeof(*gs));
		sluice__geo_site__init(gs);
		gs->code = (char *)v[i]->name;
		gs->n_domain = v[i]->nfinal;
		gs->domain = sl_arena_alloc(&d->arena,
		    v[i]->nfinal * sizeof(*gs->domain));
		for (k = 0; k < v[i]->nfinal; k++)
			gs->domain[k] = domain_msg(d, v[i]->final[k]);
	}
	*outlen = sluice__geo_site_list__get_packed_size(&gl);
	if ((*out = malloc(*outlen + 1)) == NULL)
		return fail(d, NULL, 0, "out of memory");
	sluice__geo_site_list__pack(&gl, *out);
	if (ncodes != NULL)
		*ncodes = n;
	return 0;
}

int
sl_dlc_build(const char *dir, uint8_t **out, size_t *outlen, size_t *ncodes,
    char *err, size_t errlen)
{
	struct dlc d;
	size_t i;
	int r;

	memset(&d, 0, sizeof(d));
	sl_arena_init(&d.arena);
	d.err = err;
	d.errlen = errlen;
	r = load_dir(&d, dir, 0);
	for (i = 0; r == 0 && i < d.tabcap; i++)
		if (d.tab[i] != NULL)
			r = resolve(&d, d.tab[i]);
	if (r == 0)
		r = pack(&d, out, outlen, ncodes);
	sl_arena_free(&d.arena);
	return r;
}
