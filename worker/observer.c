/*
 * observer: the observer process (Xray's observatory and
 * burstObservatory, spec 6.2 and 6.3).
 *
 * Maps the generation's image and its observation region (read-write: the
 * only writer), runs one epoll loop, and for each OBSERVERS record probes
 * its subject outbounds (worker/probe.h) and publishes what it learns in
 * the region slot (record, outbound) that workers' balancers read.
 *
 * observatory: subjects in tag order, one probe at a time with probeInterval
 * between probes (a round takes n x interval), or with enableConcurrency
 * all at once and probeInterval between rounds.  GET, header only; a
 * failure publishes delay 99999999.
 * burstObservatory: one immediate ping per subject at start; then every
 * period (interval x sampling) `sampling` pings per subject at random
 * offsets within the period, a new period cancelling the pings of the
 * previous one that have not finished.  A failed ping is checked against
 * the connectivity URL (direct): when that fails too the network is down
 * and the sample is dropped.  Samples live in a ring per subject
 * (worker/healthping.h) and expire after 2 x period.
 *
 * Signals: QUIT, TERM, INT = exit now (the observer has no clients).
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "shm/boot.h"
#include "shm/image.h"
#include "shm/log.h"
#include "shm/observe.h"
#include "worker/dns.h"
#include "worker/healthping.h"
#include "worker/loop.h"
#include "worker/probe.h"

#define PLAIN_INTERVAL_MS	10000	/* Xray's defaults, should the */
#define BURST_INTERVAL_MS	60000	/* image leave them at 0 */
#define BURST_SAMPLING		10
#define PROBE_TIMEOUT_MS	5000

struct obs;
struct subject;

/* One probe of a subject and, after a burst failure, its connectivity
 * check. */
struct ping {
	struct subject	*s;
	struct sl_timer	 t;		/* burst: its start in the period */
	struct sl_probe	*probe;
	struct sl_probe	*conn;
	char		 err[160];	/* why the probe failed */
};

struct subject {
	struct obs	*o;
	uint32_t	 out;
	const char	*tag;
	struct ping	 first;		/* plain: the probe; burst: startup */
	struct ping	*period;	/* burst: `sampling` pings */
	struct sl_hp_ring ring;		/* burst */
	int		 has_results;	/* burst: a sample was ever put */
	int		 was_alive;	/* -1 = never published */
	int64_t		 last_seen, last_try;
};

struct obs {
	struct observer	*ob;
	uint32_t	 idx;		/* OBSERVERS index = region record */
	const struct sl_img_observer *rec;
	const char	*kind;		/* for logs */
	struct sl_url	 url, conn_url;
	int		 has_conn;
	const char	*method;
	uint32_t	 interval_ms, sampling, timeout_ms;
	uint64_t	 period_ms;
	struct subject	*subj;
	uint32_t	 n;
	uint32_t	 cur;		/* plain sequential: subject probed */
	uint32_t	 outstanding;	/* plain concurrent: probes running */
	struct sl_timer	 sleep;		/* plain: probeInterval */
	struct sl_timer	 next_period;	/* burst */
	struct sl_timer	 refresh;	/* burst: let old samples expire */
};

struct observer {
	struct sl_img		 img;
	struct sl_obs_region	 region;
	struct sl_loop		*loop;
	struct sl_dns		*dns;
	SSL_CTX			*tls;
	struct sl_probe_env	 env;
	struct obs		*obs;
	uint32_t		 nobs;
	struct sl_ev		 sig;
	int			 stop;
};

static uint64_t
random_below(uint64_t n)
{
	uint64_t r = 0;

	if (n == 0)
		return 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return r % n;
}

/* ---- publishing ---- */

static void
log_change(struct subject *s, int alive, int64_t delay_ms, const char *err)
{
	if (s->was_alive == alive)
		return;
	s->was_alive = alive;
	if (alive)
		sl_info("%s: outbound %s is alive (%lld ms)", s->o->kind,
		    s->tag, (long long)delay_ms);
	else
		sl_info("%s: outbound %s is dead: %s", s->o->kind, s->tag,
		    err ? err : "every ping failed");
}

