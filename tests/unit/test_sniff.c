/*
 * test_sniff: the HTTP, TLS and BitTorrent sniffers and Xray's loop over
 * them.
 *
 * Run from the repository root (captured ClientHellos in
 * tests/data/sniff/, see capture.py there).  Every input is sniffed from
 * an exact-size heap copy, so ASan sees any read past its end.  TLS
 * references are independent of the parser: the server names given to
 * openssl s_client / curl (in the file names) and to libssl in-process;
 * IPv6 Hosts are checked against inet_ntop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "shm/types.h"
#include "worker/sniff.h"
#include "tests/unit/helpers.h"

#define HTTP	SL_IMG_PROTO_HTTP
#define TLS	SL_IMG_PROTO_TLS
#define BT	SL_IMG_PROTO_BT
#define DATA	"tests/data/sniff/"
#define STR(s)	(s), (sizeof(s) - 1)

/* The exact-size copy the last sniff() read; results point into it. */
static uint8_t *copy;

static int
sniff(const void *buf, size_t len, unsigned *which,
    struct sl_sniff_result *r)
{
	free(copy);
	copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	memset(r, 0xa5, sizeof(*r));
	return sl_sniff(copy, len, which, r);
}

/* Sniff with every sniffer; *which out. */
static int
sniff_all(const void *buf, size_t len, unsigned *which,
    struct sl_sniff_result *r)
{
	*which = SL_SNIFF_TCP;
	return sniff(buf, len, which, r);
}

static int
sniff_str(const char *s, struct sl_sniff_result *r)
{
	unsigned which;

	return sniff_all(s, strlen(s), &which, r);
}

static void
lower_copy(char *dst, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0'; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ?
		    src[i] + 32 : src[i]);
	dst[i] = '\0';
}

static void
assert_attr(const struct sl_sniff_result *r, const char *key,
    const char *val)
{
	const struct sl_route_attr *a = sl_sniff_find_attr(r, key, strlen(key));

	if (a == NULL)
		fail_msg("no attribute \"%s\"", key);
	if (a->val_len != strlen(val) || memcmp(a->val, val, a->val_len) != 0)
		fail_msg("attribute \"%s\": \"%.*s\", want \"%s\"", key,
		    (int)a->val_len, a->val, val);
}

/* ---- TLS: building ClientHellos ---- */

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One extension; returns its size. */
static size_t
ext(uint8_t *p, unsigned type, const void *data, size_t n)
{
	put16(p, type);
	put16(p + 2, n);
	memcpy(p + 4, data, n);
	return 4 + n;
}

/* A server_name extension body holding one name of TYPE. */
static size_t
sni_body(uint8_t *p, uint8_t type, const char *name, size_t n)
{
	put16(p, 3 + n);
	p[2] = type;
	put16(p + 3, n);
	memcpy(p + 5, name, n);
	return 5 + n;
}

static size_t
sni_ext(uint8_t *p, const char *name)
{
	uint8_t body[300];
	size_t n = sni_body(body, 0, name, strlen(name));

	return ext(p, 0, body, n);
}

/* A TLS record holding a ClientHello with session id length SID, two
 * cipher suites, null compression and the extensions EXTS. */
static size_t
hello(uint8_t *out, const uint8_t *exts, size_t elen, size_t sid)
{
	size_t body = 2 + 32 + 1 + sid + 2 + 4 + 2 + 2 + elen;
	uint8_t *p = out;

	*p++ = 0x16;
	*p++ = 3;
	*p++ = 1;
	put16(p, 4 + body);
	p += 2;
	*p++ = 1;			/* client_hello */
	*p++ = 0;
	put16(p, body);
	p += 2;
	*p++ = 3;
	*p++ = 3;
	memset(p, 0xab, 32);
	p += 32;
	*p++ = (uint8_t)sid;
	memset(p, 0x11, sid);
	p += sid;
	put16(p, 4);
	memcpy(p + 2, "\x13\x01\xc0\x2f", 4);
	p += 6;
	*p++ = 1;
	*p++ = 0;
	put16(p, elen);
	p += 2;
	memcpy(p, exts, elen);
	return (size_t)(p - out) + elen;
}

static size_t
hello_sni(uint8_t *out, const char *name)
{
	uint8_t e[600];
	size_t n = 0;

	n += ext(e + n, 10, "\x00\x02\x00\x1d", 4);
	n += sni_ext(e + n, name);
	n += ext(e + n, 16, "\x00\x03\x02h2", 5);
	return hello(out, e, n, 32);
}

static void
expect_tls(const uint8_t *b, size_t n, const char *want)
{
	struct sl_sniff_result r;
	unsigned which;
	char low[300];
	int rc = sniff_all(b, n, &which, &r);

	lower_copy(low, want);
	if (rc != SL_OK)
		fail_msg("\"%s\": rc %d", want, rc);
	assert_int_equal(which, TLS);
	assert_string_equal(r.protocol, "tls");
	assert_string_equal(r.domain, low);
	assert_int_equal(r.nattrs, 0);
}

static int
expect_rc(const void *b, size_t n, int want, unsigned which_in,
    unsigned which_out)
{
	struct sl_sniff_result r;
	unsigned which = which_in;
	int rc = sniff(b, n, &which, &r);

	if (rc != want)
		fail_msg("len %zu: rc %d, want %d", n, rc, want);
	if (which != which_out)
		fail_msg("len %zu: which %#x, want %#x", n, which, which_out);
	if (rc != SL_OK)
		assert_null(r.protocol);
	return rc;
}

