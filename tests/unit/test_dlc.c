/*
 * Unit tests: master/dlc.c, the domain-list-community builder.
 *
 * Run from the repository root (fixtures in tests/data/dlc/, expected
 * outputs derived by hand from spec xray-routing.md 9.2) and with the real
 * data in $SLUICE_GEODATA (default ../shared/geodata): the build of the
 * real dlc/data is compared, list by list, with a reference resolver
 * written here from the rules, and read back through master/geodat.c.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "master/arena.h"
#include "master/dlc.h"
#include "master/geodat.h"
#include "master/geodat.pb-c.h"
#include "tests/unit/helpers.h"

#define DATA	"tests/data/dlc/"

static Sluice__GeoSiteList *
build_ok(const char *dir, size_t *ncodes)
{
	char err[1024] = "";
	Sluice__GeoSiteList *gl;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (sl_dlc_build(dir, &buf, &len, ncodes, err, sizeof(err)) != 0)
		fail_msg("%s: %s", dir, err);
	gl = sluice__geo_site_list__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(gl);
	return gl;
}

/* The error of a build that must fail. */
static void
build_err(const char *dir, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	err[0] = '\0';
	assert_int_equal(sl_dlc_build(dir, &buf, &len, NULL, err, errlen), -1);
	assert_null(buf);
	assert_true(err[0] != '\0');
}

static const char *const type_word[] = { "keyword", "regexp", "domain",
	"full" };

/* "type:value[:@a,@b]" of a built entry, attributes in stored order. */
static void
plain_of(const Sluice__Domain *d, char *out, size_t outlen)
{
	size_t i, used;

	assert_true(d->type >= 0 && d->type <= 3);
	snprintf(out, outlen, "%s:%s", type_word[d->type], d->value);
	for (i = 0; i < d->n_attribute; i++) {
		/* dlc writes every attribute as a true boolean */
		assert_int_equal(d->attribute[i]->typed_value_case,
		    SLUICE__DOMAIN__ATTRIBUTE__TYPED_VALUE_BOOL_VALUE);
		assert_true(d->attribute[i]->bool_value);
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s@%s", i ? "," : ":",
		    d->attribute[i]->key);
	}
}

/* CODE holds exactly WANT (NULL-terminated), in this order. */
static void
expect_list(const Sluice__GeoSiteList *gl, const char *code,
    const char *const *want)
{
	const Sluice__GeoSite *gs = th_geosite_find(gl, code);
	char plain[512];
	size_t i;

	for (i = 0; want[i] != NULL && i < gs->n_domain; i++) {
		plain_of(gs->domain[i], plain, sizeof(plain));
		if (strcmp(plain, want[i]) != 0)
			fail_msg("%s[%zu]: got \"%s\", want \"%s\"", code, i,
			    plain, want[i]);
	}
	if (want[i] != NULL || i != gs->n_domain)
		fail_msg("%s: %zu entries, want more or fewer (at %zu)", code,
		    gs->n_domain, i);
}

/* ------------------------------------------------------------ fixtures */

static const char *const want_base[] = {
	"domain:ads.example.org:@ads",
	"domain:example.com",
	"domain:example.net:@cn",
	"domain:mail.example.org:@ads,@cn",
	"domain:z.ads.example.org:@cn",
	"full:example.org",
	"keyword:track",
	"regexp:^Ad[0-9]+\\.Example\\.net$",
	NULL
};

