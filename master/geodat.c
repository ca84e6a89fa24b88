/*
 * geodat: asset search, and .dat files read once, indexed once and unpacked
 * one entry at a time, with the answers cached for one compile.
 *
 * Files are read into memory rather than mapped: an updater that rewrites
 * geosite.dat in place (curl -o does) while the master compiles would make
 * a mapping raise SIGBUS in the master; a read copy at worst fails to parse
 * and the reload is refused.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/geodat.h"
#include "master/geodat.pb-c.h"

/* Searched after sluice.assetDir and the two environment variables. */
static const char *const system_dirs[] = {
	"/usr/local/share/sluice", "/usr/share/sluice",
	"/usr/local/share/xray", "/usr/share/xray"
};
#define NSYSTEM_DIRS	(sizeof(system_dirs) / sizeof(system_dirs[0]))

/* One top-level entry: its code and where its body lies in the file. */
struct geo_code {
	const char	*code;		/* into the file bytes, not terminated */
	size_t		 code_len;
	size_t		 off, len;
	size_t		 order;		/* position in the file */
};

struct geo_file {
	char		*name;		/* as the configuration wrote it */
	char		*path;
	uint8_t		*data;
	size_t		 size;
	struct geo_code	*codes;		/* by upper-cased code, then order */
	size_t		 ncodes;
};

enum { RES_SITE, RES_IP };

/* One answered question; KEY = kind, file, CODE and sorted attributes. */
struct geo_result {
	char		*key;
	size_t		 key_len;
	void		*items;		/* sl_geo_dom[] + their strings, or
					   sl_cidr[]: one allocation */
	size_t		 n;
};

struct sl_geodb {
	char		 *asset_dir;
	struct geo_file	**files;
	size_t		  nfiles;
	struct geo_result *results;
	size_t		  nresults;
};

