/*
 * test_proxyproto: PROXY v1/v2 writer (Xray's bytes) and parser
 * (go-proxyproto's rules).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "shm/types.h"
#include "worker/proxyproto.h"

static struct sockaddr_storage
sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
sa6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

#define SA(x)	((const struct sockaddr *)&(x))

/* Write a v1 line and compare it with the expected text. */
static void
check_v1(const struct sockaddr *s, const struct sockaddr *d, const char *want)
{
	uint8_t out[SL_PP_MAX_WRITE];
	int n = sl_pp_write(1, s, d, out, sizeof(out));

	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static void
test_write_v1_tcp4(void **state)
{
	struct sockaddr_storage s = sa4("203.0.113.5", 51234);
	struct sockaddr_storage d = sa4("198.51.100.7", 443);

	(void)state;
	check_v1(SA(s), SA(d), "PROXY TCP4 203.0.113.5 198.51.100.7 51234 443\r\n");
	s = sa4("0.0.0.0", 0);
	d = sa4("255.255.255.255", 65535);
	check_v1(SA(s), SA(d), "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n");
}

static void
test_write_v1_mapped_is_tcp4(void **state)
{
	struct sockaddr_storage s = sa6("::ffff:203.0.113.5", 51234);
	struct sockaddr_storage d = sa6("::ffff:198.51.100.7", 443);
	struct sockaddr_storage d4 = sa4("198.51.100.7", 443);

	(void)state;
	check_v1(SA(s), SA(d), "PROXY TCP4 203.0.113.5 198.51.100.7 51234 443\r\n");
	check_v1(SA(s), SA(d4), "PROXY TCP4 203.0.113.5 198.51.100.7 51234 443\r\n");
}

static void
test_write_v1_tcp6(void **state)
{
	struct sockaddr_storage s = sa6("2001:db8::1", 1234);
	struct sockaddr_storage d = sa6("2001:db8:0:0:1:0:0:2", 443);

	(void)state;
	/* Two equal zero runs: the first is compressed (Go, RFC 5952). */
	check_v1(SA(s), SA(d), "PROXY TCP6 2001:db8::1 2001:db8::1:0:0:2 1234 443\r\n");
	s = sa6("2001:db8:0:1:1:1:1:1", 1);	/* one zero group: not "::" */
	d = sa6("2001:0:0:1:0:0:0:1", 2);	/* the longer run wins */
	check_v1(SA(s), SA(d), "PROXY TCP6 2001:db8:0:1:1:1:1:1 2001:0:0:1::1 1 2\r\n");
	s = sa6("::1", 80);
	d = sa6("::", 8080);
	check_v1(SA(s), SA(d), "PROXY TCP6 ::1 :: 80 8080\r\n");
	s = sa6("fe80::", 1);
	d = sa6("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", 2);
	check_v1(SA(s), SA(d), "PROXY TCP6 fe80:: "
	    "abcd:ef01:2345:6789:abcd:ef01:2345:6789 1 2\r\n");
	/* IPv4-compatible is not mapped: Go prints it as hex. */
	s = sa6("::1.2.3.4", 1);
	d = sa6("1::", 2);
	check_v1(SA(s), SA(d), "PROXY TCP6 ::102:304 1:: 1 2\r\n");
}

static void
test_write_v1_unknown(void **state)
{
	struct sockaddr_storage s4 = sa4("203.0.113.5", 1), d6 = sa6("::1", 2);
	struct sockaddr_storage s6 = sa6("2001:db8::1", 1), d4 = sa4("1.2.3.4", 2);
	struct sockaddr_un un;

	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/x.sock");
	check_v1((struct sockaddr *)&un, SA(d4), "PROXY UNKNOWN\r\n");
	check_v1(SA(s4), (struct sockaddr *)&un, "PROXY UNKNOWN\r\n");
	check_v1(NULL, SA(d4), "PROXY UNKNOWN\r\n");
	/* Mixed families: IPv4 src with IPv6 dst has no valid form. */
	check_v1(SA(s4), SA(d6), "PROXY UNKNOWN\r\n");
	/* IPv6 src with IPv4 dst: the dst v4-mapped (documented). */
	check_v1(SA(s6), SA(d4), "PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 1 2\r\n");
}

static void
test_write_v2_ipv4(void **state)
{
	struct sockaddr_storage s = sa4("203.0.113.5", 51234);
	struct sockaddr_storage d = sa6("::ffff:198.51.100.7", 443);
	uint8_t out[SL_PP_MAX_WRITE], want[28];

	(void)state;
	memcpy(want, sig, 12);
	memcpy(want + 12, "\x21\x11\x00\x0c" "\xcb\x00\x71\x05"
	    "\xc6\x33\x64\x07" "\xc8\x22\x01\xbb", 16);
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, sizeof(out)), 28);
	assert_memory_equal(out, want, 28);
	/* Exactly enough room, and one byte short. */
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, 28), 28);
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, 27), -1);
}

