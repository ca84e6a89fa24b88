/*
 * conf_route: the routing part of the configuration schema.
 *
 * Owns "routing" (domainStrategy, rules, balancers and their strategies),
 * "observatory", "burstObservatory" and the inbounds' "sniffing" object,
 * following spec/xray-routing.md sections 1.2-1.9, 5.1 and 6.1-6.3:
 * Xray's aliases and precedences, its defaults, and an error for what
 * Xray would refuse or silently never match.  Rule strings are parsed in
 * conf_match.c; references between objects (outboundTag, balancerTag,
 * fallbackTag, the observatory a strategy needs) are checked in
 * conf_check.c once the whole model exists.
 */
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"

#define OBS_URL		"https://www.google.com/generate_204"
#define OBS_INTERVAL_MS	10000
#define OBS_TIMEOUT_MS	5000		/* fixed in Xray's observer */
#define BURST_URL	"https://connectivitycheck.gstatic.com/generate_204"
#define BURST_INTERVAL_MS 60000
#define BURST_MIN_MS	10000
#define BURST_SAMPLING	10
#define BURST_TIMEOUT_MS 5000

/* ------------------------------------------------------------------ */
/* rules                                                               */

static void
user_item(struct walk *w, const struct sl_node *at, const char *s, void *arg)
{
	struct walk_vec *v = arg;

	if (s[0] == '\0') {
		walk_err(w, at, "empty item");
		return;
	}
	/* "regexp:" alone is an e-mail address, as in Xray. */
	if (strncmp(s, "regexp:", 7) == 0 && s[7] != '\0' &&
	    !walk_regex(w, at, s, s + 7))
		return;
	*(const char **)walk_vec_push(w, v) = sl_arena_strdup(&w->conf->arena,
	    s);
}

static void
rule_users(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct walk_vec v = { .sz = sizeof(const char *) };

	walk_string_list(w, n, user_item, &v);
	r->users = v.p;
	r->nusers = v.n;
}

static void
attr_add(struct walk *w, const struct sl_node *at, const char *key,
    const char *regex, struct walk_vec *v)
{
	struct sl_conf_attr *a = v->p;
	char *k = walk_lower(sl_arena_strdup(&w->conf->arena, key));
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(a[i].key, k) == 0) {
			walk_err(w, at, "attribute \"%s\" is given twice", k);
			return;
		}
	if (!walk_regex(w, at, regex, regex))
		return;
	a = walk_vec_push(w, v);
	a->key = k;
	a->regex = sl_arena_strdup(&w->conf->arena, regex);
}

