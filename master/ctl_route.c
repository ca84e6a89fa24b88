/*
 * ctl_route: `sluicectl route` -- explain a routing decision.
 *
 * Compiles the configuration exactly as sluiced does, then asks the same
 * rule engine (shm/route.c) the workers use.  Names are resolved with the
 * system resolver when domainStrategy needs them (this is a command line
 * tool; blocking is fine here) unless --no-resolve is given.  A balancer
 * picks without health data: sluicectl does not see the observatory.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "master/compile.h"
#include "master/conf.h"
#include "master/ctl.h"
#include "shm/image.h"
#include "shm/regex.h"
#include "shm/route.h"
#include "shm/types.h"
#include "shm/balancer.h"

#define MAX_ATTRS	16

struct query {
	struct sl_route_ctx	 x;
	struct sockaddr_storage	 src, loc, dst;
	char			 domain[256];
	char			 dest_text[300];
	struct sl_route_attr	 attrs[MAX_ATTRS];
	char			*attr_buf[MAX_ATTRS];
};

struct ctl {
	struct sl_conf		*cf;
	struct sl_img		 img;
	uint8_t			*buf;
	struct sl_rxtab		*rx;
	struct sl_balancer_state bal;
	int			 json, no_resolve;
};

static void
query_free(struct query *q)
{
	for (size_t i = 0; i < MAX_ATTRS; i++)
		free(q->attr_buf[i]);
}

/* "IP", "IP:PORT", "[V6]:PORT", "V6"; host names only when DOMAIN_OK. */
static int
parse_endpoint(const char *s, struct sockaddr_storage *ss, char *domain,
    size_t dcap, uint16_t *port)
{
	char host[300];
	const char *colon = strrchr(s, ':');
	size_t hl = strlen(s);
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	*port = 0;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		hl = (size_t)(end - s - 1);
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else if (colon != NULL && strchr(s, ':') == colon) {
		hl = (size_t)(colon - s);
	} else {
		colon = NULL;		/* bare IPv6 or no port */
	}
	if (colon != NULL) {
		char *e;
		long p = strtol(colon + 1, &e, 10);

		if (*e != '\0' || p < 0 || p > 65535 || colon[1] == '\0')
			return -1;
		*port = (uint16_t)p;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(*port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(*port);
		return 0;
	}
	if (domain == NULL || hl >= dcap)
		return -1;
	for (size_t i = 0; i <= hl; i++)
		domain[i] = (char)tolower((unsigned char)host[i]);
	return 1;
}

static int
find_inbound(const struct sl_img *img, const char *tag, uint32_t *idx)
{
	for (uint32_t i = 0; i < sl_img_count(img, SL_SECT_INBOUNDS); i++)
		if (strcmp(sl_img_str(img, SL_IMG_REC(img, SL_SECT_INBOUNDS,
		    struct sl_img_inbound, i)->tag), tag) == 0) {
			*idx = i;
			return 0;
		}
	return -1;
}

static int
add_attr(struct query *q, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t n = q->x.nattrs;
	char *k;

	if (eq == NULL || eq == kv || n == MAX_ATTRS ||
	    (k = strdup(kv)) == NULL)
		return -1;
	for (char *p = k; p < k + (eq - kv); p++)
		*p = (char)tolower((unsigned char)*p);
	q->attr_buf[n] = k;
	q->attrs[n].key = k;
	q->attrs[n].key_len = (size_t)(eq - kv);
	q->attrs[n].val = k + (eq - kv) + 1;
	q->attrs[n].val_len = strlen(eq + 1);
	q->x.attrs = q->attrs;
	q->x.nattrs = n + 1;
	return 0;
}

enum { O_INBOUND = 1, O_USER, O_NETWORK, O_SOURCE, O_LOCAL, O_PROTOCOL,
	O_ATTR, O_JSON, O_BATCH, O_NORESOLVE, O_CONFIG };

static const struct option route_opts[] = {
	{ "inbound", required_argument, NULL, O_INBOUND },
	{ "user", required_argument, NULL, O_USER },
	{ "network", required_argument, NULL, O_NETWORK },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "local", required_argument, NULL, O_LOCAL },
	{ "protocol", required_argument, NULL, O_PROTOCOL },
	{ "attr", required_argument, NULL, O_ATTR },
	{ "json", no_argument, NULL, O_JSON },
	{ "batch", no_argument, NULL, O_BATCH },
	{ "no-resolve", no_argument, NULL, O_NORESOLVE },
	{ "config", required_argument, NULL, O_CONFIG },
	{ NULL, 0, NULL, 0 }
};

