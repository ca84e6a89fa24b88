/*
 * test_conf: the configuration front ends, walker, checks and ids.
 *
 * Run from the repository root (data in tests/data/conf/).  The server
 * config exists twice, as Xray JSON and as sluice.conf; both must give
 * the same model, with the concrete values asserted here.  Error tests
 * compare the complete error text, "where" prefixes included.
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
#include "master/uuid.h"
#include "shm/ipset.h"
#include "tests/unit/helpers.h"

#define DATA	"tests/data/conf/"

/*
 * UUIDv5 of "example", computed independently when this test was written:
 *   python3 -c "import hashlib; b=bytearray(hashlib.sha1(b'\0'*16 +
 *   b'example').digest()[:16]); b[6]=b[6]&15|0x50; b[8]=b[8]&0x3f|0x80;
 *   print(b.hex())"
 * i.e. SHA-1 of 16 zero bytes + "example", version 5, RFC 4122 variant.
 */
static const uint8_t uuid_example[16] = {
	0xfe, 0xb5, 0x44, 0x31, 0x30, 0x1b, 0x52, 0xbb,
	0xa6, 0xdd, 0xe1, 0xe9, 0x3e, 0x81, 0xbb, 0x9e
};
static const uint8_t uuid_b831[16] = {
	0xb8, 0x31, 0x38, 0x1d, 0x63, 0x24, 0x4d, 0x53,
	0xad, 0x4f, 0x8c, 0xda, 0x48, 0xb3, 0x08, 0x11
};
/*
 * Computed independently:
 *   python3 -c "import hashlib;
 *   print(hashlib.sha224(b'research-trojan-pass').hexdigest())"
 */
#define TROJAN_KEY \
	"d6430728451d308099616df118faddde56e53ebf0f907047d3d89db2"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* Load FILE, expect failure with exactly EXPECT (file prefixes removed). */
static void
expect_file_errors(const char *file, const char *expect)
{
	struct sl_errors e;
	struct sl_conf *c = th_conf_load(file, &e);
	char *got;

	if (c != NULL)
		fail_msg("%s: loaded, expected errors:\n%s", file, expect);
	assert_non_null(e.buf);
	got = th_conf_strip_file(e.buf, file);
	if (strcmp(got, expect) != 0)
		fail_msg("%s: errors differ\n--- got:\n%s--- want:\n%s", file,
		    got, expect);
	free(got);
	sl_errors_free(&e);
}

static void
expect_text_errors(const char *ext, const char *text, const char *expect)
{
	char path[128];

	th_file_temp(path, sizeof(path), ext, text);
	expect_file_errors(path, expect);
	unlink(path);
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
	assert_int_equal(e.count, 0);
	sl_errors_free(&e);
	unlink(path);
	return c;
}

#define J_OUT	"\"outbounds\": [ { \"protocol\": \"freedom\" } ]"
#define J_CERT	"\"certificates\": [ { \"certificateFile\": \"" DATA \
		"test-cert.pem\", \"keyFile\": \"" DATA "test-key.pem\" } ]"
#define J_VLESS(settings, extra) \
	"{ \"inbounds\": [ { \"port\": 443, \"protocol\": \"vless\", " \
	"\"settings\": " settings extra " } ], " J_OUT " }"

/* ------------------------------------------------------------------ */
/* uuid                                                                */

static void
test_uuid_v5(void **state)
{
	uint8_t u[16];

	(void)state;
	assert_int_equal(sl_uuid_parse("example", u), 0);
	assert_memory_equal(u, uuid_example, 16);
	/* 30 bytes is still a name, 31 is an error (Xray). */
	assert_int_equal(sl_uuid_parse("123456789012345678901234567890", u),
	    0);
	assert_int_equal(u[6] >> 4, 5);
	assert_int_equal(u[8] & 0xC0, 0x80);
	assert_int_equal(sl_uuid_parse("1234567890123456789012345678901", u),
	    -1);
	assert_int_equal(sl_uuid_parse("", u), -1);
}

static void
test_uuid_forms(void **state)
{
	char s[SL_UUID_STRLEN + 1];
	uint8_t u[16];

	(void)state;
	assert_int_equal(sl_uuid_parse("b831381d-6324-4d53-ad4f-8cda48b30811",
	    u), 0);
	assert_memory_equal(u, uuid_b831, 16);
	memset(u, 0, sizeof(u));
	assert_int_equal(sl_uuid_parse("B831381D63244D53AD4F8CDA48B30811", u),
	    0);
	assert_memory_equal(u, uuid_b831, 16);
	/* Xray allows one '-' before any group, and ignores a tail. */
	assert_int_equal(sl_uuid_parse("-b831381d63244d53ad4f8cda48b30811",
	    u), 0);
	assert_memory_equal(u, uuid_b831, 16);
	assert_int_equal(sl_uuid_parse("b831381d63244d53ad4f8cda48b30811zzzz",
	    u), 0);
	assert_memory_equal(u, uuid_b831, 16);
	assert_int_equal(sl_uuid_parse("b831381d-6324-4d53-ad4f-8cda48b3081g",
	    u), -1);
	assert_int_equal(sl_uuid_parse("b831381d--6324-4d53-ad4f-8cda48b3081",
	    u), -1);
	assert_int_equal(sl_uuid_parse(
	    "b831381d-6324-4d53-ad4f-8cda48b30811-", u), -1);
	sl_uuid_format(uuid_b831, s);
	assert_string_equal(s, "b831381d-6324-4d53-ad4f-8cda48b30811");
}

static void
test_trojan_key(void **state)
{
	char k[SL_TROJAN_KEYLEN + 1];

	(void)state;
	sl_trojan_key("research-trojan-pass", k);
	assert_string_equal(k, TROJAN_KEY);
}

/* ------------------------------------------------------------------ */
/* the server config, twice                                            */