/* libconfig cannot name ":method": it may list { key; value; } pairs. */
static void
attr_pair(struct walk *w, const struct sl_node *el, struct walk_vec *v)
{
	static const char *const known[] = { "key", "value", NULL };
	const char *key = NULL, *value = NULL;
	struct sl_node n;

	if (!walk_want(w, el, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, el, known, NULL);
	if (walk_opt_nonempty(w, el, "key", &key) == 0)
		walk_missing(w, el, "key", NULL);
	if (walk_opt_str(w, el, "value", &value) == 0)
		walk_missing(w, el, "value", NULL);
	walk_get(el, "value", &n);
	if (key != NULL && value != NULL)
		attr_add(w, &n, key, value, v);
}

static void
rule_attrs(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct walk_vec v = { .sz = sizeof(struct sl_conf_attr) };
	struct sl_node m;
	size_t i, len = walk_length(n);

	if (walk_kind(n) == SL_NODE_ARRAY && !n->ops->json) {
		for (i = 0; i < len; i++) {
			walk_nth(n, i, &m);
			attr_pair(w, &m, &v);
		}
	} else if (walk_want(w, n, SL_NODE_OBJECT)) {
		for (i = 0; i < len; i++) {
			walk_nth(n, i, &m);
			if (walk_want(w, &m, SL_NODE_STRING))
				attr_add(w, &m, m.name, m.ops->string(m.h), &v);
		}
	}
	r->attrs = v.p;
	r->nattrs = v.n;
}

/* outboundTag wins over balancerTag; "" is the same as absent. */
static void
rule_target(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	const char *out = "", *bal = "";

	if (walk_opt_str(w, n, "outboundTag", &out) < 0 ||
	    walk_opt_str(w, n, "balancerTag", &bal) < 0)
		return;
	if (out[0] != '\0')
		r->outbound_tag = out;
	else if (bal[0] != '\0')
		r->balancer_tag = bal;
	else
		walk_err(w, n, "neither outboundTag nor balancerTag is given");
}

static void
rule_ips(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct sl_node f, src;
	struct sl_conf_ip *ips;
	size_t nips;

	if (walk_get(n, "ip", &f))
		walk_ip_list(w, &f, &r->ips, &r->nips);
	/* "source" counts only without "sourceIP"; both are checked. */
	if (walk_get(n, "source", &src))
		walk_ip_list(w, &src, &r->source_ips, &r->nsource_ips);
	if (walk_get(n, "sourceIP", &f)) {
		walk_ip_list(w, &f, &ips, &nips);
		r->source_ips = ips;
		r->nsource_ips = nips;
	}
	if (walk_get(n, "localIP", &f))
		walk_ip_list(w, &f, &r->local_ips, &r->nlocal_ips);
}

static void
rule_domains(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct sl_node f;

	/* "domains" overwrites "domain"; both are checked. */
	if (walk_get(n, "domain", &f))
		walk_domain_list(w, &f, &r->domains, &r->ndomains);
	if (walk_get(n, "domains", &f))
		walk_domain_list(w, &f, &r->domains, &r->ndomains);
}

static void
rule_ports(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct sl_node f;

	/* Port 0 is what a condition sees when the port is unknown. */
	if (walk_get(n, "port", &f))
		walk_port_list(w, &f, 0, &r->ports, &r->nports);
	if (walk_get(n, "sourcePort", &f))
		walk_port_list(w, &f, 0, &r->source_ports, &r->nsource_ports);
	if (walk_get(n, "localPort", &f))
		walk_port_list(w, &f, 0, &r->local_ports, &r->nlocal_ports);
	if (walk_get(n, "vlessRoute", &f))
		walk_port_list(w, &f, 0, &r->vless_routes, &r->nvless_routes);
}

static void
rule_strings(struct walk *w, const struct sl_node *n, struct sl_conf_rule *r)
{
	struct sl_node f;
	size_t i;

	if (walk_get(n, "network", &f)) {
		walk_network_list(w, &f, SL_NET_TCP | SL_NET_UDP | SL_NET_UNIX,
		    &r->networks);
		r->has_network = r->networks != 0;
	}
	if (walk_get(n, "user", &f))
		rule_users(w, &f, r);
	if (walk_get(n, "inboundTag", &f))
		walk_strings(w, &f, 0, &r->inbound_tags, &r->ninbound_tags);
	if (walk_get(n, "protocol", &f))
		walk_strings(w, &f, 0, &r->protocols, &r->nprotocols);
	if (walk_get(n, "attrs", &f))
		rule_attrs(w, &f, r);
	if (walk_get(n, "process", &f))
		walk_strings(w, &f, 0, &r->processes, &r->nprocesses);
	/* Compared case-insensitively with the OS name ("linux"). */
	if (walk_get(n, "localOS", &f))
		walk_strings(w, &f, 0, &r->local_os, &r->nlocal_os);
	for (i = 0; i < r->nlocal_os; i++)
		walk_lower((char *)(uintptr_t)r->local_os[i]);
}

static int
rule_has_condition(const struct sl_conf_rule *r)
{
	return r->ndomains || r->nips || r->nsource_ips || r->nlocal_ips ||
	    r->nports || r->nsource_ports || r->nlocal_ports ||
	    r->nvless_routes || r->has_network || r->nusers ||
	    r->ninbound_tags || r->nprotocols || r->nattrs ||
	    r->nprocesses || r->nlocal_os;
}

static void
walk_rule(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "outboundTag", "balancerTag",
	    "ruleTag", "type", "domain", "domains", "ip", "port",
	    "sourcePort", "localPort", "network", "sourceIP", "source",
	    "localIP", "user", "vlessRoute", "inboundTag", "protocol", "attrs",
	    "process", "localOS", NULL };
	static const char *const unsup[] = { "webhook", NULL };
	static const struct walk_name types[] = { { "field", 0 }, { "", 0 },
	    { NULL, 0 } };
	struct sl_conf_rule *r = elem;
	int before = w->nerr, v;

	(void)ctx;
	walk_where(w, n, &r->where);
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, unsup);
	/* Xray no longer reads "type"; "field" was the only kind left. */
	walk_opt_enum(w, n, "type", types, NULL, "field", &v);
	rule_target(w, n, r);
	if (walk_opt_str(w, n, "ruleTag", &r->rule_tag) > 0 &&
	    r->rule_tag[0] == '\0')
		r->rule_tag = NULL;
	rule_domains(w, n, r);
	rule_ips(w, n, r);
	rule_ports(w, n, r);
	rule_strings(w, n, r);
	if (w->nerr == before && !rule_has_condition(r))
		walk_err(w, n, "this rule has no effective fields (a rule for "
		    "everything can say \"network\": \"tcp,udp\")");
}

