/*
 * conf: the configuration model.
 *
 * Owns the in-memory model that both front ends (libconfig for sluice.conf,
 * json-c for Xray JSON) fill and that the compiler turns into a table image.
 * Everything in a model lives in one arena (struct sl_conf.arena) and is
 * freed with it: a failed reload frees its model and nothing else.
 *
 * Names follow Xray's schema; units are normalised here (times in
 * milliseconds, ids in binary).  Every object remembers where it came from
 * (struct sl_where) so that later checks can name the field.
 */
#ifndef SL_MASTER_CONF_H
#define SL_MASTER_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "master/arena.h"
#include "shm/ipset.h"
#include "shm/types.h"

/* "file:line" for libconfig, "file: $.json.path" for JSON. */
struct sl_where {
	const char	*file;
	int		 line;		/* 0 for JSON */
	const char	*path;		/* JSON path, or libconfig setting path */
};

enum sl_proto_in { SL_IN_VLESS = 1, SL_IN_TROJAN = 2 };
enum sl_proto_out {
	SL_OUT_FREEDOM = 1, SL_OUT_BLACKHOLE = 2, SL_OUT_SOCKS = 3, SL_OUT_HTTP = 4
};
enum sl_security { SL_SEC_NONE = 0, SL_SEC_TLS = 1 };
enum sl_tls_version {
	SL_TLS_ANY = 0, SL_TLS_10 = 0x0301, SL_TLS_11 = 0x0302,
	SL_TLS_12 = 0x0303, SL_TLS_13 = 0x0304
};
enum sl_loglevel {
	SL_LOG_NONE = 0, SL_LOG_ERROR = 1, SL_LOG_WARNING = 2,
	SL_LOG_INFO = 3, SL_LOG_DEBUG = 4
};

struct sl_conf_client {
	struct sl_where	 where;
	const char	*id;		/* vless: as written */
	uint8_t		 uuid[16];	/* vless: parsed or UUIDv5-mapped */
	const char	*password;	/* trojan */
	char		 trojan_key[57]; /* trojan: hex SHA-224, NUL-terminated */
	const char	*email;		/* "" when absent */
	int		 level;
	const char	*flow;		/* "" when absent */
};

struct sl_conf_fallback {
	struct sl_where	 where;
	const char	*name;		/* lower-cased at parse time */
	const char	*alpn;		/* lower-cased at parse time */
	const char	*path;		/* "" or starts with '/' */
	const char	*type;		/* "tcp" | "unix" (inferred when absent);
					   explicit: also "tcp4" | "tcp6" */
	const char	*dest;		/* normalised: "host:port", "/path", "@name" */
	size_t		 dest_len;	/* bytes of dest (padded abstract: 108) */
	int		 xver;		/* 0, 1, 2 */
};

struct sl_conf_cert {
	struct sl_where	 where;
	const char	*certificate_file;
	const char	*key_file;
};

/*
 * One domain rule string, parsed (spec xray-routing.md section 1.7).
 * SUBSTR/DOMAIN/FULL values are lower-cased; REGEX is kept as written;
 * GEOSITE is a reference to CODE (upper-cased) in FILE with attribute
 * filters (lower-cased), loaded by the compiler.
 */
enum sl_dom_type {
	SL_DOM_SUBSTR = 0, SL_DOM_REGEX = 1, SL_DOM_DOMAIN = 2, SL_DOM_FULL = 3,
	SL_DOM_GEOSITE = 4
};

struct sl_conf_domain {
	struct sl_where	 where;
	enum sl_dom_type type;
	const char	*value;		/* pattern, or the geosite CODE */
	const char	*file;		/* GEOSITE: "geosite.dat" or ext: FILE */
	const char	**attrs;	/* GEOSITE: required attributes */
	size_t		 nattrs;
};

/* One IP rule string: a CIDR or a geoip reference, maybe reversed ("!"). */
struct sl_conf_ip {
	struct sl_where	 where;
	int		 reverse;
	int		 is_geo;
	struct sl_cidr	 cidr;		/* !is_geo */
	const char	*file;		/* is_geo: "geoip.dat" or ext: FILE */
	const char	*code;		/* is_geo: upper-cased */
};

/* sniffing, per inbound */
#define SL_SNIFF_HTTP	0x1
#define SL_SNIFF_TLS	0x2
#define SL_SNIFF_QUIC	0x4
#define SL_SNIFF_BT	0x8

