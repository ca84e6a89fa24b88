/*
 * conf_check: defaults and cross-checks, shared by both front ends.
 *
 * Owns the default values of the model (Xray's code defaults where Xray
 * has one) and every rule that spans several objects: unique tags, unique
 * users per inbound, unique listen addresses, policy level 0, Vision
 * needing TLS, the tags routing rules and balancers name, the observatory
 * a balancing strategy needs, a server for socks/http outbounds.  Works
 * on the model only, never on a syntax tree, and tolerates a partly
 * filled model so that it can run after schema errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"

#define DEF_PID_FILE		"/run/sluice/sluiced.pid"
#define DEF_CONTROL_SOCKET	"/run/sluice/control.sock"
#define DEF_STATE_DB		"/var/lib/sluice/sluice.db"
#define DEF_STATS_INTERVAL	10
#define DEF_SHUTDOWN_TIMEOUT	30

void
sl_conf_defaults(struct sl_conf *conf)
{
	conf->log.access = "";
	conf->log.error = "";
	conf->log.loglevel = SL_LOG_WARNING;
	conf->sluice.workers = 0;
	conf->sluice.pid_file = DEF_PID_FILE;
	conf->sluice.control_socket = DEF_CONTROL_SOCKET;
	conf->sluice.state_db = DEF_STATE_DB;
	conf->sluice.relay = SL_RELAY_COPY;
	conf->sluice.stats_interval = DEF_STATS_INTERVAL;
	conf->sluice.shutdown_timeout = DEF_SHUTDOWN_TIMEOUT;
}

/* Xray features/policy SessionDefault(), not the documentation's values. */
void
sl_conf_level_defaults(struct sl_conf_level *l, int level)
{
	l->level = level;
	l->handshake_ms = 60 * 1000;
	l->conn_idle_ms = 300 * 1000;
	l->uplink_only_ms = 1 * 1000;
	l->downlink_only_ms = 1 * 1000;
}

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static void
inbound_defaults(struct sl_conf_inbound *in)
{
	size_t i;

	in->tag = or_empty(in->tag);
	if (in->listen == NULL)
		in->listen = "0.0.0.0";
	in->server_name = or_empty(in->server_name);
	for (i = 0; i < in->nclients; i++) {
		in->clients[i].email = or_empty(in->clients[i].email);
		in->clients[i].flow = or_empty(in->clients[i].flow);
	}
	for (i = 0; i < in->nfallbacks; i++) {
		struct sl_conf_fallback *fb = &in->fallbacks[i];

		fb->name = or_empty(fb->name);
		fb->alpn = or_empty(fb->alpn);
		fb->path = or_empty(fb->path);
	}
}

static void
fill_defaults(struct sl_conf *conf)
{
	size_t i;

	conf->log.access = or_empty(conf->log.access);
	conf->log.error = or_empty(conf->log.error);
	for (i = 0; i < conf->ninbounds; i++)
		inbound_defaults(&conf->inbounds[i]);
	for (i = 0; i < conf->noutbounds; i++)
		conf->outbounds[i].tag = or_empty(conf->outbounds[i].tag);
}

static int
level_cmp(const void *a, const void *b)
{
	const struct sl_conf_level *x = a, *y = b;

	return (x->level > y->level) - (x->level < y->level);
}

/* Sorted by level, level 0 always present (defaults when not written). */
static void
check_levels(struct sl_conf *conf)
{
	struct sl_conf_level *l;
	size_t i;

	for (i = 0; i < conf->nlevels; i++)
		if (conf->levels[i].level == 0)
			break;
	if (i == conf->nlevels) {
		l = sl_arena_grow(&conf->arena, conf->levels,
		    conf->nlevels * sizeof(*l), (conf->nlevels + 1) * sizeof(*l));
		sl_conf_level_defaults(&l[conf->nlevels], 0);
		conf->levels = l;
		conf->nlevels++;
	}
	qsort(conf->levels, conf->nlevels, sizeof(*conf->levels), level_cmp);
}

/* Non-empty tags are unique (Xray keeps untagged handlers apart). */
static void
check_tags(struct sl_conf *conf, struct sl_errors *errs)
{
	size_t i, j;

	for (i = 0; i < conf->ninbounds; i++)
		for (j = 0; j < i; j++)
			if (conf->inbounds[i].tag[0] != '\0' &&
			    strcmp(conf->inbounds[i].tag,
			    conf->inbounds[j].tag) == 0) {
				sl_errors_add(errs, &conf->inbounds[i].where,
				    "duplicate tag \"%s\" (also %s)",
				    conf->inbounds[i].tag,
				    or_empty(conf->inbounds[j].where.path));
				break;
			}
	for (i = 0; i < conf->noutbounds; i++)
		for (j = 0; j < i; j++)
			if (conf->outbounds[i].tag[0] != '\0' &&
			    strcmp(conf->outbounds[i].tag,
			    conf->outbounds[j].tag) == 0) {
				sl_errors_add(errs, &conf->outbounds[i].where,
				    "duplicate tag \"%s\" (also %s)",
				    conf->outbounds[i].tag,
				    or_empty(conf->outbounds[j].where.path));
				break;
			}
}

