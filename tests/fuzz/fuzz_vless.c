/*
 * fuzz_vless: sl_vless_parse on arbitrary bytes.
 *
 * Invariants (abort on violation): SL_OK gives a header inside the input
 * with a valid command and address and NUL-terminated strings; SL_ERROR
 * always says why; a prefix of the input never gets another answer than
 * SL_AGAIN or the input's own (an SL_OK header is SL_AGAIN until whole).
 */
#include <stdlib.h>
#include <string.h>

#include "shm/types.h"
#include "worker/vless.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static int
parse_one(const uint8_t *d, size_t n, struct sl_vless_req *r)
{
	const char *why = NULL;
	int rc;

	memset(r, 0x5a, sizeof(*r));
	rc = sl_vless_parse(d, n, r, &why);
	CHECK(rc == SL_OK || rc == SL_AGAIN || rc == SL_ERROR);
	if (rc == SL_ERROR)
		CHECK(why != NULL && why[0] != '\0');
	if (rc != SL_OK)
		return rc;
	CHECK(r->header_len >= 19 && r->header_len <= n);
	CHECK(memchr(r->flow, '\0', sizeof(r->flow)) != NULL);
	CHECK(r->target.cmd >= SL_CMD_TCP && r->target.cmd <= SL_CMD_MUX);
	CHECK(r->target.atyp >= SL_ATYP_IPV4 && r->target.atyp <= SL_ATYP_IPV6);
	if (r->target.atyp == SL_ATYP_DOMAIN)
		CHECK(strlen(r->target.host) > 0 &&
		    strlen(r->target.host) < sizeof(r->target.host));
	CHECK(memcmp(r->uuid, d + 1, 16) == 0);
	CHECK(r->route == (d[7] << 8 | d[8]));
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct sl_vless_req r, rk;
	uint8_t key[16];
	int rc;

	rc = parse_one(d, n, &r);
	if (n >= 16) {
		sl_vless_key(d, key);
		CHECK(key[6] == 0 && key[7] == 0);
	}
	/* Headers are at most 18 + 255 + 4 + 256 bytes: all prefixes. */
	for (size_t k = 0; k < n && k < 600; k++) {
		int rr = parse_one(d, k, &rk);

		if (rc == SL_OK && k >= r.header_len)
			CHECK(rr == SL_OK && rk.header_len == r.header_len &&
			    memcmp(&rk.target, &r.target, sizeof(r.target)) == 0);
		else if (rc == SL_OK)
			CHECK(rr == SL_AGAIN);
		else
			CHECK(rr == SL_AGAIN || rr == rc);
	}
	return 0;
}