static int seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
up(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int
down(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ------------------------------------------------------------ asset search */

/* Xray accepts only names that stay inside the asset directory. */
int
sl_geo_name_ok(const char *file)
{
	const char *p;
	size_t n;

	if (*file == '\0' || *file == '/' || strcmp(file, ".") == 0)
		return 0;
	for (p = file; *p != '\0'; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
	}
	return 1;
}

static int
is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
sl_geo_asset_find(const char *asset_dir, const char *file, char *out,
    size_t outlen, char *err, size_t errlen)
{
	const char *dirs[3 + NSYSTEM_DIRS];
	size_t ndirs = 0, i, used;
	int n, first = 1;

	if (!sl_geo_name_ok(file))
		return seterr(err, errlen, "%s: not a local file name (no "
		    "leading \"/\", no \"..\")", file);
	dirs[ndirs++] = asset_dir;
	dirs[ndirs++] = getenv("SLUICE_ASSET_DIR");
	dirs[ndirs++] = getenv("XRAY_LOCATION_ASSET");
	for (i = 0; i < NSYSTEM_DIRS; i++)
		dirs[ndirs++] = system_dirs[i];
	for (i = 0; i < ndirs; i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		n = snprintf(out, outlen, "%s/%s", dirs[i], file);
		if (n > 0 && (size_t)n < outlen && is_regular(out))
			return 0;
	}
	seterr(err, errlen, "%s: not found in", file);
	for (i = 0; i < ndirs && err != NULL && errlen > 0; i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		used = strlen(err);
		snprintf(err + used, errlen - used, "%s %s", first ? "" : ",",
		    dirs[i]);
		first = 0;
	}
	return -1;
}

/* ------------------------------------------------------------ file index */

static int
varint(const uint8_t *p, size_t size, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;
	uint8_t b;

	for (shift = 0; shift < 64; shift += 7) {
		if (*pos >= size)
			return -1;
		b = p[(*pos)++];
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Skip the value of a field whose tag (wire type WT) was just read. */
static int
skip_value(const uint8_t *p, size_t size, size_t *pos, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case 0:
		return varint(p, size, pos, &v);
	case 1:
		v = 8;
		break;
	case 2:
		if (varint(p, size, pos, &v) == -1)
			return -1;
		break;
	case 5:
		v = 4;
		break;
	default:		/* groups: never written by geodata builders */
		return -1;
	}
	if (v > size - *pos)
		return -1;
	*pos += v;
	return 0;
}

/*
 * The code (field 1) of one GeoSite/GeoIP body.  Builders write it first,
 * so this normally reads three bytes; absent means "" (proto3 default).
 */
static int
body_code(const uint8_t *p, size_t len, struct geo_code *c)
{
	size_t pos = 0;
	uint64_t tag, l;

	c->code = "";
	c->code_len = 0;
	while (pos < len) {
		if (varint(p, len, &pos, &tag) == -1)
			return -1;
		if (tag == (1 << 3 | 2)) {
			if (varint(p, len, &pos, &l) == -1 || l > len - pos)
				return -1;
			c->code = (const char *)p + pos;
			c->code_len = (size_t)l;
			return 0;
		}
		if (skip_value(p, len, &pos, (unsigned)(tag & 7)) == -1)
			return -1;
	}
	return 0;
}

static int
code_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < alen && i < blen; i++)
		if (up((unsigned char)a[i]) != up((unsigned char)b[i]))
			return up((unsigned char)a[i]) -
			    up((unsigned char)b[i]);
	return alen < blen ? -1 : alen > blen;
}

static int
index_order(const void *a, const void *b)
{
	const struct geo_code *x = a, *y = b;
	int c = code_cmp(x->code, x->code_len, y->code, y->code_len);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Index every entry (field 1) of the top-level list; skip other fields. */
static int
file_index(struct geo_file *f, char *err, size_t errlen)
{
	size_t pos = 0, at, cap = 0;
	uint64_t tag, len;
	struct geo_code *c;

	while (pos < f->size) {
		at = pos;
		if (varint(f->data, f->size, &pos, &tag) == -1)
			goto corrupt;
		if (tag != (1 << 3 | 2)) {
			if (skip_value(f->data, f->size, &pos,
			    (unsigned)(tag & 7)) == -1)
				goto corrupt;
			continue;
		}
		if (varint(f->data, f->size, &pos, &len) == -1 ||
		    len > f->size - pos)
			goto corrupt;
		if (f->ncodes == cap) {
			cap = cap ? cap * 2 : 64;
			c = realloc(f->codes, cap * sizeof(*c));
			if (c == NULL)
				return seterr(err, errlen, "%s: out of memory",
				    f->name);
			f->codes = c;
		}
		c = &f->codes[f->ncodes];
		c->off = pos;
		c->len = (size_t)len;
		c->order = f->ncodes++;
		if (body_code(f->data + pos, c->len, c) == -1)
			goto corrupt;
		pos += c->len;
	}
	if (f->ncodes > 1)
		qsort(f->codes, f->ncodes, sizeof(*f->codes), index_order);
	return 0;
corrupt:
	return seterr(err, errlen, "%s: %s: not a geodata list (corrupt at "
	    "byte %zu)", f->name, f->path, at);
}

int
sl_geo_file_read(const char *path, uint8_t **buf, size_t *len,
    const char **why)
{
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -1;
	}
	*len = (size_t)st.st_size;
	if ((*buf = malloc(*len + 1)) == NULL) {
		close(fd);
		*why = "out of memory";
		return -1;
	}
	while (got < *len) {
		r = read(fd, *buf + got, *len - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != *len) {
		free(*buf);
		*buf = NULL;
		*why = "short read (file changed while reading?)";
		return -1;
	}
	return 0;
}

static int
file_read(struct geo_file *f, char *err, size_t errlen)
{
	const char *why;

	if (sl_geo_file_read(f->path, &f->data, &f->size, &why) == -1)
		return seterr(err, errlen, "%s: %s: %s", f->name, f->path,
		    why);
	return 0;
}

static void
file_free(struct geo_file *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->path);
	free(f->data);
	free(f->codes);
	free(f);
}

static struct geo_file *
file_get(struct sl_geodb *db, const char *name, char *err, size_t errlen)
{
	char path[4096];
	struct geo_file *f, **v;
	size_t i;

	for (i = 0; i < db->nfiles; i++)
		if (strcmp(db->files[i]->name, name) == 0)
			return db->files[i];
	if (sl_geo_asset_find(db->asset_dir, name, path, sizeof(path), err,
	    errlen) == -1)
		return NULL;
	if ((v = realloc(db->files, (db->nfiles + 1) * sizeof(*v))) == NULL)
		goto nomem;
	db->files = v;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto nomem;
	if ((f->name = strdup(name)) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		file_free(f);
		goto nomem;
	}
	if (file_read(f, err, errlen) == -1 || file_index(f, err, errlen) == -1) {
		file_free(f);
		return NULL;
	}
	db->files[db->nfiles++] = f;
	return f;
nomem:
	seterr(err, errlen, "%s: out of memory", name);
	return NULL;
}

/* The first entry (in file order) whose code equals CODE upper-cased. */
static const struct geo_code *
file_find(const struct geo_file *f, const char *code)
{
	size_t lo = 0, hi = f->ncodes, mid, len = strlen(code);

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (code_cmp(f->codes[mid].code, f->codes[mid].code_len,
		    code, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < f->ncodes && code_cmp(f->codes[lo].code,
	    f->codes[lo].code_len, code, len) == 0)
		return &f->codes[lo];
	return NULL;
}

/* ------------------------------------------------------------ the cache */

struct sl_geodb *
sl_geodb_new(const char *asset_dir)
{
	struct sl_geodb *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	if (asset_dir != NULL && (db->asset_dir = strdup(asset_dir)) == NULL) {
		free(db);
		return NULL;
	}
	return db;
}

void
sl_geodb_free(struct sl_geodb *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->nfiles; i++)
		file_free(db->files[i]);
	for (i = 0; i < db->nresults; i++) {
		free(db->results[i].key);
		free(db->results[i].items);
	}
	free(db->files);
	free(db->results);
	free(db->asset_dir);
	free(db);
}

static int
str_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * "kind \0 file \0 CODE \0 attr \0 ..." with attributes sorted and unique,
 * so that "@a@b" and "@b@a@a" share one answer; *UCODE points at CODE
 * upper-cased inside it.  NULL without memory.
 */
static char *
result_key(int kind, const char *file, const char *code,
    const char *const *attrs, size_t nattrs, size_t *keylen,
    const char **ucode)
{
	const char **sorted = NULL;
	size_t len, i, k;
	char *key, *p;

	len = 2 + strlen(file) + 1 + strlen(code) + 1;
	if (nattrs > 0) {
		if ((sorted = malloc(nattrs * sizeof(*sorted))) == NULL)
			return NULL;
		memcpy(sorted, attrs, nattrs * sizeof(*sorted));
		qsort(sorted, nattrs, sizeof(*sorted), str_order);
	}
	for (i = 0; i < nattrs; i++)
		len += strlen(sorted[i]) + 1;
	if ((key = malloc(len)) != NULL) {
		p = key;
		*p++ = (char)('0' + kind);
		*p++ = '\0';
		p = stpcpy(p, file) + 1;
		*ucode = p;
		for (k = 0; code[k] != '\0'; k++)
			*p++ = (char)up((unsigned char)code[k]);
		*p++ = '\0';
		for (i = 0; i < nattrs; i++)
			if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
				p = stpcpy(p, sorted[i]) + 1;
		*keylen = (size_t)(p - key);
	}
	free(sorted);
	return key;
}

static struct geo_result *
result_find(struct sl_geodb *db, const char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < db->nresults; i++)
		if (db->results[i].key_len == keylen &&
		    memcmp(db->results[i].key, key, keylen) == 0)
			return &db->results[i];
	return NULL;
}

