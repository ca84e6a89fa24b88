/*
 * test_proxyclient: SOCKS5 and HTTP CONNECT client handshakes, byte-exact
 * against RFC 1928 / RFC 1929 / RFC 9110 messages written out by hand here,
 * fed whole and byte by byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shm/types.h"
#include "worker/proxyclient.h"

static struct sl_target
target_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct sl_target t;

	memset(&t, 0, sizeof(t));
	t.atyp = SL_ATYP_IPV4;
	t.cmd = SL_CMD_TCP;
	t.ip[0] = a, t.ip[1] = b, t.ip[2] = c, t.ip[3] = d;
	t.port = port;
	return t;
}

static struct sl_target
target_domain(const char *host, uint16_t port)
{
	struct sl_target t;

	memset(&t, 0, sizeof(t));
	t.atyp = SL_ATYP_DOMAIN;
	t.cmd = SL_CMD_TCP;
	strcpy(t.host, host);
	t.port = port;
	return t;
}

static struct sl_target
target_v6_loopback(uint16_t port)
{
	struct sl_target t;

	memset(&t, 0, sizeof(t));
	t.atyp = SL_ATYP_IPV6;
	t.cmd = SL_CMD_TCP;
	t.ip[15] = 1;
	t.port = port;
	return t;
}

/* The pending output equals exp[0, n); then it is marked sent. */
static void
expect_out(struct sl_pxc *p, const void *exp, size_t n)
{
	size_t len;
	const uint8_t *o = sl_pxc_output(p, &len);

	assert_int_equal(len, n);
	assert_memory_equal(o, exp, n);
	sl_pxc_sent(p, len);
	sl_pxc_output(p, &len);
	assert_int_equal(len, 0);
}

static void
expect_no_out(struct sl_pxc *p)
{
	size_t len;

	sl_pxc_output(p, &len);
	assert_int_equal(len, 0);
}

/*
 * Feed msg whole (bytewise = 0) or one byte per call.  Returns the status
 * of the last call and the total consumed in *used.
 */
static int
feed(struct sl_pxc *p, const void *msg, size_t n, int bytewise,
    size_t *used)
{
	const uint8_t *m = msg;
	size_t u;
	int rc = SL_AGAIN;

	*used = 0;
	if (!bytewise) {
		rc = sl_pxc_input(p, m, n, used);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = sl_pxc_input(p, m + i, 1, &u);
		*used += u;
		if (rc != SL_AGAIN)
			return rc;
		assert_int_equal(u, 1);
	}
	return rc;
}

/* ---- SOCKS5 ---- */

static void
socks_noauth_v4(int bytewise)
{
	struct sl_target t = target_v4(192, 0, 2, 7, 443);
	struct sl_pxc p;
	size_t used;
	/* RFC 1928 section 3: VER 5, NMETHODS 1, METHOD 0 (no auth) */
	static const uint8_t greet[] = { 5, 1, 0 };
	static const uint8_t choice[] = { 5, 0 };
	/* section 4: VER CMD=CONNECT RSV ATYP=1 DST.ADDR DST.PORT(443) */
	static const uint8_t req[] = { 5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb };
	/* section 6: VER REP=0 RSV ATYP=1 BND.ADDR BND.PORT, then tunnel */
	static const uint8_t reply[] = { 5, 0, 0, 1, 10, 1, 2, 3, 0x1f, 0x90,
	    'H', 'T', 'T', 'P' };

	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, NULL, NULL), SL_OK);
	expect_out(&p, greet, sizeof(greet));
	assert_int_equal(feed(&p, choice, sizeof(choice), bytewise, &used),
	    SL_AGAIN);
	assert_int_equal(used, 2);
	expect_out(&p, req, sizeof(req));
	assert_int_equal(feed(&p, reply, sizeof(reply), bytewise, &used),
	    SL_OK);
	assert_int_equal(used, 10);	/* "HTTP" is the tunnel's */
	expect_no_out(&p);
	/* Done is sticky and consumes nothing more. */
	assert_int_equal(sl_pxc_input(&p, reply + 10, 4, &used), SL_OK);
	assert_int_equal(used, 0);
}

