/*
 * test_db: the state database (master/db.c) on real files in a temporary
 * directory: creation, migration, refusal of newer and broken files,
 * users, traffic and probe flushes, a locked database, and two writers
 * plus a flushing parent losing no update.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "master/db.h"
#include "tests/unit/helpers.h"

static char tmpdir[PATH_MAX];

static const char *
path_of(const char *name)
{
	static char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static struct sl_db *
open_ok(const char *name, int flags, int busy_ms)
{
	char err[256] = "";
	struct sl_db *db = sl_db_open(path_of(name), flags, busy_ms, err,
	    sizeof(err));

	if (db == NULL)
		fail_msg("open %s: %s", name, err);
	return db;
}

/* sl_db_open must fail; the reason is returned. */
static const char *
open_fails(const char *name, int flags)
{
	static char err[256];
	struct sl_db *db;

	strcpy(err, "(unchanged)");
	db = sl_db_open(path_of(name), flags, 100, err, sizeof(err));
	if (db != NULL) {
		sl_db_close(db);
		fail_msg("open %s succeeded", name);
	}
	assert_true(strlen(err) > 0 && strchr(err, '\n') == NULL);
	assert_string_not_equal(err, "(unchanged)");
	return err;
}

/* A raw connection for what the module must not do itself. */
static sqlite3 *
raw_open(const char *name)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path_of(name), &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	return h;
}

