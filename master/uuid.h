/*
 * uuid: user identifiers exactly as Xray derives them.
 *
 * VLESS ids are 16-byte UUIDs; a configured id that is not a UUID but a
 * short string is mapped to a UUIDv5 (Xray common/uuid).  Trojan clients
 * are matched on the hex SHA-224 of their password, which is what the
 * client sends in its request header.
 */
#ifndef SL_MASTER_UUID_H
#define SL_MASTER_UUID_H

#include <stdint.h>

#define SL_UUID_STRLEN		36	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define SL_TROJAN_KEYLEN	56	/* hex SHA-224 */

/*
 * 32-36 characters: hex in groups 8-4-4-4-12, each group optionally
 * preceded by one '-' (what Xray accepts; characters after the last group
 * are ignored, as in Xray).  1-30 characters: UUIDv5 of the string.
 * Returns 0, or -1 for the empty string, 31 or more than 36 characters,
 * or a bad hex group.
 */
int	 sl_uuid_parse(const char *s, uint8_t out[16]);
/* Canonical lower-case form, NUL-terminated. */
void	 sl_uuid_format(const uint8_t in[16], char out[SL_UUID_STRLEN + 1]);
/* Lower-case hex SHA-224 of the password, NUL-terminated. */
void	 sl_trojan_key(const char *password, char out[SL_TROJAN_KEYLEN + 1]);

#endif