/* ---- TLS: captured from real clients ---- */

/*
 * Every strict prefix of a ClientHello is "no clue" (the record is not
 * all there); the sniffers that can no longer match have dropped out
 * once the bytes tell them.  HTTP's longest method is 7 bytes,
 * BitTorrent's header 20.
 */
static void
check_prefixes(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned want = TLS;

		if (i < 7)
			want |= HTTP;
		if (i < 20)
			want |= BT;
		expect_rc(b, i, SL_AGAIN, SL_SNIFF_TCP, want);
	}
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(65536);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static void
test_tls_captured(void **state)
{
	DIR *d = opendir(DATA);
	struct dirent *de;
	int files = 0, nosni = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], name[300];
		const char *sni, *dot = strrchr(de->d_name, '.');
		uint8_t *b;
		size_t n;

		if (dot == NULL || strcmp(dot, ".bin") != 0)
			continue;
		snprintf(path, sizeof(path), DATA "%s", de->d_name);
		b = read_file(path, &n);
		assert_true(n > 5 && n == 5 + ((size_t)b[3] << 8 | b[4]));
		if ((sni = strstr(de->d_name, "-sni-")) != NULL) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(dot - sni - 5), sni + 5);
			expect_tls(b, n, name);
		} else {
			/* No server name: Xray's "not TLS". */
			expect_rc(b, n, SL_DECLINED, SL_SNIFF_TCP, 0);
			nosni++;
		}
		check_prefixes(b, n);
		/* Trailing bytes (the next record) change nothing. */
		memset(b + n, 0x17, 100);
		if (sni != NULL)
			expect_tls(b, n + 100, name);
		free(b);
		files++;
	}
	closedir(d);
	assert_true(files >= 5);
	assert_int_equal(nosni, 1);
}

/* ---- TLS: generated by libssl in-process ---- */

/* libssl's first flight as a client: the ClientHello record(s). */
static size_t
libssl_hello(const char *sni, int maxver, const uint8_t *alpn, size_t alen,
    uint8_t *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	BIO *rb, *wb;
	int n;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, maxver), 1);
	ssl = SSL_new(ctx);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	assert_true(ssl != NULL && rb != NULL && wb != NULL);
	SSL_set_bio(ssl, rb, wb);
	if (sni != NULL)
		assert_int_equal(SSL_set_tlsext_host_name(ssl, sni), 1);
	if (alen > 0)
		assert_int_equal(SSL_set_alpn_protos(ssl, alpn,
		    (unsigned)alen), 0);
	assert_true(SSL_connect(ssl) <= 0);	/* wants the server's reply */
	n = BIO_read(wb, out, (int)cap);
	assert_true(n > 5);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

