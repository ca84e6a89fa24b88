/* regex: REGEXES entries stored, validated, compiled (PCRE2) and matched. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/regex.h"

#define RX_OPTS		(PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF | \
			 PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C)
/* Names are at most a few hundred bytes: a pattern that needs more than
 * this many backtracking steps on one is pathological. */
#define RX_MATCH_LIMIT	200000
#define RX_DEPTH_LIMIT	10000

struct sl_rxtab {
	uint32_t		 n;
	pcre2_code		**code;	/* per REGEXES entry, shared by equals */
	uint8_t			*own;	/* 1 where code[i] is freed */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
};

static pcre2_code *
rx_compile(const char *p, size_t len, int *ecode, PCRE2_SIZE *eoff)
{
	/* An empty pattern may come with a NULL pointer. */
	return pcre2_compile((PCRE2_SPTR)(len ? p : ""), len, RX_OPTS, ecode,
	    eoff, NULL);
}

int
sl_rx_valid(const char *pattern, size_t len, char *err, size_t errlen)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE eoff;
	pcre2_code *c;
	uint32_t refs = 0;
	int ecode;

	if ((c = rx_compile(pattern, len, &ecode, &eoff)) == NULL) {
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)eoff);
		return -1;
	}
	pcre2_pattern_info(c, PCRE2_INFO_BACKREFMAX, &refs);
	pcre2_code_free(c);
	if (refs > 0) {
		/* RE2 (so Xray) refuses them; accepting would change
		 * what a config means. */
		snprintf(err, errlen, "backreferences are not supported");
		return -1;
	}
	return 0;
}

uint32_t
sl_rx_add(struct sl_img_builder *b, const char *pattern, size_t len)
{
	struct sl_img_regex r;

	r.pattern = sl_imgb_str(b, pattern, len);
	return sl_imgb_add(b, SL_SECT_REGEXES, &r, sizeof(r));
}

/* ---- per-process table ---- */

struct rx_ref {
	struct sl_str	 s;
	uint32_t	 i;
};

static int
ref_cmp(const void *a, const void *b)
{
	const struct rx_ref *x = a, *y = b;

	if (x->s.off != y->s.off)
		return x->s.off < y->s.off ? -1 : 1;
	if (x->s.len != y->s.len)
		return x->s.len < y->s.len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Compile entry r[0].i and share it with the equal strings after it;
 * returns how many entries it covered, 0 on error. */
static size_t
rxtab_fill(struct sl_rxtab *t, const struct sl_img *img,
    const struct rx_ref *r, size_t left)
{
	PCRE2_SIZE eoff;
	pcre2_code *c;
	size_t k;
	int ecode;

	c = rx_compile(sl_img_str(img, r[0].s), r[0].s.len, &ecode, &eoff);
	if (c == NULL)
		return 0;
	/* Without JIT support pcre2_match interprets: slower, same result. */
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	t->code[r[0].i] = c;
	t->own[r[0].i] = 1;
	for (k = 1; k < left && r[k].s.off == r[0].s.off &&
	    r[k].s.len == r[0].s.len; k++)
		t->code[r[k].i] = c;
	return k;
}

static int
rxtab_compile(struct sl_rxtab *t, const struct sl_img *img, const char **err)
{
	const struct sl_img_regex *re = sl_img_sect(img, SL_SECT_REGEXES);
	struct rx_ref *refs;
	size_t i, k;

	if ((refs = calloc(t->n ? t->n : 1, sizeof(*refs))) == NULL) {
		*err = "regex table: out of memory";
		return -1;
	}
	for (i = 0; i < t->n; i++) {
		refs[i].s = re[i].pattern;
		refs[i].i = (uint32_t)i;
	}
	/* geosite lists repeat across rules; strings are stored once, so
	 * equal offsets are equal patterns. */
	qsort(refs, t->n, sizeof(*refs), ref_cmp);
	for (i = 0; i < t->n; i += k)
		if ((k = rxtab_fill(t, img, refs + i, t->n - i)) == 0) {
			free(refs);
			*err = "regex table: a pattern does not compile";
			return -1;
		}
	free(refs);
	return 0;
}

struct sl_rxtab *
sl_rxtab_new(const struct sl_img *img, const char **err)
{
	struct sl_rxtab *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*err = "regex table: out of memory";
		return NULL;
	}
	t->n = sl_img_count(img, SL_SECT_REGEXES);
	t->code = calloc(t->n ? t->n : 1, sizeof(*t->code));
	t->own = calloc(t->n ? t->n : 1, 1);
	t->md = pcre2_match_data_create(1, NULL);
	t->mctx = pcre2_match_context_create(NULL);
	if (t->code == NULL || t->own == NULL || t->md == NULL ||
	    t->mctx == NULL) {
		sl_rxtab_free(t);
		*err = "regex table: out of memory";
		return NULL;
	}
	pcre2_set_match_limit(t->mctx, RX_MATCH_LIMIT);
	pcre2_set_depth_limit(t->mctx, RX_DEPTH_LIMIT);
	if (rxtab_compile(t, img, err) == -1) {
		sl_rxtab_free(t);
		return NULL;
	}
	return t;
}

