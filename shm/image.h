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
#define SL_IMG_MAJOR	1
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
	uint32_t	reserved[11];
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
	uint16_t	pad;
	uint32_t	users_first, users_count;   /* VLESS_ or TROJAN_USERS */
	uint32_t	fb_names_first, fb_names_count; /* 0 count: no fallbacks */
	uint32_t	certs_first, certs_count;
	struct sl_str	alpn_wire;	/* ALPN list in wire format */
	struct sl_str	server_name;
};

struct sl_img_vless_user {
	uint8_t		key[16];	/* UUID with bytes 6 and 7 zeroed */
	struct sl_str	email;
	struct sl_str	flow;
	uint32_t	level;
};

struct sl_img_trojan_user {
	char		key[56];	/* lower-case hex SHA-224 */
	struct sl_str	email;
	uint32_t	level;
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

struct sl_img_outbound {
	struct sl_str	tag;
	uint8_t		protocol;	/* SL_IMG_OUT_* */
	uint8_t		blackhole_http;
	uint16_t	pad;
	uint32_t	final_first, final_count;
	/* When no final rule matches: block these for VLESS/Trojan inbounds. */
	uint32_t	default_block_ipset;	/* index into IPSETS */
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

struct sl_img_ipset {
	uint32_t	v4_first, v4_count;
	uint32_t	v6_first, v6_count;
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

_Static_assert(sizeof(struct sl_str) == 8, "layout");
_Static_assert(sizeof(struct sl_img_sect_desc) == 16, "layout");
_Static_assert(sizeof(struct sl_img_globals) == 64, "layout");
_Static_assert(sizeof(struct sl_img_hdr) == 40 + 16 * SL_SECT_COUNT + 64 + 64,
    "layout");
_Static_assert(sizeof(struct sl_img_inbound) == 68, "layout");
_Static_assert(sizeof(struct sl_img_vless_user) == 36, "layout");
_Static_assert(sizeof(struct sl_img_trojan_user) == 68, "layout");
_Static_assert(sizeof(struct sl_img_dest) == 20, "layout");
_Static_assert(sizeof(struct sl_img_addr) == 116, "layout");
_Static_assert(sizeof(struct sl_img_outbound) == 24, "layout");
_Static_assert(sizeof(struct sl_img_final_rule) == 24, "layout");
_Static_assert(sizeof(struct sl_img_level) == 20, "layout");

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
