/*
 * test_conf_route: routing, sniffing, balancers, observatories and the
 * socks/http/freedom outbound settings, in both front ends.
 *
 * Run from the repository root (data in tests/data/conf/).  routing.json
 * and routing.conf hold the same configuration: each model is checked
 * against values worked out by hand from spec/xray-routing.md, then the
 * two models are compared field by field.  Error tests compare the
 * complete error text, locations included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "master/conf.h"
#include "tests/unit/helpers.h"

#define DATA	"tests/data/conf/"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* The errors of TEXT (file prefixes removed), or NULL if it loads. */
static char *
errors_of(const char *ext, const char *text)
{
	struct sl_errors e;
	struct sl_conf *c;
	char path[128], *got = NULL;

	th_file_temp(path, sizeof(path), ext, text);
	c = th_conf_load(path, &e);
	if (c == NULL) {
		assert_non_null(e.buf);
		got = th_conf_strip_file(e.buf, path);
	}
	sl_conf_free(c);
	sl_errors_free(&e);
	unlink(path);
	return got;
}

static void
expect_errors(const char *ext, const char *text, const char *expect)
{
	char *got = errors_of(ext, text);

	if (got == NULL)
		fail_msg("loaded, expected errors:\n%s", expect);
	if (strcmp(got, expect) != 0)
		fail_msg("errors differ\n--- got:\n%s--- want:\n%s", got,
		    expect);
	free(got);
}

/* One error line that starts with PREFIX (PCRE2 wording may change). */
static void
expect_error_prefix(const char *ext, const char *text, const char *prefix)
{
	char *got = errors_of(ext, text);

	if (got == NULL)
		fail_msg("loaded, expected an error starting %s", prefix);
	if (strncmp(got, prefix, strlen(prefix)) != 0 ||
	    strchr(got, '\n')[1] != '\0')
		fail_msg("errors differ\n--- got:\n%s--- want one line "
		    "starting:\n%s", got, prefix);
	free(got);
}

static struct sl_conf *
load_text(const char *ext, const char *text)
{
	struct sl_errors e;
	struct sl_conf *c;
	char path[128];

	th_file_temp(path, sizeof(path), ext, text);
	c = th_conf_load(path, &e);
	if (c == NULL)
		fail_msg("unexpected errors:\n%s", e.buf);
	sl_errors_free(&e);
	unlink(path);
	return c;
}

static struct sl_conf *
load_file(const char *file)
{
	struct sl_errors e;
	struct sl_conf *c = th_conf_load(file, &e);

	if (c == NULL)
		fail_msg("%s: unexpected errors:\n%s", file, e.buf);
	assert_int_equal(e.count, 0);
	sl_errors_free(&e);
	return c;
}

/* JSON wrappers: outbounds every test may name, and an inbound. */
#define J_OUTS	"\"outbounds\": [ { \"tag\": \"direct\", \"protocol\": " \
		"\"freedom\" }, { \"tag\": \"block\", \"protocol\": " \
		"\"blackhole\" } ]"
#define J_ROUTING(x)	"{ " J_OUTS ", \"routing\": " x " }"
#define J_RULES(x)	J_ROUTING("{ \"rules\": [ " x " ] }")
#define J_BALANCERS(x, extra) \
	"{ " J_OUTS ", \"routing\": { \"balancers\": [ " x " ] }" extra " }"
#define J_BURST	", \"burstObservatory\": { \"pingConfig\": {} }"
#define J_SNIFF(x) \
	"{ \"inbounds\": [ { \"port\": 443, \"protocol\": \"trojan\", " \
	"\"settings\": { \"clients\": [ { \"password\": \"x\" } ] }, " \
	"\"sniffing\": " x " } ], " J_OUTS " }"
#define J_OUT(x)	"{ \"outbounds\": [ " x " ] }"

static void
assert_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

static void
assert_dom(const struct sl_conf_domain *d, enum sl_dom_type type,
    const char *value, const char *file, const char *attr0,
    const char *attr1)
{
	assert_int_equal(d->type, type);
	assert_string_equal(d->value, value);
	assert_str(d->file, file);
	assert_int_equal(d->nattrs, (attr0 != NULL) + (attr1 != NULL));
	if (attr0 != NULL)
		assert_string_equal(d->attrs[0], attr0);
	if (attr1 != NULL)
		assert_string_equal(d->attrs[1], attr1);
}

/* A CIDR entry: ADDR is the masked address in network order. */
static void
assert_cidr(const struct sl_conf_ip *ip, int reverse, int family,
    const char *addr, int prefix)
{
	assert_int_equal(ip->reverse, reverse);
	assert_int_equal(ip->is_geo, 0);
	assert_int_equal(ip->cidr.family, family);
	assert_int_equal(ip->cidr.prefix, prefix);
	assert_memory_equal(ip->cidr.addr, addr, family == AF_INET ? 4 : 16);
	assert_null(ip->code);
}

static void
assert_geoip(const struct sl_conf_ip *ip, int reverse, const char *file,
    const char *code)
{
	assert_int_equal(ip->reverse, reverse);
	assert_int_equal(ip->is_geo, 1);
	assert_string_equal(ip->file, file);
	assert_string_equal(ip->code, code);
}

static void
assert_ports(const struct sl_conf_port_range *p, size_t n,
    const uint16_t *want, size_t nwant)
{
	size_t i;

	assert_int_equal(n, nwant / 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(p[i].from, want[2 * i]);
		assert_int_equal(p[i].to, want[2 * i + 1]);
	}
}

static void
assert_strings(const char *const *s, size_t n, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < n);
		assert_string_equal(s[i], want[i]);
	}
	assert_int_equal(n, i);
}

#define STRS(...)	((const char *const []){ __VA_ARGS__, NULL })
#define PORTS(...)	((const uint16_t []){ __VA_ARGS__ }), \
			sizeof((const uint16_t []){ __VA_ARGS__ }) / \
			sizeof(uint16_t)

/* ------------------------------------------------------------------ */
/* the full config, checked value by value                             */

static void
assert_sniffing(const struct sl_conf *c)
{
	const struct sl_conf_sniffing *s = &c->inbounds[0].sniffing;

	assert_int_equal(c->ninbounds, 2);
	assert_int_equal(s->enabled, 1);
	assert_int_equal(s->dest_override,
	    SL_SNIFF_HTTP | SL_SNIFF_TLS | SL_SNIFF_QUIC | SL_SNIFF_BT);
	assert_int_equal(s->metadata_only, 0);
	assert_int_equal(s->route_only, 1);
	assert_int_equal(s->ndomains_excluded, 3);
	assert_dom(&s->domains_excluded[0], SL_DOM_SUBSTR,
	    "courier.push.apple.com", NULL, NULL, NULL);
	assert_dom(&s->domains_excluded[1], SL_DOM_GEOSITE, "PRIVATE",
	    "geosite.dat", NULL, NULL);
	assert_dom(&s->domains_excluded[2], SL_DOM_FULL, "mijia.cloud", NULL,
	    NULL, NULL);
	assert_int_equal(s->nips_excluded, 2);
	assert_cidr(&s->ips_excluded[0], 0, AF_INET, "\x0a\0\0\0", 8);
	assert_geoip(&s->ips_excluded[1], 1, "geoip.dat", "CN");

	s = &c->inbounds[1].sniffing;
	assert_int_equal(s->enabled, 0);
	assert_int_equal(s->dest_override, SL_SNIFF_TLS);
	assert_int_equal(s->ndomains_excluded, 0);
	assert_int_equal(s->nips_excluded, 0);
}

static void
assert_outbounds(const struct sl_conf *c)
{
	const struct sl_conf_outbound *o = c->outbounds;

	assert_int_equal(c->noutbounds, 6);
	assert_int_equal(o[0].strategy, SL_FS_USEIP4);
	assert_string_equal(o[0].send_through, "192.0.2.1");
	assert_string_equal(o[0].redirect_host, "2001:db8::1");
	assert_int_equal(o[0].redirect_port, 8080);
	/* targetStrategy wins; "0.0.0.0" means "keep the address". */
	assert_int_equal(o[1].strategy, SL_FS_FORCEIP64);
	assert_string_equal(o[1].send_through, "2001:db8::5");
	assert_string_equal(o[1].redirect_host, "");
	assert_int_equal(o[1].redirect_port, 53);
	assert_int_equal(o[2].protocol, SL_OUT_BLACKHOLE);
	assert_null(o[2].send_through);
	assert_null(o[2].redirect_host);
	assert_int_equal(o[2].strategy, SL_FS_ASIS);

	assert_int_equal(o[3].protocol, SL_OUT_SOCKS);
	assert_string_equal(o[3].server_host, "socks.example.net");
	assert_int_equal(o[3].server_port, 1080);
	assert_string_equal(o[3].user, "u1");
	assert_string_equal(o[3].pass, "p1");
	assert_int_equal(o[3].user_level, 1);
	assert_int_equal(o[4].protocol, SL_OUT_HTTP);
	assert_string_equal(o[4].server_host, "2001:db8::2");
	assert_int_equal(o[4].server_port, 3128);
	assert_string_equal(o[4].user, "hu");
	assert_string_equal(o[4].pass, "hp");
	assert_int_equal(o[4].user_level, 0);
	assert_int_equal(o[5].protocol, SL_OUT_SOCKS);
	assert_string_equal(o[5].server_host, "127.0.0.1");
	assert_int_equal(o[5].server_port, 9050);
	assert_null(o[5].user);
	assert_null(o[5].pass);
}

