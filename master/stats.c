/*
 * stats: counters region -> state database, and the users it holds.
 *
 * The master folds the workers' slots into tallies per counter id (what
 * moved since the last fold), stores them every statsInterval in one
 * transaction, and writes each user's admission into the region.  The
 * slot of a worker that exits is folded at once, so a clean stop stores
 * every byte; a database that fails keeps the tallies for the next try
 * and never holds up the data plane (the master waits at most
 * MASTER_BUSY_MS for a lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "master/cnames.h"
#include "master/db.h"
#include "master/master_int.h"
#include "shm/clock.h"
#include "shm/counters.h"
#include "shm/log.h"
#include "shm/observe.h"

#define MASTER_BUSY_MS	200
#define PROBES_MAX	10000	/* kept while the database fails */
#define STATUS_PROBES	10	/* per outbound in `sluicectl status` */

static const enum sl_db_kind db_kind[SL_CN_KINDS] = {
	[SL_CN_USER] = SL_DB_USER, [SL_CN_INBOUND] = SL_DB_INBOUND,
	[SL_CN_OUTBOUND] = SL_DB_OUTBOUND,
};
static const char *const kind_name[SL_CN_KINDS] = {
	"user", "inbound", "outbound"
};

/* A database problem is logged when it starts or changes, not every
 * interval; WHAT NULL: it is over. */
static void
db_problem(struct stats *st, const char *what)
{
	if (what == NULL) {
		if (st->db_problem[0] != '\0')
			sl_warn("state database %s: working again",
			    st->db_path);
		st->db_problem[0] = '\0';
		return;
	}
	if (strcmp(st->db_problem, what) == 0)
		return;
	snprintf(st->db_problem, sizeof(st->db_problem), "%s", what);
	sl_error("state database %s: %s; serving with the users already "
	    "loaded, counters kept in memory", st->db_path, what);
}

static struct sl_db *
db_get(struct stats *st)
{
	char err[200];

	if (st->db == NULL && st->db_path != NULL) {
		st->db = sl_db_open(st->db_path, SL_DB_CREATE, MASTER_BUSY_MS,
		    err, sizeof(err));
		if (st->db == NULL)
			db_problem(st, err);
	}
	return st->db;
}

/* Before the master serves, no connection outlives its use. */
static void
db_release(struct stats *st)
{
	if (!st->serving && st->db != NULL) {
		sl_db_close(st->db);
		st->db = NULL;
	}
}

int
stats_init(struct master *m)
{
	return (m->st.names = sl_cnames_new()) == NULL ? -1 : 0;
}

/* Users of CF's database; another database than the one in use is
 * only read (a reload that fails must leave everything as it was). */
int
stats_prepare(struct master *m, const struct sl_conf *cf, int *changed)
{
	struct stats *st = &m->st;
	struct sl_errors warn;
	struct sl_db *db;
	char err[200];
	int rc = -1, other;

	*changed = 0;
	other = st->db_path != NULL && strcmp(st->db_path, cf->sluice.state_db);
	if (st->db_path == NULL)
		st->db_path = strdup(cf->sluice.state_db);
	db = other ? sl_db_open(cf->sluice.state_db, SL_DB_CREATE,
	    MASTER_BUSY_MS, err, sizeof(err)) : db_get(st);
	sl_errors_init(&warn);
	if (db != NULL && (rc = sl_users_load(db, cf, &st->users, changed,
	    &warn)) == -1)
		snprintf(err, sizeof(err), "%s", sl_db_error(db));
	master_log_errors(SL_LOGL_WARNING, &warn);
	sl_errors_free(&warn);
	if (other) {
		if (rc == -1)
			sl_error("state database %s: %s", cf->sluice.state_db,
			    err);
		sl_db_close(db);
	} else {
		if (db != NULL)
			db_problem(st, rc == -1 ? err : NULL);
		db_release(st);
	}
	return rc;
}

static void store(struct master *);

void
stats_adopt(struct master *m)
{
	struct stats *st = &m->st;

	if (st->db_path != NULL &&
	    strcmp(st->db_path, m->cur.cf->sluice.state_db) == 0)
		return;
	store(m);	/* what the old database is owed */
	if (st->db != NULL)
		sl_db_close(st->db);
	st->db = NULL;
	free(st->db_path);
	st->db_path = strdup(m->cur.cf->sluice.state_db);
	st->db_problem[0] = '\0';
	db_get(st);
	db_release(st);
}

void
stats_open(struct master *m)
{
	m->st.serving = 1;
	db_get(&m->st);
	m->st.next_ms = sl_clock_ms() +
	    1000ull * m->cur.cf->sluice.stats_interval;
}

