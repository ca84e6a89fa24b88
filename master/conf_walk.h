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
	double		 (*real)(const void *);		/* FLOAT or INT */
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

/* ------------------------------------------------------------------ */
/* Walker primitives (conf_node.c), for the schema files only.         */

struct walk {
	struct sl_conf		*conf;
	struct sl_errors	*errs;
	int			 nerr;
};

/* A name for an enum value; tables end with a NULL name. */
struct walk_name {
	const char	*name;
	int		 val;
};

/* A growable arena array: doubling keeps big IP lists linear. */
struct walk_vec {
	void		*p;
	size_t		 n, cap, sz;
};

/* Fills one model record from one array element. */
typedef void	 walk_elem_fn(struct walk *, const struct sl_node *,
		    void *elem, const void *ctx);
/* Gets one item of a string list with the node to blame. */
typedef void	 walk_item_fn(struct walk *, const struct sl_node *,
		    const char *item, void *arg);

enum sl_node_kind walk_kind(const struct sl_node *);
int	 walk_present(const struct sl_node *);
size_t	 walk_length(const struct sl_node *);
/* Member NAME of OBJ into OUT; whether it is present and not null. */
int	 walk_get(const struct sl_node *obj, const char *name,
	    struct sl_node *out);
/* I-th member of an object or element of an array. */
void	 walk_nth(const struct sl_node *agg, size_t i, struct sl_node *out);
/* An array of objects as an arena array of records, each filled by FN. */
void	*walk_each(struct walk *, const struct sl_node *arr, size_t size,
	    size_t *count, walk_elem_fn *fn, const void *ctx);

/* Report an error at N ("file:line: path: msg" or "file: $.path: msg"). */
void	 walk_err(struct walk *, const struct sl_node *n, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* Report member NAME of OBJ as missing (MSG NULL: the usual text). */
void	 walk_missing(struct walk *, const struct sl_node *obj,
	    const char *name, const char *msg);
/* Remember where N came from, for later checks and the compiler. */
void	 walk_where(struct walk *, const struct sl_node *n, struct sl_where *);
const char *walk_kind_name(const struct sl_node *, enum sl_node_kind);
/* Whether N has kind K; reports it when not. */
int	 walk_want(struct walk *, const struct sl_node *n, enum sl_node_kind k);
int	 walk_in_list(const char *const *list, const char *s);
/* Case-insensitive look-up of S in T; 1 and *OUT set when found. */
int	 walk_lookup(const struct walk_name *t, const char *s, int *out);
/*
 * Every member of OBJ must be in KNOWN.  Members in UNSUP are Xray fields
 * not implemented yet: refused unless null or false (= absent in Xray).
 */
void	 walk_check_fields(struct walk *, const struct sl_node *obj,
	    const char *const *known, const char *const *unsup);
/* Absent, or an empty object or array: the same as leaving it out. */
int	 walk_is_empty(const struct sl_node *);
void	*walk_vec_push(struct walk *, struct walk_vec *);

/* Scalars.  walk_str: N's string copied into the arena, 0 if not one. */
int	 walk_str(struct walk *, const struct sl_node *n, const char **out);
/* Optional members: 1 stored, 0 absent, -1 wrong (reported). */
int	 walk_opt_str(struct walk *, const struct sl_node *obj,
	    const char *name, const char **out);
int	 walk_opt_nonempty(struct walk *, const struct sl_node *obj,
	    const char *name, const char **out);
int	 walk_opt_int(struct walk *, const struct sl_node *obj,
	    const char *name, int64_t min, int64_t max, int64_t *out);
int	 walk_opt_bool(struct walk *, const struct sl_node *obj,
	    const char *name, int *out);
/* One of the names in T (case-insensitive, like Xray); names in UNSUP
 * are Xray values sluice does not implement; EXPECT lists T for humans. */
int	 walk_opt_enum(struct walk *, const struct sl_node *obj,
	    const char *name, const struct walk_name *t,
	    const char *const *unsup, const char *expect, int *out);
/* An integer or fractional number in [MIN, MAX]. */
int	 walk_opt_real(struct walk *, const struct sl_node *obj,
	    const char *name, double min, double max, double *out);
/* A Go duration string ("1m30s", "500ms", "0") in milliseconds, rounded
 * up; negative durations are refused.  walk_duration: 1 ok, 0 reported. */
int	 walk_duration(struct walk *, const struct sl_node *n, uint32_t *ms);
int	 walk_opt_duration(struct walk *, const struct sl_node *obj,
	    const char *name, uint32_t *ms);
/* Whether PATTERN is one the workers compile (sl_rx_valid); errors name
 * ITEM at AT. */
int	 walk_regex(struct walk *, const struct sl_node *at, const char *item,
	    const char *pattern);
char	*walk_lower(char *);
/* Decimal digits only (Go's ParseUint), 0-65535; -1 otherwise. */
int	 walk_parse_port(const char *);
/* Go's net.SplitHostPort; -1 with the reason in *WHY. */
int	 walk_split_host_port(const char *s, const char **host,
	    size_t *hostlen, const char **port, const char **why);

/* Xray's list forms. */
/* StringList: an array of strings, or one string split on ',' (items not
 * trimmed); FN gets each item. */
void	 walk_string_list(struct walk *, const struct sl_node *n,
	    walk_item_fn *fn, void *arg);
/* PortList: a number, or "53,443,1000-2000" (items trimmed); ports below
 * MIN are refused. */
void	 walk_port_list(struct walk *, const struct sl_node *n, int min,
	    struct sl_conf_port_range **out, size_t *nout);
/* A StringList as an arena array of strings; "" items refused unless
 * EMPTY_OK. */
void	 walk_strings(struct walk *, const struct sl_node *n, int empty_ok,
	    const char ***out, size_t *nout);
/* NetworkList: "tcp", "udp", "unix" (SL_NET_* bits) as a StringList;
 * names outside ALLOWED are refused. */
void	 walk_network_list(struct walk *, const struct sl_node *n,
	    unsigned allowed, unsigned *bits);

/* Rule strings (conf_match.c): a StringList of domain patterns (section
 * 1.7 of spec/xray-routing.md, keyword by default) or of IP rules (1.9). */
void	 walk_domain_list(struct walk *, const struct sl_node *n,
	    struct sl_conf_domain **out, size_t *nout);
void	 walk_ip_list(struct walk *, const struct sl_node *n,
	    struct sl_conf_ip **out, size_t *nout);

/* Schema parts called by sl_conf_walk() and walk_inbound(). */
void	 walk_outbounds(struct walk *, const struct sl_node *root);
void	 walk_routing(struct walk *, const struct sl_node *root);
void	 walk_observatories(struct walk *, const struct sl_node *root);
void	 walk_sniffing(struct walk *, const struct sl_node *n,
	    struct sl_conf_sniffing *);

/* conf_check.c: model-wide and per-level defaults. */
void	 sl_conf_defaults(struct sl_conf *);
void	 sl_conf_level_defaults(struct sl_conf_level *, int level);

#endif
