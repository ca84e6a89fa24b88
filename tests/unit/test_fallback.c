/*
 * test_fallback: building the fallback table into an image (Xray's
 * passes A, B, C) and selecting from it (name, alpn, path sniffer).
 * Dest indices are opaque numbers here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/fallback.h"
#include "shm/image.h"
#include "shm/types.h"
#include "tests/unit/helpers.h"

#define NDESTS	2000	/* every dest number used below is smaller */

struct tab {
	uint8_t		*buf;
	struct sl_img	 img;
	uint32_t	 first, count;
};

/* th_img_begin, plus NDESTS plain destinations for the fallbacks. */
static void
img_begin(struct sl_img_builder *b)
{
	struct sl_img_dest d;

	th_img_begin(b);
	memset(&d, 0, sizeof(d));
	d.kind = SL_IMG_DEST_TCP;
	for (int i = 0; i < NDESTS; i++)
		sl_imgb_add(b, SL_SECT_DESTS, &d, sizeof(d));
}

static void
build(struct tab *t, const struct sl_fb_entry *e, size_t n)
{
	struct sl_img_builder b;

	img_begin(&b);
	assert_int_equal(sl_fb_build(&b, e, n, &t->first, &t->count), 0);
	t->buf = th_img_finish(&b, &t->img);
}

/* ---- reading the table back ---- */

static const struct sl_img_fb_name *
rec_name(const struct tab *t, const char *name)
{
	for (uint32_t i = 0; i < t->count; i++) {
		const struct sl_img_fb_name *n = SL_IMG_REC(&t->img,
		    SL_SECT_FB_NAMES, struct sl_img_fb_name, t->first + i);

		if (strcmp(sl_img_str(&t->img, n->name), name) == 0)
			return n;
	}
	return NULL;
}

static const struct sl_img_fb_alpn *
rec_alpn(const struct tab *t, const char *name, const char *alpn)
{
	const struct sl_img_fb_name *n = rec_name(t, name);

	for (uint32_t i = 0; n != NULL && i < n->alpns_count; i++) {
		const struct sl_img_fb_alpn *a = SL_IMG_REC(&t->img,
		    SL_SECT_FB_ALPNS, struct sl_img_fb_alpn, n->alpns_first + i);

		if (strcmp(sl_img_str(&t->img, a->alpn), alpn) == 0)
			return a;
	}
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The path map [name][alpn] as "path=dest" items, sorted, joined by
 * spaces; "-" if the map does not exist. */
static char *
map_str(const struct tab *t, const char *name, const char *alpn)
{
	static char out[1024];
	char items[32][64];
	const struct sl_img_fb_alpn *a = rec_alpn(t, name, alpn);
	uint32_t n;

	if (a == NULL)
		return strcpy(out, "-");
	assert_true(a->paths_count <= 32);
	for (n = 0; n < a->paths_count; n++) {
		const struct sl_img_fb_path *p = SL_IMG_REC(&t->img,
		    SL_SECT_FB_PATHS, struct sl_img_fb_path, a->paths_first + n);

		snprintf(items[n], sizeof(items[n]), "%s=%u",
		    sl_img_str(&t->img, p->path), p->dest);
	}
	qsort(items, n, sizeof(items[0]), cmp_str);
	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, items[i]);
	}
	return out;
}

static uint32_t
alpn_count(const struct tab *t, const char *name)
{
	const struct sl_img_fb_name *n = rec_name(t, name);

	return n != NULL ? n->alpns_count : UINT32_MAX;
}

/* ---- selecting ---- */

/* dest, or -1 with the reason in *why. */
static long
sel(const struct tab *t, const char *sni, const char *alpn, const char *first,
    const char **why)
{
	struct sl_fb_choice ch;
	const char *w = NULL;

	if (sl_fb_select(&t->img, t->first, t->count, sni, alpn,
	    (const uint8_t *)first, first ? strlen(first) : 0, &ch, &w) == -1) {
		assert_non_null(w);
		if (why != NULL)
			*why = w;
		return -1;
	}
	return ch.dest;
}

#define GET(p)	"GET " p " HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define H2	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define ERR_NAME	"failed to find the default \"name\" config"
#define ERR_ALPN	"failed to find the default \"alpn\" config"
#define ERR_PATH	"failed to find the default \"path\" config"

