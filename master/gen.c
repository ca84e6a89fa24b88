/*
 * gen: configuration generations.
 *
 * A generation is built completely (parse, check, compile, listening
 * sockets, sealed image, observation region) before anything uses it;
 * when any step fails nothing of it is left and the running one is
 * untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/master_int.h"
#include "shm/image.h"
#include "shm/observe.h"

int
gen_worker_count(const struct master *m, const struct sl_conf *cf)
{
	long n;

	if (m->opts->workers > 0)
		return m->opts->workers;
	if (cf->sluice.workers > 0)
		return cf->sluice.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* With observatory records in the image, the generation gets its own
 * observation region (shm/observe.h): one slot per (record, outbound). */
static int
gen_observe(struct gen *g, const uint8_t *img, struct sl_errors *errs)
{
	const struct sl_img_hdr *h = (const struct sl_img_hdr *)img;
	uint32_t nobs = h->sect[SL_SECT_OBSERVERS].count;
	const char *err = NULL;

	if (nobs == 0)
		return 0;
	g->obs_fd = sl_obs_create(nobs, h->sect[SL_SECT_OUTBOUNDS].count,
	    g->id, &g->obs_ro_fd, &err);
	if (g->obs_fd == -1) {
		sl_errors_add(errs, NULL, "%s: %s", err, strerror(errno));
		return -1;
	}
	return 0;
}

void
gen_free(struct gen *g)
{
	if (g->image_fd >= 0)
		close(g->image_fd);
	if (g->obs_fd >= 0)
		close(g->obs_fd);
	if (g->obs_ro_fd >= 0)
		close(g->obs_ro_fd);
	free(g->lst);
	sl_conf_free(g->cf);
	memset(g, 0, sizeof(*g));
	g->image_fd = g->obs_fd = g->obs_ro_fd = -1;
}

int
gen_build(struct master *m, uint64_t id, struct sl_conf *reuse,
    struct gen *g, struct sl_errors *errs)
{
	struct sl_compile_extra x = { .names = m->st.names };
	uint8_t *img = NULL;
	size_t len, nin;
	int rc = -1, changed;

	memset(g, 0, sizeof(*g));
	g->image_fd = g->obs_fd = g->obs_ro_fd = -1;
	g->cf = reuse != NULL ? reuse : sl_conf_load(m->opts->config, errs);
	if (g->cf == NULL)
		goto out;
	if (reuse == NULL)
		stats_prepare(m, g->cf, &changed);	/* failures: logged */
	sl_users_extra(&m->st.users, &x);
	if (sl_compile(g->cf, &x, id, &img, &len, errs) == -1)
		goto out;
	g->id = id;
	g->loaded = reuse != NULL ? m->cur.loaded : time(NULL);
	g->workers = gen_worker_count(m, g->cf);
	nin = g->cf->ninbounds;
	g->lst = calloc((size_t)g->workers * nin + 1, sizeof(*g->lst));
	if (g->lst == NULL)
		goto out;
	if (sl_listen_update(&m->ls, g->cf, g->workers, g->lst, errs) == -1)
		goto out;
	if ((g->image_fd = sl_img_seal(img, len)) == -1) {
		sl_errors_add(errs, NULL, "cannot seal the table image: %s",
		    strerror(errno));
		goto out;
	}
	if (gen_observe(g, img, errs) == -1)
		goto out;
	rc = 0;
out:
	free(img);
	if (rc == -1) {
		if (g->cf == reuse)
			g->cf = NULL;	/* the caller's */
		gen_free(g);
	}
	return rc;
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
gen_same_layout(const struct gen *a, const struct gen *b)
{
	const struct sl_conf_sluice *x = &a->cf->sluice, *y = &b->cf->sluice;

	if (a->workers != b->workers || a->cf->ninbounds != b->cf->ninbounds ||
	    !same_str(x->user, y->user) || !same_str(x->group, y->group) ||
	    x->relay != y->relay)
		return 0;
	for (size_t i = 0; i < a->cf->ninbounds; i++) {
		const struct sl_conf_inbound *p = &a->cf->inbounds[i];
		const struct sl_conf_inbound *q = &b->cf->inbounds[i];

		if (p->port != q->port || strcmp(p->listen, q->listen) != 0)
			return 0;
	}
	return 1;
}