static void
test_write_v2_ipv6(void **state)
{
	struct sockaddr_storage s = sa6("2001:db8::1", 1234);
	struct sockaddr_storage d = sa6("2001:db8::2", 443);
	uint8_t out[SL_PP_MAX_WRITE], want[52];

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, sig, 12);
	memcpy(want + 12, "\x21\x21\x00\x24", 4);
	want[16] = 0x20, want[17] = 0x01, want[18] = 0x0d, want[19] = 0xb8;
	want[31] = 1;
	want[32] = 0x20, want[33] = 0x01, want[34] = 0x0d, want[35] = 0xb8;
	want[47] = 2;
	want[48] = 0x04, want[49] = 0xd2, want[50] = 0x01, want[51] = 0xbb;
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, sizeof(out)), 52);
	assert_memory_equal(out, want, 52);
	/* IPv4 dst under an IPv6 src: To16(), as Xray writes it. */
	d = sa4("1.2.3.4", 443);
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, sizeof(out)), 52);
	assert_memory_equal(out + 32, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04", 16);
}

static void
test_write_v2_unknown(void **state)
{
	struct sockaddr_storage s = sa4("203.0.113.5", 1), d = sa6("::1", 2);
	struct sockaddr_un un;
	uint8_t out[SL_PP_MAX_WRITE], want[16];

	(void)state;
	memcpy(want, sig, 12);
	memcpy(want + 12, "\x20\x00\x00\x00", 4);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(sl_pp_write(2, (struct sockaddr *)&un, SA(d), out,
	    sizeof(out)), 16);
	assert_memory_equal(out, want, 16);
	assert_int_equal(sl_pp_write(2, SA(s), SA(d), out, sizeof(out)), 16);
	assert_memory_equal(out, want, 16);
}

static void
test_write_misc(void **state)
{
	struct sockaddr_storage s = sa6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
	struct sockaddr_storage d = sa6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535);
	uint8_t out[200];

	(void)state;
	assert_int_equal(sl_pp_write(0, SA(s), SA(d), out, sizeof(out)), 0);
	assert_int_equal(sl_pp_write(3, SA(s), SA(d), out, sizeof(out)), -1);
	/* The longest v1 line fits SL_PP_MAX_WRITE. */
	assert_int_equal(sl_pp_write(1, SA(s), SA(d), out, sizeof(out)), 104);
	assert_true(104 <= SL_PP_MAX_WRITE);
	assert_int_equal(sl_pp_write(1, SA(s), SA(d), out, 103), -1);
}

/* ---- parsing ---- */

static int
parse(const void *buf, size_t len, size_t *used, struct sl_pp_result *r)
{
	*used = 12345;
	return sl_pp_parse(buf, len, used, r);
}

static int
parse_str(const char *s, struct sl_pp_result *r)
{
	size_t used;

	return parse(s, strlen(s), &used, r);
}

static void
check_addr(const struct sockaddr_storage *got, socklen_t len,
    const struct sockaddr_storage *want)
{
	if (want->ss_family == AF_INET) {
		assert_int_equal(len, sizeof(struct sockaddr_in));
		assert_memory_equal(got, want, sizeof(struct sockaddr_in));
	} else {
		assert_int_equal(len, sizeof(struct sockaddr_in6));
		assert_memory_equal(got, want, sizeof(struct sockaddr_in6));
	}
}

/* Write with xver, parse back, expect the same addresses (and every
 * prefix to ask for more). */
