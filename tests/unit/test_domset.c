/*
 * test_domset: domain sets built into an image, validated and matched.
 * Hand-picked boundary cases per pattern type, random small sets over a
 * tiny alphabet and the real china-list against a straightforward
 * reference matcher written here (sorted arrays, memmem, PCRE2), and
 * corrupted images.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/domset.h"
#include "shm/domset_int.h"		/* white box: corrupt the tables */
#include "shm/image.h"
#include "shm/regex.h"
#include "tests/unit/helpers.h"

struct tab {
	uint8_t		*buf;
	size_t		 len;
	struct sl_img	 img;
	struct sl_rxtab	*rx;
	uint32_t	 set;
};

static void
tab_finish(struct sl_img_builder *b, struct tab *t)
{
	const char *err = NULL;

	t->buf = th_img_finish(b, &t->img);
	t->len = t->img.size;
	t->rx = sl_rxtab_new(&t->img, &err);
	if (t->rx == NULL)
		fail_msg("regex table: %s", err);
}

static void
tab_free(struct tab *t)
{
	sl_rxtab_free(t->rx);
	free(t->buf);
}

/* "full:x", "domain:x", "keyword:x", "regexp:x"; a bare string is a
 * domain (the lists hold plain domains). */
static struct sl_dom_pat
pat(const char *s)
{
	static const struct {
		const char	*prefix;
		int		 type;
	} pre[] = {
		{ "full:", SL_DPAT_FULL }, { "domain:", SL_DPAT_DOMAIN },
		{ "keyword:", SL_DPAT_SUBSTR }, { "regexp:", SL_DPAT_REGEX },
	};
	struct sl_dom_pat p = { SL_DPAT_DOMAIN, s, strlen(s) };

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (strncmp(s, pre[i].prefix, strlen(pre[i].prefix)) == 0) {
			p.type = pre[i].type;
			p.value = s + strlen(pre[i].prefix);
			p.len = strlen(p.value);
		}
	return p;
}

static void
build(struct tab *t, const char *const *s, size_t n)
{
	struct sl_dom_pat *p = calloc(n + 1, sizeof(*p));
	struct sl_img_builder b;
	const char *err = NULL;

	for (size_t i = 0; i < n; i++)
		p[i] = pat(s[i]);
	th_img_begin(&b);
	t->set = sl_domset_build(&b, p, n, &err);
	if (t->set == SL_IMG_NONE)
		fail_msg("build: %s", err);
	free(p);
	tab_finish(&b, t);
}

static int
m(const struct tab *t, const char *name)
{
	return sl_domset_match(&t->img, t->rx, t->set, name, strlen(name));
}

#define BUILD(t, ...) do {						\
	static const char *const pats_[] = { __VA_ARGS__ };		\
	build((t), pats_, sizeof(pats_) / sizeof(pats_[0]));		\
} while (0)

/* Every name of YES matches, no name of NO does. */
static void
expect(const struct tab *t, const char *const *yes, const char *const *no)
{
	for (; yes != NULL && *yes != NULL; yes++)
		if (!m(t, *yes))
			fail_msg("%s should match", *yes);
	for (; no != NULL && *no != NULL; no++)
		if (m(t, *no))
			fail_msg("%s should not match", *no);
}

#define YES(...)	((const char *const []){ __VA_ARGS__, NULL })
#define NO(...)		((const char *const []){ __VA_ARGS__, NULL })

/* ---- one type at a time ---- */

static void
test_full(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "full:example.com", "full:LocalHost");
	expect(&t, YES("example.com", "localhost"),
	    NO("a.example.com", "aexample.com", "example.com.cn", "xample.com",
	    "example.co", "example.com.", ".example.com", "com", "",
	    "localhost.localdomain", "a.localhost"));
	tab_free(&t);
}

static void
test_domain(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "domain:example.com", "domain:cn", "domain:Upper.ORG");
	expect(&t, YES("example.com", "a.example.com", "a.b.example.com",
	    ".example.com", "cn", "x.cn", "a.b.c.cn", "upper.org",
	    "www.upper.org"),
	    NO("aexample.com", "example.com.us", "example.co", "xample.com",
	    "example.com.", "com", "", "cnn", "x.cnn", "acn", "cn.", "org",
	    "supper.org"));
	tab_free(&t);
}

/* The same string as full: and domain:, and full: below a domain:. */
static void
test_full_and_domain(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "full:a.com", "domain:b.com", "full:x.b.com", "full:c.net",
	    "domain:c.net", "full:d.org", "full:d.org");
	expect(&t, YES("a.com", "b.com", "x.b.com", "y.x.b.com", "c.net",
	    "w.c.net"),
	    NO("w.a.com", "com", "b.co", "d.org.x", "w.d.org"));
	assert_true(m(&t, "d.org"));
	tab_free(&t);
}

