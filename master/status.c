/*
 * status: what `sluicectl status` prints.
 *
 * Everything comes from the master's own tables and the counters region:
 * asking costs the workers nothing.  Per-listener figures add the live
 * workers of the current listener layout to what exited workers (and the
 * workers of replaced layouts, when they were retired) had counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "master/master_int.h"
#include "shm/counters.h"

static struct ltotal *
total_find(struct master *m, const char *key, int add)
{
	struct ltotal *t;

	for (size_t i = 0; i < m->ntot; i++)
		if (strcmp(m->tot[i].key, key) == 0)
			return &m->tot[i];
	if (!add || (t = realloc(m->tot, (m->ntot + 1) * sizeof(*t))) == NULL)
		return NULL;
	m->tot = t;
	t = &m->tot[m->ntot++];
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	return t;
}

static void
inbound_key(const struct sl_conf_inbound *in, char *buf, size_t len)
{
	snprintf(buf, len, "%s|%d", in->listen, in->port);
}

/* P's counters are indexed by the inbounds of its layout: G must be a
 * generation of that layout. */
void
status_fold(struct master *m, struct proc *p, const struct gen *g)
{
	struct sl_cnt_slot *s = procs_cnt(m, p);
	struct ltotal *t;
	char key[80];

	if (s == NULL || p->folded || p->slot == OBSERVER_SLOT ||
	    p->layout != g->layout)
		return;
	p->folded = 1;
	for (size_t i = 0; i < g->cf->ninbounds && i < SL_CNT_INBOUNDS; i++) {
		inbound_key(&g->cf->inbounds[i], key, sizeof(key));
		if ((t = total_find(m, key, 1)) != NULL)
			t->accepted += sl_cnt_get(&s->in[i].accepted);
	}
}

static void
iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_object *
status_workers(struct master *m)
{
	json_object *a = json_object_new_array();
	char when[32];

	for (size_t i = 0; i < m->np; i++) {
		const struct proc *p = &m->p[i];
		struct sl_cnt_slot *s = procs_cnt(m, p);
		json_object *o;

		if (p->pid == 0)
			continue;
		o = json_object_new_object();
		iso_time(p->started_wall, when, sizeof(when));
		json_object_object_add(o, "slot", p->slot == OBSERVER_SLOT ?
		    json_object_new_string("observer") :
		    json_object_new_int(p->slot));
		json_object_object_add(o, "pid", json_object_new_int(p->pid));
		json_object_object_add(o, "generation",
		    json_object_new_uint64(p->gen));
		json_object_object_add(o, "started",
		    json_object_new_string(when));
		json_object_object_add(o, "state", json_object_new_string(
		    p->exiting ? "draining" : p->ready ||
		    p->slot == OBSERVER_SLOT ? "running" : "starting"));
		json_object_object_add(o, "active", json_object_new_uint64(
		    s && p->slot != OBSERVER_SLOT ? sl_cnt_get(&s->active) : 0));
		json_object_object_add(o, "accepted", json_object_new_uint64(
		    s && p->slot != OBSERVER_SLOT ? sl_cnt_get(&s->accepted) :
		    0));
		json_object_array_add(a, o);
	}
	return a;
}

/* Live counts of inbound I over the current layout's workers. */
static void
listener_counts(struct master *m, size_t i, uint64_t *acc, uint64_t *act)
{
	*acc = *act = 0;
	for (size_t k = 0; k < m->np && i < SL_CNT_INBOUNDS; k++) {
		const struct proc *p = &m->p[k];
		struct sl_cnt_slot *s = procs_cnt(m, p);

		if (p->pid == 0 || s == NULL || p->slot == OBSERVER_SLOT ||
		    p->layout != m->cur.layout || p->folded)
			continue;
		*acc += sl_cnt_get(&s->in[i].accepted);
		*act += sl_cnt_get(&s->in[i].active);
	}
}

