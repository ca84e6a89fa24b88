/*
 * trojan: the Trojan request header (spec 2.1).
 *
 *	hex(SHA-224) (56) | CR LF | CMD | ATYP | address | port (BE) | CR LF
 *
 * Xray checks only that byte 56 is CR (that is how it tells Trojan from
 * traffic to fall back with); the other CR LF bytes are read and ignored.
 */
#include <string.h>

#include "worker/trojan.h"
#include "worker/vless.h"

#define TROJAN_KEY	56
#define TROJAN_MIN	58	/* key and CR LF: less is "not trojan" */

#define TROJAN_CMD_UDP	0x03

/* SOCKS ATYP to VLESS numbering; 0 for an unknown type. */
static uint8_t
trojan_atyp(uint8_t socks)
{
	switch (socks) {
	case 1:
		return SL_ATYP_IPV4;
	case 3:
		return SL_ATYP_DOMAIN;
	case 4:
		return SL_ATYP_IPV6;
	}
	return 0;
}

int
sl_trojan_parse(const uint8_t *buf, size_t len, struct sl_trojan_req *r,
    const char **why)
{
	size_t off = TROJAN_MIN, used;
	int rc;

	if (len < TROJAN_MIN || buf[TROJAN_KEY] != '\r')
		return SL_DECLINED;
	memcpy(r->key, buf, TROJAN_KEY);
	if (len - off < 2)		/* CMD, ATYP */
		return SL_AGAIN;
	r->target.cmd = buf[off] == TROJAN_CMD_UDP ? SL_CMD_UDP : SL_CMD_TCP;
	rc = sl_vless_parse_addr(buf + off + 2, len - off - 2,
	    trojan_atyp(buf[off + 1]), &used, &r->target, why);
	if (rc != SL_OK)
		return rc;
	off += 2 + used;
	if (len - off < 4)		/* port, CR LF */
		return SL_AGAIN;
	r->target.port = (uint16_t)(buf[off] << 8 | buf[off + 1]);
	r->header_len = off + 4;
	return SL_OK;
}
