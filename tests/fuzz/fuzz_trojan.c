/*
 * fuzz_trojan: sl_trojan_parse on arbitrary bytes.
 *
 * Invariants (abort on violation): SL_DECLINED exactly when shorter than
 * 58 bytes or byte 56 is not CR; SL_OK gives a header inside the input
 * with a valid address; SL_ERROR says why; past 58 bytes, a prefix never
 * gets another answer than SL_AGAIN or the input's own.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/types.h"
#include "worker/trojan.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static int
parse_one(const uint8_t *d, size_t n, struct sl_trojan_req *r)
{
	const char *why = NULL;
	int rc;

	memset(r, 0x5a, sizeof(*r));
	rc = sl_trojan_parse(d, n, r, &why);
	CHECK((rc == SL_DECLINED) == (n < 58 || d[56] != '\r'));
	CHECK(rc == SL_OK || rc == SL_AGAIN || rc == SL_ERROR ||
	    rc == SL_DECLINED);
	if (rc == SL_ERROR)
		CHECK(why != NULL && why[0] != '\0');
	if (rc != SL_OK)
		return rc;
	/* The shortest address is a one-byte domain: 2 bytes. */
	CHECK(r->header_len >= 58 + 2 + 2 + 4 && r->header_len <= n);
	CHECK(memcmp(r->key, d, 56) == 0);
	CHECK(r->target.cmd == (d[58] == 3 ? SL_CMD_UDP : SL_CMD_TCP));
	CHECK(r->target.atyp >= SL_ATYP_IPV4 && r->target.atyp <= SL_ATYP_IPV6);
	if (r->target.atyp == SL_ATYP_DOMAIN)
		CHECK(strlen(r->target.host) > 0 &&
		    strlen(r->target.host) < sizeof(r->target.host));
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct sl_trojan_req r, rk;
	int rc = parse_one(d, n, &r);

	for (size_t k = 58; k < n && k < 600; k++) {
		int rr = parse_one(d, k, &rk);

		if (rc == SL_OK && k >= r.header_len)
			CHECK(rr == SL_OK && rk.header_len == r.header_len);
		else if (rc == SL_OK)
			CHECK(rr == SL_AGAIN);
		else
			CHECK(rr == SL_AGAIN || rr == rc);
	}
	return 0;
}
