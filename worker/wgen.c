/* wgen: a worker's view of one generation (see wgen.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/log.h"
#include "shm/regex.h"
#include "worker/tls.h"
#include "worker/wgen.h"

static void
wgen_free(struct sl_wgen *g)
{
	uint32_t n = sl_img_count(&g->img, SL_SECT_INBOUNDS);

	for (uint32_t i = 0; g->tls != NULL && i < n; i++)
		sl_tls_ctx_free(g->tls[i]);
	free(g->tls);
	sl_balancer_state_free(&g->bal);
	sl_rxtab_free(g->rx);
	sl_obs_unmap(&g->obs_map);
	sl_img_close(&g->img);
	free(g);
}

static int
wgen_tls(struct sl_wgen *g, const struct sl_tickets *tickets,
    const char **err)
{
	uint32_t n = sl_img_count(&g->img, SL_SECT_INBOUNDS);

	if ((g->tls = calloc(n + 1, sizeof(*g->tls))) == NULL) {
		*err = strerror(errno);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_img_inbound *in = SL_IMG_REC(&g->img,
		    SL_SECT_INBOUNDS, struct sl_img_inbound, i);

		if (in->security == SL_IMG_SEC_TLS &&
		    (g->tls[i] = sl_tls_ctx_new(&g->img, i, tickets, err)) ==
		    NULL)
			return -1;
	}
	return 0;
}

struct sl_wgen *
sl_wgen_new(uint64_t id, int image_fd, int obs_fd,
    const struct sl_tickets *tickets, const char **err)
{
	struct sl_wgen *g = calloc(1, sizeof(*g));
	const char *oerr;

	if (g == NULL) {
		*err = strerror(errno);
		return NULL;
	}
	g->id = id;
	g->refs = 1;
	if (sl_img_open(image_fd, &g->img, err) == -1) {
		free(g);
		return NULL;
	}
	/* Regexes are compiled once per process and generation. */
	if ((g->rx = sl_rxtab_new(&g->img, err)) == NULL)
		goto fail;
	/* Without the observer's region balancers see no observation:
	 * logged, not fatal. */
	if (obs_fd >= 0 && sl_obs_map(obs_fd, 0, &g->obs_map, &oerr) == -1)
		sl_error("%s", oerr);
	g->obs = g->obs_map.base != NULL ? &g->obs_map : NULL;
	if (sl_balancer_state_init(&g->bal, &g->img, g->rx, err) == -1 ||
	    wgen_tls(g, tickets, err) == -1)
		goto fail;
	return g;
fail:
	wgen_free(g);
	return NULL;
}

void
sl_wgen_hold(struct sl_wgen *g)
{
	g->refs++;
}

void
sl_wgen_drop(struct sl_wgen *g)
{
	if (g != NULL && --g->refs == 0)
		wgen_free(g);
}
