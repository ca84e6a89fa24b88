/*
 * image: the sealed, read-only table image (one per config generation).
 *
 * Owns the on-memory layout shared by the master (writer), the workers and
 * sluicectl (readers).  The image is position independent: it holds offsets
 * and indices, never pointers.  Layout:
 *
 *	[struct sl_img_hdr][section 0][section 1]...
 *
 * Each section is an array of fixed-size records (or raw bytes for the
 * string section).  Strings are struct sl_str {off, len} into the string
 * section; {0, 0} is the empty string.  Record sizes are pinned with
 * _Static_assert: changing one is a layout change and needs a new major.
 *
 * The reader (sl_img_open) checks every offset, length and index once when
 * the image is mapped; accessors after that do no checks.
 */
#ifndef SL_SHM_IMAGE_H
#define SL_SHM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define SL_IMG_MAGIC	UINT64_C(0x4d4945434955534c)	/* "LSUICEIM" */
#define SL_IMG_MAJOR	3
#define SL_IMG_MINOR	0

enum sl_img_sect {
	SL_SECT_STRINGS = 0,	/* raw bytes */
	SL_SECT_INBOUNDS,	/* struct sl_img_inbound */
	SL_SECT_VLESS_USERS,	/* struct sl_img_vless_user, sorted per inbound */
	SL_SECT_TROJAN_USERS,	/* struct sl_img_trojan_user, sorted per inbound */
	SL_SECT_FB_NAMES,	/* struct sl_img_fb_name */
	SL_SECT_FB_ALPNS,	/* struct sl_img_fb_alpn */
	SL_SECT_FB_PATHS,	/* struct sl_img_fb_path */
	SL_SECT_DESTS,		/* struct sl_img_dest */
	SL_SECT_ADDRS,		/* struct sl_img_addr */
	SL_SECT_OUTBOUNDS,	/* struct sl_img_outbound */
	SL_SECT_FINAL_RULES,	/* struct sl_img_final_rule */
	SL_SECT_PORT_RANGES,	/* struct sl_img_port_range */
	SL_SECT_IPSETS,		/* struct sl_img_ipset */
	SL_SECT_V4_RANGES,	/* struct sl_img_v4_range, sorted, disjoint */
	SL_SECT_V6_RANGES,	/* struct sl_img_v6_range, sorted, disjoint */
	SL_SECT_LEVELS,		/* struct sl_img_level, sorted by level */
	SL_SECT_CERTS,		/* struct sl_img_cert */
	SL_SECT_RULES,		/* struct sl_img_rule, in config order */
	SL_SECT_CONDS,		/* struct sl_img_cond, per rule in Xray order */
	SL_SECT_STRLIST,	/* struct sl_str: lists of strings */
	SL_SECT_U32,		/* uint32_t: lists of indices or values */
	SL_SECT_IPMATCH,	/* struct sl_img_ipmatch: one IP rule field */
	SL_SECT_ATTRS,		/* struct sl_img_attr */
	SL_SECT_REGEXES,	/* struct sl_img_regex, compiled per process */
	SL_SECT_DOMSETS,	/* struct sl_img_domset (shm/domset.h) */
	SL_SECT_BLOB,		/* raw bytes, 8-aligned matcher tables */
	SL_SECT_BALANCERS,	/* struct sl_img_balancer */
	SL_SECT_COSTS,		/* struct sl_img_cost (leastLoad) */
	SL_SECT_OBSERVERS,	/* struct sl_img_observer: 0..2 records */
	SL_SECT_COUNT
};

struct sl_str {
	uint32_t	off, len;
};

struct sl_img_sect_desc {
	uint64_t	off;		/* from the start of the image */
	uint32_t	count;		/* records (bytes for STRINGS) */
	uint32_t	elem_size;	/* 1 for STRINGS */
};

/* Settings every worker needs that are not per object. */
struct sl_img_globals {
	uint32_t	loglevel;	/* SL_LOGL_* */
	uint32_t	access_log;	/* 1 if an access log is written */
	uint32_t	relay;		/* enum sl_relay_mode */
	uint32_t	shutdown_timeout; /* seconds */
	uint32_t	default_outbound; /* index into OUTBOUNDS */
	uint32_t	domain_strategy; /* SL_IMG_DS_* */
	uint32_t	reserved[10];
};