static void
assert_fallback(const struct sl_conf_fallback *fb, const char *name,
    const char *alpn, const char *path, const char *type, const char *dest,
    int xver)
{
	assert_string_equal(fb->name, name);
	assert_string_equal(fb->alpn, alpn);
	assert_string_equal(fb->path, path);
	assert_string_equal(fb->type, type);
	assert_string_equal(fb->dest, dest);
	assert_int_equal(fb->dest_len, strlen(dest));
	assert_int_equal(fb->xver, xver);
}

static void
assert_vless_in(const struct sl_conf_inbound *in)
{
	static const char padded[108] = "@padded";

	assert_string_equal(in->tag, "vless-in");
	assert_string_equal(in->listen, "0.0.0.0");
	assert_int_equal(in->port, 443);
	assert_int_equal(in->protocol, SL_IN_VLESS);
	assert_string_equal(in->decryption, "none");
	assert_int_equal(in->nclients, 2);
	assert_string_equal(in->clients[0].id,
	    "b831381d-6324-4d53-ad4f-8cda48b30811");
	assert_memory_equal(in->clients[0].uuid, uuid_b831, 16);
	assert_string_equal(in->clients[0].email, "a@example.com");
	assert_string_equal(in->clients[0].flow, "xtls-rprx-vision");
	assert_int_equal(in->clients[0].level, 0);
	assert_string_equal(in->clients[1].id, "example");
	assert_memory_equal(in->clients[1].uuid, uuid_example, 16);
	assert_string_equal(in->clients[1].flow, "");
	assert_int_equal(in->clients[1].level, 1);

	assert_int_equal(in->nfallbacks, 6);
	assert_fallback(&in->fallbacks[0], "", "", "", "tcp", "localhost:80",
	    0);
	assert_fallback(&in->fallbacks[1], "", "", "/ws", "tcp",
	    "localhost:1234", 1);
	assert_fallback(&in->fallbacks[2], "", "h2", "", "tcp", "localhost:81",
	    0);
	/* "A.com" in the file: lower-cased on purpose (Xray never matches). */
	assert_fallback(&in->fallbacks[3], "a.com", "", "", "unix",
	    "/run/x.sock", 0);
	assert_fallback(&in->fallbacks[4], "", "", "", "unix", "@abs", 0);
	assert_string_equal(in->fallbacks[5].type, "unix");
	assert_int_equal(in->fallbacks[5].dest_len, 108);
	assert_memory_equal(in->fallbacks[5].dest, padded, 108);

	assert_int_equal(in->security, SL_SEC_TLS);
	assert_int_equal(in->accept_proxy_protocol, 0);
	assert_int_equal(in->ncerts, 1);
	assert_string_equal(in->certs[0].certificate_file,
	    DATA "test-cert.pem");
	assert_string_equal(in->certs[0].key_file, DATA "test-key.pem");
	assert_int_equal(in->nalpn, 2);
	assert_string_equal(in->alpn[0], "h2");
	assert_string_equal(in->alpn[1], "http/1.1");
	assert_int_equal(in->min_version, SL_TLS_12);
	assert_int_equal(in->max_version, SL_TLS_13);
	assert_string_equal(in->server_name, "example.com");
	assert_int_equal(in->reject_unknown_sni, 1);
}

static void
assert_trojan_in(const struct sl_conf_inbound *in)
{
	assert_string_equal(in->tag, "trojan-in");
	assert_string_equal(in->listen, "127.0.0.1");
	assert_int_equal(in->port, 4431);
	assert_int_equal(in->protocol, SL_IN_TROJAN);
	assert_int_equal(in->nclients, 1);
	assert_string_equal(in->clients[0].password, "research-trojan-pass");
	assert_string_equal(in->clients[0].trojan_key, TROJAN_KEY);
	assert_string_equal(in->clients[0].email, "t@example.com");
	assert_null(in->clients[0].id);
	assert_int_equal(in->nfallbacks, 1);
	assert_fallback(&in->fallbacks[0], "", "", "", "tcp",
	    "127.0.0.1:8080", 0);
	assert_int_equal(in->security, SL_SEC_NONE);
	assert_int_equal(in->accept_proxy_protocol, 1);
	assert_int_equal(in->ncerts, 0);
	assert_null(in->alpn);
	assert_string_equal(in->server_name, "");
}

static void
assert_freedom(const struct sl_conf_outbound *o)
{
	const struct sl_conf_final_rule *r = o->final_rules;
	struct sl_cidr c;
	size_t i;

	assert_string_equal(o->tag, "direct");
	assert_int_equal(o->protocol, SL_OUT_FREEDOM);
	assert_int_equal(o->user_level, 1);
	assert_int_equal(o->nfinal_rules, 3);

	assert_int_equal(r[0].action, SL_FINAL_BLOCK);
	assert_int_equal(r[0].networks, SL_NET_TCP | SL_NET_UDP);
	assert_int_equal(r[0].nports, 0);
	/* "geoip:private" is the 18 entries of shm/ipset.c's list, in order. */
	assert_int_equal(r[0].nips, 18 + 1);
	for (i = 0; sl_private_cidrs[i] != NULL; i++) {
		assert_int_equal(sl_cidr_parse(sl_private_cidrs[i], &c), 0);
		assert_int_equal(r[0].ips[i].family, c.family);
		assert_int_equal(r[0].ips[i].prefix, c.prefix);
		assert_memory_equal(r[0].ips[i].addr, c.addr, 16);
	}
	assert_int_equal(i, 18);
	assert_int_equal(r[0].ips[0].family, AF_INET);
	assert_int_equal(r[0].ips[0].prefix, 8);
	assert_int_equal(r[0].ips[14].family, AF_INET6);	/* ::/127 */
	assert_int_equal(r[0].ips[14].prefix, 127);
	/* "198.51.100.7/16": host bits masked */
	assert_int_equal(r[0].ips[18].family, AF_INET);
	assert_int_equal(r[0].ips[18].prefix, 16);
	assert_memory_equal(r[0].ips[18].addr, "\xc6\x33\x00\x00", 4);
	assert_int_equal(r[0].has_block_delay, 1);
	assert_int_equal(r[0].block_delay_min, 30);	/* "90-30" swapped */
	assert_int_equal(r[0].block_delay_max, 90);

	assert_int_equal(r[1].action, SL_FINAL_ALLOW);
	assert_int_equal(r[1].networks, SL_NET_TCP);
	assert_int_equal(r[1].nports, 3);
	assert_int_equal(r[1].ports[0].from, 53);
	assert_int_equal(r[1].ports[0].to, 53);
	assert_int_equal(r[1].ports[1].from, 443);
	assert_int_equal(r[1].ports[2].from, 1000);
	assert_int_equal(r[1].ports[2].to, 2000);
	assert_int_equal(r[1].nips, 0);
	assert_int_equal(r[1].has_block_delay, 0);

	assert_int_equal(r[2].action, SL_FINAL_BLOCK);
	assert_int_equal(r[2].networks, 0);
	assert_int_equal(r[2].nports, 1);
	assert_int_equal(r[2].ports[0].from, 25);
	assert_int_equal(r[2].ports[0].to, 25);
	assert_int_equal(r[2].block_delay_min, 5);
	assert_int_equal(r[2].block_delay_max, 5);
}