struct sl_conf_sniffing {
	int		 enabled;
	unsigned	 dest_override;	/* SL_SNIFF_* bits */
	int		 metadata_only;
	int		 route_only;
	struct sl_conf_domain *domains_excluded;
	size_t		 ndomains_excluded;
	struct sl_conf_ip *ips_excluded;
	size_t		 nips_excluded;
};

struct sl_conf_inbound {
	struct sl_where	 where;
	const char	*tag;		/* "" when absent */
	const char	*listen;	/* default "0.0.0.0" */
	int		 port;
	enum sl_proto_in protocol;
	struct sl_conf_client	*clients;
	size_t		 nclients;
	const char	*decryption;	/* vless: must be "none" */
	struct sl_conf_fallback	*fallbacks;
	size_t		 nfallbacks;
	/* streamSettings */
	enum sl_security security;
	int		 accept_proxy_protocol;
	struct sl_conf_cert	*certs;
	size_t		 ncerts;
	const char	**alpn;		/* NULL => Xray default h2, http/1.1 */
	size_t		 nalpn;
	enum sl_tls_version min_version, max_version;
	const char	*server_name;	/* "" when absent */
	int		 reject_unknown_sni;
	int		 resumption;	/* enableSessionResumption */
	struct sl_conf_sniffing sniffing;
};

struct sl_conf_port_range {
	uint16_t	 from, to;
};

enum sl_final_action { SL_FINAL_ALLOW = 1, SL_FINAL_BLOCK = 2 };
#define SL_NET_TCP	0x1
#define SL_NET_UDP	0x2

struct sl_conf_final_rule {
	struct sl_where	 where;
	enum sl_final_action action;
	unsigned	 networks;	/* SL_NET_* bits; 0 = any */
	struct sl_conf_port_range *ports;
	size_t		 nports;	/* 0 = any */
	struct sl_cidr	*ips;		/* "geoip:private" expands here */
	size_t		 nips;		/* 0 = any */
	uint32_t	 block_delay_min, block_delay_max; /* seconds */
	int		 has_block_delay;
};

/* freedom domainStrategy / targetStrategy, same values as SL_IMG_FS_*. */
enum sl_freedom_strategy {
	SL_FS_ASIS = 0, SL_FS_USEIP, SL_FS_USEIP4, SL_FS_USEIP6, SL_FS_USEIP46,
	SL_FS_USEIP64, SL_FS_FORCEIP, SL_FS_FORCEIP4, SL_FS_FORCEIP6,
	SL_FS_FORCEIP46, SL_FS_FORCEIP64
};

struct sl_conf_outbound {
	struct sl_where	 where;
	const char	*tag;
	enum sl_proto_out protocol;
	/* freedom */
	struct sl_conf_final_rule *final_rules;
	size_t		 nfinal_rules;
	enum sl_freedom_strategy strategy;
	const char	*send_through;	/* NULL = none; an IP address */
	const char	*redirect_host;	/* NULL or "" = keep */
	int		 redirect_port;	/* 0 = keep */
	/* blackhole: response.type "http" */
	int		 blackhole_http;
	int		 user_level;	/* policy level, default 0 */
	/* socks, http: one server */
	const char	*server_host;
	int		 server_port;
	const char	*user, *pass;	/* NULL = no authentication */
};

/* routing.rules[] (spec xray-routing.md section 1.3); NULL/0 = absent. */
struct sl_conf_attr {
	const char	*key;		/* lower-cased */
	const char	*regex;
};

#define SL_NET_UNIX	0x4

struct sl_conf_rule {
	struct sl_where	 where;
	const char	*outbound_tag;
	const char	*balancer_tag;
	const char	*rule_tag;
	struct sl_conf_domain *domains;
	size_t		 ndomains;
	struct sl_conf_ip *ips, *source_ips, *local_ips;
	size_t		 nips, nsource_ips, nlocal_ips;
	struct sl_conf_port_range *ports, *source_ports, *local_ports,
			*vless_routes;
	size_t		 nports, nsource_ports, nlocal_ports, nvless_routes;
	int		 has_network;
	unsigned	 networks;	/* SL_NET_* bits */
	const char	**users;	/* "regexp:" prefix kept */
	size_t		 nusers;
	const char	**inbound_tags;
	size_t		 ninbound_tags;
	const char	**protocols;
	size_t		 nprotocols;
	struct sl_conf_attr *attrs;
	size_t		 nattrs;
	const char	**processes;
	size_t		 nprocesses;
	const char	**local_os;
	size_t		 nlocal_os;
};

enum sl_balance { SL_BAL_RANDOM = 1, SL_BAL_ROUNDROBIN, SL_BAL_LEASTPING,
	SL_BAL_LEASTLOAD };