struct sl_img_hdr {
	uint64_t	magic;
	uint16_t	major, minor;
	uint32_t	hdr_size;
	uint64_t	total_size;
	uint64_t	generation;
	uint64_t	checksum;	/* FNV-1a 64 of bytes [hdr_size, total) */
	struct sl_img_sect_desc	sect[SL_SECT_COUNT];
	struct sl_img_globals	globals;
	uint8_t		reserved[64];
};

/* Inbound protocols and security, same values as master/conf.h. */
#define SL_IMG_IN_VLESS		1
#define SL_IMG_IN_TROJAN	2
#define SL_IMG_SEC_NONE		0
#define SL_IMG_SEC_TLS		1

struct sl_img_inbound {
	struct sl_str	tag;
	struct sl_str	listen;		/* as configured, for logs */
	uint16_t	port;
	uint8_t		protocol;	/* SL_IMG_IN_* */
	uint8_t		security;	/* SL_IMG_SEC_* */
	uint8_t		accept_proxy;
	uint8_t		reject_unknown_sni;
	uint16_t	tls_min, tls_max; /* 0x0301..0x0304, 0 = library default */
	uint8_t		resumption;	/* enableSessionResumption: tickets */
	uint8_t		pad;
	uint32_t	users_first, users_count;   /* VLESS_ or TROJAN_USERS */
	uint32_t	fb_names_first, fb_names_count; /* 0 count: no fallbacks */
	uint32_t	certs_first, certs_count;
	struct sl_str	alpn_wire;	/* ALPN list in wire format */
	struct sl_str	server_name;
	/* sniffing */
	uint8_t		sniff;		/* SL_IMG_SNIFF_* bits, 0 = off */
	uint8_t		sniff_override;	/* SL_IMG_PROTO_* bits (destOverride) */
	uint16_t	pad2;
	uint32_t	sniff_excl_first, sniff_excl_count; /* U32: domset ids */
	uint32_t	sniff_ips_excl;	/* IPMATCH index + 1, 0 = none */
	uint32_t	cnt;		/* counter id of the tag (shm/counters.h) */
};

#define SL_IMG_NONE		UINT32_MAX

#define SL_IMG_SNIFF_ON		0x1
#define SL_IMG_SNIFF_META_ONLY	0x2
#define SL_IMG_SNIFF_ROUTE_ONLY	0x4

/* Sniffed protocols (destOverride bits). */
#define SL_IMG_PROTO_HTTP	0x1
#define SL_IMG_PROTO_TLS	0x2
#define SL_IMG_PROTO_QUIC	0x4
#define SL_IMG_PROTO_BT		0x8

struct sl_img_vless_user {
	uint8_t		key[16];	/* UUID with bytes 6 and 7 zeroed */
	struct sl_str	email;
	struct sl_str	flow;
	uint32_t	level;
	uint32_t	cnt;		/* counter id of the email */
};

struct sl_img_trojan_user {
	char		key[56];	/* lower-case hex SHA-224 */
	struct sl_str	email;
	uint32_t	level;
	uint32_t	cnt;		/* counter id of the email */
};

/*
 * Fallback table of one inbound, after Xray's three fill passes:
 * names[] -> alpns[] -> paths[] -> dest.  The empty string is a key like
 * any other.  Lookups are linear: a table has a handful of entries.
 */
struct sl_img_fb_name {
	struct sl_str	name;
	uint32_t	alpns_first, alpns_count;
};

struct sl_img_fb_alpn {
	struct sl_str	alpn;
	uint32_t	paths_first, paths_count;
};

struct sl_img_fb_path {
	struct sl_str	path;
	uint32_t	dest;		/* index into DESTS */
};

#define SL_IMG_DEST_TCP		1
#define SL_IMG_DEST_UNIX	2

struct sl_img_dest {
	struct sl_str	text;		/* dest as configured, for logs */
	uint8_t		kind;		/* SL_IMG_DEST_* */
	uint8_t		xver;		/* 0, 1, 2 */
	uint16_t	pad;
	uint32_t	addrs_first, addrs_count; /* resolved at compile time */
};

/* A socket address ready for connect(2): sockaddr_in/in6/un bytes. */
struct sl_img_addr {
	uint32_t	len;
	uint8_t		sa[112];
};

#define SL_IMG_OUT_FREEDOM	1
#define SL_IMG_OUT_BLACKHOLE	2
#define SL_IMG_OUT_SOCKS	3
#define SL_IMG_OUT_HTTP		4