/* ---- folding ---- */

static int
grow(struct tally **v, uint32_t *n, uint32_t want)
{
	struct tally *p;

	if (want <= *n)
		return 0;
	if ((p = realloc(*v, want * sizeof(*p))) == NULL)
		return -1;
	memset(p + *n, 0, (want - *n) * sizeof(*p));
	*v = p;
	*n = want;
	return 0;
}

static const struct sl_cnt_traffic *
slot_rec(const struct sl_cnt_slot *s, int kind, uint32_t id)
{
	if (kind == SL_CN_USER)
		return &s->user[id];
	return kind == SL_CN_INBOUND ? &s->tin[id] : &s->tout[id];
}

/* Add what P's slot counted since the last fold to the tallies. */
static void
fold_slot(struct master *m, struct proc *p)
{
	struct stats *st = &m->st;
	const struct sl_cnt_slot *s = procs_cnt(m, p);

	if (s == NULL || !p->snap.live)
		return;
	for (int k = 0; k < SL_CN_KINDS; k++) {
		uint32_t n = sl_cnames_count(st->names, k);

		if (grow(&p->snap.v[k], &p->snap.n[k], n) == -1 ||
		    grow(&st->pend[k], &st->npend[k], n) == -1)
			continue;	/* folded next time */
		for (uint32_t id = 0; id < n; id++) {
			const struct sl_cnt_traffic *r = slot_rec(s, k, id);
			struct tally *o = &p->snap.v[k][id];
			struct tally *t = &st->pend[k][id];
			struct tally c = { sl_cnt_get(&r->up),
			    sl_cnt_get(&r->down), sl_cnt_get(&r->conns) };

			t->up += c.up - o->up;
			t->down += c.down - o->down;
			t->conns += c.conns - o->conns;
			*o = c;
		}
	}
}

static void
fold_all(struct master *m)
{
	for (size_t i = 0; i < m->np; i++)
		fold_slot(m, &m->p[i]);
}

static void
slot_reset(struct master *m, struct proc *p)
{
	const struct sl_cnames *n = m->st.names;
	uint32_t tags = sl_cnames_count(n, SL_CN_INBOUND);

	if (sl_cnames_count(n, SL_CN_OUTBOUND) > tags)
		tags = sl_cnames_count(n, SL_CN_OUTBOUND);
	sl_cnt_reset(procs_cnt(m, p), sl_cnames_count(n, SL_CN_USER), tags);
	for (int k = 0; k < SL_CN_KINDS; k++)
		if (p->snap.v[k] != NULL)
			memset(p->snap.v[k], 0, p->snap.n[k] *
			    sizeof(struct tally));
}

void
stats_slot_start(struct master *m, struct proc *p)
{
	uint32_t idx = (uint32_t)(p - m->p);

	if (procs_cnt(m, p) == NULL)
		return;
	slot_reset(m, p);
	p->snap.live = 1;
	/* Users' open connections are summed over slots up to here. */
	if (atomic_load(&m->cnt->nslots) <= idx)
		atomic_store(&m->cnt->nslots, idx + 1);
}

void
stats_slot_end(struct master *m, struct proc *p)
{
	if (procs_cnt(m, p) == NULL || !p->snap.live)
		return;
	fold_slot(m, p);
	/* Its open connections are gone: they must not count against
	 * a user's limit. */
	slot_reset(m, p);
	p->snap.live = 0;
}

/* ---- storing ---- */

/* The tallies as database rows (names borrowed from the registry). */
static struct sl_db_traffic *
rows(struct stats *st, size_t *n)
{
	struct sl_db_traffic *v;
	size_t cap = 0;

	*n = 0;
	for (int k = 0; k < SL_CN_KINDS; k++)
		cap += st->npend[k];
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return NULL;
	for (int k = 0; k < SL_CN_KINDS; k++)
		for (uint32_t id = 0; id < st->npend[k]; id++) {
			const struct tally *t = &st->pend[k][id];

			if (t->up == 0 && t->down == 0 && t->conns == 0)
				continue;
			v[*n] = (struct sl_db_traffic){ db_kind[k],
			    sl_cnames_name(st->names, k, id), t->up, t->down,
			    t->conns };
			(*n)++;
		}
	return v;
}

static void
probes_free(struct stats *st)
{
	for (size_t i = 0; i < st->nprobes; i++)
		free((char *)st->probes[i].outbound);
	free(st->probes);
	st->probes = NULL;
	st->nprobes = 0;
}