/* Take ownership of KEY and ITEMS; NULL (both freed) without memory. */
static struct geo_result *
result_add(struct sl_geodb *db, char *key, size_t keylen, void *items,
    size_t n)
{
	struct geo_result *v;

	v = realloc(db->results, (db->nresults + 1) * sizeof(*v));
	if (v == NULL) {
		free(key);
		free(items);
		return NULL;
	}
	db->results = v;
	v = &db->results[db->nresults++];
	v->key = key;
	v->key_len = keylen;
	v->items = items;
	v->n = n;
	return v;
}

/* ------------------------------------------------------------ geosite */

static int
has_attrs(const Sluice__Domain *d, const char *const *attrs, size_t nattrs)
{
	size_t i, j;

	for (i = 0; i < nattrs; i++) {
		for (j = 0; j < d->n_attribute; j++)
			if (strcmp(d->attribute[j]->key, attrs[i]) == 0)
				break;
		if (j == d->n_attribute)
			return 0;
	}
	return 1;
}

static int
site_keep(const Sluice__Domain *d, const char *const *attrs, size_t nattrs)
{
	/* SL_DOM_* numbering is the wire numbering: Substr..Full = 0..3. */
	return d->type >= 0 && d->type <= 3 && has_attrs(d, attrs, nattrs);
}

/* The kept domains of GS as one allocation: the array, then the strings. */
static struct sl_geo_dom *
site_copy(const Sluice__GeoSite *gs, const char *const *attrs, size_t nattrs,
    size_t *n)
{
	struct sl_geo_dom *v;
	size_t i, k, len, count = 0, bytes = 0;
	char *s;

	for (i = 0; i < gs->n_domain; i++)
		if (site_keep(gs->domain[i], attrs, nattrs)) {
			count++;
			bytes += strlen(gs->domain[i]->value) + 1;
		}
	if ((v = malloc(count * sizeof(*v) + bytes + 1)) == NULL)
		return NULL;
	s = (char *)(v + count);
	*n = 0;
	for (i = 0; i < gs->n_domain; i++) {
		const Sluice__Domain *d = gs->domain[i];

		if (!site_keep(d, attrs, nattrs))
			continue;
		len = strlen(d->value);
		for (k = 0; k < len; k++)
			s[k] = d->type == SLUICE__DOMAIN__TYPE__Regex ?
			    d->value[k] : (char)down((unsigned char)d->value[k]);
		s[len] = '\0';
		v[*n].type = (int)d->type;
		v[*n].value = s;
		v[*n].len = len;
		(*n)++;
		s += len + 1;
	}
	return v;
}