/* freedom domainStrategy (targetStrategy) */
#define SL_IMG_FS_ASIS		0
#define SL_IMG_FS_USEIP		1
#define SL_IMG_FS_USEIP4	2
#define SL_IMG_FS_USEIP6	3
#define SL_IMG_FS_USEIP46	4
#define SL_IMG_FS_USEIP64	5
#define SL_IMG_FS_FORCEIP	6
#define SL_IMG_FS_FORCEIP4	7
#define SL_IMG_FS_FORCEIP6	8
#define SL_IMG_FS_FORCEIP46	9
#define SL_IMG_FS_FORCEIP64	10

struct sl_img_outbound {
	struct sl_str	tag;
	uint8_t		protocol;	/* SL_IMG_OUT_* */
	uint8_t		blackhole_http;
	uint8_t		strategy;	/* freedom: SL_IMG_FS_* */
	uint8_t		pad;
	uint32_t	final_first, final_count;
	/* When no final rule matches: block these for VLESS/Trojan inbounds. */
	uint32_t	default_block_ipset;	/* index into IPSETS */
	uint32_t	level;		/* userLevel */
	/* freedom */
	uint32_t	send_through;	/* ADDRS index + 1 (port 0), 0 = none */
	struct sl_str	redirect_host;	/* "" = keep the target address */
	uint16_t	redirect_port;	/* 0 = keep the target port */
	uint16_t	pad2;
	/* socks, http: the proxy server, resolved by the master */
	struct sl_str	server;		/* "host:port" as configured */
	uint32_t	server_addrs_first, server_addrs_count; /* ADDRS */
	struct sl_str	user, pass;	/* "" = no authentication */
	uint32_t	cnt;		/* counter id of the tag */
};

#define SL_IMG_FINAL_ALLOW	1
#define SL_IMG_FINAL_BLOCK	2

struct sl_img_final_rule {
	uint8_t		action;		/* SL_IMG_FINAL_* */
	uint8_t		networks;	/* SL_NET_* bits, 0 = any */
	uint8_t		has_ips;	/* 0 = any address */
	uint8_t		has_block_delay;
	uint32_t	ports_first, ports_count; /* count 0 = any port */
	uint32_t	ipset;
	uint32_t	block_delay_min, block_delay_max; /* seconds */
};

struct sl_img_port_range {
	uint16_t	from, to;
};

/* v4_index: 0 = none, or 1 + the BLOB offset of SL_IPSET_BUCKETS + 1
 * uint32_t: entry b is the first range (relative to v4_first) that ends at
 * or after address b << (32 - SL_IPSET_BUCKET_BITS). */
#define SL_IPSET_BUCKET_BITS	12
#define SL_IPSET_BUCKETS	(1u << SL_IPSET_BUCKET_BITS)

struct sl_img_ipset {
	uint32_t	v4_first, v4_count;
	uint32_t	v6_first, v6_count;
	uint32_t	v4_index;
};

struct sl_img_v4_range {
	uint32_t	lo, hi;		/* host byte order, inclusive */
};

struct sl_img_v6_range {
	uint8_t		lo[16], hi[16];	/* network byte order, inclusive */
};

struct sl_img_level {
	uint32_t	level;
	uint32_t	handshake_ms, conn_idle_ms;
	uint32_t	uplink_only_ms, downlink_only_ms;
};

struct sl_img_cert {
	struct sl_str	cert_pem;	/* file contents, read by the master */
	struct sl_str	key_pem;
};

/* routing.domainStrategy */
#define SL_IMG_DS_ASIS		0
#define SL_IMG_DS_IPIFNONMATCH	2
#define SL_IMG_DS_IPONDEMAND	3

#define SL_IMG_TARGET_OUTBOUND	1
#define SL_IMG_TARGET_BALANCER	2

struct sl_img_rule {
	struct sl_str	rule_tag;	/* "" when absent */
	uint32_t	target_kind;	/* SL_IMG_TARGET_* */
	uint32_t	target;		/* OUTBOUNDS or BALANCERS index */
	uint32_t	conds_first, conds_count;
};

/*
 * One condition of a rule.  The operands depend on the kind:
 *   INBOUND, PROTOCOL	a,b: STRLIST range
 *   NETWORK		a: SL_NET_* bits (tcp 1, udp 2, unix 4)
 *   PORT, SRCPORT, LOCALPORT, VLESSROUTE	a,b: PORT_RANGES range
 *   USER		a,b: STRLIST range (exact); c,d: REGEXES range
 *   ATTRS		a,b: ATTRS range
 *   IP, SRCIP, LOCALIP	a: IPMATCH index
 *   DOMAIN		a,b: U32 range of DOMSETS indices
 *   PROCESS		a,b: STRLIST range
 *   NEVER		(a localOS that is not this one)
 */