static void
test_keyword(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "keyword:abcd", "keyword:bcde", "keyword:a_b",
	    "keyword:GooG", "keyword:\xc3\xa9t\xc3\xa9", "keyword:zz");
	expect(&t, YES("abcd", "xabcdx", "xbcdex", "abcde", "bcde.com",
	    "www.bcde", "xa_bx", "googl", "www.google.com",
	    "\xc3\xa9t\xc3\xa9.fr", "zz", "a.zz.b"),
	    NO("abc", "bcd", "abdc", "a-b", "a*b", "a.b", "goo.g",
	    "\xc3\xa9t\xc3\xa8", "z.z", "", "www.example.com"));
	tab_free(&t);
}

/* Keywords long enough for the 4-byte prefilter, and a miss that passes
 * it by chance. */
static void
test_keyword_filter(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "keyword:tencent", "keyword:-cdn-", "domain:qq.com");
	expect(&t, YES("tencent.com", "a.b.tencent", "img-cdn-3.x",
	    "www.qq.com"),
	    NO("tencen", "encent", "cdn", "x-cdn.y", "tenc.ent", "qq.co"));
	tab_free(&t);
}

static void
test_regex(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t,
	    /* every match ends ".akamaized.net": filed under that key */
	    "regexp:^.+-mihayo\\.akamaized\\.net$",
	    /* a literal in the middle: the automaton */
	    "regexp:\\.awsdns-cn-[0-9][0-9]\\.(biz|com)$",
	    /* nothing known: always tried */
	    "regexp:^[a-z]+[0-9]$",
	    /* upper-case literal: never matches a lower-case name */
	    "regexp:Google",
	    "regexp:^ab|^cd\\.");
	expect(&t, YES("x-mihayo.akamaized.net", "a.b-mihayo.akamaized.net",
	    "ns.awsdns-cn-12.com", "a.awsdns-cn-00.biz", "abc7", "ab.x",
	    "cd.x"),
	    NO("mihayo.akamaized.net", "x-mihayo.akamaized.net.cn",
	    "akamaized.net", "-mihayo.akamaized.net", "ns.awsdns-cn-1.com",
	    "awsdns-cn-12.com", "ns.awsdns-cn-12.org", "xbc77", "a7b",
	    "google.com", "xab", "cd", "acd.x"));
	tab_free(&t);
}

/* Regex literals that end inside one another: reaching "xabcd" must also
 * report "bcd" (two failure links away, past "abcd" which reports
 * nothing); a key right after a leading dot. */
static void
test_regex_literals(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "regexp:xabcd[0-9]", "regexp:abcde[0-9]", "regexp:bcd$",
	    "regexp:\\.foo\\.com$", "keyword:zzzz");
	expect(&t, YES("xabcd", "a.xabcd", "abcde7", "xabcd1", ".foo.com",
	    "a.foo.com"),
	    NO("xabc", "abcde", "xabcdx", "foo.com", "afoo.com"));
	tab_free(&t);
}

static void
test_empty(void **state)
{
	struct tab t;

	(void)state;
	build(&t, NULL, 0);
	expect(&t, NULL, NO("", "a", "example.com", "."));
	tab_free(&t);
}

/* Empty patterns mean what the definitions say. */
static void
test_empty_patterns(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "full:");
	expect(&t, YES(""), NO("a", "."));
	tab_free(&t);
	BUILD(&t, "domain:");
	expect(&t, YES("", "a.", "a.b.", "."), NO("a", "a.b", ".a"));
	tab_free(&t);
	BUILD(&t, "keyword:", "full:x");
	expect(&t, YES("", "a", "anything.at.all"), NULL);
	tab_free(&t);
	BUILD(&t, "regexp:");
	expect(&t, YES("", "a"), NULL);
	tab_free(&t);
}

static void
test_single_label_and_dots(void **state)
{
	struct tab t;

	(void)state;
	BUILD(&t, "domain:localhost", "full:lan", "domain:example.com.",
	    "domain:.dot", "keyword:..");
	expect(&t, YES("localhost", "a.localhost", "lan", "example.com.",
	    "a.example.com.", ".dot", "a..dot", "a..b"),
	    NO("localhost.", "alocalhost", "x.lan", "lan.", "example.com",
	    "a.dot", "dot", "a.b"));
	tab_free(&t);
}

/* Names with more dots than one probe batch, and longer than the padded
 * fast path; keys longer than the one-byte record length. */
