/*
 * users: the state database's users as the running master serves them.
 *
 * Owns the list loaded from the database, checked and converted for the
 * compiler (struct sl_cuser), whether a load changed what a table image
 * depends on (credentials, levels, flows, inbounds), and each user's
 * admission: disabled, expired, over quota, or allowed with a connection
 * limit, as written to the counters region for the workers.
 */
#ifndef SL_MASTER_USERS_H
#define SL_MASTER_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "master/compile.h"
#include "master/db.h"

struct sl_cnames;
struct sl_cnt_region;

struct sl_users {
	struct sl_db_users	 db;	/* as loaded */
	struct sl_cuser		*cu;	/* the ones compiled, db order */
	size_t			 ncu;
	uint64_t		 serial;	/* users_serial when loaded */
	uint8_t			*was;		/* counter ids with a user row */
	uint32_t		 nwas;
};

/*
 * Load every user of DB into U, replacing what it held; *CHANGED: what
 * an image is compiled from changed.  A user whose email is a client of
 * CF, or whose credentials do not parse, is left out, with one line each
 * in WARN.  0, or -1 with sl_db_error(DB) and U untouched.
 */
int	 sl_users_load(struct sl_db *, const struct sl_conf *,
	    struct sl_users *u, int *changed, struct sl_errors *warn);
void	 sl_users_free(struct sl_users *);
/* A database user naming inbound TAGS (none: every inbound) joins the
 * inbound tagged TAG: 1 or 0. */
int	 sl_users_joins(char *const *tags, size_t ntags, const char *tag);
/* The fields of the image input, for a compile. */
void	 sl_users_extra(const struct sl_users *, struct sl_compile_extra *);

/* The bytes counted against user EMAIL's quota that the database does
 * not hold yet (from the master's fold). */
typedef uint64_t (*sl_users_unsaved_fn)(void *arg, const char *email);

/*
 * Write every user's admission to the region at time NOW, with
 * UNSAVED(arg, email) added to the stored usage.  Users that left the
 * database are refused too.  Returns the number newly refused (the
 * region's epoch moved: workers re-check their connections).
 */
size_t	 sl_users_enforce(struct sl_users *, struct sl_cnames *,
	    struct sl_cnt_region *, time_t now, sl_users_unsaved_fn,
	    void *arg);
/* Bytes added to EMAIL's stored usage by a flush. */
void	 sl_users_used(struct sl_users *, const char *email, uint64_t up,
	    uint64_t down);

#endif