static void
random_name(char *s, size_t len)
{
	static const char cs[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

	for (size_t i = 0; i < len; i++)
		s[i] = cs[th_rnd(sizeof(cs) - 1)];
	for (size_t i = 1; i + 1 < len; i += 1 + th_rnd(20))
		s[i] = '.';
	s[len - 1] = 'x';
	s[len] = '\0';
}

static void
test_tls_libssl(void **state)
{
	static const uint8_t alpn[] = "\x02h2\x08http/1.1\x06spdy/1\x03" "abc";
	static const size_t alens[] = { 0, 3, 12, 19, 23 };
	uint8_t b[4096];

	(void)state;
	for (int i = 0; i < 300; i++) {
		char name[256];
		size_t len = 1 + th_rnd(i % 10 == 0 ? 255 : 60), n;
		int ver = th_rnd(2) ? TLS1_3_VERSION : TLS1_2_VERSION;

		random_name(name, len);
		n = libssl_hello(name, ver, alpn, alens[th_rnd(5)], b,
		    sizeof(b));
		expect_tls(b, n, name);
		if (i % 50 == 0)
			check_prefixes(b, n);
	}
	/* Without a name, and with an IP literal (libssl sends it as is). */
	expect_rc(b, libssl_hello(NULL, TLS1_3_VERSION, NULL, 0, b, sizeof(b)),
	    SL_DECLINED, SL_SNIFF_TCP, 0);
	expect_tls(b, libssl_hello("192.0.2.7", TLS1_2_VERSION, NULL, 0, b,
	    sizeof(b)), "192.0.2.7");
}

/* One ClientHello arriving in two reads, split at every byte: the first
 * part is no clue, the whole, sniffed with the narrowed mask, matches. */
static void
test_tls_split(void **state)
{
	uint8_t b[4096];
	size_t n = libssl_hello("split.example.com", TLS1_3_VERSION, NULL, 0,
	    b, sizeof(b));

	(void)state;
	for (size_t cut = 1; cut < n; cut++) {
		struct sl_sniff_result r;
		unsigned which = SL_SNIFF_TCP;

		assert_int_equal(sniff(b, cut, &which, &r), SL_AGAIN);
		assert_true(which & TLS);
		assert_int_equal(sniff(b, n, &which, &r), SL_OK);
		assert_int_equal(which, TLS);
		assert_string_equal(r.domain, "split.example.com");
		assert_int_equal(r.atyp, SL_ATYP_DOMAIN);
		assert_int_equal(r.name_off, 0);
		assert_int_equal(r.name_len, strlen("split.example.com"));
	}
}

/* A ClientHello cut short inside a record that says it is complete. */
static void
test_tls_truncated(void **state)
{
	uint8_t b[4096], t[4096];
	size_t n = libssl_hello("cut.example.com", TLS1_3_VERSION, NULL, 0,
	    b, sizeof(b));
	/* Offsets in the hello: cipher suites, compression, extensions. */
	size_t cs = 39 + b[5 + 38], comp = cs + 2 + (b[5 + cs] << 8 |
	    b[5 + cs + 1]), exts = comp + 1 + b[5 + comp];

	(void)state;
	assert_true(b[5 + 38] == 32 && exts + 2 < n - 5);
	for (size_t cut = 5; cut < n; cut++) {
		size_t h = cut - 5;
		int want;

		memcpy(t, b, cut);
		put16(t + 3, h);
		/* Xray: before the cipher suites, or inside the compression
		 * methods, is no clue; a cut elsewhere breaks a length. */
		want = h < cs + 2 || (h >= comp && h < exts) ? SL_AGAIN :
		    SL_DECLINED;
		expect_rc(t, cut, want, TLS, want == SL_AGAIN ? TLS : 0);
	}
}

/* ClientHellos built byte by byte for each rule of Xray's parser. */
static void
test_tls_rules(void **state)
{
	uint8_t b[70000], e[70000];
	size_t n, k;
	struct sl_sniff_result r;
	unsigned which;
	char name[300];

	(void)state;
	expect_tls(b, hello_sni(b, "Www.Example.COM"), "www.example.com");
	/* Any record version 3.x; handshake type not checked. */
	n = hello_sni(b, "a.example");
	b[2] = 0x77;
	b[5] = 0x02;
	expect_tls(b, n, "a.example");
	b[1] = 2;
	expect_rc(b, n, SL_DECLINED, TLS, 0);
	b[1] = 3;
	b[0] = 0x17;
	expect_rc(b, n, SL_DECLINED, TLS, 0);

	/* Bytes <= 0x20 in the name: need more (QUIC); narrows to TLS. */
	expect_rc(b, hello_sni(b, "exa mple.com"), SL_SNIFF_MORE,
	    SL_SNIFF_TCP, TLS);
	expect_rc(b, hello_sni(b, "example.com\x01"), SL_SNIFF_MORE, TLS,
	    TLS);
	/* Bytes above are kept (ASCII lower-cased only). */
	expect_tls(b, hello_sni(b, "\x7f\xc3\x89x.example"),
	    "\x7f\xc3\x89x.example");
	/* A trailing dot is no ClientHello; an empty name is a match. */
	expect_rc(b, hello_sni(b, "example.com."), SL_DECLINED, TLS, 0);
	n = hello_sni(b, "");
	assert_int_equal(sniff_all(b, n, &which, &r), SL_OK);
	assert_string_equal(r.protocol, "tls");
	assert_string_equal(r.domain, "");
	assert_int_equal(r.atyp, 0);

	/* 255 bytes fit the result; 256 do not. */
	memset(name, 'a', 256);
	name[255] = '\0';
	expect_tls(b, hello_sni(b, name), name);
	name[255] = 'a';
	name[256] = '\0';
	expect_rc(b, hello_sni(b, name), SL_DECLINED, TLS, 0);

	/* Names of other types are skipped, and so is a server_name
	 * extension without a host_name: the next one is read. */
	n = ext(e, 0, "\x00\x06\x07\x00\x03xyz", 8);
	n += ext(e + n, 0, "\x00\x12\x07\x00\x03xyz\x00\x00\x09" "b.example",
	    20);
	expect_tls(b, hello(b, e, n, 0), "b.example");

	/* Many extensions before the name, and a 16 KiB record. */
	n = 0;
	for (unsigned i = 0; i < 300; i++)
		n += ext(e + n, 0x1000 + i, "abcdefghijklmnopqrstuvwxyz",
		    i % 27);
	n += ext(e + n, 21, "", 0);
	memset(b, 0, sizeof(b));
	n += ext(e + n, 0xfe0d, b, 12000);
	n += sni_ext(e + n, "late.example");
	k = hello(b, e, n, 0);
	assert_true(k > 16384);
	expect_tls(b, k, "late.example");

	/* Length checks. */
	n = sni_ext(e, "x.example");
	k = hello_sni(b, "x.example");
	b[5 + 38] = 33;			/* session id > 32: no clue */
	expect_rc(b, k, SL_AGAIN, TLS, TLS);
	k = hello(b, e, n, 0);
	put16(b + 5 + 39, 3);		/* odd cipher suites */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	k = hello(b, e, n, 0);
	put16(b + 5 + 39, 0xfffe);	/* past the record */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	k = hello(b, e, n, 0);
	b[5 + 45] = 200;		/* compression past the record */
	expect_rc(b, k, SL_AGAIN, TLS, TLS);
	k = hello(b, e, n, 0);
	put16(b + 5 + 47, n + 1);	/* extensions length */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	k = hello(b, e, n, 0);
	put16(b + 5 + 49 + 2, 200);	/* server_name length */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	n = ext(e, 0x1234, "abcde", 5);	/* another extension's length */
	put16(e + 2, 100);
	expect_rc(b, hello(b, e, n, 0), SL_DECLINED, TLS, 0);
	n = ext(e, 0x1234, "", 0);	/* bytes after the last extension */
	memcpy(e + n, "\x00\x01", 2);
	expect_rc(b, hello(b, e, n + 2, 0), SL_DECLINED, TLS, 0);
	/* bytes after the last name */
	n = ext(e, 0, "\x00\x08\x07\x00\x03xyz\x00\x00", 10);
	expect_rc(b, hello(b, e, n, 0), SL_DECLINED, TLS, 0);
	/* Under 42 bytes of hello is no clue, whatever follows. */
	memset(b, 0, 46);
	memcpy(b, "\x16\x03\x01\x00\x29", 5);
	b[5 + 40] = 1;			/* an odd cipher-suite length */
	expect_rc(b, 46, SL_AGAIN, TLS, TLS);
	n = sni_ext(e, "x.example");
	k = hello(b, e, n, 0);
	put16(b + 5 + 49 + 4, 3);	/* name list length */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	k = hello(b, e, n, 0);
	put16(b + 5 + 49 + 7, 10);	/* name length */
	expect_rc(b, k, SL_DECLINED, TLS, 0);
	/* The record says more than is there: no clue (forever). */
	k = hello(b, e, n, 0);
	put16(b + 3, k - 5 + 1);
	expect_rc(b, k, SL_AGAIN, TLS, TLS);
	/* Xray sniffs no more than 32767 bytes: a longer record is never
	 * complete. */
	n = ext(e, 0x1234, b, 40000);
	n += sni_ext(e + n, "far.example");
	k = hello(b, e, n, 0);
	put16(b + 3, (k - 5) & 0xffff);
	assert_true(k > SL_SNIFF_MAX_BYTES);
	expect_rc(b, k, SL_AGAIN, TLS, TLS);
}

/* An SNI that is an address: the dispatcher's ParseAddress. */
static void
test_tls_address(void **state)
{
	uint8_t b[600];
	struct sl_sniff_result r;
	unsigned which;

	(void)state;
	assert_int_equal(sniff_all(b, hello_sni(b, "192.0.2.1"), &which, &r),
	    SL_OK);
	assert_int_equal(r.atyp, SL_ATYP_IPV4);
	assert_memory_equal(r.ip, "\xc0\x00\x02\x01", 4);
	assert_int_equal(sniff_all(b, hello_sni(b, "[2001:DB8::1]"), &which,
	    &r), SL_OK);
	assert_string_equal(r.domain, "[2001:db8::1]");
	assert_int_equal(r.atyp, SL_ATYP_IPV6);
	assert_memory_equal(r.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1",
	    16);
	assert_int_equal(sniff_all(b, hello_sni(b, "01.2.3.4"), &which, &r),
	    SL_OK);
	assert_int_equal(r.atyp, SL_ATYP_DOMAIN);
	/* Go's TrimSpace runs when an end is not alphanumeric: a
	 * no-break space around the name is not part of it. */
	assert_int_equal(sniff_all(b, hello_sni(b, "\xc2\xa0x.example\xc2\xa0"),
	    &which, &r), SL_OK);
	assert_int_equal(r.atyp, SL_ATYP_DOMAIN);
	assert_int_equal(r.name_off, 2);
	assert_int_equal(r.name_len, 9);
	assert_memory_equal(r.domain + r.name_off, "x.example", 9);
}

/* ---- HTTP ---- */

static void
expect_http(const char *req, const char *domain)
{
	struct sl_sniff_result r;
	unsigned which;
	int rc = sniff_all(req, strlen(req), &which, &r);

	if (rc != SL_OK)
		fail_msg("%s: rc %d", req, rc);
	assert_int_equal(which, HTTP);
	assert_string_equal(r.protocol, "http1");
	assert_string_equal(r.domain, domain);
}

static void
test_http_methods(void **state)
{
	static const char *const methods[] = {
		"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT",
		"get", "post", "head", "put", "delete", "options", "connect",
		"gEt", "PoSt", "Options",
	};
	struct sl_sniff_result r;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(methods); i++) {
		char req[200];

		snprintf(req, sizeof(req), "%s /p%zu HTTP/1.1\r\n"
		    "Host: m%zu.example.com\r\n\r\n", methods[i], i, i);
		assert_int_equal(sniff_str(req, &r), SL_OK);
		assert_string_equal(r.protocol, "http1");
		snprintf(req, sizeof(req), "m%zu.example.com", i);
		assert_string_equal(r.domain, req);
		assert_attr(&r, ":method", methods[i]);
		snprintf(req, sizeof(req), "/p%zu", i);
		assert_attr(&r, ":path", req);
	}
	/* Xray tests a prefix only: "GETAWAY" is a GET. */
	expect_http("GETAWAY / HTTP/1.1\r\nHost: g.example\r\n\r\n",
	    "g.example");
	/* Not a method, once there are 7 bytes. */
	expect_rc(STR("PATCH / HTTP/1.1\r\nHost: x\r\n\r\n"), SL_DECLINED,
	    SL_SNIFF_TCP, 0);
	expect_rc(STR("TRACE /"), SL_DECLINED, HTTP, 0);
	expect_rc(STR("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), SL_DECLINED,
	    SL_SNIFF_TCP, 0);
	/* Fewer bytes than the method under test: no clue. */
	expect_rc(STR("GE"), SL_AGAIN, HTTP, HTTP);
	expect_rc(STR("PUX"), SL_AGAIN, HTTP, HTTP);
	expect_rc(STR("XXXXXX"), SL_AGAIN, HTTP, HTTP);
	expect_rc(STR("XXXXXXX"), SL_DECLINED, HTTP, 0);
	expect_rc(STR("GET"), SL_AGAIN, HTTP, HTTP);
	expect_rc("", 0, SL_AGAIN, SL_SNIFF_TCP, SL_SNIFF_TCP);
}

static void
test_http_host(void **state)
{
	struct sl_sniff_result r;

	(void)state;
	expect_http("GET / HTTP/1.1\r\nHost: Example.COM\r\n\r\n",
	    "example.com");
	expect_http("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	    "example.com");
	expect_http("GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n",
	    "example.com");
	expect_http("GET / HTTP/1.1\r\nHost: example.com:+0080\r\n\r\n",
	    "example.com");
	expect_http("GET / HTTP/1.1\r\nHost: example.com:99999\r\n\r\n",
	    "example.com");
	expect_http("GET / HTTP/1.1\r\nHost: 192.0.2.1:81\r\n\r\n",
	    "192.0.2.1");
	assert_int_equal(sniff_str("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n"
	    "\r\n", &r), SL_OK);
	assert_string_equal(r.domain, "[::1]");
	assert_int_equal(r.atyp, SL_ATYP_IPV6);
	assert_memory_equal(r.ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	expect_http("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "[::1]");
	expect_http("GET / HTTP/1.1\r\nHost: [2001:DB8:0:0:1:0:0:0]:1\r\n\r\n",
	    "[2001:db8:0:0:1::]");
	/* A v4-mapped IPv6 is IPv4 to Xray. */
	assert_int_equal(sniff_str("GET / HTTP/1.1\r\nHost: "
	    "[::ffff:192.0.2.9]:80\r\n\r\n", &r), SL_OK);
	assert_string_equal(r.domain, "192.0.2.9");
	assert_int_equal(r.atyp, SL_ATYP_IPV4);
	assert_memory_equal(r.ip, "\xc0\x00\x02\x09", 4);
	/* Not an IP for Go: a leading zero. */
	assert_int_equal(sniff_str("GET / HTTP/1.1\r\nHost: 1.2.3.04\r\n\r\n",
	    &r), SL_OK);
	assert_int_equal(r.atyp, SL_ATYP_DOMAIN);
	assert_int_equal(r.name_len, 8);
	/* Brackets around a name, white space inside them. */
	expect_http("GET / HTTP/1.1\r\nHost: [ ::2 ]:80\r\n\r\n", "[::2]");
	expect_http("GET / HTTP/1.1\r\nHost: [Foo]\r\n\r\n", "foo");
	expect_http("GET / HTTP/1.1\r\nHost: x.example :80\r\n\r\n",
	    "x.example");
	/* The last Host wins; an empty one leaves no domain. */
	expect_http("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n"
	    "\r\n", "b.example");
	expect_rc(STR("GET / HTTP/1.1\r\nHost: a.example\r\nHost:\r\n\r\n"),
	    SL_AGAIN, SL_SNIFF_TCP, HTTP);
	expect_rc(STR("GET / HTTP/1.1\r\nHost: a.example\r\nHost: :80\r\n"
	    "\r\n"), SL_AGAIN, SL_SNIFF_TCP, HTTP);
	/* No Host: no clue. */
	expect_rc(STR("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n"), SL_AGAIN,
	    SL_SNIFF_TCP, HTTP);
}

/* Host values Go's SplitHostPort or Atoi reject: HTTP gives up. */
static void
test_http_bad_host(void **state)
{
	static const char *const bad[] = {
		"a:b:c", "::1", "example.com:abc", "example.com:8o",
		"example.com:-", "example.com:99999999999999999999",
		"[::1", "[::1]:80:1", "a[b:80", "a]b:80", "[a]:[80",
	};
	static const char *const good[] = {
		/* "missing port" cases are hosts as a whole */
		"[::1]x", "a]b", "a[b", "[::1]x:80", "[[::1]]:80",
		/* Atoi's int64 bounds */
		"e.com:9223372036854775807", "e.com:-9223372036854775808",
	};
	char req[200], host[300], big[400];
	int len;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		len = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s"
		    "\r\n\r\n", bad[i]);
		expect_rc(req, (size_t)len, SL_DECLINED, HTTP, 0);
	}
	for (size_t i = 0; i < SL_ARRAY_LEN(good); i++) {
		struct sl_sniff_result r;

		len = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s"
		    "\r\n\r\n", good[i]);
		assert_int_equal(sniff(req, (size_t)len, &(unsigned){ HTTP },
		    &r), SL_OK);
	}
	expect_rc(STR("GET / HTTP/1.1\r\nHost: e.com:9223372036854775808\r\n"
	    "\r\n"), SL_DECLINED, HTTP, 0);
	/* A NUL, or more than 255 bytes: no C domain. */
	expect_rc(STR("GET / HTTP/1.1\nHost: a\0b\n\n"), SL_DECLINED, HTTP, 0);
	expect_rc(STR("GET / HTTP/1.1\nHost: 1.2.3.4\0x\n\n"), SL_DECLINED,
	    HTTP, 0);
	memset(host, 'h', 255);
	host[255] = '\0';
	len = snprintf(big, sizeof(big), "GET / HTTP/1.1\nHost: %s:80\n\n",
	    host);
	expect_rc(big, (size_t)len, SL_OK, HTTP, HTTP);
	len = snprintf(big, sizeof(big), "GET / HTTP/1.1\nHost: %sh:80\n\n",
	    host);
	expect_rc(big, (size_t)len, SL_DECLINED, HTTP, 0);
}

/* IPv6 Hosts in every spelling come out as Go prints them (RFC 5952),
 * which is glibc's inet_ntop except for the ::a.b.c.d forms. */
static void
test_http_ipv6(void **state)
{
	(void)state;
	for (int i = 0; i < 2000; i++) {
		uint8_t ip[16];
		char full[64], want[64], req[200];
		size_t o = 0;
		struct sl_sniff_result r;

		for (int g = 0; g < 8; g++) {
			unsigned v = th_rnd(3) ? 0 :
			    th_rnd(4) ? th_rnd(0x10000) : 1;

			put16(ip + 2 * g, v);
			o += (size_t)sprintf(full + o, "%s%X", g ? ":" : "", v);
		}
		if (memcmp(ip, "\0\0\0\0\0\0\0\0\0\0", 10) == 0 &&
		    (ip[10] | ip[11]) == 0 && (ip[12] | ip[13]) != 0)
			continue;	/* glibc prints ::a.b.c.d */
		if (memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			continue;	/* IPv4, tested above */
		assert_non_null(inet_ntop(AF_INET6, ip, want, sizeof(want)));
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: [%s]:443"
		    "\r\n\r\n", full);
		assert_int_equal(sniff_str(req, &r), SL_OK);
		assert_int_equal(r.atyp, SL_ATYP_IPV6);
		assert_memory_equal(r.ip, ip, 16);
		if (strlen(r.domain) != strlen(want) + 2 ||
		    strncmp(r.domain + 1, want, strlen(want)) != 0)
			fail_msg("%s: %s, want [%s]", full, r.domain, want);
	}
}

static void
test_http_spacing(void **state)
{
	struct sl_sniff_result r;

	(void)state;
	expect_http("GET / HTTP/1.1\r\nhost:x.example\r\n\r\n", "x.example");
	expect_http("GET / HTTP/1.1\r\nHOST: \t x.example \t \r\n\r\n",
	    "x.example");
	/* Go's TrimSpace knows Unicode spaces. */
	expect_http("GET / HTTP/1.1\r\nHost: \xe3\x80\x80x.example\xc2\x85\r\n"
	    "\r\n", "x.example");
	/* Bare LF line ends. */
	expect_http("GET / HTTP/1.1\nHost: lf.example\n\n", "lf.example");
	/* A space before the colon makes another key. */
	expect_rc(STR("GET / HTTP/1.1\r\nHost : x.example\r\n\r\n"), SL_AGAIN,
	    HTTP, HTTP);
	/* A folded line is a line of its own: without a colon it is
	 * skipped, with one it is a header with a blank-led key. */
	expect_rc(STR("GET / HTTP/1.1\r\nHost:\r\n x.example\r\n\r\n"),
	    SL_AGAIN, HTTP, HTTP);
	assert_int_equal(sniff_str("GET / HTTP/1.1\r\nX-A: 1\r\n\t2:3\r\n"
	    "Host: f.example\r\n\r\n", &r), SL_OK);
	assert_attr(&r, "x-a", "1");
	assert_attr(&r, "\t2", "3");
	/* Lines without a colon are skipped; the head ends at an empty
	 * line: a Host in the body is not read. */
	expect_http("GET / HTTP/1.1\r\njunk\r\nHost: a.example\r\n\r\n"
	    "Host: b.example\r\n", "a.example");
	expect_rc(STR("POST / HTTP/1.1\r\nA: b\r\n\r\nHost: b.example\r\n"),
	    SL_AGAIN, HTTP, HTTP);
	expect_rc(STR("POST / HTTP/1.1\nA: b\n\nHost: b.example\n"),
	    SL_AGAIN, HTTP, HTTP);
}

/* A request arriving byte by byte: no clue until the Host line is whole. */
static void
test_http_cut(void **state)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\n"
	    "User-Agent: curl/8\r\nHost: cut.example:8080\r\nAccept: */*\r\n"
	    "\r\n";
	size_t whole = (size_t)(strstr(req, ":8080\r\n") - req) + 7;

	(void)state;
	for (size_t i = 0; i <= sizeof(req) - 1; i++) {
		unsigned want = HTTP;

		if (i < 5)
			want |= TLS;
		if (i < 20)
			want |= BT;
		if (i < whole)
			expect_rc(req, i, SL_AGAIN, SL_SNIFF_TCP, want);
		else
			expect_rc(req, i, SL_OK, SL_SNIFF_TCP, HTTP);
	}
}

