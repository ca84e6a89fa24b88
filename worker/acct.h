/*
 * acct: a worker's part of traffic accounting and user admission.
 *
 * Owns the counter ids of a proxied connection, the bytes of it already
 * counted, the check of a user against the admission the master writes
 * (disabled, expired, over quota, removed, connection limit), and the
 * worker's periodic pass: it moves the bytes relayed since the last pass
 * into the worker's slot and ends the connections of users the master
 * has refused since.  Fallback traffic is not counted (as in Xray).
 */
#ifndef SL_WORKER_ACCT_H
#define SL_WORKER_ACCT_H

#include "worker/conn.h"

#define SL_ACCT_TICK_MS	1000

/* A new connection: counted under nothing yet. */
void	 sl_acct_init(struct sl_conn *);
/* The first packet named user ID (the image's counter id): NULL when it
 * is admitted (counted from now on), else why it is refused. */
const char *sl_acct_admit(struct sl_conn *, uint32_t id);
/* Routing chose c->outbound. */
void	 sl_acct_outbound(struct sl_conn *);
/* The connection ends (after the relay completed its byte counts). */
void	 sl_acct_close(struct sl_conn *);
/* The worker's periodic pass, from now until sl_acct_stop. */
void	 sl_acct_start(struct sl_wctx *);
void	 sl_acct_stop(struct sl_wctx *);

#endif