static void
assert_server_model(const struct sl_conf *c)
{
	const struct sl_conf_level *l;

	assert_int_equal(c->log.loglevel, SL_LOG_INFO);
	assert_string_equal(c->log.access, "none");
	assert_string_equal(c->log.error, "");
	assert_int_equal(c->ninbounds, 2);
	assert_vless_in(&c->inbounds[0]);
	assert_trojan_in(&c->inbounds[1]);
	assert_int_equal(c->noutbounds, 2);
	assert_freedom(&c->outbounds[0]);
	assert_string_equal(c->outbounds[1].tag, "block");
	assert_int_equal(c->outbounds[1].protocol, SL_OUT_BLACKHOLE);
	assert_int_equal(c->outbounds[1].blackhole_http, 1);

	assert_int_equal(c->nlevels, 2);
	assert_int_equal(c->levels[0].level, 0);
	assert_int_equal(c->levels[0].handshake_ms, 4000);
	assert_int_equal(c->levels[0].conn_idle_ms, 300000);
	assert_int_equal(c->levels[0].uplink_only_ms, 2000);
	assert_int_equal(c->levels[0].downlink_only_ms, 5000);
	assert_int_equal(c->levels[1].level, 1);
	assert_int_equal(c->levels[1].handshake_ms, 60000);
	assert_int_equal(c->levels[1].conn_idle_ms, 120000);
	assert_int_equal(c->levels[1].uplink_only_ms, 1000);
	assert_int_equal(c->levels[1].downlink_only_ms, 1000);
	l = sl_conf_level_get(c, 1);
	assert_int_equal(l->conn_idle_ms, 120000);
	l = sl_conf_level_get(c, 7);
	assert_int_equal(l->level, 0);
	assert_int_equal(l->handshake_ms, 4000);

	assert_int_equal(c->sluice.workers, 2);
	assert_int_equal(c->sluice.relay, SL_RELAY_COPY);
	assert_int_equal(c->sluice.stats_interval, 30);
	assert_int_equal(c->sluice.shutdown_timeout, 30);
	assert_string_equal(c->sluice.pid_file, "/tmp/sluiced-test.pid");
	assert_string_equal(c->sluice.control_socket,
	    "/run/sluice/control.sock");
	assert_string_equal(c->sluice.state_db, "/var/lib/sluice/sluice.db");
	assert_null(c->sluice.user);
	assert_null(c->sluice.group);
	assert_null(c->sluice.asset_dir);
}

static void
test_json_server(void **state)
{
	struct sl_errors e;
	struct sl_conf *c = th_conf_load(DATA "xray-server.json", &e);

	(void)state;
	if (c == NULL)
		fail_msg("%s", e.buf);
	assert_int_equal(e.count, 0);
	assert_server_model(c);
	assert_string_equal(c->file, DATA "xray-server.json");
	assert_string_equal(c->inbounds[0].where.path, "$.inbounds[0]");
	assert_int_equal(c->inbounds[0].where.line, 0);
	assert_string_equal(c->inbounds[0].fallbacks[5].where.path,
	    "$.inbounds[0].settings.fallbacks[5]");
	assert_string_equal(c->outbounds[0].final_rules[1].where.path,
	    "$.outbounds[0].settings.finalRules[1]");
	sl_conf_free(c);
	sl_errors_free(&e);
}

static void
test_cfg_server(void **state)
{
	struct sl_errors e;
	struct sl_conf *c = th_conf_load(DATA "xray-server.conf", &e);

	(void)state;
	if (c == NULL)
		fail_msg("%s", e.buf);
	assert_int_equal(e.count, 0);
	assert_server_model(c);
	assert_string_equal(c->inbounds[0].where.file, DATA "xray-server.conf");
	assert_string_equal(c->inbounds[0].where.path, "inbounds.[0]");
	assert_int_equal(c->inbounds[0].where.line, 10);
	assert_string_equal(c->inbounds[0].clients[1].where.path,
	    "inbounds.[0].settings.clients.[1]");
	assert_int_equal(c->inbounds[0].clients[1].where.line, 24);
	sl_conf_free(c);
	sl_errors_free(&e);
}

