/*
 * test_vless: the VLESS request header, its addons protobuf and the
 * address reader shared with Trojan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shm/types.h"
#include "worker/vless.h"

static const uint8_t uuid[16] = {
	0x27, 0x84, 0x8e, 0x6d, 0x1a, 0x4c, 0xab, 0xcd,
	0x91, 0x2f, 0x3c, 0x4e, 0x5d, 0x6a, 0x7b, 0x8c,
};

#define VISION	"\x0a\x10xtls-rprx-vision"

/* version, UUID, addons, then the rest (command, port, address...). */
static size_t
req(uint8_t *buf, const void *addons, size_t alen, const void *rest,
    size_t rlen)
{
	buf[0] = 0;
	memcpy(buf + 1, uuid, 16);
	buf[17] = (uint8_t)alen;
	memcpy(buf + 18, addons, alen);
	memcpy(buf + 18 + alen, rest, rlen);
	return 18 + alen + rlen;
}

static int
parse(const uint8_t *buf, size_t len, struct sl_vless_req *r,
    const char **why)
{
	memset(r, 0xa5, sizeof(*r));
	*why = NULL;
	return sl_vless_parse(buf, len, r, why);
}

/* Every proper prefix (from the 18 bytes the caller guarantees) is
 * SL_AGAIN. */
static void
all_prefixes_again(const uint8_t *buf, size_t hlen)
{
	struct sl_vless_req r;
	const char *why;

	for (size_t i = 0; i < hlen; i++)
		if (parse(buf, i, &r, &why) != SL_AGAIN)
			fail_msg("prefix %zu of %zu not AGAIN", i, hlen);
}

static void
expect_error(const uint8_t *buf, size_t len, const char *want)
{
	struct sl_vless_req r;
	const char *why;

	assert_int_equal(parse(buf, len, &r, &why), SL_ERROR);
	assert_non_null(why);
	assert_string_equal(why, want);
}

static void
test_key(void **state)
{
	uint8_t key[16], want[16];

	(void)state;
	memcpy(want, uuid, 16);
	want[6] = want[7] = 0;
	sl_vless_key(uuid, key);
	assert_memory_equal(key, want, 16);
}

static void
test_spec_example(void **state)
{
	static const char rest[] = "\x01\x01\xbb\x02\x0b" "example.com" "GET /";
	uint8_t buf[128];
	struct sl_vless_req r;
	const char *why;
	size_t n = req(buf, "", 0, rest, sizeof(rest) - 1);

	(void)state;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, 34);
	assert_memory_equal(r.uuid, uuid, 16);
	assert_int_equal(r.route, 0xabcd);
	assert_string_equal(r.flow, "");
	assert_int_equal(r.target.cmd, SL_CMD_TCP);
	assert_int_equal(r.target.atyp, SL_ATYP_DOMAIN);
	assert_int_equal(r.target.port, 443);
	assert_string_equal(r.target.host, "example.com");
	/* Exactly the header is enough. */
	assert_int_equal(parse(buf, 34, &r, &why), SL_OK);
	all_prefixes_again(buf, 34);
}

static void
test_ipv4(void **state)
{
	static const uint8_t rest[] = { 0x01, 0x00, 0x50, 0x01, 203, 0, 113, 9 };
	uint8_t buf[64];
	struct sl_vless_req r;
	const char *why;
	size_t n = req(buf, "", 0, rest, sizeof(rest));

	(void)state;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, n);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV4);
	assert_int_equal(r.target.port, 80);
	assert_memory_equal(r.target.ip, "\xcb\x00\x71\x09", 4);
	assert_string_equal(r.target.host, "");
	all_prefixes_again(buf, n);
}