static void
assert_rule_domains(const struct sl_conf_rule *r)
{
	const struct sl_conf_domain *d = r->domains;

	assert_string_equal(r->rule_tag, "ads");
	assert_string_equal(r->outbound_tag, "block");
	assert_null(r->balancer_tag);
	/* "domains" replaced "domain" (one geosite entry). */
	assert_int_equal(r->ndomains, 11);
	assert_dom(&d[0], SL_DOM_GEOSITE, "CATEGORY-ADS-ALL", "geosite.dat",
	    "ads", "!cn");
	assert_dom(&d[1], SL_DOM_GEOSITE, "ADS", "my.dat", NULL, NULL);
	assert_dom(&d[2], SL_DOM_GEOSITE, "X", "other.dat", "a", NULL);
	assert_dom(&d[3], SL_DOM_GEOSITE, "Y", "dir/s.dat", NULL, NULL);
	assert_dom(&d[4], SL_DOM_REGEX, "^Ad[0-9]+\\.", NULL, NULL, NULL);
	assert_dom(&d[5], SL_DOM_DOMAIN, "example.com", NULL, NULL, NULL);
	assert_dom(&d[6], SL_DOM_FULL, "www.example.com", NULL, NULL, NULL);
	assert_dom(&d[7], SL_DOM_SUBSTR, "tracker", NULL, NULL, NULL);
	assert_dom(&d[8], SL_DOM_SUBSTR, "plain", NULL, NULL, NULL);
	assert_dom(&d[9], SL_DOM_REGEX, "^[^.]*$", NULL, NULL, NULL);
	assert_dom(&d[10], SL_DOM_REGEX, "^[^.]*intra[^.]*$", NULL, NULL,
	    NULL);
	assert_int_equal(r->nips + r->nports + r->has_network + r->nusers, 0);
}

static void
assert_rule_ips(const struct sl_conf_rule *r)
{
	const struct sl_conf_ip *ip = r->ips;

	/* outboundTag wins over balancerTag. */
	assert_string_equal(r->outbound_tag, "direct");
	assert_null(r->balancer_tag);
	assert_null(r->rule_tag);
	assert_int_equal(r->nips, 9);
	assert_cidr(&ip[0], 0, AF_INET, "\x01\x02\x03\x04", 32);
	assert_cidr(&ip[1], 0, AF_INET, "\x0a\0\0\0", 8);
	assert_cidr(&ip[2], 1, AF_INET, "\xc0\xa8\0\0", 16);
	/* "!!" cancels out */
	assert_cidr(&ip[3], 0, AF_INET6,
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 32);
	assert_geoip(&ip[4], 0, "geoip.dat", "CN");
	assert_geoip(&ip[5], 0, "geoip.dat", "US");	/* !geoip:!us */
	assert_geoip(&ip[6], 1, "geoip.dat", "PRIVATE");
	assert_geoip(&ip[7], 0, "my-ip.dat", "OFFICE");
	assert_geoip(&ip[8], 0, "x.dat", "Y");
	assert_int_equal(r->ndomains, 0);
}

static void
assert_rule_fields(const struct sl_conf_rule *r)
{
	assert_null(r->outbound_tag);
	assert_string_equal(r->balancer_tag, "bal");
	assert_null(r->rule_tag);		/* "" */
	assert_ports(r->ports, r->nports, PORTS(53, 53, 443, 443, 1000, 2000));
	assert_ports(r->source_ports, r->nsource_ports, PORTS(1234, 1234));
	assert_ports(r->local_ports, r->nlocal_ports, PORTS(0, 1023));
	assert_ports(r->vless_routes, r->nvless_routes, PORTS(0, 0, 7, 9));
	assert_int_equal(r->has_network, 1);
	assert_int_equal(r->networks, SL_NET_TCP | SL_NET_UDP | SL_NET_UNIX);
	/* "sourceIP" wins over "source" */
	assert_int_equal(r->nsource_ips, 2);
	assert_cidr(&r->source_ips[0], 0, AF_INET, "\xc0\x00\x02\x00", 24);
	assert_cidr(&r->source_ips[1], 0, AF_INET, "\xc6\x33\x64\x07", 32);
	assert_int_equal(r->nlocal_ips, 2);
	assert_cidr(&r->local_ips[0], 0, AF_INET, "\x7f\0\0\x01", 32);
	assert_cidr(&r->local_ips[1], 0, AF_INET6,
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 128);
	assert_strings(r->users, r->nusers, STRS("a@example.com",
	    "regexp:^b.*@example\\.com$", "regexp:"));
	assert_strings(r->inbound_tags, r->ninbound_tags,
	    STRS("in-vless", "in-trojan"));
	assert_strings(r->protocols, r->nprotocols,
	    STRS("http", "tls", "bittorrent"));
	assert_int_equal(r->nattrs, 2);
	assert_string_equal(r->attrs[0].key, ":method");
	assert_string_equal(r->attrs[0].regex, "GET");
	assert_string_equal(r->attrs[1].key, "host");
	assert_string_equal(r->attrs[1].regex, "^www\\.");
	assert_strings(r->processes, r->nprocesses, STRS("curl", "/usr/bin/"));
	assert_strings(r->local_os, r->nlocal_os, STRS("linux", "android"));
}

static void
assert_routing(const struct sl_conf *c)
{
	const struct sl_conf_routing *rt = &c->routing;

	assert_int_equal(rt->domain_strategy, SL_DS_IPIFNONMATCH);
	assert_int_equal(rt->nrules, 5);
	assert_rule_domains(&rt->rules[0]);
	assert_rule_ips(&rt->rules[1]);
	assert_rule_fields(&rt->rules[2]);
	/* "source" alone is sourceIP */
	assert_int_equal(rt->rules[3].nsource_ips, 2);
	assert_cidr(&rt->rules[3].source_ips[1], 0, AF_INET,
	    "\xc6\x33\x64\x07", 32);
	assert_string_equal(rt->rules[4].balancer_tag, "bal-ll");
	assert_int_equal(rt->rules[4].networks, SL_NET_TCP);
}

static void
assert_balancers(const struct sl_conf *c)
{
	const struct sl_conf_balancer *b = c->routing.balancers;

	assert_int_equal(c->routing.nbalancers, 4);
	assert_string_equal(b[0].tag, "bal");
	assert_strings(b[0].selectors, b[0].nselectors,
	    STRS("proxy-", "direct"));
	assert_int_equal(b[0].strategy, SL_BAL_ROUNDROBIN);
	assert_string_equal(b[0].fallback_tag, "direct");
	assert_int_equal(b[0].ncosts + b[0].nbaselines, 0);

	assert_string_equal(b[1].tag, "bal-ll");
	assert_strings(b[1].selectors, b[1].nselectors,
	    STRS("proxy-socks", "proxy-http"));
	assert_int_equal(b[1].strategy, SL_BAL_LEASTLOAD);
	assert_null(b[1].fallback_tag);
	assert_int_equal(b[1].ncosts, 2);
	assert_int_equal(b[1].costs[0].regexp, 1);
	assert_string_equal(b[1].costs[0].match, "^proxy-s");
	assert_true(b[1].costs[0].value == 0.5);
	assert_int_equal(b[1].costs[1].regexp, 0);
	assert_string_equal(b[1].costs[1].match, "http");
	assert_true(b[1].costs[1].value == 2.0);
	assert_int_equal(b[1].nbaselines, 4);
	assert_int_equal(b[1].baselines_ms[0], 1000);
	assert_int_equal(b[1].baselines_ms[1], 1500);
	assert_int_equal(b[1].baselines_ms[2], 500);
	assert_int_equal(b[1].baselines_ms[3], 120001);	/* 2m3us, up */
	assert_int_equal(b[1].expected, 2);
	assert_int_equal(b[1].max_rtt_ms, 1500);
	assert_true(b[1].tolerance == 0.25);

	assert_int_equal(b[2].strategy, SL_BAL_LEASTPING);
	assert_strings(b[2].selectors, b[2].nselectors, STRS("proxy"));
	assert_int_equal(b[3].strategy, SL_BAL_RANDOM);
	assert_strings(b[3].selectors, b[3].nselectors, STRS(""));
	assert_null(b[3].fallback_tag);
}

