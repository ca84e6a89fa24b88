/*
 * helpers: what several unit tests share (see helpers.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/clock.h"
#include "tests/unit/helpers.h"

/* ---- files ---- */

const char *
th_geodata(void)
{
	const char *d = getenv("SLUICE_GEODATA");

	return d != NULL && *d != '\0' ? d : "../shared/geodata";
}

uint8_t *
th_file_read(const char *path, size_t *len)
{
	const char *g = th_geodata();
	struct stat st;
	uint8_t *buf;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("%s: %s%s", path, strerror(errno),
		    strncmp(path, g, strlen(g)) == 0 ?
		    " (is SLUICE_GEODATA set?)" : "");
	assert_int_equal(fstat(fileno(fp), &st), 0);
	*len = (size_t)st.st_size;
	assert_non_null(buf = malloc(*len + 1));
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

void
th_file_write(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

void
th_file_temp(char *path, size_t size, const char *ext, const char *text)
{
	int fd;

	snprintf(path, size, "/tmp/sluice-test-XXXXXX%s", ext);
	fd = mkstemps(path, (int)strlen(ext));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

void
th_tree_remove(const char *dir)
{
	/* Depth first: a directory goes after its entries; links are not
	 * followed. */
	assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- geodata lists ---- */

const Sluice__GeoSite *
th_geosite_find(const Sluice__GeoSiteList *gl, const char *code)
{
	for (size_t i = 0; i < gl->n_entry; i++)
		if (strcmp(gl->entry[i]->code, code) == 0)
			return gl->entry[i];
	fail_msg("no code %s", code);
	return NULL;
}

/* ---- random ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

void
th_rnd_seed(uint64_t seed)
{
	assert_true(seed != 0);		/* xorshift would stay at 0 */
	rnd_state = seed;
}

unsigned
th_rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

/* ---- time ---- */

uint64_t
th_now_ms(void)
{
	return sl_clock_ms();
}

/* ---- table images ---- */

void
th_img_begin(struct sl_img_builder *b)
{
	struct sl_img_ipset set;
	struct sl_img_outbound o;
	struct sl_img_level l;

	sl_imgb_init(b);
	memset(&set, 0, sizeof(set));
	sl_imgb_add(b, SL_SECT_IPSETS, &set, sizeof(set));
	memset(&o, 0, sizeof(o));
	o.protocol = SL_IMG_OUT_FREEDOM;
	sl_imgb_add(b, SL_SECT_OUTBOUNDS, &o, sizeof(o));
	memset(&l, 0, sizeof(l));
	sl_imgb_add(b, SL_SECT_LEVELS, &l, sizeof(l));
}

uint8_t *
th_img_finish(struct sl_img_builder *b, struct sl_img *img)
{
	const char *err = NULL;
	uint8_t *buf;
	size_t len;

	assert_int_equal(sl_imgb_finish(b, 1, &buf, &len), 0);
	sl_imgb_free(b);
	if (sl_img_check(buf, len, &err) == -1)
		fail_msg("image: %s", err);
	img->base = buf;
	img->size = len;
	img->hdr = (const void *)buf;
	return buf;
}

/* ---- configurations ---- */

struct sl_conf *
th_conf_load(const char *file, struct sl_errors *e)
{
	sl_errors_init(e);
	return sl_conf_load(file, e);
}

char *
th_conf_strip_file(const char *buf, const char *file)
{
	size_t flen = strlen(file);
	char *out = calloc(1, strlen(buf) + 1), *o = out;
	const char *p = buf, *nl;

	assert_non_null(out);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(strncmp(p, file, flen) == 0);
		p += flen;
		if (p[0] == ':' && p[1] == ' ')
			p += 2;
		else if (p[0] == ':')
			p += 1;
		memcpy(o, p, (size_t)(nl - p + 1));
		o += nl - p + 1;
		p = nl + 1;
	}
	*o = '\0';
	return out;
}