static void
test_basic(void **state)
{
	static const char *const codes[] = { "AFF-SRC", "AFF-TARGET", "BASE",
		"DEDUP", "INC-ADS", "INC-BOTH", "INC-NOCN", "NEST", "OTHER" };
	static const char *const inc_ads[] = {
		"domain:ads.example.org:@ads",
		"domain:mail.example.org:@ads,@cn", NULL
	};
	/* www.example.net comes from the unpolished base: its parent
	 * example.net carries @cn and is filtered out here. */
	static const char *const inc_nocn[] = {
		"domain:ads.example.org:@ads", "domain:example.com",
		"domain:www.example.net", "full:example.org", "keyword:track",
		"regexp:^Ad[0-9]+\\.Example\\.net$", NULL
	};
	static const char *const inc_both[] = {
		"domain:ads.example.org:@ads", NULL
	};
	static const char *const aff_src[] = {
		"domain:affiliated.test", "domain:tagged.test:@ads",
		"full:only-here.test", NULL
	};
	static const char *const aff_target[] = {
		"domain:affiliated.test", "domain:tagged.test:@ads", NULL
	};
	static const char *const other[] = { "domain:affiliated.test", NULL };
	Sluice__GeoSiteList *gl;
	size_t i, n = 0;

	(void)state;
	gl = build_ok(DATA "basic", &n);
	/* EMPTY and EMPTY-INC have no entries: left out; codes sorted. */
	assert_int_equal(n, sizeof(codes) / sizeof(codes[0]));
	assert_int_equal(gl->n_entry, n);
	for (i = 0; i < n; i++)
		assert_string_equal(gl->entry[i]->code, codes[i]);
	expect_list(gl, "BASE", want_base);
	expect_list(gl, "DEDUP", want_base);
	expect_list(gl, "INC-ADS", inc_ads);
	expect_list(gl, "NEST", inc_ads);
	expect_list(gl, "INC-NOCN", inc_nocn);
	expect_list(gl, "INC-BOTH", inc_both);
	expect_list(gl, "AFF-SRC", aff_src);
	expect_list(gl, "AFF-TARGET", aff_target);
	expect_list(gl, "OTHER", other);
	/* Domain.type is the wire numbering: keyword 0 is left implicit. */
	assert_int_equal(th_geosite_find(gl, "BASE")->domain[6]->type,
	    SLUICE__DOMAIN__TYPE__Substr);
	assert_int_equal(th_geosite_find(gl, "BASE")->domain[7]->type,
	    SLUICE__DOMAIN__TYPE__Regex);
	sluice__geo_site_list__free_unpacked(gl, NULL);
}

static void
test_circular(void **state)
{
	char err[1024];

	(void)state;
	build_err(DATA "circular", err, sizeof(err));
	assert_non_null(strstr(err, DATA "circular/"));
	/* whichever list the walk starts from, the whole cycle is named */
	if (strstr(err, "circular include: A -> B -> C -> A") == NULL &&
	    strstr(err, "circular include: B -> C -> A -> B") == NULL &&
	    strstr(err, "circular include: C -> A -> B -> C") == NULL)
		fail_msg("%s", err);
	build_err(DATA "self", err, sizeof(err));
	assert_string_equal(err, DATA "self/self:1: circular include: "
	    "SELF -> SELF");
}

static void
test_bad_files(void **state)
{
	char err[1024];

	(void)state;
	build_err(DATA "badline", err, sizeof(err));
	assert_string_equal(err, DATA "badline/bad:3: invalid domain "
	    "\"exa_mple.com\"");
	build_err(DATA "missing", err, sizeof(err));
	assert_string_equal(err, DATA "missing/list:2: included list "
	    "\"NOTHERE\" not found");
	build_err(DATA "no-such-dir", err, sizeof(err));
	assert_non_null(strstr(err, "no-such-dir"));
}