static void
test_socks_noauth_v4(void **state)
{
	(void)state;
	socks_noauth_v4(0);
	socks_noauth_v4(1);
}

static void
socks_userpass_domain(int bytewise)
{
	struct sl_target t = target_domain("example.com", 80);
	struct sl_pxc p;
	size_t used;
	static const uint8_t greet[] = { 5, 1, 2 };
	static const uint8_t choice[] = { 5, 2 };
	/* RFC 1929: VER=1 ULEN UNAME PLEN PASSWD */
	static const uint8_t auth[] = { 1, 5, 'a', 'l', 'i', 'c', 'e',
	    3, 's', '3', 'c' };
	static const uint8_t auth_ok[] = { 1, 0 };
	static const uint8_t req[] = { 5, 1, 0, 3, 11, 'e', 'x', 'a', 'm',
	    'p', 'l', 'e', '.', 'c', 'o', 'm', 0, 80 };
	/* BND.ADDR as a domain: variable length */
	static const uint8_t reply[] = { 5, 0, 0, 3, 9, 'p', 'r', 'o', 'x',
	    'y', '.', 'l', 'a', 'n', 0x04, 0x38 };

	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, "alice", "s3c"),
	    SL_OK);
	expect_out(&p, greet, sizeof(greet));
	assert_int_equal(feed(&p, choice, 2, bytewise, &used), SL_AGAIN);
	expect_out(&p, auth, sizeof(auth));
	assert_int_equal(feed(&p, auth_ok, 2, bytewise, &used), SL_AGAIN);
	expect_out(&p, req, sizeof(req));
	assert_int_equal(feed(&p, reply, sizeof(reply), bytewise, &used),
	    SL_OK);
	assert_int_equal(used, sizeof(reply));
}

static void
test_socks_userpass_domain(void **state)
{
	(void)state;
	socks_userpass_domain(0);
	socks_userpass_domain(1);
}

static void
socks_v6(int bytewise)
{
	struct sl_target t = target_v6_loopback(8443);
	struct sl_pxc p;
	size_t used;
	uint8_t req[22] = { 5, 1, 0, 4 };
	uint8_t reply[22 + 3] = { 5, 0, 0, 4 };

	req[19] = 1;			/* ::1 */
	req[20] = 0x20, req[21] = 0xfb;	/* 8443 */
	reply[4] = 0xfe, reply[5] = 0x80;
	memcpy(reply + 22, "abc", 3);
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, "", "ignored"),
	    SL_OK);
	expect_out(&p, "\x05\x01\x00", 3);
	assert_int_equal(feed(&p, "\x05\x00", 2, bytewise, &used), SL_AGAIN);
	expect_out(&p, req, sizeof(req));
	assert_int_equal(feed(&p, reply, sizeof(reply), bytewise, &used),
	    SL_OK);
	assert_int_equal(used, 22);
}

static void
test_socks_v6(void **state)
{
	(void)state;
	socks_v6(0);
	socks_v6(1);
}

/* Run a no-auth handshake up to the CONNECT reply, then feed reply. */
static int
socks_reply(struct sl_pxc *p, const uint8_t *reply, size_t n, int bytewise)
{
	struct sl_target t = target_v4(127, 0, 0, 1, 1);
	size_t used, len;

	assert_int_equal(sl_pxc_init(p, SL_PXC_SOCKS5, &t, NULL, NULL), SL_OK);
	sl_pxc_output(p, &len);
	sl_pxc_sent(p, len);
	assert_int_equal(sl_pxc_input(p, (const uint8_t *)"\x05\x00", 2,
	    &used), SL_AGAIN);
	sl_pxc_output(p, &len);
	sl_pxc_sent(p, len);
	return feed(p, reply, n, bytewise, &used);
}

