/*
 * types: small types shared by every part of sluice.
 *
 * Parsers of bytes from the network return one of the SL_* statuses below
 * (the nginx set, trimmed): OK, AGAIN (need more bytes), DECLINED (not
 * mine), ERROR (mine, but malformed).
 */
#ifndef SL_SHM_TYPES_H
#define SL_SHM_TYPES_H

#include <stdint.h>

#define SL_OK		0
#define SL_ERROR	(-1)
#define SL_AGAIN	(-2)
#define SL_DECLINED	(-5)

/* Address types of a proxied destination (VLESS numbering). */
#define SL_ATYP_IPV4	1
#define SL_ATYP_DOMAIN	2
#define SL_ATYP_IPV6	3

/* Network commands of VLESS/Trojan requests. */
#define SL_CMD_TCP	1
#define SL_CMD_UDP	2
#define SL_CMD_MUX	3

/* sluice.relay: how plaintext pairs are relayed (worker/relay.c). */
enum sl_relay_mode {
	SL_RELAY_COPY = 0, SL_RELAY_SPLICE = 1, SL_RELAY_SOCKMAP = 2
};

/* FNV-1a of a C string: the key of the master's string hash tables. */
static inline uint32_t
sl_str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* A destination requested by a client. */
struct sl_target {
	uint8_t		atyp;		/* SL_ATYP_* */
	uint8_t		cmd;		/* SL_CMD_* */
	uint16_t	port;		/* host order */
	uint8_t		ip[16];		/* IPV4: first 4 bytes */
	char		host[256];	/* DOMAIN: NUL-terminated */
};

#define SL_ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

#endif
