/*
 * vless: the VLESS request header (spec 3), and the destination address
 * reader shared with Trojan (Xray's common/protocol address parser).
 *
 * Pure functions over the client's first bytes: no I/O, no allocation.
 */
#ifndef SL_WORKER_VLESS_H
#define SL_WORKER_VLESS_H

#include <stddef.h>
#include <stdint.h>

#include "shm/types.h"

/* Copy of the UUID with bytes 6,7 zeroed: the user-table key. */
void	 sl_vless_key(const uint8_t uuid[16], uint8_t key[16]);

struct sl_vless_req {
	uint8_t	 uuid[16];		/* as sent */
	uint16_t route;			/* (uuid[6]<<8)|uuid[7] */
	char	 flow[64];		/* from addons, "" if none */
	struct sl_target target;	/* cmd, atyp, address, port */
	size_t	 header_len;		/* bytes of header; payload follows */
};

/*
 * buf = the client's bytes from byte 0 (version).  Precondition checks the
 * caller already did: len >= 18, buf[0]==0, the UUID is a known user (a
 * shorter buf gives SL_AGAIN, another version SL_ERROR).
 * Returns SL_OK, SL_AGAIN (header incomplete), or SL_ERROR with *why set to
 * a static string.  Commands: 1 TCP, 2 UDP, 3 Mux (no address; target host
 * "v1.mux.cool", port 0 -- parse only); 4 (Reverse) is refused.  A flow
 * longer than 63 bytes cannot be a known one: "unknown request flow".
 */
int	 sl_vless_parse(const uint8_t *buf, size_t len, struct sl_vless_req *,
	    const char **why);

/* The response header: always the two bytes 00 00. */
#define SL_VLESS_RESPONSE_LEN 2

/*
 * The address that follows an ATYP byte, atyp in VLESS numbering
 * (SL_ATYP_*): 4 bytes IPv4, 16 bytes IPv6, or a length byte and a domain.
 * Fills t->atyp/ip/host (v4-mapped IPv6 and IP literals sent as domains
 * become IPs, as in Xray) and *used.  SL_OK, SL_AGAIN, SL_ERROR (*why).
 * Shared with the Trojan parser.
 */
int	 sl_vless_parse_addr(const uint8_t *p, size_t len, uint8_t atyp,
	    size_t *used, struct sl_target *t, const char **why);

#endif
