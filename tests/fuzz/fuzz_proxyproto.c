/*
 * fuzz_proxyproto: sl_pp_parse on arbitrary bytes, and sl_pp_write output
 * read back by sl_pp_parse.
 *
 * Invariants (abort on violation): a status is one of the four; SL_OK
 * consumes 1..len bytes and yields IP addresses unless local; a prefix of
 * the input never gets another answer than SL_AGAIN or the input's own
 * (an SL_OK header is SL_AGAIN until complete); what sl_pp_write writes
 * parses back to the same header.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "shm/types.h"
#include "worker/proxyproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET)
		CHECK(len == sizeof(struct sockaddr_in));
	else
		CHECK(ss->ss_family == AF_INET6 &&
		    len == sizeof(struct sockaddr_in6));
}

static int
parse_one(const uint8_t *d, size_t n, size_t *used)
{
	struct sl_pp_result r;
	int rc;

	*used = 0;
	rc = sl_pp_parse(d, n, used, &r);
	CHECK(rc == SL_OK || rc == SL_AGAIN || rc == SL_DECLINED ||
	    rc == SL_ERROR);
	if (rc == SL_OK) {
		CHECK(*used > 0 && *used <= n);
		if (!r.local) {
			check_addr(&r.src, r.src_len);
			check_addr(&r.dst, r.dst_len);
			CHECK(r.src.ss_family == r.dst.ss_family);
		}
	}
	return rc;
}

static void
check_parse(const uint8_t *d, size_t n)
{
	size_t used, u2, step;
	int rc = parse_one(d, n, &used);

	/* Every prefix when short, a sample when long (v2 is <= 4112). */
	step = n <= 512 ? 1 : n / 97 + 1;
	for (size_t k = 0; k < n; k += step) {
		int rk = parse_one(d, k, &u2);

		if (rc == SL_OK && k >= used)
			CHECK(rk == SL_OK && u2 == used);
		else if (rc == SL_OK)
			CHECK(rk == SL_AGAIN);
		else
			CHECK(rk == SL_AGAIN || rk == rc);
	}
}

/* A socket address of kind k from 18 bytes: IPv4, IPv6, v4-mapped IPv6,
 * or unix. */
static void
make_addr(int k, const uint8_t *b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b, 4);
		memcpy(&sin->sin_port, b + 16, 2);
	} else if (k == 1 || k == 2) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b, 16);
		if (k == 2) {
			memset(&sin6->sin6_addr, 0, 10);
			sin6->sin6_addr.s6_addr[10] = 0xff;
			sin6->sin6_addr.s6_addr[11] = 0xff;
		}
		memcpy(&sin6->sin6_port, b + 16, 2);
	} else {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;

		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, b, 16);
	}
}

static void
check_write(const uint8_t *d, size_t n)
{
	uint8_t in[40], out[SL_PP_MAX_WRITE], again[SL_PP_MAX_WRITE];
	struct sockaddr_storage s, t;
	struct sl_pp_result r;
	size_t used;
	int xver, w, w2;

	memset(in, 0, sizeof(in));
	memcpy(in, d, n < sizeof(in) ? n : sizeof(in));
	xver = in[0] >> 4 & 3;
	make_addr(in[0] & 3, in + 1, &s);
	make_addr(in[0] >> 2 & 3, in + 19, &t);
	w = sl_pp_write(xver, (struct sockaddr *)&s, (struct sockaddr *)&t,
	    out, sizeof(out));
	if (xver == 0) {
		CHECK(w == 0);
		return;
	}
	if (xver == 3) {
		CHECK(w == -1);
		return;
	}
	CHECK(w > 0 && w <= SL_PP_MAX_WRITE);
	CHECK(sl_pp_write(xver, (struct sockaddr *)&s, (struct sockaddr *)&t,
	    again, (size_t)w - 1) == -1);
	CHECK(sl_pp_parse(out, (size_t)w, &used, &r) == SL_OK);
	CHECK(used == (size_t)w);
	if (r.local)
		return;
	/* Written again from what was parsed: the same bytes. */
	w2 = sl_pp_write(xver, (struct sockaddr *)&r.src,
	    (struct sockaddr *)&r.dst, again, sizeof(again));
	CHECK(w2 == w && memcmp(out, again, (size_t)w) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	check_parse(d, n);
	check_write(d, n);
	return 0;
}
