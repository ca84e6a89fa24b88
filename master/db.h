/*
 * db: the state database (DESIGN.md §6), SQLite in WAL mode.
 *
 * Owns the schema, its version and forward migrations, and every SQL
 * statement sluice runs: users (credentials, level, flow, enabled, quota,
 * expiry, connection limit, the inbounds they join), traffic per day per
 * user / inbound / outbound, and balancer probe history.  The master and
 * sluicectl both go through this module; nothing else includes sqlite3.h.
 *
 * Every function returns 0 or -1; on -1 sl_db_error() says why in one
 * line ("database is locked", "file is not a database", ...).  Writes are
 * single transactions, so a killed writer leaves the last committed state.
 */
#ifndef SL_MASTER_DB_H
#define SL_MASTER_DB_H

#include <stddef.h>
#include <stdint.h>

struct sl_db;

#define SL_DB_SCHEMA	1	/* PRAGMA user_version after migrations */

/* sl_db_open flags */
#define SL_DB_CREATE	0x1	/* create the file (and its directory) */
#define SL_DB_READONLY	0x2	/* never write; no migration */

/*
 * Open PATH, wait up to BUSY_MS for a lock, switch to WAL and migrate the
 * schema forward.  A database newer than SL_DB_SCHEMA, or one that is not
 * a database, fails.  Returns the handle, or NULL with the reason in ERR.
 */
struct sl_db	*sl_db_open(const char *path, int flags, int busy_ms,
		    char *err, size_t errlen);
void		 sl_db_close(struct sl_db *);
const char	*sl_db_error(const struct sl_db *);

/* A user as stored.  Strings are malloc'ed; sl_db_user_free frees them. */
struct sl_db_user {
	int64_t		 id;
	char		*email;		/* unique, not empty */
	char		*uuid;		/* VLESS id, canonical form */
	char		*password;	/* Trojan password */
	int		 level;
	char		*flow;		/* "" = none */
	int		 enabled;
	uint64_t	 quota;		/* bytes up + down, 0 = none */
	int64_t		 expire;	/* unix time it stops, 0 = never */
	uint32_t	 max_conn;	/* 0 = no limit */
	uint64_t	 used_up, used_down; /* counted against the quota */
	char		**inbounds;	/* tags it joins; none = every inbound */
	size_t		 ninbounds;
	int64_t		 created, updated;	/* unix time */
};

struct sl_db_users {
	struct sl_db_user *v;
	size_t		 n;
};

/* Fields of sl_db_user_set */
#define SL_DBU_UUID	0x001
#define SL_DBU_PASSWORD	0x002
#define SL_DBU_LEVEL	0x004
#define SL_DBU_FLOW	0x008
#define SL_DBU_ENABLED	0x010
#define SL_DBU_QUOTA	0x020
#define SL_DBU_EXPIRE	0x040
#define SL_DBU_MAXCONN	0x080
#define SL_DBU_INBOUNDS	0x100	/* replaces the whole list */
#define SL_DBU_USED	0x200	/* used_up, used_down (a usage reset) */

/* All users, ordered by email. */
int	 sl_db_users_load(struct sl_db *, struct sl_db_users *);
void	 sl_db_users_free(struct sl_db_users *);
void	 sl_db_user_free(struct sl_db_user *);
/* 0 and *U filled, 1 if there is no such user, -1 on error. */
int	 sl_db_user_get(struct sl_db *, const char *email, struct sl_db_user *u);
/* Insert U (id, created, updated are set here).  1 if the email is
 * taken, -1 on error. */
int	 sl_db_user_add(struct sl_db *, const struct sl_db_user *u);
/* Change FIELDS (SL_DBU_*) of EMAIL to U's values: 1 if no such user. */
int	 sl_db_user_set(struct sl_db *, const char *email, unsigned fields,
	    const struct sl_db_user *u);
/* 1 if no such user. */
int	 sl_db_user_del(struct sl_db *, const char *email);
/* A number every user change (add, set, del) increases; the master
 * compares it to notice changes made while it could not be told. */
int	 sl_db_users_serial(struct sl_db *, uint64_t *serial);

/* Traffic: what the master folded from the counters region since the
 * last flush, added to the day's row of each (kind, name). */
enum sl_db_kind { SL_DB_USER = 0, SL_DB_INBOUND = 1, SL_DB_OUTBOUND = 2 };

struct sl_db_traffic {
	enum sl_db_kind	 kind;
	const char	*name;		/* email or tag */
	uint64_t	 up, down, conns;
};

/* One balancer probe result, as the observatory measured it. */
struct sl_db_probe {
	int64_t		 ts;		/* unix time of the probe */
	const char	*outbound;	/* tag */
	int		 alive;
	uint32_t	 delay_ms;	/* 0 when not alive */
};

/* The UTC day of unix time T as "YYYY-MM-DD": how traffic rows name
 * their day and how expiry dates are written. */
void	 sl_db_day(int64_t t, char day[11]);

/*
 * One transaction: add every T to traffic (DAY is "YYYY-MM-DD", UTC) and,
 * for SL_DB_USER rows of users in the table, to used_up/used_down; append
 * P to the probe history and drop history older than 7 days.  All or
 * nothing: on -1 the caller keeps its figures and tries again later.
 */
int	 sl_db_flush(struct sl_db *, const char *day,
	    const struct sl_db_traffic *t, size_t nt,
	    const struct sl_db_probe *p, size_t np);

/* Stored traffic rows of KIND, ordered by name then day; NAME and SINCE
 * ("YYYY-MM-DD", inclusive) are optional filters. */
struct sl_db_day {
	char		*name;
	char		 day[11];
	uint64_t	 up, down, conns;
};

struct sl_db_days {
	struct sl_db_day *v;
	size_t		 n;
};

int	 sl_db_traffic_days(struct sl_db *, enum sl_db_kind, const char *name,
	    const char *since, struct sl_db_days *);
void	 sl_db_days_free(struct sl_db_days *);

/* The last LIMIT probes of each outbound, newest first. */
struct sl_db_probes {
	struct sl_db_probe *v;		/* outbound strings are malloc'ed */
	size_t		 n;
};

int	 sl_db_probes_recent(struct sl_db *, size_t limit, struct sl_db_probes *);
void	 sl_db_probes_free(struct sl_db_probes *);

#endif