/* [{dest:80},{path:"/ws",dest:1234},{alpn:"h2",dest:81}] */
static void
test_spec_example_1(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, NULL, 80 },
		{ NULL, NULL, "/ws", 1234 },
		{ NULL, "h2", NULL, 81 },
	};
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(t.count, 1);
	assert_int_equal(alpn_count(&t, ""), 2);
	assert_string_equal(map_str(&t, "", ""), "/ws=1234 =80");
	assert_string_equal(map_str(&t, "", "h2"), "/ws=1234 =81");
	assert_int_equal(sel(&t, NULL, "h2", GET("/ws"), NULL), 1234);
	assert_int_equal(sel(&t, NULL, "h2", H2, NULL), 81);
	assert_int_equal(sel(&t, NULL, "http/1.1", GET("/ws"), NULL), 1234);
	assert_int_equal(sel(&t, NULL, NULL, GET("/"), NULL), 80);
	assert_int_equal(sel(&t, "any.host", "h2", GET("/x"), NULL), 81);
	free(t.buf);
}

/* [{name:"a.com",dest:90},{alpn:"h2",dest:81}] */
static void
test_spec_example_2(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ "a.com", NULL, NULL, 90 },
		{ NULL, "h2", NULL, 81 },
	};
	struct tab t;
	const char *why = NULL;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(t.count, 2);
	assert_string_equal(map_str(&t, "a.com", ""), "=90");
	assert_string_equal(map_str(&t, "a.com", "h2"), "=90");
	assert_string_equal(map_str(&t, "", "h2"), "=81");
	assert_string_equal(map_str(&t, "", ""), "-");
	/* The name is more specific than the alpn. */
	assert_int_equal(sel(&t, "a.com", "h2", H2, NULL), 90);
	assert_int_equal(sel(&t, "a.com", "http/1.1", GET("/"), NULL), 90);
	assert_int_equal(sel(&t, NULL, "h2", H2, NULL), 81);
	assert_int_equal(sel(&t, "b.com", "h2", H2, NULL), 81);
	/* No SNI with http/1.1: [""] exists, [""][""] does not. */
	assert_int_equal(sel(&t, NULL, "http/1.1", GET("/"), &why), -1);
	assert_string_equal(why, ERR_ALPN);
	assert_int_equal(sel(&t, "", "", GET("/"), &why), -1);
	assert_string_equal(why, ERR_ALPN);
	free(t.buf);
}

static void
test_default_errors(void **state)
{
	static const struct sl_fb_entry named[] = {
		{ "a.com", NULL, NULL, 90 },
	};
	static const struct sl_fb_entry pathonly[] = {
		{ NULL, NULL, "/ws", 1 },
	};
	struct tab t;
	const char *why = NULL;

	(void)state;
	build(&t, named, SL_ARRAY_LEN(named));
	assert_int_equal(sel(&t, "b.com", NULL, GET("/"), &why), -1);
	assert_string_equal(why, ERR_NAME);
	assert_int_equal(sel(&t, NULL, NULL, GET("/"), &why), -1);
	assert_string_equal(why, ERR_NAME);
	/* Substring of the SNI: chosen even without a default name. */
	assert_int_equal(sel(&t, "www.a.com", NULL, GET("/"), NULL), 90);
	free(t.buf);

	build(&t, pathonly, SL_ARRAY_LEN(pathonly));
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws"), NULL), 1);
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws?ed=2048"), NULL), 1);
	assert_int_equal(sel(&t, NULL, NULL, GET("/"), &why), -1);
	assert_string_equal(why, ERR_PATH);
	assert_int_equal(sel(&t, NULL, NULL, "short", &why), -1);
	assert_string_equal(why, ERR_PATH);
	free(t.buf);

	/* An empty table has no default name. */
	build(&t, NULL, 0);
	assert_int_equal(t.count, 0);
	assert_int_equal(sel(&t, "a.com", "h2", GET("/"), &why), -1);
	assert_string_equal(why, ERR_NAME);
	free(t.buf);
}

/*
 * Pass B runs before pass C: a.com/h2 inherits a.com/"" paths only as
 * they were before C copied the default name's into a.com/"".
 */