static void
test_socks_reply_codes(void **state)
{
	static const char *const want[] = {
		NULL,
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused",
		"TTL expired",
		"command not supported",
		"address type not supported",
		"unassigned reply code",
	};
	struct sl_pxc p;

	(void)state;
	for (uint8_t rep = 1; rep < SL_ARRAY_LEN(want); rep++) {
		uint8_t reply[10] = { 5, rep, 0, 1 };

		for (int bw = 0; bw < 2; bw++) {
			assert_int_equal(socks_reply(&p, reply, sizeof(reply),
			    bw), SL_ERROR);
			assert_non_null(strstr(sl_pxc_error(&p), want[rep]));
			/* Failure is sticky. */
			assert_int_equal(sl_pxc_input(&p, reply, 1,
			    &(size_t){0}), SL_ERROR);
		}
	}
	/* An unknown address type is an error as soon as it is seen. */
	assert_int_equal(socks_reply(&p, (const uint8_t *)"\x05\x00\x00\x02",
	    4, 0), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "address type 2"));
	/* So is a reply that is not SOCKS5. */
	assert_int_equal(socks_reply(&p, (const uint8_t *)"\x04\x5a\x00\x01"
	    "\0\0\0\0\0\0", 10, 0), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "version 4"));
}

static void
test_socks_method_and_auth_errors(void **state)
{
	struct sl_target t = target_domain("a.example", 443);
	struct sl_pxc p;
	size_t used;

	(void)state;
	/* 0xFF: no acceptable methods (RFC 1928 section 3) */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, "u", "p"), SL_OK);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\x05\xff", 2,
	    &used), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "no acceptable"));

	/* A method that was not offered */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, NULL, NULL), SL_OK);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\x05\x02", 2,
	    &used), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "not offered"));

	/* Wrong version in the method choice */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, NULL, NULL), SL_OK);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\x04\x00", 2,
	    &used), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "version"));

	/* RFC 1929: a non-zero status is a failure */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, "u", "p"), SL_OK);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\x05\x02", 2,
	    &used), SL_AGAIN);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\x01\x01", 2,
	    &used), SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "rejected"));
}

static void
test_init_errors(void **state)
{
	struct sl_target t = target_domain("a.example", 443);
	struct sl_pxc p;
	char longs[300];

	(void)state;
	memset(longs, 'x', sizeof(longs));
	longs[256] = '\0';
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, longs, "p"),
	    SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "user name"));
	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, "u", longs),
	    SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "password"));
	longs[255] = '\0';	/* 255 bytes: the RFC 1929 limit */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, longs, longs),
	    SL_OK);
	assert_int_equal(sl_pxc_init(&p, 7, &t, NULL, NULL), SL_ERROR);
	t = target_domain("", 1);
	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, NULL, NULL),
	    SL_ERROR);
	assert_non_null(strstr(sl_pxc_error(&p), "empty domain"));
}

static void
test_partial_send(void **state)
{
	struct sl_target t = target_v4(1, 2, 3, 4, 5);
	struct sl_pxc p;
	size_t len;
	const uint8_t *o;

	(void)state;
	assert_int_equal(sl_pxc_init(&p, SL_PXC_SOCKS5, &t, NULL, NULL), SL_OK);
	sl_pxc_sent(&p, 1);
	o = sl_pxc_output(&p, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(o, "\x01\x00", 2);
	sl_pxc_sent(&p, 99);	/* more than pending: clamps */
	expect_no_out(&p);
}

/* ---- HTTP CONNECT ---- */

static void
http_ok(int bytewise)
{
	struct sl_target t = target_domain("example.com", 443);
	struct sl_pxc p;
	size_t used;
	static const char req[] = "CONNECT example.com:443 HTTP/1.1\r\n"
	    "Host: example.com:443\r\n\r\n";
#define RESP	"HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n"
	static const char resp[] = RESP "\x16\x03\x01";

	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, NULL, NULL), SL_OK);
	expect_out(&p, req, strlen(req));
	assert_int_equal(feed(&p, resp, strlen(resp), bytewise, &used), SL_OK);
	assert_int_equal(used, strlen(RESP));