static void
assert_observatories(const struct sl_conf *c)
{
	const struct sl_conf_observatory *o = &c->observatory;

	assert_int_equal(o->present, 1);
	assert_int_equal(o->burst, 0);
	assert_strings(o->selectors, o->nselectors, STRS("proxy-"));
	assert_string_equal(o->url, "https://example.com/204");	/* trimmed */
	assert_int_equal(o->interval_ms, 60000);
	assert_int_equal(o->concurrent, 1);
	assert_string_equal(o->method, "GET");
	assert_int_equal(o->sampling, 1);
	assert_int_equal(o->timeout_ms, 5000);
	assert_null(o->connectivity);

	o = &c->burst_observatory;
	assert_int_equal(o->present, 1);
	assert_int_equal(o->burst, 1);
	assert_strings(o->selectors, o->nselectors, STRS("proxy-", "direct"));
	assert_string_equal(o->url, "http://probe.example/gen");
	assert_string_equal(o->connectivity, "http://conn.example/");
	assert_int_equal(o->interval_ms, 10000);	/* 5s raised to 10s */
	assert_int_equal(o->sampling, 3);
	assert_int_equal(o->timeout_ms, 2000);
	assert_string_equal(o->method, "GET");
	assert_int_equal(o->concurrent, 0);
}

static void
assert_full_model(const struct sl_conf *c)
{
	assert_sniffing(c);
	assert_outbounds(c);
	assert_routing(c);
	assert_balancers(c);
	assert_observatories(c);
}

static void
test_json_full(void **state)
{
	struct sl_conf *c = load_file(DATA "routing.json");
	const struct sl_conf_rule *r = c->routing.rules;

	(void)state;
	assert_full_model(c);
	assert_string_equal(r[0].where.path, "$.routing.rules[0]");
	assert_string_equal(r[0].domains[1].where.path,
	    "$.routing.rules[0].domains[1]");
	/* A comma-split string: every item points at the string. */
	assert_string_equal(r[3].source_ips[1].where.path,
	    "$.routing.rules[3].source");
	assert_string_equal(c->inbounds[0].sniffing.ips_excluded[1].where.path,
	    "$.inbounds[0].sniffing.ipsExcluded[1]");
	assert_string_equal(c->routing.balancers[1].where.path,
	    "$.routing.balancers[1]");
	assert_string_equal(c->burst_observatory.where.path,
	    "$.burstObservatory");
	sl_conf_free(c);
}

static void
test_cfg_full(void **state)
{
	struct sl_conf *c = load_file(DATA "routing.conf");
	const struct sl_conf_rule *r = c->routing.rules;

	(void)state;
	assert_full_model(c);
	assert_string_equal(r[0].where.path, "routing.rules.[0]");
	assert_int_equal(r[0].where.line, 74);
	assert_string_equal(r[0].domains[1].where.path,
	    "routing.rules.[0].domains.[1]");
	assert_int_equal(r[0].domains[1].where.line, 81);
	assert_string_equal(r[3].source_ips[1].where.path,
	    "routing.rules.[3].source");
	assert_int_equal(r[3].source_ips[1].where.line, 129);
	assert_string_equal(c->routing.balancers[1].where.path,
	    "routing.balancers.[1]");
	assert_int_equal(c->observatory.where.line, 161);
	sl_conf_free(c);
}

/* ------------------------------------------------------------------ */
/* the two front ends give the same model                              */

static void
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
same_strs(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	size_t i;

	assert_int_equal(na, nb);
	for (i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
}

static void
same_ports(const struct sl_conf_port_range *a, size_t na,
    const struct sl_conf_port_range *b, size_t nb)
{
	assert_int_equal(na, nb);
	if (na > 0)
		assert_memory_equal(a, b, na * sizeof(*a));
}

static void
same_domains(const struct sl_conf_domain *a, size_t na,
    const struct sl_conf_domain *b, size_t nb)
{
	size_t i;

	assert_int_equal(na, nb);
	for (i = 0; i < na; i++) {
		assert_int_equal(a[i].type, b[i].type);
		assert_string_equal(a[i].value, b[i].value);
		same_str(a[i].file, b[i].file);
		same_strs(a[i].attrs, a[i].nattrs, b[i].attrs, b[i].nattrs);
	}
}

static void
same_ips(const struct sl_conf_ip *a, size_t na, const struct sl_conf_ip *b,
    size_t nb)
{
	size_t i;

	assert_int_equal(na, nb);
	for (i = 0; i < na; i++) {
		assert_int_equal(a[i].reverse, b[i].reverse);
		assert_int_equal(a[i].is_geo, b[i].is_geo);
		assert_memory_equal(&a[i].cidr, &b[i].cidr, sizeof(a[i].cidr));
		same_str(a[i].file, b[i].file);
		same_str(a[i].code, b[i].code);
	}
}

static void
same_rule(const struct sl_conf_rule *a, const struct sl_conf_rule *b)
{
	size_t i;

	same_str(a->outbound_tag, b->outbound_tag);
	same_str(a->balancer_tag, b->balancer_tag);
	same_str(a->rule_tag, b->rule_tag);
	same_domains(a->domains, a->ndomains, b->domains, b->ndomains);
	same_ips(a->ips, a->nips, b->ips, b->nips);
	same_ips(a->source_ips, a->nsource_ips, b->source_ips,
	    b->nsource_ips);
	same_ips(a->local_ips, a->nlocal_ips, b->local_ips, b->nlocal_ips);
	same_ports(a->ports, a->nports, b->ports, b->nports);
	same_ports(a->source_ports, a->nsource_ports, b->source_ports,
	    b->nsource_ports);
	same_ports(a->local_ports, a->nlocal_ports, b->local_ports,
	    b->nlocal_ports);
	same_ports(a->vless_routes, a->nvless_routes, b->vless_routes,
	    b->nvless_routes);
	assert_int_equal(a->has_network, b->has_network);
	assert_int_equal(a->networks, b->networks);
	same_strs(a->users, a->nusers, b->users, b->nusers);
	same_strs(a->inbound_tags, a->ninbound_tags, b->inbound_tags,
	    b->ninbound_tags);
	same_strs(a->protocols, a->nprotocols, b->protocols, b->nprotocols);
	same_strs(a->processes, a->nprocesses, b->processes, b->nprocesses);
	same_strs(a->local_os, a->nlocal_os, b->local_os, b->nlocal_os);
	assert_int_equal(a->nattrs, b->nattrs);
	for (i = 0; i < a->nattrs; i++) {
		assert_string_equal(a->attrs[i].key, b->attrs[i].key);
		assert_string_equal(a->attrs[i].regex, b->attrs[i].regex);
	}
}

static void
same_balancer(const struct sl_conf_balancer *a,
    const struct sl_conf_balancer *b)
{
	size_t i;

	same_str(a->tag, b->tag);
	same_strs(a->selectors, a->nselectors, b->selectors, b->nselectors);
	assert_int_equal(a->strategy, b->strategy);
	same_str(a->fallback_tag, b->fallback_tag);
	assert_int_equal(a->expected, b->expected);
	assert_int_equal(a->max_rtt_ms, b->max_rtt_ms);
	assert_true(a->tolerance == b->tolerance);
	assert_int_equal(a->nbaselines, b->nbaselines);
	if (a->nbaselines > 0)
		assert_memory_equal(a->baselines_ms, b->baselines_ms,
		    a->nbaselines * sizeof(*a->baselines_ms));
	assert_int_equal(a->ncosts, b->ncosts);
	for (i = 0; i < a->ncosts; i++) {
		assert_int_equal(a->costs[i].regexp, b->costs[i].regexp);
		same_str(a->costs[i].match, b->costs[i].match);
		assert_true(a->costs[i].value == b->costs[i].value);
	}
}

static void
same_observatory(const struct sl_conf_observatory *a,
    const struct sl_conf_observatory *b)
{
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->burst, b->burst);
	same_strs(a->selectors, a->nselectors, b->selectors, b->nselectors);
	same_str(a->url, b->url);
	same_str(a->connectivity, b->connectivity);
	same_str(a->method, b->method);
	assert_int_equal(a->interval_ms, b->interval_ms);
	assert_int_equal(a->sampling, b->sampling);
	assert_int_equal(a->timeout_ms, b->timeout_ms);
	assert_int_equal(a->concurrent, b->concurrent);
}