static void
test_pass_b_before_c(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, NULL, 80 },
		{ NULL, NULL, "/ws", 1234 },
		{ "a.com", "h2", NULL, 90 },
	};
	static const struct sl_fb_entry e2[] = {
		{ NULL, NULL, NULL, 80 },
		{ NULL, NULL, "/ws", 1234 },
		{ NULL, "h2", NULL, 81 },
		{ "a.com", "h2", NULL, 90 },
	};
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_string_equal(map_str(&t, "a.com", "h2"), "=90");
	assert_string_equal(map_str(&t, "a.com", ""), "/ws=1234 =80");
	assert_int_equal(sel(&t, "a.com", "h2", GET("/ws"), NULL), 90);
	assert_int_equal(sel(&t, "a.com", "http/1.1", GET("/ws"), NULL), 1234);
	assert_int_equal(sel(&t, "a.com", "http/1.1", GET("/"), NULL), 80);
	free(t.buf);

	/* Unless the default name itself had that alpn: then C copies
	 * [""]["h2"] (which B filled) into a.com/h2. */
	build(&t, e2, SL_ARRAY_LEN(e2));
	assert_string_equal(map_str(&t, "", "h2"), "/ws=1234 =81");
	assert_string_equal(map_str(&t, "a.com", "h2"), "/ws=1234 =90");
	assert_int_equal(sel(&t, "a.com", "h2", GET("/ws"), NULL), 1234);
	assert_int_equal(sel(&t, "a.com", "h2", H2, NULL), 90);
	free(t.buf);
}

/* Pass A: a named server gets the default name's alpns; C fills them. */
static void
test_pass_a(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ "b.com", "", "/b", 7 },
		{ NULL, "h2", "/x", 8 },
		{ NULL, "http/1.1", NULL, 9 },
	};
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(alpn_count(&t, "b.com"), 3);
	/* B ran before C filled b.com/h2, so /b went to it from b.com/"". */
	assert_string_equal(map_str(&t, "b.com", "h2"), "/b=7 /x=8");
	assert_string_equal(map_str(&t, "b.com", "http/1.1"), "/b=7 =9");
	assert_string_equal(map_str(&t, "b.com", ""), "/b=7");
	assert_int_equal(sel(&t, "b.com", "h2", GET("/x"), NULL), 8);
	assert_int_equal(sel(&t, "b.com", "http/1.1", GET("/zzz"), NULL), 9);
	free(t.buf);
}

static void
test_last_one_wins(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, "/a", 1 },
		{ NULL, NULL, NULL, 5 },
		{ "", "", "/a", 3 },
		{ NULL, NULL, "", 6 },
	};
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(t.count, 1);
	assert_string_equal(map_str(&t, "", ""), "/a=3 =6");
	assert_int_equal(sel(&t, NULL, NULL, GET("/a"), NULL), 3);
	assert_int_equal(sel(&t, NULL, NULL, GET("/b"), NULL), 6);
	free(t.buf);
}

static void
test_sni_longest_substring(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ "example.com", NULL, NULL, 10 },
		{ "www.example.com", NULL, NULL, 11 },
		{ NULL, NULL, NULL, 12 },
		{ "ample", NULL, NULL, 13 },
	};
	struct sl_fb_choice ch;
	const char *why;
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(sel(&t, "example.com", NULL, GET("/"), NULL), 10);
	assert_int_equal(sel(&t, "www.example.com", NULL, GET("/"), NULL), 11);
	/* Plain substring, not a suffix: also matches a foreign name. */
	assert_int_equal(sel(&t, "api.example.com", NULL, GET("/"), NULL), 10);
	assert_int_equal(sel(&t, "example.com.evil.net", NULL, GET("/"), NULL), 10);
	/* Longest wins among several. */
	assert_int_equal(sel(&t, "a.www.example.com", NULL, GET("/"), NULL), 11);
	assert_int_equal(sel(&t, "www.example.company", NULL, GET("/"), NULL), 11);
	assert_int_equal(sel(&t, "sample.org", NULL, GET("/"), NULL), 13);
	assert_int_equal(sel(&t, "other.net", NULL, GET("/"), NULL), 12);
	assert_int_equal(sel(&t, NULL, NULL, GET("/"), NULL), 12);
	/* Upper case SNI (and ALPN) is lowered first. */
	assert_int_equal(sel(&t, "WWW.Example.COM", NULL, GET("/"), NULL), 11);
	assert_int_equal(sel(&t, "API.EXAMPLE.COM", NULL, GET("/"), NULL), 10);
	/* The choice names the keys used. */
	assert_int_equal(sl_fb_select(&t.img, t.first, t.count, "X.Example.Com",
	    "H2", (const uint8_t *)"GET", 3, &ch, &why), 0);
	assert_string_equal(ch.name, "example.com");
	assert_string_equal(ch.alpn, "");
	assert_int_equal(ch.path_len, 0);
	free(t.buf);
}

