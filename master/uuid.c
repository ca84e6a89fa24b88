/*
 * uuid: VLESS UUID strings and Trojan password keys (see uuid.h).
 *
 * Follows Xray's common/uuid ParseString byte for byte, including its
 * leniency about hyphens, so that every id an Xray server accepts names
 * the same user here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "master/uuid.h"
#include "shm/log.h"

static const int uuid_groups[] = { 8, 4, 4, 4, 12 };

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* UUIDv5 in Xray's flavour: the namespace is 16 zero bytes. */
static void
uuid_v5(const char *s, size_t len, uint8_t out[16])
{
	static const uint8_t ns[16];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, ns, sizeof(ns)) != 1 ||
	    EVP_DigestUpdate(ctx, s, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		sl_fatal("uuid: SHA-1 failed");
	EVP_MD_CTX_free(ctx);
	memcpy(out, md, 16);
	out[6] = (out[6] & 0x0F) | 0x50;
	out[8] = (out[8] & 0x3F) | 0x80;
}

int
sl_uuid_parse(const char *s, uint8_t out[16])
{
	size_t len = strlen(s), g;
	const char *p = s, *end = s + len;
	uint8_t *b = out;

	if (len < 32 || len > 36) {
		if (len == 0 || len > 30)
			return -1;
		uuid_v5(s, len, out);
		return 0;
	}
	for (g = 0; g < sizeof(uuid_groups) / sizeof(uuid_groups[0]); g++) {
		int i;

		if (p < end && *p == '-')
			p++;
		if (end - p < uuid_groups[g])
			return -1;
		for (i = 0; i < uuid_groups[g]; i += 2) {
			int hi = hexval((unsigned char)p[i]);
			int lo = hexval((unsigned char)p[i + 1]);

			if (hi < 0 || lo < 0)
				return -1;
			*b++ = (uint8_t)(hi << 4 | lo);
		}
		p += uuid_groups[g];
	}
	return 0;
}

void
sl_uuid_format(const uint8_t in[16], char out[SL_UUID_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *o = out;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[in[i] >> 4];
		*o++ = hex[in[i] & 0x0F];
	}
	*o = '\0';
}

void
sl_trojan_key(const char *password, char out[SL_TROJAN_KEYLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(password, strlen(password), md, &mdlen, EVP_sha224(),
	    NULL) != 1 || mdlen != SL_TROJAN_KEYLEN / 2)
		sl_fatal("uuid: SHA-224 failed");
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0F];
	}
	out[SL_TROJAN_KEYLEN] = '\0';
}