static void
publish_plain(struct subject *s, int ok, uint64_t rtt_us, const char *err)
{
	struct sl_obs_status st;

	memset(&st, 0, sizeof(st));
	s->last_try = (int64_t)time(NULL);
	if (ok)
		s->last_seen = s->last_try;
	st.known = 1;
	st.alive = (uint8_t)ok;
	st.delay_ms = ok ? (int64_t)(rtt_us / 1000) : SL_OBS_DELAY_FAILED;
	st.last_seen = s->last_seen;
	st.last_try = s->last_try;
	sl_obs_write(&s->o->ob->region, s->o->idx, s->out, &st);
	log_change(s, ok, st.delay_ms, err);
}

static void
publish_burst(struct subject *s, const char *err)
{
	struct sl_obs_status st;
	struct sl_hp_stats hs;

	if (!s->has_results)
		return;
	sl_hp_stats(&s->ring, sl_loop_now(s->o->ob->loop), &hs);
	memset(&st, 0, sizeof(st));
	st.known = 1;
	st.health = 1;
	st.alive = hs.all != hs.fail;
	st.all = hs.all;
	st.fail = hs.fail;
	st.delay_ms = (int64_t)(hs.avg_us / 1000);
	st.avg_us = hs.avg_us;
	st.dev_us = hs.dev_us;
	st.min_us = hs.min_us;
	st.max_us = hs.max_us;
	st.last_seen = s->last_seen;
	st.last_try = s->last_try;
	sl_obs_write(&s->o->ob->region, s->o->idx, s->out, &st);
	log_change(s, st.alive, st.delay_ms, err);
}

/* ---- one ping ---- */

static struct sl_probe *
start_probe(struct ping *pg, uint32_t outbound, const struct sl_url *url,
    sl_probe_cb cb)
{
	struct obs *o = pg->s->o;
	int burst = o->rec->kind == SL_IMG_OBS_BURST;

	/* burstObservatory's GET drains the body; observatory's does not. */
	return sl_probe_start(&o->ob->env, outbound, url, o->method,
	    o->timeout_ms, burst && strcmp(o->method, "GET") == 0, cb, pg);
}

static void
ping_cancel(struct ping *pg)
{
	struct sl_loop *loop = pg->s->o->ob->loop;

	sl_timer_del(loop, &pg->t);
	sl_probe_cancel(pg->probe);
	sl_probe_cancel(pg->conn);
	pg->probe = pg->conn = NULL;
}

static void
burst_put(struct ping *pg, uint64_t rtt_us)
{
	struct subject *s = pg->s;

	s->last_try = (int64_t)time(NULL);
	if (rtt_us != SL_HP_FAILED)
		s->last_seen = s->last_try;
	sl_hp_put(&s->ring, sl_loop_now(s->o->ob->loop), rtt_us);
	s->has_results = 1;
	publish_burst(s, pg->err);
}

static void
conn_done(void *arg, int ok, uint64_t rtt_us, const char *err)
{
	struct ping *pg = arg;

	(void)rtt_us;
	pg->conn = NULL;
	if (!ok) {
		sl_warn("%s: network is down (connectivity check: %s); "
		    "sample of %s dropped", pg->s->o->kind, err, pg->s->tag);
		return;
	}
	burst_put(pg, SL_HP_FAILED);
}

static void
burst_done(void *arg, int ok, uint64_t rtt_us, const char *err)
{
	struct ping *pg = arg;
	struct obs *o = pg->s->o;

	pg->probe = NULL;
	if (ok) {
		sl_debug("%s: %s: %llu us", o->kind, pg->s->tag,
		    (unsigned long long)rtt_us);
		burst_put(pg, rtt_us);
		return;
	}
	snprintf(pg->err, sizeof(pg->err), "%s", err);
	sl_info("%s: ping through %s failed: %s", o->kind, pg->s->tag, err);
	if (!o->has_conn) {
		burst_put(pg, SL_HP_FAILED);
		return;
	}
	if ((pg->conn = start_probe(pg, SL_IMG_NONE, &o->conn_url,
	    conn_done)) == NULL)
		burst_put(pg, SL_HP_FAILED);
}