/* A one-file tree in a temporary directory. */
static void
one_line_tree(char *dir, const char *name, const char *line)
{
	char path[512];
	FILE *fp;

	strcpy(dir, "/tmp/sluice-dlc-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "%s\n", line);
	fclose(fp);
}

static void
test_bad_lines(void **state)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "foo:example.com", "unknown rule type \"foo\"" },
		{ "domain:-bad.com", "invalid domain \"-bad.com\"" },
		{ "domain:bad-.com", "invalid domain \"bad-.com\"" },
		{ "domain:a..b", "invalid domain \"a..b\"" },
		{ "domain:.a.b", "invalid domain \".a.b\"" },
		{ "full:a.b.", "invalid domain \"a.b.\"" },
		{ "full:", "empty full rule" },
		{ "keyword:exa_mple", "invalid keyword \"exa_mple\"" },
		{ "keyword:a b", "unknown field \"b\"" },
		{ "regexp:a(b", "invalid regexp \"a(b\"" },
		{ "example.com @Bad_attr", "invalid attribute \"bad_attr\"" },
		{ "example.com @", "invalid attribute \"\"" },
		{ "example.com &bad_list", "invalid affiliation \"BAD_LIST\"" },
		{ "include:x &y", "affiliation is not allowed in an include" },
		{ "include:x @-", "invalid attribute \"\"" },
		{ "include:x y", "unknown field \"y\"" },
		{ "include:bad_name", "invalid included list name \"BAD_NAME\"" },
		{ "include:", "empty include" },
	};
	char dir[64], err[1024], want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		one_line_tree(dir, "l", cases[i].line);
		build_err(dir, err, sizeof(err));
		snprintf(want, sizeof(want), "%s/l:1: %s", dir, cases[i].msg);
		/* the message may go on (the regexp compiler's reason) */
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].line, err, want);
		th_tree_remove(dir);
	}
	one_line_tree(dir, "bad_name", "example.com");
	build_err(dir, err, sizeof(err));
	assert_non_null(strstr(err, "invalid list name \"BAD_NAME\""));
	th_tree_remove(dir);
}

/* Lengths at the limits: 63-byte labels and 253-byte names pass. */
static void
test_limits(void **state)
{
	char dir[64], line[400], err[1024], label[64];
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(label, 'a', 63);
	label[63] = '\0';
	/* 4 labels of 63 + 1 of 1 + 4 dots = 257: too long; 3 + 61 fits */
	snprintf(line, sizeof(line), "%s.%s.%s.%.61s", label, label, label,
	    label);
	assert_int_equal(strlen(line), 253);
	one_line_tree(dir, "l", line);
	if (sl_dlc_build(dir, &buf, &len, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(buf);
	th_tree_remove(dir);
	snprintf(line, sizeof(line), "%s.%s.%s.%.62s", label, label, label,
	    label);
	one_line_tree(dir, "l", line);
	build_err(dir, err, sizeof(err));
	assert_non_null(strstr(err, "invalid domain"));
	th_tree_remove(dir);
	snprintf(line, sizeof(line), "full:%sa.com", label);
	one_line_tree(dir, "l", line);
	build_err(dir, err, sizeof(err));
	assert_non_null(strstr(err, "invalid domain"));
	th_tree_remove(dir);
}

/* ------------------------------------------------------------ reference */

/*
 * A reference resolver for the real data, written from the rules rather
 * than from master/dlc.c: entries are (type, value, attribute string)
 * triples, includes are resolved recursively, redundancy is decided by
 * looking for a covering domain entry among the list's entries.
 */
struct rent {
	int		 type;		/* wire numbering */
	const char	*value;
	const char	*attrs;		/* ",a,b," sorted, "," for none */
	const char	*plain;
};

struct rinc {
	const char	*src;
	const char	*must[8], *ban[8];
	int		 nmust, nban;
};

struct rlist {
	const char	*name;
	struct rent	*ents;
	size_t		 nents, capents;
	struct rinc	*incs;
	size_t		 nincs, capincs;
	int		 done;
	struct rent	*rough;
	size_t		 nrough;
};

struct ref {
	struct sl_arena	 a;
	struct rlist	*lists;
	size_t		 n, cap;
};

static struct rlist *
ref_list(struct ref *r, const char *name, int create)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->lists[i].name, name) == 0)
			return &r->lists[i];
	if (!create)
		return NULL;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 2048;
		r->lists = realloc(r->lists, r->cap * sizeof(*r->lists));
		assert_non_null(r->lists);
	}
	memset(&r->lists[r->n], 0, sizeof(r->lists[r->n]));
	r->lists[r->n].name = sl_arena_strdup(&r->a, name);
	return &r->lists[r->n++];
}

static void
ref_push(struct ref *r, struct rent **v, size_t *n, size_t *cap,
    const struct rent *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		*v = sl_arena_grow(&r->a, *v, *cap * sizeof(**v),
		    ncap * sizeof(**v));
		*cap = ncap;
	}
	(*v)[(*n)++] = *e;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