void
sl_rxtab_free(struct sl_rxtab *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; t->code != NULL && i < t->n; i++)
		if (t->own[i])
			pcre2_code_free(t->code[i]);
	free(t->code);
	free(t->own);
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mctx);
	free(t);
}

int
sl_rx_match(const struct sl_rxtab *t, uint32_t idx, const char *s, size_t len)
{
	/* Errors (match limit) are "no match", see the header. */
	return pcre2_match(t->code[idx], (PCRE2_SPTR)(len ? s : ""), len, 0, 0,
	    t->md, t->mctx) >= 0;
}

int
sl_rx_find(const struct sl_rxtab *t, uint32_t idx, const char *s, size_t len,
    size_t *start, size_t *end)
{
	const PCRE2_SIZE *ov;

	if (!sl_rx_match(t, idx, s, len))
		return 0;
	ov = pcre2_get_ovector_pointer(t->md);
	*start = ov[0];
	*end = ov[1];
	return 1;
}

/* ---- literal analysis ---- */

/*
 * A left-to-right scan of the top level of a pattern.  A run is a sequence
 * of literal bytes with nothing between them; every complete run is a
 * substring of any match.  Groups and classes are skipped whole (they only
 * end a run); a quantifier that allows zero takes its byte off the run.
 */
struct needs {
	const char	*p, *end;
	char		*run;
	size_t		 run_len;
	int		 last_lit;	/* the last atom is run[run_len - 1] */
	char		*need;
	size_t		 need_len;
};

