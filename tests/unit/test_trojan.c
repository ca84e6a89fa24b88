/*
 * test_trojan: the Trojan request header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shm/types.h"
#include "worker/trojan.h"

/* hex(SHA-224("password")) */
static const char key[] =
    "d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01";

/* key, CR LF, then the rest (CMD, ATYP, address, port, CR LF, payload). */
static size_t
req(uint8_t *buf, const void *rest, size_t rlen)
{
	memcpy(buf, key, 56);
	memcpy(buf + 56, "\r\n", 2);
	memcpy(buf + 58, rest, rlen);
	return 58 + rlen;
}

static int
parse(const uint8_t *buf, size_t len, struct sl_trojan_req *r,
    const char **why)
{
	memset(r, 0xa5, sizeof(*r));
	*why = NULL;
	return sl_trojan_parse(buf, len, r, why);
}

/* Prefixes shorter than 58 are "not trojan"; longer ones need more. */
static void
all_prefixes(const uint8_t *buf, size_t hlen)
{
	struct sl_trojan_req r;
	const char *why;

	for (size_t i = 0; i < hlen; i++) {
		int want = i < 58 ? SL_DECLINED : SL_AGAIN;

		if (parse(buf, i, &r, &why) != want)
			fail_msg("prefix %zu of %zu", i, hlen);
	}
}

static void
test_connect_domain(void **state)
{
	static const char rest[] = "\x01\x03\x0b" "example.com" "\x01\xbb\r\n"
	    "GET / HTTP/1.1\r\n";
	uint8_t buf[200];
	struct sl_trojan_req r;
	const char *why;
	size_t n = req(buf, rest, sizeof(rest) - 1);

	(void)state;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_memory_equal(r.key, key, 56);
	assert_int_equal(r.header_len, 56 + 2 + 1 + 1 + 12 + 2 + 2);
	assert_int_equal(r.target.cmd, SL_CMD_TCP);
	assert_int_equal(r.target.atyp, SL_ATYP_DOMAIN);
	assert_string_equal(r.target.host, "example.com");
	assert_int_equal(r.target.port, 443);
	all_prefixes(buf, r.header_len);
	assert_int_equal(parse(buf, 76, &r, &why), SL_OK);
}

static void
test_connect_ipv4(void **state)
{
	static const uint8_t rest[] = { 0x01, 0x01, 10, 1, 2, 3, 0x00, 0x50,
	    '\r', '\n' };
	uint8_t buf[100];
	struct sl_trojan_req r;
	const char *why;
	size_t n = req(buf, rest, sizeof(rest));

	(void)state;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, n);
	assert_int_equal(r.target.cmd, SL_CMD_TCP);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV4);
	assert_memory_equal(r.target.ip, "\x0a\x01\x02\x03", 4);
	assert_int_equal(r.target.port, 80);
	all_prefixes(buf, n);
}

static void
test_udp_ipv6(void **state)
{
	uint8_t rest[22] = { 0x03, 0x04, 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t buf[100];
	struct sl_trojan_req r;
	const char *why;
	size_t n;

	(void)state;
	rest[17] = 1;
	rest[18] = 0x00, rest[19] = 0x35, rest[20] = '\r', rest[21] = '\n';
	n = req(buf, rest, sizeof(rest));
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, n);
	assert_int_equal(r.target.cmd, SL_CMD_UDP);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV6);
	assert_memory_equal(r.target.ip, rest + 2, 16);
	assert_int_equal(r.target.port, 53);
	all_prefixes(buf, n);
}

static void
test_lenient(void **state)
{
	/* Any command but 3 is TCP; the CR LF bytes are not checked. */
	static const uint8_t rest[] = { 0x7f, 0x01, 1, 2, 3, 4, 0x01, 0xbb,
	    'x', 'y' };
	uint8_t buf[100];
	struct sl_trojan_req r;
	const char *why;
	size_t n = req(buf, rest, sizeof(rest));

	(void)state;
	buf[57] = 'Z';		/* the LF of the first CR LF */
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.target.cmd, SL_CMD_TCP);
	assert_int_equal(r.header_len, n);
	buf[58] = 0x00;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.target.cmd, SL_CMD_TCP);
	/* The key is taken as sent, upper case included. */
	buf[0] = 'D';
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.key[0], 'D');
}

static void
test_declined(void **state)
{
	static const char http[] =
	    "GET /some/long/path/to/make/this/longer/than/58/bytes HTTP/1.1\r\n";
	uint8_t buf[100];
	struct sl_trojan_req r;
	const char *why;
	size_t n = req(buf, "\x01\x01\x01\x02\x03\x04\x00\x50\r\n", 10);

	(void)state;
	assert_int_equal(parse(buf, 57, &r, &why), SL_DECLINED);
	buf[56] = '\n';
	assert_int_equal(parse(buf, n, &r, &why), SL_DECLINED);
	assert_int_equal(parse((const uint8_t *)http, sizeof(http) - 1, &r,
	    &why), SL_DECLINED);
	assert_int_equal(parse((const uint8_t *)"", 0, &r, &why), SL_DECLINED);
}

static void
test_errors(void **state)
{
	uint8_t buf[400], rest[300];
	struct sl_trojan_req r;
	const char *why;
	size_t n;

	(void)state;
	/* Bad ATYP, including VLESS's 2: refused with only the byte. */
	for (int a = 0; a < 256; a++) {
		if (a == 1 || a == 3 || a == 4)
			continue;
		n = req(buf, "\x01\x00", 2);
		buf[59] = (uint8_t)a;
		assert_int_equal(parse(buf, n, &r, &why), SL_ERROR);
		assert_string_equal(why, "invalid address type");
	}
	/* Domain validation is VLESS's. */
	n = req(buf, "\x01\x03\x04" "a b." "\x01\xbb\r\n", 11);
	assert_int_equal(parse(buf, n, &r, &why), SL_ERROR);
	assert_string_equal(why, "invalid domain");
	n = req(buf, "\x01\x03\x00" "\x01\xbb\r\n", 7);
	assert_int_equal(parse(buf, n, &r, &why), SL_ERROR);
	assert_string_equal(why, "invalid domain");
	/* ... and so is the IP literal rule. */
	memcpy(rest, "\x01\x03\x07" "8.8.4.4" "\x00\x35\r\n", 14);
	n = req(buf, rest, 14);
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV4);
	assert_memory_equal(r.target.ip, "\x08\x08\x04\x04", 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_domain),
		cmocka_unit_test(test_connect_ipv4),
		cmocka_unit_test(test_udp_ipv6),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
