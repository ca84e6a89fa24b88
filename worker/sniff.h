/*
 * sniff: Xray's TCP content sniffers (spec 5.3) -- HTTP/1 Host and
 * headers, the TLS ClientHello SNI, the BitTorrent handshake -- run on the
 * first bytes a client sends inside a VLESS/Trojan tunnel, for routing.
 *
 * Pure functions over a byte buffer: no I/O, no allocation, no state of
 * their own.  The state Xray keeps between two sniffing attempts (which
 * sniffers are still in play) is the caller's WHICH mask.
 */
#ifndef SL_WORKER_SNIFF_H
#define SL_WORKER_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"		/* SL_IMG_PROTO_* */
#include "shm/route.h"		/* struct sl_route_attr */
#include "shm/types.h"

/*
 * Sniffer bits are the SL_IMG_PROTO_* values (= master's SL_SNIFF_*).
 * Xray runs every content sniffer of the network whatever destOverride
 * says (destOverride only decides the override; a "bittorrent" protocol
 * rule needs the BitTorrent sniffer), so a caller starts from
 * SL_SNIFF_TCP.  QUIC is UDP and not implemented: its bit is ignored.
 */
#define SL_SNIFF_TCP	(SL_IMG_PROTO_HTTP | SL_IMG_PROTO_TLS | SL_IMG_PROTO_BT)

/* "A sniffer matched its protocol but needs more data", beside the
 * shm/types.h statuses (outside their range on purpose). */
#define SL_SNIFF_MORE	(-10)

/* Xray sniffs a cache of at most this many first bytes; sl_sniff looks
 * at no more. */
#define SL_SNIFF_MAX_BYTES	32767

#define SL_SNIFF_MAX_ATTRS	32

struct sl_sniff_result {
	const char	*protocol;	/* "http1", "tls", "bittorrent"; NULL
					 * unless SL_OK */
	/*
	 * Xray's SniffResult.Domain(), ASCII lower-cased: the TLS server
	 * name, or the HTTP Host without its port where an IP literal is
	 * canonical ("192.0.2.1", "[2001:db8::1]").  "" when none; a TLS
	 * ClientHello with an empty host_name is SL_OK with "".
	 */
	char		 domain[256];
	/*
	 * Xray's net.ParseAddress(domain): what an override targets and what
	 * routing sees.  SL_ATYP_IPV4/IPV6 with ip (a v4-mapped IPv6 is
	 * IPv4), or SL_ATYP_DOMAIN named by the name_len bytes at
	 * domain + name_off (domain bar enclosing brackets and white space);
	 * 0 when domain is "".  An IP is no routing domain.
	 */
	uint8_t		 atyp;
	uint8_t		 ip[16];
	size_t		 name_off, name_len;
	/*
	 * HTTP only: every header line "key: value" up to the end of the
	 * header block (a repeated key keeps its last value, as in Xray's
	 * map) plus ":method" and ":path" from a request line of exactly
	 * three space-separated parts.  Filled whenever the HTTP sniffer got
	 * past the method, also when it returns SL_AGAIN or declines: Xray
	 * stores the attributes of its first attempt that has any and
	 * never replaces them, whether or not the sniff succeeds.  Beyond
	 * SL_SNIFF_MAX_ATTRS keys (two kept for the request line), further
	 * new keys are dropped.
	 *
	 * They are routing's attributes (shm/route.h), so the attrs
	 * condition reads them as they are.  Pointers into the caller's
	 * buffer (or, for the keys ":method" and ":path", static strings);
	 * not NUL-terminated.  Keys keep the case the client sent: Xray
	 * lower-cases them, so compare them ASCII-case-insensitively --
	 * sl_sniff_find_attr and sl_route_pick do.  Values are trimmed of
	 * white space as Go's bytes.TrimSpace does.
	 */
	size_t		 nattrs;
	struct sl_route_attr attrs[SL_SNIFF_MAX_ATTRS];
};

/*
 * Run the sniffers in *WHICH (bits above) over the LEN first bytes of the
 * connection, in Xray's order: HTTP, TLS, BitTorrent.  Returns
 *	SL_OK		*r filled by the first sniffer that matched; *which =
 *			its bit.
 *	SL_AGAIN	no clue yet: some sniffer cannot tell from this much.
 *			Xray counts an attempt and gives up after the second.
 *	SL_SNIFF_MORE	a sniffer matched its protocol and needs more bytes
 *			(a TLS server name with bytes <= 0x20).  Xray does not
 *			count it and reads on until its 200 ms budget is out.
 *	SL_DECLINED	no sniffer can match: sniffing failed.
 * On SL_AGAIN and SL_SNIFF_MORE *which is narrowed to the sniffers still
 * in play (Xray drops a sniffer that failed, and keeps only the one that
 * asked for more): pass it back unchanged with the grown buffer.  On
 * SL_DECLINED *which is 0.  r->protocol, domain and atyp are reset on
 * every call, nattrs too; nothing in *r is valid past the life of BUF.
 *
 * Known differences from Xray's HTTP sniffer, all where Xray reads past
 * the request head: only complete lines ('\n'-terminated) are parsed, and
 * the head ends at an empty line or a lone "\r" (Xray also parses a
 * partial last line, so a Host cut short becomes the domain, and with
 * CRLF line ends goes on into the body).  Case folding is ASCII only.  A
 * Host or server name longer than 255 bytes, or an HTTP Host holding a
 * NUL, is a mismatch of that sniffer (Xray would take it).
 */
int	 sl_sniff(const uint8_t *buf, size_t len, unsigned *which,
	    struct sl_sniff_result *r);

/* The attribute KEY (any case) of r, or NULL. */
const struct sl_route_attr *
	 sl_sniff_find_attr(const struct sl_sniff_result *r, const char *key,
	    size_t key_len);

#endif
