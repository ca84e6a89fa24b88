/*
 * ctl_stats: `sluicectl stats` -- traffic per user, inbound and outbound.
 *
 * The stored figures are the database's daily rows (sl_db_traffic_days);
 * a running sluiced adds what it counted since its last flush (control
 * command "stats", one JSON object for the current day).  Every user in
 * the database is listed, with or without traffic, and so is any other
 * name with traffic (users written in the configuration).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "master/ctl.h"
#include "master/db.h"

#define STATS_WAIT_MS	10000

struct st_day {
	char		 day[11];
	uint64_t	 up, down, conns;
};

/* One user, inbound or outbound: its days and their sum. */
struct st_name {
	char		*name;
	uint64_t	 up, down, conns, active;
	struct st_day	*days;
	size_t		 ndays, cap;
};

struct st_list {
	struct st_name	*v;
	size_t		 n, cap;
};

struct st_opts {
	const char	*user, *since;
	int		 json;
};

static void
list_free(struct st_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].days);
	}
	free(l->v);
}

/* NAME's entry, made when missing; NULL when out of memory. */
static struct st_name *
list_get(struct st_list *l, const char *name)
{
	struct st_name *nv;

	/* rows come sorted by name: the last entry is the likely one */
	for (size_t i = l->n; i > 0; i--)
		if (strcmp(l->v[i - 1].name, name) == 0)
			return &l->v[i - 1];
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((nv = reallocarray(l->v, l->cap, sizeof(*nv))) == NULL)
			return NULL;
		l->v = nv;
	}
	nv = &l->v[l->n];
	memset(nv, 0, sizeof(*nv));
	if ((nv->name = strdup(name)) == NULL)
		return NULL;
	l->n++;
	return nv;
}

static int
name_add(struct st_name *n, const char *day, uint64_t up, uint64_t down,
    uint64_t conns)
{
	struct st_day *d = NULL, *nv;

	for (size_t i = n->ndays; i > 0 && d == NULL; i--)
		if (strcmp(n->days[i - 1].day, day) == 0)
			d = &n->days[i - 1];
	if (d == NULL) {
		if (n->ndays == n->cap) {
			n->cap = n->cap ? n->cap * 2 : 8;
			if ((nv = reallocarray(n->days, n->cap,
			    sizeof(*nv))) == NULL)
				return -1;
			n->days = nv;
		}
		d = &n->days[n->ndays++];
		memset(d, 0, sizeof(*d));
		snprintf(d->day, sizeof(d->day), "%s", day);
	}
	d->up += up;
	d->down += down;
	d->conns += conns;
	n->up += up;
	n->down += down;
	n->conns += conns;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct st_name *)a)->name,
	    ((const struct st_name *)b)->name);
}

static int
by_day(const void *a, const void *b)
{
	return strcmp(((const struct st_day *)a)->day,
	    ((const struct st_day *)b)->day);
}

static void
list_sort(struct st_list *l)
{
	if (l->n > 0)
		qsort(l->v, l->n, sizeof(*l->v), by_name);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ndays > 0)
			qsort(l->v[i].days, l->v[i].ndays,
			    sizeof(*l->v[i].days), by_day);
}

/* ---- stored figures ---- */

static int
load_kind(struct sl_db *db, enum sl_db_kind kind, const struct st_opts *o,
    struct st_list *l)
{
	struct sl_db_days d;
	struct st_name *n;
	int rc = 0;

	if (sl_db_traffic_days(db, kind, kind == SL_DB_USER ? o->user : NULL,
	    o->since, &d) == -1)
		return -1;
	for (size_t i = 0; i < d.n && rc == 0; i++)
		if ((n = list_get(l, d.v[i].name)) == NULL ||
		    name_add(n, d.v[i].day, d.v[i].up, d.v[i].down,
		    d.v[i].conns) == -1)
			rc = -1;
	sl_db_days_free(&d);
	return rc;
}