/* ------------------------------------------------------------------ */
/* balancers                                                           */

static void
walk_cost(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "regexp", "match", "value",
	    NULL };
	struct sl_conf_cost *c = elem;
	struct sl_node m;

	(void)ctx;
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	walk_opt_bool(w, n, "regexp", &c->regexp);
	if (walk_opt_str(w, n, "match", &c->match) == 0)
		walk_missing(w, n, "match", NULL);
	walk_opt_real(w, n, "value", -DBL_MAX, DBL_MAX, &c->value);
	if (c->regexp && c->match != NULL) {
		walk_get(n, "match", &m);
		walk_regex(w, &m, c->match, c->match);
	}
}

static void
walk_baselines(struct walk *w, const struct sl_node *arr,
    struct sl_conf_balancer *b)
{
	struct sl_node el;
	size_t i, n = walk_length(arr);

	b->baselines_ms = sl_arena_alloc(&w->conf->arena,
	    n * sizeof(*b->baselines_ms));
	for (i = 0; i < n; i++) {
		walk_nth(arr, i, &el);
		if (!walk_duration(w, &el, &b->baselines_ms[b->nbaselines]))
			continue;
		/* Xray drops zero baselines; a config that has one is wrong. */
		if (b->baselines_ms[b->nbaselines] == 0)
			walk_err(w, &el, "a baseline must be longer than 0");
		else
			b->nbaselines++;
	}
}

static void
walk_least_load(struct walk *w, const struct sl_node *s,
    struct sl_conf_balancer *b)
{
	static const char *const known[] = { "costs", "baselines",
	    "expected", "maxRTT", "tolerance", NULL };
	struct sl_node n;
	int64_t v;

	walk_check_fields(w, s, known, NULL);
	if (walk_get(s, "costs", &n) && walk_want(w, &n, SL_NODE_ARRAY))
		b->costs = walk_each(w, &n, sizeof(*b->costs), &b->ncosts,
		    walk_cost, NULL);
	if (walk_get(s, "baselines", &n) && walk_want(w, &n, SL_NODE_ARRAY))
		walk_baselines(w, &n, b);
	if (walk_opt_int(w, s, "expected", 0, INT32_MAX, &v) > 0)
		b->expected = (int)v;
	walk_opt_duration(w, s, "maxRTT", &b->max_rtt_ms);
	walk_opt_real(w, s, "tolerance", 0, 1, &b->tolerance);
}

static const struct walk_name strategies[] = {
	{ "random", SL_BAL_RANDOM }, { "", SL_BAL_RANDOM },
	{ "roundRobin", SL_BAL_ROUNDROBIN }, { "leastPing", SL_BAL_LEASTPING },
	{ "leastLoad", SL_BAL_LEASTLOAD }, { NULL, 0 }
};

static void
walk_strategy(struct walk *w, const struct sl_node *bal,
    struct sl_conf_balancer *b)
{
	static const char *const known[] = { "type", "settings", NULL };
	struct sl_node st, s;
	int v;

	if (!walk_get(bal, "strategy", &st) ||
	    !walk_want(w, &st, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &st, known, NULL);
	switch (walk_opt_enum(w, &st, "type", strategies, NULL, "random, "
	    "roundRobin, leastPing or leastLoad", &v)) {
	case 1:
		b->strategy = (enum sl_balance)v;
		break;
	case -1:
		return;		/* its settings cannot be judged */
	}
	if (!walk_get(&st, "settings", &s) || !walk_want(w, &s, SL_NODE_OBJECT))
		return;
	if (b->strategy == SL_BAL_LEASTLOAD)
		walk_least_load(w, &s, b);
	else if (!walk_is_empty(&s))
		walk_err(w, &s, "only strategy leastLoad has settings");
}

static void
walk_balancer(struct walk *w, const struct sl_node *n, void *elem,
    const void *ctx)
{
	static const char *const known[] = { "tag", "selector", "strategy",
	    "fallbackTag", NULL };
	struct sl_conf_balancer *b = elem;
	struct sl_node sel;

	(void)ctx;
	walk_where(w, n, &b->where);
	b->strategy = SL_BAL_RANDOM;
	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	if (walk_opt_nonempty(w, n, "tag", &b->tag) == 0)
		walk_missing(w, n, "tag", NULL);
	/* A selector is a tag prefix: "" (every outbound) is allowed. */
	if (!walk_get(n, "selector", &sel))
		walk_missing(w, n, "selector", NULL);
	else {
		walk_strings(w, &sel, 1, &b->selectors, &b->nselectors);
		if (b->nselectors == 0 && walk_kind(&sel) == SL_NODE_ARRAY)
			walk_err(w, &sel, "must not be empty");
	}
	walk_strategy(w, n, b);
	if (walk_opt_str(w, n, "fallbackTag", &b->fallback_tag) > 0 &&
	    b->fallback_tag[0] == '\0')
		b->fallback_tag = NULL;
}

/* ------------------------------------------------------------------ */
/* routing                                                             */

static const struct walk_name domain_strategies[] = {
	{ "AsIs", SL_DS_ASIS }, { "", SL_DS_ASIS },
	{ "IPIfNonMatch", SL_DS_IPIFNONMATCH },
	{ "IPOnDemand", SL_DS_IPONDEMAND }, { NULL, 0 }
};

void
walk_routing(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "domainStrategy", "rules",
	    "balancers", "domainMatcher", NULL };
	struct sl_conf_routing *rt = &w->conf->routing;
	struct sl_node n, arr;
	const char *ignored;
	int v;