static void
same_sniffing(const struct sl_conf_sniffing *a,
    const struct sl_conf_sniffing *b)
{
	assert_int_equal(a->enabled, b->enabled);
	assert_int_equal(a->dest_override, b->dest_override);
	assert_int_equal(a->metadata_only, b->metadata_only);
	assert_int_equal(a->route_only, b->route_only);
	same_domains(a->domains_excluded, a->ndomains_excluded,
	    b->domains_excluded, b->ndomains_excluded);
	same_ips(a->ips_excluded, a->nips_excluded, b->ips_excluded,
	    b->nips_excluded);
}

static void
same_outbound(const struct sl_conf_outbound *a,
    const struct sl_conf_outbound *b)
{
	same_str(a->tag, b->tag);
	assert_int_equal(a->protocol, b->protocol);
	assert_int_equal(a->strategy, b->strategy);
	same_str(a->send_through, b->send_through);
	same_str(a->redirect_host, b->redirect_host);
	assert_int_equal(a->redirect_port, b->redirect_port);
	assert_int_equal(a->user_level, b->user_level);
	same_str(a->server_host, b->server_host);
	assert_int_equal(a->server_port, b->server_port);
	same_str(a->user, b->user);
	same_str(a->pass, b->pass);
}

static void
test_same_model(void **state)
{
	struct sl_conf *a = load_file(DATA "routing.json");
	struct sl_conf *b = load_file(DATA "routing.conf");
	size_t i;

	(void)state;
	assert_int_equal(a->ninbounds, b->ninbounds);
	for (i = 0; i < a->ninbounds; i++)
		same_sniffing(&a->inbounds[i].sniffing,
		    &b->inbounds[i].sniffing);
	assert_int_equal(a->noutbounds, b->noutbounds);
	for (i = 0; i < a->noutbounds; i++)
		same_outbound(&a->outbounds[i], &b->outbounds[i]);
	assert_int_equal(a->routing.domain_strategy,
	    b->routing.domain_strategy);
	assert_int_equal(a->routing.nrules, b->routing.nrules);
	for (i = 0; i < a->routing.nrules; i++)
		same_rule(&a->routing.rules[i], &b->routing.rules[i]);
	assert_int_equal(a->routing.nbalancers, b->routing.nbalancers);
	for (i = 0; i < a->routing.nbalancers; i++)
		same_balancer(&a->routing.balancers[i],
		    &b->routing.balancers[i]);
	same_observatory(&a->observatory, &b->observatory);
	same_observatory(&a->burst_observatory, &b->burst_observatory);
	sl_conf_free(a);
	sl_conf_free(b);
}

/* ------------------------------------------------------------------ */
/* defaults and small forms                                            */

static void
test_defaults(void **state)
{
	struct sl_conf *c;

	(void)state;
	/* Nothing configured: all absent. */
	c = load_text(".json", "{ " J_OUTS " }");
	assert_int_equal(c->routing.domain_strategy, SL_DS_ASIS);
	assert_int_equal(c->routing.nrules + c->routing.nbalancers, 0);
	assert_int_equal(c->observatory.present, 0);
	assert_int_equal(c->burst_observatory.present, 0);
	assert_int_equal(c->outbounds[0].strategy, SL_FS_ASIS);
	assert_null(c->outbounds[0].send_through);
	sl_conf_free(c);

	/* Empty objects: Xray's defaults. */
	c = load_text(".json", J_BALANCERS("{ \"tag\": \"b\", \"selector\": "
	    "\"x\", \"strategy\": {} }", ", \"observatory\": {}"
	    J_BURST));
	assert_int_equal(c->routing.balancers[0].strategy, SL_BAL_RANDOM);
	assert_int_equal(c->observatory.present, 1);
	assert_int_equal(c->observatory.nselectors, 0);
	assert_string_equal(c->observatory.url,
	    "https://www.google.com/generate_204");
	assert_int_equal(c->observatory.interval_ms, 10000);
	assert_int_equal(c->observatory.timeout_ms, 5000);
	assert_int_equal(c->observatory.sampling, 1);
	assert_string_equal(c->observatory.method, "GET");
	assert_int_equal(c->burst_observatory.present, 1);
	assert_string_equal(c->burst_observatory.url,
	    "https://connectivitycheck.gstatic.com/generate_204");
	assert_null(c->burst_observatory.connectivity);
	assert_int_equal(c->burst_observatory.interval_ms, 60000);
	assert_int_equal(c->burst_observatory.sampling, 10);
	assert_int_equal(c->burst_observatory.timeout_ms, 5000);
	assert_string_equal(c->burst_observatory.method, "HEAD");
	sl_conf_free(c);

	/* Zero values are Xray's "use the default"; 10 s is the minimum. */
	c = load_text(".json", "{ " J_OUTS ", \"observatory\": { "
	    "\"probeInterval\": \"0s\", \"probeURL\": \"\" }, "
	    "\"burstObservatory\": { \"pingConfig\": { \"interval\": \"10s\", "
	    "\"sampling\": 0, \"timeout\": \"0\", \"httpMethod\": \"\", "
	    "\"destination\": \"  \" } } }");
	assert_int_equal(c->observatory.interval_ms, 10000);
	assert_string_equal(c->observatory.url,
	    "https://www.google.com/generate_204");
	assert_int_equal(c->burst_observatory.interval_ms, 10000);
	assert_int_equal(c->burst_observatory.sampling, 10);
	assert_int_equal(c->burst_observatory.timeout_ms, 5000);
	assert_string_equal(c->burst_observatory.method, "HEAD");
	assert_string_equal(c->burst_observatory.url,
	    "https://connectivitycheck.gstatic.com/generate_204");
	sl_conf_free(c);

	c = load_text(".json", "{ " J_OUTS ", \"burstObservatory\": { "
	    "\"pingConfig\": { \"interval\": \"9.999s\" } } }");
	assert_int_equal(c->burst_observatory.interval_ms, 10000);
	sl_conf_free(c);
}

static void
test_grammar_edges(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_rule *r;

	(void)state;
	c = load_text(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"domain\": \"full:A.com,geosite:cn@ads,ext:file.dat:code@attr\","
	    " \"ip\": \"!!1.2.3.4,!geoip:!cn,geoip:!cn,!ext:f.dat:!!!x\", "
	    "\"network\": \"tcp,udp\", \"port\": \"53,443,1000-2000\" }, { "
	    "\"outboundTag\": \"block\", \"domain\": [ \"a.com\" ], "
	    "\"domains\": \"b.com\", \"port\": 0, \"localOS\": \"LINUX\" }"));
	r = c->routing.rules;
	assert_int_equal(r[0].ndomains, 3);
	assert_dom(&r[0].domains[0], SL_DOM_FULL, "a.com", NULL, NULL, NULL);
	assert_dom(&r[0].domains[1], SL_DOM_GEOSITE, "CN", "geosite.dat",
	    "ads", NULL);
	assert_dom(&r[0].domains[2], SL_DOM_GEOSITE, "CODE", "file.dat",
	    "attr", NULL);
	assert_int_equal(r[0].nips, 4);
	assert_cidr(&r[0].ips[0], 0, AF_INET, "\x01\x02\x03\x04", 32);
	assert_geoip(&r[0].ips[1], 0, "geoip.dat", "CN");
	assert_geoip(&r[0].ips[2], 1, "geoip.dat", "CN");
	assert_geoip(&r[0].ips[3], 0, "f.dat", "X");	/* four '!' */
	assert_int_equal(r[0].networks, SL_NET_TCP | SL_NET_UDP);
	assert_ports(r[0].ports, r[0].nports, PORTS(53, 53, 443, 443, 1000,
	    2000));
	assert_int_equal(r[1].ndomains, 1);
	assert_dom(&r[1].domains[0], SL_DOM_SUBSTR, "b.com", NULL, NULL, NULL);
	assert_ports(r[1].ports, r[1].nports, PORTS(0, 0));
	assert_strings(r[1].local_os, r[1].nlocal_os, STRS("linux"));
	sl_conf_free(c);

	/* libconfig: a group for attrs when the names allow it. */
	c = load_text(".conf", "outbounds = ( { tag = \"d\"; protocol = "
	    "\"freedom\"; } );\nrouting = { rules = ( { outboundTag = \"d\";"
	    " attrs = { User-Agent = \"curl\"; }; } ); };\n");
	assert_int_equal(c->routing.rules[0].nattrs, 1);
	assert_string_equal(c->routing.rules[0].attrs[0].key, "user-agent");
	assert_string_equal(c->routing.rules[0].attrs[0].regex, "curl");
	sl_conf_free(c);

	/* freedom: an explicit targetStrategy "AsIs" still wins. */
	c = load_text(".json", J_OUT("{ \"protocol\": \"freedom\", "
	    "\"settings\": { \"targetStrategy\": \"AsIs\", \"domainStrategy\":"
	    " \"UseIP\" } }, { \"protocol\": \"freedom\", \"settings\": { "
	    "\"targetStrategy\": \"\", \"domainStrategy\": \"forceIP\" } }"));
	assert_int_equal(c->outbounds[0].strategy, SL_FS_ASIS);
	assert_int_equal(c->outbounds[1].strategy, SL_FS_FORCEIP);
	sl_conf_free(c);
}