ref_entry(struct ref *r, struct rlist *l, int type, char *value, char **tok,
    int ntok)
{
	char *attrs[32], buf[512], plain[1024];
	const char *word = type_word[type];
	int i, na = 0, emitted = 0;
	struct rent e;
	size_t k;

	if (type != 1)
		for (k = 0; value[k]; k++)
			if (value[k] >= 'A' && value[k] <= 'Z')
				value[k] += 'a' - 'A';
	for (i = 0; i < ntok; i++)
		if (tok[i][0] == '@') {
			for (k = 1; tok[i][k]; k++)
				if (tok[i][k] >= 'A' && tok[i][k] <= 'Z')
					tok[i][k] += 'a' - 'A';
			attrs[na++] = tok[i] + 1;
		}
	qsort(attrs, (size_t)na, sizeof(*attrs), cmp_str);
	strcpy(buf, ",");
	snprintf(plain, sizeof(plain), "%s:%s", word, value);
	for (i = 0; i < na; i++) {
		if (i > 0 && strcmp(attrs[i], attrs[i - 1]) == 0)
			continue;
		strcat(buf, attrs[i]);
		strcat(buf, ",");
		strcat(plain, emitted++ ? ",@" : ":@");
		strcat(plain, attrs[i]);
	}
	e.type = type;
	e.value = sl_arena_strdup(&r->a, value);
	e.attrs = sl_arena_strdup(&r->a, buf);
	e.plain = sl_arena_strdup(&r->a, plain);
	ref_push(r, &l->ents, &l->nents, &l->capents, &e);
	for (i = 0; i < ntok; i++)
		if (tok[i][0] == '&') {
			for (k = 1; tok[i][k]; k++)
				if (tok[i][k] >= 'a' && tok[i][k] <= 'z')
					tok[i][k] -= 'a' - 'A';
			ref_push(r, &ref_list(r, tok[i] + 1, 1)->ents,
			    &ref_list(r, tok[i] + 1, 1)->nents,
			    &ref_list(r, tok[i] + 1, 1)->capents, &e);
		}
}

static void
ref_include(struct ref *r, struct rlist *l, char *src, char **tok, int ntok)
{
	struct rinc inc;
	size_t k;
	int i;

	memset(&inc, 0, sizeof(inc));
	for (k = 0; src[k]; k++)
		if (src[k] >= 'a' && src[k] <= 'z')
			src[k] -= 'a' - 'A';
	inc.src = sl_arena_strdup(&r->a, src);
	for (i = 0; i < ntok; i++) {
		for (k = 1; tok[i][k]; k++)
			if (tok[i][k] >= 'A' && tok[i][k] <= 'Z')
				tok[i][k] += 'a' - 'A';
		if (tok[i][1] == '-')
			inc.ban[inc.nban++] = sl_arena_strdup(&r->a, tok[i] + 2);
		else
			inc.must[inc.nmust++] = sl_arena_strdup(&r->a,
			    tok[i] + 1);
	}
	if (l->nincs == l->capincs) {
		size_t ncap = l->capincs ? l->capincs * 2 : 8;

		l->incs = sl_arena_grow(&r->a, l->incs,
		    l->capincs * sizeof(*l->incs), ncap * sizeof(*l->incs));
		l->capincs = ncap;
	}
	l->incs[l->nincs++] = inc;
}

static void
ref_load(struct ref *r, const char *path, const char *name)
{
	static const char *const words[] = { "keyword", "regexp", "domain",
		"full" };
	char line[2048], *tok[64], *save, *colon, *t;
	struct rlist *l = ref_list(r, name, 1);
	int ntok, type;
	FILE *fp;

	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((t = strchr(line, '#')) != NULL)
			*t = '\0';
		ntok = 0;
		for (t = strtok_r(line, " \t\r\n", &save); t != NULL;
		    t = strtok_r(NULL, " \t\r\n", &save))
			tok[ntok++] = t;
		if (ntok == 0)
			continue;
		type = 2;
		if ((colon = strchr(tok[0], ':')) != NULL) {
			*colon = '\0';
			for (t = tok[0]; *t; t++)
				if (*t >= 'A' && *t <= 'Z')
					*t += 'a' - 'A';
			if (strcmp(tok[0], "include") == 0) {
				ref_include(r, l, colon + 1, tok + 1, ntok - 1);
				continue;
			}
			for (type = 0; type < 4; type++)
				if (strcmp(tok[0], words[type]) == 0)
					break;
			assert_true(type < 4);
			tok[0] = colon + 1;
		}
		ref_entry(r, l, type, tok[0], tok + 1, ntok - 1);
	}
	fclose(fp);
}

