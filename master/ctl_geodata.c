/*
 * ctl_geodata: "sluicectl geodata": build geosite/geoip .dat files from
 * text sources (master/dlc.c, master/geoip_build.c) and list the codes of
 * a .dat file that contain a domain or an address.
 *
 * lookup matches as Xray's router does (spec xray-routing.md 2.1): the
 * domain is lower-cased; full = equal, domain = equal or a subdomain,
 * keyword = substring, regexp = unanchored search (PCRE2 here, RE2 there).
 */
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "master/ctl.h"
#include "master/dlc.h"
#include "master/geodat.h"
#include "master/geodat.pb-c.h"
#include "master/geoip_build.h"

#define ERRLEN	1024

struct args {
	const char	*cmd;		/* build-site | build-ip | lookup */
	const char	*arg;		/* DIR, or DOMAIN|IP */
	const char	*out;		/* -o */
	const char	*file;		/* --file */
};

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "sluicectl: geodata: %s\n", why);
	fprintf(stderr,
	    "usage: sluicectl geodata build-site DIR -o OUT\n"
	    "       sluicectl geodata build-ip DIR -o OUT\n"
	    "       sluicectl geodata lookup DOMAIN|IP [--file FILE]\n"
	    "FILE defaults to geosite.dat or geoip.dat, found in "
	    "$SLUICE_ASSET_DIR,\n$XRAY_LOCATION_ASSET, /usr/local/share/sluice, "
	    "/usr/share/sluice,\n/usr/local/share/xray, /usr/share/xray; a FILE "
	    "with a \"/\" is a path.\n");
	return 2;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 ||
		    strcmp(argv[i], "--file") == 0) {
			if (i + 1 == argc)
				return -1;
			if (argv[i][1] == 'o')
				a->out = argv[++i];
			else
				a->file = argv[++i];
		} else if (strncmp(argv[i], "--file=", 7) == 0)
			a->file = argv[i] + 7;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return -1;
		else if (a->cmd == NULL)
			a->cmd = argv[i];
		else if (a->arg == NULL)
			a->arg = argv[i];
		else
			return -1;
	}
	return a->cmd != NULL && a->arg != NULL ? 0 : -1;
}

/* ------------------------------------------------------------ build */