static void
test_http_attrs(void **state)
{
	static const char req[] = "post /api/v1?q=1&r=%20 HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "User-Agent:  Mozilla/5.0 (X11)  \r\n"
	    "Accept: text/html\r\n"
	    "X-Empty:\r\n"
	    "X-Colon: a:b:c\r\n"
	    "accept: */*\r\n"
	    "Content-Length: 3\r\n"
	    "\r\n"
	    "a:b";
	struct sl_sniff_result r;
	const struct sl_route_attr *a;

	(void)state;
	assert_int_equal(sniff_str(req, &r), SL_OK);
	assert_string_equal(r.domain, "api.example.com");
	assert_int_equal(r.nattrs, 8);
	assert_attr(&r, ":method", "post");
	assert_attr(&r, ":path", "/api/v1?q=1&r=%20");
	assert_attr(&r, "host", "api.example.com");
	assert_attr(&r, "User-Agent", "Mozilla/5.0 (X11)");
	assert_attr(&r, "user-agent", "Mozilla/5.0 (X11)");
	assert_attr(&r, "accept", "*/*");	/* the last one */
	assert_attr(&r, "x-empty", "");
	assert_attr(&r, "x-colon", "a:b:c");
	assert_attr(&r, "content-length", "3");
	assert_null(sl_sniff_find_attr(&r, "a", 1));
	assert_null(sl_sniff_find_attr(&r, "hos", 3));
	/* Keys point into the buffer as sent. */
	a = sl_sniff_find_attr(&r, "USER-AGENT", 10);
	assert_non_null(a);
	assert_memory_equal(a->key, "User-Agent", 10);
	assert_true((const uint8_t *)a->key > copy &&
	    (const uint8_t *)a->key < copy + sizeof(req));

	/* No request-line attributes unless it has exactly three parts. */
	assert_int_equal(sniff_str("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", &r),
	    SL_OK);
	assert_null(sl_sniff_find_attr(&r, ":method", 7));
	assert_int_equal(r.nattrs, 1);
	assert_int_equal(sniff_str("GET /\r\nHost: x\r\n\r\n", &r), SL_OK);
	assert_null(sl_sniff_find_attr(&r, ":path", 5));
	assert_int_equal(sniff_str("GET\r\nHost: x\r\n\r\n", &r), SL_OK);
	assert_int_equal(r.nattrs, 1);

	/* Attributes come with "no clue" too (Xray keeps them), and with a
	 * Host it rejects. */
	assert_int_equal(sniff_str("GET /a HTTP/1.1\r\nX: y\r\n\r\n", &r),
	    SL_AGAIN);
	assert_int_equal(r.nattrs, 3);
	assert_attr(&r, "x", "y");
	assert_int_equal(sniff_str("GET /a HTTP/1.1\r\nX: y\r\nHost: ::\r\n",
	    &r), SL_DECLINED);
	assert_attr(&r, "host", "::");
	assert_null(r.protocol);
	assert_string_equal(r.domain, "");
}