struct sl_conf_cost {
	int		 regexp;
	const char	*match;
	double		 value;
};

struct sl_conf_balancer {
	struct sl_where	 where;
	const char	*tag;
	const char	**selectors;
	size_t		 nselectors;
	enum sl_balance	 strategy;	/* default random */
	const char	*fallback_tag;	/* NULL = none */
	/* leastLoad settings */
	int		 expected;
	uint32_t	 max_rtt_ms;
	double		 tolerance;
	uint32_t	*baselines_ms;
	size_t		 nbaselines;
	struct sl_conf_cost *costs;
	size_t		 ncosts;
};

enum sl_domain_strategy { SL_DS_ASIS = 0, SL_DS_IPIFNONMATCH = 2,
	SL_DS_IPONDEMAND = 3 };

struct sl_conf_routing {
	enum sl_domain_strategy domain_strategy;
	struct sl_conf_rule *rules;
	size_t		 nrules;
	struct sl_conf_balancer *balancers;
	size_t		 nbalancers;
};

/* observatory (plain) and burstObservatory; present = 1 when configured */
struct sl_conf_observatory {
	int		 present;
	struct sl_where	 where;
	int		 burst;
	const char	**selectors;
	size_t		 nselectors;
	const char	*url;		/* probeURL / pingConfig.destination */
	const char	*connectivity;	/* burst; NULL = none */
	const char	*method;	/* "HEAD" (burst default) or "GET" */
	uint32_t	 interval_ms;
	uint32_t	 sampling;	/* burst; 1 for plain */
	uint32_t	 timeout_ms;
	int		 concurrent;	/* plain: enableConcurrency */
};

/* policy.levels.N; milliseconds.  Unset fields take Xray's code defaults. */
struct sl_conf_level {
	int		 level;
	uint32_t	 handshake_ms;		/* 60 s */
	uint32_t	 conn_idle_ms;		/* 300 s */
	uint32_t	 uplink_only_ms;	/* 1 s */
	uint32_t	 downlink_only_ms;	/* 1 s */
};

struct sl_conf_log {
	const char	*access;	/* "" = stderr/none per mode, "none" = off */
	const char	*error;
	enum sl_loglevel loglevel;	/* default warning */
};

/* The top-level "sluice" group. */
struct sl_conf_sluice {
	int		 workers;	/* 0 = online CPUs */
	const char	*user, *group;	/* NULL = keep */
	const char	*pid_file;
	const char	*control_socket;
	const char	*state_db;
	const char	*asset_dir;
	enum sl_relay_mode relay;
	uint32_t	 stats_interval;	/* seconds */
	uint32_t	 shutdown_timeout;	/* seconds */
};

struct sl_conf {
	struct sl_arena	 arena;
	const char	*file;		/* path the model was read from */
	struct sl_conf_inbound	*inbounds;
	size_t		 ninbounds;
	struct sl_conf_outbound	*outbounds;
	size_t		 noutbounds;
	struct sl_conf_level	*levels;	/* sorted by level; 0 always present */
	size_t		 nlevels;
	struct sl_conf_log	 log;
	struct sl_conf_sluice	 sluice;
	struct sl_conf_routing	 routing;
	struct sl_conf_observatory observatory, burst_observatory;
};

/*
 * Errors: every front end and check appends "where: message" lines; the
 * caller prints them all.  A model with errors is never compiled.
 */
struct sl_errors {
	char		*buf;		/* "line\nline\n..." */
	size_t		 len, cap;
	int		 count;
};

void	 sl_errors_init(struct sl_errors *);
void	 sl_errors_free(struct sl_errors *);
void	 sl_errors_add(struct sl_errors *, const struct sl_where *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read FILE with the front end its name selects (.json/.jsonc -> JSON). */
struct sl_conf	*sl_conf_load(const char *file, struct sl_errors *);
void		 sl_conf_free(struct sl_conf *);

/* Front ends: fill an initialised model; return the number of errors. */
int	 sl_conf_cfg_parse(struct sl_conf *, const char *file, struct sl_errors *);
int	 sl_conf_json_parse(struct sl_conf *, const char *file, struct sl_errors *);

/* Defaults and cross-checks shared by both front ends (tags, levels...). */
int	 sl_conf_check(struct sl_conf *, struct sl_errors *);

/* Policy for a user level (level 0 when the level is not configured). */
const struct sl_conf_level *sl_conf_level_get(const struct sl_conf *, int);

#endif