/* Unpack one GeoSite body and keep what ATTRS select; NULL with *WHY. */
static void *
site_load(const uint8_t *body, size_t len, const char *const *attrs,
    size_t nattrs, size_t *n, const char **why)
{
	Sluice__GeoSite *gs;
	void *v;

	if ((gs = sluice__geo_site__unpack(NULL, len, body)) == NULL) {
		*why = "corrupt entry";
		return NULL;
	}
	if ((v = site_copy(gs, attrs, nattrs, n)) == NULL)
		*why = "out of memory";
	sluice__geo_site__free_unpacked(gs, NULL);
	return v;
}

/* ------------------------------------------------------------ geoip */

static struct sl_cidr *
ip_copy(const Sluice__GeoIP *gi, size_t *n)
{
	struct sl_cidr *v;
	size_t i;
	int b;

	if ((v = malloc((gi->n_cidr + 1) * sizeof(*v))) == NULL)
		return NULL;
	*n = 0;
	for (i = 0; i < gi->n_cidr; i++) {
		const Sluice__CIDR *c = gi->cidr[i];
		struct sl_cidr *o = &v[*n];

		if ((c->ip.len != 4 && c->ip.len != 16) ||
		    c->prefix > c->ip.len * 8)
			continue;
		memset(o, 0, sizeof(*o));
		o->family = c->ip.len == 4 ? AF_INET : AF_INET6;
		memcpy(o->addr, c->ip.data, c->ip.len);
		o->prefix = (int)c->prefix;
		for (b = o->prefix; b < (int)c->ip.len * 8; b++)
			o->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		(*n)++;
	}
	return v;
}

static void *
ip_load(const uint8_t *body, size_t len, const char *const *attrs,
    size_t nattrs, size_t *n, const char **why)
{
	Sluice__GeoIP *gi;
	void *v;

	(void)attrs;
	(void)nattrs;
	if ((gi = sluice__geo_ip__unpack(NULL, len, body)) == NULL) {
		*why = "corrupt entry";
		return NULL;
	}
	if ((v = ip_copy(gi, n)) == NULL)
		*why = "out of memory";
	sluice__geo_ip__free_unpacked(gi, NULL);
	return v;
}

/* ------------------------------------------------------------ questions */

/* The cached answer to (KIND, FILE, CODE, ATTRS), computed on first use. */
static const struct geo_result *
answer(struct sl_geodb *db, int kind, const char *file, const char *code,
    const char *const *attrs, size_t nattrs, char *err, size_t errlen)
{
	const struct geo_code *c;
	const struct geo_result *r;
	const struct geo_file *f;
	const char *ucode, *why = NULL;
	size_t keylen, n = 0;
	char *key;
	void *v;

	key = result_key(kind, file, code, attrs, nattrs, &keylen, &ucode);
	if (key == NULL) {
		seterr(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	if ((r = result_find(db, key, keylen)) != NULL) {
		free(key);
		return r;
	}
	if ((f = file_get(db, file, err, errlen)) == NULL)
		goto fail;
	if ((c = file_find(f, ucode)) == NULL) {
		seterr(err, errlen, "%s: no code %s", file, ucode);
		goto fail;
	}
	v = (kind == RES_SITE ? site_load : ip_load)(f->data + c->off, c->len,
	    attrs, nattrs, &n, &why);
	if (v == NULL) {
		seterr(err, errlen, "%s: code %s: %s", file, ucode, why);
		goto fail;
	}
	if ((r = result_add(db, key, keylen, v, n)) == NULL)
		seterr(err, errlen, "%s: out of memory", file);
	return r;
fail:
	free(key);
	return NULL;
}

int
sl_geodb_site(struct sl_geodb *db, const char *file, const char *code,
    const char *const *attrs, size_t nattrs, const struct sl_geo_dom **out,
    size_t *n, char *err, size_t errlen)
{
	const struct geo_result *r;

	r = answer(db, RES_SITE, file, code, attrs, nattrs, err, errlen);
	if (r == NULL)
		return -1;
	*out = r->items;
	*n = r->n;
	return 0;
}

int
sl_geodb_ip(struct sl_geodb *db, const char *file, const char *code,
    const struct sl_cidr **out, size_t *n, char *err, size_t errlen)
{
	const struct geo_result *r;

	r = answer(db, RES_IP, file, code, NULL, 0, err, errlen);
	if (r == NULL)
		return -1;
	*out = r->items;
	*n = r->n;
	return 0;
}
