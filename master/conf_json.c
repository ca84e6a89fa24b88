/*
 * conf_json: the Xray JSON front end (json-c).
 *
 * Reads a .json/.jsonc file, turns json-c's byte offset of a syntax error
 * into line:column, and hands the tree to the shared schema walker through
 * json-c accessors.  Comments (// and / * * /) are accepted: json-c's
 * tokener allows them unless JSON_TOKENER_STRICT is set, and Xray users
 * write them.  Errors name a JSON path: "x.json: $.inbounds[0].port: ...".
 *
 * Keys are matched exactly; Go's encoding/json would also accept other
 * capitalisations ("Inbounds"), which here are reported as unknown fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "master/conf.h"
#include "master/conf_walk.h"

#define JSON_MAX_SIZE	(64 * 1024 * 1024)

static json_object *
J(const void *h)
{
	return (json_object *)(uintptr_t)h;
}

static enum sl_node_kind
json_kind(const void *h)
{
	switch (json_object_get_type(J(h))) {
	case json_type_object:
		return SL_NODE_OBJECT;
	case json_type_array:
		return SL_NODE_ARRAY;
	case json_type_string:
		return SL_NODE_STRING;
	case json_type_int:
		return SL_NODE_INT;
	case json_type_boolean:
		return SL_NODE_BOOL;
	case json_type_double:
		return SL_NODE_FLOAT;
	default:
		return SL_NODE_NULL;
	}
}

static const char *
json_string(const void *h)
{
	return json_object_get_string(J(h));
}

static int64_t
json_integer(const void *h)
{
	return json_object_get_int64(J(h));
}

static int
json_boolean(const void *h)
{
	return json_object_get_boolean(J(h));
}

static double
json_real(const void *h)
{
	return json_object_get_double(J(h));
}

static size_t
json_length(const void *h)
{
	if (json_object_is_type(J(h), json_type_object))
		return (size_t)json_object_object_length(J(h));
	return json_object_array_length(J(h));
}

/* Members in file order (json-c keeps insertion order). */
static const void *
json_child(const void *h, size_t i, const char **name)
{
	struct lh_entry *e;

	if (!json_object_is_type(J(h), json_type_object)) {
		*name = NULL;
		return json_object_array_get_idx(J(h), i);
	}
	for (e = json_object_get_object(J(h))->head; e != NULL && i > 0;
	    e = e->next)
		i--;
	if (e == NULL) {
		*name = "";
		return NULL;
	}
	*name = lh_entry_k(e);
	return lh_entry_v(e);
}

static const void *
json_member(const void *h, const char *name)
{
	json_object *v = NULL;

	if (!json_object_is_type(J(h), json_type_object) ||
	    !json_object_object_get_ex(J(h), name, &v))
		return NULL;
	return v;
}

static int
json_line(const void *h)
{
	(void)h;
	return 0;
}

static const char *
json_file(const void *h)
{
	(void)h;
	return NULL;
}

static const struct sl_node_ops json_ops = {
	.kind = json_kind,
	.string = json_string,
	.integer = json_integer,
	.boolean = json_boolean,
	.real = json_real,
	.length = json_length,
	.child = json_child,
	.member = json_member,
	.line = json_line,
	.file = json_file,
	.json = 1,
};

static char *
read_all(const char *file, size_t *lenp, struct sl_errors *errs)
{
	struct sl_where wh = { file, 0, NULL };
	size_t len = 0, cap = 64 * 1024, n;
	char *buf, *p;
	FILE *fp;

	if ((fp = fopen(file, "rb")) == NULL) {
		sl_errors_add(errs, &wh, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if ((buf = malloc(cap)) == NULL)
		goto nomem;
	while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= JSON_MAX_SIZE) {
				sl_errors_add(errs, &wh, "larger than %d bytes",
				    JSON_MAX_SIZE);
				goto fail;
			}
			if ((p = realloc(buf, cap * 2)) == NULL)
				goto nomem;
			buf = p;
			cap *= 2;
		}
	}
	if (ferror(fp)) {
		sl_errors_add(errs, &wh, "cannot read: %s", strerror(errno));
		goto fail;
	}
	fclose(fp);
	*lenp = len;
	return buf;
nomem:
	sl_errors_add(errs, &wh, "out of memory");
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

static void
syntax_error(struct sl_errors *errs, const char *file, const char *buf,
    size_t off, const char *what)
{
	int line = 1, col = 1;
	size_t i;

	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	sl_errors_add(errs, NULL, "%s:%d:%d: syntax error: %s", file, line,
	    col, what);
}

/* First byte after the value that is not blank or a comment, or NULL. */
static const char *
trailing(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			const char *q = p + 2;

			while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
				q++;
			if (end - q < 2)
				return p;
			p = q + 2;
		} else
			return p;
	}
	return NULL;
}

static json_object *
parse_buf(const char *file, const char *buf, size_t len,
    struct sl_errors *errs)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	json_object *root;
	const char *rest;

	if (tok == NULL) {
		sl_errors_add(errs, NULL, "%s: out of memory", file);
		return NULL;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (root == NULL && jerr == json_tokener_continue)
		syntax_error(errs, file, buf, len, "unexpected end of file");
	else if (root == NULL)
		syntax_error(errs, file, buf, json_tokener_get_parse_end(tok),
		    json_tokener_error_desc(jerr));
	else if ((rest = trailing(buf + json_tokener_get_parse_end(tok),
	    buf + len)) != NULL) {
		syntax_error(errs, file, buf, (size_t)(rest - buf),
		    "unexpected text after the top-level value");
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

int
sl_conf_json_parse(struct sl_conf *conf, const char *file,
    struct sl_errors *errs)
{
	struct sl_node node = { &json_ops, NULL, NULL, NULL, 0 };
	int before = errs->count;
	size_t len, skip = 0;
	json_object *root;
	char *buf;

	if ((buf = read_all(file, &len, errs)) == NULL)
		return errs->count - before;
	/* Editors on other systems like to start files with a BOM. */
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		skip = 3;
	if (len > INT32_MAX) {
		sl_errors_add(errs, NULL, "%s: too large", file);
	} else if ((root = parse_buf(file, buf + skip, len - skip,
	    errs)) != NULL) {
		node.h = root;
		sl_conf_walk(conf, &node, errs);
		json_object_put(root);
	}
	free(buf);
	return errs->count - before;
}