/* Stored: the users' usage follows, the tallies start again. */
static void
stored(struct stats *st, const struct sl_db_traffic *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].kind == SL_DB_USER)
			sl_users_used(&st->users, t[i].name, t[i].up,
			    t[i].down);
	for (int k = 0; k < SL_CN_KINDS; k++)
		if (st->pend[k] != NULL)
			memset(st->pend[k], 0, st->npend[k] *
			    sizeof(struct tally));
	probes_free(st);
}

static void
store(struct master *m)
{
	struct stats *st = &m->st;
	struct sl_db_traffic *t;
	struct sl_db *db;
	char day[11];
	size_t n;

	fold_all(m);
	if ((t = rows(st, &n)) == NULL)
		return;
	if ((n > 0 || st->nprobes > 0) && (db = db_get(st)) != NULL) {
		sl_db_day(time(NULL), day);
		if (sl_db_flush(db, day, t, n, st->probes, st->nprobes) == 0) {
			stored(st, t, n);
			db_problem(st, NULL);
		} else
			db_problem(st, sl_db_error(db));
	}
	db_release(st);
	free(t);
}

/* ---- probes ---- */

static void
probe_add(struct stats *st, const char *tag, const struct sl_obs_status *s)
{
	struct sl_db_probe *v;
	char *name;

	if (st->nprobes == PROBES_MAX) {
		free((char *)st->probes[0].outbound);
		memmove(st->probes, st->probes + 1,
		    --st->nprobes * sizeof(*st->probes));
	}
	if ((v = realloc(st->probes, (st->nprobes + 1) * sizeof(*v))) == NULL)
		return;
	st->probes = v;
	if ((name = strdup(tag)) == NULL)
		return;
	v[st->nprobes++] = (struct sl_db_probe){ s->last_try, name, s->alive,
	    s->alive && s->delay_ms > 0 && s->delay_ms < SL_OBS_DELAY_FAILED ?
	    (uint32_t)s->delay_ms : 0 };
}

/* What the observer measured since the last look, one row per probe
 * it finished (the region keeps only the newest). */
static void
probes_collect(struct master *m)
{
	struct stats *st = &m->st;
	struct sl_obs_region r;
	struct sl_obs_status s;
	const char *err;
	size_t n;

	if (m->cur.obs_ro_fd < 0 || sl_obs_map(m->cur.obs_ro_fd, 0, &r,
	    &err) == -1)
		return;
	n = (size_t)r.nobs * r.nout;
	if (st->probe_gen != m->cur.id || st->nprobe_seen != n) {
		free(st->probe_seen);
		st->probe_seen = calloc(n + 1, sizeof(*st->probe_seen));
		st->nprobe_seen = st->probe_seen ? n : 0;
		st->probe_gen = m->cur.id;
	}
	for (uint32_t o = 0; o < r.nobs && st->probe_seen; o++)
		for (uint32_t i = 0; i < r.nout && i < m->cur.cf->noutbounds;
		    i++) {
			int64_t *seen = &st->probe_seen[o * r.nout + i];

			sl_obs_read(&r, o, i, &s);
			if (!s.known || s.last_try <= *seen)
				continue;
			*seen = s.last_try;
			probe_add(st, m->cur.cf->outbounds[i].tag, &s);
		}
	sl_obs_unmap(&r);
}

/* ---- users ---- */

static uint64_t
unsaved(void *arg, const char *email)
{
	struct stats *st = arg;
	uint32_t id = sl_cnames_find(st->names, SL_CN_USER, email);

	if (id >= st->npend[SL_CN_USER])
		return 0;
	return st->pend[SL_CN_USER][id].up + st->pend[SL_CN_USER][id].down;
}

void
stats_enforce(struct master *m)
{
	size_t n = sl_users_enforce(&m->st.users, m->st.names, m->cnt,
	    time(NULL), unsaved, &m->st);

	if (n > 0)
		sl_info("%zu user%s refused from now on (disabled, expired, "
		    "over quota or removed)", n, n == 1 ? "" : "s");
	if (sl_cnames_full(m->st.names, SL_CN_USER) && !m->st.full_warned++)
		sl_warn("more than %d user emails since the start: the "
		    "newest are neither counted nor limited until a restart",
		    SL_CNT_USERS);
}

int
stats_users_reload(struct master *m, int *changed, char *err, size_t errlen)
{
	if (stats_prepare(m, m->cur.cf, changed) == -1) {
		snprintf(err, errlen, "state database %s: %s", m->st.db_path,
		    m->st.db_problem[0] ? m->st.db_problem : "not available");
		return -1;
	}
	return 0;
}

/* Users changed by someone who could not tell the master. */
static void
users_check(struct master *m)
{
	struct sl_db *db = db_get(&m->st);
	uint64_t serial;

	if (db != NULL && m->pend.gen == 0 &&
	    sl_db_users_serial(db, &serial) == 0 &&
	    serial != m->st.users.serial)
		reload_users(m, NULL);
}