/* ------------------------------------------------------------------ */
/* durations (Go's time.ParseDuration), through leastLoad maxRTT       */

/* 0 and *MS set, or -1 with the error text in ERR. */
static int
max_rtt(const char *dur, uint32_t *ms, char *err, size_t errsz)
{
	char text[512], *e;
	struct sl_conf *c;

	snprintf(text, sizeof(text), J_BALANCERS("{ \"tag\": \"b\", "
	    "\"selector\": \"x\", \"strategy\": { \"type\": \"leastLoad\", "
	    "\"settings\": { \"maxRTT\": \"%s\" } } }", J_BURST), dur);
	if ((e = errors_of(".json", text)) != NULL) {
		snprintf(err, errsz, "%s", e);
		free(e);
		return -1;
	}
	c = load_text(".json", text);
	*ms = c->routing.balancers[0].max_rtt_ms;
	sl_conf_free(c);
	return 0;
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*s;
		uint32_t	 ms;
	} good[] = {
		{ "0", 0 }, { "-0", 0 }, { "+2s", 2000 }, { "-0s", 0 },
		{ "1h2m3.5s", 3723500 }, { "1.5h", 5400000 }, { ".5s", 500 },
		{ "1.s", 1000 }, { "1m1ms", 60001 }, { "500us", 1 },
		{ "1\xc2\xb5s", 1 }, { "1\xce\xbcs", 1 }, { "1ns", 1 },
		{ "1000000ns", 1 }, { "1000001ns", 2 },
		{ "4294967295ms", 4294967295u }, { "1s1s", 2000 },
	};
	static const char *const bad[] = { "", "1", "s", "1x", "1e3s", ".s",
	    "1s ", " 1s", "--1s", "1.2.3s", "9223372036854775808ns" };
	char err[512], want[512];
	uint32_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (max_rtt(good[i].s, &ms, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", good[i].s, err);
		if (ms != good[i].ms)
			fail_msg("\"%s\": %u ms, want %u", good[i].s, ms,
			    good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(max_rtt(bad[i], &ms, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "$.routing.balancers[0].strategy."
		    "settings.maxRTT: \"%s\" is not a duration (like \"10s\", "
		    "\"1m30s\" or \"500ms\")\n", bad[i]);
		assert_string_equal(err, want);
	}
	assert_int_equal(max_rtt("-1s", &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "$.routing.balancers[0].strategy.settings."
	    "maxRTT: \"-1s\": must not be negative\n");
	assert_int_equal(max_rtt("4294967296ms", &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "$.routing.balancers[0].strategy.settings."
	    "maxRTT: \"4294967296ms\" is too long (at most 4294967295ms)\n");
}

/* ------------------------------------------------------------------ */
/* errors: rules                                                       */

static void
test_errors_rules(void **state)
{
	(void)state;
	expect_errors(".json", J_RULES("{ \"domain\": \"x\" }, { "
	    "\"outboundTag\": \"direct\" }, { \"outboundTag\": \"\", "
	    "\"balancerTag\": \"\", \"port\": 1 }, { \"outboundTag\": "
	    "\"direct\", \"webhook\": { \"url\": \"http://x/\" }, \"foo\": 1, "
	    "\"type\": \"chinaip\", \"ip\": [] }, { \"outboundTag\": 5, "
	    "\"network\": \"tcp\" }, { \"outboundTag\": \"nope\", "
	    "\"network\": \"tcp\" }, { \"balancerTag\": \"nobal\", "
	    "\"network\": \"tcp\" }, { \"outboundTag\": \"direct\", "
	    "\"domain\": [] }"),
	    "$.routing.rules[0]: neither outboundTag nor balancerTag is given\n"
	    "$.routing.rules[1]: this rule has no effective fields (a rule "
	    "for everything can say \"network\": \"tcp,udp\")\n"
	    "$.routing.rules[2]: neither outboundTag nor balancerTag is given\n"
	    "$.routing.rules[3].webhook: unsupported field (not implemented "
	    "yet)\n"
	    "$.routing.rules[3].foo: unknown field\n"
	    "$.routing.rules[3].type: unknown value \"chinaip\" (expected "
	    "field)\n"
	    "$.routing.rules[4].outboundTag: must be a string, not an "
	    "integer\n"
	    "$.routing.rules[7]: this rule has no effective fields (a rule "
	    "for everything can say \"network\": \"tcp,udp\")\n"
	    "$.routing.rules[5]: outboundTag \"nope\": no outbound has this "
	    "tag\n"
	    "$.routing.rules[6]: balancerTag \"nobal\": no balancer has this "
	    "tag\n");
	expect_errors(".json", J_ROUTING("{ \"domainStrategy\": \"UseIP\", "
	    "\"rules\": {}, \"balancers\": 1, \"strategy\": 1 }"),
	    "$.routing.strategy: unknown field\n"
	    "$.routing.domainStrategy: unknown value \"UseIP\" (expected AsIs,"
	    " IPIfNonMatch or IPOnDemand)\n"
	    "$.routing.rules: must be an array, not an object\n"
	    "$.routing.balancers: must be an array, not an integer\n");
}

static void
test_errors_domains(void **state)
{
	(void)state;
	expect_errors(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"domain\": [ \"geosite:cn@\", \"ext:file.dat:code@@a\", "
	    "\"ext:nofile\", \"ext::cn\", \"geosite:\", \"geosite:@ads\", "
	    "\"ext:/etc/x.dat:cn\", \"ext-site:../x.dat:cn\", "
	    "\"ext-domain:.:cn\", \"dotless:a.b\", \"keyword:\", \"full:\", "
	    "\"\", \"regexp:\", \"ext:a/../../b.dat:c\", 7 ] }"),
	    "$.routing.rules[0].domain[0]: \"geosite:cn@\": empty attribute "
	    "after '@'\n"
	    "$.routing.rules[0].domain[1]: \"ext:file.dat:code@@a\": empty "
	    "attribute after '@'\n"
	    "$.routing.rules[0].domain[2]: \"ext:nofile\": expected "
	    "ext:FILE:CODE\n"
	    "$.routing.rules[0].domain[3]: \"ext::cn\": \"\" is not a file "
	    "name in the asset directory\n"
	    "$.routing.rules[0].domain[4]: \"geosite:\": empty code\n"
	    "$.routing.rules[0].domain[5]: \"geosite:@ads\": empty code\n"
	    "$.routing.rules[0].domain[6]: \"ext:/etc/x.dat:cn\": "
	    "\"/etc/x.dat\" is not a file name in the asset directory\n"
	    "$.routing.rules[0].domain[7]: \"ext-site:../x.dat:cn\": "
	    "\"../x.dat\" is not a file name in the asset directory\n"
	    "$.routing.rules[0].domain[8]: \"ext-domain:.:cn\": \".\" is not a "
	    "file name in the asset directory\n"
	    "$.routing.rules[0].domain[9]: \"dotless:a.b\": a dotless: pattern "
	    "must not contain a dot\n"
	    "$.routing.rules[0].domain[10]: \"keyword:\": empty pattern\n"
	    "$.routing.rules[0].domain[11]: \"full:\": empty pattern\n"
	    "$.routing.rules[0].domain[12]: \"\": empty pattern\n"
	    "$.routing.rules[0].domain[13]: \"regexp:\": empty pattern\n"
	    "$.routing.rules[0].domain[14]: \"ext:a/../../b.dat:c\": "
	    "\"a/../../b.dat\" is not a file name in the asset directory\n"
	    "$.routing.rules[0].domain[15]: must be a string, not an "
	    "integer\n");
	/* A comma-split string blames the string; "domains" is checked too. */
	expect_errors(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"domain\": \"a.com,,geosite:x@\", \"domains\": \"dotless:.\" }"),
	    "$.routing.rules[0].domain: \"\": empty pattern\n"
	    "$.routing.rules[0].domain: \"geosite:x@\": empty attribute after "
	    "'@'\n"
	    "$.routing.rules[0].domains: \"dotless:.\": a dotless: pattern "
	    "must not contain a dot\n");
	expect_error_prefix(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"domain\": [ \"a\", \"regexp:(ab\" ] }"),
	    "$.routing.rules[0].domain[1]: \"regexp:(ab\": invalid regular "
	    "expression: ");
	expect_error_prefix(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"domain\": \"dotless:(\" }"),
	    "$.routing.rules[0].domain: \"dotless:(\": invalid regular "
	    "expression: ");
}