/* One query option; 0, or -1 with a message in ERR. */
static int
query_opt(struct ctl *t, struct query *q, int o, const char *arg,
    const char **err)
{
	uint16_t port;

	switch (o) {
	case O_INBOUND:
		*err = "unknown inbound tag";
		return find_inbound(&t->img, arg, &q->x.inbound);
	case O_USER:
		q->x.user = arg;
		return 0;
	case O_NETWORK:
		*err = "network must be tcp or udp";
		q->x.network = strcmp(arg, "tcp") == 0 ? 1 :
		    strcmp(arg, "udp") == 0 ? 2 : 0;
		return q->x.network ? 0 : -1;
	case O_SOURCE:
	case O_LOCAL:
		*err = "bad address (IP[:PORT])";
		if (parse_endpoint(arg, o == O_SOURCE ? &q->src : &q->loc,
		    NULL, 0, &port) != 0)
			return -1;
		if (o == O_SOURCE) {
			q->x.source = (struct sockaddr *)&q->src;
			q->x.source_port = port;
		} else {
			q->x.local = (struct sockaddr *)&q->loc;
			q->x.local_port = port;
		}
		return 0;
	case O_PROTOCOL:
		q->x.protocol = arg;
		return 0;
	case O_ATTR:
		*err = "bad attribute (KEY=VALUE, at most 16)";
		return add_attr(q, arg);
	default:
		*err = "unknown option";
		return -1;
	}
}

static int
query_dest(struct query *q, const char *dest)
{
	int r = parse_endpoint(dest, &q->dst, q->domain, sizeof(q->domain),
	    &q->x.port);

	snprintf(q->dest_text, sizeof(q->dest_text), "%s", dest);
	if (r == 1) {
		q->x.domain = q->domain;
		q->x.domain_len = strlen(q->domain);
	} else if (r == 0) {
		q->x.target_addr = (struct sockaddr *)&q->dst;
	}
	return r < 0 ? -1 : 0;
}

/* Parse one query's arguments (options, then DEST). */
static int
query_parse(struct ctl *t, struct query *q, int argc, char **argv,
    const char **err)
{
	int o;

	memset(q, 0, sizeof(*q));
	q->x.inbound = SL_IMG_NONE;
	q->x.network = 1;
	q->x.no_dns = t->no_resolve;
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+", route_opts, NULL)) != -1) {
		if (o == O_JSON || o == O_BATCH || o == O_NORESOLVE ||
		    o == O_CONFIG) {
			*err = "this option is only valid before the queries";
			return -1;
		}
		if (o == '?' || query_opt(t, q, o, optarg, err) == -1) {
			if (o == '?')
				*err = "unknown option or missing argument";
			return -1;
		}
	}
	if (optind != argc - 1) {
		*err = "expected one DEST[:PORT]";
		return -1;
	}
	*err = "bad destination";
	return query_dest(q, argv[optind]);
}

/* domainStrategy asked for the target's addresses. */
static void
resolve(struct query *q, struct sockaddr_storage *out, size_t cap)
{
	struct addrinfo hints, *res, *ai;
	size_t n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(q->domain, NULL, &hints, &res) == 0) {
		for (ai = res; ai != NULL && n < cap; ai = ai->ai_next)
			if (ai->ai_addrlen <= sizeof(*out))
				memcpy(&out[n++], ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(res);
	}
	q->x.dns = out;
	q->x.ndns = n;
	q->x.dns_done = 1;
}

static const char *
out_tag(const struct sl_img *img, uint32_t i)
{
	return sl_img_str(img, SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, i)->tag);
}