static void
test_long(void **state)
{
	char name[600], key[300];
	const char *p[3];
	struct tab t;
	size_t n;

	(void)state;
	memset(key, 'k', 280);
	memcpy(key, "domain:", 7);
	key[280] = '\0';
	p[0] = key;
	p[1] = "domain:z.com";
	p[2] = "full:abcdefghijklmnopqrstuvwxyz0123456789.example.org";
	build(&t, p, 3);
	for (n = 0; n < 40; n++)
		memcpy(name + 2 * n, "a.", 2);
	strcpy(name + 80, "z.com");
	assert_true(m(&t, name));
	strcpy(name + 80, "y.com");
	assert_false(m(&t, name));
	/* 2 * 150 + 273 bytes: past the fast path */
	for (n = 0; n < 150; n++)
		memcpy(name + 2 * n, "b.", 2);
	memcpy(name + 300, key + 7, 273);
	name[573] = '\0';
	assert_true(m(&t, name));
	name[572] = 'x';
	assert_false(m(&t, name));
	assert_true(m(&t, key + 7));
	assert_true(m(&t, "abcdefghijklmnopqrstuvwxyz0123456789.example.org"));
	assert_false(m(&t,
	    "x.abcdefghijklmnopqrstuvwxyz0123456789.example.org"));
	tab_free(&t);
}

/* Bad input is refused with a message and leaves nothing half-built. */
static void
test_build_errors(void **state)
{
	struct sl_img_builder b;
	struct sl_dom_pat p[2] = {
		{ SL_DPAT_FULL, "a", 1 }, { SL_DPAT_REGEX, "(", 1 },
	};
	const char *err = NULL;

	(void)state;
	th_img_begin(&b);
	assert_int_equal(sl_domset_build(&b, p, 2, &err), SL_IMG_NONE);
	assert_non_null(err);
	assert_int_equal(sl_imgb_count(&b, SL_SECT_REGEXES,
	    sizeof(struct sl_img_regex)), 0);
	assert_int_equal(sl_imgb_count(&b, SL_SECT_DOMSETS,
	    sizeof(struct sl_img_domset)), 0);
	p[1].type = 7;
	err = NULL;
	assert_int_equal(sl_domset_build(&b, p, 2, &err), SL_IMG_NONE);
	assert_non_null(err);
	sl_imgb_free(&b);
}

/* Several sets in one image, each with its own regexes. */
static void
test_several_sets(void **state)
{
	struct sl_dom_pat a[] = {
		{ SL_DPAT_DOMAIN, "a.com", 5 }, { SL_DPAT_REGEX, "^x", 2 },
	};
	struct sl_dom_pat b2[] = {
		{ SL_DPAT_REGEX, "y$", 2 }, { SL_DPAT_SUBSTR, "mid", 3 },
	};
	struct sl_img_builder b;
	const char *err = NULL;
	struct tab t;
	uint32_t s1, s2;

	(void)state;
	th_img_begin(&b);
	s1 = sl_domset_build(&b, a, 2, &err);
	s2 = sl_domset_build(&b, b2, 2, &err);
	assert_int_not_equal(s1, SL_IMG_NONE);
	assert_int_not_equal(s2, SL_IMG_NONE);
	tab_finish(&b, &t);
	assert_true(sl_domset_match(&t.img, t.rx, s1, "w.a.com", 7));
	assert_true(sl_domset_match(&t.img, t.rx, s1, "xy", 2));
	assert_false(sl_domset_match(&t.img, t.rx, s1, "ay", 2));
	assert_true(sl_domset_match(&t.img, t.rx, s2, "ay", 2));
	assert_true(sl_domset_match(&t.img, t.rx, s2, "amid", 4));
	assert_false(sl_domset_match(&t.img, t.rx, s2, "xa.com", 6));
	assert_true(sl_domset_bytes(&t.img, s1) > sizeof(struct sl_img_domset));
	tab_free(&t);
}

/* ---- the reference matcher ---- */