	if (!walk_get(root, "routing", &n) || !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, &n, known, NULL);
	if (walk_opt_enum(w, &n, "domainStrategy", domain_strategies, NULL,
	    "AsIs, IPIfNonMatch or IPOnDemand", &v) > 0)
		rt->domain_strategy = (enum sl_domain_strategy)v;
	/* Removed from Xray (one matcher for all now): accepted, ignored. */
	walk_opt_str(w, &n, "domainMatcher", &ignored);
	if (walk_get(&n, "rules", &arr) && walk_want(w, &arr, SL_NODE_ARRAY))
		rt->rules = walk_each(w, &arr, sizeof(*rt->rules), &rt->nrules,
		    walk_rule, NULL);
	if (walk_get(&n, "balancers", &arr) &&
	    walk_want(w, &arr, SL_NODE_ARRAY))
		rt->balancers = walk_each(w, &arr, sizeof(*rt->balancers),
		    &rt->nbalancers, walk_balancer, NULL);
}

/* ------------------------------------------------------------------ */
/* observatory, burstObservatory                                       */

/* Probe URLs are fetched by the observer: http or https only. */
static void
opt_url(struct walk *w, const struct sl_node *obj, const char *name,
    const char **url)
{
	struct sl_node n;
	const char *s;
	size_t len;

	if (walk_opt_str(w, obj, name, &s) <= 0)
		return;
	/* Xray trims these URLs. */
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		((char *)(uintptr_t)s)[--len] = '\0';
	if (len == 0)
		return;
	if (strncasecmp(s, "http://", 7) != 0 &&
	    strncasecmp(s, "https://", 8) != 0) {
		walk_get(obj, name, &n);
		walk_err(w, &n, "\"%s\" is not an http:// or https:// URL", s);
		return;
	}
	*url = s;
}

static void
walk_observatory(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "subjectSelector", "probeURL",
	    "probeInterval", "enableConcurrency", NULL };
	struct sl_conf_observatory *o = &w->conf->observatory;
	struct sl_node n, sel;

	if (!walk_get(root, "observatory", &n) ||
	    !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	o->present = 1;
	walk_where(w, &n, &o->where);
	o->url = OBS_URL;
	o->method = "GET";
	o->sampling = 1;
	o->timeout_ms = OBS_TIMEOUT_MS;
	walk_check_fields(w, &n, known, NULL);
	if (walk_get(&n, "subjectSelector", &sel))
		walk_strings(w, &sel, 1, &o->selectors, &o->nselectors);
	opt_url(w, &n, "probeURL", &o->url);
	walk_opt_duration(w, &n, "probeInterval", &o->interval_ms);
	if (o->interval_ms == 0)
		o->interval_ms = OBS_INTERVAL_MS;
	walk_opt_bool(w, &n, "enableConcurrency", &o->concurrent);
}

static const struct walk_name methods[] = {
	{ "HEAD", 0 }, { "", 0 }, { "GET", 1 }, { NULL, 0 }
};

static void
walk_ping_config(struct walk *w, const struct sl_node *p,
    struct sl_conf_observatory *o)
{
	static const char *const known[] = { "destination", "connectivity",
	    "interval", "sampling", "timeout", "httpMethod", NULL };
	int64_t v;
	int m;

