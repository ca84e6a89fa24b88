/*
 * geoip_build: CIDR text lists -> packed GeoIPList.
 *
 * Addresses are handled as 128-bit numbers (IPv4 in the low 32 bits) so
 * that one merge and one decomposition serve both families.  Everything
 * lives in one arena freed at the end.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/arena.h"
#include "master/geodat.pb-c.h"
#include "master/geoip_build.h"
#include "shm/ipset.h"

struct u128 {
	uint64_t	 hi, lo;
};

struct range {
	struct u128	 first, last;	/* inclusive */
};

/* One family of one code. */
struct fam {
	struct range	*v;
	size_t		 n, cap;
};

struct code {
	char		*name;		/* upper-cased */
	struct fam	 f4, f6;
};

struct build {
	struct sl_arena	 arena;
	struct code	*codes;
	size_t		 ncodes, capcodes;
	char		*err;
	size_t		 errlen;
};

static int fail(struct build *, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct build *b, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;
	int r;

	if (b->err == NULL || b->errlen == 0)
		return -1;
	b->err[0] = '\0';
	if (file != NULL) {
		r = line > 0 ? snprintf(b->err, b->errlen, "%s:%d: ", file, line)
		    : snprintf(b->err, b->errlen, "%s: ", file);
		n = r > 0 && (size_t)r < b->errlen ? (size_t)r : 0;
	}
	va_start(ap, fmt);
	vsnprintf(b->err + n, b->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------ 128-bit */

static int
u_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

/* The low BITS - PREFIX bits set. */
static struct u128
u_hostmask(int bits, int prefix)
{
	struct u128 m = { 0, 0 };
	int n = bits - prefix;

	if (n >= 64) {
		m.lo = ~(uint64_t)0;
		if (n == 128)
			m.hi = ~(uint64_t)0;
		else if (n > 64)
			m.hi = ((uint64_t)1 << (n - 64)) - 1;
	} else if (n > 0)
		m.lo = ((uint64_t)1 << n) - 1;
	return m;
}

static struct u128
u_or(struct u128 a, struct u128 b)
{
	struct u128 r = { a.hi | b.hi, a.lo | b.lo };

	return r;
}

static int
u_disjoint(struct u128 a, struct u128 b)
{
	return (a.hi & b.hi) == 0 && (a.lo & b.lo) == 0;
}

/* A + 1; 0 when A is all ones (then *WRAP is set). */
static struct u128
u_next(struct u128 a, int *wrap)
{
	struct u128 r = a;

	*wrap = 0;
	if (++r.lo == 0 && ++r.hi == 0)
		*wrap = 1;
	return r;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes-- > 0) {
		p[bytes] = (uint8_t)v;
		v >>= 8;
	}
}

static struct range
cidr_range(const struct sl_cidr *c)
{
	struct range r;
	int bits = c->family == AF_INET ? 32 : 128;

	if (bits == 32) {
		r.first.hi = 0;
		r.first.lo = be64(c->addr) >> 32;
	} else {
		r.first.hi = be64(c->addr);
		r.first.lo = be64(c->addr + 8);
	}
	r.last = u_or(r.first, u_hostmask(bits, c->prefix));
	return r;
}

/* ------------------------------------------------------------ reading */

static struct code *
code_get(struct build *b, const char *name)
{
	struct code *c;
	size_t i;

	for (i = 0; i < b->ncodes; i++)
		if (strcmp(b->codes[i].name, name) == 0)
			return &b->codes[i];
	b->codes = sl_arena_room(&b->arena, b->codes, b->ncodes,
	    &b->capcodes, sizeof(*b->codes));
	c = &b->codes[b->ncodes++];
	memset(c, 0, sizeof(*c));
	c->name = sl_arena_strdup(&b->arena, name);
	return c;
}

static void
fam_add(struct build *b, struct fam *f, struct range r)
{
	f->v = sl_arena_room(&b->arena, f->v, f->n, &f->cap, sizeof(*f->v));
	f->v[f->n++] = r;
}

static char *
trim(char *s)
{
	char *end;

	s[strcspn(s, "#")] = '\0';
	s += strspn(s, " \t\r\n\v\f");
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n\v\f", end[-1]) != NULL)
		*--end = '\0';
	return s;
}

static int
load_file(struct build *b, const char *path, struct code *c)
{
	struct sl_cidr cidr;
	char *buf = NULL, *s;
	size_t cap = 0;
	int line = 0, r = 0;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return fail(b, path, 0, "%s", strerror(errno));
	while (r == 0 && getline(&buf, &cap, fp) != -1) {
		line++;
		if (*(s = trim(buf)) == '\0')
			continue;
		if (sl_cidr_parse(s, &cidr) == -1)
			r = fail(b, path, line, "invalid CIDR \"%s\"", s);
		else
			fam_add(b, cidr.family == AF_INET ? &c->f4 : &c->f6,
			    cidr_range(&cidr));
	}
	if (r == 0 && ferror(fp))
		r = fail(b, path, 0, "%s", strerror(errno));
	free(buf);
	fclose(fp);
	return r;
}

/* "xx.txt" -> "XX"; -1 for other names (they are not lists). */
static int
code_name(const char *file, char *out, size_t outlen)
{
	size_t n = strlen(file), i;

	if (n <= 4 || strcmp(file + n - 4, ".txt") != 0 || n - 4 >= outlen)
		return -1;
	for (i = 0; i < n - 4; i++) {
		char ch = file[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
		    || strchr("!-_.", ch) != NULL))
			return -1;
		out[i] = ch;
	}
	out[n - 4] = '\0';
	return 0;
}