struct ref {
	char		**full, **dom, **kw;
	size_t		 nfull, ndom, nkw;
	pcre2_code	**rx;
	size_t		 nrx;
	pcre2_match_data *md;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
lower_dup(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		d[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i];
	d[len] = '\0';
	return d;
}

static void
ref_init(struct ref *r, const struct sl_dom_pat *p, size_t n)
{
	PCRE2_SIZE eoff;
	int ecode;

	memset(r, 0, sizeof(*r));
	r->full = calloc(n + 1, sizeof(char *));
	r->dom = calloc(n + 1, sizeof(char *));
	r->kw = calloc(n + 1, sizeof(char *));
	r->rx = calloc(n + 1, sizeof(pcre2_code *));
	r->md = pcre2_match_data_create(1, NULL);
	for (size_t i = 0; i < n; i++) {
		if (p[i].type == SL_DPAT_FULL)
			r->full[r->nfull++] = lower_dup(p[i].value, p[i].len);
		else if (p[i].type == SL_DPAT_DOMAIN)
			r->dom[r->ndom++] = lower_dup(p[i].value, p[i].len);
		else if (p[i].type == SL_DPAT_SUBSTR)
			r->kw[r->nkw++] = lower_dup(p[i].value, p[i].len);
		else {
			r->rx[r->nrx] = pcre2_compile((PCRE2_SPTR)p[i].value,
			    p[i].len, PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF |
			    PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C, &ecode,
			    &eoff, NULL);
			assert_non_null(r->rx[r->nrx]);
			pcre2_jit_compile(r->rx[r->nrx++], PCRE2_JIT_COMPLETE);
		}
	}
	qsort(r->full, r->nfull, sizeof(char *), cmp_str);
	qsort(r->dom, r->ndom, sizeof(char *), cmp_str);
}

static void
ref_free(struct ref *r)
{
	for (size_t i = 0; i < r->nfull; i++)
		free(r->full[i]);
	for (size_t i = 0; i < r->ndom; i++)
		free(r->dom[i]);
	for (size_t i = 0; i < r->nkw; i++)
		free(r->kw[i]);
	for (size_t i = 0; i < r->nrx; i++)
		pcre2_code_free(r->rx[i]);
	free(r->full);
	free(r->dom);
	free(r->kw);
	free(r->rx);
	pcre2_match_data_free(r->md);
}

static int
in(char **v, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, v, n, sizeof(char *), cmp_str) != NULL;
}

/* Xray's definitions, literally.  NAME is NUL-free here. */
static int
ref_match(const struct ref *r, const char *name)
{
	size_t len = strlen(name);

	if (in(r->full, r->nfull, name) || in(r->dom, r->ndom, name))
		return 1;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '.' && in(r->dom, r->ndom, name + i + 1))
			return 1;
	for (size_t i = 0; i < r->nkw; i++)
		if (strstr(name, r->kw[i]) != NULL)
			return 1;
	for (size_t i = 0; i < r->nrx; i++)
		if (pcre2_match(r->rx[i], (PCRE2_SPTR)name, len, 0, 0, r->md,
		    NULL) >= 0)
			return 1;
	return 0;
}

/* ---- small random sets over a tiny alphabet ---- */

static const char *const rx_small[] = {
	"^a", "b$", "a\\.b", "^[ab]+\\.a$", "(^|\\.)ab\\.b$", "a-b.*\\.a$",
	"^-", "\\.\\.", "ba[ab]a", "^a?b?$", "aab|bba", "(a|b)-a\\.ba$",
	"^.+\\.b-a$", "a{3}", "^b\\.-$",
};

/* MIN..MAX bytes of the alphabet. */
static void
random_word(char *s, size_t min, size_t max)
{
	static const char alpha[] = "ab.-";
	size_t n = min + th_rnd((unsigned)(max - min + 1));

	for (size_t i = 0; i < n; i++)
		s[i] = alpha[th_rnd(sizeof(alpha) - 1)];
	s[n] = '\0';
}

/* Keywords of KWMIN bytes or more: 4 and up turn the automaton's
 * prefilter on, with a stride of up to KWMIN - 3. */
static void
random_set(char (*buf)[16], struct sl_dom_pat *p, size_t n, size_t kwmin)
{
	for (size_t i = 0; i < n; i++) {
		p[i].type = (int)th_rnd(4);
		if (p[i].type == SL_DPAT_REGEX)
			p[i].value = rx_small[th_rnd(sizeof(rx_small) /
			    sizeof(rx_small[0]))];
		else {
			if (p[i].type == SL_DPAT_SUBSTR)
				random_word(buf[i], kwmin, kwmin + 4);
			else
				random_word(buf[i], 0, 6);
			p[i].value = buf[i];
		}
		p[i].len = strlen(p[i].value);
	}
}

