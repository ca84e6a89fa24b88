/*
 * bench_route: routing lookup speed and table size on real geodata.
 *
 *	bench_route GEODATA_DIR
 *
 * Builds the sets the compiler would build -- geosite CN of
 * geosite-cn-gfw.dat, geoip CN of geoip-cn.dat -- into a table image,
 * then times sl_domset_match and sl_ipset_match on a mix of names taken
 * from GEODATA_DIR/lists (china-list names and their subdomains: mostly
 * hits; proxy-list and reject-list names: mostly misses) and on random
 * addresses.  Times are medians over batches of BATCH lookups (one clock
 * read per batch), after a warm-up pass.  Also times a full compile of a
 * config naming geosite CN and GFW and geoip CN.  A benchmark, not a
 * test: it asserts nothing.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/conf.h"
#include "master/geodat.h"
#include "shm/domset.h"
#include "shm/image.h"
#include "shm/ipset.h"
#include "shm/regex.h"

#define BATCH	64
#define NQ	200000

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Names from a list file: one per line, maybe with a "type:" prefix. */
static size_t
read_names(const char *path, char **out, size_t cap)
{
	char line[512];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (n < cap && fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':'), *s = p ? p + 1 : line;

		s[strcspn(s, " \t\r\n")] = '\0';
		if (*s != '\0' && *s != '#')
			out[n++] = strdup(s);
	}
	fclose(f);
	return n;
}

struct query {
	const char	*name;
	size_t		 len;
};

/* The mix: a third china-list names (half as "www." subdomains), two
 * thirds proxy/reject-list names. */
static size_t
make_queries(const char *dir, struct query *q, size_t nq)
{
	static char *cn[120000], *px[60000], *rj[60000];
	char path[1024];
	size_t ncn, npx, nrj, n = 0;

	snprintf(path, sizeof(path), "%s/lists/china-list.txt", dir);
	ncn = read_names(path, cn, 120000);
	snprintf(path, sizeof(path), "%s/lists/proxy-list.txt", dir);
	npx = read_names(path, px, 60000);
	snprintf(path, sizeof(path), "%s/lists/reject-list.txt", dir);
	nrj = read_names(path, rj, 60000);
	srandom(42);
	while (n < nq) {
		long r = random() % 6;
		const char *s;

		if (r < 2) {
			s = cn[random() % ncn];
			if (r == 1) {
				char *w = malloc(strlen(s) + 5);

				sprintf(w, "www.%s", s);
				s = w;
			}
		} else if (r < 4)
			s = px[random() % npx];
		else
			s = rj[random() % nrj];
		q[n].name = s;
		q[n++].len = strlen(s);
	}
	return n;
}

/* Copy the names into one buffer in query order: a worker matches a
 * name it has just read, so the name itself should not cost a miss. */
static void
pack_queries(struct query *q, size_t nq)
{
	size_t total = 0, off = 0;
	char *buf;

	for (size_t i = 0; i < nq; i++)
		total += q[i].len + 1;
	buf = malloc(total);
	for (size_t i = 0; i < nq; i++) {
		memcpy(buf + off, q[i].name, q[i].len + 1);
		q[i].name = buf + off;
		off += q[i].len + 1;
	}
}

static void
img_of(struct sl_img_builder *b, struct sl_img *img)
{
	uint8_t *buf;
	size_t len;
	const char *err;

	/* Only the sets: no inbound, outbound or level, so check the
	 * matchers rather than the whole image. */
	if (sl_imgb_finish(b, 1, &buf, &len) == -1) {
		fprintf(stderr, "image: out of memory\n");
		exit(1);
	}
	img->base = buf;
	img->size = len;
	img->hdr = (const struct sl_img_hdr *)buf;
	if (sl_domset_check(img, &err) == -1) {
		fprintf(stderr, "image: %s\n", err);
		exit(1);
	}
}

