/* Unit tests: table image builder, sealing, validating reader, ipset. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/image.h"
#include "shm/ipset.h"

static void
build_minimal(struct sl_img_builder *b)
{
	struct sl_img_level lv = { 0, 60000, 300000, 1000, 1000 };
	struct sl_img_outbound o;
	struct sl_cidr c;

	sl_imgb_init(b);
	sl_imgb_add(b, SL_SECT_LEVELS, &lv, sizeof(lv));
	assert_int_equal(sl_cidr_parse("10.0.0.0/8", &c), 0);
	memset(&o, 0, sizeof(o));
	o.tag = sl_imgb_cstr(b, "direct");
	o.protocol = SL_IMG_OUT_FREEDOM;
	o.default_block_ipset = sl_ipset_build(b, &c, 1);
	sl_imgb_add(b, SL_SECT_OUTBOUNDS, &o, sizeof(o));
}

static void
test_roundtrip(void **state)
{
	struct sl_img_builder b;
	struct sl_img img;
	const char *err = NULL;
	uint8_t *buf;
	size_t len;
	int fd;

	(void)state;
	build_minimal(&b);
	assert_int_equal(sl_imgb_finish(&b, 7, &buf, &len), 0);
	sl_imgb_free(&b);
	assert_int_equal(sl_img_check(buf, len, &err), 0);
	fd = sl_img_seal(buf, len);
	assert_true(fd >= 0);
	/* Sealed: neither writes nor size changes are possible. */
	assert_int_equal(pwrite(fd, "x", 1, 0), -1);
	assert_int_equal(ftruncate(fd, 1), -1);
	assert_int_equal(sl_img_open(fd, &img, &err), 0);
	assert_int_equal(img.hdr->generation, 7);
	assert_string_equal(sl_img_str(&img, SL_IMG_REC(&img,
	    SL_SECT_OUTBOUNDS, struct sl_img_outbound, 0)->tag), "direct");
	assert_int_equal(sl_img_level(&img, 5)->handshake_ms, 60000);
	sl_img_close(&img);
	close(fd);
	free(buf);
}

static void
test_strings_dedup(void **state)
{
	struct sl_img_builder b;
	struct sl_str a, a2, c;

	(void)state;
	sl_imgb_init(&b);
	a = sl_imgb_cstr(&b, "user@example");
	c = sl_imgb_cstr(&b, "other");
	a2 = sl_imgb_cstr(&b, "user@example");
	assert_int_equal(a.off, a2.off);
	assert_int_not_equal(a.off, c.off);
	assert_int_equal(sl_imgb_cstr(&b, "").len, 0);
	sl_imgb_free(&b);
}

/* Every corruption the reader must refuse before a worker trusts it. */
static void
test_reject_corrupt(void **state)
{
	struct sl_img_builder b;
	struct sl_img_hdr *h;
	const char *err = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	build_minimal(&b);
	assert_int_equal(sl_imgb_finish(&b, 1, &buf, &len), 0);
	sl_imgb_free(&b);
	h = (struct sl_img_hdr *)buf;

	assert_int_equal(sl_img_check(buf, len - 1, &err), -1);
	buf[len - 1] ^= 0xff;
	assert_int_equal(sl_img_check(buf, len, &err), -1);
	assert_string_equal(err, "table image checksum mismatch");
	buf[len - 1] ^= 0xff;
	h->magic ^= 1;
	assert_int_equal(sl_img_check(buf, len, &err), -1);
	h->magic ^= 1;
	h->sect[SL_SECT_OUTBOUNDS].count = 1000;
	assert_int_equal(sl_img_check(buf, len, &err), -1);
	assert_string_equal(err, "table image section out of bounds");
	h->sect[SL_SECT_OUTBOUNDS].count = 1;
	assert_int_equal(sl_img_check(buf, len, &err), 0);
	free(buf);
}

static void
test_reject_bad_index(void **state)
{
	struct sl_img_builder b;
	struct sl_img_outbound *o;
	const char *err = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	build_minimal(&b);
	o = sl_imgb_rec(&b, SL_SECT_OUTBOUNDS, 0, sizeof(*o));
	o->tag.off = 1u << 30;	/* a string outside the string section */
	assert_int_equal(sl_imgb_finish(&b, 1, &buf, &len), 0);
	sl_imgb_free(&b);
	assert_int_equal(sl_img_check(buf, len, &err), -1);
	assert_string_equal(err, "outbound: bad record");
	free(buf);
}

static int
match(const struct sl_img *img, uint32_t set, const char *ip)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, ip, &in.sin_addr) == 1)
		return sl_ipset_match(img, set, (struct sockaddr *)&in);
	assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
	return sl_ipset_match(img, set, (struct sockaddr *)&in6);
}

static void
test_ipset(void **state)
{
	const char *list[] = { "10.0.0.0/8", "10.1.0.0/16", "192.168.1.7",
	    "11.0.0.0/8", "fc00::/7", "2001:db8::1/128", "::/127" };
	struct sl_cidr c[8];
	struct sl_img_builder b;
	struct sl_img img;
	const char *err = NULL;
	uint8_t *buf;
	size_t len;
	uint32_t set;

	(void)state;
	build_minimal(&b);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(sl_cidr_parse(list[i], &c[i]), 0);
	set = sl_ipset_build(&b, c, 7);
	assert_int_equal(sl_imgb_finish(&b, 1, &buf, &len), 0);
	sl_imgb_free(&b);
	assert_int_equal(sl_img_check(buf, len, &err), 0);
	img.base = buf;
	img.size = len;
	img.hdr = (const void *)buf;
	/* 10/8, 10.1/16 and the adjacent 11/8 merge into one range. */
	assert_int_equal(SL_IMG_REC(&img, SL_SECT_IPSETS, struct sl_img_ipset,
	    set)->v4_count, 2);
	assert_true(match(&img, set, "10.0.0.0"));
	assert_true(match(&img, set, "11.255.255.255"));
	assert_false(match(&img, set, "12.0.0.0"));
	assert_false(match(&img, set, "9.255.255.255"));
	assert_true(match(&img, set, "192.168.1.7"));
	assert_false(match(&img, set, "192.168.1.8"));
	assert_true(match(&img, set, "fd12::1"));
	assert_true(match(&img, set, "::1"));
	assert_false(match(&img, set, "::2"));
	assert_true(match(&img, set, "2001:db8::1"));
	assert_false(match(&img, set, "2001:db8::2"));
	assert_true(match(&img, set, "::ffff:10.2.3.4"));	/* v4-mapped */
	free(buf);
}

static void
test_cidr_parse(void **state)
{
	struct sl_cidr c;

	(void)state;
	assert_int_equal(sl_cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.addr[1], 0);	/* host bits masked */
	assert_int_equal(c.prefix, 8);
	assert_int_equal(sl_cidr_parse("10.0.0.0/33", &c), -1);
	assert_int_equal(sl_cidr_parse("::/129", &c), -1);
	assert_int_equal(sl_cidr_parse("example.com", &c), -1);
	assert_int_equal(sl_cidr_parse("10.0.0.0/", &c), -1);
	assert_int_equal(sl_cidr_parse("::1", &c), 0);
	assert_int_equal(c.prefix, 128);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_strings_dedup),
		cmocka_unit_test(test_reject_corrupt),
		cmocka_unit_test(test_reject_bad_index),
		cmocka_unit_test(test_ipset),
		cmocka_unit_test(test_cidr_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