/* More headers than the table holds: the request line keeps its two. */
static void
test_http_many_headers(void **state)
{
	char req[4096];
	size_t o;
	struct sl_sniff_result r;

	(void)state;
	o = (size_t)sprintf(req, "GET /many HTTP/1.1\r\n");
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(req + o, "X-H%d: v%d\r\n", i, i);
	o += (size_t)sprintf(req + o, "X-H3: again\r\nHost: m.example\r\n\r\n");
	assert_int_equal(sniff_str(req, &r), SL_OK);
	assert_string_equal(r.domain, "m.example");
	assert_int_equal(r.nattrs, SL_SNIFF_MAX_ATTRS);
	assert_attr(&r, ":method", "GET");
	assert_attr(&r, ":path", "/many");
	assert_attr(&r, "x-h0", "v0");
	assert_attr(&r, "x-h3", "again");
	assert_attr(&r, "x-h29", "v29");
	assert_null(sl_sniff_find_attr(&r, "x-h30", 5));
	assert_null(sl_sniff_find_attr(&r, "host", 4));
	/* Without them, two places stay free. */
	memcpy(req, "GET /many HTTP/1.1 x", 20);
	assert_int_equal(sniff_str(req, &r), SL_OK);
	assert_int_equal(r.nattrs, SL_SNIFF_MAX_ATTRS - 2);
	assert_null(sl_sniff_find_attr(&r, ":path", 5));
}