static void
test_random_small(void **state)
{
	char buf[12][16], name[16];
	struct sl_dom_pat p[12];
	struct sl_img_builder b;
	const char *err = NULL;
	long hits = 0, total = 0;

	(void)state;
	for (int round = 0; round < 1500; round++) {
		size_t n = 1 + th_rnd(12);
		struct ref r;
		struct tab t;

		random_set(buf, p, n, 1 + (size_t)round % 8);
		th_img_begin(&b);
		t.set = sl_domset_build(&b, p, n, &err);
		assert_int_not_equal(t.set, SL_IMG_NONE);
		tab_finish(&b, &t);
		ref_init(&r, p, n);
		for (int q = 0; q < 200; q++) {
			int want;

			random_word(name, 0, 12);
			want = ref_match(&r, name);
			if (m(&t, name) != want)
				fail_msg("round %d: [%s] want %d", round, name,
				    want);
			hits += want;
			total++;
		}
		ref_free(&r);
		tab_free(&t);
	}
	/* Both outcomes were exercised often. */
	assert_true(hits > total / 10 && hits < total * 9 / 10);
}

/* ---- real data ---- */

struct lines {
	char		**v;
	size_t		 n;
	char		*data;
};

/* Non-empty lines not starting with '#'; the test fails without them. */
static void
lines_read(struct lines *l, const char *rel)
{
	char path[1024];
	size_t size, cap = 1024;
	char *p, *nl;

	snprintf(path, sizeof(path), "%s/%s", th_geodata(), rel);
	l->data = (char *)th_file_read(path, &size);
	l->v = malloc(cap * sizeof(char *));
	l->n = 0;
	for (p = l->data; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*nl != '\0')
			*nl = '\0';
		else
			nl--;
		if (*p == '\0' || *p == '#')
			continue;
		if (l->n == cap)
			l->v = realloc(l->v, (cap *= 2) * sizeof(char *));
		l->v[l->n++] = p;
	}
}

static void
lines_free(struct lines *l)
{
	free(l->v);
	free(l->data);
}

/* "regexp:" lines of domain-list-community (attributes cut off) that
 * compile here; the data is RE2 syntax. */
static size_t
dlc_regexes(struct sl_dom_pat *p, size_t max, char **keep)
{
	char path[1024], cmd[1200], line[4096], err[256];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dlc/data", th_geodata());
	snprintf(cmd, sizeof(cmd), "grep -h '^regexp:' '%s'/* | sort -u",
	    path);
	assert_non_null(f = popen(cmd, "r"));
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		char *v = line + 7, *e = v + strcspn(v, " \t\r\n#");

		*e = '\0';
		if (sl_rx_valid(v, strlen(v), err, sizeof(err)) == -1)
			continue;
		keep[n] = strdup(v);
		p[n].type = SL_DPAT_REGEX;
		p[n].value = keep[n];
		p[n].len = strlen(v);
		n++;
	}
	pclose(f);
	return n;
}

/* A piece of a random list name: 4..9 bytes, or 2..3 for some. */
static char *
random_keyword(const struct lines *l, int shortok)
{
	const char *s = l->v[th_rnd((unsigned)l->n)];
	size_t len = strlen(s), k = shortok ? 2 + th_rnd(2) : 4 + th_rnd(6);
	size_t at;

	if (len < k)
		return strdup(s);
	at = th_rnd((unsigned)(len - k + 1));
	return lower_dup(s + at, k);
}

/* Names to ask: list names as they are, below a label, above one,
 * mutated, with a keyword inside, aimed at a regex, trailing dot. */
static void
random_query(char *q, size_t cap, const struct lines *const *src,
    char *const *kw, size_t nkw)
{
	static const char *const pre[] = {
		"www.", "a.b.", "cdn-1.", "r1---sn-2x3abcde.", "ns-12.awsdns-",
		"x-mihayo.", "images.", "api.", "",
	};
	const struct lines *l = src[th_rnd(3)];
	const char *s = l->v[th_rnd((unsigned)l->n)], *dot;
	size_t len, i;

	switch (th_rnd(8)) {
	case 0:
	case 1:
		snprintf(q, cap, "%s", s);
		break;
	case 2:
	case 3:
		snprintf(q, cap, "%s%s", pre[th_rnd(9)], s);
		break;
	case 4:
		dot = strchr(s, '.');
		snprintf(q, cap, "%s", dot ? dot + 1 : s);
		break;
	case 5:
		snprintf(q, cap, "%s", s);
		len = strlen(q);
		i = th_rnd((unsigned)len);
		q[i] = "abz.-0"[th_rnd(6)];
		break;
	case 6:
		snprintf(q, cap, "%s%s.%s", pre[th_rnd(9)],
		    kw[th_rnd((unsigned)nkw)], s);
		break;
	default:
		snprintf(q, cap, "%s.", s);
	}
	for (i = 0; q[i] != '\0'; i++)
		if (q[i] >= 'A' && q[i] <= 'Z')
			q[i] += 32;
}