static void
test_errors_ips(void **state)
{
	(void)state;
	expect_errors(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"ip\": [ \"1.2.3.4/33\", \"foo\", \"!\", \"geoip:\", "
	    "\"geoip:!!\", \"ext:x.dat\", \"ext-ip::cn\", \"::1/129\", "
	    "\"1.2.3.4/\", \"!!!\" ], \"sourceIP\": \"10.0.0.0/8,x\", "
	    "\"localIP\": true }"),
	    "$.routing.rules[0].ip[0]: \"1.2.3.4/33\" is not an IP address or "
	    "CIDR\n"
	    "$.routing.rules[0].ip[1]: \"foo\" is not an IP address or CIDR\n"
	    "$.routing.rules[0].ip[2]: \"!\" is not an IP address or CIDR\n"
	    "$.routing.rules[0].ip[3]: \"geoip:\": empty code\n"
	    "$.routing.rules[0].ip[4]: \"geoip:!!\": empty code\n"
	    "$.routing.rules[0].ip[5]: \"ext:x.dat\": expected "
	    "ext:FILE:CODE\n"
	    "$.routing.rules[0].ip[6]: \"ext-ip::cn\": \"\" is not a file name"
	    " in the asset directory\n"
	    "$.routing.rules[0].ip[7]: \"::1/129\" is not an IP address or "
	    "CIDR\n"
	    "$.routing.rules[0].ip[8]: \"1.2.3.4/\" is not an IP address or "
	    "CIDR\n"
	    "$.routing.rules[0].ip[9]: \"!!!\" is not an IP address or CIDR\n"
	    "$.routing.rules[0].sourceIP: \"x\" is not an IP address or CIDR\n"
	    "$.routing.rules[0].localIP: must be a string or an array of "
	    "strings, not a boolean\n");
}

static void
test_errors_fields(void **state)
{
	(void)state;
	expect_errors(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"port\": \"2000-1000,70000,x,1-2-3, ,env:PORT,-1\", "
	    "\"sourcePort\": -1, \"localPort\": [ 80 ], \"vlessRoute\": "
	    "65536, \"network\": \"tcp, udp,quic\", \"user\": [ \"a\", \"\" ],"
	    " \"inboundTag\": \"a,\", \"protocol\": [], \"process\": 1 }"),
	    "$.routing.rules[0].port: \"2000-1000\" is not a port or a range "
	    "a-b of ports (0-65535)\n"
	    "$.routing.rules[0].port: \"70000\" is not a port or a range a-b "
	    "of ports (0-65535)\n"
	    "$.routing.rules[0].port: \"x\" is not a port or a range a-b of "
	    "ports (0-65535)\n"
	    "$.routing.rules[0].port: \"1-2-3\" is not a port or a range a-b "
	    "of ports (0-65535)\n"
	    "$.routing.rules[0].port: \"env:PORT\": env: ports are not "
	    "supported\n"
	    "$.routing.rules[0].port: \"-1\" is not a port or a range a-b of "
	    "ports (0-65535)\n"
	    "$.routing.rules[0].sourcePort: -1 is not a port (0-65535)\n"
	    "$.routing.rules[0].localPort: must be a string, not an array\n"
	    "$.routing.rules[0].vlessRoute: 65536 is not a port (0-65535)\n"
	    "$.routing.rules[0].network: unknown network \" udp\" (tcp, udp or"
	    " unix)\n"
	    "$.routing.rules[0].network: unknown network \"quic\" (tcp, udp or"
	    " unix)\n"
	    "$.routing.rules[0].user[1]: empty item\n"
	    "$.routing.rules[0].inboundTag: empty item\n"
	    "$.routing.rules[0].process: must be a string or an array of "
	    "strings, not an integer\n");
	/* Xray would drop a bad user regexp silently, or panic on attrs. */
	expect_error_prefix(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"user\": \"regexp:[\" }"),
	    "$.routing.rules[0].user: \"regexp:[\": invalid regular "
	    "expression: ");
	expect_error_prefix(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"attrs\": { \"host\": \"a(\" } }"),
	    "$.routing.rules[0].attrs.host: \"a(\": invalid regular "
	    "expression: ");
	expect_errors(".json", J_RULES("{ \"outboundTag\": \"direct\", "
	    "\"attrs\": { \"Host\": \"a\", \"host\": \"b\", \"x\": 1 } }, { "
	    "\"outboundTag\": \"direct\", \"attrs\": [] }"),
	    "$.routing.rules[0].attrs.host: attribute \"host\" is given "
	    "twice\n"
	    "$.routing.rules[0].attrs.x: must be a string, not an integer\n"
	    "$.routing.rules[1].attrs: must be an object, not an array\n");
	expect_errors(".conf", "outbounds = ( { tag = \"d\"; protocol = "
	    "\"freedom\"; } );\nrouting = { rules = ( { outboundTag = \"d\";\n"
	    "\tattrs = ( { key = \"\"; value = \"x\"; }, { value = \"x\"; },\n"
	    "\t\t{ key = \"k\"; }, \"s\", { key = \"k\"; value = \"v\"; "
	    "y = 1; } ); } ); };\n",
	    "3: routing.rules.[0].attrs.[0].key: must not be empty\n"
	    "3: routing.rules.[0].attrs.[1].key: required field is missing\n"
	    "4: routing.rules.[0].attrs.[2].value: required field is "
	    "missing\n"
	    "4: routing.rules.[0].attrs.[3]: must be a group, not a string\n"
	    "4: routing.rules.[0].attrs.[4].y: unknown field\n");
}

/* libconfig: the same errors name file:line and libconfig paths. */
static void
test_errors_cfg(void **state)
{
	(void)state;
	expect_errors(".conf",
	    "outbounds = ( { tag = \"d\"; protocol = \"freedom\"; } );\n"
	    "routing = {\n"
	    "\trules = (\n"
	    "\t\t{ domain = \"geosite:cn@\"; },\n"
	    "\t\t{ outboundTag = \"x\"; ip = [ \"1.2.3.4\", \"!geoip:\" ]; },\n"
	    "\t\t{ outboundTag = \"d\"; }\n"
	    "\t);\n"
	    "\tbalancers = ( { tag = \"b\"; selector = [ ];\n"
	    "\t\tstrategy = { type = \"leastPing\"; }; } );\n"
	    "};\n",
	    "4: routing.rules.[0]: neither outboundTag nor balancerTag is "
	    "given\n"
	    "4: routing.rules.[0].domain: \"geosite:cn@\": empty attribute "
	    "after '@'\n"
	    "5: routing.rules.[1].ip.[1]: \"!geoip:\": empty code\n"
	    "6: routing.rules.[2]: this rule has no effective fields (a rule "
	    "for everything can say \"network\": \"tcp,udp\")\n"
	    "8: routing.balancers.[0].selector: must not be empty\n"
	    "5: routing.rules.[1]: outboundTag \"x\": no outbound has this "
	    "tag\n"
	    "8: routing.balancers.[0]: balancer \"b\": strategy leastPing needs"
	    " an \"observatory\" or a \"burstObservatory\" (Xray: not all "
	    "dependencies are resolved)\n");
}

/* ------------------------------------------------------------------ */
/* errors: balancers, observatories                                    */