/* ---- BitTorrent, garbage, the mask ---- */

static void
test_bittorrent(void **state)
{
	uint8_t hs[68];
	struct sl_sniff_result r;
	unsigned which;

	(void)state;
	hs[0] = 19;
	memcpy(hs + 1, "BitTorrent protocol", 19);
	memset(hs + 20, 0, 8);
	memset(hs + 28, 0x5a, 40);
	for (size_t i = 0; i < 20; i++)
		expect_rc(hs, i, SL_AGAIN, BT, BT);
	assert_int_equal(sniff_all(hs, sizeof(hs), &which, &r), SL_OK);
	assert_int_equal(which, BT);
	assert_string_equal(r.protocol, "bittorrent");
	assert_string_equal(r.domain, "");
	assert_int_equal(r.atyp, 0);
	expect_rc(hs, 20, SL_OK, SL_SNIFF_TCP, BT);
	hs[19] = 'L';
	expect_rc(hs, sizeof(hs), SL_DECLINED, SL_SNIFF_TCP, 0);
	hs[19] = 'l';
	hs[0] = 18;
	expect_rc(hs, sizeof(hs), SL_DECLINED, BT, 0);
}

static void
test_garbage(void **state)
{
	uint8_t b[512];

	(void)state;
	memset(b, 0, sizeof(b));
	expect_rc(b, sizeof(b), SL_DECLINED, SL_SNIFF_TCP, 0);
	expect_rc(STR("SSH-2.0-OpenSSH_9.2\r\n"), SL_DECLINED, SL_SNIFF_TCP, 0);
	/* A whole record, too short for a hello; too short for BitTorrent
	 * too. */
	expect_rc(STR("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"), SL_AGAIN,
	    SL_SNIFF_TCP, TLS | BT);
	for (int i = 0; i < 5000; i++) {
		size_t n = 20 + th_rnd(sizeof(b) - 20);
		struct sl_sniff_result r;
		unsigned which = SL_SNIFF_TCP;
		int rc;

		for (size_t j = 0; j < n; j++)
			b[j] = (uint8_t)th_rnd(256);
		if (b[0] == 0x16 || b[0] == 19 || (b[0] | 0x20) >= 'c')
			b[0] = 0x80;	/* keep it unambiguous */
		rc = sniff(b, n, &which, &r);
		assert_int_equal(rc, SL_DECLINED);
		assert_int_equal(which, 0);
	}
}