/* Two inbounds on one address and port could never both bind. */
static void
check_listen(struct sl_conf *conf, struct sl_errors *errs)
{
	struct sl_conf_inbound *a, *b;
	size_t i, j;

	for (i = 0; i < conf->ninbounds; i++) {
		a = &conf->inbounds[i];
		for (j = 0; j < i && a->port != 0; j++) {
			b = &conf->inbounds[j];
			if (a->port == b->port &&
			    strcmp(a->listen, b->listen) == 0) {
				sl_errors_add(errs, &a->where,
				    "%s port %d is already used by %s",
				    a->listen, a->port, or_empty(b->where.path));
				break;
			}
		}
	}
}

/*
 * Clients of one inbound: ids (VLESS) or passwords (Trojan) must differ,
 * or one user would shadow the other; emails must differ (case-insensitive,
 * as Xray's validators refuse them).  Sorted copies keep it O(n log n).
 */
static int
client_key_cmp(const void *a, const void *b)
{
	const struct sl_conf_client *x = *(const struct sl_conf_client *const *)a;
	const struct sl_conf_client *y = *(const struct sl_conf_client *const *)b;
	int r;

	if (x->password != NULL || y->password != NULL)
		r = strcmp(x->trojan_key, y->trojan_key);
	else
		r = memcmp(x->uuid, y->uuid, sizeof(x->uuid));
	return r != 0 ? r : (x > y) - (x < y);
}

static int
client_email_cmp(const void *a, const void *b)
{
	const struct sl_conf_client *x = *(const struct sl_conf_client *const *)a;
	const struct sl_conf_client *y = *(const struct sl_conf_client *const *)b;
	int r = strcasecmp(x->email, y->email);

	return r != 0 ? r : (x > y) - (x < y);
}

static void
check_dups(const struct sl_conf_inbound *in, struct sl_conf_client **v,
    size_t n, int email, struct sl_errors *errs)
{
	const struct sl_conf_client *a, *b;
	size_t i;

	qsort(v, n, sizeof(*v), email ? client_email_cmp : client_key_cmp);
	for (i = 1; i < n; i++) {
		a = v[i - 1];
		b = v[i];	/* the later one in the file */
		if (email && (b->email[0] == '\0' ||
		    strcasecmp(a->email, b->email) != 0))
			continue;
		if (!email && (a->password != NULL ? strcmp(a->trojan_key,
		    b->trojan_key) : memcmp(a->uuid, b->uuid, 16)) != 0)
			continue;
		if (email)
			sl_errors_add(errs, &b->where, "duplicate email \"%s\" "
			    "(also %s)", b->email, or_empty(a->where.path));
		else
			sl_errors_add(errs, &b->where, "duplicate %s (also %s)",
			    in->protocol == SL_IN_TROJAN ? "password" : "id",
			    or_empty(a->where.path));
	}
}

static void
check_clients(const struct sl_conf_inbound *in, struct sl_errors *errs)
{
	struct sl_conf_client **v;
	size_t i, n = 0;

	if (in->nclients < 2)
		return;
	if ((v = calloc(in->nclients, sizeof(*v))) == NULL)
		return;
	/* Clients that failed to parse have nothing to compare. */
	for (i = 0; i < in->nclients; i++)
		if (in->clients[i].id != NULL || in->clients[i].password != NULL)
			v[n++] = &in->clients[i];
	check_dups(in, v, n, 0, errs);
	check_dups(in, v, n, 1, errs);
	free(v);
}

/* Vision splices the inner TLS out of the outer one: it needs TLS here. */
static void
check_vision(const struct sl_conf_inbound *in, struct sl_errors *errs)
{
	size_t i;

	if (in->security == SL_SEC_TLS)
		return;
	for (i = 0; i < in->nclients; i++)
		if (strcmp(in->clients[i].flow, "xtls-rprx-vision") == 0)
			sl_errors_add(errs, &in->clients[i].where,
			    "flow \"xtls-rprx-vision\" needs streamSettings.security"
			    " \"tls\" on this inbound");
}

/* ------------------------------------------------------------------ */
/* routing references                                                  */