static json_object *
status_listeners(struct master *m)
{
	json_object *a = json_object_new_array();
	char key[80], addr[96];

	for (size_t i = 0; i < m->cur.cf->ninbounds; i++) {
		const struct sl_conf_inbound *in = &m->cur.cf->inbounds[i];
		struct ltotal *t;
		uint64_t acc, act;
		json_object *o = json_object_new_object();

		inbound_key(in, key, sizeof(key));
		t = total_find(m, key, 0);
		listener_counts(m, i, &acc, &act);
		snprintf(addr, sizeof(addr), strchr(in->listen, ':') ?
		    "[%s]:%d" : "%s:%d", in->listen, in->port);
		json_object_object_add(o, "tag",
		    json_object_new_string(in->tag ? in->tag : ""));
		json_object_object_add(o, "address",
		    json_object_new_string(addr));
		json_object_object_add(o, "counted",
		    json_object_new_boolean(i < SL_CNT_INBOUNDS));
		json_object_object_add(o, "accepted", json_object_new_uint64(
		    acc + (t ? t->accepted : 0)));
		json_object_object_add(o, "active",
		    json_object_new_uint64(act));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *
status_json(struct master *m)
{
	json_object *o = json_object_new_object();
	char when[32], relay[256];

	iso_time(m->started, when, sizeof(when));
	json_object_object_add(o, "pid", json_object_new_int(m->pid));
	json_object_object_add(o, "started", json_object_new_string(when));
	json_object_object_add(o, "config",
	    json_object_new_string(m->opts->config));
	json_object_object_add(o, "generation",
	    json_object_new_uint64(m->cur.id));
	iso_time(m->cur.loaded, when, sizeof(when));
	json_object_object_add(o, "loaded", json_object_new_string(when));
	json_object_object_add(o, "reloading",
	    json_object_new_boolean(m->pend.gen != 0));
	json_object_object_add(o, "stopping",
	    json_object_new_boolean(m->stopping != 0));
	json_object_object_add(o, "relay", json_object_new_string(
	    master_relay_text(m, relay, sizeof(relay))));
	json_object_object_add(o, "workers", status_workers(m));
	json_object_object_add(o, "listeners", status_listeners(m));
	json_object_object_add(o, "database", stats_status_json(m));
	return o;
}

/* Probes newest first: "up 12 ms" or "down", and the share up. */
static void
status_print_probes(FILE *f, json_object *probes)
{
	json_object_object_foreach(probes, tag, a) {
		size_t n = json_object_array_length(a), up = 0;

		fprintf(f, "%-16s", tag);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			int alive = json_object_get_boolean(
			    json_object_object_get(e, "alive"));

			up += alive != 0;
			if (alive)
				fprintf(f, " up %d ms,", json_object_get_int(
				    json_object_object_get(e, "delay_ms")));
			else
				fprintf(f, " down,");
		}
		fprintf(f, " %zu/%zu up\n", up, n);
	}
}

static void
status_print_db(FILE *f, json_object *db)
{
	const char *problem = json_object_get_string(
	    json_object_object_get(db, "problem"));
	json_object *probes = json_object_object_get(db, "probes");

	fprintf(f, "\ndatabase %s: %s, %d users from it\n",
	    json_object_get_string(json_object_object_get(db, "path")),
	    problem[0] ? problem : "ok",
	    json_object_get_int(json_object_object_get(db, "users")));
	if (json_object_object_length(probes) > 0) {
		fprintf(f, "\nbalancer probes (newest first)\n");
		status_print_probes(f, probes);
	}
}

/* The same object as aligned text. */
static void
status_print(FILE *f, json_object *o)
{
	json_object *a, *e;

	fprintf(f, "sluiced pid %d, started %s\nconfig %s\n"
	    "generation %s, loaded %s%s%s\n",
	    json_object_get_int(json_object_object_get(o, "pid")),
	    json_object_get_string(json_object_object_get(o, "started")),
	    json_object_get_string(json_object_object_get(o, "config")),
	    json_object_get_string(json_object_object_get(o, "generation")),
	    json_object_get_string(json_object_object_get(o, "loaded")),
	    json_object_get_boolean(json_object_object_get(o, "reloading")) ?
	    ", reloading" : "",
	    json_object_get_boolean(json_object_object_get(o, "stopping")) ?
	    ", stopping" : "");
	fprintf(f, "relay %s\n",
	    json_object_get_string(json_object_object_get(o, "relay")));
	a = json_object_object_get(o, "workers");
	fprintf(f, "\n%-8s %-8s %-4s %-20s %-8s %8s %10s\n", "slot", "pid",
	    "gen", "started", "state", "active", "accepted");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
#define S(k) json_object_get_string(json_object_object_get(e, k))
		fprintf(f, "%-8s %-8s %-4s %-20s %-8s %8s %10s\n", S("slot"),
		    S("pid"), S("generation"), S("started"), S("state"),
		    S("active"), S("accepted"));
	}
	a = json_object_object_get(o, "listeners");
	fprintf(f, "\n%-16s %-28s %10s %8s\n", "inbound", "address",
	    "accepted", "active");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		fprintf(f, "%-16s %-28s %10s %8s\n", S("tag")[0] ? S("tag") :
		    "-", S("address"), S("accepted"), S("active"));
#undef S
	}
	status_print_db(f, json_object_object_get(o, "database"));
}

char *
status_text(struct master *m, int json)
{
	json_object *o = status_json(m);
	char *text = NULL;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&text, &len)) != NULL) {
		if (json)
			fprintf(f, "%s\n", json_object_to_json_string_ext(o,
			    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
		else
			status_print(f, o);
		fclose(f);
	}
	json_object_put(o);
	return text;
}