/* Field by field, beyond the values above: nothing may differ. */
static void
assert_same_inbound(const struct sl_conf_inbound *a,
    const struct sl_conf_inbound *b)
{
	size_t i;

	assert_int_equal(a->nclients, b->nclients);
	for (i = 0; i < a->nclients; i++) {
		assert_memory_equal(a->clients[i].uuid, b->clients[i].uuid, 16);
		assert_string_equal(a->clients[i].trojan_key,
		    b->clients[i].trojan_key);
		assert_string_equal(a->clients[i].email, b->clients[i].email);
		assert_string_equal(a->clients[i].flow, b->clients[i].flow);
		assert_int_equal(a->clients[i].level, b->clients[i].level);
	}
	assert_int_equal(a->nfallbacks, b->nfallbacks);
	for (i = 0; i < a->nfallbacks; i++) {
		assert_int_equal(a->fallbacks[i].dest_len,
		    b->fallbacks[i].dest_len);
		assert_memory_equal(a->fallbacks[i].dest, b->fallbacks[i].dest,
		    a->fallbacks[i].dest_len);
		assert_string_equal(a->fallbacks[i].type, b->fallbacks[i].type);
		assert_string_equal(a->fallbacks[i].name, b->fallbacks[i].name);
		assert_string_equal(a->fallbacks[i].alpn, b->fallbacks[i].alpn);
		assert_string_equal(a->fallbacks[i].path, b->fallbacks[i].path);
		assert_int_equal(a->fallbacks[i].xver, b->fallbacks[i].xver);
	}
	assert_int_equal(a->ncerts, b->ncerts);
	assert_int_equal(a->nalpn, b->nalpn);
	assert_int_equal(a->security, b->security);
	assert_int_equal(a->accept_proxy_protocol, b->accept_proxy_protocol);
	assert_int_equal(a->min_version, b->min_version);
	assert_int_equal(a->max_version, b->max_version);
}

static void
assert_same_outbound(const struct sl_conf_outbound *a,
    const struct sl_conf_outbound *b)
{
	size_t i;

	assert_string_equal(a->tag, b->tag);
	assert_int_equal(a->protocol, b->protocol);
	assert_int_equal(a->blackhole_http, b->blackhole_http);
	assert_int_equal(a->user_level, b->user_level);
	assert_int_equal(a->nfinal_rules, b->nfinal_rules);
	for (i = 0; i < a->nfinal_rules; i++) {
		const struct sl_conf_final_rule *x = &a->final_rules[i];
		const struct sl_conf_final_rule *y = &b->final_rules[i];

		assert_int_equal(x->action, y->action);
		assert_int_equal(x->networks, y->networks);
		assert_int_equal(x->nports, y->nports);
		if (x->nports > 0)
			assert_memory_equal(x->ports, y->ports,
			    x->nports * sizeof(*x->ports));
		assert_int_equal(x->nips, y->nips);
		if (x->nips > 0)
			assert_memory_equal(x->ips, y->ips,
			    x->nips * sizeof(*x->ips));
		assert_int_equal(x->block_delay_min, y->block_delay_min);
		assert_int_equal(x->block_delay_max, y->block_delay_max);
		assert_int_equal(x->has_block_delay, y->has_block_delay);
	}
}

static void
test_same_model(void **state)
{
	struct sl_errors e1, e2;
	struct sl_conf *a = th_conf_load(DATA "xray-server.json", &e1);
	struct sl_conf *b = th_conf_load(DATA "xray-server.conf", &e2);
	size_t i;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->ninbounds, b->ninbounds);
	for (i = 0; i < a->ninbounds; i++)
		assert_same_inbound(&a->inbounds[i], &b->inbounds[i]);
	assert_int_equal(a->noutbounds, b->noutbounds);
	for (i = 0; i < a->noutbounds; i++)
		assert_same_outbound(&a->outbounds[i], &b->outbounds[i]);
	assert_int_equal(a->nlevels, b->nlevels);
	assert_memory_equal(a->levels, b->levels,
	    a->nlevels * sizeof(*a->levels));
	assert_int_equal(a->log.loglevel, b->log.loglevel);
	assert_int_equal(a->sluice.relay, b->sluice.relay);
	sl_conf_free(a);
	sl_conf_free(b);
	sl_errors_free(&e1);
	sl_errors_free(&e2);
}

static void
test_defaults(void **state)
{
	struct sl_errors e;
	struct sl_conf *c = th_conf_load(DATA "minimal.jsonc", &e);
	const struct sl_conf_level *l;

	(void)state;
	if (c == NULL)
		fail_msg("%s", e.buf);
	assert_int_equal(c->log.loglevel, SL_LOG_WARNING);
	assert_string_equal(c->log.access, "");
	assert_string_equal(c->log.error, "");
	assert_int_equal(c->ninbounds, 0);
	assert_int_equal(c->noutbounds, 1);
	assert_string_equal(c->outbounds[0].tag, "");
	assert_int_equal(c->outbounds[0].nfinal_rules, 0);
	assert_int_equal(c->nlevels, 1);
	l = sl_conf_level_get(c, 3);
	assert_int_equal(l->level, 0);
	assert_int_equal(l->handshake_ms, 60000);
	assert_int_equal(l->conn_idle_ms, 300000);
	assert_int_equal(l->uplink_only_ms, 1000);
	assert_int_equal(l->downlink_only_ms, 1000);
	assert_int_equal(c->sluice.workers, 0);
	assert_string_equal(c->sluice.pid_file, "/run/sluice/sluiced.pid");
	assert_string_equal(c->sluice.control_socket,
	    "/run/sluice/control.sock");
	assert_string_equal(c->sluice.state_db, "/var/lib/sluice/sluice.db");
	assert_int_equal(c->sluice.relay, SL_RELAY_COPY);
	assert_int_equal(c->sluice.stats_interval, 10);
	assert_int_equal(c->sluice.shutdown_timeout, 30);
	sl_conf_free(c);
	sl_errors_free(&e);
}