/* Write through a temporary file and rename: a reader never sees half. */
static int
write_out(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4096];
	size_t done = 0;
	ssize_t r;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp) || (fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "sluicectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (done < len) {
		if ((r = write(fd, buf + done, len - done)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	if (done != len || fchmod(fd, 0644) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1) {
		fprintf(stderr, "sluicectl: %s: %s\n", path, strerror(errno));
		if (done != len)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
cmd_build(const struct args *a, int site)
{
	char err[ERRLEN];
	uint8_t *buf;
	size_t len, ncodes;
	int r;

	if (a->out == NULL || a->file != NULL)
		return usage(a->out == NULL ? "-o OUT is required" :
		    "--file is for lookup");
	r = site ? sl_dlc_build(a->arg, &buf, &len, &ncodes, err, sizeof(err))
	    : sl_geoip_build(a->arg, &buf, &len, &ncodes, err, sizeof(err));
	if (r == -1) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return 1;
	}
	r = write_out(a->out, buf, len);
	free(buf);
	if (r == -1)
		return 1;
	printf("%s: %zu codes, %zu bytes\n", a->out, ncodes, len);
	return 0;
}

/* ------------------------------------------------------------ lookup */

/* FILE as a path (it has a "/"), else through the asset search. */
static int
load(const char *file, uint8_t **buf, size_t *len)
{
	char path[4096], err[ERRLEN];
	const char *why;

	if (strchr(file, '/') != NULL)
		snprintf(path, sizeof(path), "%s", file);
	else if (sl_geo_asset_find(NULL, file, path, sizeof(path), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return -1;
	}
	if (sl_geo_file_read(path, buf, len, &why) == -1) {
		fprintf(stderr, "sluicectl: %s: %s\n", path, why);
		return -1;
	}
	return 0;
}

static int
regex_search(const char *re_text, const char *name)
{
	pcre2_match_data *md;
	pcre2_code *re;
	PCRE2_SIZE off;
	int code, r;

	re = pcre2_compile((PCRE2_SPTR)re_text, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF, &code, &off, NULL);
	if (re == NULL)
		return 0;	/* Xray skips a bad regexp inside a geosite */
	md = pcre2_match_data_create_from_pattern(re, NULL);
	r = md != NULL && pcre2_match(re, (PCRE2_SPTR)name,
	    PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return r;
}

/* NAME is lower-case; patterns are compared lower-cased but regexps. */
static int
domain_matches(const Sluice__Domain *d, const char *name)
{
	size_t nl = strlen(name), vl = strlen(d->value);

	switch (d->type) {
	case SLUICE__DOMAIN__TYPE__Full:
		return strcasecmp(name, d->value) == 0;
	case SLUICE__DOMAIN__TYPE__Domain:
		return nl >= vl && strcasecmp(name + nl - vl, d->value) == 0 &&
		    (nl == vl || name[nl - vl - 1] == '.');
	case SLUICE__DOMAIN__TYPE__Substr:
		return strcasestr(name, d->value) != NULL;
	case SLUICE__DOMAIN__TYPE__Regex:
		return regex_search(d->value, name);
	default:
		return 0;
	}
}

static int
attr_order(const void *a, const void *b)
{
	const Sluice__Domain__Attribute *x =
	    *(const Sluice__Domain__Attribute *const *)a;
	const Sluice__Domain__Attribute *y =
	    *(const Sluice__Domain__Attribute *const *)b;

	return strcmp(x->key, y->key);
}

/* " @a @b" for D's attributes, sorted; "" without any. */
static void
attr_line(Sluice__Domain *d, char *out, size_t outlen)
{
	size_t i, used = 0;
	int r;

	out[0] = '\0';
	if (d->n_attribute > 1)
		qsort(d->attribute, d->n_attribute, sizeof(*d->attribute),
		    attr_order);
	for (i = 0; i < d->n_attribute; i++) {
		r = snprintf(out + used, outlen - used, " @%s",
		    d->attribute[i]->key);
		if (r < 0 || (size_t)r >= outlen - used)
			break;
		used += (size_t)r;
	}
}

static int
line_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * One line per distinct attribute set among the entries of GS that match:
 * "CODE" when a matching entry has none, "CODE @a @b" for one that carries
 * @a and @b, so that geosite:CODE@a matches exactly when such a line shows
 * a superset of its attributes.  The number of lines printed.
 */
static size_t
site_print(Sluice__GeoSite *gs, const char *name)
{
	char **lines = NULL, **v, buf[1024];
	size_t i, n = 0, printed = 0;

	for (i = 0; i < gs->n_domain; i++) {
		if (!domain_matches(gs->domain[i], name))
			continue;
		attr_line(gs->domain[i], buf, sizeof(buf));
		if ((v = realloc(lines, (n + 1) * sizeof(*v))) == NULL)
			break;
		lines = v;
		if ((lines[n] = strdup(buf)) != NULL)
			n++;
	}
	if (n > 1)
		qsort(lines, n, sizeof(*lines), line_order);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0) {
			printf("%s%s\n", gs->code, lines[i]);
			printed++;
		}
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return printed;
}

static int
lookup_site(const char *file, const char *domain)
{
	Sluice__GeoSiteList *gl;
	uint8_t *buf;
	size_t len, i, found = 0;
	char *name;

	if (load(file, &buf, &len) == -1)
		return 1;
	gl = sluice__geo_site_list__unpack(NULL, len, buf);
	free(buf);
	if (gl == NULL) {
		fprintf(stderr, "sluicectl: %s: not a geosite list\n", file);
		return 1;
	}
	if ((name = strdup(domain)) == NULL) {
		sluice__geo_site_list__free_unpacked(gl, NULL);
		return 1;
	}
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	for (i = 0; i < gl->n_entry; i++)
		found += site_print(gl->entry[i], name);
	if (found == 0)
		fprintf(stderr, "sluicectl: no code of %s contains %s\n", file,
		    name);
	free(name);
	sluice__geo_site_list__free_unpacked(gl, NULL);
	return found > 0 ? 0 : 1;
}

static int
cidr_contains(const Sluice__CIDR *c, const uint8_t *addr, size_t alen)
{
	uint32_t bits = c->prefix, i;

	if (c->ip.len != alen || bits > alen * 8)
		return 0;
	for (i = 0; i < bits / 8; i++)
		if (c->ip.data[i] != addr[i])
			return 0;
	if (bits % 8 == 0)
		return 1;
	return ((c->ip.data[i] ^ addr[i]) & (0xff00 >> (bits % 8))) == 0;
}

static int
lookup_ip(const char *file, const uint8_t *addr, size_t alen, const char *arg)
{
	Sluice__GeoIPList *gl;
	uint8_t *buf;
	size_t len, i, k, found = 0;

	if (load(file, &buf, &len) == -1)
		return 1;
	gl = sluice__geo_iplist__unpack(NULL, len, buf);
	free(buf);
	if (gl == NULL) {
		fprintf(stderr, "sluicectl: %s: not a geoip list\n", file);
		return 1;
	}
	for (i = 0; i < gl->n_entry; i++)
		for (k = 0; k < gl->entry[i]->n_cidr; k++)
			if (cidr_contains(gl->entry[i]->cidr[k], addr, alen)) {
				printf("%s\n", gl->entry[i]->code);
				found++;
				break;
			}
	if (found == 0)
		fprintf(stderr, "sluicectl: no code of %s contains %s\n", file,
		    arg);
	sluice__geo_iplist__free_unpacked(gl, NULL);
	return found > 0 ? 0 : 1;
}

static int
cmd_lookup(const struct args *a)
{
	const char *ipfile = a->file != NULL ? a->file : "geoip.dat";
	struct in6_addr a6;
	struct in_addr a4;

	if (a->out != NULL)
		return usage("-o is for build-site and build-ip");
	if (inet_pton(AF_INET, a->arg, &a4) == 1)
		return lookup_ip(ipfile, (const uint8_t *)&a4, 4, a->arg);
	if (inet_pton(AF_INET6, a->arg, &a6) == 1) {
		/* Xray tests a v4-mapped address as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			return lookup_ip(ipfile, a6.s6_addr + 12, 4, a->arg);
		return lookup_ip(ipfile, a6.s6_addr, 16, a->arg);
	}
	if (a->arg[0] == '\0')
		return usage("empty domain");
	return lookup_site(a->file != NULL ? a->file : "geosite.dat", a->arg);
}

int
sl_ctl_geodata(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) == -1)
		return usage(NULL);
	if (strcmp(a.cmd, "build-site") == 0)
		return cmd_build(&a, 1);
	if (strcmp(a.cmd, "build-ip") == 0)
		return cmd_build(&a, 0);
	if (strcmp(a.cmd, "lookup") == 0)
		return cmd_lookup(&a);
	fprintf(stderr, "sluicectl: geodata: unknown subcommand: %s\n", a.cmd);
	return usage(NULL);
}