static int
load_dir(struct build *b, const char *dir)
{
	char path[4096], name[256];
	struct dirent *de;
	struct stat st;
	int r = 0;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return fail(b, dir, 0, "%s", strerror(errno));
	while (r == 0 && (de = readdir(dp)) != NULL) {
		if (code_name(de->d_name, name, sizeof(name)) == -1)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			r = fail(b, dir, 0, "path too long");
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			r = load_file(b, path, code_get(b, name));
	}
	closedir(dp);
	return r;
}

/* ------------------------------------------------------------ normalising */

static int
range_order(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return u_cmp(x->first, y->first);
}

/* Sort and join overlapping or touching ranges, in place. */
static void
fam_merge(struct fam *f)
{
	struct u128 after;
	size_t i, k = 0;
	int wrap;

	if (f->n == 0)
		return;
	qsort(f->v, f->n, sizeof(*f->v), range_order);
	for (i = 1; i < f->n; i++) {
		after = u_next(f->v[k].last, &wrap);
		if (wrap || u_cmp(f->v[i].first, after) <= 0) {
			if (u_cmp(f->v[i].last, f->v[k].last) > 0)
				f->v[k].last = f->v[i].last;
		} else
			f->v[++k] = f->v[i];
	}
	f->n = k + 1;
}

static Sluice__CIDR *
cidr_msg(struct build *b, struct u128 first, int bits, int prefix)
{
	Sluice__CIDR *m = sl_arena_alloc(&b->arena, sizeof(*m));
	uint8_t *ip;

	sluice__cidr__init(m);
	m->ip.len = (size_t)bits / 8;
	m->ip.data = ip = sl_arena_alloc(&b->arena, m->ip.len);
	if (bits == 32)
		put_be(ip, first.lo, 4);
	else {
		put_be(ip, first.hi, 8);
		put_be(ip + 8, first.lo, 8);
	}
	m->prefix = (uint32_t)prefix;
	return m;
}

/* The fewest CIDRs covering R: at each step the largest aligned block. */
static void
range_cidrs(struct build *b, struct range r, int bits, Sluice__GeoIP *gi,
    size_t *cap)
{
	struct u128 mask, first = r.first;
	int p, wrap;

	for (;;) {
		for (p = 0; p < bits; p++) {
			mask = u_hostmask(bits, p);
			if (u_disjoint(first, mask) &&
			    u_cmp(u_or(first, mask), r.last) <= 0)
				break;
		}
		mask = u_hostmask(bits, p);
		gi->cidr = sl_arena_room(&b->arena, gi->cidr, gi->n_cidr, cap,
		    sizeof(*gi->cidr));
		gi->cidr[gi->n_cidr++] = cidr_msg(b, first, bits, p);
		if (u_cmp(u_or(first, mask), r.last) >= 0)
			return;
		first = u_next(u_or(first, mask), &wrap);
	}
}

static Sluice__GeoIP *
code_msg(struct build *b, struct code *c)
{
	Sluice__GeoIP *gi = sl_arena_alloc(&b->arena, sizeof(*gi));
	size_t i, cap = 0;

	sluice__geo_ip__init(gi);
	gi->code = c->name;
	fam_merge(&c->f4);
	fam_merge(&c->f6);
	for (i = 0; i < c->f4.n; i++)
		range_cidrs(b, c->f4.v[i], 32, gi, &cap);
	for (i = 0; i < c->f6.n; i++)
		range_cidrs(b, c->f6.v[i], 128, gi, &cap);
	return gi;
}

static int
code_order(const void *a, const void *b)
{
	return strcmp(((const struct code *)a)->name,
	    ((const struct code *)b)->name);
}

static int
pack(struct build *b, uint8_t **out, size_t *outlen)
{
	Sluice__GeoIPList gl = SLUICE__GEO_IPLIST__INIT;
	size_t i;

	if (b->ncodes > 0)
		qsort(b->codes, b->ncodes, sizeof(*b->codes), code_order);
	gl.n_entry = b->ncodes;
	gl.entry = sl_arena_alloc(&b->arena, b->ncodes * sizeof(*gl.entry) + 1);
	for (i = 0; i < b->ncodes; i++)
		gl.entry[i] = code_msg(b, &b->codes[i]);
	*outlen = sluice__geo_iplist__get_packed_size(&gl);
	if ((*out = malloc(*outlen + 1)) == NULL)
		return fail(b, NULL, 0, "out of memory");
	sluice__geo_iplist__pack(&gl, *out);
	return 0;
}

int
sl_geoip_build(const char *dir, uint8_t **out, size_t *outlen,
    size_t *ncodes, char *err, size_t errlen)
{
	struct build b;
	int r;

	memset(&b, 0, sizeof(b));
	sl_arena_init(&b.arena);
	b.err = err;
	b.errlen = errlen;
	r = load_dir(&b, dir);
	if (r == 0)
		r = pack(&b, out, outlen);
	if (r == 0 && ncodes != NULL)
		*ncodes = b.ncodes;
	sl_arena_free(&b.arena);
	return r;
}
