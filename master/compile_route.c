/*
 * compile_route: routing rules, domain/IP sets, balancers, observers and
 * per-inbound sniffing -> table image.
 *
 * Every distinct set is stored once: a geosite or geoip reference is keyed
 * by file, code and attributes, a list of custom entries by its canonical
 * text, so ten rules (or a rule and a sniffing exclusion) naming
 * geosite:cn share one table.  Geodata files are read here, in the master,
 * and never by workers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/compile_int.h"
#include "master/geodat.h"
#include "shm/domset.h"
#include "shm/regex.h"
#include "shm/types.h"

/* ---- growable key text and the set caches ---- */

struct key {
	char	*s;
	size_t	 len, cap;
	int	 failed;
};

static void
key_add(struct key *k, const char *s, size_t n)
{
	if (k->len + n + 2 > k->cap) {
		size_t cap = (k->cap ? k->cap * 2 : 256) + n;
		char *p = realloc(k->s, cap);

		if (p == NULL) {
			k->failed = 1;
			return;
		}
		k->s = p;
		k->cap = cap;
	}
	memcpy(k->s + k->len, s, n);
	k->len += n;
	k->s[k->len++] = '\n';	/* items cannot contain a newline */
	k->s[k->len] = '\0';
}

static int
cache_get(const struct cc_cache *cache, const char *key, uint32_t *idx)
{
	for (size_t i = 0; i < cache->n; i++)
		if (strcmp(cache->v[i].key, key) == 0) {
			*idx = cache->v[i].idx;
			return 1;
		}
	return 0;
}

/* Takes ownership of KEY. */
static void
cache_put(struct cc *c, struct cc_cache *cache, char *key, uint32_t idx)
{
	if (cache->n == cache->cap) {
		size_t cap = cache->cap ? cache->cap * 2 : 16;
		struct cc_set *v = realloc(cache->v, cap * sizeof(*v));

		if (v == NULL) {
			c->b.failed = 1;
			free(key);
			return;
		}
		cache->v = v;
		cache->cap = cap;
	}
	cache->v[cache->n].key = key;
	cache->v[cache->n++].idx = idx;
}

static void
cache_free(struct cc_cache *cache)
{
	for (size_t i = 0; i < cache->n; i++)
		free(cache->v[i].key);
	free(cache->v);
	memset(cache, 0, sizeof(*cache));
}

void
cc_free(struct cc *c)
{
	cache_free(&c->domsets);
	cache_free(&c->ipsets);
	sl_geodb_free(c->geo);
	c->geo = NULL;
}

static struct sl_geodb *
geodb(struct cc *c)
{
	if (c->geo == NULL)
		c->geo = sl_geodb_new(c->cf->sluice.asset_dir);
	if (c->geo == NULL)
		c->b.failed = 1;
	return c->geo;
}

/* ---- domain sets ---- */

static uint32_t
domset_build(struct cc *c, const struct sl_where *where,
    const struct sl_dom_pat *pats, size_t n)
{
	const char *err = NULL;
	uint32_t idx = sl_domset_build(&c->b, pats, n, &err);

	if (idx == SL_IMG_NONE)
		sl_errors_add(c->errs, where, "domain set: %s",
		    err ? err : "out of memory");
	return idx;
}