/* Defaults of an inbound, and the accepted no-op spellings. */
static void
test_inbound_defaults(void **state)
{
	struct sl_conf *c;

	(void)state;
	c = load_text(".json", "{ \"log\": { \"loglevel\": \"NONE\", "
	    "\"dnsLog\": false }, \"inbounds\": [ { \"port\": \" 8443 \", "
	    "\"listen\": \"[::1]\", \"protocol\": \"trojan\", \"sniffing\": "
	    "null, \"streamSettings\": { \"security\": \"tls\", "
	    "\"tlsSettings\": { \"allowInsecure\": false, \"alpn\": "
	    "\"h2,http/1.1\", " J_CERT " }, \"sockopt\": { "
	    "\"acceptProxyProtocol\": true } } } ], \"outbounds\": [ { "
	    "\"protocol\": \"blackhole\", \"mux\": {} } ] }");
	assert_int_equal(c->inbounds[0].port, 8443);
	assert_string_equal(c->inbounds[0].listen, "::1");
	assert_string_equal(c->inbounds[0].tag, "");
	assert_int_equal(c->inbounds[0].nclients, 0);
	assert_int_equal(c->inbounds[0].accept_proxy_protocol, 1);
	assert_int_equal(c->inbounds[0].nalpn, 2);
	assert_string_equal(c->inbounds[0].alpn[1], "http/1.1");
	assert_int_equal(c->inbounds[0].min_version, SL_TLS_ANY);
	/* Xray: loglevel "none" also turns the access log off. */
	assert_int_equal(c->log.loglevel, SL_LOG_NONE);
	assert_string_equal(c->log.access, "none");
	assert_int_equal(c->outbounds[0].blackhole_http, 0);
	sl_conf_free(c);

	c = load_text(".json", J_VLESS("{ \"decryption\": \"none\", "
	    "\"flow\": \"xtls-rprx-vision\", \"users\": [ { \"id\": \"u1\" }, "
	    "{ \"id\": \"u2\", \"flow\": \"\" } ], \"fallbacks\": [ { \"dest\":"
	    " \"[::1]:80\", \"type\": \"tcp6\" }, { \"dest\": \"@@x\", "
	    "\"type\": \"unix\" }, { \"dest\": \"a.example:8080\" } ] }",
	    ", \"streamSettings\": { \"security\": \"tls\", \"tlsSettings\": "
	    "{ " J_CERT " } }"));
	/* settings.flow is the default for every client. */
	assert_string_equal(c->inbounds[0].clients[0].flow, "xtls-rprx-vision");
	assert_string_equal(c->inbounds[0].clients[1].flow, "xtls-rprx-vision");
	assert_fallback(&c->inbounds[0].fallbacks[0], "", "", "", "tcp6",
	    "[::1]:80", 0);
	/* An explicit "unix" keeps "@@x" as written: not padded (Xray). */
	assert_fallback(&c->inbounds[0].fallbacks[1], "", "", "", "unix",
	    "@@x", 0);
	assert_fallback(&c->inbounds[0].fallbacks[2], "", "", "", "tcp",
	    "a.example:8080", 0);
	sl_conf_free(c);
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void
test_errors_json(void **state)
{
	(void)state;
	expect_file_errors(DATA "errors.json",
	    "$.inbounds[0].port: 70000 is not a port (1-65535)\n"
	    "$.inbounds[0].settings.clients[0].foo: unknown field\n"
	    "$.inbounds[0].settings.fallbacks[0].xver: xver 3 is not 0, 1 "
	    "or 2\n"
	    "$.inbounds[0].settings.fallbacks[1].path: path must be empty or "
	    "start with / (got \"ws\")\n"
	    "$.inbounds[0].streamSettings.security: unsupported value "
	    "\"reality\" (not implemented yet; supported: none or tls)\n"
	    "$.inbounds[1].streamSettings.tlsSettings.certificates[0]."
	    "certificateFile: cannot read \"tests/data/conf/nonexistent.pem\":"
	    " No such file or directory\n"
	    "$.routing.rules[0]: this rule has no effective fields (a rule "
	    "for everything can say \"network\": \"tcp,udp\")\n"
	    "$.inbounds[1]: duplicate tag \"dup-in\" (also $.inbounds[0])\n"
	    "$.outbounds[1]: duplicate tag \"direct\" (also $.outbounds[0])\n");
}

static void
test_errors_cfg(void **state)
{
	(void)state;
	expect_file_errors(DATA "errors.conf",
	    "7: inbounds.[0].port: 70000 is not a port (1-65535)\n"
	    "10: inbounds.[0].settings.clients.[0].foo: unknown field\n"
	    "13: inbounds.[0].settings.fallbacks.[0].xver: xver 3 is not 0, "
	    "1 or 2\n"
	    "14: inbounds.[0].settings.fallbacks.[1].path: path must be empty "
	    "or start with / (got \"ws\")\n"
	    "17: inbounds.[0].streamSettings.security: unsupported value "
	    "\"reality\" (not implemented yet; supported: none or tls)\n"
	    "29: inbounds.[1].streamSettings.tlsSettings.certificates.[0]."
	    "certificateFile: cannot read \"tests/data/conf/nonexistent.pem\":"
	    " No such file or directory\n"
	    "3: routing.rules.[0]: this rule has no effective fields (a rule "
	    "for everything can say \"network\": \"tcp,udp\")\n"
	    "19: inbounds.[1]: duplicate tag \"dup-in\" (also inbounds.[0])\n"
	    "39: outbounds.[1]: duplicate tag \"direct\" (also outbounds.[0])\n");
}

static void
test_errors_no_outbounds(void **state)
{
	(void)state;
	expect_file_errors(DATA "no-outbounds.json",
	    "$.outbounds: at least one outbound is required\n");
	expect_file_errors(DATA "no-outbounds.conf",
	    "outbounds: at least one outbound is required\n");
	expect_text_errors(".json", "{ \"outbounds\": [] }",
	    "$.outbounds: at least one outbound is required\n");
}

static void
test_errors_syntax(void **state)
{
	(void)state;
	/* json-c's byte offset as line:column (tabs count as one). */
	expect_file_errors(DATA "syntax.json",
	    "3:22: syntax error: quoted object property name expected\n");
	expect_file_errors(DATA "syntax.conf", "3: syntax error\n");
	expect_text_errors(".json", "{ \"outbounds\": [\n",
	    "2:1: syntax error: unexpected end of file\n");
	expect_text_errors(".json", "{ \"outbounds\": [] }\n}\n",
	    "2:1: syntax error: unexpected text after the top-level value\n");
	expect_text_errors(".json", "[ 1 ] /* x */",
	    "$: must be an object, not an array\n");
	expect_file_errors("/nonexistent/x.json",
	    "cannot open: No such file or directory\n");
	expect_file_errors("/nonexistent/sluice.conf",
	    "cannot open: No such file or directory\n");
}

static void
test_errors_fallbacks(void **state)
{
	(void)state;
	expect_text_errors(".json", J_VLESS("{ \"decryption\": \"none\", "
	    "\"fallbacks\": [ { \"dest\": \"serve-ws-none\" }, { \"dest\": "
	    "\"example.com\" }, { \"dest\": 0 }, { \"dest\": 80, \"type\": "
	    "\"udp\" }, { \"dest\": \"80\", \"type\": \"tcp\" }, { \"xver\": "
	    "-1, \"dest\": \"a:b:80\" }, { \"name\": 1, \"dest\": true } ] }",
	    ""),
	    "$.inbounds[0].settings.fallbacks[0].dest: unsupported value "
	    "\"serve-ws-none\" (a v2fly leftover that cannot be dialed)\n"
	    "$.inbounds[0].settings.fallbacks[1].dest: \"example.com\" is not "
	    "a valid dest: missing port (expected a port, host:port, an "
	    "absolute path or @name)\n"
	    "$.inbounds[0].settings.fallbacks[2].dest: 0 is not a port "
	    "(1-65535)\n"
	    "$.inbounds[0].settings.fallbacks[3].type: unsupported value "
	    "\"udp\" (tcp, tcp4, tcp6 or unix)\n"
	    "$.inbounds[0].settings.fallbacks[4].dest: \"80\" is not "
	    "host:port: missing port (with an explicit \"type\", dest is used "
	    "as written)\n"
	    "$.inbounds[0].settings.fallbacks[5].xver: xver -1 is not 0, 1 or "
	    "2\n"
	    "$.inbounds[0].settings.fallbacks[5].dest: \"a:b:80\" is not a "
	    "valid dest: too many colons (write IPv6 as [addr]:port) "
	    "(expected a port, host:port, an absolute path or @name)\n"
	    "$.inbounds[0].settings.fallbacks[6].name: must be a string, not "
	    "an integer\n"
	    "$.inbounds[0].settings.fallbacks[6].dest: must be a port number "
	    "or a string, not a boolean\n");
	expect_text_errors(".json", J_VLESS("{ \"decryption\": "
	    "\"mlkem768x25519plus.native.600s.x\", \"fallbacks\": [] }", ""),
	    "$.inbounds[0].settings.decryption: unsupported value "
	    "\"mlkem768x25519plus.native.600s.x\" (only \"none\")\n"
	    "$.inbounds[0].settings.fallbacks: fallbacks can not be used "
	    "together with decryption \"mlkem768x25519plus.native.600s.x\"\n");
}

static void
test_errors_inbounds(void **state)
{
	(void)state;
	expect_text_errors(".json", "{ \"inbounds\": [ { \"port\": "
	    "\"1000-2000\", \"listen\": \"localhost\", \"protocol\": \"vmess\","
	    " \"sniffing\": { \"destOverride\": \"fakedns\" } }, { "
	    "\"port\": 80.5, "
	    "\"listen\": \"/run/s.sock\", \"protocol\": \"trojan\", "
	    "\"settings\": { \"clients\": [ { \"password\": \"\" }, { "
	    "\"flow\": \"xtls-rprx-vision\" } ] } }, { \"protocol\": \"foo\" }"
	    " ], " J_OUT " }",
	    "$.inbounds[0].listen: \"localhost\" is not an IP address (host "
	    "names are not supported)\n"
	    "$.inbounds[0].port: \"1000-2000\": port ranges are not supported "
	    "(one port per inbound)\n"
	    "$.inbounds[0].protocol: unsupported value \"vmess\" (not "
	    "implemented yet; supported: vless or trojan)\n"
	    "$.inbounds[0].sniffing.destOverride: unsupported value "
	    "\"fakedns\" (sluice has no FakeDNS)\n"
	    "$.inbounds[1].listen: \"/run/s.sock\": listening on a unix socket"
	    " is not supported yet\n"
	    "$.inbounds[1].port: must be a port number or a string, not a "
	    "fractional number\n"
	    "$.inbounds[1].settings.clients[0].password: must not be empty\n"
	    "$.inbounds[1].settings.clients[1].password: required field is "
	    "missing\n"
	    "$.inbounds[1].settings.clients[1].flow: flow for Trojan was "
	    "removed from Xray; use VLESS\n"
	    "$.inbounds[2].port: required field is missing\n"
	    "$.inbounds[2].protocol: unknown value \"foo\" (expected vless or "
	    "trojan)\n");
	expect_text_errors(".json", J_VLESS("{ \"clients\": [ { \"id\": "
	    "\"1234567890123456789012345678901\", \"flow\": \"xtls-rprx-"
	    "direct\", \"level\": 256 }, { \"id\": \"u\", \"email\": \"A@x\" },"
	    " { \"id\": \"u\", \"email\": \"a@X\", \"encryption\": \"none\" } "
	    "] }", ""),
	    "$.inbounds[0].settings.clients[0].level: 256 is out of range "
	    "(0-255)\n"
	    "$.inbounds[0].settings.clients[0].id: \"12345678901234567890123"
	    "45678901\" is neither a UUID (32-36 hex digits) nor a name of at "
	    "most 30 bytes\n"
	    "$.inbounds[0].settings.clients[0].flow: unsupported value "
	    "\"xtls-rprx-direct\" (only \"xtls-rprx-vision\")\n"
	    "$.inbounds[0].settings.clients[2].encryption: not allowed in "
	    "inbound settings (it is for clients; the server side is "
	    "\"decryption\")\n"
	    "$.inbounds[0].settings.decryption: required field is missing "
	    "(set \"decryption\": \"none\")\n"
	    "$.inbounds[0].settings.clients[2]: duplicate id (also "
	    "$.inbounds[0].settings.clients[1])\n"
	    "$.inbounds[0].settings.clients[2]: duplicate email \"a@X\" (also "
	    "$.inbounds[0].settings.clients[1])\n");
}

static void
test_errors_stream(void **state)
{
	(void)state;
	expect_text_errors(".json", J_VLESS("{ \"decryption\": \"none\", "
	    "\"clients\": [ { \"id\": \"u\", \"flow\": \"xtls-rprx-vision\" } ]"
	    " }", ", \"streamSettings\": { \"network\": \"ws\", \"wsSettings\":"
	    " {}, \"tlsSettings\": {}, \"tcpSettings\": { \"header\": { "
	    "\"type\": \"http\" } } }"),
	    "$.inbounds[0].streamSettings.wsSettings: unsupported field (not "
	    "implemented yet)\n"
	    "$.inbounds[0].streamSettings.network: unsupported value \"ws\" "
	    "(not implemented yet; supported: tcp or raw)\n"
	    "$.inbounds[0].streamSettings.tlsSettings: given, but \"security\""
	    " is not \"tls\"\n"
	    "$.inbounds[0].streamSettings.tcpSettings.header.type: unsupported"
	    " value \"http\" (not implemented yet; supported: none)\n"
	    "$.inbounds[0].settings.clients[0]: flow \"xtls-rprx-vision\" "
	    "needs streamSettings.security \"tls\" on this inbound\n");
	expect_text_errors(".json", J_VLESS("{ \"decryption\": \"none\" }",
	    ", \"streamSettings\": { \"security\": \"tls\", \"tlsSettings\": {"
	    " \"allowInsecure\": true, \"minVersion\": \"1.3\", \"maxVersion\":"
	    " \"1.2\" } }"),
	    "$.inbounds[0].streamSettings.tlsSettings.allowInsecure: "
	    "unsupported field (not implemented yet)\n"
	    "$.inbounds[0].streamSettings.tlsSettings.certificates: security "
	    "\"tls\" needs at least one certificate\n"
	    "$.inbounds[0].streamSettings.tlsSettings.maxVersion: is below "
	    "minVersion\n");
	expect_text_errors(".json", J_VLESS("{ \"decryption\": \"none\" }",
	    ", \"streamSettings\": { \"security\": \"tls\", \"tlsSettings\": {"
	    " \"certificates\": [ { \"certificate\": [ \"x\" ], \"keyFile\": "
	    "\"" DATA "test-key.pem\", \"usage\": \"verify\" }, {} ] } }"),
	    "$.inbounds[0].streamSettings.tlsSettings.certificates[0]."
	    "certificate: unsupported field (not implemented yet)\n"
	    "$.inbounds[0].streamSettings.tlsSettings.certificates[0].usage: "
	    "unsupported value \"verify\" (not implemented yet; supported: "
	    "encipherment)\n"
	    "$.inbounds[0].streamSettings.tlsSettings.certificates[1]."
	    "certificateFile: required field is missing\n"
	    "$.inbounds[0].streamSettings.tlsSettings.certificates[1].keyFile:"
	    " required field is missing\n");
}

static void
test_errors_outbounds(void **state)
{
	(void)state;
	expect_text_errors(".json", "{ \"outbounds\": [ { \"protocol\": "
	    "\"freedom\", \"mux\": { \"enabled\": true }, \"settings\": { "
	    "\"domainStrategy\": \"UseIPv5\", \"redirect\": \"1.2.3.4\", "
	    "\"finalRules\": [ { \"network\": \"tcp, udp\", \"port\": "
	    "\"2000-1000,x\", \"ip\": [ \"geoip:cn\", \"!10.0.0.0/8\", "
	    "\"ext:a.dat:b\", \"1.2.3.4/33\" ], \"blockDelay\": \"-1-5\" }, { "
	    "\"action\": \"deny\", \"port\": 0 } ] } }, { \"protocol\": "
	    "\"vless\" }, { \"protocol\": \"blackhole\", \"settings\": { "
	    "\"response\": { \"type\": \"teapot\" } } } ] }",
	    "$.outbounds[0].mux: unsupported field (not implemented yet)\n"
	    "$.outbounds[0].settings.domainStrategy: unknown value "
	    "\"UseIPv5\" (expected AsIs, UseIP, UseIPv4, UseIPv6, UseIPv4v6, "
	    "UseIPv6v4, ForceIP, ForceIPv4, ForceIPv6, ForceIPv4v6 or "
	    "ForceIPv6v4)\n"
	    "$.outbounds[0].settings.redirect: \"1.2.3.4\" is not host:port "
	    "(write IPv6 as [addr]:port)\n"
	    "$.outbounds[0].settings.finalRules[0].action: required field is "
	    "missing\n"
	    "$.outbounds[0].settings.finalRules[0].network: unknown network "
	    "\" udp\" (tcp or udp)\n"
	    "$.outbounds[0].settings.finalRules[0].port: \"2000-1000\" is not "
	    "a port or a range a-b of ports (1-65535)\n"
	    "$.outbounds[0].settings.finalRules[0].port: \"x\" is not a port "
	    "or a range a-b of ports (1-65535)\n"
	    "$.outbounds[0].settings.finalRules[0].ip[0]: unsupported value "
	    "\"geoip:cn\" (geoip.dat is not supported yet; only "
	    "geoip:private)\n"
	    "$.outbounds[0].settings.finalRules[0].ip[1]: \"!10.0.0.0/8\": "
	    "negated IP rules are not supported yet\n"
	    "$.outbounds[0].settings.finalRules[0].ip[2]: unsupported value "
	    "\"ext:a.dat:b\" (geodata files are not supported yet)\n"
	    "$.outbounds[0].settings.finalRules[0].ip[3]: \"1.2.3.4/33\" is "
	    "not an IP address or CIDR\n"
	    "$.outbounds[0].settings.finalRules[0].blockDelay: must be seconds"
	    " as \"min-max\" or a number\n"
	    "$.outbounds[0].settings.finalRules[1].action: unknown value "
	    "\"deny\" (expected allow or block)\n"
	    "$.outbounds[0].settings.finalRules[1].port: 0 is not a port "
	    "(1-65535)\n"
	    "$.outbounds[1].protocol: unsupported value \"vless\" (not "
	    "implemented yet; supported: freedom, blackhole, socks or "
	    "http)\n"
	    "$.outbounds[2].settings.response.type: unknown value \"teapot\" "
	    "(expected none or http)\n");
}

static void
test_errors_top(void **state)
{
	(void)state;
	expect_text_errors(".json", "{ \"log\": { \"loglevel\": \"verbose\", "
	    "\"dnsLog\": true }, \"dns\": {}, \"Inbounds\": [], "
	    "\"policy\": { \"system\": { \"statsInboundUplink\": true }, "
	    "\"levels\": { \"0\": { \"handshake\": -1, \"bufferSize\": 4 }, "
	    "\"x\": {}, \"00\": {} } }, \"sluice\": { \"workers\": -1, "
	    "\"relay\": \"zerocopy\", \"user\": \"\", \"statsInterval\": "
	    "\"60\" }, " J_OUT " }",
	    "$.dns: unsupported field (not implemented yet)\n"
	    "$.Inbounds: unknown field\n"
	    "$.log.loglevel: unknown value \"verbose\" (expected debug, info, "
	    "warning, error or none)\n"
	    "$.log.dnsLog: unsupported value true (no DNS module yet)\n"
	    "$.policy.system: unsupported field (not implemented yet)\n"
	    "$.policy.levels.0.bufferSize: unsupported field (not implemented "
	    "yet)\n"
	    "$.policy.levels.0.handshake: -1 is out of range (0-4294967)\n"
	    "$.policy.levels.x: level \"x\" is not a number\n"
	    "$.policy.levels.00: level 0 is defined twice\n"
	    "$.sluice.workers: -1 is out of range (0-1024)\n"
	    "$.sluice.user: must not be empty\n"
	    "$.sluice.relay: unknown value \"zerocopy\" (expected copy, "
	    "splice or sockmap)\n"
	    "$.sluice.statsInterval: must be an integer, not a string\n");
	/* JSON keeps Xray's object form for levels. */
	expect_text_errors(".json", "{ \"policy\": { \"levels\": [ { "
	    "\"level\": 0 } ] }, " J_OUT " }",
	    "$.policy.levels: must be an object, not an array\n");
}

static void
test_errors_cfg_misc(void **state)
{
	struct sl_conf *c;

	(void)state;
	expect_text_errors(".conf",
	    "outbounds = ( { protocol = \"freedom\"; } );\n"
	    "policy = { levels = (\n"
	    "\t{ handshake = 4; },\n"
	    "\t{ level = 2; bogus = 1; },\n"
	    "\t{ level = 2; }\n"
	    "); };\n"
	    "inbounds = ( { port = 443; protocol = \"trojan\";\n"
	    "\tsettings = { clients = ( { password = 7; } ); }; } );\n"
	    "sluice = { workers = true; };\n",
	    "8: inbounds.[0].settings.clients.[0].password: must be a string, "
	    "not an integer\n"
	    "3: policy.levels.[0].level: required field is missing\n"
	    "4: policy.levels.[1].bogus: unknown field\n"
	    "5: policy.levels.[2]: level 2 is defined twice\n"
	    "9: sluice.workers: must be an integer, not a boolean\n");
	/* String lists may be libconfig lists too; levels sorted. */
	c = load_text(".conf",
	    "outbounds = ( { protocol = \"freedom\"; settings = { finalRules ="
	    " ( { action = \"allow\"; ip = ( \"10.1.2.3/8\", \"2001:db8::1\" );"
	    " network = "
	    "( \"udp\" ); } ); }; } );\n"
	    "policy = { levels = ( { level = 5; connIdle = 9; } ); };\n");
	assert_int_equal(c->outbounds[0].final_rules[0].nips, 2);
	assert_memory_equal(c->outbounds[0].final_rules[0].ips[0].addr,
	    "\x0a\0\0\0", 4);
	assert_int_equal(c->outbounds[0].final_rules[0].ips[1].family,
	    AF_INET6);
	assert_int_equal(c->outbounds[0].final_rules[0].ips[1].prefix, 128);
	assert_int_equal(c->outbounds[0].final_rules[0].networks, SL_NET_UDP);
	assert_int_equal(c->nlevels, 2);
	assert_int_equal(c->levels[0].level, 0);
	assert_int_equal(c->levels[1].level, 5);
	assert_int_equal(sl_conf_level_get(c, 5)->conn_idle_ms, 9000);
	assert_int_equal(sl_conf_level_get(c, 4)->conn_idle_ms, 300000);
	sl_conf_free(c);
}

static void
test_errors_add_format(void **state)
{
	struct sl_where j = { "x.json", 0, "$.a" };
	struct sl_where l = { "s.conf", 12, "inbounds.[0].port" };
	struct sl_errors e;

	(void)state;
	sl_errors_init(&e);
	sl_errors_add(&e, &j, "one %d", 1);
	sl_errors_add(&e, &l, "two");
	sl_errors_add(&e, NULL, "three");
	assert_int_equal(e.count, 3);
	assert_string_equal(e.buf, "x.json: $.a: one 1\n"
	    "s.conf:12: inbounds.[0].port: two\nthree\n");
	sl_errors_free(&e);
	assert_null(e.buf);
	assert_int_equal(e.count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_v5),
		cmocka_unit_test(test_uuid_forms),
		cmocka_unit_test(test_trojan_key),
		cmocka_unit_test(test_json_server),
		cmocka_unit_test(test_cfg_server),
		cmocka_unit_test(test_same_model),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_inbound_defaults),
		cmocka_unit_test(test_errors_add_format),
		cmocka_unit_test(test_errors_json),
		cmocka_unit_test(test_errors_cfg),
		cmocka_unit_test(test_errors_no_outbounds),
		cmocka_unit_test(test_errors_syntax),
		cmocka_unit_test(test_errors_fallbacks),
		cmocka_unit_test(test_errors_inbounds),
		cmocka_unit_test(test_errors_stream),
		cmocka_unit_test(test_errors_outbounds),
		cmocka_unit_test(test_errors_top),
		cmocka_unit_test(test_errors_cfg_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