struct bigset {
	struct sl_dom_pat *p;
	size_t		 n;
	char		**own;		/* allocated values */
	size_t		 nown;
};

static void
bigset_add(struct bigset *s, int type, char *v)
{
	s->own[s->nown++] = v;
	s->p[s->n].type = type;
	s->p[s->n].value = v;
	s->p[s->n].len = strlen(v);
	s->n++;
}

/* china-list as domain:, a few hundred keywords, the dlc regexes and
 * suffix regexes made from list names; SHORTKW adds 2-3 byte keywords
 * (no automaton prefilter). */
static void
bigset_make(struct bigset *s, const struct lines *cn, const struct lines *px,
    int shortkw)
{
	size_t cap = cn->n + 1000;
	char buf[600];

	s->p = calloc(cap, sizeof(*s->p));
	s->own = calloc(cap, sizeof(char *));
	s->n = s->nown = 0;
	for (size_t i = 0; i < cn->n; i++) {
		s->p[s->n].type = SL_DPAT_DOMAIN;
		s->p[s->n].value = cn->v[i];
		s->p[s->n].len = strlen(cn->v[i]);
		s->n++;
	}
	for (int i = 0; i < 300; i++)
		bigset_add(s, SL_DPAT_SUBSTR, random_keyword(px,
		    shortkw && i % 50 == 0));
	for (int i = 0; i < 60; i++)
		bigset_add(s, SL_DPAT_FULL,
		    strdup(px->v[th_rnd((unsigned)px->n)]));
	for (int i = 0; i < 100; i++) {
		const char *d = px->v[th_rnd((unsigned)px->n)];
		char *o = buf;

		o += sprintf(o, i % 2 ? "^([a-z0-9-]+\\.)*" : "[0-9]");
		for (; *d != '\0'; d++)
			o += sprintf(o, *d == '.' ? "\\." : "%c", *d);
		sprintf(o, "$");
		bigset_add(s, SL_DPAT_REGEX, strdup(buf));
	}
	s->n += dlc_regexes(s->p + s->n, 400, s->own + s->nown);
	s->nown = s->n - cn->n;
}

static void
bigset_free(struct bigset *s)
{
	for (size_t i = 0; i < s->nown; i++)
		free(s->own[i]);
	free(s->own);
	free(s->p);
}

static void
big_compare(int shortkw, size_t nq)
{
	struct lines cn, px, rj;
	const struct lines *src[3] = { &cn, &px, &rj };
	struct sl_img_builder b;
	const char *err = NULL;
	struct bigset s;
	struct ref r;
	struct tab t;
	char q[700];
	size_t hits = 0;

	lines_read(&cn, "lists/china-list.txt");
	lines_read(&px, "lists/proxy-list.txt");
	lines_read(&rj, "lists/reject-list.txt");
	assert_true(cn.n > 100000);
	bigset_make(&s, &cn, &px, shortkw);
	th_img_begin(&b);
	t.set = sl_domset_build(&b, s.p, s.n, &err);
	if (t.set == SL_IMG_NONE)
		fail_msg("build: %s", err);
	tab_finish(&b, &t);
	ref_init(&r, s.p, s.n);
	for (size_t i = 0; i < nq; i++) {
		int want;

		random_query(q, sizeof(q), src, s.own, 300);
		want = ref_match(&r, q);
		if (m(&t, q) != want)
			fail_msg("[%s]: want %d", q, want);
		hits += (size_t)want;
	}
	/* Both outcomes were exercised often. */
	print_message("%zu of %zu names match\n", hits, nq);
	assert_true(hits > nq / 20 && hits < nq * 19 / 20);
	/* The size budget: 32 bytes per entry, text included. */
	assert_true(sl_domset_bytes(&t.img, t.set) < 32 * s.n);
	ref_free(&r);
	tab_free(&t);
	bigset_free(&s);
	lines_free(&cn);
	lines_free(&px);
	lines_free(&rj);
}

static void
test_real_data(void **state)
{
	(void)state;
	big_compare(0, 300000);
}

static void
test_real_data_short_keywords(void **state)
{
	(void)state;
	big_compare(1, 60000);
}

/* ---- corrupted images ---- */

static void
reseal(uint8_t *buf, size_t len)
{
	struct sl_img_hdr *h = (struct sl_img_hdr *)buf;

	h->checksum = sl_img_checksum(buf + sizeof(*h), len - sizeof(*h));
}

