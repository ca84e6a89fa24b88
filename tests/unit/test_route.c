/*
 * test_route: the rule engine end to end -- Xray JSON config -> model ->
 * compiler -> table image -> sl_route_pick -- for every condition, the
 * IP four-group rule, domainStrategy, balancers as targets and set
 * sharing, with geosite/geoip from the real files in $SLUICE_GEODATA.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "master/compile.h"
#include "master/conf.h"
#include "shm/image.h"
#include "shm/regex.h"
#include "shm/route.h"
#include "shm/types.h"
#include "tests/unit/helpers.h"

struct rt {
	struct sl_conf	*cf;
	uint8_t		*buf;
	struct sl_img	 img;
	struct sl_rxtab	*rx;
	char		 errors[4096];
};

/* Compile an Xray JSON config whose "routing" (and more) is ROUTING; the
 * outbounds are direct (first = default), block, proxy. */
static int
rt_build(struct rt *t, const char *routing)
{
	char path[] = "/tmp/test_route_XXXXXX.json";
	struct sl_errors errs;
	const char *err;
	size_t len;
	int fd = mkstemps(path, 5);
	FILE *f;

	memset(t, 0, sizeof(*t));
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "{ \"sluice\": { \"assetDir\": \"%s/dat\" },\n"
	    "\"inbounds\": [ { \"tag\": \"in-a\", \"port\": 40001, "
	    "\"protocol\": \"vless\", \"settings\": { \"decryption\": \"none\", "
	    "\"clients\": [ { \"id\": \"b831381d-6324-4d53-ad4f-8cda48b30811\" "
	    "} ] } }, { \"tag\": \"in-b\", \"port\": 40002, "
	    "\"protocol\": \"vless\", \"settings\": { \"decryption\": \"none\", "
	    "\"clients\": [ { \"id\": \"b831381d-6324-4d53-ad4f-8cda48b30812\" "
	    "} ] } } ],\n"
	    "\"outbounds\": [ { \"tag\": \"direct\", \"protocol\": \"freedom\" },"
	    " { \"tag\": \"block\", \"protocol\": \"blackhole\" },"
	    " { \"tag\": \"proxy-a\", \"protocol\": \"freedom\" },"
	    " { \"tag\": \"proxy-b\", \"protocol\": \"freedom\" } ],\n"
	    "%s }\n", th_geodata(), routing);
	fclose(f);
	sl_errors_init(&errs);
	t->cf = sl_conf_load(path, &errs);
	unlink(path);
	if (t->cf == NULL || sl_compile(t->cf, NULL, 1, &t->buf, &len, &errs) != 0) {
		snprintf(t->errors, sizeof(t->errors), "%.*s", (int)errs.len,
		    errs.buf ? errs.buf : "");
		sl_errors_free(&errs);
		return -1;
	}
	sl_errors_free(&errs);
	assert_int_equal(sl_img_check(t->buf, len, &err), 0);
	t->img.base = t->buf;
	t->img.size = len;
	t->img.hdr = (const struct sl_img_hdr *)t->buf;
	t->rx = sl_rxtab_new(&t->img, &err);
	assert_non_null(t->rx);
	return 0;
}

static void
rt_free(struct rt *t)
{
	sl_rxtab_free(t->rx);
	free(t->buf);
	sl_conf_free(t->cf);
}

static const char *
tag_of(const struct rt *t, const struct sl_route_result *r)
{
	const struct sl_img *img = &t->img;

	if (r->target_kind == SL_IMG_TARGET_BALANCER)
		return sl_img_str(img, SL_IMG_REC(img, SL_SECT_BALANCERS,
		    struct sl_img_balancer, r->target)->tag);
	return sl_img_str(img, SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, r->target)->tag);
}

/* A query: "domain" or "ip" target, port; the rest set by the caller. */
struct q {
	struct sl_route_ctx	 x;
	struct sockaddr_storage	 dst, src, loc;
};