static void
test_ipv6(void **state)
{
	uint8_t rest[20] = { 0x02, 0x01, 0xbb, 0x03, 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t buf[64];
	struct sl_vless_req r;
	const char *why;
	size_t n;

	(void)state;
	rest[19] = 1;
	n = req(buf, "", 0, rest, sizeof(rest));
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, n);
	assert_int_equal(r.target.cmd, SL_CMD_UDP);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV6);
	assert_int_equal(r.target.port, 443);
	assert_memory_equal(r.target.ip, rest + 4, 16);
	all_prefixes_again(buf, n);
	/* v4-mapped becomes IPv4, as Xray's IPAddress() does. */
	memset(rest + 4, 0, 16);
	rest[14] = rest[15] = 0xff;
	memcpy(rest + 16, "\x01\x02\x03\x04", 4);
	n = req(buf, "", 0, rest, sizeof(rest));
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.target.atyp, SL_ATYP_IPV4);
	assert_memory_equal(r.target.ip, "\x01\x02\x03\x04", 4);
}

static void
test_vision_addons(void **state)
{
	static const char rest[] = "\x01\x01\xbb\x02\x0b" "example.com";
	uint8_t buf[128];
	struct sl_vless_req r;
	const char *why;
	size_t n;

	(void)state;
	/* 12 0A 10 "xtls-rprx-vision": length 18, field 1, 16 bytes. */
	n = req(buf, VISION, 18, rest, sizeof(rest) - 1);
	assert_int_equal(buf[17], 0x12);
	assert_int_equal(buf[18], 0x0a);
	assert_int_equal(buf[19], 0x10);
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_string_equal(r.flow, "xtls-rprx-vision");
	assert_int_equal(r.header_len, 34 + 18);
	assert_string_equal(r.target.host, "example.com");
	all_prefixes_again(buf, n);
}

static void
test_mux(void **state)
{
	uint8_t buf[64];
	struct sl_vless_req r;
	const char *why;
	size_t n = req(buf, VISION, 18, "\x03\x00\x00", 3);

	(void)state;
	assert_int_equal(parse(buf, n, &r, &why), SL_OK);
	assert_int_equal(r.header_len, 18 + 18 + 1);
	assert_int_equal(r.target.cmd, SL_CMD_MUX);
	assert_int_equal(r.target.atyp, SL_ATYP_DOMAIN);
	assert_string_equal(r.target.host, "v1.mux.cool");
	assert_int_equal(r.target.port, 0);
	all_prefixes_again(buf, 18 + 18 + 1);
}

static void
test_bad_version_command_atyp(void **state)
{
	uint8_t buf[64];
	size_t n;

	(void)state;
	n = req(buf, "", 0, "\x01\x00\x50\x01\x01\x02\x03\x04", 8);
	buf[0] = 1;
	expect_error(buf, n, "invalid request version");
	for (int c = 0; c < 256; c++) {
		if (c >= 1 && c <= 3)
			continue;
		n = req(buf, "", 0, "\x00\x00\x50\x01\x01\x02\x03\x04", 8);
		buf[18] = (uint8_t)c;
		/* The command alone decides: nothing after it is needed. */
		expect_error(buf, 19, "unknown command");
	}
	for (int a = 0; a < 256; a++) {
		if (a >= 1 && a <= 3)
			continue;
		n = req(buf, "", 0, "\x01\x00\x50\x00\x01\x02\x03\x04", 8);
		buf[21] = (uint8_t)a;
		expect_error(buf, 22, "invalid address type");
	}
}

/* A TCP request to port 443 with a domain-type address. */
static size_t
req_domain(uint8_t *buf, const void *d, size_t dlen)
{
	uint8_t rest[300] = { 0x01, 0x01, 0xbb, 0x02 };

	rest[4] = (uint8_t)dlen;
	memcpy(rest + 5, d, dlen);
	return req(buf, "", 0, rest, 5 + dlen);
}

static void
test_bad_domains(void **state)
{
	static const char *bad[] = {
		"exa mple.com", "ex@mple.com", "example.com/", "ex:ample",
		"caf\xc3\xa9.fr", "a\x00b", "::1", "[example.com]",
		"[1.2.3.4", " 1.2.3.4", "1.2.3.4\x01",
	};
	uint8_t buf[400];
	size_t n;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		size_t dlen = i == 5 ? 3 : strlen(bad[i]);

		n = req_domain(buf, bad[i], dlen);
		expect_error(buf, n, "invalid domain");
	}
	/* Zero length: Xray would index out of range; refused at once. */
	n = req_domain(buf, "", 0);
	expect_error(buf, n, "invalid domain");
}