static void
ping_fire(struct sl_timer *t)
{
	struct ping *pg = t->data;
	struct obs *o = pg->s->o;

	if (pg->probe != NULL || pg->conn != NULL)
		return;		/* the previous one of this slot still runs */
	pg->probe = start_probe(pg, pg->s->out, &o->url, burst_done);
	if (pg->probe == NULL)
		sl_error("%s: out of memory for a probe", o->kind);
}

/* ---- burstObservatory schedule ---- */

static void
burst_period(struct sl_timer *t)
{
	struct obs *o = t->data;

	for (uint32_t i = 0; i < o->n; i++)
		for (uint32_t k = 0; k < o->sampling; k++) {
			struct ping *pg = &o->subj[i].period[k];

			ping_cancel(pg);
			sl_timer_add(o->ob->loop, &pg->t,
			    random_below(o->period_ms));
		}
	sl_timer_add(o->ob->loop, &o->next_period, o->period_ms);
}

static void
burst_refresh(struct sl_timer *t)
{
	struct obs *o = t->data;

	for (uint32_t i = 0; i < o->n; i++)
		publish_burst(&o->subj[i], NULL);
	sl_timer_add(o->ob->loop, &o->refresh, o->interval_ms);
}

static int
burst_start(struct obs *o)
{
	for (uint32_t i = 0; i < o->n; i++) {
		struct subject *s = &o->subj[i];

		if (sl_hp_init(&s->ring, o->sampling, 2 * o->period_ms) == -1 ||
		    (s->period = calloc(o->sampling, sizeof(*s->period))) ==
		    NULL)
			return -1;
		for (uint32_t k = 0; k < o->sampling; k++) {
			s->period[k].s = s;
			sl_timer_init(&s->period[k].t, ping_fire,
			    &s->period[k]);
		}
		sl_timer_add(o->ob->loop, &s->first.t, 0);
	}
	burst_period(&o->next_period);
	sl_timer_add(o->ob->loop, &o->refresh, o->interval_ms);
	return 0;
}

/* ---- observatory schedule ---- */

static void
plain_done(void *arg, int ok, uint64_t rtt_us, const char *err)
{
	struct ping *pg = arg;
	struct obs *o = pg->s->o;

	pg->probe = NULL;
	sl_debug("%s: %s: %s %llu us", o->kind, pg->s->tag, ok ? "alive" :
	    err, (unsigned long long)rtt_us);
	publish_plain(pg->s, ok, rtt_us, err);
	if (!o->rec->concurrent || --o->outstanding == 0)
		sl_timer_add(o->ob->loop, &o->sleep, o->interval_ms);
}

static void
plain_probe(struct obs *o, struct subject *s)
{
	s->first.probe = start_probe(&s->first, s->out, &o->url, plain_done);
	if (s->first.probe == NULL) {
		sl_error("%s: out of memory for a probe", o->kind);
		sl_timer_add(o->ob->loop, &o->sleep, o->interval_ms);
	}
}

static void
plain_round(struct sl_timer *t)
{
	struct obs *o = t->data;

	if (!o->rec->concurrent) {
		/* One subject per wake-up; the first round starts at 0. */
		plain_probe(o, &o->subj[o->cur]);
		o->cur = (o->cur + 1) % o->n;
		return;
	}
	o->outstanding = o->n;
	for (uint32_t i = 0; i < o->n; i++)
		plain_probe(o, &o->subj[i]);
}

/* ---- set-up ---- */

static int
tag_less(const struct sl_img *img, uint32_t a, uint32_t b)
{
	return strcmp(sl_img_str(img, SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, a)->tag), sl_img_str(img,
	    SL_IMG_REC(img, SL_SECT_OUTBOUNDS, struct sl_img_outbound,
	    b)->tag)) < 0;
}