static void
q_init(struct q *q, const char *dest, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&q->dst;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&q->dst;

	memset(q, 0, sizeof(*q));
	q->x.inbound = SL_IMG_NONE;
	q->x.network = 1;
	q->x.port = port;
	if (inet_pton(AF_INET, dest, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		q->x.target_addr = (struct sockaddr *)&q->dst;
	} else if (inet_pton(AF_INET6, dest, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		q->x.target_addr = (struct sockaddr *)&q->dst;
	} else {
		q->x.domain = dest;
		q->x.domain_len = strlen(dest);
	}
}

static void
q_addr(struct sockaddr_storage *ss, const char *ip)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
}

/* Route and return the outbound tag; the rule index in *rule. */
static const char *
pick(const struct rt *t, struct q *q, long *rule)
{
	static struct sl_route_result r;

	assert_int_equal(sl_route_pick(&t->img, t->rx, &q->x, &r), SL_OK);
	if (rule != NULL)
		*rule = r.rule == SL_IMG_NONE ? -1 : (long)r.rule;
	return tag_of(t, &r);
}

static const char *
pick_dest(const struct rt *t, const char *dest, uint16_t port)
{
	struct q q;

	q_init(&q, dest, port);
	return pick(t, &q, NULL);
}

/* ------------------------------------------------------------------ */

static void
test_first_match_and_default(void **state)
{
	struct rt t;
	long rule;
	struct q q;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"domain\": [\"full:a.example\"], \"outboundTag\": \"block\" },"
	    "{ \"domain\": [\"example\"], \"outboundTag\": \"proxy-a\" },"
	    "{ \"port\": \"1-65535\", \"outboundTag\": \"proxy-b\","
	    "  \"ruleTag\": \"any-port\" } ] }"), 0);
	q_init(&q, "a.example", 443);
	assert_string_equal(pick(&t, &q, &rule), "block");
	assert_int_equal(rule, 0);
	q_init(&q, "b.example", 443);
	assert_string_equal(pick(&t, &q, &rule), "proxy-a");
	assert_int_equal(rule, 1);
	q_init(&q, "other.org", 80);
	assert_string_equal(pick(&t, &q, &rule), "proxy-b");
	assert_int_equal(rule, 2);
	/* port 0 (unknown) is in no range: the default, the first outbound */
	q_init(&q, "other.org", 0);
	assert_string_equal(pick(&t, &q, &rule), "direct");
	assert_int_equal(rule, -1);
	rt_free(&t);
}

static void
test_domain_types(void **state)
{
	struct rt t;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"domain\": [\"domain:dom.test\"], \"outboundTag\": \"block\" },"
	    "{ \"domain\": [\"full:full.test\"], \"outboundTag\": \"proxy-a\" },"
	    "{ \"domain\": [\"keyword:kw\", \"regexp:^re[0-9]+\\\\.test$\"],"
	    "  \"outboundTag\": \"proxy-b\" },"
	    "{ \"domain\": [\"dotless:\"], \"outboundTag\": \"block\" } ] }"), 0);
	assert_string_equal(pick_dest(&t, "dom.test", 1), "block");
	assert_string_equal(pick_dest(&t, "a.b.dom.test", 1), "block");
	assert_string_equal(pick_dest(&t, "xdom.test", 1), "direct");
	assert_string_equal(pick_dest(&t, "full.test", 1), "proxy-a");
	assert_string_equal(pick_dest(&t, "a.full.test", 1), "direct");
	assert_string_equal(pick_dest(&t, "akwb.org", 1), "proxy-b");
	assert_string_equal(pick_dest(&t, "re42.test", 1), "proxy-b");
	assert_string_equal(pick_dest(&t, "re.test", 1), "direct");
	assert_string_equal(pick_dest(&t, "localhost", 1), "block");
	rt_free(&t);
}

static void
test_geosite_shared(void **state)
{
	struct rt t;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"inboundTag\": [\"in-b\"], \"domain\": "
	    "  [\"ext:geosite-cn-gfw.dat:cn\"], \"outboundTag\": \"block\" },"
	    "{ \"domain\": [\"ext:geosite-cn-gfw.dat:CN\"],"
	    "  \"outboundTag\": \"proxy-a\" } ] }"), 0);
	/* two rules, one stored set */
	assert_int_equal(sl_img_count(&t.img, SL_SECT_DOMSETS), 1);
	assert_string_equal(pick_dest(&t, "baidu.com", 443), "proxy-a");
	assert_string_equal(pick_dest(&t, "www.baidu.com", 443), "proxy-a");
	assert_string_equal(pick_dest(&t, "example.org", 443), "direct");
	rt_free(&t);
}