static void
bench_domains(const char *dir, struct sl_geodb *db)
{
	static struct query q[NQ];
	static double t[NQ / BATCH];
	const struct sl_geo_dom *doms;
	struct sl_img_builder b;
	struct sl_dom_pat *pats;
	struct sl_rxtab *rx;
	struct sl_img img;
	const char *err;
	char e[256];
	size_t n, nq, hits = 0, nb = 0;
	uint32_t set;
	double t0, t1;

	if (sl_geodb_site(db, "geosite-cn-gfw.dat", "CN", NULL, 0, &doms, &n,
	    e, sizeof(e)) == -1) {
		fprintf(stderr, "%s\n", e);
		exit(1);
	}
	pats = calloc(n, sizeof(*pats));
	for (size_t i = 0; i < n; i++) {
		pats[i].type = doms[i].type;
		pats[i].value = doms[i].value;
		pats[i].len = doms[i].len;
	}
	sl_imgb_init(&b);
	t0 = now_ns();
	set = sl_domset_build(&b, pats, n, &err);
	t1 = now_ns();
	img_of(&b, &img);
	rx = sl_rxtab_new(&img, &err);
	nq = make_queries(dir, q, NQ);
	pack_queries(q, nq);
	for (size_t i = 0; i < nq; i++)		/* warm-up, and the hit rate */
		hits += sl_domset_match(&img, rx, set, q[i].name, q[i].len);
	for (size_t i = 0; i + BATCH <= nq; i += BATCH) {
		volatile int sink = 0;
		double a = now_ns();

		for (size_t j = i; j < i + BATCH; j++)
			sink += sl_domset_match(&img, rx, set, q[j].name,
			    q[j].len);
		t[nb++] = (now_ns() - a) / BATCH;
		(void)sink;
	}
	printf("domain: geosite CN entries=%zu build=%.1f ms image=%zu bytes "
	    "(%.1f bytes/entry)\n", n, (t1 - t0) / 1e6,
	    sl_domset_bytes(&img, set), (double)sl_domset_bytes(&img, set) / n);
	printf("domain: %zu queries (hits %.1f%%): median %.1f ns/lookup, "
	    "%.2f M lookups/s\n", nq, 100.0 * hits / nq, median(t, nb),
	    1e3 / median(t, nb));
	sl_rxtab_free(rx);
	free((void *)img.base);
	sl_imgb_free(&b);
	free(pats);
}

static void
random_addr(struct sockaddr_in6 *ss, const struct sl_cidr *c, size_t n,
    int v6)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	uint32_t r = (uint32_t)random();

	memset(ss, 0, sizeof(*ss));
	if (!v6) {
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = (uint32_t)random() ^ (r << 16);
		return;
	}
	/* half inside a CN v6 prefix, half random */
	in6->sin6_family = AF_INET6;
	for (int i = 0; i < 16; i++)
		in6->sin6_addr.s6_addr[i] = (uint8_t)random();
	if (r & 1) {
		const struct sl_cidr *p = &c[random() % n];

		if (p->family == AF_INET6)
			memcpy(&in6->sin6_addr, p->addr, (size_t)p->prefix / 8);
	}
}