static uint32_t
custom_set(struct cc *c, const struct sl_conf_domain *d, size_t n)
{
	struct sl_dom_pat *pats = calloc(n, sizeof(*pats));
	struct key k = { 0 };
	uint32_t idx = SL_IMG_NONE;
	size_t np = 0;
	char t[2] = { 0 };

	if (pats == NULL) {
		c->b.failed = 1;
		return SL_IMG_NONE;
	}
	for (size_t i = 0; i < n; i++) {
		if (d[i].type == SL_DOM_GEOSITE)
			continue;
		pats[np].type = (int)d[i].type;
		pats[np].value = d[i].value;
		pats[np].len = strlen(d[i].value);
		t[0] = (char)('0' + d[i].type);
		key_add(&k, t, 1);
		key_add(&k, d[i].value, pats[np].len);
		np++;
	}
	if (k.failed)
		c->b.failed = 1;
	else if (cache_get(&c->domsets, k.s, &idx))
		free(k.s);
	else if ((idx = domset_build(c, &d[0].where, pats, np)) != SL_IMG_NONE)
		cache_put(c, &c->domsets, k.s, idx);
	else
		free(k.s);
	free(pats);
	return idx;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "file\ncode\nattr..." with the attributes sorted: @a@b == @b@a. */
static char *
geosite_key(const struct sl_conf_domain *d)
{
	const char **attrs = calloc(d->nattrs + 1, sizeof(*attrs));
	struct key k = { 0 };

	if (attrs == NULL)
		return NULL;
	if (d->nattrs > 0) {
		memcpy(attrs, d->attrs, d->nattrs * sizeof(*attrs));
		qsort(attrs, d->nattrs, sizeof(*attrs), cmp_str);
	}
	key_add(&k, "site", 4);
	key_add(&k, d->file, strlen(d->file));
	key_add(&k, d->value, strlen(d->value));
	for (size_t i = 0; i < d->nattrs; i++)
		key_add(&k, attrs[i], strlen(attrs[i]));
	free(attrs);
	if (k.failed) {
		free(k.s);
		return NULL;
	}
	return k.s;
}

static uint32_t
geosite_set(struct cc *c, const struct sl_conf_domain *d)
{
	const struct sl_geo_dom *doms;
	struct sl_dom_pat *pats;
	char err[256], *key = geosite_key(d);
	uint32_t idx = SL_IMG_NONE;
	size_t n;

	if (key == NULL || geodb(c) == NULL) {
		free(key);
		c->b.failed = 1;
		return SL_IMG_NONE;
	}
	if (cache_get(&c->domsets, key, &idx)) {
		free(key);
		return idx;
	}
	if (sl_geodb_site(c->geo, d->file, d->value,
	    (const char *const *)d->attrs, d->nattrs, &doms, &n, err,
	    sizeof(err)) == -1) {
		sl_errors_add(c->errs, &d->where, "%s", err);
		free(key);
		return SL_IMG_NONE;
	}
	if ((pats = calloc(n + 1, sizeof(*pats))) == NULL) {
		free(key);
		c->b.failed = 1;
		return SL_IMG_NONE;
	}
	for (size_t i = 0; i < n; i++) {
		pats[i].type = doms[i].type;
		pats[i].value = doms[i].value;
		pats[i].len = doms[i].len;
	}
	idx = domset_build(c, &d->where, pats, n);
	free(pats);
	if (idx == SL_IMG_NONE)
		free(key);
	else
		cache_put(c, &c->domsets, key, idx);
	return idx;
}

/*
 * A domain field: one set for its custom entries, one per geosite
 * reference.  Appends the set indices to U32; 0 or -1.
 */
static int
domain_field(struct cc *c, const struct sl_conf_domain *d, size_t n,
    uint32_t *first, uint32_t *count)
{
	uint32_t ids[256], idx;
	size_t nids = 0, ncustom = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (d[i].type != SL_DOM_GEOSITE)
			ncustom++;
	if (ncustom > 0) {
		if ((idx = custom_set(c, d, n)) == SL_IMG_NONE)
			rc = -1;
		else
			ids[nids++] = idx;
	}
	for (size_t i = 0; i < n; i++) {
		if (d[i].type != SL_DOM_GEOSITE)
			continue;
		if (nids == SL_ARRAY_LEN(ids)) {
			sl_errors_add(c->errs, &d[i].where, "too many geosite "
			    "references in one field (at most %zu)",
			    SL_ARRAY_LEN(ids) - 1);
			return -1;
		}
		if ((idx = geosite_set(c, &d[i])) == SL_IMG_NONE)
			rc = -1;
		else
			ids[nids++] = idx;
	}
	*first = sl_imgb_count(&c->b, SL_SECT_U32, sizeof(uint32_t));
	*count = (uint32_t)nids;
	for (size_t i = 0; i < nids; i++)
		sl_imgb_add(&c->b, SL_SECT_U32, &ids[i], sizeof(uint32_t));
	return rc;
}

/* ---- IP sets: Xray's four groups ---- */

struct cidrs {
	struct sl_cidr	*v;
	size_t		 n, cap;
};

static int
cidrs_add(struct cidrs *l, const struct sl_cidr *v, size_t n)
{
	if (l->n + n > l->cap) {
		size_t cap = (l->cap ? l->cap * 2 : 64) + n;
		struct sl_cidr *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	memcpy(l->v + l->n, v, n * sizeof(*v));
	l->n += n;
	return 0;
}

static void
cidr_text(const struct sl_cidr *a, char *buf, size_t sz)
{
	size_t o = (size_t)snprintf(buf, sz, "%d/%d/", a->family, a->prefix);

	for (int i = 0; i < 16 && o + 2 < sz; i++, o += 2)
		snprintf(buf + o, sz - o, "%02x", a->addr[i]);
}

/*
 * geoip:private is built in (the list Xray documents for it), so that it
 * works without a geoip.dat; other codes come from the files.
 */
static int
geo_cidrs(struct cc *c, const struct sl_conf_ip *ip, const struct sl_cidr **v,
    size_t *n, char *err, size_t errlen)
{
	static struct sl_cidr priv[32];
	static size_t npriv;

	if (strcmp(ip->file, "geoip.dat") == 0 &&
	    strcmp(ip->code, "PRIVATE") == 0) {
		if (npriv == 0)
			npriv = sl_private_list(priv, SL_ARRAY_LEN(priv));
		*v = priv;
		*n = npriv;
		return 0;
	}
	if (geodb(c) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return sl_geodb_ip(c->geo, ip->file, ip->code, v, n, err, errlen);
}

/* Group G of an IP field: its set (cached by its canonical key). */
static uint32_t
ip_group(struct cc *c, const struct sl_conf_ip *ip, size_t n, int geo,
    int reverse, int *rc)
{
	struct cidrs l = { 0 };
	struct key k = { 0 };
	uint32_t idx = SL_IMG_NONE;
	char buf[64];

	key_add(&k, geo ? "geo" : "cidr", geo ? 3 : 4);
	for (size_t i = 0; i < n; i++) {
		if (ip[i].is_geo != geo || ip[i].reverse != reverse)
			continue;
		if (geo) {
			key_add(&k, ip[i].file, strlen(ip[i].file));
			key_add(&k, ip[i].code, strlen(ip[i].code));
		} else {
			cidr_text(&ip[i].cidr, buf, sizeof(buf));
			key_add(&k, buf, strlen(buf));
		}
	}
	if (k.len == (size_t)(geo ? 4 : 5) || k.failed) {
		free(k.s);		/* the group is empty */
		return SL_IMG_NONE;
	}
	if (cache_get(&c->ipsets, k.s, &idx)) {
		free(k.s);
		return idx;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sl_cidr *v = &ip[i].cidr;
		size_t nv = 1;
		char err[256];

		if (ip[i].is_geo != geo || ip[i].reverse != reverse)
			continue;
		if (geo && geo_cidrs(c, &ip[i], &v, &nv, err,
		    sizeof(err)) == -1) {
			sl_errors_add(c->errs, &ip[i].where, "%s", err);
			*rc = -1;
			continue;
		}
		if (cidrs_add(&l, v, nv) == -1)
			c->b.failed = 1;
	}
	idx = sl_ipset_build(&c->b, l.v, l.n);
	free(l.v);
	cache_put(c, &c->ipsets, k.s, idx);
	return idx;
}

/* An IP field -> IPMATCH index; SL_IMG_NONE when N is 0. */
static uint32_t
ip_field(struct cc *c, const struct sl_conf_ip *ip, size_t n, int *rc)
{
	struct sl_img_ipmatch m;

	if (n == 0)
		return SL_IMG_NONE;
	m.set[SL_IPM_POS_CIDR] = ip_group(c, ip, n, 0, 0, rc);
	m.set[SL_IPM_REV_CIDR] = ip_group(c, ip, n, 0, 1, rc);
	m.set[SL_IPM_POS_GEO] = ip_group(c, ip, n, 1, 0, rc);
	m.set[SL_IPM_REV_GEO] = ip_group(c, ip, n, 1, 1, rc);
	return sl_imgb_add(&c->b, SL_SECT_IPMATCH, &m, sizeof(m));
}

/* ---- lists ---- */

static uint32_t
str_list(struct cc *c, const char *const *v, size_t n, int regexps,
    uint32_t *count)
{
	uint32_t first = sl_imgb_count(&c->b, SL_SECT_STRLIST,
	    sizeof(struct sl_str));

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		struct sl_str s;

		if ((strncmp(v[i], "regexp:", 7) == 0) != regexps)
			continue;
		s = sl_imgb_cstr(&c->b, v[i]);
		sl_imgb_add(&c->b, SL_SECT_STRLIST, &s, sizeof(s));
		(*count)++;
	}
	return first;
}

static uint32_t
port_list(struct cc *c, const struct sl_conf_port_range *p, size_t n)
{
	uint32_t first = sl_imgb_count(&c->b, SL_SECT_PORT_RANGES,
	    sizeof(struct sl_img_port_range));

	for (size_t i = 0; i < n; i++) {
		struct sl_img_port_range r = { p[i].from, p[i].to };

		sl_imgb_add(&c->b, SL_SECT_PORT_RANGES, &r, sizeof(r));
	}
	return first;
}

/* ---- rules ---- */

struct conds {
	struct sl_img_cond v[16];
	size_t		 n;
};

static void
cond_add(struct conds *cs, uint32_t kind, uint32_t a, uint32_t b)
{
	struct sl_img_cond *k = &cs->v[cs->n++];

	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->a = a;
	k->b = b;
}

static void
cond_strings(struct cc *c, struct conds *cs, uint32_t kind,
    const char *const *v, size_t n)
{
	uint32_t count, first;

	if (n == 0)
		return;
	first = str_list(c, v, n, 0, &count);
	cond_add(cs, kind, first, count);
}

static void
cond_ports(struct cc *c, struct conds *cs, uint32_t kind,
    const struct sl_conf_port_range *p, size_t n)
{
	if (n > 0)
		cond_add(cs, kind, port_list(c, p, n), (uint32_t)n);
}

static void
cond_user(struct cc *c, struct conds *cs, const struct sl_conf_rule *r)
{
	struct sl_img_cond *k;
	uint32_t count, first;

	if (r->nusers == 0)
		return;
	first = str_list(c, r->users, r->nusers, 0, &count);
	cond_add(cs, SL_COND_USER, first, count);
	k = &cs->v[cs->n - 1];
	k->c = sl_imgb_count(&c->b, SL_SECT_REGEXES,
	    sizeof(struct sl_img_regex));
	for (size_t i = 0; i < r->nusers; i++)
		if (strncmp(r->users[i], "regexp:", 7) == 0) {
			sl_rx_add(&c->b, r->users[i] + 7,
			    strlen(r->users[i] + 7));
			k->d++;
		}
}

static void
cond_attrs(struct cc *c, struct conds *cs, const struct sl_conf_rule *r)
{
	uint32_t first = sl_imgb_count(&c->b, SL_SECT_ATTRS,
	    sizeof(struct sl_img_attr));

	if (r->nattrs == 0)
		return;
	for (size_t i = 0; i < r->nattrs; i++) {
		struct sl_img_attr a;

		a.key = sl_imgb_cstr(&c->b, r->attrs[i].key);
		a.regex = sl_rx_add(&c->b, r->attrs[i].regex,
		    strlen(r->attrs[i].regex));
		sl_imgb_add(&c->b, SL_SECT_ATTRS, &a, sizeof(a));
	}
	cond_add(cs, SL_COND_ATTRS, first, (uint32_t)r->nattrs);
}

static void
cond_ip(struct cc *c, struct conds *cs, uint32_t kind,
    const struct sl_conf_ip *ip, size_t n, int *rc)
{
	if (n > 0)
		cond_add(cs, kind, ip_field(c, ip, n, rc), 0);
}

/* localOS is decided now: this is Linux. */
static void
cond_local_os(struct conds *cs, const struct sl_conf_rule *r)
{
	for (size_t i = 0; i < r->nlocal_os; i++)
		if (strcasecmp(r->local_os[i], "linux") == 0)
			return;
	if (r->nlocal_os > 0)
		cond_add(cs, SL_COND_NEVER, 0, 0);
}

/* Conditions in Xray's evaluation order (spec section 1.4). */
static int
rule_conds(struct cc *c, const struct sl_conf_rule *r, struct conds *cs)
{
	uint32_t first, count;
	int rc = 0;

	cond_local_os(cs, r);
	cond_strings(c, cs, SL_COND_INBOUND, r->inbound_tags,
	    r->ninbound_tags);
	if (r->has_network)
		cond_add(cs, SL_COND_NETWORK, r->networks, 0);
	cond_strings(c, cs, SL_COND_PROTOCOL, r->protocols, r->nprotocols);
	cond_ports(c, cs, SL_COND_PORT, r->ports, r->nports);
	cond_ports(c, cs, SL_COND_SRCPORT, r->source_ports, r->nsource_ports);
	cond_ports(c, cs, SL_COND_LOCALPORT, r->local_ports, r->nlocal_ports);
	cond_ports(c, cs, SL_COND_VLESSROUTE, r->vless_routes,
	    r->nvless_routes);
	cond_user(c, cs, r);
	cond_attrs(c, cs, r);
	cond_ip(c, cs, SL_COND_IP, r->ips, r->nips, &rc);
	cond_ip(c, cs, SL_COND_SRCIP, r->source_ips, r->nsource_ips, &rc);
	cond_ip(c, cs, SL_COND_LOCALIP, r->local_ips, r->nlocal_ips, &rc);
	if (r->ndomains > 0) {
		if (domain_field(c, r->domains, r->ndomains, &first,
		    &count) == -1)
			rc = -1;
		cond_add(cs, SL_COND_DOMAIN, first, count);
	}
	cond_strings(c, cs, SL_COND_PROCESS, r->processes, r->nprocesses);
	return rc;
}

/* The index of a tag that exists: conf_check.c refused the others. */
static uint32_t
tag_index(const struct sl_conf *cf, const char *tag, int balancer)
{
	size_t n = balancer ? cf->routing.nbalancers : cf->noutbounds;

	for (size_t i = 0; i < n; i++) {
		const char *t = balancer ? cf->routing.balancers[i].tag :
		    cf->outbounds[i].tag;
		if (t != NULL && strcmp(t, tag) == 0)
			return (uint32_t)i;
	}
	return SL_IMG_NONE;
}

static int
add_rule(struct cc *c, const struct sl_conf_rule *r)
{
	struct sl_img_rule rec;
	struct conds cs = { .n = 0 };
	int bal = r->outbound_tag == NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	rc = rule_conds(c, r, &cs);
	rec.rule_tag = sl_imgb_cstr(&c->b, r->rule_tag ? r->rule_tag : "");
	rec.target_kind = bal ? SL_IMG_TARGET_BALANCER :
	    SL_IMG_TARGET_OUTBOUND;
	rec.target = tag_index(c->cf, bal ? r->balancer_tag : r->outbound_tag,
	    bal);
	rec.conds_first = sl_imgb_count(&c->b, SL_SECT_CONDS,
	    sizeof(struct sl_img_cond));
	rec.conds_count = (uint32_t)cs.n;
	for (size_t i = 0; i < cs.n; i++)
		sl_imgb_add(&c->b, SL_SECT_CONDS, &cs.v[i], sizeof(cs.v[i]));
	sl_imgb_add(&c->b, SL_SECT_RULES, &rec, sizeof(rec));
	return rc;
}

/* ---- balancers and observers ---- */

struct tagged {
	const char	*tag;
	uint32_t	 idx;
};

static int
cmp_tagged(const void *a, const void *b)
{
	return strcmp(((const struct tagged *)a)->tag,
	    ((const struct tagged *)b)->tag);
}

static int
has_prefix_in(const char *tag, const char *const *sel, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(tag, sel[i], strlen(sel[i])) == 0)
			return 1;
	return 0;
}

/* Tagged outbounds whose tag starts with a selector, sorted by tag. */
static uint32_t
select_outbounds(struct cc *c, const char *const *sel, size_t nsel,
    uint32_t *count)
{
	const struct sl_conf *cf = c->cf;
	struct tagged *v = calloc(cf->noutbounds + 1, sizeof(*v));
	uint32_t first = sl_imgb_count(&c->b, SL_SECT_U32, sizeof(uint32_t));
	size_t n = 0;

	if (v == NULL) {
		c->b.failed = 1;
		return first;
	}
	for (size_t i = 0; i < cf->noutbounds; i++)
		if (*cf->outbounds[i].tag != '\0' &&
		    has_prefix_in(cf->outbounds[i].tag, sel, nsel)) {
			v[n].tag = cf->outbounds[i].tag;
			v[n++].idx = (uint32_t)i;
		}
	qsort(v, n, sizeof(*v), cmp_tagged);
	for (size_t i = 0; i < n; i++)
		sl_imgb_add(&c->b, SL_SECT_U32, &v[i].idx, sizeof(uint32_t));
	*count = (uint32_t)n;
	free(v);
	return first;
}

static uint32_t
ppm(double v)
{
	return v <= 0 ? 0 : v >= 4294.0 ? UINT32_MAX : (uint32_t)(v * 1e6 + 0.5);
}

static void
add_costs(struct cc *c, const struct sl_conf_balancer *b,
    struct sl_img_balancer *rec)
{
	rec->costs_first = sl_imgb_count(&c->b, SL_SECT_COSTS,
	    sizeof(struct sl_img_cost));
	rec->costs_count = (uint32_t)b->ncosts;
	for (size_t i = 0; i < b->ncosts; i++) {
		struct sl_img_cost k;

		memset(&k, 0, sizeof(k));
		k.is_regex = (uint32_t)b->costs[i].regexp;
		k.match = sl_imgb_cstr(&c->b, b->costs[i].match);
		if (k.is_regex)
			k.regex = sl_rx_add(&c->b, b->costs[i].match,
			    strlen(b->costs[i].match));
		k.value_ppm = ppm(b->costs[i].value);
		sl_imgb_add(&c->b, SL_SECT_COSTS, &k, sizeof(k));
	}
}

static void
add_balancer(struct cc *c, const struct sl_conf_balancer *b)
{
	struct sl_img_balancer rec;

	memset(&rec, 0, sizeof(rec));
	rec.tag = sl_imgb_cstr(&c->b, b->tag);
	rec.strategy = (uint32_t)b->strategy;
	rec.fallback = b->fallback_tag != NULL ?
	    tag_index(c->cf, b->fallback_tag, 0) : SL_IMG_NONE;
	rec.cands_first = select_outbounds(c, b->selectors, b->nselectors,
	    &rec.cands_count);
	rec.expected = b->expected;
	rec.max_rtt_ms = b->max_rtt_ms;
	rec.tolerance_ppm = ppm(b->tolerance);
	rec.baselines_first = sl_imgb_count(&c->b, SL_SECT_U32,
	    sizeof(uint32_t));
	rec.baselines_count = (uint32_t)b->nbaselines;
	for (size_t i = 0; i < b->nbaselines; i++)
		sl_imgb_add(&c->b, SL_SECT_U32, &b->baselines_ms[i],
		    sizeof(uint32_t));
	add_costs(c, b, &rec);
	sl_imgb_add(&c->b, SL_SECT_BALANCERS, &rec, sizeof(rec));
}

static void
add_observer(struct cc *c, const struct sl_conf_observatory *o)
{
	struct sl_img_observer rec;

	if (!o->present)
		return;
	memset(&rec, 0, sizeof(rec));
	rec.kind = o->burst ? SL_IMG_OBS_BURST : SL_IMG_OBS_PLAIN;
	rec.subjects_first = select_outbounds(c, o->selectors, o->nselectors,
	    &rec.subjects_count);
	rec.url = sl_imgb_cstr(&c->b, o->url);
	rec.connectivity = sl_imgb_cstr(&c->b, o->connectivity ?
	    o->connectivity : "");
	rec.method = sl_imgb_cstr(&c->b, o->method ? o->method : "GET");
	rec.interval_ms = o->interval_ms;
	rec.sampling = o->sampling ? o->sampling : 1;
	rec.timeout_ms = o->timeout_ms;
	rec.concurrent = (uint32_t)o->concurrent;
	sl_imgb_add(&c->b, SL_SECT_OBSERVERS, &rec, sizeof(rec));
}

int
cc_routing(struct cc *c)
{
	const struct sl_conf_routing *r = &c->cf->routing;
	int rc = 0;

	for (size_t i = 0; i < r->nbalancers; i++)
		add_balancer(c, &r->balancers[i]);
	for (size_t i = 0; i < r->nrules; i++)
		if (add_rule(c, &r->rules[i]) == -1)
			rc = -1;
	add_observer(c, &c->cf->observatory);
	add_observer(c, &c->cf->burst_observatory);
	return rc;
}

/* ---- sniffing ---- */

int
cc_sniffing(struct cc *c, const struct sl_conf_inbound *in,
    struct sl_img_inbound *rec)
{
	const struct sl_conf_sniffing *s = &in->sniffing;
	int rc = 0;

	if (!s->enabled)
		return 0;
	rec->sniff = SL_IMG_SNIFF_ON |
	    (s->metadata_only ? SL_IMG_SNIFF_META_ONLY : 0) |
	    (s->route_only ? SL_IMG_SNIFF_ROUTE_ONLY : 0);
	/* SL_SNIFF_* and SL_IMG_PROTO_* share their bit values. */
	rec->sniff_override = (uint8_t)s->dest_override;
	if (s->ndomains_excluded > 0 && domain_field(c, s->domains_excluded,
	    s->ndomains_excluded, &rec->sniff_excl_first,
	    &rec->sniff_excl_count) == -1)
		rc = -1;
	if (s->nips_excluded > 0)
		rec->sniff_ips_excl = ip_field(c, s->ips_excluded,
		    s->nips_excluded, &rc) + 1;
	return rc;
}