/* A set with every kind of table. */
static void
corrupt_base(struct tab *t)
{
	BUILD(t, "domain:example.com", "full:a.b.c", "domain:qq.com",
	    "domain:a-very-long-domain-name-over-thirty-one-bytes.org",
	    "keyword:tencent", "keyword:cdn-", "regexp:^.+-x\\.akamaized\\.net$",
	    "regexp:awsdns-[0-9]", "regexp:^[0-9]+$", "domain:baidu.com",
	    "full:z.cn");
}

static const char *const probe_names[] = {
	"example.com", "www.example.com", "a.b.c", "tencent.com", "cdn-1.x",
	"y-x.akamaized.net", "ns.awsdns-1.com", "123", "baidu.com", "z.cn",
	"a-very-long-domain-name-over-thirty-one-bytes.org", "nothing.here",
	"", ".", "a..b",
};

/* Every set of an image that passes the check can be matched. */
static void
match_all_names(const uint8_t *buf, size_t len)
{
	struct sl_img img = { buf, len, (const void *)buf };
	uint32_t n = sl_img_count(&img, SL_SECT_DOMSETS);
	const char *err = NULL;
	struct sl_rxtab *rx = sl_rxtab_new(&img, &err);

	for (uint32_t s = 0; s < n; s++)
		for (size_t i = 0; i < sizeof(probe_names) /
		    sizeof(probe_names[0]); i++)
			(void)sl_domset_match(&img, rx, s, probe_names[i],
			    strlen(probe_names[i]));
	sl_rxtab_free(rx);
}

static void
test_corrupt_random(void **state)
{
	const struct sl_img_hdr *h;
	struct tab t;
	size_t from, to, caught = 0, tries = 0;
	const char *err;
	uint8_t *copy;

	(void)state;
	corrupt_base(&t);
	h = (const struct sl_img_hdr *)t.buf;
	/* DOMSETS, BLOB and everything between them. */
	from = h->sect[SL_SECT_DOMSETS].off;
	to = h->sect[SL_SECT_BLOB].off + h->sect[SL_SECT_BLOB].count;
	copy = malloc(t.len);
	for (size_t i = from; i < to; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(copy, t.buf, t.len);
			copy[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(sl_img_check(copy, t.len, &err), -1);
			reseal(copy, t.len);
			tries++;
			if (sl_img_check(copy, t.len, &err) == -1)
				caught++;
			else
				match_all_names(copy, t.len);
		}
	}
	/* Most flips hit something checked; the rest are padding or
	 * another valid value (a transition, a flag), harmless. */
	print_message("%zu of %zu flips caught\n", caught, tries);
	assert_true(caught * 2 > tries);
	free(copy);
	tab_free(&t);
}

/* Targeted corruptions, each of which the structural check catches. */
static void
corrupt_expect(const struct tab *t, void (*f)(uint8_t *, struct sl_img *))
{
	uint8_t *copy = malloc(t->len);
	struct sl_img img = { copy, t->len, (const void *)copy };
	const char *err = NULL;

	memcpy(copy, t->buf, t->len);
	f(copy, &img);
	reseal(copy, t->len);
	assert_int_equal(sl_img_check(copy, t->len, &err), -1);
	assert_non_null(err);
	free(copy);
}

static struct sl_img_domset *
dset(uint8_t *buf, struct sl_img *img)
{
	return (struct sl_img_domset *)(buf +
	    img->hdr->sect[SL_SECT_DOMSETS].off);
}

static uint8_t *
dblob(uint8_t *buf, struct sl_img *img)
{
	return buf + img->hdr->sect[SL_SECT_BLOB].off + dset(buf, img)->blob_off;
}

static void
c_blob_off(uint8_t *buf, struct sl_img *img)
{
	dset(buf, img)->blob_off += 4;
}

static void
c_blob_len(uint8_t *buf, struct sl_img *img)
{
	dset(buf, img)->blob_len += 8;
}

static void
c_regex_range(uint8_t *buf, struct sl_img *img)
{
	dset(buf, img)->regex_count++;
}

static void
c_flags(uint8_t *buf, struct sl_img *img)
{
	dset(buf, img)->param[0] |= 1u << 30;
}

static uint8_t *
dtable(uint8_t *buf, struct sl_img *img)
{
	return dblob(buf, img) + dset(buf, img)->param[DS_P_TABLE];
}

/* The first bucket with an entry. */
static uint8_t *
dbucket(uint8_t *buf, struct sl_img *img)
{
	uint8_t *bk = dtable(buf, img);

	while ((bk[0] & DS_BK_COUNT) == 0)
		bk += DS_BK;
	return bk;
}

static void
c_count(uint8_t *buf, struct sl_img *img)
{
	dbucket(buf, img)[0] |= DS_BK_COUNT;	/* entries past the line */
}