static void
round_trip(int xver, struct sockaddr_storage s, struct sockaddr_storage d)
{
	uint8_t buf[SL_PP_MAX_WRITE + 8];
	struct sl_pp_result r;
	size_t used;
	int n;

	n = sl_pp_write(xver, SA(s), SA(d), buf, SL_PP_MAX_WRITE);
	assert_true(n > 0);
	memcpy(buf + n, "payload!", 8);
	for (int i = 0; i < n; i++)
		assert_int_equal(parse(buf, (size_t)i, &used, &r), SL_AGAIN);
	assert_int_equal(parse(buf, (size_t)n + 8, &used, &r), SL_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.local, 0);
	check_addr(&r.src, r.src_len, &s);
	check_addr(&r.dst, r.dst_len, &d);
}

static void
test_round_trip(void **state)
{
	(void)state;
	for (int x = 1; x <= 2; x++) {
		round_trip(x, sa4("203.0.113.5", 51234), sa4("198.51.100.7", 443));
		round_trip(x, sa6("2001:db8::1", 1), sa6("2001:db8::1:0:0:2", 65535));
		round_trip(x, sa6("::", 0), sa6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 9));
		round_trip(x, sa4("0.0.0.0", 0), sa4("255.255.255.255", 65535));
	}
}

static void
test_round_trip_unknown(void **state)
{
	struct sockaddr_storage s = sa4("1.2.3.4", 1), d = sa6("::1", 2);
	uint8_t buf[SL_PP_MAX_WRITE];
	struct sl_pp_result r;
	size_t used;
	int n;

	(void)state;
	for (int x = 1; x <= 2; x++) {
		n = sl_pp_write(x, SA(s), SA(d), buf, sizeof(buf));
		for (int i = 0; i < n; i++)
			assert_int_equal(parse(buf, (size_t)i, &used, &r),
			    SL_AGAIN);
		assert_int_equal(parse(buf, (size_t)n, &used, &r), SL_OK);
		assert_int_equal(used, n);
		assert_int_equal(r.local, 1);
	}
}

static void
test_v1_ok(void **state)
{
	struct sockaddr_storage s = sa6("::ffff:1.2.3.4", 10);
	struct sl_pp_result r;
	size_t used;
	const char *line;

	(void)state;
	/* Anything may follow UNKNOWN. */
	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", &r), SL_OK);
	assert_int_equal(r.local, 1);
	assert_int_equal(parse_str("PROXY UNKNOWN ffff:: 1.2.3.4 x\ry\r\n", &r), SL_OK);
	assert_int_equal(r.local, 1);
	/* v4-mapped is an IPv6 address for TCP6. */
	assert_int_equal(parse_str("PROXY TCP6 ::ffff:1.2.3.4 ::1 10 20\r\n", &r), SL_OK);
	assert_int_equal(r.local, 0);
	check_addr(&r.src, r.src_len, &s);
	/* The payload after the line is not part of it. */
	line = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\x16\x03\x01";
	assert_int_equal(parse(line, strlen(line), &used, &r), SL_OK);
	assert_int_equal(used, strlen(line) - 3);
}

static void
test_v1_length_limit(void **state)
{
	char line[200];
	struct sl_pp_result r;
	size_t used;

	(void)state;
	/* 107 bytes including CRLF: the longest accepted. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	assert_int_equal(parse(line, 107, &used, &r), SL_OK);
	assert_int_equal(used, 107);
	/* 108: the LF is past the limit. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	assert_int_equal(parse(line, 108, &used, &r), SL_ERROR);
	assert_int_equal(parse(line, 107, &used, &r), SL_ERROR);
	assert_int_equal(parse(line, 106, &used, &r), SL_AGAIN);
	assert_int_equal(parse(line, 150, &used, &r), SL_ERROR);
}

static void
test_v1_errors(void **state)
{
	static const char *bad[] = {
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",		/* LF only */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",		/* 7 tokens */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",		/* 5 tokens */
		"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",		/* double space */
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",		/* family */
		"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",		/* v6 in TCP4 */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",		/* v4 in TCP6 */
		"PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n",		/* zone */
		"PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n",		/* leading 0 */
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",	/* ports */
		"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
		"PROXYX TCP4 1.2.3.4 5.6.7.8 1 2\r\n",		/* first token */
		"PROXY\r\n",
		"PROXY \r\n",
		"PROXY UNKNOWNX\r\n",
		"\x50\x52\x4f\x58\x59\x20\x55\x4e\x4b\x4e\x4f\x57\x4e\r\x00\r\n",
	};
	struct sl_pp_result r;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		size_t used, len = strlen(bad[i]);

		if (i == SL_ARRAY_LEN(bad) - 1)
			len = 17;
		if (parse(bad[i], len, &used, &r) != SL_ERROR)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(parse_str("PROXY TCP4 0.0.0.0 5.6.7.8 0 65535\r\n", &r), SL_OK);
	/* A NUL inside an address: inet_pton must not see a shorter one. */
	{
		static const char nul[] = "PROXY TCP6 ::1 ::2\0junk 1 2\r\n";
		size_t used;

		assert_int_equal(parse(nul, sizeof(nul) - 1, &used, &r), SL_ERROR);
	}
}