static void
run_end(struct needs *n)
{
	if (n->run_len > n->need_len) {
		memcpy(n->need, n->run, n->run_len);
		n->need_len = n->run_len;
	}
	n->run_len = 0;
	n->last_lit = 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* *p at '['; skip the class.  -1 if it is not one we can skip safely. */
static int
skip_class(const char **pp, const char *end)
{
	const char *p = *pp + 1;

	if (p < end && *p == '^')
		p++;
	if (p < end && *p == ']')
		p++;
	while (p < end && *p != ']') {
		if (*p == '[')		/* POSIX [:name:] and friends */
			return -1;
		if (*p == '\\') {
			if (p + 1 >= end || p[1] == 'Q' || p[1] == 'E')
				return -1;
			p++;
		}
		p++;
	}
	if (p >= end)
		return -1;
	*pp = p + 1;
	return 0;
}

/* *p at '('; skip the group.  Only plain and "(?:" groups: verbs such as
 * (*ACCEPT) and inline options change what the rest of the pattern
 * means. */
static int
skip_group(const char **pp, const char *end)
{
	const char *p = *pp;
	int depth = 0;

	while (p < end) {
		switch (*p) {
		case '(':
			if (p + 1 < end && (p[1] == '*' || (p[1] == '?' &&
			    (p + 2 >= end || p[2] != ':'))))
				return -1;
			depth++;
			break;
		case ')':
			if (--depth == 0) {
				*pp = p + 1;
				return 0;
			}
			break;
		case '[':
			if (skip_class(&p, end) == -1)
				return -1;
			continue;
		case '\\':
			if (p + 1 >= end || p[1] == 'Q' || p[1] == 'E')
				return -1;
			p++;
			break;
		}
		p++;
	}
	return -1;
}

/* *p at '{'.  The minimum count, or -1 if it is not a plain
 * {m}, {m,}, {m,n} or {,n}. */
static long
brace_min(const char **pp, const char *end)
{
	const char *p = *pp + 1;
	long m = 0;
	int digits = 0, comma = 0;

	for (; p < end && *p != '}'; p++) {
		if (is_digit(*p)) {
			if (!comma && m < 100000)
				m = m * 10 + (*p - '0');
			digits = 1;
		} else if (*p == ',' && !comma)
			comma = 1;
		else
			return -1;
	}
	if (p >= end || !digits)
		return -1;
	*pp = p + 1;
	return m;
}

static int
quantifier(struct needs *n)
{
	long min;

	if (*n->p == '{') {
		if ((min = brace_min(&n->p, n->end)) < 0)
			return -1;
	} else
		min = *n->p++ == '+';
	if (n->p < n->end && (*n->p == '?' || *n->p == '+'))
		n->p++;		/* lazy or possessive: same set of matches */
	if (n->last_lit && min == 0)
		n->run_len--;
	run_end(n);
	return 0;
}

/* The escape at *p (after '\').  Returns the literal byte, -2 for a
 * non-literal atom, -1 for syntax not modelled. */
static int
escape(struct needs *n)
{
	char c;

	if (n->p >= n->end)
		return -1;
	c = *n->p++;
	if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !is_digit(c))
		return (unsigned char)c;
	if (strchr("dDwWsShHvVbBAzZG", c) != NULL)
		return -2;
	if (c == 'N' && (n->p >= n->end || *n->p != '{'))
		return -2;
	return -1;
}

/* One atom at top level.  0, or -1 to give up. */
static int
atom(struct needs *n, char *tail, size_t *tail_len)
{
	char c = *n->p;
	int lit;

	switch (c) {
	case '|': case ')':
		return -1;
	case '*': case '+': case '?': case '{':
		return quantifier(n);
	case '[':
		run_end(n);
		return skip_class(&n->p, n->end);
	case '(':
		run_end(n);
		return skip_group(&n->p, n->end);
	case '$':
		if (++n->p == n->end) {
			memcpy(tail, n->run, n->run_len);
			*tail_len = n->run_len;
		}
		run_end(n);
		return 0;
	case '.': case '^':
		n->p++;
		run_end(n);
		return 0;
	case '\\':
		n->p++;
		if ((lit = escape(n)) == -1)
			return -1;
		if (lit == -2) {
			run_end(n);
			return 0;
		}
		break;
	default:
		lit = (unsigned char)c;
		n->p++;
	}
	n->run[n->run_len++] = (char)lit;
	n->last_lit = 1;
	return 0;
}

void
sl_rx_needs(const char *pattern, size_t len, char *need, size_t *need_len,
    char *tail, size_t *tail_len)
{
	char *run = malloc(len ? len : 1);
	struct needs n = { pattern, pattern + len, run, 0, 0, need, 0 };

	*need_len = 0;
	*tail_len = 0;
	if (run == NULL)
		return;
	while (n.p < n.end)
		if (atom(&n, tail, tail_len) == -1) {
			*tail_len = 0;
			free(run);
			return;
		}
	run_end(&n);
	*need_len = n.need_len;
	free(run);
}