static void
c_last_more(uint8_t *buf, struct sl_img *img)
{
	struct sl_img_domset *d = dset(buf, img);

	/* A probe would walk past the last bucket. */
	dtable(buf, img)[DS_BK * (d->param[DS_P_NBUCKETS] - 1)] |= DS_BK_MORE;
}

static void
c_tag(uint8_t *buf, struct sl_img *img)
{
	dbucket(buf, img)[1] ^= 0x10;
}

static void
c_key_byte(uint8_t *buf, struct sl_img *img)
{
	uint8_t *bk = dbucket(buf, img);

	/* the first byte after the entry header of the first entry */
	bk[1 + (bk[0] & DS_BK_COUNT) + 1] ^= 0x01;
}

/* The long key's offset, past the long keys. */
static void
c_ext(uint8_t *buf, struct sl_img *img)
{
	struct sl_img_domset *d = dset(buf, img);
	uint8_t *bk = dtable(buf, img);

	for (uint32_t b = 0; b < d->param[DS_P_NBUCKETS]; b++, bk += DS_BK) {
		size_t at = 1 + (bk[0] & DS_BK_COUNT);

		for (unsigned i = 0; i < (bk[0] & DS_BK_COUNT); i++) {
			unsigned l = bk[at] >> 3;

			if (l == DS_EXT) {
				bk[at + 3] = 0x7f;
				return;
			}
			at += 1 + l + (bk[at] & DS_REGEX ? 4 : 0);
		}
	}
	fail_msg("no long key");
}

static void
c_bloom(uint8_t *buf, struct sl_img *img)
{
	struct sl_img_domset *d = dset(buf, img);

	memset(dtable(buf, img) + DS_BK * d->param[DS_P_NBUCKETS], 0,
	    ((size_t)1 << DS_BLOOM_BITS(d->param[DS_P_FLAGS])) / 8);
}

static struct ds_achdr *
dac(uint8_t *buf, struct sl_img *img)
{
	return (struct ds_achdr *)(dblob(buf, img) +
	    dset(buf, img)->param[DS_P_AC]);
}

static uint8_t *
dcls(uint8_t *buf, struct sl_img *img)
{
	return (uint8_t *)(dac(buf, img) + 1) + ((dset(buf, img)->param[0] &
	    DS_AC_FILTER) ? DS_FILTER_LEN : 0);
}

static void
c_transition(uint8_t *buf, struct sl_img *img)
{
	struct ds_achdr *h = dac(buf, img);
	uint32_t *tr = (uint32_t *)(dcls(buf, img) + 256);

	tr[0] = h->rows * h->ncl;	/* one row past the end */
}

static void
c_class(uint8_t *buf, struct sl_img *img)
{
	dcls(buf, img)['e'] = (uint8_t)dac(buf, img)->ncl;
}

static void
c_rows(uint8_t *buf, struct sl_img *img)
{
	dac(buf, img)->rows += 1000;
}

static uint32_t *
dwords(uint8_t *buf, struct sl_img *img)
{
	return (uint32_t *)(dblob(buf, img) + dset(buf, img)->param[DS_P_LISTS]);
}

static void
c_list(uint8_t *buf, struct sl_img *img)
{
	uint32_t *w = dwords(buf, img);

	w[w[0]] = 1000;		/* the "always" list's count */
}

static void
c_list_index(uint8_t *buf, struct sl_img *img)
{
	uint32_t *w = dwords(buf, img);

	w[w[0] + 1] = dset(buf, img)->regex_count; /* first of "always" */
}

static void
test_corrupt_targeted(void **state)
{
	void (*const c[])(uint8_t *, struct sl_img *) = {
		c_blob_off, c_blob_len, c_regex_range, c_flags, c_count,
		c_last_more, c_tag, c_key_byte, c_ext, c_bloom, c_transition,
		c_class, c_rows, c_list, c_list_index,
	};
	struct tab t;

	(void)state;
	corrupt_base(&t);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		corrupt_expect(&t, c[i]);
	tab_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_full_and_domain),
		cmocka_unit_test(test_keyword),
		cmocka_unit_test(test_keyword_filter),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_literals),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_empty_patterns),
		cmocka_unit_test(test_single_label_and_dots),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_several_sets),
		cmocka_unit_test(test_random_small),
		cmocka_unit_test(test_real_data),
		cmocka_unit_test(test_real_data_short_keywords),
		cmocka_unit_test(test_corrupt_random),
		cmocka_unit_test(test_corrupt_targeted),
	};

	th_rnd_seed(0x2545f4914f6cdd1dULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
