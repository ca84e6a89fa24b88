/*
 * db: the state database (see db.h).
 *
 * The schema grows by an ordered list of migrations: migrations[N] takes
 * a file from PRAGMA user_version N to N + 1, inside one BEGIN IMMEDIATE
 * transaction that re-reads the version first, so two processes opening
 * an old file at once migrate it once.  Statements are prepared on first
 * use and kept with the handle: the master flushes every few seconds for
 * as long as it runs.  Every write is one BEGIN IMMEDIATE transaction, so
 * a read-modify-write (sl_db_user_set) never interleaves with another
 * writer, and a flush only ever adds to used_up / used_down.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "master/db.h"

#define PROBE_KEEP_S	(7 * 86400)	/* probe history kept */

static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY,"
	" email TEXT NOT NULL UNIQUE,"
	" uuid TEXT NOT NULL,"
	" password TEXT NOT NULL,"
	" level INTEGER NOT NULL DEFAULT 0,"
	" flow TEXT NOT NULL DEFAULT '',"
	" enabled INTEGER NOT NULL DEFAULT 1,"
	" quota INTEGER NOT NULL DEFAULT 0,"
	" expire INTEGER NOT NULL DEFAULT 0,"
	" max_conn INTEGER NOT NULL DEFAULT 0,"
	" used_up INTEGER NOT NULL DEFAULT 0,"
	" used_down INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);"
	/* a rowid table: the tags come back in the order they were given */
	"CREATE TABLE user_inbounds ("
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" tag TEXT NOT NULL,"
	" PRIMARY KEY (user_id, tag));"
	/* keyed for the reader: one name's days in order */
	"CREATE TABLE traffic ("
	" kind INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" day TEXT NOT NULL,"
	" up INTEGER NOT NULL DEFAULT 0,"
	" down INTEGER NOT NULL DEFAULT 0,"
	" conns INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (kind, name, day)) WITHOUT ROWID;"
	"CREATE TABLE probes ("
	" ts INTEGER NOT NULL,"
	" outbound TEXT NOT NULL,"
	" alive INTEGER NOT NULL,"
	" delay_ms INTEGER NOT NULL);"
	"CREATE INDEX probes_ts ON probes (ts);"
	"CREATE INDEX probes_outbound ON probes (outbound, ts);"
	"CREATE TABLE meta ("
	" key TEXT PRIMARY KEY,"
	" value) WITHOUT ROWID;"
	"INSERT INTO meta (key, value) VALUES ('users_serial', 0);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SL_DB_SCHEMA,
    "one migration per schema version");

#define USER_COLS	"id, email, uuid, password, level, flow, enabled, " \
			"quota, expire, max_conn, used_up, used_down, " \
			"created, updated"

enum db_st {
	ST_SERIAL_GET, ST_SERIAL_BUMP, ST_USER_GET, ST_USER_ALL, ST_USER_ADD,
	ST_USER_PUT, ST_USER_DEL, ST_INB_OF, ST_INB_ADD, ST_INB_CLEAR,
	ST_TRAFFIC_ADD, ST_USER_USED, ST_PROBE_ADD, ST_PROBE_PRUNE, ST_DAYS,
	ST_PROBES_RECENT, ST__N
};