/* Prefixes no completion can make valid are refused early. */
static void
test_v1_partial(void **state)
{
	static const char *again[] = {
		"P", "PRO", "PROXY", "PROXY ", "PROXY T", "PROXY TCP",
		"PROXY TCP6", "PROXY TCP6 ", "PROXY TCP6 2001:DB8::1 ",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", "PROXY U", "PROXY UNKNOWN",
		"PROXY UNKNOWN\r", "PROXY UNKNOWN whatever \x01\r",
	};
	static const char *error[] = {
		"PROXYX", "PROXY X", "PROXY TCP5", "PROXY TCP4\r",
		"PROXY TCP4 1.2.3.4 x", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
		"PROXY TCP4 1.2\r3", "PROXY UNKNOWNX", "PROXY UNKNOWN\rX",
		"PROXY UNK\r",
	};
	struct sl_pp_result r;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(again); i++)
		if (parse_str(again[i], &r) != SL_AGAIN)
			fail_msg("not AGAIN: %s", again[i]);
	for (size_t i = 0; i < SL_ARRAY_LEN(error); i++)
		if (parse_str(error[i], &r) != SL_ERROR)
			fail_msg("not ERROR: %s", error[i]);
}

static void
test_declined(void **state)
{
	static const char *no[] = {
		"GET / HTTP/1.1\r\n", "\x16\x03\x01\x02\x00\x01", "PRI * HTTP/2.0",
		"PROX ", "proxy TCP4", "Pxxxx", "\r\n\r\n\x01",
		"\r\n\r\n\x00\r\nQUIX\n", "\x00", "\n",
	};
	struct sl_pp_result r;
	size_t used;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(no); i++) {
		size_t len = strlen(no[i]);

		if (no[i][0] == '\0')
			len = 1;
		if (i == 7)
			len = 12;
		if (parse(no[i], len, &used, &r) != SL_DECLINED)
			fail_msg("not DECLINED: %zu", i);
	}
	/* VLESS starts with a zero byte, Trojan with hex digits. */
	assert_int_equal(parse("\x00\x01\x02", 3, &used, &r), SL_DECLINED);
	assert_int_equal(parse("d8a3", 4, &used, &r), SL_DECLINED);
	assert_int_equal(parse("", 0, &used, &r), SL_AGAIN);
}

/* A v2 header: cmd, fam, declared length, then body bytes. */
static size_t
v2(uint8_t *buf, uint8_t cmd, uint8_t fam, uint16_t len, const void *body,
    size_t blen)
{
	memcpy(buf, sig, 12);
	buf[12] = cmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(len >> 8);
	buf[15] = (uint8_t)len;
	if (blen > 0)
		memcpy(buf + 16, body, blen);
	return 16 + blen;
}