static void
test_errors_balancers(void **state)
{
	(void)state;
	expect_errors(".json", J_BALANCERS("{ \"selector\": \"a\" }, { "
	    "\"tag\": \"\", \"selector\": [] }, { \"tag\": \"c\" }, { \"tag\": "
	    "\"d\", \"selector\": \"a\", \"strategy\": { \"type\": \"fastest\","
	    " \"settings\": { \"x\": 1 } } }, { \"tag\": \"e\", \"selector\": "
	    "\"a\", \"strategy\": { \"type\": \"random\", \"settings\": { "
	    "\"expected\": 1 } } }, { \"tag\": \"f\", \"selector\": \"a\", "
	    "\"strategy\": { \"kind\": 1 }, \"fallback\": \"x\" }", J_BURST),
	    "$.routing.balancers[0].tag: required field is missing\n"
	    "$.routing.balancers[1].tag: must not be empty\n"
	    "$.routing.balancers[1].selector: must not be empty\n"
	    "$.routing.balancers[2].selector: required field is missing\n"
	    "$.routing.balancers[3].strategy.type: unknown value \"fastest\" "
	    "(expected random, roundRobin, leastPing or leastLoad)\n"
	    "$.routing.balancers[4].strategy.settings: only strategy leastLoad"
	    " has settings\n"
	    "$.routing.balancers[5].fallback: unknown field\n"
	    "$.routing.balancers[5].strategy.kind: unknown field\n");
	expect_errors(".json", J_BALANCERS("{ \"tag\": \"l\", \"selector\": "
	    "\"a\", \"strategy\": { \"type\": \"leastLoad\", \"settings\": { "
	    "\"costs\": [ { \"value\": 1 }, { \"match\": \"a\", \"value\": "
	    "\"x\", \"weight\": 1 }, 3 ], \"baselines\": [ \"1x\", \"0s\", 5 ],"
	    " \"expected\": -1, \"maxRTT\": 100, \"tolerance\": 1.5, "
	    "\"extra\": 1 } } }", J_BURST),
	    "$.routing.balancers[0].strategy.settings.extra: unknown field\n"
	    "$.routing.balancers[0].strategy.settings.costs[0].match: required"
	    " field is missing\n"
	    "$.routing.balancers[0].strategy.settings.costs[1].weight: unknown"
	    " field\n"
	    "$.routing.balancers[0].strategy.settings.costs[1].value: must be "
	    "a number, not a string\n"
	    "$.routing.balancers[0].strategy.settings.costs[2]: must be an "
	    "object, not an integer\n"
	    "$.routing.balancers[0].strategy.settings.baselines[0]: \"1x\" is "
	    "not a duration (like \"10s\", \"1m30s\" or \"500ms\")\n"
	    "$.routing.balancers[0].strategy.settings.baselines[1]: a baseline"
	    " must be longer than 0\n"
	    "$.routing.balancers[0].strategy.settings.baselines[2]: must be a "
	    "string, not an integer\n"
	    "$.routing.balancers[0].strategy.settings.expected: -1 is out of "
	    "range (0-2147483647)\n"
	    "$.routing.balancers[0].strategy.settings.maxRTT: must be a "
	    "string, not an integer\n"
	    "$.routing.balancers[0].strategy.settings.tolerance: 1.5 is out of"
	    " range (0-1)\n");
	expect_error_prefix(".json", J_BALANCERS("{ \"tag\": \"l\", "
	    "\"selector\": \"a\", \"strategy\": { \"type\": \"leastLoad\", "
	    "\"settings\": { \"costs\": [ { \"regexp\": true, \"match\": "
	    "\"*x\" } ] } } }", J_BURST),
	    "$.routing.balancers[0].strategy.settings.costs[0].match: \"*x\": "
	    "invalid regular expression: ");
}

static void
test_errors_balancer_checks(void **state)
{
	struct sl_conf *c;

	(void)state;
	expect_errors(".json", J_BALANCERS("{ \"tag\": \"a\", \"selector\": "
	    "\"x\", \"strategy\": { \"type\": \"leastPing\" } }, { \"tag\": "
	    "\"b\", \"selector\": \"x\", \"strategy\": { \"type\": "
	    "\"leastLoad\" } }, { \"tag\": \"c\", \"selector\": \"x\", "
	    "\"fallbackTag\": \"direct\" }, { \"tag\": \"d\", \"selector\": "
	    "\"x\", \"strategy\": { \"type\": \"roundRobin\" }, "
	    "\"fallbackTag\": \"nope\" }, { \"tag\": \"a\", \"selector\": "
	    "\"x\" }", ""),
	    "$.routing.balancers[0]: balancer \"a\": strategy leastPing needs "
	    "an \"observatory\" or a \"burstObservatory\" (Xray: not all "
	    "dependencies are resolved)\n"
	    "$.routing.balancers[1]: balancer \"b\": strategy leastLoad needs "
	    "an \"observatory\" or a \"burstObservatory\" (Xray: not all "
	    "dependencies are resolved)\n"
	    "$.routing.balancers[2]: balancer \"c\": strategy random with a "
	    "fallbackTag needs an \"observatory\" or a \"burstObservatory\" "
	    "(Xray: not all dependencies are resolved)\n"
	    "$.routing.balancers[3]: fallbackTag \"nope\": no outbound has "
	    "this tag\n"
	    "$.routing.balancers[3]: balancer \"d\": strategy roundRobin with "
	    "a fallbackTag needs an \"observatory\" or a \"burstObservatory\" "
	    "(Xray: not all dependencies are resolved)\n"
	    "$.routing.balancers[4]: duplicate balancer tag \"a\" (also "
	    "$.routing.balancers[0])\n");
	/* Either observatory will do; random/roundRobin alone need none. */
	c = load_text(".json", J_BALANCERS("{ \"tag\": \"a\", \"selector\": "
	    "\"x\", \"strategy\": { \"type\": \"leastPing\" }, \"fallbackTag\":"
	    " \"block\" }", ", \"observatory\": {}"));
	sl_conf_free(c);
	c = load_text(".json", J_BALANCERS("{ \"tag\": \"a\", \"selector\": "
	    "\"x\", \"strategy\": { \"type\": \"roundRobin\" } }, { \"tag\": "
	    "\"b\", \"selector\": \"x\" }", ""));
	sl_conf_free(c);
}

static void
test_errors_observatories(void **state)
{
	(void)state;
	expect_errors(".json", "{ " J_OUTS ", \"observatory\": { "
	    "\"probeURL\": \"ftp://x\", \"probeInterval\": \"10\", "
	    "\"subjectSelector\": 1, \"probeTimeout\": \"1s\", "
	    "\"enableConcurrency\": 1 }, \"burstObservatory\": { "
	    "\"subjectSelector\": [ \"a\" ] } }",
	    "$.observatory.probeTimeout: unknown field\n"
	    "$.observatory.subjectSelector: must be a string or an array of "
	    "strings, not an integer\n"
	    "$.observatory.probeURL: \"ftp://x\" is not an http:// or https://"
	    " URL\n"
	    "$.observatory.probeInterval: \"10\" is not a duration (like "
	    "\"10s\", \"1m30s\" or \"500ms\")\n"
	    "$.observatory.enableConcurrency: must be a boolean, not an "
	    "integer\n"
	    "$.burstObservatory.pingConfig: required field is missing (Xray: "
	    "BurstObservatory requires a valid pingConfig)\n");
	expect_errors(".json", "{ " J_OUTS ", \"burstObservatory\": { "
	    "\"pingConfig\": { \"httpMethod\": \"POST\", \"sampling\": -1, "
	    "\"timeout\": \"-5s\", \"connectivity\": \"conn\", \"count\": 1, "
	    "\"destination\": 5 } }, \"observatory\": [] }",
	    "$.observatory: must be an object, not an array\n"
	    "$.burstObservatory.pingConfig.count: unknown field\n"
	    "$.burstObservatory.pingConfig.destination: must be a string, not "
	    "an integer\n"
	    "$.burstObservatory.pingConfig.connectivity: \"conn\" is not an "
	    "http:// or https:// URL\n"
	    "$.burstObservatory.pingConfig.sampling: -1 is out of range "
	    "(0-2147483647)\n"
	    "$.burstObservatory.pingConfig.timeout: \"-5s\": must not be "
	    "negative\n"
	    "$.burstObservatory.pingConfig.httpMethod: unknown value \"POST\" "
	    "(expected HEAD or GET)\n");
}

/* ------------------------------------------------------------------ */
/* errors: sniffing, outbounds                                         */

static void
test_errors_sniffing(void **state)
{
	(void)state;
	expect_errors(".json", J_SNIFF("{ \"enabled\": \"yes\", "
	    "\"destOverride\": [ \"fakedns+others\", \"smtp\", \"FakeDNS\" ], "
	    "\"domainsExcluded\": \"geosite:\", \"ipsExcluded\": [ \"x\" ], "
	    "\"routeOnly\": 1, \"excluded\": [] }"),
	    "$.inbounds[0].sniffing.excluded: unknown field\n"
	    "$.inbounds[0].sniffing.enabled: must be a boolean, not a string\n"
	    "$.inbounds[0].sniffing.destOverride[0]: unsupported value "
	    "\"fakedns+others\" (sluice has no FakeDNS)\n"
	    "$.inbounds[0].sniffing.destOverride[1]: unknown value \"smtp\" "
	    "(expected http, tls, quic or bittorrent)\n"
	    "$.inbounds[0].sniffing.destOverride[2]: unsupported value "
	    "\"FakeDNS\" (sluice has no FakeDNS)\n"
	    "$.inbounds[0].sniffing.domainsExcluded: \"geosite:\": empty "
	    "code\n"
	    "$.inbounds[0].sniffing.ipsExcluded[0]: \"x\" is not an IP address"
	    " or CIDR\n"
	    "$.inbounds[0].sniffing.routeOnly: must be a boolean, not an "
	    "integer\n");
	expect_errors(".json", J_SNIFF("true"),
	    "$.inbounds[0].sniffing: must be an object, not a boolean\n");
}

