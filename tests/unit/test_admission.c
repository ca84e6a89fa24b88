/*
 * Counter ids (master/cnames.c), the counters region (shm/counters.c) and
 * users' admission (master/users.c): ids stay put, a user's open
 * connections are summed over slots, and each reason to refuse a user is
 * written for the workers with the epoch moved once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "master/cnames.h"
#include "master/users.h"
#include "shm/counters.h"

static void
test_cnames_ids(void **state)
{
	struct sl_cnames *c = sl_cnames_new();
	char name[32];
	uint32_t a, b;

	(void)state;
	a = sl_cnames_id(c, SL_CN_USER, "a@x");
	b = sl_cnames_id(c, SL_CN_USER, "b@x");
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	/* Kinds are separate spaces; "" and NULL are never counted. */
	assert_int_equal(sl_cnames_id(c, SL_CN_OUTBOUND, "a@x"), 0);
	assert_int_equal(sl_cnames_id(c, SL_CN_USER, ""), SL_CNT_NONE);
	assert_int_equal(sl_cnames_id(c, SL_CN_USER, NULL), SL_CNT_NONE);
	/* Many more names (rehashes): the first ids do not move. */
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "u%d@x", i);
		assert_int_equal(sl_cnames_id(c, SL_CN_USER, name),
		    (uint32_t)i + 2);
	}
	assert_int_equal(sl_cnames_id(c, SL_CN_USER, "a@x"), a);
	assert_int_equal(sl_cnames_find(c, SL_CN_USER, "u4999@x"), 5001);
	assert_int_equal(sl_cnames_find(c, SL_CN_USER, "nope"), SL_CNT_NONE);
	assert_string_equal(sl_cnames_name(c, SL_CN_USER, 1), "b@x");
	assert_null(sl_cnames_name(c, SL_CN_USER, 5002));
	assert_int_equal(sl_cnames_count(c, SL_CN_USER), 5002);
	sl_cnames_free(c);
}

static void
test_cnames_full(void **state)
{
	struct sl_cnames *c = sl_cnames_new();
	char name[32];

	(void)state;
	for (int i = 0; i < SL_CNT_TAGS; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_not_equal(sl_cnames_id(c, SL_CN_INBOUND, name),
		    SL_CNT_NONE);
	}
	assert_false(sl_cnames_full(c, SL_CN_INBOUND));
	assert_int_equal(sl_cnames_id(c, SL_CN_INBOUND, "one more"),
	    SL_CNT_NONE);
	assert_true(sl_cnames_full(c, SL_CN_INBOUND));
	/* Names already given keep working. */
	assert_int_equal(sl_cnames_id(c, SL_CN_INBOUND, "t7"), 7);
	sl_cnames_free(c);
}

static void
test_counters_slots(void **state)
{
	struct sl_cnt_region *r = sl_cnt_create();
	struct sl_cnt_ids ids = { 5, 2, SL_CNT_NONE }, out = { SL_CNT_NONE,
	    SL_CNT_NONE, 3 };

	(void)state;
	assert_non_null(r);
	r->nslots = 3;
	sl_cnt_proxy_open(&r->slot[0], &ids);
	sl_cnt_proxy_open(&r->slot[2], &ids);
	sl_cnt_proxy_open(&r->slot[2], &out);
	sl_cnt_bytes(&r->slot[2], &ids, 100, 7);
	assert_int_equal(sl_cnt_user_active(r, 5), 2);
	assert_int_equal(sl_cnt_get(&r->slot[2].user[5].up), 100);
	assert_int_equal(sl_cnt_get(&r->slot[2].tin[2].down), 7);
	assert_int_equal(sl_cnt_get(&r->slot[2].tout[3].conns), 1);
	/* A slot past nslots is not summed. */
	sl_cnt_proxy_open(&r->slot[3], &ids);
	assert_int_equal(sl_cnt_user_active(r, 5), 2);
	sl_cnt_proxy_close(&r->slot[0], &ids);
	assert_int_equal(sl_cnt_user_active(r, 5), 1);
	assert_int_equal(sl_cnt_get(&r->slot[0].user[5].conns), 1);
	/* A reset clears the ids below its bounds. */
	sl_cnt_reset(&r->slot[2], 6, 4);
	assert_int_equal(sl_cnt_user_active(r, 5), 0);
	assert_int_equal(sl_cnt_get(&r->slot[2].tout[3].conns), 0);
	/* Out-of-range ids count nothing and read as allowed. */
	ids.user = SL_CNT_USERS;
	sl_cnt_bytes(&r->slot[1], &ids, 1, 1);
	sl_cnt_user_set(r, SL_CNT_USERS, SL_CNT_QUOTA, 1);
	uint32_t max = 9;
	assert_int_equal(sl_cnt_user_state(r, SL_CNT_USERS, &max), SL_CNT_OK);
	assert_int_equal(max, 0);
	sl_cnt_destroy(r);
}

/* ---- admission ---- */

static void
user(struct sl_db_user *d, struct sl_cuser *cu, const char *email)
{
	memset(d, 0, sizeof(*d));
	d->email = strdup(email);
	d->uuid = strdup("");
	d->password = strdup("");
	d->flow = strdup("");
	d->enabled = 1;
	memset(cu, 0, sizeof(*cu));
	cu->email = d->email;
	cu->flow = "";
}