/* Users without traffic are listed too. */
static int
load_users(struct sl_db *db, const struct st_opts *o, struct st_list *l)
{
	struct sl_db_users us;
	int rc = 0;

	if (o->user != NULL)
		return list_get(l, o->user) == NULL ? -1 : 0;
	if (sl_db_users_load(db, &us) == -1)
		return -1;
	for (size_t i = 0; i < us.n && rc == 0; i++)
		if (list_get(l, us.v[i].email) == NULL)
			rc = -1;
	sl_db_users_free(&us);
	return rc;
}

static int
load_stored(const struct sl_ctl_env *env, const struct st_opts *o,
    struct st_list l[3])
{
	struct sl_db *db;
	int rc = 0;

	if ((db = sl_ctl_db_open(env, SL_DB_READONLY)) == NULL)
		return -1;
	if (load_users(db, o, &l[SL_DB_USER]) == -1 ||
	    load_kind(db, SL_DB_USER, o, &l[SL_DB_USER]) == -1 ||
	    (o->user == NULL &&
	    (load_kind(db, SL_DB_INBOUND, o, &l[SL_DB_INBOUND]) == -1 ||
	    load_kind(db, SL_DB_OUTBOUND, o, &l[SL_DB_OUTBOUND]) == -1))) {
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    *sl_db_error(db) ? sl_db_error(db) : "out of memory");
		rc = -1;
	}
	sl_db_close(db);
	return rc;
}

/* ---- live figures ---- */

static uint64_t
member_u64(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_uint64(v);
}

static int
live_kind(json_object *top, const char *key, const char *day,
    const char *only, struct st_list *l)
{
	struct st_name *n;
	json_object *group;

	if (!json_object_object_get_ex(top, key, &group) ||
	    !json_object_is_type(group, json_type_object))
		return 0;
	json_object_object_foreach(group, name, v) {
		if (!json_object_is_type(v, json_type_object) ||
		    (only != NULL && strcmp(name, only) != 0))
			continue;
		if ((n = list_get(l, name)) == NULL ||
		    name_add(n, day, member_u64(v, "up"),
		    member_u64(v, "down"), member_u64(v, "connections")) == -1)
			return -1;
		n->active += member_u64(v, "active");
	}
	return 0;
}

static void
live_note(const char *why)
{
	fprintf(stderr, "sluicectl: %s: stored figures only\n", why);
}

/* What the daemon counted since its last flush, added to its day. */
static int
load_live(const struct sl_ctl_env *env, const struct st_opts *o,
    struct st_list l[3])
{
	json_object *top = NULL, *dayv;
	const char *body, *day;
	char *ans, why[512];
	int reached, ok, rc = 0;

	if ((ans = sl_ctl_ask(env->sock, "stats", STATS_WAIT_MS, &reached)) ==
	    NULL) {
		if (reached)
			snprintf(why, sizeof(why), "no answer from sluiced at "
			    "%s", env->sock);
		else if (sl_ctl_not_running(errno))
			snprintf(why, sizeof(why), "sluiced is not running at "
			    "%s", env->sock);
		else
			snprintf(why, sizeof(why), "cannot reach sluiced at "
			    "%s: %s", env->sock, strerror(errno));
		live_note(why);
		return 0;
	}
	if ((body = sl_ctl_body(ans, &ok)) == NULL || !ok) {
		if (body == NULL)
			body = "closed\n";
		snprintf(why, sizeof(why), "sluiced has no live figures (%.*s)",
		    (int)strcspn(body, "\n"), body);
		live_note(why);
	} else if ((top = json_tokener_parse(body)) == NULL ||
	    !json_object_object_get_ex(top, "day", &dayv) ||
	    (day = json_object_get_string(dayv)) == NULL ||
	    strlen(day) != 10)
		live_note("sluiced's stats answer is not what was expected");
	else if (o->since == NULL || strcmp(day, o->since) >= 0) {
		if (live_kind(top, "user", day, o->user, &l[SL_DB_USER]) ==
		    -1 || (o->user == NULL &&
		    (live_kind(top, "inbound", day, NULL,
		    &l[SL_DB_INBOUND]) == -1 ||
		    live_kind(top, "outbound", day, NULL,
		    &l[SL_DB_OUTBOUND]) == -1))) {
			fprintf(stderr, "sluicectl: out of memory\n");
			rc = -1;
		}
	}
	json_object_put(top);
	free(ans);
	return rc;
}

