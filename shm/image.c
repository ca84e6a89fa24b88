/*
 * image: build (master) and open (workers, sluicectl) the table image.
 *
 * The builder keeps one growable buffer per section and lays them out
 * back to back, cache-line aligned, after the header.  The reader trusts
 * nothing: it checks the header, every section bound, every string and
 * every index range once, so lookups afterwards need no checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/image.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#endif

const uint32_t sl_img_elem_size[SL_SECT_COUNT] = {
	[SL_SECT_STRINGS] = 1,
	[SL_SECT_INBOUNDS] = sizeof(struct sl_img_inbound),
	[SL_SECT_VLESS_USERS] = sizeof(struct sl_img_vless_user),
	[SL_SECT_TROJAN_USERS] = sizeof(struct sl_img_trojan_user),
	[SL_SECT_FB_NAMES] = sizeof(struct sl_img_fb_name),
	[SL_SECT_FB_ALPNS] = sizeof(struct sl_img_fb_alpn),
	[SL_SECT_FB_PATHS] = sizeof(struct sl_img_fb_path),
	[SL_SECT_DESTS] = sizeof(struct sl_img_dest),
	[SL_SECT_ADDRS] = sizeof(struct sl_img_addr),
	[SL_SECT_OUTBOUNDS] = sizeof(struct sl_img_outbound),
	[SL_SECT_FINAL_RULES] = sizeof(struct sl_img_final_rule),
	[SL_SECT_PORT_RANGES] = sizeof(struct sl_img_port_range),
	[SL_SECT_IPSETS] = sizeof(struct sl_img_ipset),
	[SL_SECT_V4_RANGES] = sizeof(struct sl_img_v4_range),
	[SL_SECT_V6_RANGES] = sizeof(struct sl_img_v6_range),
	[SL_SECT_LEVELS] = sizeof(struct sl_img_level),
	[SL_SECT_CERTS] = sizeof(struct sl_img_cert),
	[SL_SECT_RULES] = sizeof(struct sl_img_rule),
	[SL_SECT_CONDS] = sizeof(struct sl_img_cond),
	[SL_SECT_STRLIST] = sizeof(struct sl_str),
	[SL_SECT_U32] = sizeof(uint32_t),
	[SL_SECT_IPMATCH] = sizeof(struct sl_img_ipmatch),
	[SL_SECT_ATTRS] = sizeof(struct sl_img_attr),
	[SL_SECT_REGEXES] = sizeof(struct sl_img_regex),
	[SL_SECT_DOMSETS] = sizeof(struct sl_img_domset),
	[SL_SECT_BLOB] = 1,
	[SL_SECT_BALANCERS] = sizeof(struct sl_img_balancer),
	[SL_SECT_COSTS] = sizeof(struct sl_img_cost),
	[SL_SECT_OBSERVERS] = sizeof(struct sl_img_observer),
};

uint64_t
sl_img_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	while (len-- > 0) {
		h ^= *p++;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* ---- builder ---- */

void
sl_imgb_init(struct sl_img_builder *b)
{
	memset(b, 0, sizeof(*b));
	/* Offset 0 of the string section is the empty string. */
	sl_imgb_add(b, SL_SECT_STRINGS, "", 1);
}

void
sl_imgb_free(struct sl_img_builder *b)
{
	for (int i = 0; i < SL_SECT_COUNT; i++)
		free(b->sect[i].buf);
	free(b->strtab);
	memset(b, 0, sizeof(*b));
}