static void
raw_exec(sqlite3 *h, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int64_t
raw_int(const char *name, const char *sql)
{
	sqlite3 *h = raw_open(name);
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static uint64_t
serial(struct sl_db *db)
{
	uint64_t s = 0;

	assert_int_equal(sl_db_users_serial(db, &s), 0);
	return s;
}

static void
user_init(struct sl_db_user *u, char *email, char **inb, size_t ninb)
{
	memset(u, 0, sizeof(*u));
	u->email = email;
	u->uuid = "27848739-7e62-4138-9fd3-098a63964b6b";
	u->password = "secret pass";
	u->flow = "";
	u->enabled = 1;
	u->inbounds = inb;
	u->ninbounds = ninb;
}

static void
add_user(struct sl_db *db, const char *email)
{
	struct sl_db_user u;

	user_init(&u, (char *)email, NULL, 0);
	assert_int_equal(sl_db_user_add(db, &u), 0);
}

static void
test_create_reopen(void **state)
{
	struct sl_db *db;
	struct stat sb;
	const char *err;

	(void)state;
	err = open_fails("missing.db", 0);
	assert_non_null(strstr(err, "No such file"));
	open_fails("missing.db", SL_DB_READONLY);

	db = open_ok("sub/dir/state.db", SL_DB_CREATE, 1000);
	assert_int_equal(serial(db), 0);
	sl_db_close(db);
	assert_int_equal(stat(path_of("sub/dir"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	/* it holds passwords */
	assert_int_equal(stat(path_of("sub/dir/state.db"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(raw_int("sub/dir/state.db", "PRAGMA user_version"),
	    SL_DB_SCHEMA);

	db = open_ok("sub/dir/state.db", 0, 1000);
	add_user(db, "a@x");
	sl_db_close(db);
	db = open_ok("sub/dir/state.db", SL_DB_READONLY, 1000);
	assert_int_equal(serial(db), 1);
	sl_db_close(db);
	assert_int_equal(raw_int("sub/dir/state.db", "SELECT count(*) FROM "
	    "pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
}

static void
test_create_reopen_ro(void **state)
{
	struct sl_db *db;
	struct sl_db_user u;

	(void)state;
	db = open_ok("ro.db", SL_DB_CREATE, 1000);
	sl_db_close(db);
	db = open_ok("ro.db", SL_DB_READONLY, 1000);
	user_init(&u, "b@x", NULL, 0);
	assert_int_equal(sl_db_user_add(db, &u), -1);
	assert_non_null(strstr(sl_db_error(db), "read-only"));
	sl_db_close(db);
	assert_int_equal(raw_int("ro.db", "SELECT count(*) FROM users"), 0);
}

static void
test_migrate_empty(void **state)
{
	struct sl_db *db;
	int fd;

	(void)state;
	fd = open(path_of("empty.db"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* read-only cannot migrate */
	assert_non_null(strstr(open_fails("empty.db", SL_DB_READONLY),
	    "older than this sluice"));
	db = open_ok("empty.db", 0, 1000);
	assert_int_equal(serial(db), 0);
	add_user(db, "a@x");
	sl_db_close(db);
	assert_int_equal(raw_int("empty.db", "PRAGMA user_version"),
	    SL_DB_SCHEMA);
	assert_int_equal(raw_int("empty.db", "SELECT count(*) FROM users"), 1);
}

static void
test_newer_refused(void **state)
{
	sqlite3 *h;
	char want[128];

	(void)state;
	h = raw_open("newer.db");
	raw_exec(h, "CREATE TABLE t (x); PRAGMA user_version = 7");
	sqlite3_close(h);
	snprintf(want, sizeof(want), "database schema 7 is newer than this "
	    "sluice (%d)", SL_DB_SCHEMA);
	assert_string_equal(open_fails("newer.db", 0), want);
	assert_string_equal(open_fails("newer.db", SL_DB_READONLY), want);
	/* and it was left alone */
	assert_int_equal(raw_int("newer.db", "PRAGMA user_version"), 7);
}

static void
test_not_a_database(void **state)
{
	uint8_t junk[8192];
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)th_rnd(256);
	th_file_write(path_of("junk.db"), junk, sizeof(junk));
	err = open_fails("junk.db", 0);
	assert_non_null(strstr(err, "not a database"));
	err = open_fails("junk.db", SL_DB_READONLY);
	assert_non_null(strstr(err, "not a database"));
	err = open_fails("junk.db", SL_DB_CREATE);
	assert_non_null(strstr(err, "not a database"));
	/* a directory is no database either */
	assert_int_equal(mkdir(path_of("adir"), 0700), 0);
	assert_non_null(strstr(open_fails("adir", SL_DB_CREATE),
	    "directory"));
}

/*
 * Read-only files and directories, seen by an unprivileged user (root
 * writes anyway): a child drops to nobody and reports by exit status.
 */
static int
ro_child(void)
{
	char err[256];
	struct sl_db *db;
	struct passwd *pw;

	if (geteuid() == 0) {
		if ((pw = getpwnam("nobody")) == NULL ||
		    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
			return 10;
	}
	/* the file is 0444, its directory writable: only READONLY opens */
	if ((db = sl_db_open(path_of("rw/ro.db"), 0, 100, err,
	    sizeof(err))) != NULL || strstr(err, "read-only") == NULL)
		return 11;
	if ((db = sl_db_open(path_of("rw/ro.db"), SL_DB_READONLY, 100, err,
	    sizeof(err))) == NULL)
		return 12;
	sl_db_close(db);
	/* a writable file in a directory nobody may write */
	if ((db = sl_db_open(path_of("rodir/w.db"), 0, 100, err,
	    sizeof(err))) != NULL)
		return 13;
	if (strstr(err, "directory is not writable") == NULL) {
		fprintf(stderr, "%s\n", err);
		return 14;
	}
	/* nor may it create one there */
	if ((db = sl_db_open(path_of("rodir/new.db"), SL_DB_CREATE, 100, err,
	    sizeof(err))) != NULL)
		return 15;
	if (strstr(err, "Permission denied") == NULL)
		return 16;
	return 0;
}

static void
test_read_only(void **state)
{
	struct sl_db *db;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(mkdir(path_of("rw"), 0777), 0);
	assert_int_equal(chmod(path_of("rw"), 0777), 0);
	assert_int_equal(mkdir(path_of("rodir"), 0755), 0);
	db = open_ok("rw/ro.db", SL_DB_CREATE, 1000);
	sl_db_close(db);
	db = open_ok("rodir/w.db", SL_DB_CREATE, 1000);
	sl_db_close(db);
	assert_int_equal(chmod(path_of("rw/ro.db"), 0444), 0);
	assert_int_equal(chmod(path_of("rodir/w.db"), 0666), 0);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ro_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_users(void **state)
{
	char *inb[] = { "in-b", "in-a", "in-b" }, *inb2[] = { "in-c" };
	struct sl_db_user u, got;
	struct sl_db_users all;
	struct sl_db *db;
	sqlite3 *h;
	uint64_t s0;
	time_t now = time(NULL);

	(void)state;
	db = open_ok("users.db", SL_DB_CREATE, 1000);
	s0 = serial(db);
	user_init(&u, "b@x", inb, 3);
	u.level = 2;
	u.flow = "xtls-rprx-vision";
	u.quota = 10ULL << 30;
	u.expire = 1893456000;
	u.max_conn = 3;
	assert_int_equal(sl_db_user_add(db, &u), 0);
	assert_int_equal(serial(db), s0 + 1);
	/* taken: 1, and no serial bump */
	assert_int_equal(sl_db_user_add(db, &u), 1);
	assert_int_equal(serial(db), s0 + 1);
	add_user(db, "a@x");
	assert_int_equal(serial(db), s0 + 2);

	assert_int_equal(sl_db_user_get(db, "nobody@x", &got), 1);
	assert_int_equal(sl_db_user_get(db, "b@x", &got), 0);
	assert_string_equal(got.email, "b@x");
	assert_string_equal(got.uuid, u.uuid);
	assert_string_equal(got.password, "secret pass");
	assert_string_equal(got.flow, "xtls-rprx-vision");
	assert_int_equal(got.level, 2);
	assert_int_equal(got.enabled, 1);
	assert_true(got.quota == 10ULL << 30);
	assert_int_equal(got.expire, 1893456000);
	assert_int_equal(got.max_conn, 3);
	assert_int_equal(got.ninbounds, 2);	/* duplicate tag once */
	assert_string_equal(got.inbounds[0], "in-b");
	assert_string_equal(got.inbounds[1], "in-a");
	assert_true(got.created >= now - 5 && got.updated == got.created);
	sl_db_user_free(&got);

	/* set: only the named fields; used_* only with SL_DBU_USED */
	h = raw_open("users.db");
	raw_exec(h, "UPDATE users SET used_up = 5, used_down = 7 "
	    "WHERE email = 'b@x'");
	sqlite3_close(h);
	user_init(&u, NULL, inb2, 1);
	u.quota = 99;
	u.enabled = 0;
	u.level = 9;			/* not in FIELDS: ignored */
	u.used_up = u.used_down = 1234;	/* likewise */
	assert_int_equal(sl_db_user_set(db, "b@x", SL_DBU_QUOTA |
	    SL_DBU_ENABLED | SL_DBU_INBOUNDS, &u), 0);
	assert_int_equal(serial(db), s0 + 3);
	assert_int_equal(sl_db_user_get(db, "b@x", &got), 0);
	assert_true(got.quota == 99);
	assert_int_equal(got.enabled, 0);
	assert_int_equal(got.level, 2);
	assert_true(got.used_up == 5 && got.used_down == 7);
	assert_int_equal(got.ninbounds, 1);
	assert_string_equal(got.inbounds[0], "in-c");
	assert_string_equal(got.flow, "xtls-rprx-vision");
	sl_db_user_free(&got);
	u.used_up = u.used_down = 0;
	u.ninbounds = 0;
	assert_int_equal(sl_db_user_set(db, "b@x", SL_DBU_USED |
	    SL_DBU_INBOUNDS, &u), 0);
	assert_int_equal(sl_db_user_get(db, "b@x", &got), 0);
	assert_true(got.used_up == 0 && got.used_down == 0);
	assert_int_equal(got.ninbounds, 0);
	assert_true(got.quota == 99);
	sl_db_user_free(&got);
	assert_int_equal(sl_db_user_set(db, "nobody@x", SL_DBU_QUOTA, &u), 1);
	assert_int_equal(serial(db), s0 + 4);

	assert_int_equal(sl_db_users_load(db, &all), 0);
	assert_int_equal(all.n, 2);
	assert_string_equal(all.v[0].email, "a@x");
	assert_string_equal(all.v[1].email, "b@x");
	sl_db_users_free(&all);

	assert_int_equal(sl_db_user_del(db, "b@x"), 0);
	assert_int_equal(serial(db), s0 + 5);
	assert_int_equal(sl_db_user_del(db, "b@x"), 1);
	assert_int_equal(serial(db), s0 + 5);
	assert_int_equal(sl_db_user_get(db, "b@x", &got), 1);
	/* the inbound rows went with it */
	assert_int_equal(raw_int("users.db", "SELECT count(*) FROM "
	    "user_inbounds"), 0);
	sl_db_close(db);
}

static void
test_flush(void **state)
{
	struct sl_db_traffic t[] = {
		{ SL_DB_USER, "a@x", 100, 1000, 2 },
		{ SL_DB_USER, "config@x", 1, 2, 3 },	/* not a DB user */
		{ SL_DB_INBOUND, "in-a", 101, 1002, 5 },
		{ SL_DB_OUTBOUND, "direct", 1002, 101, 5 },
		{ SL_DB_USER, "b@x", 0, 0, 0 },		/* nothing: no row */
	};
	struct sl_db_days d;
	struct sl_db_user u;
	struct sl_db *db;

	(void)state;
	db = open_ok("flush.db", SL_DB_CREATE, 1000);
	add_user(db, "a@x");
	add_user(db, "b@x");
	assert_int_equal(sl_db_flush(db, "2026-11-20", t, 5, NULL, 0), 0);
	assert_int_equal(sl_db_flush(db, "2026-11-20", t, 5, NULL, 0), 0);
	assert_int_equal(sl_db_flush(db, "2026-11-21", t, 1, NULL, 0), 0);

	assert_int_equal(sl_db_user_get(db, "a@x", &u), 0);
	assert_true(u.used_up == 300 && u.used_down == 3000);
	sl_db_user_free(&u);
	assert_int_equal(sl_db_user_get(db, "b@x", &u), 0);
	assert_true(u.used_up == 0 && u.used_down == 0);
	sl_db_user_free(&u);

	assert_int_equal(sl_db_traffic_days(db, SL_DB_USER, NULL, NULL, &d),
	    0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[0].name, "a@x");
	assert_string_equal(d.v[0].day, "2026-11-20");
	assert_true(d.v[0].up == 200 && d.v[0].down == 2000 &&
	    d.v[0].conns == 4);
	assert_string_equal(d.v[1].name, "a@x");
	assert_string_equal(d.v[1].day, "2026-11-21");
	assert_true(d.v[1].up == 100 && d.v[1].conns == 2);
	assert_string_equal(d.v[2].name, "config@x");
	assert_true(d.v[2].up == 2 && d.v[2].down == 4 && d.v[2].conns == 6);
	sl_db_days_free(&d);

	assert_int_equal(sl_db_traffic_days(db, SL_DB_USER, "a@x",
	    "2026-11-21", &d), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].day, "2026-11-21");
	sl_db_days_free(&d);
	assert_int_equal(sl_db_traffic_days(db, SL_DB_USER, "nobody", NULL,
	    &d), 0);
	assert_int_equal(d.n, 0);
	sl_db_days_free(&d);
	assert_int_equal(sl_db_traffic_days(db, SL_DB_OUTBOUND, NULL,
	    "2026-11-20", &d), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].name, "direct");
	assert_true(d.v[0].up == 2004 && d.v[0].down == 202);
	sl_db_days_free(&d);
	assert_int_equal(sl_db_traffic_days(db, SL_DB_INBOUND, NULL,
	    "2026-11-22", &d), 0);
	assert_int_equal(d.n, 0);
	sl_db_days_free(&d);

	/* a bad row spoils the whole flush */
	t[0].kind = 7;
	assert_int_equal(sl_db_flush(db, "2026-11-21", t, 2, NULL, 0), -1);
	assert_true(strlen(sl_db_error(db)) > 0);
	assert_int_equal(raw_int("flush.db", "SELECT sum(up) FROM traffic "
	    "WHERE kind = 0"), 302);
	sl_db_close(db);
}

static void
test_probes(void **state)
{
	int64_t now = (int64_t)time(NULL);
	struct sl_db_probe p[] = {
		{ now - 8 * 86400, "px", 1, 10 },	/* too old */
		{ now - 3600, "px", 1, 20 },
		{ now - 60, "px", 0, 0 },
		{ now - 30, "py", 1, 7 },
		{ now - 120, "py", 1, 8 },
		{ now - 10, "px", 1, 30 },
	};
	struct sl_db_probes ps;
	struct sl_db *db;

	(void)state;
	db = open_ok("probes.db", SL_DB_CREATE, 1000);
	assert_int_equal(sl_db_flush(db, "2026-11-20", NULL, 0, p, 6), 0);
	assert_int_equal(raw_int("probes.db", "SELECT count(*) FROM probes"),
	    5);
	assert_int_equal(sl_db_probes_recent(db, 2, &ps), 0);
	assert_int_equal(ps.n, 4);
	assert_string_equal(ps.v[0].outbound, "px");
	assert_int_equal(ps.v[0].ts, now - 10);
	assert_int_equal(ps.v[0].delay_ms, 30);
	assert_int_equal(ps.v[1].ts, now - 60);
	assert_int_equal(ps.v[1].alive, 0);
	assert_string_equal(ps.v[2].outbound, "py");
	assert_int_equal(ps.v[2].ts, now - 30);
	assert_int_equal(ps.v[3].ts, now - 120);
	sl_db_probes_free(&ps);
	sl_db_close(db);
}

static void
test_locked(void **state)
{
	struct sl_db_traffic t = { SL_DB_INBOUND, "in-a", 10, 20, 1 };
	struct sl_db_days d;
	struct sl_db *db;
	sqlite3 *h;

	(void)state;
	db = open_ok("locked.db", SL_DB_CREATE, 200);
	h = raw_open("locked.db");
	raw_exec(h, "BEGIN EXCLUSIVE");
	raw_exec(h, "INSERT INTO probes VALUES (1, 'x', 1, 1)");
	assert_int_equal(sl_db_flush(db, "2026-11-20", &t, 1, NULL, 0), -1);
	assert_non_null(strstr(sl_db_error(db), "locked"));
	/* readers still see the last commit */
	assert_int_equal(sl_db_traffic_days(db, SL_DB_INBOUND, NULL, NULL,
	    &d), 0);
	assert_int_equal(d.n, 0);
	sl_db_days_free(&d);
	raw_exec(h, "ROLLBACK");
	sqlite3_close(h);
	/* the caller kept its figures and tries again */
	assert_int_equal(sl_db_flush(db, "2026-11-20", &t, 1, NULL, 0), 0);
	assert_int_equal(sl_db_traffic_days(db, SL_DB_INBOUND, NULL, NULL,
	    &d), 0);
	assert_int_equal(d.n, 1);
	assert_true(d.v[0].up == 10 && d.v[0].down == 20 && d.v[0].conns == 1);
	sl_db_days_free(&d);
	sl_db_close(db);
}

#define ROUNDS	200

/*
 * Child WHICH: ROUNDS times set its own field (quota or max_conn) of
 * w@x to the round number and flush one byte up (0) or down (1), as
 * sluicectl and a second flusher would.  Exit status 0 when all worked.
 */
static int
writer(int which)
{
	struct sl_db_traffic t = { SL_DB_USER, "w@x", which == 0,
	    which == 1, 1 };
	struct sl_db_user u;
	char err[256];
	struct sl_db *db;

	if ((db = sl_db_open(path_of("conc.db"), 0, 5000, err,
	    sizeof(err))) == NULL)
		return 20;
	for (int i = 1; i <= ROUNDS; i++) {
		memset(&u, 0, sizeof(u));
		u.quota = (uint64_t)i;
		u.max_conn = (uint32_t)i;
		if (sl_db_user_set(db, "w@x", which == 0 ? SL_DBU_QUOTA :
		    SL_DBU_MAXCONN, &u) != 0 ||
		    sl_db_flush(db, "2026-11-20", &t, 1, NULL, 0) != 0) {
			fprintf(stderr, "writer %d round %d: %s\n", which, i,
			    sl_db_error(db));
			sl_db_close(db);
			return 21;
		}
	}
	sl_db_close(db);
	return 0;
}

static void
test_concurrent(void **state)
{
	struct sl_db_traffic t = { SL_DB_USER, "w@x", 1, 1, 1 };
	struct sl_db_user u;
	struct sl_db_days d;
	struct sl_db *db;
	uint64_t s0;
	pid_t pid[2];
	int status, retries = 0;

	(void)state;
	db = open_ok("conc.db", SL_DB_CREATE, 1000);
	add_user(db, "w@x");
	s0 = serial(db);
	sl_db_close(db);	/* never carry a connection across fork */
	for (int k = 0; k < 2; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			_exit(writer(k));
	}
	/* the master's way: short busy wait, keep the figures, retry */
	db = open_ok("conc.db", 0, 200);
	for (int i = 0; i < ROUNDS; i++) {
		int tries = 0;

		while (sl_db_flush(db, "2026-11-20", &t, 1, NULL, 0) != 0) {
			assert_non_null(strstr(sl_db_error(db), "locked"));
			assert_true(++tries < 100);
			retries++;
		}
	}
	for (int k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(sl_db_user_get(db, "w@x", &u), 0);
	assert_true(u.used_up == 2 * ROUNDS);
	assert_true(u.used_down == 2 * ROUNDS);
	assert_true(u.quota == ROUNDS);
	assert_int_equal(u.max_conn, ROUNDS);
	sl_db_user_free(&u);
	assert_true(serial(db) == s0 + 2 * ROUNDS);
	assert_int_equal(sl_db_traffic_days(db, SL_DB_USER, "w@x", NULL, &d),
	    0);
	assert_int_equal(d.n, 1);
	assert_true(d.v[0].up == 2 * ROUNDS && d.v[0].down == 2 * ROUNDS &&
	    d.v[0].conns == 3 * ROUNDS);
	sl_db_days_free(&d);
	sl_db_close(db);
	print_message("parent flush retries: %d\n", retries);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-test-db-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	chmod(tmpdir, 0700);
	th_tree_remove(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_reopen),
		cmocka_unit_test(test_create_reopen_ro),
		cmocka_unit_test(test_migrate_empty),
		cmocka_unit_test(test_newer_refused),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
