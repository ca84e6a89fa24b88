/*
 * conf_match: the domain and IP rule-string grammars of Xray.
 *
 * Owns the parsing of one rule string into the model (spec
 * xray-routing.md sections 1.7 and 1.9): "geosite:"/"ext:" references
 * with their canonical case, custom domain patterns, "dotless:" turned
 * into its regex, "!" toggles, "geoip:"/"ext-ip:" references and CIDRs.
 * Routing rules and the sniffing exclusions share it.  Whether a geodata
 * file and code exist is the compiler's business; every entry keeps its
 * location so that the compiler can name it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "master/geodat.h"
#include "shm/ipset.h"

#define GEOSITE_DAT	"geosite.dat"
#define GEOIP_DAT	"geoip.dat"

static char *
upper(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "FILE:REST" of an ext: reference; 0 and reported when malformed. */
static int
split_ref(struct walk *w, const struct sl_node *at, const char *item,
    const char *ref, const char **file, char **rest)
{
	char *copy = sl_arena_strdup(&w->conf->arena, ref);
	char *colon = strchr(copy, ':');

	if (colon == NULL) {
		walk_err(w, at, "\"%s\": expected ext:FILE:CODE", item);
		return 0;
	}
	*colon = '\0';
	if (!sl_geo_name_ok(copy)) {
		walk_err(w, at, "\"%s\": \"%s\" is not a file name in the "
		    "asset directory", item, copy);
		return 0;
	}
	*file = copy;
	*rest = colon + 1;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Domains (section 1.7)                                               */

/* CODE[@attr...] of a geosite reference; CODE upper, attrs lower. */
static void
geosite_ref(struct walk *w, const struct sl_node *at, const char *item,
    char *code, struct sl_conf_domain *d)
{
	struct walk_vec attrs = { .sz = sizeof(const char *) };
	char *at_sign, *next;
	size_t len = strlen(code);

	if ((len > 0 && code[len - 1] == '@') || strstr(code, "@@") != NULL) {
		walk_err(w, at, "\"%s\": empty attribute after '@'", item);
		return;
	}
	if ((at_sign = strchr(code, '@')) != NULL)
		*at_sign++ = '\0';
	if (code[0] == '\0') {
		walk_err(w, at, "\"%s\": empty code", item);
		return;
	}
	for (; at_sign != NULL; at_sign = next) {
		if ((next = strchr(at_sign, '@')) != NULL)
			*next++ = '\0';
		*(const char **)walk_vec_push(w, &attrs) = walk_lower(at_sign);
	}
	d->type = SL_DOM_GEOSITE;
	d->value = upper(code);
	d->attrs = attrs.p;
	d->nattrs = attrs.n;
}

/* "dotless:S": Xray's regex for names without a dot (containing S). */
static const char *
dotless(struct walk *w, const struct sl_node *at, const char *item,
    const char *sub)
{
	size_t len = strlen(sub) + sizeof("^[^.]*[^.]*$");
	char *re;

	if (strchr(sub, '.') != NULL) {
		walk_err(w, at, "\"%s\": a dotless: pattern must not contain "
		    "a dot", item);
		return NULL;
	}
	if (sub[0] == '\0')
		return "^[^.]*$";
	re = sl_arena_alloc(&w->conf->arena, len);
	snprintf(re, len, "^[^.]*%s[^.]*$", sub);
	return re;
}

static const struct {
	const char	*prefix;
	enum sl_dom_type type;
} dom_prefixes[] = {
	{ "regexp:", SL_DOM_REGEX }, { "domain:", SL_DOM_DOMAIN },
	{ "full:", SL_DOM_FULL }, { "keyword:", SL_DOM_SUBSTR },
	{ NULL, SL_DOM_SUBSTR }
};

/* A custom pattern; the default type (no prefix) is keyword. */
static int
custom_domain(struct walk *w, const struct sl_node *at, const char *item,
    struct sl_conf_domain *d)
{
	const char *v = item;
	size_t i;

	d->type = SL_DOM_SUBSTR;
	for (i = 0; dom_prefixes[i].prefix != NULL; i++)
		if (has_prefix(item, dom_prefixes[i].prefix)) {
			d->type = dom_prefixes[i].type;
			v = item + strlen(dom_prefixes[i].prefix);
			break;
		}
	if (has_prefix(item, "dotless:")) {
		d->type = SL_DOM_REGEX;
		if ((v = dotless(w, at, item, item + 8)) == NULL)
			return 0;
	}
	/* Xray would match every name with an empty keyword or regex. */
	if (v[0] == '\0') {
		walk_err(w, at, "\"%s\": empty pattern", item);
		return 0;
	}
	if (d->type == SL_DOM_REGEX) {
		if (!walk_regex(w, at, item, v))
			return 0;
		d->value = sl_arena_strdup(&w->conf->arena, v);
	} else
		d->value = walk_lower(sl_arena_strdup(&w->conf->arena, v));
	return 1;
}

static const char *const site_prefixes[] = { "ext:", "ext-domain:",
	"ext-site:", NULL };

static void
domain_item(struct walk *w, const struct sl_node *at, const char *item,
    void *arg)
{
	struct walk_vec *v = arg;
	struct sl_conf_domain d;
	const char *const *p;
	char *rest;
	int before = w->nerr;

	memset(&d, 0, sizeof(d));
	walk_where(w, at, &d.where);
	if (has_prefix(item, "geosite:")) {
		d.file = GEOSITE_DAT;
		geosite_ref(w, at, item, sl_arena_strdup(&w->conf->arena,
		    item + 8), &d);
	} else {
		for (p = site_prefixes; *p != NULL; p++)
			if (has_prefix(item, *p))
				break;
		if (*p == NULL)
			custom_domain(w, at, item, &d);
		else if (split_ref(w, at, item, item + strlen(*p), &d.file,
		    &rest))
			geosite_ref(w, at, item, rest, &d);
	}
	if (w->nerr == before)
		*(struct sl_conf_domain *)walk_vec_push(w, v) = d;
}

void
walk_domain_list(struct walk *w, const struct sl_node *n,
    struct sl_conf_domain **out, size_t *nout)
{
	struct walk_vec v = { .sz = sizeof(struct sl_conf_domain) };

	walk_string_list(w, n, domain_item, &v);
	*out = v.p;
	*nout = v.n;
}

/* ------------------------------------------------------------------ */
/* IPs (section 1.9)                                                   */

/* Leading '!'s, each one toggling REVERSE. */
static const char *
bangs(const char *s, int *reverse)
{
	for (; *s == '!'; s++)
		*reverse = !*reverse;
	return s;
}

static const char *const ip_prefixes[] = { "ext:", "ext-ip:", NULL };

static void
ip_ref(struct walk *w, const struct sl_node *at, const char *item,
    const char *s, struct sl_conf_ip *ip)
{
	const char *const *p;
	const char *file;
	char *code;

	if (has_prefix(s, "geoip:")) {
		file = GEOIP_DAT;
		code = sl_arena_strdup(&w->conf->arena, s + 6);
	} else {
		for (p = ip_prefixes; !has_prefix(s, *p); p++)
			;
		if (!split_ref(w, at, item, s + strlen(*p), &file, &code))
			return;
	}
	/* "geoip:!cn": the code's own '!'s toggle too. */
	code = (char *)(uintptr_t)bangs(code, &ip->reverse);
	if (code[0] == '\0') {
		walk_err(w, at, "\"%s\": empty code", item);
		return;
	}
	ip->is_geo = 1;
	ip->file = file;
	ip->code = upper(code);
}

static int
is_ip_ref(const char *s)
{
	return has_prefix(s, "geoip:") || has_prefix(s, "ext:") ||
	    has_prefix(s, "ext-ip:");
}

static void
ip_item(struct walk *w, const struct sl_node *at, const char *item,
    void *arg)
{
	struct walk_vec *v = arg;
	struct sl_conf_ip ip;
	const char *s;
	int before = w->nerr;

	memset(&ip, 0, sizeof(ip));
	walk_where(w, at, &ip.where);
	s = bangs(item, &ip.reverse);
	if (is_ip_ref(s))
		ip_ref(w, at, item, s, &ip);
	else if (sl_cidr_parse(s, &ip.cidr) != 0)
		walk_err(w, at, "\"%s\" is not an IP address or CIDR", item);
	if (w->nerr == before)
		*(struct sl_conf_ip *)walk_vec_push(w, v) = ip;
}

void
walk_ip_list(struct walk *w, const struct sl_node *n, struct sl_conf_ip **out,
    size_t *nout)
{
	struct walk_vec v = { .sz = sizeof(struct sl_conf_ip) };

	walk_string_list(w, n, ip_item, &v);
	*out = v.p;
	*nout = v.n;
}