/* One name only, and it is "": no substring search (nothing to find). */
static void
test_sni_single_default(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, NULL, 12 },
	};
	static const struct sl_fb_entry tie[] = {
		{ "aa.com", NULL, NULL, 1 },
		{ "bb.com", NULL, NULL, 2 },
	};
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(sel(&t, "www.example.com", "h2", H2, NULL), 12);
	free(t.buf);
	/* Equal lengths: the first configured wins (Go: map order). */
	build(&t, tie, SL_ARRAY_LEN(tie));
	assert_int_equal(sel(&t, "bb.com.aa.com", NULL, GET("/"), NULL), 1);
	assert_int_equal(sel(&t, "x.bb.com", NULL, GET("/"), NULL), 2);
	free(t.buf);
}

static void
test_alpn(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, NULL, 1 },
		{ NULL, "h2", NULL, 2 },
		{ NULL, "http/1.1", NULL, 3 },
	};
	struct sl_fb_choice ch;
	const char *why;
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(sel(&t, NULL, "h2", H2, NULL), 2);
	assert_int_equal(sel(&t, NULL, "H2", H2, NULL), 2);
	assert_int_equal(sel(&t, NULL, "HTTP/1.1", GET("/"), NULL), 3);
	/* Exact match or "": no prefix or substring matching. */
	assert_int_equal(sel(&t, NULL, "h2c", H2, NULL), 1);
	assert_int_equal(sel(&t, NULL, "http/1", GET("/"), NULL), 1);
	assert_int_equal(sel(&t, NULL, "", GET("/"), NULL), 1);
	assert_int_equal(sl_fb_select(&t.img, t.first, t.count, NULL, "H2",
	    NULL, 0, &ch, &why), 0);
	assert_string_equal(ch.alpn, "h2");
	assert_string_equal(ch.name, "");
	free(t.buf);
}

static void
test_path_select(void **state)
{
	static const struct sl_fb_entry e[] = {
		{ NULL, NULL, NULL, 1 },
		{ NULL, NULL, "/ws", 2 },
		{ NULL, NULL, "/WS", 3 },
	};
	static const struct sl_fb_entry single[] = {
		{ NULL, NULL, NULL, 1 },
	};
	struct sl_fb_choice ch;
	const char *why;
	struct tab t;

	(void)state;
	build(&t, e, SL_ARRAY_LEN(e));
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws"), NULL), 2);
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws?ed=2048"), NULL), 2);
	assert_int_equal(sel(&t, NULL, NULL, GET("/WS"), NULL), 3);
	/* Exact, case-sensitive, no prefix: falls to "". */
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws/abc"), NULL), 1);
	assert_int_equal(sel(&t, NULL, NULL, GET("/Ws"), NULL), 1);
	assert_int_equal(sel(&t, NULL, NULL, GET("/w"), NULL), 1);
	assert_int_equal(sel(&t, NULL, NULL, "POST /ws HTTP/1.1\r\n\r\n", NULL), 2);
	/* h2 never gets path routing. */
	assert_int_equal(sel(&t, NULL, "h2", H2, NULL), 1);
	assert_int_equal(sl_fb_select(&t.img, t.first, t.count, NULL, NULL,
	    (const uint8_t *)GET("/ws"), strlen(GET("/ws")), &ch, &why), 0);
	assert_int_equal(ch.path_len, 3);
	assert_memory_equal(ch.path, "/ws", 3);
	free(t.buf);
	/* A map of just "": the sniffer does not run. */
	build(&t, single, SL_ARRAY_LEN(single));
	assert_int_equal(sel(&t, NULL, NULL, GET("/ws"), NULL), 1);
	free(t.buf);
}

static void
test_two_tables(void **state)
{
	static const struct sl_fb_entry a[] = {
		{ NULL, NULL, NULL, 1 }, { "x.com", "h2", "/p", 2 },
	};
	static const struct sl_fb_entry b[] = {
		{ NULL, "h2", NULL, 3 },
	};
	struct sl_img_builder bld;
	struct tab ta, tb;

	(void)state;
	img_begin(&bld);
	assert_int_equal(sl_fb_build(&bld, a, 2, &ta.first, &ta.count), 0);
	assert_int_equal(sl_fb_build(&bld, b, 1, &tb.first, &tb.count), 0);
	assert_int_equal(ta.first, 0);
	assert_int_equal(ta.count, 2);
	assert_int_equal(tb.first, 2);
	assert_int_equal(tb.count, 1);
	ta.buf = th_img_finish(&bld, &ta.img);
	tb.img = ta.img;
	assert_int_equal(sel(&ta, "x.com", "h2", GET("/p"), NULL), 2);
	/* x.com/h2 never got a "" path: B ran while x.com/"" was empty. */
	assert_int_equal(sel(&ta, "x.com", "h2", GET("/q"), NULL), -1);
	assert_int_equal(sel(&ta, "x.com", "http/1.1", GET("/q"), NULL), 1);
	assert_int_equal(sel(&tb, "x.com", "h2", GET("/p"), NULL), 3);
	assert_int_equal(sel(&tb, "x.com", "http/1.1", GET("/p"), NULL), -1);
	free(ta.buf);
}