static void
test_fields(void **state)
{
	struct rt t;
	struct q q;
	struct sl_route_attr at[2] = {
		{ ":method", "GET", 7, 3 }, { "host", "x.test", 4, 6 },
	};

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"inboundTag\": \"in-b\", \"outboundTag\": \"block\" },"
	    "{ \"user\": [\"vip@x\", \"regexp:^team-[a-z]+@\"],"
	    "  \"outboundTag\": \"proxy-a\" },"
	    "{ \"protocol\": [\"http\"], \"attrs\": { \":method\": \"GET\" },"
	    "  \"outboundTag\": \"proxy-b\" },"
	    "{ \"network\": \"udp\", \"outboundTag\": \"block\" },"
	    "{ \"sourcePort\": \"1000-2000\", \"outboundTag\": \"proxy-a\" },"
	    "{ \"localPort\": 40002, \"outboundTag\": \"proxy-b\" },"
	    "{ \"vlessRoute\": \"7\", \"outboundTag\": \"block\" },"
	    "{ \"source\": [\"10.9.0.0/16\"], \"outboundTag\": \"proxy-a\" },"
	    "{ \"localIP\": [\"::1\"], \"outboundTag\": \"proxy-b\" },"
	    "{ \"localOS\": [\"windows\"], \"outboundTag\": \"block\" },"
	    "{ \"localOS\": [\"LINUX\"], \"port\": 9, \"outboundTag\": "
	    "  \"proxy-a\" } ] }"), 0);
	q_init(&q, "x.test", 80);
	q.x.inbound = 1;
	assert_string_equal(pick(&t, &q, NULL), "block");
	q.x.inbound = 0;
	assert_string_equal(pick(&t, &q, NULL), "direct");
	q.x.user = "vip@x";
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q.x.user = "team-ops@x";
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q.x.user = "Team-ops@x";
	assert_string_equal(pick(&t, &q, NULL), "direct");
	q.x.user = NULL;
	q.x.protocol = "http1";		/* prefix "http" */
	assert_string_equal(pick(&t, &q, NULL), "direct");	/* no attrs */
	q.x.attrs = at;
	q.x.nattrs = 2;
	assert_string_equal(pick(&t, &q, NULL), "proxy-b");
	at[0].val = "POST";
	at[0].val_len = 4;
	assert_string_equal(pick(&t, &q, NULL), "direct");
	q.x.network = 2;
	assert_string_equal(pick(&t, &q, NULL), "block");
	q.x.network = 1;
	q.x.source_port = 1500;
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q.x.source_port = 2001;
	q.x.local_port = 40002;
	assert_string_equal(pick(&t, &q, NULL), "proxy-b");
	q.x.local_port = 0;
	q.x.vless_route = 7;
	assert_string_equal(pick(&t, &q, NULL), "block");
	q.x.vless_route = 0;
	q_addr(&q.src, "10.9.3.4");
	q.x.source = (struct sockaddr *)&q.src;
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q_addr(&q.src, "10.8.3.4");
	q_addr(&q.loc, "::1");
	q.x.local = (struct sockaddr *)&q.loc;
	assert_string_equal(pick(&t, &q, NULL), "proxy-b");
	q.x.local = NULL;
	q.x.port = 9;		/* the windows rule never matches */
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	rt_free(&t);
}

/* spec 1.9: positive groups match inside, reversed groups outside --
 * but only for an address family the reversed set has prefixes of. */
static void
test_ip_four_groups(void **state)
{
	struct rt t;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"ip\": [\"!10.0.0.0/8\"], \"outboundTag\": \"block\" },"
	    "{ \"ip\": [\"10.1.0.0/16\", \"!!2001:db8::/32\"],"
	    "  \"outboundTag\": \"proxy-a\" },"
	    "{ \"ip\": [\"!ext:geoip-cn.dat:cn\"], \"port\": 7,"
	    "  \"outboundTag\": \"proxy-b\" },"
	    "{ \"ip\": [\"ext:geoip-cn.dat:!cn\"], \"port\": 8,"
	    "  \"outboundTag\": \"proxy-b\" },"
	    "{ \"ip\": [\"geoip:private\"], \"outboundTag\": \"proxy-b\" } "
	    "] }"), 0);
	assert_string_equal(pick_dest(&t, "11.0.0.1", 1), "block");
	assert_string_equal(pick_dest(&t, "10.1.2.3", 1), "proxy-a");
	/* a v6 address: the reversed v4-only set says nothing */
	assert_string_equal(pick_dest(&t, "2001:db8::1", 1), "proxy-a");
	assert_string_equal(pick_dest(&t, "2001:db9::1", 1), "direct");
	/* 1.0.1.1 is CN (geoip-cn.dat), 8.8.8.8 is not */
	/* 10.2.0.1 is not CN: both spellings of "not cn" match it */
	assert_string_equal(pick_dest(&t, "10.2.0.1", 7), "proxy-b");
	assert_string_equal(pick_dest(&t, "10.2.0.1", 8), "proxy-b");
	assert_string_equal(pick_dest(&t, "10.9.9.9", 1), "proxy-b");
	rt_free(&t);
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"ip\": [\"!ext:geoip-cn.dat:cn\"], \"outboundTag\": \"block\" },"
	    "{ \"ip\": [\"ext:geoip-cn.dat:cn\"], \"outboundTag\": "
	    "  \"proxy-a\" } ] }"), 0);
	assert_string_equal(pick_dest(&t, "8.8.8.8", 1), "block");
	assert_string_equal(pick_dest(&t, "1.0.1.1", 1), "proxy-a");
	/* !geoip:cn and geoip:cn share one stored set */
	assert_int_equal(sl_img_count(&t.img, SL_SECT_IPSETS), 2);
	rt_free(&t);
}

