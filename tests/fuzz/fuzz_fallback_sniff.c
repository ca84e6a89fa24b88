/*
 * fuzz_fallback_sniff: Xray's path sniffer, and fallback selection from a
 * fixed table, on arbitrary first packets, SNIs and ALPNs.
 *
 * Input: byte 0 = SNI length (mod 40), byte 1 = ALPN length (mod 12), then
 * the SNI, the ALPN and the first packet; the whole input is also sniffed
 * as a first packet.  Invariants (abort on violation): a sniffed path lies
 * inside the first 63 bytes, starts with '/', holds no CR, LF, '?' or ' '
 * and is followed by '?' or ' '; a selection names a dest of the table
 * and keys that exist; a failed one says why.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/fallback.h"
#include "shm/image.h"
#include "shm/types.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const struct sl_fb_entry table[] = {
	{ NULL, NULL, NULL, 1 },
	{ NULL, NULL, "/ws", 2 },
	{ NULL, "h2", NULL, 3 },
	{ "example.com", NULL, NULL, 4 },
	{ "www.example.com", "http/1.1", "/api", 5 },
	{ "example.com", "h2", "/ws?x", 6 },
	{ "ample", NULL, "/", 7 },
	{ "x", "", "/a b", 8 },
};
#define NDESTS	9

static struct sl_img img;
static uint32_t names_first, names_count;

static void
table_init(void)
{
	static const struct sl_img_level level;
	static const struct sl_img_ipset set;
	struct sl_img_builder b;
	struct sl_img_dest d;
	struct sl_img_outbound o;
	const char *err;
	uint8_t *buf;
	size_t len;

	sl_imgb_init(&b);
	memset(&d, 0, sizeof(d));
	d.kind = SL_IMG_DEST_TCP;
	for (int i = 0; i < NDESTS; i++)
		sl_imgb_add(&b, SL_SECT_DESTS, &d, sizeof(d));
	memset(&o, 0, sizeof(o));
	o.protocol = SL_IMG_OUT_FREEDOM;
	sl_imgb_add(&b, SL_SECT_OUTBOUNDS, &o, sizeof(o));
	sl_imgb_add(&b, SL_SECT_IPSETS, &set, sizeof(set));
	sl_imgb_add(&b, SL_SECT_LEVELS, &level, sizeof(level));
	CHECK(sl_fb_build(&b, table, SL_ARRAY_LEN(table), &names_first,
	    &names_count) == 0);
	CHECK(sl_imgb_finish(&b, 1, &buf, &len) == 0);
	CHECK(sl_img_check(buf, len, &err) == 0);
	sl_imgb_free(&b);
	img.base = buf;		/* kept for the life of the process */
	img.size = len;
	img.hdr = (const void *)buf;
}

static void
check_sniff(const uint8_t *d, size_t n)
{
	const uint8_t *p;
	size_t pl, off;

	if (!sl_fb_sniff_path(d, n, &p, &pl))
		return;
	CHECK(n >= 18 && d[4] != '*');
	CHECK(p >= d + 4 && p <= d + 8 && p[-1] == ' ');
	off = (size_t)(p - d);
	CHECK(pl >= 1 && off + pl < n && off + pl <= 63);
	CHECK(p[0] == '/');
	for (size_t i = 1; i < pl; i++)
		CHECK(p[i] != '\r' && p[i] != '\n' && p[i] != '?' &&
		    p[i] != ' ');
	CHECK(p[pl] == '?' || p[pl] == ' ');
}

static void
check_select(const uint8_t *d, size_t n)
{
	char sni[41], alpn[13];
	size_t sl, al;
	struct sl_fb_choice ch;
	const char *why = NULL;

	if (n < 2)
		return;
	sl = d[0] % 40;
	al = d[1] % 12;
	if (n < 2 + sl + al)
		return;
	memcpy(sni, d + 2, sl);
	sni[sl] = '\0';
	memcpy(alpn, d + 2 + sl, al);
	alpn[al] = '\0';
	d += 2 + sl + al;
	n -= 2 + sl + al;
	if (sl_fb_select(&img, names_first, names_count, sni, alpn, d, n,
	    &ch, &why) == -1) {
		CHECK(why != NULL);
		return;
	}
	CHECK(ch.dest >= 1 && ch.dest < NDESTS);
	CHECK(ch.name != NULL && ch.alpn != NULL && ch.path != NULL);
	CHECK(strlen((const char *)ch.path) == ch.path_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (img.base == NULL)
		table_init();
	check_sniff(d, n);
	check_select(d, n);
	return 0;
}
