/*
 * Unit tests: master/geodat.c, the .dat reader used by the compiler.
 *
 * Needs the real files in $SLUICE_GEODATA/dat (default ../shared/geodata):
 * counts are checked against spec xray-routing.md 3.6 and every answer
 * against a whole-file protobuf-c decode, which does not use the reader's
 * index.  Temporary files go under /tmp.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "master/geodat.h"
#include "master/geodat.pb-c.h"
#include "tests/unit/helpers.h"

static void
dat_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/dat", th_geodata());
}

static Sluice__GeoSiteList *
whole_site(const char *file)
{
	char path[512];
	Sluice__GeoSiteList *gl;
	uint8_t *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/dat/%s", th_geodata(), file);
	buf = th_file_read(path, &len);
	gl = sluice__geo_site_list__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(gl);
	return gl;
}

static Sluice__GeoIPList *
whole_ip(const char *file)
{
	char path[512];
	Sluice__GeoIPList *gl;
	uint8_t *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/dat/%s", th_geodata(), file);
	buf = th_file_read(path, &len);
	gl = sluice__geo_iplist__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(gl);
	return gl;
}

static int
has_attr(const Sluice__Domain *d, const char *a)
{
	size_t i;

	for (i = 0; i < d->n_attribute; i++)
		if (strcmp(d->attribute[i]->key, a) == 0)
			return 1;
	return 0;
}

/* OUT equals the entries of GS carrying every attribute of ATTRS. */
static void
same_site(const Sluice__GeoSite *gs, const char *const *attrs, size_t nattrs,
    const struct sl_geo_dom *out, size_t n)
{
	size_t i, k, j = 0;
	char low[1024];
	int keep;

	for (i = 0; i < gs->n_domain; i++) {
		const Sluice__Domain *d = gs->domain[i];

		for (keep = 1, k = 0; k < nattrs; k++)
			keep &= has_attr(d, attrs[k]);
		if (!keep)
			continue;
		assert_true(j < n);
		assert_int_equal(out[j].type, d->type);
		snprintf(low, sizeof(low), "%s", d->value);
		for (k = 0; d->type != SLUICE__DOMAIN__TYPE__Regex && low[k];
		    k++)
			if (low[k] >= 'A' && low[k] <= 'Z')
				low[k] += 'a' - 'A';
		assert_string_equal(out[j].value, low);
		assert_int_equal(out[j].len, strlen(low));
		j++;
	}
	assert_int_equal(j, n);
}

/* ------------------------------------------------------------ geosite */