static const char *const db_sql[ST__N] = {
	[ST_SERIAL_GET] = "SELECT value FROM meta WHERE key = 'users_serial'",
	[ST_SERIAL_BUMP] = "UPDATE meta SET value = value + 1 "
	    "WHERE key = 'users_serial'",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE email = ?1",
	[ST_USER_ALL] = "SELECT " USER_COLS " FROM users ORDER BY email",
	[ST_USER_ADD] = "INSERT INTO users (email, uuid, password, level, "
	    "flow, enabled, quota, expire, max_conn, used_up, used_down, "
	    "created, updated) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
	[ST_USER_PUT] = "UPDATE users SET uuid = ?2, password = ?3, "
	    "level = ?4, flow = ?5, enabled = ?6, quota = ?7, expire = ?8, "
	    "max_conn = ?9, used_up = ?10, used_down = ?11, updated = ?12 "
	    "WHERE id = ?1",
	[ST_USER_DEL] = "DELETE FROM users WHERE email = ?1",
	[ST_INB_OF] = "SELECT tag FROM user_inbounds WHERE user_id = ?1 "
	    "ORDER BY rowid",
	[ST_INB_ADD] = "INSERT OR IGNORE INTO user_inbounds (user_id, tag) "
	    "VALUES (?1, ?2)",
	[ST_INB_CLEAR] = "DELETE FROM user_inbounds WHERE user_id = ?1",
	[ST_TRAFFIC_ADD] = "INSERT INTO traffic (kind, name, day, up, down, "
	    "conns) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (kind, name, day) DO UPDATE SET "
	    "up = up + excluded.up, down = down + excluded.down, "
	    "conns = conns + excluded.conns",
	[ST_USER_USED] = "UPDATE users SET used_up = used_up + ?2, "
	    "used_down = used_down + ?3 WHERE email = ?1",
	[ST_PROBE_ADD] = "INSERT INTO probes (ts, outbound, alive, delay_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[ST_PROBE_PRUNE] = "DELETE FROM probes WHERE ts < ?1",
	[ST_DAYS] = "SELECT name, day, up, down, conns FROM traffic "
	    "WHERE kind = ?1 AND (?2 IS NULL OR name = ?2) "
	    "AND (?3 IS NULL OR day >= ?3) ORDER BY name, day",
	[ST_PROBES_RECENT] = "SELECT ts, outbound, alive, delay_ms FROM "
	    "(SELECT *, row_number() OVER (PARTITION BY outbound "
	    "ORDER BY ts DESC, rowid DESC) AS n FROM probes) "
	    "WHERE n <= ?1 ORDER BY outbound, ts DESC, n",
};

struct sl_db {
	sqlite3		*h;
	int		 flags;
	sqlite3_stmt	*st[ST__N];
	char		 err[256];
};

/* ---- errors, statements, transactions ---- */

static int __attribute__((format(printf, 2, 3)))
db_errf(struct sl_db *db, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* The connection's last error becomes the handle's. */
static int
db_fail(struct sl_db *db)
{
	/* WAL needs to create files beside the database */
	if (sqlite3_extended_errcode(db->h) == SQLITE_READONLY_DIRECTORY)
		return db_errf(db, "%s: its directory is not writable",
		    sqlite3_errmsg(db->h));
	return db_errf(db, "%s", sqlite3_errmsg(db->h));
}

static int
db_exec(struct sl_db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db);
	return 0;
}

/* The first column of SQL's first row, as an integer. */
static int
db_int(struct sl_db *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		db_fail(db);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ?
	    db_errf(db, "%s: no result", sql) : -1;
}