static void
set_dns(struct q *q, struct sockaddr_storage *ss, const char *ip)
{
	q_addr(ss, ip);
	q->x.dns = ss;
	q->x.ndns = 1;
	q->x.dns_done = 1;
}

static void
test_domain_strategy(void **state)
{
	static const char *const rules =
	    "\"rules\": ["
	    "{ \"ip\": [\"192.0.2.0/24\"], \"outboundTag\": \"block\" },"
	    "{ \"domain\": [\"full:named.test\"], \"outboundTag\": \"proxy-a\" }"
	    "] }";
	struct sockaddr_storage ss;
	struct sl_route_result r;
	char cfg[512];
	struct rt t;
	struct q q;

	(void)state;
	snprintf(cfg, sizeof(cfg), "\"routing\": { %s", rules);
	assert_int_equal(rt_build(&t, cfg), 0);	/* AsIs: no DNS ever */
	q_init(&q, "named.test", 1);
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q_init(&q, "other.test", 1);
	assert_string_equal(pick(&t, &q, NULL), "direct");
	rt_free(&t);

	snprintf(cfg, sizeof(cfg), "\"routing\": { \"domainStrategy\": "
	    "\"IPIfNonMatch\", %s", rules);
	assert_int_equal(rt_build(&t, cfg), 0);
	q_init(&q, "named.test", 1);	/* pass 1 matches: no DNS */
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q_init(&q, "other.test", 1);
	assert_int_equal(sl_route_pick(&t.img, t.rx, &q.x, &r), SL_AGAIN);
	set_dns(&q, &ss, "192.0.2.9");
	assert_string_equal(pick(&t, &q, NULL), "block");
	set_dns(&q, &ss, "198.51.100.1");
	assert_string_equal(pick(&t, &q, NULL), "direct");
	rt_free(&t);

	snprintf(cfg, sizeof(cfg), "\"routing\": { \"domainStrategy\": "
	    "\"IPOnDemand\", %s", rules);
	assert_int_equal(rt_build(&t, cfg), 0);
	/* the ip rule comes first: resolve even a name a later rule names */
	q_init(&q, "named.test", 1);
	assert_int_equal(sl_route_pick(&t.img, t.rx, &q.x, &r), SL_AGAIN);
	set_dns(&q, &ss, "198.51.100.1");
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q.x.dns_done = 1;
	q.x.ndns = 0;		/* the lookup failed: no address to test */
	assert_string_equal(pick(&t, &q, NULL), "proxy-a");
	q_init(&q, "192.0.2.1", 1);	/* an address target: no DNS */
	assert_string_equal(pick(&t, &q, NULL), "block");
	rt_free(&t);
}

static void
test_balancer_target(void **state)
{
	struct rt t;
	struct q q;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"balancerTag\": \"b\", \"outboundTag\": \"block\","
	    "  \"port\": 1 },"
	    "{ \"balancerTag\": \"b\", \"port\": 2 } ],"
	    "\"balancers\": [ { \"tag\": \"b\", \"selector\": [\"proxy-\"] } ]"
	    "}"), 0);
	q_init(&q, "x.test", 1);	/* outboundTag wins over balancerTag */
	assert_string_equal(pick(&t, &q, NULL), "block");
	q_init(&q, "x.test", 2);
	assert_string_equal(pick(&t, &q, NULL), "b");
	{
		const struct sl_img_balancer *b = SL_IMG_REC(&t.img,
		    SL_SECT_BALANCERS, struct sl_img_balancer, 0);
		const uint32_t *c = SL_IMG_REC(&t.img, SL_SECT_U32, uint32_t,
		    b->cands_first);

		assert_int_equal(b->cands_count, 2);	/* sorted by tag */
		assert_int_equal(c[0], 2);
		assert_int_equal(c[1], 3);
	}
	rt_free(&t);
}

static void
test_errors(void **state)
{
	struct rt t;

	(void)state;
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"domain\": [\"x\"], \"outboundTag\": \"nope\" } ] }"), -1);
	assert_non_null(strstr(t.errors, "nope"));
	sl_conf_free(t.cf);
	assert_int_equal(rt_build(&t, "\"routing\": { \"rules\": ["
	    "{ \"domain\": [\"ext:geosite-cn-gfw.dat:NOPE\"], "
	    "\"outboundTag\": \"block\" } ] }"), -1);
	assert_non_null(strstr(t.errors, "NOPE"));
	assert_non_null(strstr(t.errors, "rules[0]"));
	sl_conf_free(t.cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_and_default),
		cmocka_unit_test(test_domain_types),
		cmocka_unit_test(test_geosite_shared),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_ip_four_groups),
		cmocka_unit_test(test_domain_strategy),
		cmocka_unit_test(test_balancer_target),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