static int
has_attr(const struct rent *e, const char *a)
{
	char pat[80];

	snprintf(pat, sizeof(pat), ",%s,", a);
	return strstr(e->attrs, pat) != NULL;
}

static int
rent_plain_order(const void *a, const void *b)
{
	return strcmp(((const struct rent *)a)->plain,
	    ((const struct rent *)b)->plain);
}

static void
ref_resolve(struct ref *r, struct rlist *l)
{
	struct rent *v = NULL;
	size_t n = 0, cap = 0, i, k;
	struct rlist *src;
	int j, ok;

	if (l->done)
		return;
	for (i = 0; i < l->nents; i++)
		ref_push(r, &v, &n, &cap, &l->ents[i]);
	for (i = 0; i < l->nincs; i++) {
		const struct rinc *inc = &l->incs[i];

		assert_non_null(src = ref_list(r, inc->src, 0));
		ref_resolve(r, src);
		for (k = 0; k < src->nrough; k++) {
			const struct rent *e = &src->rough[k];

			if (strcmp(e->attrs, ",") == 0)
				ok = inc->nmust == 0;
			else {
				ok = 1;
				for (j = 0; j < inc->nmust; j++)
					ok &= has_attr(e, inc->must[j]);
				for (j = 0; j < inc->nban; j++)
					ok &= !has_attr(e, inc->ban[j]);
			}
			if (ok)
				ref_push(r, &v, &n, &cap, e);
		}
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), rent_plain_order);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(v[i].plain, v[k - 1].plain) != 0)
			v[k++] = v[i];
	l->rough = v;
	l->nrough = k;
	l->done = 1;
}

static int
rent_value_order(const void *a, const void *b)
{
	return strcmp((*(const struct rent *const *)a)->value,
	    (*(const struct rent *const *)b)->value);
}

/* Is there a domain entry VALUE that may cover E? */
static int
covered_by(const struct rent *e, struct rent **doms, size_t n,
    const char *value)
{
	struct rent key = { 0, value, NULL, NULL }, *kp = &key, **hit;
	size_t i;

	hit = bsearch(&kp, doms, n, sizeof(*doms), rent_value_order);
	if (hit == NULL)
		return 0;
	while (hit > doms && strcmp(hit[-1]->value, value) == 0)
		hit--;
	for (i = (size_t)(hit - doms); i < n && strcmp(doms[i]->value,
	    value) == 0; i++)
		if (strcmp(e->attrs, ",") == 0 ||
		    strcmp(e->attrs, doms[i]->attrs) == 0)
			return 1;
	return 0;
}

/* The polished list: the plains of the kept entries, in order. */
static size_t
ref_final(struct ref *r, struct rlist *l, struct rent **out)
{
	struct rent **doms, *v;
	size_t i, nd = 0, n = 0;
	const char *p;
	int gone;

	ref_resolve(r, l);
	doms = sl_arena_alloc(&r->a, (l->nrough + 1) * sizeof(*doms));
	v = sl_arena_alloc(&r->a, (l->nrough + 1) * sizeof(*v));
	for (i = 0; i < l->nrough; i++)
		if (l->rough[i].type == 2)
			doms[nd++] = &l->rough[i];
	qsort(doms, nd, sizeof(*doms), rent_value_order);
	for (i = 0; i < l->nrough; i++) {
		const struct rent *e = &l->rough[i];

		gone = 0;
		if (e->type >= 2) {
			p = e->value;
			if (e->type == 3)
				gone = covered_by(e, doms, nd, p);
			while (!gone && (p = strchr(p, '.')) != NULL)
				gone = covered_by(e, doms, nd, ++p);
		}
		if (!gone)
			v[n++] = *e;
	}
	*out = v;
	return n;
}