static void
test_errors_proxy_outbounds(void **state)
{
	(void)state;
	expect_errors(".json", J_OUT("{ \"protocol\": \"socks\", \"settings\":"
	    " { \"servers\": [ { \"address\": \"a\", \"port\": 1 }, { "
	    "\"address\": \"b\", \"port\": 2 } ] } }, { \"protocol\": "
	    "\"socks\", \"settings\": { \"servers\": [ { \"address\": \"a\", "
	    "\"port\": 1, \"users\": [ { \"user\": \"a\" }, { \"user\": \"b\" }"
	    " ] } ] } }, { \"protocol\": \"socks\" }, { \"protocol\": "
	    "\"http\", \"settings\": { \"servers\": [] } }, { \"protocol\": "
	    "\"http\", \"settings\": { \"address\": \"h\", \"port\": 80, "
	    "\"servers\": [] } }, { \"protocol\": \"http\", \"settings\": { "
	    "\"port\": 80, \"user\": \"u\" } }"),
	    "$.outbounds[0].settings.servers: sluice supports exactly one "
	    "server (use one outbound per server and a balancer)\n"
	    "$.outbounds[1].settings.servers[0].users: at most one user (Xray:"
	    " use one outbound per user and a balancer)\n"
	    "$.outbounds[4].settings.servers: give \"servers\" or \"address\","
	    " not both\n"
	    "$.outbounds[5].settings.port: only with \"address\" (without it, "
	    "the server is in \"servers\")\n"
	    "$.outbounds[5].settings.user: only with \"address\" (without it, "
	    "the server is in \"servers\")\n"
	    "$.outbounds[2]: socks outbound needs a server (settings.servers, "
	    "or settings.address and settings.port)\n"
	    "$.outbounds[3]: http outbound needs a server (settings.servers, "
	    "or settings.address and settings.port)\n"
	    "$.outbounds[5]: http outbound needs a server (settings.servers, "
	    "or settings.address and settings.port)\n");
	expect_errors(".json", J_OUT("{ \"protocol\": \"socks\", \"settings\":"
	    " { \"servers\": [ { \"address\": \"\", \"port\": 0, \"users\": [ "
	    "{ \"pass\": \"p\", \"email\": \"e@x\" } ] } ] } }, { \"protocol\":"
	    " \"http\", \"settings\": { \"address\": \"h\", \"user\": \"a:b\", "
	    "\"headers\": { \"X\": \"y\" } } }, { \"protocol\": \"socks\", "
	    "\"settings\": { \"address\": \"s\", \"port\": 70000, \"user\": "
	    "\"\" } }"),
	    "$.outbounds[0].settings.servers[0].address: must not be empty\n"
	    "$.outbounds[0].settings.servers[0].port: 0 is out of range "
	    "(1-65535)\n"
	    "$.outbounds[0].settings.servers[0].users[0].email: unsupported "
	    "field (not implemented yet)\n"
	    "$.outbounds[0].settings.servers[0].users[0].pass: a password needs"
	    " a \"user\"\n"
	    "$.outbounds[1].settings.headers: unsupported field (not "
	    "implemented yet)\n"
	    "$.outbounds[1].settings.port: required field is missing\n"
	    "$.outbounds[1].settings.user: an HTTP user name cannot contain "
	    "':'\n"
	    "$.outbounds[2].settings.port: 70000 is out of range (1-65535)\n"
	    "$.outbounds[2].settings.user: must not be empty\n");
}

/* RFC 1929 has one length byte for each; HTTP has no such limit. */
static void
test_socks_auth_length(void **state)
{
	char user[257], text[2048];
	struct sl_conf *c;

	(void)state;
	memset(user, 'u', 256);
	user[256] = '\0';
	snprintf(text, sizeof(text), J_OUT("{ \"protocol\": \"socks\", "
	    "\"settings\": { \"servers\": [ { \"port\": 1, \"users\": [ { "
	    "\"user\": \"%s\" } ] } ] } }"), user);
	expect_errors(".json", text,
	    "$.outbounds[0].settings.servers[0].address: required field is "
	    "missing\n"
	    "$.outbounds[0].settings.servers[0].users[0].user: SOCKS user names"
	    " and passwords are at most 255 bytes\n");
	user[255] = '\0';
	snprintf(text, sizeof(text), J_OUT("{ \"protocol\": \"socks\", "
	    "\"settings\": { \"address\": \"s\", \"port\": 1, \"user\": "
	    "\"%s\", \"pass\": \"%s\" } }, { \"protocol\": \"http\", "
	    "\"settings\": { \"address\": \"h\", \"port\": 2, \"user\": "
	    "\"u\", \"pass\": \"%s%s\" } }"), user, user, user, user);
	c = load_text(".json", text);
	assert_int_equal(strlen(c->outbounds[0].user), 255);
	assert_int_equal(strlen(c->outbounds[0].pass), 255);
	assert_int_equal(strlen(c->outbounds[1].pass), 510);
	sl_conf_free(c);
}

static void
test_errors_freedom(void **state)
{
	(void)state;
	expect_errors(".json", J_OUT("{ \"protocol\": \"freedom\", "
	    "\"sendThrough\": \"origin\", \"targetStrategy\": \"UseIP\", "
	    "\"settings\": { \"redirect\": \":99999\", \"targetStrategy\": "
	    "\"UseIPv7\" } }, { \"protocol\": \"freedom\", \"sendThrough\": "
	    "\"example.com\", \"settings\": { \"redirect\": \"a:b:c\" } }, { "
	    "\"protocol\": \"blackhole\", \"sendThrough\": \"10.0.0.0/8\", "
	    "\"settings\": {} }, { \"protocol\": \"freedom\", \"settings\": { "
	    "\"redirect\": 80, \"domainStrategy\": 1 } }, { \"protocol\": "
	    "\"freedom\", \"settings\": { \"redirect\": \"[::1:53\" } }"),
	    "$.outbounds[0].targetStrategy: unsupported field (not implemented"
	    " yet)\n"
	    "$.outbounds[0].sendThrough: unsupported value \"origin\" (not "
	    "implemented yet; supported: an IP address)\n"
	    "$.outbounds[0].settings.targetStrategy: unknown value \"UseIPv7\""
	    " (expected AsIs, UseIP, UseIPv4, UseIPv6, UseIPv4v6, UseIPv6v4, "
	    "ForceIP, ForceIPv4, ForceIPv6, ForceIPv4v6 or ForceIPv6v4)\n"
	    "$.outbounds[0].settings.redirect: \":99999\": \"99999\" is not a "
	    "port (0-65535)\n"
	    "$.outbounds[1].sendThrough: \"example.com\" is not an IP "
	    "address\n"
	    "$.outbounds[1].settings.redirect: \"a:b:c\" is not host:port "
	    "(write IPv6 as [addr]:port)\n"
	    "$.outbounds[2].sendThrough: unsupported value \"10.0.0.0/8\" (not"
	    " implemented yet; supported: an IP address)\n"
	    "$.outbounds[3].settings.domainStrategy: must be a string, not an "
	    "integer\n"
	    "$.outbounds[3].settings.redirect: must be a string, not an "
	    "integer\n"
	    "$.outbounds[4].settings.redirect: \"[::1:53\" is not host:port "
	    "(write IPv6 as [addr]:port)\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_full),
		cmocka_unit_test(test_cfg_full),
		cmocka_unit_test(test_same_model),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_grammar_edges),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_errors_rules),
		cmocka_unit_test(test_errors_domains),
		cmocka_unit_test(test_errors_ips),
		cmocka_unit_test(test_errors_fields),
		cmocka_unit_test(test_errors_cfg),
		cmocka_unit_test(test_errors_balancers),
		cmocka_unit_test(test_errors_balancer_checks),
		cmocka_unit_test(test_errors_observatories),
		cmocka_unit_test(test_errors_sniffing),
		cmocka_unit_test(test_errors_proxy_outbounds),
		cmocka_unit_test(test_socks_auth_length),
		cmocka_unit_test(test_errors_freedom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