/* Which geosite/custom list of the rule's domain field matched. */
static void
domain_detail(const struct ctl *t, const struct sl_route_result *res,
    char *buf, size_t sz)
{
	const struct sl_conf_rule *r = &t->cf->routing.rules[res->rule];
	const struct sl_img_cond *k = SL_IMG_REC(&t->img, SL_SECT_CONDS,
	    struct sl_img_cond, res->cond);
	const uint32_t *sets = SL_IMG_REC(&t->img, SL_SECT_U32, uint32_t,
	    k->a);
	size_t pos = 0, custom = 0;

	while (pos < k->b && sets[pos] != res->domset)
		pos++;
	for (size_t i = 0; i < r->ndomains; i++)
		custom += r->domains[i].type != SL_DOM_GEOSITE;
	if (custom > 0 && pos == 0) {
		snprintf(buf, sz, "custom list of %zu entries", custom);
		return;
	}
	pos -= custom > 0;
	for (size_t i = 0; i < r->ndomains; i++) {
		const struct sl_conf_domain *d = &r->domains[i];

		if (d->type != SL_DOM_GEOSITE || pos-- != 0)
			continue;
		snprintf(buf, sz, "%s%s:%s", strcmp(d->file, "geosite.dat") ?
		    "ext:" : "geosite", strcmp(d->file, "geosite.dat") ?
		    d->file : "", d->value);
		return;
	}
	snprintf(buf, sz, "?");
}

static void
explain(struct ctl *t, const struct query *q,
    const struct sl_route_result *res, uint32_t out, const char *bal)
{
	const struct sl_img *img = &t->img;
	const struct sl_img_rule *r = res->rule == SL_IMG_NONE ? NULL :
	    SL_IMG_REC(img, SL_SECT_RULES, struct sl_img_rule, res->rule);
	const char *rtag = r ? sl_img_str(img, r->rule_tag) : "";
	const char *by = "-";
	char detail[300] = "";

	if (r != NULL && res->cond != SL_IMG_NONE) {
		uint32_t kind = SL_IMG_REC(img, SL_SECT_CONDS,
		    struct sl_img_cond, res->cond)->kind;

		by = sl_route_cond_name(kind);
		if (kind == SL_COND_DOMAIN)
			domain_detail(t, res, detail, sizeof(detail));
	}
	if (t->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "dest",
		    json_object_new_string(q->dest_text));
		json_object_object_add(o, "outbound",
		    json_object_new_string(out_tag(img, out)));
		json_object_object_add(o, "rule", json_object_new_int64(r ?
		    (int64_t)res->rule : -1));
		json_object_object_add(o, "ruleTag", json_object_new_string(rtag));
		json_object_object_add(o, "balancer", bal ?
		    json_object_new_string(bal) : NULL);
		json_object_object_add(o, "decidedBy", r ?
		    json_object_new_string(by) : NULL);
		json_object_object_add(o, "detail",
		    json_object_new_string(detail));
		json_object_object_add(o, "pass", json_object_new_int(res->pass));
		json_object_object_add(o, "resolved",
		    json_object_new_boolean(res->used_dns));
		printf("%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	if (r == NULL)
		printf("%s: outbound %s (default: no rule matched)\n",
		    q->dest_text, out_tag(img, out));
	else
		printf("%s: outbound %s%s%s (rule #%u%s%s%s, decided by %s%s%s"
		    "%s)\n", q->dest_text, out_tag(img, out),
		    bal ? " via balancer " : "", bal ? bal : "", res->rule,
		    *rtag ? " \"" : "", rtag, *rtag ? "\"" : "", by,
		    *detail ? " " : "", detail,
		    res->used_dns ? ", on the resolved addresses" : "");
}

static int
route_one(struct ctl *t, int argc, char **argv)
{
	struct sockaddr_storage dns[32];
	struct sl_route_result res;
	struct query q;
	const char *err = NULL, *bal = NULL;
	uint32_t out;

	if (query_parse(t, &q, argc, argv, &err) == -1) {
		fprintf(stderr, "sluicectl route: %s\n", err);
		query_free(&q);
		return -1;
	}
	if (sl_route_pick(&t->img, t->rx, &q.x, &res) == SL_AGAIN) {
		resolve(&q, dns, SL_ARRAY_LEN(dns));
		sl_route_pick(&t->img, t->rx, &q.x, &res);
	}
	out = res.target;
	if (res.target_kind == SL_IMG_TARGET_BALANCER) {
		bal = sl_img_str(&t->img, SL_IMG_REC(&t->img,
		    SL_SECT_BALANCERS, struct sl_img_balancer,
		    res.target)->tag);
		out = sl_balancer_pick(&t->img, res.target, NULL, &t->bal);
		if (out == SL_IMG_NONE)
			out = t->img.hdr->globals.default_outbound;
	}
	explain(t, &q, &res, out, bal);
	query_free(&q);
	return 0;
}

/* --batch: one query per line, written like the command line. */
static int
route_batch(struct ctl *t)
{
	char line[4096], *argv[64];
	int rc = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		int argc = 1;

		argv[0] = "route";
		for (char *tok = strtok(line, " \t\r\n"); tok != NULL &&
		    argc < 63; tok = strtok(NULL, " \t\r\n"))
			argv[argc++] = tok;
		argv[argc] = NULL;
		if (argc == 1)
			continue;
		if (route_one(t, argc, argv) == -1) {
			rc = -1;
			if (t->json)
				printf("{\"error\":\"bad query\"}\n");
			else
				printf("error: bad query\n");
		}
		fflush(stdout);
	}
	return rc;
}