static void
bench_ips(struct sl_geodb *db)
{
	static struct sockaddr_in6 a[NQ];	/* a sockaddr_in fits */
	static double t[NQ / BATCH];
	const struct sl_cidr *c;
	struct sl_img_builder b;
	struct sl_img img;
	const struct sl_img_ipset *s;
	char e[256];
	size_t n, hits = 0, nb = 0;
	uint32_t set;

	if (sl_geodb_ip(db, "geoip-cn.dat", "CN", &c, &n, e, sizeof(e)) == -1) {
		fprintf(stderr, "%s\n", e);
		exit(1);
	}
	sl_imgb_init(&b);
	set = sl_ipset_build(&b, c, n);
	img_of(&b, &img);
	s = SL_IMG_REC(&img, SL_SECT_IPSETS, struct sl_img_ipset, set);
	for (size_t i = 0; i < NQ; i++)
		random_addr(&a[i], c, n, i % 4 == 3);
	for (size_t i = 0; i < NQ; i++)
		hits += sl_ipset_match(&img, set, (struct sockaddr *)&a[i]);
	printf("ip: geoip CN %zu CIDRs -> %u v4 + %u v6 ranges; %d queries "
	    "(3/4 v4, hits %.1f%%)\n", n, s->v4_count, s->v6_count, NQ,
	    100.0 * hits / NQ);
	for (int fam = 0; fam < 2; fam++) {
		nb = 0;
		for (size_t i = 0; i + BATCH <= NQ; i += BATCH * 4) {
			volatile int sink = 0;
			double t0 = now_ns();

			/* every 4th address is v6: stride by family */
			for (size_t j = i + (fam ? 3 : 0); j < i + BATCH * 4 &&
			    j < NQ; j += fam ? 4 : 1) {
				if (!fam && j % 4 == 3)
					continue;
				sink += sl_ipset_match(&img, set,
				    (struct sockaddr *)&a[j]);
			}
			t[nb++] = (now_ns() - t0) / (fam ? BATCH : BATCH * 3);
			(void)sink;
		}
		printf("ip: %s median %.1f ns/lookup\n", fam ? "IPv6" : "IPv4",
		    median(t, nb));
	}
	free((void *)img.base);
	sl_imgb_free(&b);
}

static void
bench_compile(const char *dir)
{
	char path[] = "/tmp/bench_route_XXXXXX.json";
	double t[5];
	FILE *f;
	int fd = mkstemps(path, 5);

	f = fdopen(fd, "w");
	fprintf(f, "{ \"sluice\": { \"assetDir\": \"%s/dat\" }, \"outbounds\": ["
	    "{ \"tag\": \"direct\", \"protocol\": \"freedom\" },"
	    "{ \"tag\": \"block\", \"protocol\": \"blackhole\" } ],"
	    "\"routing\": { \"rules\": ["
	    "{ \"domain\": [\"ext:geosite-cn-gfw.dat:gfw\"], \"outboundTag\": "
	    "\"block\" }, { \"domain\": [\"ext:geosite-cn-gfw.dat:cn\"], "
	    "\"outboundTag\": \"direct\" }, { \"ip\": "
	    "[\"ext:geoip-cn.dat:cn\"], \"outboundTag\": \"direct\" } ] } }\n",
	    dir);
	fclose(f);
	for (int i = 0; i < 5; i++) {
		struct sl_errors errs;
		struct sl_conf *cf;
		uint8_t *img = NULL;
		size_t len = 0;
		double t0 = now_ns();

		sl_errors_init(&errs);
		cf = sl_conf_load(path, &errs);
		if (cf == NULL || sl_compile(cf, 1, &img, &len, &errs) != 0) {
			fprintf(stderr, "%.*s", (int)errs.len, errs.buf);
			exit(1);
		}
		t[i] = (now_ns() - t0) / 1e6;
		if (i == 0)
			printf("compile: CN+GFW geosite and CN geoip -> table "
			    "image %zu bytes\n", len);
		free(img);
		sl_conf_free(cf);
		sl_errors_free(&errs);
	}
	unlink(path);
	{
		double med = median(t, 5);	/* sorts t */

		printf("compile: parse+load+compile median %.1f ms (5 runs, "
		    "min %.1f, max %.1f)\n", med, t[0], t[4]);
	}
}

int
main(int argc, char **argv)
{
	struct sl_geodb *db;
	char asset[1024];

	if (argc != 2) {
		fprintf(stderr, "usage: bench_route GEODATA_DIR\n");
		return 2;
	}
	snprintf(asset, sizeof(asset), "%s/dat", argv[1]);
	db = sl_geodb_new(asset);
	bench_domains(argv[1], db);
	bench_ips(db);
	sl_geodb_free(db);
	bench_compile(argv[1]);
	return 0;
}