enum sl_img_cond_kind {
	SL_COND_INBOUND = 1, SL_COND_NETWORK, SL_COND_PROTOCOL, SL_COND_PORT,
	SL_COND_SRCPORT, SL_COND_LOCALPORT, SL_COND_VLESSROUTE, SL_COND_USER,
	SL_COND_ATTRS, SL_COND_IP, SL_COND_SRCIP, SL_COND_LOCALIP,
	SL_COND_DOMAIN, SL_COND_PROCESS, SL_COND_NEVER
};

struct sl_img_cond {
	uint32_t	kind;		/* enum sl_img_cond_kind */
	uint32_t	a, b, c, d;
};

/*
 * One IP rule field: Xray's four groups (positive CIDRs, reversed CIDRs,
 * positive geoip, reversed geoip), each one IPSETS index or SL_IMG_NONE.
 */
struct sl_img_ipmatch {
	uint32_t	set[4];
};

#define SL_IPM_POS_CIDR		0
#define SL_IPM_REV_CIDR		1
#define SL_IPM_POS_GEO		2
#define SL_IPM_REV_GEO		3

struct sl_img_attr {
	struct sl_str	key;		/* lower-cased */
	uint32_t	regex;		/* REGEXES index */
};

struct sl_img_regex {
	struct sl_str	pattern;
};

/*
 * A domain set (shm/domset.c owns the meaning of the fields): the tables
 * live in BLOB, regexes are REGEXES [regex_first, +regex_count).
 */
struct sl_img_domset {
	uint64_t	blob_off;
	uint32_t	blob_len;
	uint32_t	nentries;
	uint32_t	regex_first, regex_count;
	uint32_t	param[8];
};

#define SL_IMG_BAL_RANDOM	1
#define SL_IMG_BAL_ROUNDROBIN	2
#define SL_IMG_BAL_LEASTPING	3
#define SL_IMG_BAL_LEASTLOAD	4

struct sl_img_balancer {
	struct sl_str	tag;
	uint32_t	strategy;	/* SL_IMG_BAL_* */
	uint32_t	fallback;	/* OUTBOUNDS index, SL_IMG_NONE */
	uint32_t	cands_first, cands_count; /* U32: OUTBOUNDS, by tag */
	/* leastLoad */
	int32_t		expected;
	uint32_t	max_rtt_ms;
	uint32_t	tolerance_ppm;	/* tolerance x 1e6 */
	uint32_t	baselines_first, baselines_count; /* U32: ms, ascending */
	uint32_t	costs_first, costs_count;
};

struct sl_img_cost {
	uint32_t	is_regex;
	uint32_t	regex;		/* REGEXES index when is_regex */
	struct sl_str	match;		/* substring otherwise */
	uint32_t	value_ppm;	/* value x 1e6 */
};

#define SL_IMG_OBS_PLAIN	1	/* observatory */
#define SL_IMG_OBS_BURST	2	/* burstObservatory */

struct sl_img_observer {
	uint32_t	kind;		/* SL_IMG_OBS_* */
	uint32_t	subjects_first, subjects_count; /* U32: OUTBOUNDS */
	struct sl_str	url;		/* probeURL / pingConfig.destination */
	struct sl_str	connectivity;	/* burst: "" = none */
	struct sl_str	method;		/* "GET", "HEAD" */
	uint32_t	interval_ms;
	uint32_t	sampling;	/* burst; 1 for plain */
	uint32_t	timeout_ms;
	uint32_t	concurrent;	/* plain: enableConcurrency */
};

_Static_assert(sizeof(struct sl_str) == 8, "layout");
_Static_assert(sizeof(struct sl_img_sect_desc) == 16, "layout");
_Static_assert(sizeof(struct sl_img_globals) == 64, "layout");
_Static_assert(sizeof(struct sl_img_hdr) == 40 + 16 * SL_SECT_COUNT + 64 + 64,
    "layout");