/* The subjects, valid ones only, in tag order (Xray sorts them). */
static int
subjects_load(struct obs *o)
{
	const struct sl_img *img = &o->ob->img;
	const uint32_t *u = (const uint32_t *)sl_img_sect(img, SL_SECT_U32);
	uint32_t nu = sl_img_count(img, SL_SECT_U32);
	uint32_t nout = sl_img_count(img, SL_SECT_OUTBOUNDS);

	if (o->rec->subjects_first > nu ||
	    o->rec->subjects_count > nu - o->rec->subjects_first)
		return -1;
	if ((o->subj = calloc(o->rec->subjects_count + 1,
	    sizeof(*o->subj))) == NULL)
		return -1;
	for (uint32_t i = 0; i < o->rec->subjects_count; i++) {
		uint32_t out = u[o->rec->subjects_first + i], j;

		if (out >= nout)
			continue;
		for (j = o->n; j > 0 && tag_less(img, out,
		    o->subj[j - 1].out); j--)
			o->subj[j] = o->subj[j - 1];
		memset(&o->subj[j], 0, sizeof(o->subj[j]));
		o->subj[j].out = out;
		o->n++;
	}
	for (uint32_t i = 0; i < o->n; i++) {
		struct subject *s = &o->subj[i];

		s->o = o;
		s->was_alive = -1;
		s->tag = sl_img_str(img, SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
		    struct sl_img_outbound, s->out)->tag);
		s->first.s = s;
		sl_timer_init(&s->first.t, ping_fire, &s->first);
	}
	return 0;
}

static void
obs_settings(struct obs *o)
{
	const struct sl_img *img = &o->ob->img;
	int burst = o->rec->kind == SL_IMG_OBS_BURST;

	o->kind = burst ? "burstObservatory" : "observatory";
	o->method = o->rec->method.len ? sl_img_str(img, o->rec->method) :
	    burst ? "HEAD" : "GET";
	o->interval_ms = o->rec->interval_ms ? o->rec->interval_ms :
	    burst ? BURST_INTERVAL_MS : PLAIN_INTERVAL_MS;
	o->sampling = !burst ? 1 : o->rec->sampling ? o->rec->sampling :
	    BURST_SAMPLING;
	o->timeout_ms = o->rec->timeout_ms ? o->rec->timeout_ms :
	    PROBE_TIMEOUT_MS;
	o->period_ms = (uint64_t)o->interval_ms * o->sampling;
}

static int
obs_start(struct observer *ob, uint32_t idx)
{
	struct obs *o = &ob->obs[idx];
	const char *err;

	o->ob = ob;
	o->idx = idx;
	o->rec = SL_IMG_REC(&ob->img, SL_SECT_OBSERVERS,
	    struct sl_img_observer, idx);
	sl_timer_init(&o->sleep, plain_round, o);
	sl_timer_init(&o->next_period, burst_period, o);
	sl_timer_init(&o->refresh, burst_refresh, o);
	obs_settings(o);
	if (subjects_load(o) == -1)
		return -1;
	/* A URL we cannot use makes every probe fail, as in Xray. */
	if (sl_probe_url_parse(sl_img_str(&ob->img, o->rec->url), &o->url,
	    &err) == -1)
		sl_error("%s: probe URL %s: %s", o->kind, sl_img_str(&ob->img,
		    o->rec->url), err);
	if (o->rec->connectivity.len > 0) {
		o->has_conn = 1;
		if (sl_probe_url_parse(sl_img_str(&ob->img,
		    o->rec->connectivity), &o->conn_url, &err) == -1)
			sl_error("%s: connectivity URL: %s", o->kind, err);
	}
	sl_info("%s: %u outbounds, %s %s every %u ms", o->kind, o->n,
	    o->method, sl_img_str(&ob->img, o->rec->url), o->interval_ms);
	if (o->n == 0)
		return 0;
	if (o->rec->kind == SL_IMG_OBS_BURST)
		return burst_start(o);
	sl_timer_add(ob->loop, &o->sleep, 0);
	return 0;
}

