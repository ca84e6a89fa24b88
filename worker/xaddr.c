/*
 * xaddr: Xray's net.ParseAddress and Go's strings.TrimSpace over bytes,
 * Go's text form of an IPv6 address.
 */
#include <arpa/inet.h>
#include <string.h>

#include "shm/types.h"
#include "worker/xaddr.h"

/* UTF-8 of the non-ASCII runes unicode.IsSpace accepts. */
static const char *const uspaces[] = {
	"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
	"\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85",
	"\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89",
	"\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
	"\xe2\x81\x9f", "\xe3\x80\x80",
};

static int
ascii_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/*
 * Length of the white-space rune that starts (END: ends) S[0..n), or 0.
 * A whole encoding at either end is the rune Go decodes there: each
 * starts with a lead byte and goes on with continuation bytes only.
 */
static size_t
space_len(const char *s, size_t n, int end)
{
	unsigned char c;

	if (n == 0)
		return 0;
	if ((c = (unsigned char)s[end ? n - 1 : 0]) < 0x80)
		return ascii_space(c) ? 1 : 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(uspaces); i++) {
		size_t k = strlen(uspaces[i]);

		if (n >= k && memcmp(end ? s + n - k : s, uspaces[i], k) == 0)
			return k;
	}
	return 0;
}

void
sl_xaddr_trim(const char **s, size_t *n)
{
	size_t k;

	while ((k = space_len(*s, *n, 0)) > 0) {
		*s += k;
		*n -= k;
	}
	while ((k = space_len(*s, *n, 1)) > 0)
		*n -= k;
}

/* IPv4, IPv6 (a v4-mapped one as IPv4) or 0. */
static uint8_t
ip_parse(const char *s, size_t n, uint8_t ip[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	char tmp[64];

	memset(ip, 0, 16);
	if (n >= sizeof(tmp) || memchr(s, '\0', n) != NULL)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, ip) == 1)
		return SL_ATYP_IPV4;
	if (inet_pton(AF_INET6, tmp, ip) != 1)
		return 0;
	if (memcmp(ip, mapped, 12) != 0)
		return SL_ATYP_IPV6;
	memmove(ip, ip + 12, 4);
	memset(ip + 4, 0, 12);
	return SL_ATYP_IPV4;
}

uint8_t
sl_xaddr_parse(const char *s, size_t n, uint8_t ip[16], const char **name,
    size_t *name_len)
{
	uint8_t atyp;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n > 0 && (!alnum((unsigned char)s[0]) ||
	    !alnum((unsigned char)s[n - 1])))
		sl_xaddr_trim(&s, &n);
	*name = s;
	*name_len = n;
	atyp = ip_parse(s, n, ip);
	return atyp != 0 ? atyp : SL_ATYP_DOMAIN;
}

size_t
sl_xaddr_ip6_str(const uint8_t ip[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	int zs = -1, zlen = 0;
	size_t o = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
	for (int i = 0; i < 8; i++) {
		int j = i;

		while (j < 8 && w[j] == 0)
			j++;
		if (j - i >= 2 && j - i > zlen) {
			zs = i;
			zlen = j - i;
		}
		if (j > i)
			i = j - 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == zs) {
			out[o++] = ':';
			out[o++] = ':';
			i += zlen - 1;
			continue;
		}
		if (i > 0 && i != zs + zlen)
			out[o++] = ':';
		for (int sh = 12; sh >= 0; sh -= 4)
			if (sh == 0 || w[i] >> sh != 0)
				out[o++] = hex[w[i] >> sh & 0xf];
	}
	return o;
}