static void
test_site_counts(void **state)
{
	static const struct {
		const char *code;
		size_t total, by_type[4];	/* substr regex domain full */
	} want[] = {
		{ "CN", 117243, { 0, 25, 116632, 586 } },
		{ "GFW", 26495, { 0, 151, 0, 0 } },
		{ "PRIVATE", 132, { 0, 0, 0, 0 } },
	};
	const char *file = "geosite-cn-gfw.dat";
	const struct sl_geo_dom *dom, *again;
	Sluice__GeoSiteList *gl;
	struct sl_geodb *db;
	size_t i, k, n, n2, by_type[4];
	char dir[512], err[512];

	(void)state;
	dat_dir(dir, sizeof(dir));
	assert_non_null(db = sl_geodb_new(dir));
	gl = whole_site(file);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (sl_geodb_site(db, file, want[i].code, NULL, 0, &dom, &n,
		    err, sizeof(err)) != 0)
			fail_msg("%s", err);
		memset(by_type, 0, sizeof(by_type));
		for (k = 0; k < n; k++) {
			assert_true(dom[k].type >= 0 && dom[k].type <= 3);
			by_type[dom[k].type]++;
		}
		assert_int_equal(n, want[i].total);
		/* spec 3.6 gives every type of CN and the regexps of GFW */
		if (strcmp(want[i].code, "CN") == 0)
			assert_memory_equal(by_type, want[i].by_type,
			    sizeof(by_type));
		if (strcmp(want[i].code, "GFW") == 0)
			assert_int_equal(by_type[1], want[i].by_type[1]);
		same_site(th_geosite_find(gl, want[i].code), NULL, 0, dom, n);
	}
	/* Codes compare upper-cased; the answer is cached. */
	assert_int_equal(sl_geodb_site(db, file, "cn", NULL, 0, &dom, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(sl_geodb_site(db, file, "Cn", NULL, 0, &again, &n2,
	    err, sizeof(err)), 0);
	assert_ptr_equal(dom, again);
	assert_int_equal(n, n2);
	sluice__geo_site_list__free_unpacked(gl, NULL);
	sl_geodb_free(db);
}

/* The wanted values of code T (below) under a filter, in file order. */
static void
expect_values(struct sl_geodb *db, const char *file, const char *const *attrs,
    size_t nattrs, const char *const *want)
{
	const struct sl_geo_dom *dom;
	char err[512];
	size_t n, i;

	if (sl_geodb_site(db, file, "t", attrs, nattrs, &dom, &n, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < n);
		assert_string_equal(dom[i].value, want[i]);
	}
	assert_int_equal(n, i);
}

static Sluice__Domain__Attribute *
attr_bool(Sluice__Domain__Attribute *a, const char *key)
{
	sluice__domain__attribute__init(a);
	a->key = (char *)key;
	a->typed_value_case = SLUICE__DOMAIN__ATTRIBUTE__TYPED_VALUE_BOOL_VALUE;
	a->bool_value = 1;
	return a;
}

/*
 * No real file here carries attributes (geosite-lite.dat, checked below,
 * has none), so a list with them is packed here: a filter keeps the
 * entries that have every named key, whatever its value; entries of an
 * unknown type are skipped.  (tests/unit/test_dlc.c also reads GOOGLE@ads
 * from a geosite.dat built from the real domain-list-community data.)
 */
static void
test_site_attrs(void **state)
{
	static const char *const all[] = { "a.com", "b.com", "x", "^Y$",
		"c.com", NULL };
	static const char *const ads[] = { "a.com", "b.com", "c.com", NULL };
	static const char *const cn[] = { "b.com", "^Y$", NULL };
	static const char *const both[] = { "b.com", NULL };
	static const char *const none[] = { NULL };
	const char *f_ads[] = { "ads" }, *f_cn[] = { "cn" },
	    *f_both[] = { "cn", "ads", "cn" }, *f_nope[] = { "nope" };
	Sluice__Domain__Attribute at[5], *p0[1], *p1[2], *p3[1], *p4[1],
	    *p5[1];
	Sluice__Domain d[6], *dp[6];
	Sluice__GeoSite gs = SLUICE__GEO_SITE__INIT, *gsp = &gs;
	Sluice__GeoSiteList gl = SLUICE__GEO_SITE_LIST__INIT;
	char tmp[] = "/tmp/sluice-geodat-XXXXXX", path[600], dir[512];
	const struct sl_geo_dom *dom, *again;
	Sluice__GeoSiteList *lite;
	struct sl_geodb *db;
	uint8_t *buf;
	size_t i, k, len, n;
	char err[512];

	(void)state;
	for (i = 0; i < 6; i++) {
		sluice__domain__init(&d[i]);
		dp[i] = &d[i];
	}
	d[0].type = SLUICE__DOMAIN__TYPE__Domain;
	d[0].value = "a.com";
	p0[0] = attr_bool(&at[0], "ads");
	d[0].n_attribute = 1;
	d[0].attribute = p0;
	d[1].type = SLUICE__DOMAIN__TYPE__Full;
	d[1].value = "B.com";
	p1[0] = attr_bool(&at[1], "cn");
	p1[1] = p0[0];
	d[1].n_attribute = 2;
	d[1].attribute = p1;
	d[2].value = "X";			/* Substr, no attributes */
	d[3].type = SLUICE__DOMAIN__TYPE__Regex;
	d[3].value = "^Y$";
	p3[0] = p1[0];
	d[3].n_attribute = 1;
	d[3].attribute = p3;
	d[4].type = SLUICE__DOMAIN__TYPE__Domain;
	d[4].value = "c.com";
	p4[0] = attr_bool(&at[2], "ads");
	at[2].typed_value_case = SLUICE__DOMAIN__ATTRIBUTE__TYPED_VALUE_INT_VALUE;
	at[2].int_value = 3;
	d[4].n_attribute = 1;
	d[4].attribute = p4;
	d[5].type = (Sluice__Domain__Type)7;	/* unknown: skipped */
	d[5].value = "d.com";
	p5[0] = p0[0];
	d[5].n_attribute = 1;
	d[5].attribute = p5;
	gs.code = "T";
	gs.n_domain = 6;
	gs.domain = dp;
	gl.n_entry = 1;
	gl.entry = &gsp;
	len = sluice__geo_site_list__get_packed_size(&gl);
	assert_non_null(buf = malloc(len));
	sluice__geo_site_list__pack(&gl, buf);
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/attrs.dat", tmp);
	th_file_write(path, buf, len);
	free(buf);

	assert_non_null(db = sl_geodb_new(tmp));
	expect_values(db, "attrs.dat", NULL, 0, all);
	expect_values(db, "attrs.dat", f_ads, 1, ads);
	expect_values(db, "attrs.dat", f_cn, 1, cn);
	expect_values(db, "attrs.dat", f_both, 3, both);
	expect_values(db, "attrs.dat", f_nope, 1, none);
	assert_int_equal(sl_geodb_site(db, "attrs.dat", "T", f_both, 2, &dom,
	    &n, err, sizeof(err)), 0);
	f_both[0] = "ads";
	f_both[1] = "cn";
	assert_int_equal(sl_geodb_site(db, "attrs.dat", "T", f_both, 2,
	    &again, &n, err, sizeof(err)), 0);
	assert_ptr_equal(dom, again);		/* one answer for both orders */
	sl_geodb_free(db);
	th_tree_remove(tmp);

	/* geosite-lite.dat: no attributes anywhere, so any filter is empty */
	dat_dir(dir, sizeof(dir));
	assert_non_null(db = sl_geodb_new(dir));
	lite = whole_site("geosite-lite.dat");
	assert_true(lite->n_entry > 0);
	for (i = 0; i < lite->n_entry; i++) {
		for (k = 0; k < lite->entry[i]->n_domain; k++)
			assert_int_equal(lite->entry[i]->domain[k]->n_attribute,
			    0);
		assert_int_equal(sl_geodb_site(db, "geosite-lite.dat",
		    lite->entry[i]->code, NULL, 0, &dom, &n, err, sizeof(err)),
		    0);
		same_site(lite->entry[i], NULL, 0, dom, n);
		assert_int_equal(sl_geodb_site(db, "geosite-lite.dat",
		    lite->entry[i]->code, f_ads, 1, &dom, &n, err,
		    sizeof(err)), 0);
		assert_int_equal(n, 0);
	}
	sluice__geo_site_list__free_unpacked(lite, NULL);
	sl_geodb_free(db);
}

/* ------------------------------------------------------------ geoip */

static void
same_ip(const Sluice__GeoIP *gi, const struct sl_cidr *out, size_t n)
{
	size_t i, b;
	uint8_t want[16];

	assert_int_equal(gi->n_cidr, n);
	for (i = 0; i < n; i++) {
		const Sluice__CIDR *c = gi->cidr[i];

		assert_int_equal(out[i].family,
		    c->ip.len == 4 ? AF_INET : AF_INET6);
		assert_int_equal(out[i].prefix, c->prefix);
		memset(want, 0, sizeof(want));
		for (b = 0; b < c->prefix; b++)
			if (c->ip.data[b / 8] & (0x80 >> (b % 8)))
				want[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		assert_memory_equal(out[i].addr, want, c->ip.len);
	}
}

static void
test_ip_counts(void **state)
{
	static const struct {
		const char *code;
		size_t v4, v6;
	} want[] = { { "CN", 7394, 12017 }, { "PRIVATE", 16, 5 } };
	const char *file = "geoip-cn.dat";
	const struct sl_cidr *c, *again;
	Sluice__GeoIPList *gl;
	struct sl_geodb *db;
	char dir[512], err[512];
	size_t i, k, n, v4;

	(void)state;
	dat_dir(dir, sizeof(dir));
	assert_non_null(db = sl_geodb_new(dir));
	gl = whole_ip(file);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (sl_geodb_ip(db, file, want[i].code, &c, &n, err,
		    sizeof(err)) != 0)
			fail_msg("%s", err);
		for (v4 = 0, k = 0; k < n; k++)
			v4 += c[k].family == AF_INET;
		assert_int_equal(v4, want[i].v4);
		assert_int_equal(n - v4, want[i].v6);
		for (k = 0; k < gl->n_entry; k++)
			if (strcmp(gl->entry[k]->code, want[i].code) == 0)
				same_ip(gl->entry[k], c, n);
	}
	assert_int_equal(sl_geodb_ip(db, file, "private", &again, &n, err,
	    sizeof(err)), 0);
	assert_ptr_equal(c, again);
	/* geosite and geoip answers of one db are told apart */
	assert_int_equal(sl_geodb_ip(db, "geoip-lite.dat", "ir", &c, &n, err,
	    sizeof(err)), 0);
	assert_true(n > 0);
	sluice__geo_iplist__free_unpacked(gl, NULL);
	sl_geodb_free(db);
}

/* ------------------------------------------------------------ errors */

static void
expect_err(struct sl_geodb *db, const char *file, const char *code,
    const char *want)
{
	const struct sl_geo_dom *dom;
	char err[1024];
	size_t n;

	err[0] = '\0';
	assert_int_equal(sl_geodb_site(db, file, code, NULL, 0, &dom, &n, err,
	    sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("%s:%s: got \"%s\", want \"%s\"", file, code, err,
		    want);
}

static void
test_errors(void **state)
{
	/* entry "X": a domain whose value claims 9 bytes of 2 */
	static const uint8_t bad_body[] = { 0x0a, 0x0a, 0x0a, 0x01, 'X',
		0x12, 0x05, 0x08, 0x03, 0x12, 0x09, 'a' };
	/* an unknown top-level varint field, then entry "ok" (lower-case
	 * in the file) and a second "OK" that must lose to the first */
	static const uint8_t odd[] = { 0x10, 0x96, 0x01,
		0x0a, 0x0d, 0x0a, 0x02, 'o', 'k', 0x12, 0x07, 0x08, 0x02,
		0x12, 0x03, 'a', '.', 'b',
		0x0a, 0x0d, 0x0a, 0x02, 'O', 'K', 0x12, 0x07, 0x08, 0x02,
		0x12, 0x03, 'c', '.', 'd' };
	char dir[512], tmp[] = "/tmp/sluice-geodat-XXXXXX", path[600];
	const struct sl_geo_dom *dom;
	struct sl_geodb *db;
	uint8_t *buf;
	size_t len, n;
	char err[512];

	(void)state;
	dat_dir(dir, sizeof(dir));
	assert_non_null(mkdtemp(tmp));
	assert_non_null(db = sl_geodb_new(tmp));
	snprintf(path, sizeof(path), "%s/geosite-cn-gfw.dat", dir);
	buf = th_file_read(path, &len);
	snprintf(path, sizeof(path), "%s/cut.dat", tmp);
	/* the last entry runs past EOF */
	th_file_write(path, buf, len / 2);
	free(buf);
	snprintf(path, sizeof(path), "%s/bad.dat", tmp);
	th_file_write(path, bad_body, sizeof(bad_body));
	snprintf(path, sizeof(path), "%s/odd.dat", tmp);
	th_file_write(path, odd, sizeof(odd));
	snprintf(path, sizeof(path), "%s/empty.dat", tmp);
	th_file_write(path, "", 0);

	expect_err(db, "cut.dat", "CN", "cut.dat: ");
	expect_err(db, "cut.dat", "CN", "not a geodata list (corrupt at byte");
	expect_err(db, "bad.dat", "x", "bad.dat: code X: corrupt entry");
	expect_err(db, "empty.dat", "cn", "empty.dat: no code CN");
	expect_err(db, "nothere.dat", "cn", "nothere.dat: not found in ");
	expect_err(db, "/etc/passwd", "cn", "not a local file name");
	expect_err(db, "../x.dat", "cn", "not a local file name");
	assert_int_equal(sl_geodb_site(db, "odd.dat", "ok", NULL, 0, &dom, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dom[0].type, 2);
	assert_string_equal(dom[0].value, "a.b");
	sl_geodb_free(db);

	/* the real file next to the broken ones still reads */
	assert_non_null(db = sl_geodb_new(dir));
	expect_err(db, "geosite-cn-gfw.dat", "nope",
	    "geosite-cn-gfw.dat: no code NOPE");
	sl_geodb_free(db);
	th_tree_remove(tmp);
}

/* ------------------------------------------------------------ asset search */

struct env_save {
	char	*sluice, *xray;
};

static void
env_save(struct env_save *s)
{
	const char *a = getenv("SLUICE_ASSET_DIR"), *b =
	    getenv("XRAY_LOCATION_ASSET");

	s->sluice = a ? strdup(a) : NULL;
	s->xray = b ? strdup(b) : NULL;
}

static void
env_restore(struct env_save *s)
{
	if (s->sluice)
		setenv("SLUICE_ASSET_DIR", s->sluice, 1);
	else
		unsetenv("SLUICE_ASSET_DIR");
	if (s->xray)
		setenv("XRAY_LOCATION_ASSET", s->xray, 1);
	else
		unsetenv("XRAY_LOCATION_ASSET");
	free(s->sluice);
	free(s->xray);
}

static void
expect_found(const char *asset_dir, const char *file, const char *want)
{
	char out[1024], err[1024];

	if (sl_geo_asset_find(asset_dir, file, out, sizeof(out), err,
	    sizeof(err)) != 0)
		fail_msg("%s: %s", file, err);
	assert_string_equal(out, want);
}

static void
expect_refused(const char *file)
{
	char out[1024], err[1024];

	assert_int_equal(sl_geo_asset_find("/tmp", file, out, sizeof(out),
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a local file name"));
}

static void
test_asset_search(void **state)
{
	char root[] = "/tmp/sluice-asset-XXXXXX", d[4][64], f[4][128];
	char want[512], out[1024], err[1024];
	struct env_save saved;
	int i;

	(void)state;
	env_save(&saved);
	assert_non_null(mkdtemp(root));
	for (i = 0; i < 4; i++) {
		snprintf(d[i], sizeof(d[i]), "%s/d%d", root, i);
		assert_int_equal(mkdir(d[i], 0755), 0);
		snprintf(f[i], sizeof(f[i]), "%.64s/g.dat", d[i]);
	}
	/* d0: assetDir, d1: $SLUICE_ASSET_DIR, d2: $XRAY_LOCATION_ASSET;
	 * d3 has a directory named g.dat, which is no file */
	for (i = 0; i < 3; i++)
		th_file_write(f[i], "x", 1);
	assert_int_equal(mkdir(f[3], 0755), 0);
	setenv("SLUICE_ASSET_DIR", d[1], 1);
	setenv("XRAY_LOCATION_ASSET", d[2], 1);
	expect_found(d[0], "g.dat", f[0]);
	expect_found(NULL, "g.dat", f[1]);
	expect_found("", "g.dat", f[1]);
	expect_found(d[3], "g.dat", f[1]);	/* a directory does not count */
	unlink(f[1]);
	expect_found(d[3], "g.dat", f[2]);
	unsetenv("XRAY_LOCATION_ASSET");
	expect_found(d[0], "g.dat", f[0]);
	/* a relative name may name a subdirectory */
	snprintf(want, sizeof(want), "%s/sub", d[0]);
	assert_int_equal(mkdir(want, 0755), 0);
	snprintf(want, sizeof(want), "%s/sub/s.dat", d[0]);
	th_file_write(want, "x", 1);
	expect_found(d[0], "sub/s.dat", want);
	expect_found(d[0], "./sub/s.dat", strcat(strcpy(out, d[0]),
	    "/./sub/s.dat"));
	/* not found: every place searched is named, in order */
	assert_int_equal(sl_geo_asset_find(d[3], "none.dat", out, sizeof(out),
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "none.dat: not found in %s, %s, "
	    "/usr/local/share/sluice, /usr/share/sluice, "
	    "/usr/local/share/xray, /usr/share/xray", d[3], d[1]);
	assert_string_equal(err, want);
	expect_refused("/abs");
	expect_refused("/tmp/g.dat");
	expect_refused("../x");
	expect_refused("a/../../x");
	expect_refused("a/..");
	expect_refused("..");
	expect_refused("");

	th_tree_remove(root);
	env_restore(&saved);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_counts),
		cmocka_unit_test(test_site_attrs),
		cmocka_unit_test(test_ip_counts),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_asset_search),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