static int
ctl_load(struct ctl *t, const char *file)
{
	struct sl_errors errs;
	const char *err;
	size_t len;
	int rc = -1;

	sl_errors_init(&errs);
	t->cf = sl_conf_load(file, &errs);
	if (t->cf != NULL &&
	    sl_compile(t->cf, NULL, 0, &t->buf, &len, &errs) == 0) {
		if (sl_img_check(t->buf, len, &err) == -1)
			fprintf(stderr, "sluicectl: %s\n", err);
		else if ((t->img.base = t->buf, t->img.size = len,
		    t->img.hdr = (const struct sl_img_hdr *)t->buf,
		    t->rx = sl_rxtab_new(&t->img, &err)) == NULL ||
		    sl_balancer_state_init(&t->bal, &t->img, t->rx, &err) ==
		    -1)
			fprintf(stderr, "sluicectl: %s\n", err);
		else
			rc = 0;
	}
	if (errs.count > 0)
		fprintf(stderr, "%.*s", (int)errs.len, errs.buf);
	sl_errors_free(&errs);
	return rc;
}

int
sl_ctl_route(const char *config, int argc, char **argv)
{
	struct ctl t;
	int batch = 0, i, rc;

	memset(&t, 0, sizeof(t));
	/* Options common to every query come first. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			t.json = 1;
		else if (strcmp(argv[i], "--batch") == 0)
			batch = 1;
		else if (strcmp(argv[i], "--no-resolve") == 0)
			t.no_resolve = 1;
		else if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			config = argv[++i];
		else
			break;
	}
	if (!batch && i == argc) {
		fprintf(stderr, "usage: sluicectl route [-c CONFIG] [--json] "
		    "[--batch] [--no-resolve] [--inbound TAG] [--user EMAIL] "
		    "[--network tcp|udp] [--source IP[:PORT]] "
		    "[--local IP[:PORT]] [--protocol P] [--attr K=V]... "
		    "DEST[:PORT]\n");
		return 2;
	}
	if (ctl_load(&t, config) == -1)
		rc = 1;
	else if (batch)
		rc = route_batch(&t) == 0 ? 0 : 1;
	else {
		argv[i - 1] = "route";
		rc = route_one(&t, argc - i + 1, argv + i - 1) == 0 ? 0 : 2;
	}
	sl_balancer_state_free(&t.bal);
	sl_rxtab_free(t.rx);
	free(t.buf);
	sl_conf_free(t.cf);
	return rc;
}