struct fixture {
	struct sl_users		 u;
	struct sl_cnames	*names;
	struct sl_cnt_region	*r;
	uint64_t		 unsaved;	/* for every user */
};

static uint64_t
unsaved(void *arg, const char *email)
{
	(void)email;
	return ((struct fixture *)arg)->unsaved;
}

/* Users a@x .. d@x (sorted, as the database returns them), with ids. */
static void
fixture_init(struct fixture *f)
{
	static const char *const emails[] = { "a@x", "b@x", "c@x", "d@x" };

	memset(f, 0, sizeof(*f));
	f->u.db.n = f->u.ncu = 4;
	f->u.db.v = calloc(4, sizeof(*f->u.db.v));
	f->u.cu = calloc(4, sizeof(*f->u.cu));
	for (size_t i = 0; i < 4; i++)
		user(&f->u.db.v[i], &f->u.cu[i], emails[i]);
	f->names = sl_cnames_new();
	sl_cnames_id(f->names, SL_CN_USER, "config@x");	/* not a db user */
	for (size_t i = 0; i < 4; i++)
		sl_cnames_id(f->names, SL_CN_USER, emails[i]);
	f->r = sl_cnt_create();
	assert_non_null(f->r);
}

static void
fixture_free(struct fixture *f)
{
	sl_users_free(&f->u);
	sl_cnames_free(f->names);
	sl_cnt_destroy(f->r);
}

static enum sl_cnt_ustate
state_of(struct fixture *f, const char *email, uint32_t *max)
{
	return sl_cnt_user_state(f->r, sl_cnames_find(f->names, SL_CN_USER,
	    email), max);
}

static void
test_admission_reasons(void **state)
{
	struct fixture f;
	time_t now = 1800000000;
	uint32_t max;

	(void)state;
	fixture_init(&f);
	f.u.db.v[0].enabled = 0;			/* a: disabled */
	f.u.db.v[1].expire = now;			/* b: expires now */
	f.u.db.v[2].quota = 1000;			/* c: quota */
	f.u.db.v[2].used_up = 600;
	f.u.db.v[2].used_down = 300;
	f.u.db.v[3].max_conn = 3;			/* d: a limit */
	f.u.db.v[3].expire = now + 1;
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, now, unsaved,
	    &f), 2);
	assert_int_equal(f.r->epoch, 1);
	assert_int_equal(state_of(&f, "a@x", &max), SL_CNT_DISABLED);
	assert_int_equal(state_of(&f, "b@x", &max), SL_CNT_EXPIRED);
	assert_int_equal(state_of(&f, "c@x", &max), SL_CNT_OK);
	assert_int_equal(state_of(&f, "d@x", &max), SL_CNT_OK);
	assert_int_equal(max, 3);
	assert_int_equal(state_of(&f, "config@x", &max), SL_CNT_OK);
	/* Not yet stored bytes count: c reaches its quota.  Nothing else
	 * changed, so the epoch moves once more only. */
	f.unsaved = 100;
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, now, unsaved,
	    &f), 1);
	assert_int_equal(state_of(&f, "c@x", &max), SL_CNT_QUOTA);
	assert_int_equal(f.r->epoch, 2);
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, now, unsaved,
	    &f), 0);
	assert_int_equal(f.r->epoch, 2);
	/* Stored usage follows a flush: the same answer without unsaved. */
	f.unsaved = 0;
	sl_users_used(&f.u, "c@x", 100, 0);
	assert_int_equal(f.u.db.v[2].used_up, 700);
	sl_users_enforce(&f.u, f.names, f.r, now, unsaved, &f);
	assert_int_equal(state_of(&f, "c@x", &max), SL_CNT_QUOTA);
	/* Time passes: d expires too. */
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, now + 1,
	    unsaved, &f), 1);
	assert_int_equal(state_of(&f, "d@x", &max), SL_CNT_EXPIRED);
	fixture_free(&f);
}

static void
test_admission_removed(void **state)
{
	struct fixture f;
	uint32_t max;

	(void)state;
	fixture_init(&f);
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, 0, unsaved,
	    &f), 0);
	/* b@x leaves the database: refused from now on. */
	sl_db_user_free(&f.u.db.v[1]);
	memmove(&f.u.db.v[1], &f.u.db.v[2], 2 * sizeof(*f.u.db.v));
	memmove(&f.u.cu[1], &f.u.cu[2], 2 * sizeof(*f.u.cu));
	f.u.db.n = f.u.ncu = 3;
	assert_int_equal(sl_users_enforce(&f.u, f.names, f.r, 0, unsaved,
	    &f), 1);
	assert_int_equal(state_of(&f, "b@x", &max), SL_CNT_REMOVED);
	assert_int_equal(state_of(&f, "a@x", &max), SL_CNT_OK);
	assert_string_equal(sl_cnt_ustate_text(SL_CNT_REMOVED), "removed");
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cnames_ids),
		cmocka_unit_test(test_cnames_full),
		cmocka_unit_test(test_counters_slots),
		cmocka_unit_test(test_admission_reasons),
		cmocka_unit_test(test_admission_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