#undef RESP
	assert_int_equal(sl_pxc_http_status(&p), 200);
}

static void
test_http_ok(void **state)
{
	(void)state;
	http_ok(0);
	http_ok(1);
}

static void
test_http_auth_v6(void **state)
{
	struct sl_target t = target_v6_loopback(8080);
	struct sl_pxc p;
	size_t used;
	/* RFC 7617 section 2: "Aladdin" / "open sesame" */
	static const char req[] = "CONNECT [::1]:8080 HTTP/1.1\r\n"
	    "Host: [::1]:8080\r\n"
	    "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
	/* Go accepts bare LF line ends, HTTP/1.0 and no reason phrase. */
	static const char resp[] = "HTTP/1.0 204\nX: y\n\n";

	(void)state;
	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, "Aladdin",
	    "open sesame"), SL_OK);
	expect_out(&p, req, strlen(req));
	assert_int_equal(feed(&p, resp, strlen(resp), 1, &used), SL_OK);
	assert_int_equal(used, strlen(resp));
	assert_int_equal(sl_pxc_http_status(&p), 204);

	t = target_v4(10, 0, 0, 1, 3128);
	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, NULL, NULL), SL_OK);
#define REQ	"CONNECT 10.0.0.1:3128 HTTP/1.1\r\nHost: 10.0.0.1:3128\r\n\r\n"
	expect_out(&p, REQ, strlen(REQ));
#undef REQ
}

static void
test_http_errors(void **state)
{
	static const char *const bad[] = {
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",
		"HTTP/1.1 20\r\n\r\n",
	};
	struct sl_target t = target_domain("example.com", 443);
	struct sl_pxc p;
	size_t used;
	static const char deny[] = "HTTP/1.1 407 Proxy Authentication "
	    "Required\r\nProxy-Authenticate: Basic\r\n\r\n";

	(void)state;
	for (int bw = 0; bw < 2; bw++) {
		assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, NULL, NULL),
		    SL_OK);
		assert_int_equal(feed(&p, deny, strlen(deny), bw, &used),
		    SL_ERROR);
		assert_int_equal(sl_pxc_http_status(&p), 407);
		assert_non_null(strstr(sl_pxc_error(&p), "407 Proxy "
		    "Authentication Required"));
		for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
			assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t,
			    NULL, NULL), SL_OK);
			assert_int_equal(feed(&p, bad[i], strlen(bad[i]), bw,
			    &used), SL_ERROR);
			assert_non_null(strstr(sl_pxc_error(&p),
			    "malformed status line"));
		}
	}
	/* An incomplete header is not an answer yet. */
	assert_int_equal(sl_pxc_init(&p, SL_PXC_HTTP, &t, NULL, NULL), SL_OK);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"HTTP/1.1 200 OK"
	    "\r\nA: b\r\n", 23, &used), SL_AGAIN);
	assert_int_equal(used, 23);
	assert_int_equal(sl_pxc_input(&p, (const uint8_t *)"\r\nZ", 3, &used),
	    SL_OK);
	assert_int_equal(used, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks_noauth_v4),
		cmocka_unit_test(test_socks_userpass_domain),
		cmocka_unit_test(test_socks_v6),
		cmocka_unit_test(test_socks_reply_codes),
		cmocka_unit_test(test_socks_method_and_auth_errors),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_partial_send),
		cmocka_unit_test(test_http_ok),
		cmocka_unit_test(test_http_auth_v6),
		cmocka_unit_test(test_http_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