static int
sect_reserve(struct sl_img_builder *b, enum sl_img_sect s, size_t more)
{
	size_t need = b->sect[s].len + more, cap = b->sect[s].cap;
	uint8_t *p;

	if (need <= cap)
		return 0;
	while (cap < need)
		cap = cap ? cap * 2 : 256;
	if ((p = realloc(b->sect[s].buf, cap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->sect[s].buf = p;
	b->sect[s].cap = cap;
	return 0;
}

uint32_t
sl_imgb_add(struct sl_img_builder *b, enum sl_img_sect s, const void *rec,
    size_t size)
{
	uint32_t idx = (uint32_t)(b->sect[s].len / size);

	if (size != sl_img_elem_size[s] && s != SL_SECT_STRINGS) {
		b->failed = 1;
		return 0;
	}
	if (sect_reserve(b, s, size) == -1)
		return 0;
	memcpy(b->sect[s].buf + b->sect[s].len, rec, size);
	b->sect[s].len += size;
	return idx;
}

uint32_t
sl_imgb_blob(struct sl_img_builder *b, const void *data, size_t len)
{
	size_t off = (b->sect[SL_SECT_BLOB].len + 7) & ~(size_t)7;

	if (off + len > UINT32_MAX) {
		b->failed = 1;
		return 0;
	}
	if (sect_reserve(b, SL_SECT_BLOB, off - b->sect[SL_SECT_BLOB].len +
	    len) == -1)
		return 0;
	if (off > b->sect[SL_SECT_BLOB].len)
		memset(b->sect[SL_SECT_BLOB].buf + b->sect[SL_SECT_BLOB].len, 0,
		    off - b->sect[SL_SECT_BLOB].len);
	if (len > 0)
		memcpy(b->sect[SL_SECT_BLOB].buf + off, data, len);
	b->sect[SL_SECT_BLOB].len = off + len;
	return (uint32_t)off;
}

static int
strtab_grow(struct sl_img_builder *b)
{
	size_t cap = b->strtab_cap ? b->strtab_cap * 2 : 1024;
	struct sl_imgb_strent *t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return -1;
	for (size_t i = 0; i < b->strtab_cap; i++) {
		size_t j;

		if (b->strtab[i].s.len == 0)
			continue;
		for (j = b->strtab[i].hash & (cap - 1); t[j].s.len != 0;
		    j = (j + 1) & (cap - 1))
			;
		t[j] = b->strtab[i];
	}
	free(b->strtab);
	b->strtab = t;
	b->strtab_cap = cap;
	return 0;
}

struct sl_str
sl_imgb_str(struct sl_img_builder *b, const void *s, size_t len)
{
	struct sl_str r = { 0, 0 };
	uint64_t h = sl_img_checksum(s, len);
	uint8_t *base;
	size_t have, j;

	if (len == 0)
		return r;
	if (b->strtab_n * 2 >= b->strtab_cap && strtab_grow(b) == -1) {
		b->failed = 1;
		return r;
	}
	/* Users share emails, inbounds share certificates: store each once. */
	for (j = h & (b->strtab_cap - 1); b->strtab[j].s.len != 0;
	    j = (j + 1) & (b->strtab_cap - 1)) {
		struct sl_str e = b->strtab[j].s;

		if (b->strtab[j].hash == h && e.len == len &&
		    memcmp(b->sect[SL_SECT_STRINGS].buf + e.off, s, len) == 0)
			return e;
	}
	if (sect_reserve(b, SL_SECT_STRINGS, len + 1) == -1)
		return r;
	base = b->sect[SL_SECT_STRINGS].buf;
	have = b->sect[SL_SECT_STRINGS].len;
	r.off = (uint32_t)have;
	r.len = (uint32_t)len;
	memcpy(base + have, s, len);
	base[have + len] = '\0';	/* readers may treat strings as C strings */
	b->sect[SL_SECT_STRINGS].len += len + 1;
	b->strtab[j].hash = h;
	b->strtab[j].s = r;
	b->strtab_n++;
	return r;
}

struct sl_str
sl_imgb_cstr(struct sl_img_builder *b, const char *s)
{
	return sl_imgb_str(b, s, s ? strlen(s) : 0);
}

void *
sl_imgb_rec(struct sl_img_builder *b, enum sl_img_sect s, uint32_t i,
    size_t size)
{
	return b->sect[s].buf + (size_t)i * size;
}

uint32_t
sl_imgb_count(struct sl_img_builder *b, enum sl_img_sect s, size_t size)
{
	return (uint32_t)(b->sect[s].len / size);
}

int
sl_imgb_finish(struct sl_img_builder *b, uint64_t generation, uint8_t **out,
    size_t *outlen)
{
	struct sl_img_hdr hdr;
	size_t off = sizeof(hdr);
	uint8_t *buf;

	if (b->failed)
		return -1;
	memset(&hdr, 0, sizeof(hdr));
	for (int i = 0; i < SL_SECT_COUNT; i++) {
		/* Cache-line aligned: domain-set buckets are one line each. */
		off = (off + 63) & ~(size_t)63;
		hdr.sect[i].off = off;
		hdr.sect[i].count = (uint32_t)(b->sect[i].len / sl_img_elem_size[i]);
		hdr.sect[i].elem_size = sl_img_elem_size[i];
		off += b->sect[i].len;
	}
	if ((buf = calloc(1, off)) == NULL)
		return -1;
	for (int i = 0; i < SL_SECT_COUNT; i++)
		if (b->sect[i].len > 0)
			memcpy(buf + hdr.sect[i].off, b->sect[i].buf,
			    b->sect[i].len);
	hdr.magic = SL_IMG_MAGIC;
	hdr.major = SL_IMG_MAJOR;
	hdr.minor = SL_IMG_MINOR;
	hdr.hdr_size = sizeof(hdr);
	hdr.total_size = off;
	hdr.generation = generation;
	hdr.globals = b->globals;
	memcpy(buf, &hdr, sizeof(hdr));
	hdr.checksum = sl_img_checksum(buf + sizeof(hdr), off - sizeof(hdr));
	memcpy(buf, &hdr, sizeof(hdr));
	*out = buf;
	*outlen = off;
	return 0;
}

int
sl_img_seal(const uint8_t *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = memfd_create("sluice-image",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd == -1 && errno == EINVAL)	/* kernels before 6.3 */
		fd = memfd_create("sluice-image", MFD_CLOEXEC |
		    MFD_ALLOW_SEALING);
	if (fd == -1)
		return -1;
	if (ftruncate(fd, (off_t)len) == -1)
		goto fail;
	/* pwrite, not a writable mapping: F_SEAL_WRITE refuses to seal while
	 * a shared writable mapping exists. */
	while (done < len) {
		n = pwrite(fd, buf + done, len - done, (off_t)done);
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- reader (checks: shm/image_check.c) ---- */

int
sl_img_open(int fd, struct sl_img *img, const char **err)
{
	struct stat st;
	void *p;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	/* Without SHRINK a truncation would SIGBUS a reader. */
	if (seals == -1 || (seals & (F_SEAL_SHRINK | F_SEAL_WRITE)) !=
	    (F_SEAL_SHRINK | F_SEAL_WRITE)) {
		*err = "table image is not sealed";
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0) {
		*err = "table image: fstat failed";
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*err = "table image: mmap failed";
		return -1;
	}
	if (sl_img_check(p, (size_t)st.st_size, err) == -1) {
		munmap(p, (size_t)st.st_size);
		return -1;
	}
	img->base = p;
	img->size = (size_t)st.st_size;
	img->hdr = p;
	return 0;
}

void
sl_img_close(struct sl_img *img)
{
	if (img->base != NULL)
		munmap((void *)img->base, img->size);
	img->base = NULL;
	img->hdr = NULL;
}

const struct sl_img_level *
sl_img_level(const struct sl_img *img, uint32_t level)
{
	const struct sl_img_level *l = sl_img_sect(img, SL_SECT_LEVELS);
	uint32_t n = sl_img_count(img, SL_SECT_LEVELS);

	for (uint32_t i = 0; i < n; i++)
		if (l[i].level == level)
			return &l[i];
	return &l[0];	/* level 0 is first: the compiler sorts levels */
}