/* ---- output ---- */

static void
print_name(const char *kind, const struct st_name *n, int days)
{
	char up[32], down[32];

	printf("%s %s: up %s, down %s, %llu connections", kind, n->name,
	    sl_ctl_bytes(n->up, up, sizeof(up)),
	    sl_ctl_bytes(n->down, down, sizeof(down)),
	    (unsigned long long)n->conns);
	if (n->active > 0)
		printf(", %llu active", (unsigned long long)n->active);
	putchar('\n');
	for (size_t i = 0; days && i < n->ndays; i++)
		printf("  %s  up %s, down %s, %llu connections\n",
		    n->days[i].day,
		    sl_ctl_bytes(n->days[i].up, up, sizeof(up)),
		    sl_ctl_bytes(n->days[i].down, down, sizeof(down)),
		    (unsigned long long)n->days[i].conns);
}

static void
print_human(const struct st_list l[3])
{
	static const char *const kinds[] = { "user", "inbound", "outbound" };
	int any = 0;

	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < l[k].n; i++, any = 1)
			print_name(kinds[k], &l[k].v[i], k == SL_DB_USER);
	if (!any)
		printf("no traffic\n");
}

static void
print_json(const struct st_list *users)
{
	json_object *arr = json_object_new_array(), *o, *days, *d;

	for (size_t i = 0; i < users->n; i++) {
		const struct st_name *n = &users->v[i];

		o = json_object_new_object();
		json_object_object_add(o, "user",
		    json_object_new_string(n->name));
		json_object_object_add(o, "up", json_object_new_uint64(n->up));
		json_object_object_add(o, "down",
		    json_object_new_uint64(n->down));
		json_object_object_add(o, "connections",
		    json_object_new_uint64(n->conns));
		json_object_object_add(o, "active",
		    json_object_new_uint64(n->active));
		days = json_object_new_array();
		for (size_t j = 0; j < n->ndays; j++) {
			d = json_object_new_object();
			json_object_object_add(d, "day",
			    json_object_new_string(n->days[j].day));
			json_object_object_add(d, "up",
			    json_object_new_uint64(n->days[j].up));
			json_object_object_add(d, "down",
			    json_object_new_uint64(n->days[j].down));
			json_object_object_add(d, "connections",
			    json_object_new_uint64(n->days[j].conns));
			json_object_array_add(days, d);
		}
		json_object_object_add(o, "days", days);
		json_object_array_add(arr, o);
	}
	printf("%s\n", json_object_to_json_string_ext(arr,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

static const struct option stats_opts[] = {
	{ "user", required_argument, NULL, 'u' },
	{ "since", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 }
};

static int
stats_parse(int argc, char **argv, struct st_opts *o)
{
	int64_t t;
	int c;

	opterr = 0;
	optind = 0;	/* glibc: start afresh, after main()'s "+" */
	while ((c = getopt_long(argc, argv, ":", stats_opts, NULL)) != -1) {
		if (c == 'u')
			o->user = optarg;
		else if (c == 's' && sl_ctl_parse_date(optarg, &t) == 0)
			o->since = optarg;
		else if (c == 'j')
			o->json = 1;
		else {
			fprintf(stderr, "sluicectl: stats: %s %s\n", c == 's' ?
			    "--since wants YYYY-MM-DD, not" : c == ':' ?
			    "missing value for" : "unexpected option",
			    c == 's' ? optarg : argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sluicectl: stats: unexpected argument %s\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

int
sl_ctl_stats(const struct sl_ctl_env *env, int argc, char **argv)
{
	struct st_list l[3];
	struct st_opts o = { 0 };
	int rc = 1;

	if (stats_parse(argc, argv, &o) == -1)
		return 2;
	memset(l, 0, sizeof(l));
	if (load_stored(env, &o, l) == 0 && load_live(env, &o, l) == 0) {
		for (int k = 0; k < 3; k++)
			list_sort(&l[k]);
		if (o.json)
			print_json(&l[SL_DB_USER]);
		else
			print_human(l);
		rc = 0;
	}
	for (int k = 0; k < 3; k++)
		list_free(&l[k]);
	return rc;
}