/* ---- the sniffer itself ---- */

static int
sniff(const char *s, size_t len, char *out)
{
	const uint8_t *p;
	size_t n;
	int rc = sl_fb_sniff_path((const uint8_t *)s, len, &p, &n);

	out[0] = '\0';
	if (rc == 1) {
		assert_true(p >= (const uint8_t *)s && p + n <= (const uint8_t *)s + len);
		memcpy(out, p, n);
		out[n] = '\0';
	}
	return rc;
}

static void
test_sniff(void **state)
{
	char out[80], buf[128];

	(void)state;
	assert_int_equal(sniff(GET("/ws"), strlen(GET("/ws")), out), 1);
	assert_string_equal(out, "/ws");
	assert_int_equal(sniff(GET("/ws?ed=2048"), strlen(GET("/ws?ed=2048")), out), 1);
	assert_string_equal(out, "/ws");
	assert_int_equal(sniff(GET("/ws/abc"), strlen(GET("/ws/abc")), out), 1);
	assert_string_equal(out, "/ws/abc");
	assert_int_equal(sniff(GET("/"), strlen(GET("/")), out), 1);
	assert_string_equal(out, "/");
	/* Methods of 3 to 7 letters, not validated; 8 is too long. */
	assert_int_equal(sniff("OPTIONS /x HTTP/1.1\r\n", 21, out), 1);
	assert_string_equal(out, "/x");
	assert_int_equal(sniff("XYZ /abc?q HTTP/1.1\r\n", 21, out), 1);
	assert_string_equal(out, "/abc");
	assert_int_equal(sniff("CONNECTX /x HTTP/1.1\r\n", 22, out), 0);
	assert_int_equal(sniff("GE /x HTTP/1.1\r\n\r\n", 18, out), 0);
	/* The first " /" from byte 4 on wins, whatever precedes it. */
	assert_int_equal(sniff("AB /x /yy HTTP/1.1\r\n", 20, out), 1);
	assert_string_equal(out, "/yy");
	assert_int_equal(sniff("ABC /x /yy HTTP/1.1\r\n", 21, out), 1);
	assert_string_equal(out, "/x");
	/* h2 preface: never. */
	assert_int_equal(sniff(H2, strlen(H2), out), 0);
	assert_int_equal(sniff("PRI * /x HTTP/2.0\r\n", 19, out), 0);
	/* CR or LF before the terminator: none. */
	assert_int_equal(sniff("GET /ws\r\nHost: x ?\r\n", 20, out), 0);
	assert_int_equal(sniff("GET /ws\nHost: x ? \r\n", 20, out), 0);
	/* firstLen < 18. */
	assert_int_equal(sniff("GET /ws HTTP/1.1\r\n", 17, out), 0);
	assert_int_equal(sniff("GET /ws HTTP/1.1\r\n", 18, out), 1);
	assert_int_equal(sniff("GET /ws HTTP/1.1\r\n", 7, out), 0);
	/* No terminator within len. */
	assert_int_equal(sniff("GET /aaaaaaaaaaaaaaaaaaaa", 25, out), 0);
	/* Terminator at byte 63: found (path of 59 bytes for GET). */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	buf[63] = ' ';
	assert_int_equal(sniff(buf, 100, out), 1);
	assert_int_equal(strlen(out), 59);
	assert_int_equal(sniff(buf, 64, out), 1);
	assert_int_equal(sniff(buf, 63, out), 0);
	/* At byte 64: past the scan limit. */
	buf[63] = 'a';
	buf[64] = '?';
	assert_int_equal(sniff(buf, 100, out), 0);
	/* OPTIONS: 55 bytes at most. */
	memcpy(buf, "OPTIONS /", 9);
	buf[63] = ' ';
	assert_int_equal(sniff(buf, 100, out), 1);
	assert_int_equal(strlen(out), 55);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_1),
		cmocka_unit_test(test_spec_example_2),
		cmocka_unit_test(test_default_errors),
		cmocka_unit_test(test_pass_b_before_c),
		cmocka_unit_test(test_pass_a),
		cmocka_unit_test(test_last_one_wins),
		cmocka_unit_test(test_sni_longest_substring),
		cmocka_unit_test(test_sni_single_default),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_path_select),
		cmocka_unit_test(test_two_tables),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
