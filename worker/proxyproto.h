/*
 * proxyproto: the PROXY protocol, v1 (text) and v2 (binary).
 *
 * Owns both directions: parsing the header an inbound with
 * acceptProxyProtocol receives (with go-proxyproto v0.15.0's rules, the
 * library Xray uses) and writing the header a fallback with xver 1 or 2
 * sends to its dest (with Xray's bytes).  Pure functions over buffers: no
 * I/O, no allocation.
 */
#ifndef SL_WORKER_PROXYPROTO_H
#define SL_WORKER_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest header sl_pp_write can produce (v1 TCP6: 104 bytes). */
#define SL_PP_MAX_WRITE	108

struct sl_pp_result {
	int	 local;		/* 1: LOCAL/UNKNOWN: keep the real socket addresses */
	struct sockaddr_storage src, dst;	/* valid when !local */
	socklen_t src_len, dst_len;
};

/*
 * Parse a PROXY header at the start of buf.  SL_OK (*used = header bytes),
 * SL_AGAIN (a prefix of a valid header: need more bytes), SL_DECLINED (not a
 * PROXY header at all), SL_ERROR (malformed).
 * v1: line <= 107 bytes incl CRLF, must end CRLF, "PROXY TCP4|TCP6|UNKNOWN
 * ...", exactly 6 tokens for TCP4/6, families must match, ports valid.
 * v2: sig + ver/cmd 0x20/0x21, fam/proto per go-proxyproto, len <= 4096,
 * TLVs skipped, UNSPEC only with LOCAL, unix addresses -> treat as local.
 */
int	 sl_pp_parse(const uint8_t *buf, size_t len, size_t *used,
	    struct sl_pp_result *);

/*
 * Write the header Xray writes for xver 1 or 2 (spec 1.6).  src or dst not
 * an IP socket address -> "PROXY UNKNOWN\r\n" / the 16-byte v2 LOCAL.  The
 * family is chosen by src; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4
 * and is printed dotted.  Mixed families, where Xray writes a malformed
 * header: an IPv6 src with an IPv4 dst is written as TCP6 with the dst
 * v4-mapped (v2: Xray's exact bytes; v1: "::ffff:a.b.c.d" instead of Xray's
 * dotted form, which receivers reject); an IPv4 src with an IPv6 dst is
 * written as UNKNOWN.  Zone ids are not written.
 * Returns bytes written, 0 for xver 0, -1 for another xver or if cap is too
 * small (SL_PP_MAX_WRITE is always enough).
 */
int	 sl_pp_write(int xver, const struct sockaddr *src,
	    const struct sockaddr *dst, uint8_t *out, size_t cap);

#endif