static void
test_v2_tlvs(void **state)
{
	/* v4 block then two TLVs: ALPN "h2" and a NOOP. */
	static const uint8_t body[] = {
		10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x01, 0xbb,
		0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x01, 0x00,
	};
	struct sockaddr_storage s = sa4("10.0.0.1", 12345), d = sa4("10.0.0.2", 443);
	uint8_t buf[64];
	struct sl_pp_result r;
	size_t used, n;

	(void)state;
	n = v2(buf, 0x21, 0x11, sizeof(body), body, sizeof(body));
	memcpy(buf + n, "\x16\x03", 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(parse(buf, i, &used, &r), SL_AGAIN);
	assert_int_equal(parse(buf, n + 2, &used, &r), SL_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.local, 0);
	check_addr(&r.src, r.src_len, &s);
	check_addr(&r.dst, r.dst_len, &d);
	/* UDP over IPv4 parses the same way. */
	n = v2(buf, 0x21, 0x12, 12, body, 12);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(r.local, 0);
}

static void
test_v2_lengths(void **state)
{
	static uint8_t buf[16 + 5000];
	static const uint8_t zero[5000];
	struct sl_pp_result r;
	size_t used, n;

	(void)state;
	/* > 4096 is refused as soon as the length is known. */
	n = v2(buf, 0x21, 0x11, 4097, zero, 0);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	n = v2(buf, 0x20, 0x00, 0xffff, zero, 0);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	/* 4096 is fine. */
	n = v2(buf, 0x20, 0x00, 4096, zero, 4096);
	assert_int_equal(parse(buf, n - 1, &used, &r), SL_AGAIN);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(used, 16 + 4096);
	assert_int_equal(r.local, 1);
	/* PROXY needs the whole address block of its family. */
	n = v2(buf, 0x21, 0x11, 11, zero, 11);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	n = v2(buf, 0x21, 0x21, 35, zero, 35);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	n = v2(buf, 0x21, 0x31, 215, zero, 215);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	/* LOCAL with a block too short for its family: skipped. */
	n = v2(buf, 0x20, 0x11, 0, zero, 0);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(used, 16);
	assert_int_equal(r.local, 1);
	n = v2(buf, 0x20, 0x21, 3, zero, 3);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(used, 19);
	assert_int_equal(r.local, 1);
}

static void
test_v2_commands_families(void **state)
{
	static const uint8_t zero[216];
	uint8_t buf[300];
	struct sl_pp_result r;
	size_t used, n;

	(void)state;
	/* Version/command: only 0x20 and 0x21. */
	n = v2(buf, 0x22, 0x11, 12, zero, 12);
	assert_int_equal(parse(buf, 13, &used, &r), SL_ERROR);
	n = v2(buf, 0x11, 0x11, 12, zero, 12);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	/* Undefined family/protocol bytes, also under LOCAL. */
	n = v2(buf, 0x21, 0x13, 12, zero, 12);
	assert_int_equal(parse(buf, 14, &used, &r), SL_ERROR);
	n = v2(buf, 0x20, 0x10, 12, zero, 12);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	n = v2(buf, 0x20, 0x41, 12, zero, 12);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	/* UNSPEC only with LOCAL. */
	n = v2(buf, 0x21, 0x00, 0, zero, 0);
	assert_int_equal(parse(buf, n, &used, &r), SL_ERROR);
	/* LOCAL with a full v4 block: the addresses are not used. */
	n = v2(buf, 0x20, 0x11, 12, zero, 12);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(r.local, 1);
	/* Unix addresses cannot stand for a TCP peer: local. */
	n = v2(buf, 0x21, 0x31, 216, zero, 216);
	assert_int_equal(parse(buf, n - 1, &used, &r), SL_AGAIN);
	assert_int_equal(parse(buf, n, &used, &r), SL_OK);
	assert_int_equal(used, 16 + 216);
	assert_int_equal(r.local, 1);
	/* A v2 signature prefix that breaks off is not PROXY at all. */
	memcpy(buf, sig, 12);
	buf[11] = 'X';
	assert_int_equal(parse(buf, 16, &used, &r), SL_DECLINED);
	assert_int_equal(parse(buf, 11, &used, &r), SL_AGAIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_v1_tcp4),
		cmocka_unit_test(test_write_v1_mapped_is_tcp4),
		cmocka_unit_test(test_write_v1_tcp6),
		cmocka_unit_test(test_write_v1_unknown),
		cmocka_unit_test(test_write_v2_ipv4),
		cmocka_unit_test(test_write_v2_ipv6),
		cmocka_unit_test(test_write_v2_unknown),
		cmocka_unit_test(test_write_misc),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_unknown),
		cmocka_unit_test(test_v1_ok),
		cmocka_unit_test(test_v1_length_limit),
		cmocka_unit_test(test_v1_errors),
		cmocka_unit_test(test_v1_partial),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_lengths),
		cmocka_unit_test(test_v2_commands_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