/* Statement I, prepared once, reset and unbound for a new use. */
static sqlite3_stmt *
db_stmt(struct sl_db *db, enum db_st i)
{
	if (db->st[i] != NULL) {
		sqlite3_reset(db->st[i]);
		sqlite3_clear_bindings(db->st[i]);
	} else if (sqlite3_prepare_v3(db->h, db_sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK) {
		db_fail(db);
		return NULL;
	}
	return db->st[i];
}

/* Step a statement that returns no rows, and let go of it. */
static int
db_run(struct sl_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		db_fail(db);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
db_begin(struct sl_db *db, int write)
{
	if (write && (db->flags & SL_DB_READONLY))
		return db_errf(db, "the database is open read-only");
	return db_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN");
}

/* Undo the open transaction, keeping the error that caused it. */
static int
db_rollback(struct sl_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
db_commit(struct sl_db *db)
{
	if (db_exec(db, "COMMIT") == -1)
		return db_rollback(db);
	return 0;
}

static void
bind_str(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* ---- open, migrate, close ---- */

/* mkdir -p DIR, each new level with mode 0750. */
static int
mkdirs(char *dir, int depth)
{
	char *slash;
	int rc;

	if (mkdir(dir, 0750) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || depth > 64 || (slash = strrchr(dir, '/')) ==
	    NULL || slash == dir)
		return -1;
	*slash = '\0';
	rc = mkdirs(dir, depth + 1);
	*slash = '/';
	if (rc == -1)
		return -1;
	return mkdir(dir, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

static int
db_mkparent(struct sl_db *db, const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (dir == NULL)
		return db_errf(db, "out of memory");
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdirs(dir, 0) == -1)
			rc = db_errf(db, "cannot create directory %s: %s", dir,
			    strerror(errno));
	}
	free(dir);
	return rc;
}

static int
db_migrate(struct sl_db *db)
{
	int64_t v;
	char sql[64];

	for (int step = 0; step < SL_DB_SCHEMA; step++) {
		if (db_begin(db, 1) == -1)
			return -1;
		if (db_int(db, "PRAGMA user_version", &v) == -1)
			return db_rollback(db);
		if (v >= SL_DB_SCHEMA)
			return db_commit(db);
		if (v < 0) {
			db_errf(db, "bad schema version %lld", (long long)v);
			return db_rollback(db);
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld",
		    (long long)v + 1);
		if (db_exec(db, migrations[v]) == -1 || db_exec(db, sql) == -1)
			return db_rollback(db);
		if (db_commit(db) == -1)
			return -1;
	}
	return 0;
}

static int
db_setup(struct sl_db *db)
{
	sqlite3_stmt *st;
	int64_t v;
	int rc;

	if (!(db->flags & SL_DB_READONLY) &&
	    sqlite3_db_readonly(db->h, "main") == 1)
		return db_errf(db, "the file is read-only");
	if (db_exec(db, "PRAGMA foreign_keys = ON") == -1 ||
	    db_int(db, "PRAGMA user_version", &v) == -1)
		return -1;
	if (v > SL_DB_SCHEMA)
		return db_errf(db, "database schema %lld is newer than this "
		    "sluice (%d)", (long long)v, SL_DB_SCHEMA);
	if (db->flags & SL_DB_READONLY) {
		if (v < SL_DB_SCHEMA)
			return db_errf(db, "database schema %lld is older than "
			    "this sluice (%d); open it for writing once to "
			    "migrate it", (long long)v, SL_DB_SCHEMA);
		return 0;
	}
	/* The switch needs the write lock once; later opens find "wal". */
	if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK)
		return db_fail(db);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		db_fail(db);
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		db_errf(db, "cannot switch to WAL mode (journal mode %s)",
		    sqlite3_column_text(st, 0));
	else
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return -1;
	/* WAL + NORMAL: a crash may lose the last commits, never the file. */
	if (db_exec(db, "PRAGMA synchronous = NORMAL") == -1)
		return -1;
	return v == SL_DB_SCHEMA ? 0 : db_migrate(db);
}

struct sl_db *
sl_db_open(const char *path, int flags, int busy_ms, char *err,
    size_t errlen)
{
	struct sl_db *db = calloc(1, sizeof(*db));
	struct stat sb;
	int oflags, fd;

	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->flags = flags;
	if (flags & SL_DB_READONLY)
		oflags = SQLITE_OPEN_READONLY;
	else
		oflags = SQLITE_OPEN_READWRITE |
		    (flags & SL_DB_CREATE ? SQLITE_OPEN_CREATE : 0);
	if ((oflags & SQLITE_OPEN_CREATE) && db_mkparent(db, path) == -1)
		goto fail;
	if (stat(path, &sb) == -1) {
		/* Made here: SQLite would say "unable to open", and make it
		 * world-readable, passwords and all. */
		if (errno != ENOENT || !(oflags & SQLITE_OPEN_CREATE) ||
		    (fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1) {
			db_errf(db, "%s", strerror(errno));
			goto fail;
		}
		close(fd);
	} else if (S_ISDIR(sb.st_mode)) {
		db_errf(db, "%s", strerror(EISDIR));
		goto fail;
	}
	if (sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_EXRESCODE,
	    NULL) != SQLITE_OK) {
		if (db->h != NULL)
			db_fail(db);
		else
			db_errf(db, "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, busy_ms);
	if (db_setup(db) == -1)
		goto fail;
	return db;
fail:
	snprintf(err, errlen, "%s", db->err);
	sl_db_close(db);
	return NULL;
}

void
sl_db_close(struct sl_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->h);
	free(db);
}

const char *
sl_db_error(const struct sl_db *db)
{
	return db->err;
}

/* ---- users ---- */

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return strdup(s != NULL ? (const char *)s : "");
}

typedef int	 db_row_fn(struct sl_db *, sqlite3_stmt *, void *);

/*
 * Step ST to its end, appending one element of SIZE to the array *V (*N
 * of them) per row, filled by ROW from a zeroed element.  0, or -1 with
 * the error set; what was read is the caller's to free either way.
 */
static int
db_rows(struct sl_db *db, sqlite3_stmt *st, void **v, size_t *n,
    size_t size, db_row_fn *row)
{
	size_t cap = 0;
	char *nv, *e;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(*v, cap, size)) == NULL) {
				db_errf(db, "out of memory");
				break;
			}
			*v = nv;
		}
		e = (char *)*v + *n * size;
		memset(e, 0, size);
		if (row(db, st, e) == -1)
			break;
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(db);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
sl_db_user_free(struct sl_db_user *u)
{
	if (u == NULL)
		return;
	free(u->email);
	free(u->uuid);
	free(u->password);
	free(u->flow);
	for (size_t i = 0; i < u->ninbounds; i++)
		free(u->inbounds[i]);
	free(u->inbounds);
	memset(u, 0, sizeof(*u));
}

static int
tag_row(struct sl_db *db, sqlite3_stmt *st, void *e)
{
	if ((*(char **)e = col_dup(st, 0)) == NULL)
		return db_errf(db, "out of memory");
	return 0;
}

static int
user_inbounds(struct sl_db *db, struct sl_db_user *u)
{
	sqlite3_stmt *st = db_stmt(db, ST_INB_OF);
	void *v = NULL;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, u->id);
	rc = db_rows(db, st, &v, &u->ninbounds, sizeof(char *), tag_row);
	u->inbounds = v;
	return rc;
}