static void
check_domain(const char *d, size_t dlen, uint8_t atyp, const void *ip,
    const char *host)
{
	uint8_t buf[400];
	struct sl_vless_req r;
	const char *why;
	size_t n = req_domain(buf, d, dlen);

	if (parse(buf, n, &r, &why) != SL_OK)
		fail_msg("refused %s: %s", d, why);
	assert_int_equal(r.header_len, n);
	assert_int_equal(r.target.atyp, atyp);
	if (atyp == SL_ATYP_IPV4)
		assert_memory_equal(r.target.ip, ip, 4);
	else if (atyp == SL_ATYP_IPV6)
		assert_memory_equal(r.target.ip, ip, 16);
	else
		assert_string_equal(r.target.host, host);
}

static void
test_domain_literals(void **state)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	char longest[256];

	(void)state;
	check_domain("1.2.3.4", 7, SL_ATYP_IPV4, "\x01\x02\x03\x04", NULL);
	check_domain("[::1]", 5, SL_ATYP_IPV6, lo6, NULL);
	check_domain("0::1", 4, SL_ATYP_IPV6, lo6, NULL);
	check_domain("0::ffff:1.2.3.4", 15, SL_ATYP_IPV4, "\x01\x02\x03\x04", NULL);
	check_domain("[1.2.3.4]", 9, SL_ATYP_IPV4, "\x01\x02\x03\x04", NULL);
	/* Go's TrimSpace before ParseIP, Unicode spaces included. */
	check_domain("1.2.3.4 ", 8, SL_ATYP_IPV4, "\x01\x02\x03\x04", NULL);
	check_domain("1.2.3.4\t\xc2\xa0\xe3\x80\x80", 13, SL_ATYP_IPV4,
	    "\x01\x02\x03\x04", NULL);
	check_domain("[ ::1 ]", 7, SL_ATYP_IPV6, lo6, NULL);
	/* Not IPs for Go (leading zeros), but valid domain characters. */
	check_domain("01.2.3.4", 8, SL_ATYP_DOMAIN, NULL, "01.2.3.4");
	check_domain("1.2.3.4.5", 9, SL_ATYP_DOMAIN, NULL, "1.2.3.4.5");
	check_domain("Ex_am-ple.COM", 13, SL_ATYP_DOMAIN, NULL, "Ex_am-ple.COM");
	check_domain("a", 1, SL_ATYP_DOMAIN, NULL, "a");
	memset(longest, 'a', 255);
	longest[255] = '\0';
	check_domain(longest, 255, SL_ATYP_DOMAIN, NULL, longest);
}

static void
test_addons_fields(void **state)
{
	static const struct {
		const char	*pb;
		size_t		 len;
		const char	*flow;
	} ok[] = {
		/* Seed (2) alone, and around the flow. */
		{ "\x12\x03" "abc", 5, "" },
		{ "\x12\x01x" VISION "\x12\x00", 23, "xtls-rprx-vision" },
		/* Unknown fields of every wire type are skipped. */
		{ "\x18\x96\x01" "\x21" "12345678" "\x2d" "1234" VISION, 35,
		    "xtls-rprx-vision" },
		/* A group, nested, with its end tag. */
		{ "\x1b\x08\x01\x23\x24\x1c" VISION, 24, "xtls-rprx-vision" },
		/* The last Flow wins. */
		{ "\x0a\x01x" "\x0a\x01y", 6, "y" },
		{ VISION "\x0a\x00", 20, "" },
		/* Flow with a varint wire type is an unknown field. */
		{ "\x08\x05", 2, "" },
		/* The largest varint (2^64-1) is valid. */
		{ "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, "" },
		/* Field number 2^29-1 is valid. */
		{ "\xf8\xff\xff\xff\x0f\x00", 6, "" },
		/* UTF-8 in the flow is fine, it is just unknown later. */
		{ "\x0a\x02\xc3\xa9", 4, "\xc3\xa9" },
	};
	static const char rest[] = "\x01\x01\xbb\x02\x01x";
	uint8_t buf[128];
	struct sl_vless_req r;
	const char *why;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++) {
		size_t n = req(buf, ok[i].pb, ok[i].len, rest, sizeof(rest) - 1);

		if (parse(buf, n, &r, &why) != SL_OK)
			fail_msg("addons %zu refused: %s", i, why);
		assert_string_equal(r.flow, ok[i].flow);
		assert_int_equal(r.header_len, n);
	}
}