	walk_check_fields(w, p, known, NULL);
	opt_url(w, p, "destination", &o->url);
	opt_url(w, p, "connectivity", &o->connectivity);
	walk_opt_duration(w, p, "interval", &o->interval_ms);
	/* Xray raises shorter intervals to 10 s (with a warning). */
	if (o->interval_ms == 0)
		o->interval_ms = BURST_INTERVAL_MS;
	else if (o->interval_ms < BURST_MIN_MS)
		o->interval_ms = BURST_MIN_MS;
	if (walk_opt_int(w, p, "sampling", 0, INT32_MAX, &v) > 0 && v > 0)
		o->sampling = (uint32_t)v;
	if (walk_opt_duration(w, p, "timeout", &o->timeout_ms) > 0 &&
	    o->timeout_ms == 0)
		o->timeout_ms = BURST_TIMEOUT_MS;
	if (walk_opt_enum(w, p, "httpMethod", methods, NULL, "HEAD or GET",
	    &m) > 0)
		o->method = m ? "GET" : "HEAD";
}

static void
walk_burst(struct walk *w, const struct sl_node *root)
{
	static const char *const known[] = { "subjectSelector", "pingConfig",
	    NULL };
	struct sl_conf_observatory *o = &w->conf->burst_observatory;
	struct sl_node n, sel, p;

	if (!walk_get(root, "burstObservatory", &n) ||
	    !walk_want(w, &n, SL_NODE_OBJECT))
		return;
	o->present = 1;
	o->burst = 1;
	walk_where(w, &n, &o->where);
	o->url = BURST_URL;
	o->method = "HEAD";
	o->interval_ms = BURST_INTERVAL_MS;
	o->sampling = BURST_SAMPLING;
	o->timeout_ms = BURST_TIMEOUT_MS;
	walk_check_fields(w, &n, known, NULL);
	if (walk_get(&n, "subjectSelector", &sel))
		walk_strings(w, &sel, 1, &o->selectors, &o->nselectors);
	if (!walk_get(&n, "pingConfig", &p))
		walk_missing(w, &n, "pingConfig", "required field is missing "
		    "(Xray: BurstObservatory requires a valid pingConfig)");
	else if (walk_want(w, &p, SL_NODE_OBJECT))
		walk_ping_config(w, &p, o);
}

void
walk_observatories(struct walk *w, const struct sl_node *root)
{
	walk_observatory(w, root);
	walk_burst(w, root);
}

/* ------------------------------------------------------------------ */
/* inbound sniffing                                                    */

static const struct walk_name sniffers[] = {
	{ "http", SL_SNIFF_HTTP }, { "tls", SL_SNIFF_TLS },
	{ "https", SL_SNIFF_TLS }, { "ssl", SL_SNIFF_TLS },
	{ "quic", SL_SNIFF_QUIC }, { "bittorrent", SL_SNIFF_BT }, { NULL, 0 }
};

static void
sniff_item(struct walk *w, const struct sl_node *at, const char *s,
    void *arg)
{
	struct sl_conf_sniffing *sn = arg;
	int v;

	if (walk_lookup(sniffers, s, &v))
		sn->dest_override |= (unsigned)v;
	else if (strcasecmp(s, "fakedns") == 0 ||
	    strcasecmp(s, "fakedns+others") == 0)
		walk_err(w, at, "unsupported value \"%s\" (sluice has no "
		    "FakeDNS)", s);
	else
		walk_err(w, at, "unknown value \"%s\" (expected http, tls, "
		    "quic or bittorrent)", s);
}

void
walk_sniffing(struct walk *w, const struct sl_node *n,
    struct sl_conf_sniffing *sn)
{
	static const char *const known[] = { "enabled", "destOverride",
	    "domainsExcluded", "ipsExcluded", "metadataOnly", "routeOnly",
	    NULL };
	struct sl_node f;

	if (!walk_want(w, n, SL_NODE_OBJECT))
		return;
	walk_check_fields(w, n, known, NULL);
	walk_opt_bool(w, n, "enabled", &sn->enabled);
	if (walk_get(n, "destOverride", &f))
		walk_string_list(w, &f, sniff_item, sn);
	if (walk_get(n, "domainsExcluded", &f))
		walk_domain_list(w, &f, &sn->domains_excluded,
		    &sn->ndomains_excluded);
	if (walk_get(n, "ipsExcluded", &f))
		walk_ip_list(w, &f, &sn->ips_excluded, &sn->nips_excluded);
	walk_opt_bool(w, n, "metadataOnly", &sn->metadata_only);
	walk_opt_bool(w, n, "routeOnly", &sn->route_only);
}