static void
obs_stop(struct obs *o)
{
	for (uint32_t i = 0; o->subj != NULL && i < o->n; i++) {
		struct subject *s = &o->subj[i];

		ping_cancel(&s->first);
		for (uint32_t k = 0; s->period != NULL && k < o->sampling; k++)
			ping_cancel(&s->period[k]);
		free(s->period);
		sl_hp_free(&s->ring);
	}
	if (o->ob != NULL) {		/* obs_start ran: timers are set up */
		sl_timer_del(o->ob->loop, &o->sleep);
		sl_timer_del(o->ob->loop, &o->next_period);
		sl_timer_del(o->ob->loop, &o->refresh);
	}
	free(o->subj);
}

static void
signal_event(struct sl_ev *ev, uint32_t events)
{
	struct observer *ob = ev->data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGQUIT || si.ssi_signo == SIGTERM ||
		    si.ssi_signo == SIGINT)
			ob->stop = 1;
}

static int
setup_signals(struct observer *ob)
{
	return sl_loop_signals(ob->loop, &ob->sig, signal_event, ob);
}

static int
setup(struct observer *ob, const struct sl_boot *b, const char **err)
{
	if (sl_img_open(b->image_fd, &ob->img, err) == -1)
		return -1;
	sl_log_level((int)ob->img.hdr->globals.loglevel);
	if (sl_obs_map(b->obs_fd, 1, &ob->region, err) == -1)
		return -1;
	if ((ob->loop = sl_loop_new()) == NULL ||
	    (ob->dns = sl_dns_new(ob->loop, err)) == NULL ||
	    setup_signals(ob) == -1)
		return -1;
	/* Without a trust store only https probes fail. */
	if ((ob->tls = sl_probe_tls_ctx(err)) == NULL)
		sl_error("observer: %s", *err);
	ob->env = (struct sl_probe_env){ ob->loop, ob->dns, ob->tls,
	    &ob->img };
	ob->nobs = sl_img_count(&ob->img, SL_SECT_OBSERVERS);
	if (ob->nobs > ob->region.nobs) {
		*err = "the observation region is smaller than the image";
		return -1;
	}
	if ((ob->obs = calloc(ob->nobs + 1, sizeof(*ob->obs))) == NULL)
		return -1;
	for (uint32_t i = 0; i < ob->nobs; i++)
		if (obs_start(ob, i) == -1) {
			*err = "observer: bad subject list or out of memory";
			return -1;
		}
	return 0;
}

static void
teardown(struct observer *ob)
{
	for (uint32_t i = 0; ob->obs != NULL && i < ob->nobs; i++)
		obs_stop(&ob->obs[i]);
	free(ob->obs);
	if (ob->dns != NULL)
		sl_dns_free(ob->dns);
	if (ob->sig.fd >= 0)
		close(ob->sig.fd);
	if (ob->tls != NULL)
		SSL_CTX_free(ob->tls);
	if (ob->loop != NULL)
		sl_loop_free(ob->loop);
	sl_obs_unmap(&ob->region);
	sl_img_close(&ob->img);
}

int
sl_observer_run(const struct sl_boot *b)
{
	struct observer ob;
	const char *err = NULL;

	memset(&ob, 0, sizeof(ob));
	ob.sig.fd = -1;
	RAND_poll();	/* a fresh pool after fork */
	if (setup(&ob, b, &err) == -1) {
		sl_error("observer setup failed (generation %llu): %s",
		    (unsigned long long)b->generation, err ? err :
		    strerror(errno));
		teardown(&ob);
		return 2;
	}
	while (!ob.stop)
		if (sl_loop_once(ob.loop, -1) == -1) {
			sl_error("epoll_wait: %s", strerror(errno));
			break;
		}
	teardown(&ob);
	return 0;
}
