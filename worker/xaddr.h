/*
 * xaddr: an address written as text, read the way Xray reads it
 * (common/net/address.go ParseAddress), and Go's white-space trim that
 * reading relies on; an IPv6 address written as Go writes it.  Shared by
 * the VLESS/Trojan address reader, the sniffers and the PROXY header
 * writer.  Pure functions: no I/O, no allocation.
 */
#ifndef SL_WORKER_XADDR_H
#define SL_WORKER_XADDR_H

#include <stddef.h>
#include <stdint.h>

/* Go's strings.TrimSpace: ASCII white space and the Unicode White_Space
 * runes (UTF-8) off both ends of S[0..N). */
void	 sl_xaddr_trim(const char **s, size_t *n);

/*
 * net.ParseAddress(S[0..N)): one pair of enclosing brackets dropped, then
 * white space (when an end is not alphanumeric, as Xray tests), then
 * Go's net.ParseIP (inet_pton agrees: no leading zeros in IPv4, no
 * zones).  Returns SL_ATYP_IPV4 (a v4-mapped IPv6 too; ip[0..4), the
 * rest zero) or SL_ATYP_IPV6 with IP, else SL_ATYP_DOMAIN named by the
 * *NAME_LEN bytes at *NAME (inside S).
 */
uint8_t	 sl_xaddr_parse(const char *s, size_t n, uint8_t ip[16],
	    const char **name, size_t *name_len);

/* Go's net.IP.String of an IPv6 address that is not v4-mapped (RFC 5952:
 * lower-case hex, the first longest run of two or more zero groups as
 * "::") into OUT, not NUL-terminated; returns its length (at most 39). */
size_t	 sl_xaddr_ip6_str(const uint8_t ip[16], char *out);

#endif
