/* users: the database's users as the master serves them (see users.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/cnames.h"
#include "master/conf.h"
#include "master/users.h"
#include "master/uuid.h"
#include "shm/counters.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every email of the config's clients, sorted (NULL when there are none). */
static const char **
config_emails(const struct sl_conf *cf, size_t *n)
{
	const char **v;
	size_t total = 0;

	*n = 0;
	for (size_t i = 0; i < cf->ninbounds; i++)
		total += cf->inbounds[i].nclients;
	if (total == 0 || (v = calloc(total, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < cf->ninbounds; i++)
		for (size_t j = 0; j < cf->inbounds[i].nclients; j++)
			if (*cf->inbounds[i].clients[j].email != '\0')
				v[(*n)++] = cf->inbounds[i].clients[j].email;
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* 0 and CU filled from D, or -1 with the reason. */
static int
convert(const struct sl_db_user *d, struct sl_cuser *cu, const char **why)
{
	memset(cu, 0, sizeof(*cu));
	if (sl_uuid_parse(d->uuid, cu->uuid) == -1) {
		*why = "its uuid is not a UUID";
		return -1;
	}
	if (*d->password == '\0') {
		*why = "empty password";
		return -1;
	}
	sl_trojan_key(d->password, cu->trojan_key);
	cu->email = d->email;
	cu->flow = d->flow;
	cu->level = d->level;
	cu->inbounds = d->inbounds;
	cu->ninbounds = d->ninbounds;
	return 0;
}

static int
same_tags(const struct sl_cuser *a, const struct sl_cuser *b)
{
	if (a->ninbounds != b->ninbounds)
		return 0;
	for (size_t i = 0; i < a->ninbounds; i++)
		if (strcmp(a->inbounds[i], b->inbounds[i]) != 0)
			return 0;
	return 1;
}

/* Everything of the compiled users that lands in an image is the same. */
static int
same_image(const struct sl_cuser *a, size_t na, const struct sl_cuser *b,
    size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].email, b[i].email) != 0 ||
		    memcmp(a[i].uuid, b[i].uuid, sizeof(a[i].uuid)) != 0 ||
		    strcmp(a[i].trojan_key, b[i].trojan_key) != 0 ||
		    strcmp(a[i].flow, b[i].flow) != 0 ||
		    a[i].level != b[i].level || !same_tags(&a[i], &b[i]))
			return 0;
	return 1;
}

int
sl_users_load(struct sl_db *db, const struct sl_conf *cf, struct sl_users *u,
    int *changed, struct sl_errors *warn)
{
	struct sl_db_users d;
	struct sl_cuser *cu;
	const char **emails, *why;
	size_t nemails, n = 0;
	uint64_t serial;

	if (sl_db_users_serial(db, &serial) == -1 ||
	    sl_db_users_load(db, &d) == -1)
		return -1;
	if ((cu = calloc(d.n + 1, sizeof(*cu))) == NULL) {
		sl_db_users_free(&d);
		return -1;
	}
	emails = config_emails(cf, &nemails);
	for (size_t i = 0; i < d.n; i++) {
		if (emails != NULL && bsearch(&d.v[i].email, emails, nemails,
		    sizeof(*emails), cmp_str) != NULL)
			sl_errors_add(warn, NULL, "user %s: a client of the "
			    "configuration has this email; the database's "
			    "entry is not used", d.v[i].email);
		else if (convert(&d.v[i], &cu[n], &why) == -1)
			sl_errors_add(warn, NULL, "user %s: %s", d.v[i].email,
			    why);
		else
			n++;
	}
	free(emails);
	*changed = !same_image(u->cu, u->ncu, cu, n);
	sl_db_users_free(&u->db);
	free(u->cu);
	u->db = d;
	u->cu = cu;
	u->ncu = n;
	u->serial = serial;
	return 0;
}