static void
test_mask(void **state)
{
	uint8_t b[600], bt[20];
	static const char req[] = "GET / HTTP/1.1\r\nHost: m.example\r\n\r\n";
	size_t n = hello_sni(b, "mask.example");

	(void)state;
	bt[0] = 19;
	memcpy(bt + 1, "BitTorrent protocol", 19);
	expect_rc(b, n, SL_DECLINED, HTTP | BT, 0);
	expect_rc(b, n, SL_OK, TLS, TLS);
	expect_rc(req, sizeof(req) - 1, SL_DECLINED, TLS | BT, 0);
	expect_rc(req, sizeof(req) - 1, SL_OK, HTTP | TLS, HTTP);
	expect_rc(bt, 20, SL_DECLINED, HTTP | TLS, 0);
	/* No sniffer, or only QUIC (UDP, not here): nothing can match. */
	expect_rc(req, sizeof(req) - 1, SL_DECLINED, 0, 0);
	expect_rc(b, n, SL_DECLINED, SL_IMG_PROTO_QUIC, 0);
	expect_rc("", 0, SL_DECLINED, SL_IMG_PROTO_QUIC, 0);
	/* A sniffer that dropped out stays out: the caller's mask. */
	expect_rc(STR("\x16\x03"), SL_AGAIN, TLS, TLS);
	expect_rc(STR("G"), SL_AGAIN, SL_SNIFF_TCP, SL_SNIFF_TCP);
	/* "Need more" keeps only the sniffer that asked. */
	n = hello_sni(b, "a b");
	expect_rc(b, n, SL_SNIFF_MORE, SL_SNIFF_TCP, TLS);
}

