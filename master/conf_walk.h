/*
 * conf_walk: the schema, written once for both configuration front ends.
 *
 * A front end parses its syntax into its own tree (libconfig settings,
 * json-c objects) and hands the root to sl_conf_walk() through a small
 * table of accessors (struct sl_node_ops).  The walker knows every field:
 * names, types, ranges, Xray's normalisations and which Xray fields are
 * not supported yet.  Private to master/conf*.c.
 */
#ifndef SL_MASTER_CONF_WALK_H
#define SL_MASTER_CONF_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "master/conf.h"

enum sl_node_kind {
	SL_NODE_NULL = 0,	/* absent, or JSON null */
	SL_NODE_OBJECT,		/* JSON object, libconfig group */
	SL_NODE_ARRAY,		/* JSON array, libconfig array or list */
	SL_NODE_STRING,
	SL_NODE_INT,
	SL_NODE_BOOL,
	SL_NODE_FLOAT
};

/* Accessors over one front end's tree; handles are never NULL here. */
struct sl_node_ops {
	enum sl_node_kind (*kind)(const void *);
	const char	*(*string)(const void *);
	int64_t		 (*integer)(const void *);
	int		 (*boolean)(const void *);
	size_t		 (*length)(const void *);	/* members, elements */
	/* I-th member (sets *name) or element (sets *name to NULL). */
	const void	*(*child)(const void *, size_t, const char **name);
	const void	*(*member)(const void *, const char *);
	int		 (*line)(const void *);		/* 0: unknown */
	const char	*(*file)(const void *);		/* NULL: the main file */
	int		 json;	/* paths as "$.a[0].b", else "a.[0].b" */
};

/*
 * A position in the tree.  Nodes live on the walker's stack and point to
 * their parent, so paths are only formatted when someone needs them.
 */
struct sl_node {
	const struct sl_node_ops *ops;
	const void	*h;		/* NULL: absent or null */
	const struct sl_node *parent;	/* NULL: the root */
	const char	*name;		/* member name, NULL for an element */
	size_t		 index;
};

/* Fill CONF from ROOT; returns the number of errors added. */
int	 sl_conf_walk(struct sl_conf *, const struct sl_node *root,
	    struct sl_errors *);

/* conf_check.c: model-wide and per-level defaults. */
void	 sl_conf_defaults(struct sl_conf *);
void	 sl_conf_level_defaults(struct sl_conf_level *, int level);

#endif