static void
test_addons_invalid(void **state)
{
	static const struct {
		const char	*pb;
		size_t		 len;
	} bad[] = {
		{ "\x0a", 1 },			/* length missing */
		{ "\x0a\x05" "abc", 5 },	/* length past the end */
		{ "\x0a\x80", 2 },		/* unterminated varint */
		{ "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11 },
		{ "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11 },
		{ "\x00\x00", 2 },		/* field number 0 */
		{ "\x80\x80\x80\x80\x10\x00", 6 },	/* 2^29 */
		{ "\x0e", 1 },			/* wire type 6 */
		{ "\x0f", 1 },			/* wire type 7 */
		{ "\x0c", 1 },			/* lone end group */
		{ "\x1b\x08\x01", 3 },		/* unterminated group */
		{ "\x1b\x24", 2 },		/* group ended by another */
		{ "\x21" "1234567", 8 },	/* short fixed64 */
		{ "\x2d" "123", 4 },		/* short fixed32 */
		{ "\x0a\x01\xff", 3 },		/* Flow not UTF-8 */
		{ "\x0a\x02\xc0\x80", 4 },	/* overlong */
		{ "\x0a\x03\xed\xa0\x80", 5 },	/* surrogate */
		{ "\x0a\x04\xf4\x90\x80\x80", 6 },	/* > U+10FFFF */
		{ "\x0a\x02\xe2\x82", 4 },	/* truncated rune */
	};
	static const char rest[] = "\x01\x01\xbb\x02\x01x";
	uint8_t buf[128];

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		size_t n = req(buf, bad[i].pb, bad[i].len, rest, sizeof(rest) - 1);

		expect_error(buf, n, "invalid addons");
		/* Refused as soon as the addons are complete. */
		expect_error(buf, 18 + bad[i].len, "invalid addons");
	}
}

static void
test_flow_unusable(void **state)
{
	static const char rest[] = "\x01\x01\xbb\x02\x01x";
	uint8_t pb[80], buf[200];
	size_t n;

	(void)state;
	/* 64 bytes do not fit flow[64]: no known flow is that long. */
	pb[0] = 0x0a;
	pb[1] = 64;
	memset(pb + 2, 'f', 64);
	n = req(buf, pb, 66, rest, sizeof(rest) - 1);
	expect_error(buf, n, "unknown request flow");
	/* 63 fit. */
	pb[1] = 63;
	n = req(buf, pb, 65, rest, sizeof(rest) - 1);
	{
		struct sl_vless_req r;
		const char *why;

		assert_int_equal(parse(buf, n, &r, &why), SL_OK);
		assert_int_equal(strlen(r.flow), 63);
	}
	/* An embedded NUL would make a C string lie. */
	n = req(buf, "\x0a\x11xtls-rprx-vision\x00", 19, rest, sizeof(rest) - 1);
	expect_error(buf, n, "unknown request flow");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_vision_addons),
		cmocka_unit_test(test_mux),
		cmocka_unit_test(test_bad_version_command_atyp),
		cmocka_unit_test(test_bad_domains),
		cmocka_unit_test(test_domain_literals),
		cmocka_unit_test(test_addons_fields),
		cmocka_unit_test(test_addons_invalid),
		cmocka_unit_test(test_flow_unusable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
