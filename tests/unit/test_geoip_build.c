/*
 * Unit tests: master/geoip_build.c, the geoip.dat builder.
 *
 * Run from the repository root (fixtures in tests/data/geoip/) and with the
 * real per-country lists in $SLUICE_GEODATA/ip2location-lite (default
 * ../shared/geodata): every country is built, read back through
 * master/geodat.c and compared, as a set of addresses, with the text lists
 * parsed here independently.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

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

#include "master/geodat.h"
#include "master/geodat.pb-c.h"
#include "master/geoip_build.h"
#include "tests/unit/helpers.h"

#define DATA	"tests/data/geoip/"

static Sluice__GeoIPList *
build_ok(const char *dir, uint8_t **bufp, size_t *lenp)
{
	char err[1024] = "";
	Sluice__GeoIPList *gl;
	uint8_t *buf = NULL;
	size_t len = 0, ncodes = 0;

	if (sl_geoip_build(dir, &buf, &len, &ncodes, err, sizeof(err)) != 0)
		fail_msg("%s: %s", dir, err);
	gl = sluice__geo_iplist__unpack(NULL, len, buf);
	assert_non_null(gl);
	assert_int_equal(gl->n_entry, ncodes);
	if (bufp != NULL) {
		*bufp = buf;
		*lenp = len;
	} else
		free(buf);
	return gl;
}

static void
expect_code(const Sluice__GeoIP *gi, const char *code,
    const char *const *want)
{
	char addr[INET6_ADDRSTRLEN], text[64];
	size_t i;

	assert_string_equal(gi->code, code);
	assert_false(gi->reverse_match);
	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < gi->n_cidr);
		assert_true(gi->cidr[i]->ip.len == 4 ||
		    gi->cidr[i]->ip.len == 16);
		assert_non_null(inet_ntop(gi->cidr[i]->ip.len == 4 ? AF_INET :
		    AF_INET6, gi->cidr[i]->ip.data, addr, sizeof(addr)));
		snprintf(text, sizeof(text), "%s/%u", addr,
		    gi->cidr[i]->prefix);
		assert_string_equal(text, want[i]);
	}
	assert_int_equal(gi->n_cidr, i);
}

static void
test_fixture(void **state)
{
	static const char *const empty[] = { NULL };
	static const char *const ww[] = { "1.0.0.1/32", "1.0.0.2/31",
		"1.0.0.4/31", "1.0.0.6/32", NULL };
	static const char *const xx[] = { "10.0.0.0/8", "192.168.1.6/31",
		"::1/128", "2001:db8::/32", NULL };
	static const char *const yy[] = { "255.255.255.254/31",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", NULL };
	static const char *const zz[] = { "0.0.0.0/0", "::/0", NULL };
	Sluice__GeoIPList *gl;

	(void)state;
	gl = build_ok(DATA "ok", NULL, NULL);
	/* notes.md is no list; codes sorted; IPv4 first, address order */
	assert_int_equal(gl->n_entry, 5);
	expect_code(gl->entry[0], "EMPTY", empty);
	expect_code(gl->entry[1], "WW", ww);
	expect_code(gl->entry[2], "XX", xx);
	expect_code(gl->entry[3], "YY", yy);
	expect_code(gl->entry[4], "ZZ", zz);
	sluice__geo_iplist__free_unpacked(gl, NULL);
}

static void
test_errors(void **state)
{
	char err[1024];
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	assert_int_equal(sl_geoip_build(DATA "bad", &buf, &len, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, DATA "bad/aa.txt:3: invalid CIDR "
	    "\"1.2.3.4/33\"");
	assert_int_equal(sl_geoip_build(DATA "none", &buf, &len, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, DATA "none: "));
	assert_null(buf);
}

/* ------------------------------------------------------------ real data */

struct r4 {
	uint64_t	 lo, hi;	/* inclusive; 64 bits so hi + 1 fits */
};

static int
r4_order(const void *a, const void *b)
{
	const struct r4 *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t
r4_merge(struct r4 *v, size_t n)
{
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), r4_order);
	for (i = 1; i < n; i++)
		if (v[i].lo <= v[k].hi + 1) {
			if (v[i].hi > v[k].hi)
				v[k].hi = v[i].hi;
		} else
			v[++k] = v[i];
	return k + 1;
}