static void
ref_load_dir(struct ref *r, const char *dir)
{
	char path[1024], name[256];
	struct dirent *de;
	size_t k;
	DIR *dp;

	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(name, sizeof(name), "%s", de->d_name);
		for (k = 0; name[k]; k++)
			if (name[k] >= 'a' && name[k] <= 'z')
				name[k] -= 'a' - 'A';
		ref_load(r, path, name);
	}
	closedir(dp);
}

/* ------------------------------------------------------------ real data */

/* Every list of the real data, built and read back, equals the reference. */
static void
test_real_data(void **state)
{
	char dir[512], tmp[] = "/tmp/sluice-dlc-XXXXXX", path[600];
	char err[1024], plain[1024];
	const char *ads[] = { "ads" };
	const struct sl_geo_dom *dom;
	const Sluice__GeoSite *gs;
	Sluice__GeoSiteList *gl;
	struct sl_geodb *db;
	struct rent *fin;
	struct ref r;
	uint8_t *buf;
	size_t len, ncodes, i, k, nfin, nonempty = 0, total = 0, nads;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dlc/data", th_geodata());
	if (sl_dlc_build(dir, &buf, &len, &ncodes, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/built.dat", tmp);
	th_file_write(path, buf, len);
	gl = sluice__geo_site_list__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(gl);

	memset(&r, 0, sizeof(r));
	sl_arena_init(&r.a);
	ref_load_dir(&r, dir);
	assert_true(r.n >= 1500);
	for (i = 0; i < r.n; i++) {
		nfin = ref_final(&r, &r.lists[i], &fin);
		if (nfin == 0)
			continue;
		nonempty++;
		total += nfin;
		gs = th_geosite_find(gl, r.lists[i].name);
		if (gs->n_domain != nfin)
			fail_msg("%s: %zu entries, reference %zu",
			    r.lists[i].name, gs->n_domain, nfin);
		for (k = 0; k < nfin; k++) {
			plain_of(gs->domain[k], plain, sizeof(plain));
			if (strcmp(plain, fin[k].plain) != 0)
				fail_msg("%s[%zu]: \"%s\", reference \"%s\"",
				    r.lists[i].name, k, plain, fin[k].plain);
		}
	}
	assert_int_equal(ncodes, nonempty);
	assert_int_equal(gl->n_entry, nonempty);
	for (i = 1; i < gl->n_entry; i++)
		assert_true(strcmp(gl->entry[i - 1]->code,
		    gl->entry[i]->code) < 0);
	print_message("dlc: %zu lists, %zu entries, %zu bytes\n", nonempty,
	    total, len);

	/* CN, as the compiler would ask for it, and GOOGLE@ads. */
	assert_non_null(db = sl_geodb_new(tmp));
	nfin = ref_final(&r, ref_list(&r, "CN", 0), &fin);
	assert_true(nfin > 1000);
	if (sl_geodb_site(db, "built.dat", "cn", NULL, 0, &dom, &len, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(len, nfin);
	for (k = 0; k < nfin; k++) {
		assert_int_equal(dom[k].type, fin[k].type);
		assert_string_equal(dom[k].value, fin[k].value);
	}
	nfin = ref_final(&r, ref_list(&r, "GOOGLE", 0), &fin);
	if (sl_geodb_site(db, "built.dat", "google", ads, 1, &dom, &len, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	for (k = 0, nads = 0; k < nfin; k++)
		if (has_attr(&fin[k], "ads")) {
			assert_true(nads < len);
			assert_int_equal(dom[nads].type, fin[k].type);
			assert_string_equal(dom[nads].value, fin[k].value);
			nads++;
		}
	assert_true(nads > 0 && nads < nfin);
	assert_int_equal(len, nads);

	sl_geodb_free(db);
	sl_arena_free(&r.a);
	free(r.lists);
	sluice__geo_site_list__free_unpacked(gl, NULL);
	th_tree_remove(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_circular),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_real_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
