/*
 * conf_cfg: the sluice.conf front end (libconfig 1.5).
 *
 * sluice.conf is Xray's schema in libconfig syntax: the same names and
 * nesting, groups `{ ... }` for JSON objects, lists `( {...}, {...} )` for
 * arrays of objects, arrays `[ "a", "b" ]` (or lists) for arrays of
 * strings.  Errors name "file:line: path" with libconfig's path syntax,
 * e.g. "sluice.conf:12: inbounds.[0].port: ...".
 *
 * One deliberate difference: libconfig setting names cannot be digits, so
 * Xray's `"policy": { "levels": { "0": { ... } } }` is written as a list
 * whose elements carry an explicit level:
 *
 *	policy = { levels = ( { level = 0; handshake = 4; connIdle = 300; } ); };
 *
 * Known libconfig 1.5 limitations: integers too large for 32 bits without
 * an L suffix are silently truncated by the library, and a setting name
 * may appear only once per group (a syntax error, not a "last one wins").
 * @include paths are relative to the directory of the main file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "master/conf.h"
#include "master/conf_walk.h"

static config_setting_t *
S(const void *h)
{
	return (config_setting_t *)(uintptr_t)h;
}

static enum sl_node_kind
cfg_kind(const void *h)
{
	switch (config_setting_type(S(h))) {
	case CONFIG_TYPE_GROUP:
		return SL_NODE_OBJECT;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return SL_NODE_ARRAY;
	case CONFIG_TYPE_STRING:
		return SL_NODE_STRING;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return SL_NODE_INT;
	case CONFIG_TYPE_BOOL:
		return SL_NODE_BOOL;
	case CONFIG_TYPE_FLOAT:
		return SL_NODE_FLOAT;
	default:
		return SL_NODE_NULL;
	}
}

static const char *
cfg_string(const void *h)
{
	const char *s = config_setting_get_string(S(h));

	return s != NULL ? s : "";
}

static int64_t
cfg_integer(const void *h)
{
	return config_setting_get_int64(S(h));
}

static int
cfg_boolean(const void *h)
{
	return config_setting_get_bool(S(h));
}

static double
cfg_real(const void *h)
{
	if (config_setting_type(S(h)) == CONFIG_TYPE_FLOAT)
		return config_setting_get_float(S(h));
	return (double)config_setting_get_int64(S(h));
}

static size_t
cfg_length(const void *h)
{
	return (size_t)config_setting_length(S(h));
}

static const void *
cfg_child(const void *h, size_t i, const char **name)
{
	config_setting_t *c = config_setting_get_elem(S(h), (unsigned int)i);

	*name = NULL;
	if (c != NULL && config_setting_is_group(S(h)))
		*name = config_setting_name(c);
	return c;
}

static const void *
cfg_member(const void *h, const char *name)
{
	if (!config_setting_is_group(S(h)))
		return NULL;
	return config_setting_get_member(S(h), name);
}

static int
cfg_line(const void *h)
{
	return (int)config_setting_source_line(S(h));
}

static const char *
cfg_file(const void *h)
{
	return config_setting_source_file(S(h));
}

static const struct sl_node_ops cfg_ops = {
	.kind = cfg_kind,
	.string = cfg_string,
	.integer = cfg_integer,
	.boolean = cfg_boolean,
	.real = cfg_real,
	.length = cfg_length,
	.child = cfg_child,
	.member = cfg_member,
	.line = cfg_line,
	.file = cfg_file,
	.json = 0,
};

/* @include "x" is looked up next to the main file, not in the cwd. */
static void
set_include_dir(config_t *cf, const char *file)
{
	const char *slash = strrchr(file, '/');
	char *dir;

	if (slash == NULL)
		return;
	if ((dir = strndup(file, slash == file ? 1 : (size_t)(slash - file)))
	    == NULL)
		return;
	config_set_include_dir(cf, dir);
	free(dir);
}

int
sl_conf_cfg_parse(struct sl_conf *conf, const char *file,
    struct sl_errors *errs)
{
	struct sl_node root = { &cfg_ops, NULL, NULL, NULL, 0 };
	struct sl_where wh = { file, 0, NULL };
	int before = errs->count;
	config_t cf;
	FILE *fp;

	/* libconfig reports only "file I/O error": get errno ourselves. */
	if ((fp = fopen(file, "r")) == NULL) {
		sl_errors_add(errs, &wh, "cannot open: %s", strerror(errno));
		return errs->count - before;
	}
	fclose(fp);
	config_init(&cf);
	set_include_dir(&cf, file);
	if (!config_read_file(&cf, file)) {
		wh.file = config_error_file(&cf) != NULL ?
		    config_error_file(&cf) : file;
		wh.line = config_error_line(&cf);
		sl_errors_add(errs, &wh, "%s", config_error_text(&cf));
	} else {
		root.h = config_root_setting(&cf);
		sl_conf_walk(conf, &root, errs);
	}
	config_destroy(&cf);
	return errs->count - before;
}