_Static_assert(sizeof(struct sl_img_inbound) == 88, "layout");
_Static_assert(sizeof(struct sl_img_vless_user) == 40, "layout");
_Static_assert(sizeof(struct sl_img_trojan_user) == 72, "layout");
_Static_assert(sizeof(struct sl_img_dest) == 20, "layout");
_Static_assert(sizeof(struct sl_img_addr) == 116, "layout");
_Static_assert(sizeof(struct sl_img_outbound) == 80, "layout");
_Static_assert(sizeof(struct sl_img_rule) == 24, "layout");
_Static_assert(sizeof(struct sl_img_cond) == 20, "layout");
_Static_assert(sizeof(struct sl_img_ipmatch) == 16, "layout");
_Static_assert(sizeof(struct sl_img_attr) == 12, "layout");
_Static_assert(sizeof(struct sl_img_domset) == 56, "layout");
_Static_assert(sizeof(struct sl_img_balancer) == 52, "layout");
_Static_assert(sizeof(struct sl_img_cost) == 20, "layout");
_Static_assert(sizeof(struct sl_img_observer) == 52, "layout");
_Static_assert(sizeof(struct sl_img_final_rule) == 24, "layout");
_Static_assert(sizeof(struct sl_img_level) == 20, "layout");
_Static_assert(sizeof(struct sl_img_ipset) == 20, "layout");

/* Record size of each section (1 for the byte sections). */
extern const uint32_t sl_img_elem_size[SL_SECT_COUNT];

/* ---- reader (workers, sluicectl) ---- */

struct sl_img {
	const uint8_t		*base;
	size_t			 size;
	const struct sl_img_hdr	*hdr;
};

/* Map a sealed memfd read-only and validate it.  0, or -1 with *err set. */
int	 sl_img_open(int fd, struct sl_img *, const char **err);
/* Validate an image already in memory (tests, sluicectl). */
int	 sl_img_check(const void *buf, size_t size, const char **err);
void	 sl_img_close(struct sl_img *);

static inline const void *
sl_img_sect(const struct sl_img *img, enum sl_img_sect s)
{
	return img->base + img->hdr->sect[s].off;
}

static inline uint32_t
sl_img_count(const struct sl_img *img, enum sl_img_sect s)
{
	return img->hdr->sect[s].count;
}

static inline const char *
sl_img_str(const struct sl_img *img, struct sl_str s)
{
	return (const char *)sl_img_sect(img, SL_SECT_STRINGS) + s.off;
}

static inline const void *
sl_img_blob(const struct sl_img *img, uint64_t off)
{
	return (const uint8_t *)sl_img_sect(img, SL_SECT_BLOB) + off;
}

#define SL_IMG_REC(img, sect, type, i) \
	(&((const type *)sl_img_sect((img), (sect)))[(i)])

const struct sl_img_level *sl_img_level(const struct sl_img *, uint32_t);

/* ---- writer (master) ---- */

struct sl_img_builder {
	struct {
		uint8_t	*buf;
		size_t	 len, cap;
	} sect[SL_SECT_COUNT];
	int	 failed;
	struct sl_img_globals globals;
	/* String dedup: open addressing over (hash, sl_str). */
	struct sl_imgb_strent {
		uint64_t	 hash;
		struct sl_str	 s;
	}	*strtab;
	size_t	 strtab_cap, strtab_n;
};

void	 sl_imgb_init(struct sl_img_builder *);
void	 sl_imgb_free(struct sl_img_builder *);
/* Append one record; returns its index. */
uint32_t sl_imgb_add(struct sl_img_builder *, enum sl_img_sect,
	    const void *rec, size_t size);
/* Add a string (bytes, may contain NULs); strings are stored once. */
struct sl_str sl_imgb_str(struct sl_img_builder *, const void *, size_t);
struct sl_str sl_imgb_cstr(struct sl_img_builder *, const char *);
/* Append LEN bytes to BLOB at an 8-aligned offset; returns the offset. */
uint32_t sl_imgb_blob(struct sl_img_builder *, const void *, size_t len);
/* Record i of a section, writable until finish (pointer valid until the
 * next add to the same section). */
void	*sl_imgb_rec(struct sl_img_builder *, enum sl_img_sect, uint32_t i,
	    size_t size);
uint32_t sl_imgb_count(struct sl_img_builder *, enum sl_img_sect, size_t size);
/* Lay out the image in one malloc'ed buffer (caller frees). */
int	 sl_imgb_finish(struct sl_img_builder *, uint64_t generation,
	    uint8_t **out, size_t *outlen);
/* Write a finished image into a new memfd and seal it; returns the fd. */
int	 sl_img_seal(const uint8_t *buf, size_t len);

uint64_t sl_img_checksum(const void *, size_t);

#endif