static struct r4
r4_of(uint32_t addr, unsigned prefix)
{
	uint64_t size = (uint64_t)1 << (32 - prefix);
	struct r4 r;

	r.lo = addr & ~(uint32_t)(size - 1);
	r.hi = r.lo + size - 1;
	return r;
}

/* The IPv4 ranges of a text list, parsed without the code under test. */
static size_t
text_ranges(const char *path, struct r4 **out)
{
	char line[256], *slash, *hash;
	size_t n = 0, cap = 0;
	struct in_addr a;
	struct r4 *v = NULL;
	unsigned prefix;
	FILE *fp;

	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		prefix = 32;
		if ((slash = strchr(line, '/')) != NULL) {
			*slash = '\0';
			prefix = (unsigned)atoi(slash + 1);
		}
		assert_int_equal(inet_pton(AF_INET, line, &a), 1);
		assert_true(prefix <= 32);
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			assert_non_null(v = realloc(v, cap * sizeof(*v)));
		}
		v[n++] = r4_of(ntohl(a.s_addr), prefix);
	}
	fclose(fp);
	*out = v;
	return r4_merge(v, n);
}

static struct r4
r4_cidr(const struct sl_cidr *c)
{
	uint32_t a;

	memcpy(&a, c->addr, 4);
	return r4_of(ntohl(a), (unsigned)c->prefix);
}

/* No two neighbouring CIDRs could be one: the output is the fewest. */
static void
check_minimal(const char *code, const struct sl_cidr *c, size_t n)
{
	struct r4 a, b;
	size_t i;

	for (i = 1; i < n; i++) {
		a = r4_cidr(&c[i - 1]);
		b = r4_cidr(&c[i]);
		if (b.lo <= a.hi)
			fail_msg("%s: CIDR %zu overlaps or is out of order",
			    code, i);
		if (c[i].prefix == c[i - 1].prefix && c[i].prefix > 0 &&
		    b.lo == a.hi + 1 &&
		    (a.lo & ((uint64_t)1 << (32 - c[i].prefix))) == 0)
			fail_msg("%s: CIDRs %zu and %zu make one /%d", code,
			    i - 1, i, c[i].prefix - 1);
	}
}

static void
test_real_data(void **state)
{
	char dir[512], tmp[] = "/tmp/sluice-geoip-XXXXXX", path[1024];
	char code[64], err[512];
	const struct sl_cidr *c;
	struct dirent *de;
	struct sl_geodb *db;
	Sluice__GeoIPList *gl;
	struct r4 *want, *got;
	size_t len, n, nwant, ngot, i, k, codes = 0, cidrs = 0;
	uint8_t *buf;
	DIR *dp;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ip2location-lite", th_geodata());
	gl = build_ok(dir, &buf, &len);
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/builtip.dat", tmp);
	th_file_write(path, buf, len);
	free(buf);
	assert_non_null(db = sl_geodb_new(tmp));
	if ((dp = opendir(dir)) == NULL)
		fail_msg("%s: cannot open (is SLUICE_GEODATA set?)", dir);
	while ((de = readdir(dp)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 4 || strcmp(de->d_name + n - 4, ".txt") != 0)
			continue;
		snprintf(code, sizeof(code), "%.*s", (int)(n - 4), de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		nwant = text_ranges(path, &want);
		if (sl_geodb_ip(db, "builtip.dat", code, &c, &n, err,
		    sizeof(err)) != 0)
			fail_msg("%s", err);
		check_minimal(code, c, n);
		assert_non_null(got = calloc(n + 1, sizeof(*got)));
		for (i = 0; i < n; i++) {
			assert_int_equal(c[i].family, AF_INET);
			got[i] = r4_cidr(&c[i]);
		}
		ngot = r4_merge(got, n);
		if (ngot != nwant)
			fail_msg("%s: %zu ranges, text %zu", code, ngot, nwant);
		for (k = 0; k < ngot; k++)
			if (got[k].lo != want[k].lo || got[k].hi != want[k].hi)
				fail_msg("%s: range %zu differs", code, k);
		codes++;
		cidrs += n;
		free(got);
		free(want);
	}
	closedir(dp);
	assert_int_equal(codes, gl->n_entry);
	assert_true(codes >= 200);
	print_message("geoip: %zu codes, %zu CIDRs after merging\n", codes,
	    cidrs);
	sl_geodb_free(db);
	sluice__geo_iplist__free_unpacked(gl, NULL);
	th_tree_remove(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_real_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
