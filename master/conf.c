/*
 * conf: error lists, loading a model with the right front end, freeing it,
 * and per-level policy look-ups.  The front ends are conf_cfg.c (libconfig)
 * and conf_json.c (json-c); both feed the shared schema walker conf_walk.c,
 * then conf_check.c applies defaults and cross-checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/conf.h"
#include "master/conf_walk.h"
#include "shm/log.h"

void
sl_errors_init(struct sl_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void
sl_errors_free(struct sl_errors *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

static void
errors_reserve(struct sl_errors *e, size_t more)
{
	size_t cap = e->cap ? e->cap : 256;
	char *p;

	while (cap - e->len < more + 1)
		cap *= 2;
	if (cap == e->cap)
		return;
	if ((p = realloc(e->buf, cap)) == NULL)
		sl_fatal("conf: out of memory");
	e->buf = p;
	e->cap = cap;
}

static void
errors_vappend(struct sl_errors *e, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	errors_reserve(e, (size_t)n);
	vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
	e->len += (size_t)n;
}

static void
errors_append(struct sl_errors *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_vappend(e, fmt, ap);
	va_end(ap);
}

/* "file:line: path: message" (libconfig) or "file: $.path: message" (JSON). */
void
sl_errors_add(struct sl_errors *e, const struct sl_where *w,
    const char *fmt, ...)
{
	va_list ap;

	if (w != NULL && w->file != NULL) {
		if (w->line > 0)
			errors_append(e, "%s:%d: ", w->file, w->line);
		else
			errors_append(e, "%s: ", w->file);
	}
	if (w != NULL && w->path != NULL && w->path[0] != '\0')
		errors_append(e, "%s: ", w->path);
	va_start(ap, fmt);
	errors_vappend(e, fmt, ap);
	va_end(ap);
	errors_append(e, "\n");
	e->count++;
}

static int
is_json_name(const char *file)
{
	const char *dot = strrchr(file, '.');

	return dot != NULL && (strcasecmp(dot, ".json") == 0 ||
	    strcasecmp(dot, ".jsonc") == 0);
}

struct sl_conf *
sl_conf_load(const char *file, struct sl_errors *errs)
{
	struct sl_conf *conf = calloc(1, sizeof(*conf));
	int before = errs->count;

	if (conf == NULL)
		sl_fatal("conf: out of memory");
	sl_arena_init(&conf->arena);
	conf->file = sl_arena_strdup(&conf->arena, file);
	sl_conf_defaults(conf);
	if (is_json_name(file))
		sl_conf_json_parse(conf, file, errs);
	else
		sl_conf_cfg_parse(conf, file, errs);
	/*
	 * Cross-checks also run after schema errors so that one pass reports
	 * everything; they tolerate a partly filled (or empty) model.
	 */
	sl_conf_check(conf, errs);
	if (errs->count != before) {
		sl_conf_free(conf);
		return NULL;
	}
	return conf;
}

void
sl_conf_free(struct sl_conf *conf)
{
	if (conf == NULL)
		return;
	sl_arena_free(&conf->arena);
	free(conf);
}

const struct sl_conf_level *
sl_conf_level_get(const struct sl_conf *conf, int level)
{
	static struct sl_conf_level dflt;
	const struct sl_conf_level *zero = NULL;
	size_t i;

	for (i = 0; i < conf->nlevels; i++) {
		if (conf->levels[i].level == level)
			return &conf->levels[i];
		if (conf->levels[i].level == 0)
			zero = &conf->levels[i];
	}
	if (zero != NULL)
		return zero;
	/* Only an unchecked model lacks level 0. */
	if (dflt.handshake_ms == 0)
		sl_conf_level_defaults(&dflt, 0);
	return &dflt;
}