static int
outbound_exists(const struct sl_conf *conf, const char *tag)
{
	size_t i;

	for (i = 0; i < conf->noutbounds; i++)
		if (strcmp(conf->outbounds[i].tag, tag) == 0)
			return 1;
	return 0;
}

static int
balancer_exists(const struct sl_conf *conf, const char *tag)
{
	size_t i;

	for (i = 0; i < conf->routing.nbalancers; i++)
		if (conf->routing.balancers[i].tag != NULL &&
		    strcmp(conf->routing.balancers[i].tag, tag) == 0)
			return 1;
	return 0;
}

/*
 * Xray closes a connection whose rule names a missing outbound (on
 * purpose, for reverse proxies); sluice has no such use and refuses the
 * config instead, so a typo cannot quietly drop traffic.
 */
static void
check_rules(const struct sl_conf *conf, struct sl_errors *errs)
{
	const struct sl_conf_rule *r;
	size_t i;

	for (i = 0; i < conf->routing.nrules; i++) {
		r = &conf->routing.rules[i];
		if (r->outbound_tag != NULL &&
		    !outbound_exists(conf, r->outbound_tag))
			sl_errors_add(errs, &r->where, "outboundTag \"%s\": no "
			    "outbound has this tag", r->outbound_tag);
		if (r->balancer_tag != NULL &&
		    !balancer_exists(conf, r->balancer_tag))
			sl_errors_add(errs, &r->where, "balancerTag \"%s\": no "
			    "balancer has this tag", r->balancer_tag);
	}
}

static const char *
strategy_name(enum sl_balance s)
{
	switch (s) {
	case SL_BAL_ROUNDROBIN:
		return "roundRobin";
	case SL_BAL_LEASTPING:
		return "leastPing";
	case SL_BAL_LEASTLOAD:
		return "leastLoad";
	default:
		return "random";
	}
}

/* Strategies that read health results, as Xray's feature dependency. */
static int
needs_observatory(const struct sl_conf_balancer *b)
{
	return b->strategy == SL_BAL_LEASTPING ||
	    b->strategy == SL_BAL_LEASTLOAD || b->fallback_tag != NULL;
}

static void
check_balancers(const struct sl_conf *conf, struct sl_errors *errs)
{
	const struct sl_conf_balancer *b, *o;
	size_t i, j;

	for (i = 0; i < conf->routing.nbalancers; i++) {
		b = &conf->routing.balancers[i];
		if (b->tag == NULL)
			continue;
		for (j = 0; j < i; j++) {
			o = &conf->routing.balancers[j];
			if (o->tag != NULL && strcmp(o->tag, b->tag) == 0) {
				sl_errors_add(errs, &b->where, "duplicate "
				    "balancer tag \"%s\" (also %s)", b->tag,
				    or_empty(o->where.path));
				break;
			}
		}
		if (b->fallback_tag != NULL &&
		    !outbound_exists(conf, b->fallback_tag))
			sl_errors_add(errs, &b->where, "fallbackTag \"%s\": no "
			    "outbound has this tag", b->fallback_tag);
		if (needs_observatory(b) && !conf->observatory.present &&
		    !conf->burst_observatory.present)
			sl_errors_add(errs, &b->where, "balancer \"%s\": "
			    "strategy %s%s needs an \"observatory\" or a "
			    "\"burstObservatory\" (Xray: not all dependencies "
			    "are resolved)", b->tag, strategy_name(b->strategy),
			    b->fallback_tag != NULL ? " with a fallbackTag" :
			    "");
	}
}

/* A socks or http outbound without a server could only fail. */
static void
check_proxy_servers(const struct sl_conf *conf, struct sl_errors *errs)
{
	const struct sl_conf_outbound *o;
	size_t i;

	for (i = 0; i < conf->noutbounds; i++) {
		o = &conf->outbounds[i];
		if ((o->protocol == SL_OUT_SOCKS ||
		    o->protocol == SL_OUT_HTTP) && o->server_host == NULL &&
		    o->server_port == 0)
			sl_errors_add(errs, &o->where, "%s outbound needs a "
			    "server (settings.servers, or settings.address "
			    "and settings.port)", o->protocol == SL_OUT_SOCKS ?
			    "socks" : "http");
	}
}

int
sl_conf_check(struct sl_conf *conf, struct sl_errors *errs)
{
	int before = errs->count;
	size_t i;

	fill_defaults(conf);
	check_levels(conf);
	check_tags(conf, errs);
	check_listen(conf, errs);
	for (i = 0; i < conf->ninbounds; i++) {
		check_clients(&conf->inbounds[i], errs);
		check_vision(&conf->inbounds[i], errs);
	}
	check_rules(conf, errs);
	check_balancers(conf, errs);
	check_proxy_servers(conf, errs);
	return errs->count - before;
}