/* The current row of a USER_COLS query, with its inbounds. */
static int
user_row(struct sl_db *db, sqlite3_stmt *st, void *e)
{
	struct sl_db_user *u = e;

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	u->email = col_dup(st, 1);
	u->uuid = col_dup(st, 2);
	u->password = col_dup(st, 3);
	u->level = sqlite3_column_int(st, 4);
	u->flow = col_dup(st, 5);
	u->enabled = sqlite3_column_int(st, 6) != 0;
	u->quota = (uint64_t)sqlite3_column_int64(st, 7);
	u->expire = sqlite3_column_int64(st, 8);
	u->max_conn = (uint32_t)sqlite3_column_int64(st, 9);
	u->used_up = (uint64_t)sqlite3_column_int64(st, 10);
	u->used_down = (uint64_t)sqlite3_column_int64(st, 11);
	u->created = sqlite3_column_int64(st, 12);
	u->updated = sqlite3_column_int64(st, 13);
	if (u->email == NULL || u->uuid == NULL || u->password == NULL ||
	    u->flow == NULL) {
		sl_db_user_free(u);
		return db_errf(db, "out of memory");
	}
	if (user_inbounds(db, u) == -1) {
		sl_db_user_free(u);
		return -1;
	}
	return 0;
}

/* EMAIL's row inside the caller's transaction: 0, 1 if none, -1. */
static int
user_read(struct sl_db *db, const char *email, struct sl_db_user *u)
{
	sqlite3_stmt *st = db_stmt(db, ST_USER_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_str(st, 1, email);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = user_row(db, st, u) == 0 ? 0 : -1;
	else if (rc == SQLITE_DONE)
		rc = 1;
	else
		rc = db_fail(db);
	sqlite3_reset(st);
	return rc;
}

int
sl_db_user_get(struct sl_db *db, const char *email, struct sl_db_user *u)
{
	int rc;

	if (db_begin(db, 0) == -1)
		return -1;
	if ((rc = user_read(db, email, u)) == -1)
		return db_rollback(db);
	if (db_commit(db) == -1) {
		if (rc == 0)
			sl_db_user_free(u);
		return -1;
	}
	return rc;
}

void
sl_db_users_free(struct sl_db_users *us)
{
	for (size_t i = 0; i < us->n; i++)
		sl_db_user_free(&us->v[i]);
	free(us->v);
	us->v = NULL;
	us->n = 0;
}

int
sl_db_users_load(struct sl_db *db, struct sl_db_users *us)
{
	sqlite3_stmt *st;
	void *v = NULL;
	int rc;

	us->v = NULL;
	us->n = 0;
	if (db_begin(db, 0) == -1)
		return -1;
	if ((st = db_stmt(db, ST_USER_ALL)) == NULL)
		return db_rollback(db);
	rc = db_rows(db, st, &v, &us->n, sizeof(*us->v), user_row);
	us->v = v;
	if (rc == -1 || db_commit(db) == -1) {
		db_rollback(db);
		sl_db_users_free(us);
		return -1;
	}
	return 0;
}

static int
user_set_inbounds(struct sl_db *db, int64_t id, char *const *tags,
    size_t n)
{
	sqlite3_stmt *st;

	if ((st = db_stmt(db, ST_INB_CLEAR)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (db_run(db, st) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((st = db_stmt(db, ST_INB_ADD)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		bind_str(st, 2, tags[i]);
		if (db_run(db, st) == -1)
			return -1;
	}
	return 0;
}

static int
serial_bump(struct sl_db *db)
{
	sqlite3_stmt *st = db_stmt(db, ST_SERIAL_BUMP);

	return st == NULL ? -1 : db_run(db, st);
}

int
sl_db_user_add(struct sl_db *db, const struct sl_db_user *u)
{
	sqlite3_stmt *st;
	int rc;

	if (u->email == NULL || u->email[0] == '\0')
		return db_errf(db, "a user needs an email");
	if (db_begin(db, 1) == -1)
		return -1;
	if ((st = db_stmt(db, ST_USER_ADD)) == NULL)
		return db_rollback(db);
	bind_str(st, 1, u->email);
	bind_str(st, 2, u->uuid);
	bind_str(st, 3, u->password);
	sqlite3_bind_int(st, 4, u->level);
	bind_str(st, 5, u->flow != NULL ? u->flow : "");
	sqlite3_bind_int(st, 6, u->enabled != 0);
	sqlite3_bind_int64(st, 7, (int64_t)u->quota);
	sqlite3_bind_int64(st, 8, u->expire);
	sqlite3_bind_int64(st, 9, u->max_conn);
	sqlite3_bind_int64(st, 10, (int64_t)u->used_up);
	sqlite3_bind_int64(st, 11, (int64_t)u->used_down);
	sqlite3_bind_int64(st, 12, (int64_t)time(NULL));
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		int taken = sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE;

		db_fail(db);
		sqlite3_reset(st);
		db_rollback(db);
		return taken ? 1 : -1;
	}
	sqlite3_reset(st);
	if (user_set_inbounds(db, sqlite3_last_insert_rowid(db->h),
	    u->inbounds, u->ninbounds) == -1 || serial_bump(db) == -1)
		return db_rollback(db);
	return db_commit(db);
}

/* Write every column of CUR, taking FIELDS from U. */
static int
user_put(struct sl_db *db, const struct sl_db_user *cur, unsigned fields,
    const struct sl_db_user *u)
{
#define PICK(f, m)	((fields & (f)) ? u->m : cur->m)
	sqlite3_stmt *st = db_stmt(db, ST_USER_PUT);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, cur->id);
	bind_str(st, 2, PICK(SL_DBU_UUID, uuid));
	bind_str(st, 3, PICK(SL_DBU_PASSWORD, password));
	sqlite3_bind_int(st, 4, PICK(SL_DBU_LEVEL, level));
	bind_str(st, 5, PICK(SL_DBU_FLOW, flow) != NULL ?
	    PICK(SL_DBU_FLOW, flow) : "");
	sqlite3_bind_int(st, 6, PICK(SL_DBU_ENABLED, enabled) != 0);
	sqlite3_bind_int64(st, 7, (int64_t)PICK(SL_DBU_QUOTA, quota));
	sqlite3_bind_int64(st, 8, PICK(SL_DBU_EXPIRE, expire));
	sqlite3_bind_int64(st, 9, PICK(SL_DBU_MAXCONN, max_conn));
	sqlite3_bind_int64(st, 10, (int64_t)PICK(SL_DBU_USED, used_up));
	sqlite3_bind_int64(st, 11, (int64_t)PICK(SL_DBU_USED, used_down));
	sqlite3_bind_int64(st, 12, (int64_t)time(NULL));
	return db_run(db, st);
#undef PICK
}

int
sl_db_user_set(struct sl_db *db, const char *email, unsigned fields,
    const struct sl_db_user *u)
{
	struct sl_db_user cur;
	int rc;

	if (db_begin(db, 1) == -1)
		return -1;
	if ((rc = user_read(db, email, &cur)) != 0) {
		db_rollback(db);
		return rc;
	}
	rc = user_put(db, &cur, fields, u);
	if (rc == 0 && (fields & SL_DBU_INBOUNDS))
		rc = user_set_inbounds(db, cur.id, u->inbounds, u->ninbounds);
	sl_db_user_free(&cur);
	if (rc == -1 || serial_bump(db) == -1)
		return db_rollback(db);
	return db_commit(db);
}

int
sl_db_user_del(struct sl_db *db, const char *email)
{
	sqlite3_stmt *st;

	if (db_begin(db, 1) == -1)
		return -1;
	if ((st = db_stmt(db, ST_USER_DEL)) == NULL)
		return db_rollback(db);
	bind_str(st, 1, email);
	if (db_run(db, st) == -1)
		return db_rollback(db);
	if (sqlite3_changes(db->h) == 0) {
		db_rollback(db);
		return 1;
	}
	if (serial_bump(db) == -1)
		return db_rollback(db);
	return db_commit(db);
}

int
sl_db_users_serial(struct sl_db *db, uint64_t *serial)
{
	sqlite3_stmt *st = db_stmt(db, ST_SERIAL_GET);
	int rc;

	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*serial = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		db_errf(db, "users_serial is missing");
	else
		db_fail(db);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- traffic and probes ---- */

static int
flush_traffic(struct sl_db *db, const char *day,
    const struct sl_db_traffic *t)
{
	sqlite3_stmt *st;

	if (t->kind < SL_DB_USER || t->kind > SL_DB_OUTBOUND ||
	    t->name == NULL)
		return db_errf(db, "bad traffic row");
	if (t->up == 0 && t->down == 0 && t->conns == 0)
		return 0;
	if ((st = db_stmt(db, ST_TRAFFIC_ADD)) == NULL)
		return -1;
	sqlite3_bind_int(st, 1, t->kind);
	bind_str(st, 2, t->name);
	bind_str(st, 3, day);
	sqlite3_bind_int64(st, 4, (int64_t)t->up);
	sqlite3_bind_int64(st, 5, (int64_t)t->down);
	sqlite3_bind_int64(st, 6, (int64_t)t->conns);
	if (db_run(db, st) == -1)
		return -1;
	if (t->kind != SL_DB_USER || (t->up == 0 && t->down == 0))
		return 0;
	/* Users written in the config have no row here: no error. */
	if ((st = db_stmt(db, ST_USER_USED)) == NULL)
		return -1;
	bind_str(st, 1, t->name);
	sqlite3_bind_int64(st, 2, (int64_t)t->up);
	sqlite3_bind_int64(st, 3, (int64_t)t->down);
	return db_run(db, st);
}

static int
flush_probe(struct sl_db *db, const struct sl_db_probe *p)
{
	sqlite3_stmt *st;

	if (p->outbound == NULL)
		return db_errf(db, "bad probe row");
	if ((st = db_stmt(db, ST_PROBE_ADD)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, p->ts);
	bind_str(st, 2, p->outbound);
	sqlite3_bind_int(st, 3, p->alive != 0);
	sqlite3_bind_int64(st, 4, p->delay_ms);
	return db_run(db, st);
}

int
sl_db_flush(struct sl_db *db, const char *day,
    const struct sl_db_traffic *t, size_t nt,
    const struct sl_db_probe *p, size_t np)
{
	sqlite3_stmt *st;

	if (nt == 0 && np == 0)
		return 0;
	if (day == NULL || strlen(day) != 10)
		return db_errf(db, "bad day");
	if (db_begin(db, 1) == -1)
		return -1;
	for (size_t i = 0; i < nt; i++)
		if (flush_traffic(db, day, &t[i]) == -1)
			return db_rollback(db);
	for (size_t i = 0; i < np; i++)
		if (flush_probe(db, &p[i]) == -1)
			return db_rollback(db);
	if (np > 0) {
		if ((st = db_stmt(db, ST_PROBE_PRUNE)) == NULL)
			return db_rollback(db);
		sqlite3_bind_int64(st, 1, (int64_t)time(NULL) - PROBE_KEEP_S);
		if (db_run(db, st) == -1)
			return db_rollback(db);
	}
	return db_commit(db);
}

void
sl_db_days_free(struct sl_db_days *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static int
day_row(struct sl_db *db, sqlite3_stmt *st, void *e)
{
	struct sl_db_day *r = e;

	if ((r->name = col_dup(st, 0)) == NULL)
		return db_errf(db, "out of memory");
	snprintf(r->day, sizeof(r->day), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	r->up = (uint64_t)sqlite3_column_int64(st, 2);
	r->down = (uint64_t)sqlite3_column_int64(st, 3);
	r->conns = (uint64_t)sqlite3_column_int64(st, 4);
	return 0;
}

int
sl_db_traffic_days(struct sl_db *db, enum sl_db_kind kind, const char *name,
    const char *since, struct sl_db_days *d)
{
	sqlite3_stmt *st = db_stmt(db, ST_DAYS);
	void *v = NULL;
	int rc;

	d->v = NULL;
	d->n = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, kind);
	if (name != NULL)
		bind_str(st, 2, name);
	if (since != NULL)
		bind_str(st, 3, since);
	rc = db_rows(db, st, &v, &d->n, sizeof(*d->v), day_row);
	d->v = v;
	if (rc == -1)
		sl_db_days_free(d);
	return rc;
}

void
sl_db_probes_free(struct sl_db_probes *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free((char *)ps->v[i].outbound);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static int
probe_row(struct sl_db *db, sqlite3_stmt *st, void *e)
{
	struct sl_db_probe *p = e;

	if ((p->outbound = col_dup(st, 1)) == NULL)
		return db_errf(db, "out of memory");
	p->ts = sqlite3_column_int64(st, 0);
	p->alive = sqlite3_column_int(st, 2);
	p->delay_ms = (uint32_t)sqlite3_column_int64(st, 3);
	return 0;
}

int
sl_db_probes_recent(struct sl_db *db, size_t limit, struct sl_db_probes *ps)
{
	sqlite3_stmt *st = db_stmt(db, ST_PROBES_RECENT);
	void *v = NULL;
	int rc;

	ps->v = NULL;
	ps->n = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)limit);
	rc = db_rows(db, st, &v, &ps->n, sizeof(*ps->v), probe_row);
	ps->v = v;
	if (rc == -1)
		sl_db_probes_free(ps);
	return rc;
}

void
sl_db_day(int64_t t, char day[11])
{
	time_t v = (time_t)t;
	struct tm tm;

	if (gmtime_r(&v, &tm) == NULL || strftime(day, 11, "%Y-%m-%d", &tm) == 0)
		snprintf(day, 11, "?");
}
