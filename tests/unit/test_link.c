/*
 * test_link: vless:// and trojan:// share links (master/link.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "master/link.h"

static const char *const h2_h1[] = { "h2", "http/1.1" };

static void
check(const struct sl_link *l, const char *want)
{
	char *got = sl_link_format(l);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_vless_full(void **state)
{
	struct sl_link l = {
		.proto = SL_LINK_VLESS,
		.secret = "27848739-7e62-4138-9fd3-098a63964b6b",
		.host = "example.com", .port = 443, .tls = 1,
		.sni = "sni.example.com", .alpn = h2_h1, .nalpn = 2,
		.flow = "xtls-rprx-vision", .remark = "alice@example.com",
	};

	(void)state;
	check(&l, "vless://27848739-7e62-4138-9fd3-098a63964b6b@example.com:"
	    "443?encryption=none&security=tls&sni=sni.example.com"
	    "&alpn=h2%2Chttp%2F1.1&type=tcp&headerType=none"
	    "&flow=xtls-rprx-vision#alice%40example.com");
}

static void
test_vless_plain(void **state)
{
	/* no TLS: no sni, no alpn even if given; no flow; IPv6 host */
	struct sl_link l = {
		.proto = SL_LINK_VLESS,
		.secret = "27848739-7e62-4138-9fd3-098a63964b6b",
		.host = "2001:db8::1", .port = 8080, .tls = 0,
		.sni = "x.test", .alpn = h2_h1, .nalpn = 1, .flow = "",
		.remark = "bob",
	};

	(void)state;
	check(&l, "vless://27848739-7e62-4138-9fd3-098a63964b6b@"
	    "[2001:db8::1]:8080?encryption=none&security=none"
	    "&type=tcp&headerType=none#bob");
}

static void
test_trojan_escaped(void **state)
{
	struct sl_link l = {
		.proto = SL_LINK_TROJAN,
		.secret = "p@ss:w/rd?#&= %~._-",
		.host = "127.0.0.1", .port = 1310, .tls = 1,
		.sni = NULL, .alpn = NULL, .nalpn = 0,
		.flow = "xtls-rprx-vision",	/* VLESS only */
		.remark = "t user+1@x #2",
	};

	(void)state;
	check(&l, "trojan://p%40ss%3Aw%2Frd%3F%23%26%3D%20%25~._-@"
	    "127.0.0.1:1310?security=tls&type=tcp&headerType=none"
	    "#t%20user%2B1%40x%20%232");
	/* UTF-8 bytes are encoded one by one */
	l.remark = "\xc3\xa9l\xc3\xa8ve";
	l.sni = "";
	l.tls = 0;
	check(&l, "trojan://p%40ss%3Aw%2Frd%3F%23%26%3D%20%25~._-@"
	    "127.0.0.1:1310?security=none&type=tcp&headerType=none"
	    "#%C3%A9l%C3%A8ve");
}

static void
test_trojan_alpn_one(void **state)
{
	static const char *const h1[] = { "http/1.1" };
	struct sl_link l = {
		.proto = SL_LINK_TROJAN, .secret = "pw", .host = "a.test",
		.port = 443, .tls = 1, .sni = "a.test", .alpn = h1, .nalpn = 1,
		.remark = "",
	};

	(void)state;
	check(&l, "trojan://pw@a.test:443?security=tls&sni=a.test"
	    "&alpn=http%2F1.1&type=tcp&headerType=none#");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vless_full),
		cmocka_unit_test(test_vless_plain),
		cmocka_unit_test(test_trojan_escaped),
		cmocka_unit_test(test_trojan_alpn_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
