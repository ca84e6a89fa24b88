/*
 * tls: server-side TLS for one inbound (OpenSSL 3, non-blocking).
 *
 * Owns the SSL_CTX objects of an inbound (one per certificate), the choice
 * of certificate by SNI, rejectUnknownSni, the TLS version bounds and the
 * ALPN choice, which follows Go's crypto/tls so that fallbacks see the
 * same "alpn" value Xray would, and session tickets under the master's
 * shared keys (shm/tickets.h).
 */
#ifndef SL_WORKER_TLS_H
#define SL_WORKER_TLS_H

#include <openssl/ssl.h>

#include "shm/image.h"

struct sl_tls_ctx;
struct sl_tickets;

/* TICKETS: the master's ticket keys (must outlive the contexts); NULL
 * turns session tickets off, as does an inbound without
 * enableSessionResumption. */
struct sl_tls_ctx *sl_tls_ctx_new(const struct sl_img *, uint32_t inbound,
		    const struct sl_tickets *tickets, const char **err);
void		 sl_tls_ctx_free(struct sl_tls_ctx *);
SSL		*sl_tls_new(struct sl_tls_ctx *, int fd);

/* Go's negotiateALPN over wire-format lists: 0 and the choice in out, or
 * 1 = no ALPN (NOACK), or -1 = no overlap (fatal alert). */
int		 sl_tls_alpn_choose(const uint8_t *server, size_t slen,
		    const uint8_t *client, size_t clen,
		    const uint8_t **out, uint8_t *outlen);

#endif