/*
 * Xray's dispatcher loop over reads (app/dispatcher/default.go): no clue
 * counts an attempt and two end it (GAVE_UP); "need more" does not count,
 * it reads on until the time budget ends (here: the reads, BUDGET).
 */
#define GAVE_UP	1
#define BUDGET	2

static int
xray_loop(const uint8_t *b, const size_t *cuts, size_t ncuts,
    struct sl_sniff_result *r)
{
	unsigned which = SL_SNIFF_TCP;
	int attempts = 0;

	for (size_t i = 0; i < ncuts; i++) {
		int rc = sniff(b, cuts[i], &which, r);

		if (rc == SL_OK || rc == SL_DECLINED)
			return rc;
		if (rc == SL_AGAIN && ++attempts >= 2)
			return GAVE_UP;
	}
	return BUDGET;
}

/* A hello in two reads is sniffed, in three it is not. */
static void
test_attempts(void **state)
{
	uint8_t b[4096];
	size_t n = libssl_hello("loop.example", TLS1_3_VERSION, NULL, 0, b,
	    sizeof(b));
	struct sl_sniff_result r;

	(void)state;
	assert_int_equal(xray_loop(b, (size_t[]){ 100, n }, 2, &r), SL_OK);
	assert_string_equal(r.domain, "loop.example");
	assert_int_equal(xray_loop(b, (size_t[]){ 50, 100, n }, 3, &r),
	    GAVE_UP);
	n = hello_sni(b, "loop\x01");
	assert_int_equal(xray_loop(b, (size_t[]){ 10, n, n, n, n }, 5, &r),
	    BUDGET);
}

static int
teardown(void **state)
{
	(void)state;
	free(copy);
	copy = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_captured),
		cmocka_unit_test(test_tls_libssl),
		cmocka_unit_test(test_tls_split),
		cmocka_unit_test(test_tls_truncated),
		cmocka_unit_test(test_tls_rules),
		cmocka_unit_test(test_tls_address),
		cmocka_unit_test(test_http_methods),
		cmocka_unit_test(test_http_host),
		cmocka_unit_test(test_http_bad_host),
		cmocka_unit_test(test_http_ipv6),
		cmocka_unit_test(test_http_spacing),
		cmocka_unit_test(test_http_cut),
		cmocka_unit_test(test_http_attrs),
		cmocka_unit_test(test_http_many_headers),
		cmocka_unit_test(test_bittorrent),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_attempts),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