void
stats_tick(struct master *m)
{
	struct stats *st = &m->st;
	uint64_t now = sl_clock_ms();

	if (!st->serving || now < st->next_ms)
		return;
	st->next_ms = now + 1000ull * m->cur.cf->sluice.stats_interval;
	probes_collect(m);
	store(m);
	if (!m->stopping)
		users_check(m);
	stats_enforce(m);
}

int
stats_next_timeout(const struct master *m, int timeout)
{
	uint64_t now = sl_clock_ms();
	int left;

	if (!m->st.serving)
		return timeout;
	left = m->st.next_ms <= now ? 0 : (int)(m->st.next_ms - now);
	return timeout < 0 || left < timeout ? left : timeout;
}

void
stats_close(struct master *m)
{
	struct stats *st = &m->st;

	for (size_t i = 0; i < m->np; i++)
		stats_slot_end(m, &m->p[i]);
	store(m);
	if (st->db != NULL)
		sl_db_close(st->db);
	for (int k = 0; k < SL_CN_KINDS; k++)
		free(st->pend[k]);
	for (size_t i = 0; i < m->np; i++)
		for (int k = 0; k < SL_CN_KINDS; k++)
			free(m->p[i].snap.v[k]);
	probes_free(st);
	free(st->probe_seen);
	free(st->db_path);
	sl_users_free(&st->users);
	sl_cnames_free(st->names);
	memset(st, 0, sizeof(*st));
}

/* ---- live figures ---- */

static uint64_t
active_sum(const struct master *m, int kind, uint32_t id)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < m->np; i++) {
		const struct sl_cnt_slot *s = procs_cnt(m, &m->p[i]);

		if (s != NULL && m->p[i].snap.live)
			sum += sl_cnt_get(&slot_rec(s, kind, id)->active);
	}
	return sum;
}

static json_object *
live_kind(struct master *m, int k)
{
	json_object *o = json_object_new_object();

	for (uint32_t id = 0; id < m->st.npend[k]; id++) {
		const struct tally *t = &m->st.pend[k][id];
		uint64_t act = active_sum(m, k, id);
		json_object *e;

		if (t->up == 0 && t->down == 0 && t->conns == 0 && act == 0)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "up", json_object_new_uint64(t->up));
		json_object_object_add(e, "down",
		    json_object_new_uint64(t->down));
		json_object_object_add(e, "connections",
		    json_object_new_uint64(t->conns));
		json_object_object_add(e, "active", json_object_new_uint64(act));
		json_object_object_add(o, sl_cnames_name(m->st.names, k, id),
		    e);
	}
	return o;
}

char *
stats_live_json(struct master *m)
{
	json_object *o = json_object_new_object();
	char day[11], *text;

	fold_all(m);
	sl_db_day(time(NULL), day);
	json_object_object_add(o, "day", json_object_new_string(day));
	for (int k = 0; k < SL_CN_KINDS; k++)
		json_object_object_add(o, kind_name[k], live_kind(m, k));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

/* ---- for `sluicectl status` ---- */

static json_object *
probes_json(const struct sl_db_probes *p)
{
	json_object *o = json_object_new_object(), *a, *e;

	for (size_t i = 0; i < p->n; i++) {
		const struct sl_db_probe *r = &p->v[i];

		if (!json_object_object_get_ex(o, r->outbound, &a)) {
			a = json_object_new_array();
			json_object_object_add(o, r->outbound, a);
		}
		e = json_object_new_object();
		json_object_object_add(e, "ts", json_object_new_int64(r->ts));
		json_object_object_add(e, "alive",
		    json_object_new_boolean(r->alive));
		json_object_object_add(e, "delay_ms",
		    json_object_new_uint64(r->delay_ms));
		json_object_array_add(a, e);
	}
	return o;
}

json_object *
stats_status_json(struct master *m)
{
	struct stats *st = &m->st;
	json_object *o = json_object_new_object();
	struct sl_db_probes p = { NULL, 0 };
	struct sl_db *db = db_get(st);

	json_object_object_add(o, "path",
	    json_object_new_string(st->db_path ? st->db_path : ""));
	json_object_object_add(o, "problem",
	    json_object_new_string(st->db_problem));
	json_object_object_add(o, "users",
	    json_object_new_uint64(st->users.ncu));
	if (db != NULL && sl_db_probes_recent(db, STATUS_PROBES, &p) == -1)
		db_problem(st, sl_db_error(db));
	json_object_object_add(o, "probes", probes_json(&p));
	sl_db_probes_free(&p);
	db_release(st);
	return o;
}
