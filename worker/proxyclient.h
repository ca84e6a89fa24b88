/*
 * proxyclient: the client side of a SOCKS5 or HTTP CONNECT handshake.
 *
 * Owns the bytes of the handshake only: no I/O, no allocation.  The caller
 * sends what sl_pxc_output() holds, reports what went out with
 * sl_pxc_sent(), and feeds the proxy's answer to sl_pxc_input() until it
 * returns SL_OK.  The parser never consumes a byte past the proxy's reply:
 * whatever follows in the caller's buffer belongs to the tunnel.
 *
 * SOCKS5 is Xray's client (proxy/socks/protocol.go): one method offered,
 * no-auth (RFC 1928) or, with a user name, username/password (RFC 1929);
 * the next message is sent only after the proxy's answer to the previous
 * one.  HTTP is CONNECT over HTTP/1.1 (RFC 9110 9.3.6) with a Host header
 * and, with a user name, Proxy-Authorization: Basic; any 2xx status opens
 * the tunnel (Xray's HTTP client accepts 200 only; proxies answer 200).
 */
#ifndef SL_WORKER_PROXYCLIENT_H
#define SL_WORKER_PROXYCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "shm/types.h"

#define SL_PXC_SOCKS5	1
#define SL_PXC_HTTP	2

#define SL_PXC_CRED_MAX	255	/* user and password, bytes (RFC 1929) */
#define SL_PXC_OUT_MAX	1280	/* the longest CONNECT request fits */

struct sl_pxc {
	int		 kind;		/* SL_PXC_* */
	int		 state;		/* private */
	struct sl_target target;
	char		 user[SL_PXC_CRED_MAX + 1];
	char		 pass[SL_PXC_CRED_MAX + 1];
	uint8_t		 out[SL_PXC_OUT_MAX];
	size_t		 out_off, out_len;	/* pending: out[off, len) */
	uint8_t		 in[262];	/* SOCKS5: the reply so far */
	size_t		 in_len;
	char		 line[128];	/* HTTP: status line (truncated) */
	size_t		 line_len;
	uint32_t	 hdr_bytes;	/* HTTP: response header so far */
	int		 status;	/* HTTP status, 0 = line not read */
	int		 bol;		/* HTTP: line start (1), then CR (2) */
	char		 err[192];
};

/*
 * Start a handshake that asks the proxy to connect target (IPv4, IPv6 or
 * a domain).  user NULL or "" = no authentication.  SL_OK, or SL_ERROR
 * with sl_pxc_error() set (unknown kind, a credential longer than 255
 * bytes, an empty or over-long domain).
 */
int	 sl_pxc_init(struct sl_pxc *, int kind, const struct sl_target *,
	    const char *user, const char *pass);
/* The bytes to send now (*len 0: nothing until the proxy answers). */
const uint8_t *sl_pxc_output(const struct sl_pxc *, size_t *len);
/* n bytes of the output went out. */
void	 sl_pxc_sent(struct sl_pxc *, size_t n);
/*
 * Feed bytes from the proxy.  *used = bytes consumed.  SL_OK: the tunnel
 * is open and buf[*used, len) are the first tunnelled bytes; SL_AGAIN:
 * everything was consumed, send the new output (if any) and feed more;
 * SL_ERROR: the proxy refused or spoke nonsense, see sl_pxc_error().
 */
int	 sl_pxc_input(struct sl_pxc *, const uint8_t *buf, size_t len,
	    size_t *used);
const char *sl_pxc_error(const struct sl_pxc *);
/* The HTTP status of the CONNECT answer, 0 before or for SOCKS5. */
int	 sl_pxc_http_status(const struct sl_pxc *);

#endif