void
sl_users_free(struct sl_users *u)
{
	sl_db_users_free(&u->db);
	free(u->cu);
	free(u->was);
	memset(u, 0, sizeof(*u));
}

int
sl_users_joins(char *const *tags, size_t ntags, const char *tag)
{
	if (ntags == 0)
		return 1;
	for (size_t i = 0; i < ntags; i++)
		if (strcmp(tags[i], tag) == 0)
			return 1;
	return 0;
}

void
sl_users_extra(const struct sl_users *u, struct sl_compile_extra *x)
{
	x->users = u->cu;
	x->nusers = u->ncu;
}

static int
cmp_email(const void *key, const void *rec)
{
	return strcmp(key, ((const struct sl_db_user *)rec)->email);
}

/* The database orders users by email (BINARY: strcmp's order). */
static const struct sl_db_user *
db_user(const struct sl_users *u, const char *email)
{
	if (u->db.n == 0)
		return NULL;
	return bsearch(email, u->db.v, u->db.n, sizeof(*u->db.v), cmp_email);
}

void
sl_users_used(struct sl_users *u, const char *email, uint64_t up,
    uint64_t down)
{
	struct sl_db_user *d = (struct sl_db_user *)db_user(u, email);

	if (d != NULL) {
		d->used_up += up;
		d->used_down += down;
	}
}

static enum sl_cnt_ustate
admission(const struct sl_db_user *d, time_t now, uint64_t unsaved)
{
	if (!d->enabled)
		return SL_CNT_DISABLED;
	if (d->expire != 0 && now >= d->expire)
		return SL_CNT_EXPIRED;
	if (d->quota != 0 && d->used_up + d->used_down + unsaved >= d->quota)
		return SL_CNT_QUOTA;
	return SL_CNT_OK;
}

/* Write ID's state; 1 if the user is refused now and was not before. */
static int
set_state(struct sl_cnt_region *r, uint32_t id, enum sl_cnt_ustate st,
    uint32_t max_conn)
{
	uint32_t old_max;
	enum sl_cnt_ustate old = sl_cnt_user_state(r, id, &old_max);

	if (old != st || old_max != max_conn)
		sl_cnt_user_set(r, id, st, max_conn);
	return st != SL_CNT_OK && old == SL_CNT_OK;
}

/* Mark the ids of current users in a fresh map; the old one was[]. */
static uint8_t *
current_ids(struct sl_users *u, struct sl_cnames *names, uint32_t n)
{
	uint8_t *now = calloc(n + 1, 1);
	uint32_t id;

	if (now == NULL)
		return NULL;
	for (size_t i = 0; i < u->ncu; i++)
		if ((id = sl_cnames_find(names, SL_CN_USER, u->cu[i].email)) <
		    n)
			now[id] = 1;
	return now;
}

size_t
sl_users_enforce(struct sl_users *u, struct sl_cnames *names,
    struct sl_cnt_region *r, time_t now, sl_users_unsaved_fn unsaved,
    void *arg)
{
	uint32_t n = sl_cnames_count(names, SL_CN_USER), id;
	uint8_t *cur = current_ids(u, names, n);
	size_t refused = 0;

	if (cur == NULL || r == NULL) {
		free(cur);
		return 0;
	}
	for (size_t i = 0; i < u->ncu; i++) {
		const struct sl_db_user *d = db_user(u, u->cu[i].email);

		if (d == NULL ||
		    (id = sl_cnames_find(names, SL_CN_USER, d->email)) >= n)
			continue;
		refused += set_state(r, id, admission(d, now,
		    unsaved(arg, d->email)), d->max_conn);
	}
	for (id = 0; id < u->nwas && id < n; id++)
		if (u->was[id] && !cur[id])
			refused += set_state(r, id, SL_CNT_REMOVED, 0);
	free(u->was);
	u->was = cur;
	u->nwas = n;
	if (refused > 0)
		atomic_fetch_add_explicit(&r->epoch, 1, memory_order_relaxed);
	return refused;
}
