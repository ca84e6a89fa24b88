/*
 * tickets: the TLS session ticket keys every worker shares.
 *
 * Owns the small region in which the master keeps the keys that encrypt
 * and authenticate session tickets: a ring of the current key and the 2
 * before it, and the seqlock through which workers copy them.  The master
 * maps the region once, before its first fork, shared and anonymous, and
 * keeps it for its whole life: workers of every generation (and respawned
 * ones) inherit the same mapping at the same address, so a ticket one
 * worker issued is read by any other, before and after a reload.  A new
 * master starts with new keys.
 *
 * The master is the only writer: a new key every SL_TICKETS_PERIOD_MS;
 * a ticket is accepted while its key is one of the ring's (so for at most
 * 3 periods) and its session's SL_TICKETS_LIFETIME_S lasts, and renewed
 * when its key is not the current one.
 */
#ifndef SL_SHM_TICKETS_H
#define SL_SHM_TICKETS_H

#include <stdint.h>

#define SL_TICKET_NAME_LEN	16	/* OpenSSL's key_name */
#define SL_TICKET_AES_LEN	32	/* AES-256-CBC */
#define SL_TICKET_HMAC_LEN	32	/* HMAC-SHA256 */
#define SL_TICKETS_KEYS		3	/* the current key, the 2 before it */
#define SL_TICKETS_PERIOD_MS	(12ull * 3600 * 1000)
#define SL_TICKETS_RETRY_MS	60000	/* after a failed rotation */
/* A session's lifetime (the ticket's lifetime hint): two periods, which
 * the ring always covers, since a key encrypts during its first period
 * and decrypts for three. */
#define SL_TICKETS_LIFETIME_S	(2 * SL_TICKETS_PERIOD_MS / 1000)

struct sl_ticket_key {
	uint8_t		 name[SL_TICKET_NAME_LEN];
	uint8_t		 aes[SL_TICKET_AES_LEN];
	uint8_t		 hmac[SL_TICKET_HMAC_LEN];
	uint64_t	 created;	/* the master's CLOCK_MONOTONIC, ms */
};

struct sl_tickets;

/*
 * Master: map a new region holding one fresh key made at NOW (ms of
 * CLOCK_MONOTONIC).  NULL with *err on failure.
 */
struct sl_tickets *sl_tickets_create(uint64_t now, const char **err);
/* Unmap (the master at exit; a child that needs no keys).  NULL is ok. */
void	 sl_tickets_free(struct sl_tickets *);
/* A child that only reads: the mapping becomes read-only.  NULL is ok. */
void	 sl_tickets_readonly(struct sl_tickets *);

/* Master: a new random key, made current at NOW; the oldest of the ring
 * goes.  -1 if no random bytes could be had (the keys are unchanged). */
int	 sl_tickets_rotate(struct sl_tickets *, uint64_t now);
/* Master: make K the current key (what sl_tickets_rotate does with
 * random bytes; tests give their own). */
void	 sl_tickets_install(struct sl_tickets *, const struct sl_ticket_key *);
/* Master: when the next rotation is due (CLOCK_MONOTONIC ms);
 * UINT64_MAX for NULL. */
uint64_t sl_tickets_due(const struct sl_tickets *);
/* Master: rotate if due at NOW.  1 rotated, 0 not due (or NULL), -1 the
 * rotation failed and is tried again SL_TICKETS_RETRY_MS later. */
int	 sl_tickets_rotate_due(struct sl_tickets *, uint64_t now);

/*
 * Workers: a consistent copy of the current key in *out; 0, or -1 if none
 * could be read (a writer that died in the middle of a write).
 */
int	 sl_tickets_current(const struct sl_tickets *, struct sl_ticket_key *);
/*
 * Workers: the key named NAME copied into *out and its age: 0 current,
 * 1 and 2 the previous ones; -1 unknown (never made, or gone).
 */
int	 sl_tickets_find(const struct sl_tickets *,
	    const uint8_t name[SL_TICKET_NAME_LEN], struct sl_ticket_key *);

#endif
