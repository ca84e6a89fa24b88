/*
 * compile: configuration model -> table image.
 *
 * Runs in the master (and in sluicectl) only.  It may block: it reads
 * certificate files and resolves fallback host names with getaddrinfo, so
 * that workers never do either on their hot path.  Fallback names are
 * therefore resolved once per generation (like nginx upstreams); a reload
 * resolves them again.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "master/compile.h"
#include "master/cnames.h"
#include "master/compile_int.h"
#include "master/users.h"
#include "shm/fallback.h"
#include "shm/image.h"
#include "shm/ipset.h"
#include "shm/log.h"
#include "shm/types.h"

static int
read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return -1;
	do {
		if (n == cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (p == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

/* The worker builds its SSL_CTX from these bytes: refuse what it would. */
static int
pem_check(const char *cert, size_t clen, const char *key, size_t klen,
    const char **why)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)clen);
	BIO *kb = BIO_new_mem_buf(key, (int)klen);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int ok = 0;

	if (x == NULL)
		*why = "certificateFile: not a PEM certificate";
	else if (k == NULL)
		*why = "keyFile: not a PEM private key";
	else if (X509_check_private_key(x, k) != 1)
		*why = "keyFile does not match certificateFile";
	else
		ok = 1;
	if (!ok)
		ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ok ? 0 : -1;
}

static int
add_cert(struct cc *c, const struct sl_conf_cert *ce)
{
	struct sl_img_cert rec;
	char *cert = NULL, *key = NULL;
	size_t clen, klen;
	const char *why = NULL;
	int rc = -1;

	if (read_file(ce->certificate_file, &cert, &clen) == -1)
		sl_errors_add(c->errs, &ce->where, "certificateFile: %s: %s",
		    ce->certificate_file, strerror(errno));
	else if (read_file(ce->key_file, &key, &klen) == -1)
		sl_errors_add(c->errs, &ce->where, "keyFile: %s: %s",
		    ce->key_file, strerror(errno));
	else if (pem_check(cert, clen, key, klen, &why) == -1)
		sl_errors_add(c->errs, &ce->where, "%s (%s, %s)", why,
		    ce->certificate_file, ce->key_file);
	else {
		rec.cert_pem = sl_imgb_str(&c->b, cert, clen);
		rec.key_pem = sl_imgb_str(&c->b, key, klen);
		sl_imgb_add(&c->b, SL_SECT_CERTS, &rec, sizeof(rec));
		rc = 0;
	}
	if (key != NULL)
		OPENSSL_cleanse(key, klen);
	free(cert);
	free(key);
	return rc;
}

static void
add_unix_addr(struct cc *c, const struct sl_conf_fallback *fb)
{
	struct sl_img_addr a;
	struct sockaddr_un *un = (struct sockaddr_un *)(void *)a.sa;

	memset(&a, 0, sizeof(a));
	un->sun_family = AF_UNIX;
	/* "@name" is abstract (NUL first, no trailing NUL counted); the
	 * padded form is already 108 bytes long, so it fills sun_path. */
	memcpy(un->sun_path, fb->dest, fb->dest_len);
	if (fb->dest[0] == '@')
		un->sun_path[0] = '\0';
	a.len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) +
	    fb->dest_len + (fb->dest[0] == '@' ? 0 : 1));
	if (a.len > sizeof(struct sockaddr_un))
		a.len = sizeof(struct sockaddr_un);
	sl_imgb_add(&c->b, SL_SECT_ADDRS, &a, sizeof(a));
}

static int
split_host_port(const char *dest, char *host, size_t hcap, const char **port)
{
	const char *colon = strrchr(dest, ':');
	size_t hl;

	if (colon == NULL)
		return -1;
	hl = (size_t)(colon - dest);
	if (hl >= 2 && dest[0] == '[' && dest[hl - 1] == ']') {
		dest++;
		hl -= 2;
	}
	if (hl >= hcap)
		return -1;
	memcpy(host, dest, hl);
	host[hl] = '\0';
	*port = colon + 1;
	return 0;
}

int
cc_tcp_addrs(struct cc *c, const struct sl_where *where, const char *dest,
    int family, uint32_t *first, uint32_t *count)
{
	struct addrinfo hints, *res, *ai;
	struct sl_img_addr a;
	const char *port;
	char host[256];
	int rc;

	if (split_host_port(dest, host, sizeof(host), &port) == -1) {
		sl_errors_add(c->errs, where, "\"%s\" is not host:port", dest);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = family;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		sl_errors_add(c->errs, where, "cannot resolve \"%s\": %s",
		    dest, gai_strerror(rc));
		return -1;
	}
	*first = sl_imgb_count(&c->b, SL_SECT_ADDRS, sizeof(a));
	*count = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a.sa))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(a.sa, ai->ai_addr, ai->ai_addrlen);
		a.len = (uint32_t)ai->ai_addrlen;
		sl_imgb_add(&c->b, SL_SECT_ADDRS, &a, sizeof(a));
		(*count)++;
	}
	freeaddrinfo(res);
	return 0;
}

static int
add_dest(struct cc *c, const struct sl_conf_fallback *fb, uint32_t *idx)
{
	struct sl_img_dest d;
	size_t tlen = fb->dest_len;

	memset(&d, 0, sizeof(d));
	/* Log the padded abstract form without its NUL padding. */
	if (memchr(fb->dest, '\0', tlen) != NULL)
		tlen = strlen(fb->dest);
	d.text = sl_imgb_str(&c->b, fb->dest, tlen);
	d.xver = (uint8_t)fb->xver;
	d.addrs_first = sl_imgb_count(&c->b, SL_SECT_ADDRS,
	    sizeof(struct sl_img_addr));
	if (strcmp(fb->type, "unix") == 0) {
		d.kind = SL_IMG_DEST_UNIX;
		add_unix_addr(c, fb);
		d.addrs_count = 1;
	} else {
		d.kind = SL_IMG_DEST_TCP;
		if (cc_tcp_addrs(c, &fb->where, fb->dest,
		    strcmp(fb->type, "tcp4") == 0 ? AF_INET :
		    strcmp(fb->type, "tcp6") == 0 ? AF_INET6 : AF_UNSPEC,
		    &d.addrs_first, &d.addrs_count) == -1)
			return -1;
	}
	*idx = sl_imgb_add(&c->b, SL_SECT_DESTS, &d, sizeof(d));
	return 0;
}

static int
add_fallbacks(struct cc *c, const struct sl_conf_inbound *in,
    struct sl_img_inbound *rec)
{
	struct sl_fb_entry *e;
	int rc = 0;

	if (in->nfallbacks == 0)
		return 0;
	if ((e = calloc(in->nfallbacks, sizeof(*e))) == NULL)
		return -1;
	for (size_t i = 0; i < in->nfallbacks; i++) {
		const struct sl_conf_fallback *fb = &in->fallbacks[i];

		e[i].name = fb->name;
		e[i].alpn = fb->alpn;
		e[i].path = fb->path;
		if (add_dest(c, fb, &e[i].dest) == -1)
			rc = -1;
	}
	if (rc == 0 && sl_fb_build(&c->b, e, in->nfallbacks,
	    &rec->fb_names_first, &rec->fb_names_count) == -1)
		rc = -1;
	free(e);
	return rc;
}

/*
 * User tables are sorted by key for binary search in workers.  Of two
 * clients with the same key the later one wins, as in Xray's validator
 * map; sorting by (key, config order) and keeping the last of each run
 * does exactly that for both protocols.
 */
struct user_sort {
	uint8_t		 key[56];	/* VLESS keys use the first 16 */
	size_t		 order;
	union {
		struct sl_img_vless_user  v;
		struct sl_img_trojan_user t;
	} rec;
};

static int
cmp_user(const void *a, const void *b)
{
	const struct user_sort *x = a, *y = b;
	int r = memcmp(x->key, y->key, sizeof(x->key));

	if (r != 0)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void user_fill(struct cc *, const struct sl_conf_inbound *,
    const char *, int, struct user_sort *);

static void
user_record(struct cc *c, const struct sl_conf_inbound *in, size_t i,
    struct user_sort *u)
{
	const struct sl_conf_client *cl = &in->clients[i];

	u->order = c->x->nusers + i;	/* after the database's: it wins */
	if (in->protocol == SL_IN_VLESS) {
		memcpy(u->rec.v.key, cl->uuid, 16);
		u->rec.v.flow = sl_imgb_cstr(&c->b, cl->flow);
	} else
		memcpy(u->rec.t.key, cl->trojan_key, 56);
	user_fill(c, in, cl->email, cl->level, u);
}

/* The key, email, level and counter id of both protocols' records. */
static void
user_fill(struct cc *c, const struct sl_conf_inbound *in, const char *email,
    int level, struct user_sort *u)
{
	uint32_t cnt = sl_cnames_id(c->x->names, SL_CN_USER, email);

	if (in->protocol == SL_IN_VLESS) {
		u->rec.v.key[6] = u->rec.v.key[7] = 0;	/* vlessRoute bytes */
		memcpy(u->key, u->rec.v.key, 16);
		u->rec.v.email = sl_imgb_cstr(&c->b, email);
		u->rec.v.level = (uint32_t)level;
		u->rec.v.cnt = cnt;
	} else {
		memcpy(u->key, u->rec.t.key, 56);
		u->rec.t.email = sl_imgb_cstr(&c->b, email);
		u->rec.t.level = (uint32_t)level;
		u->rec.t.cnt = cnt;
	}
}

static void
cuser_record(struct cc *c, const struct sl_conf_inbound *in,
    const struct sl_cuser *cu, size_t order, struct user_sort *u)
{
	u->order = order;
	if (in->protocol == SL_IN_VLESS) {
		memcpy(u->rec.v.key, cu->uuid, 16);
		u->rec.v.flow = sl_imgb_cstr(&c->b, cu->flow);
	} else
		memcpy(u->rec.t.key, cu->trojan_key, 56);
	user_fill(c, in, cu->email, cu->level, u);
}

static void
add_users(struct cc *c, const struct sl_conf_inbound *in,
    struct sl_img_inbound *rec)
{
	enum sl_img_sect sect = in->protocol == SL_IN_VLESS ?
	    SL_SECT_VLESS_USERS : SL_SECT_TROJAN_USERS;
	size_t size = in->protocol == SL_IN_VLESS ?
	    sizeof(struct sl_img_vless_user) : sizeof(struct sl_img_trojan_user);
	struct user_sort *u = calloc(in->nclients + c->x->nusers + 1,
	    sizeof(*u));
	size_t i, n = 0;

	if (u == NULL) {
		c->b.failed = 1;
		return;
	}
	for (i = 0; i < c->x->nusers; i++)
		if (sl_users_joins(c->x->users[i].inbounds,
		    c->x->users[i].ninbounds, in->tag))
			cuser_record(c, in, &c->x->users[i], i, &u[n++]);
	for (i = 0; i < in->nclients; i++)
		user_record(c, in, i, &u[n++]);
	qsort(u, n, sizeof(*u), cmp_user);
	rec->users_first = sl_imgb_count(&c->b, sect, size);
	for (i = 0; i < n; i++) {
		if (i + 1 < n &&
		    memcmp(u[i].key, u[i + 1].key, sizeof(u->key)) == 0)
			continue;
		sl_imgb_add(&c->b, sect, &u[i].rec, size);
		rec->users_count++;
	}
	free(u);
}

static struct sl_str
alpn_wire(struct cc *c, const struct sl_conf_inbound *in)
{
	static const char *const dflt[] = { "h2", "http/1.1" };
	const char *const *list = in->alpn ? in->alpn : dflt;
	size_t n = in->alpn ? in->nalpn : 2, len = 0;
	uint8_t buf[1024];

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		if (l == 0 || l > 255 || len + 1 + l > sizeof(buf))
			continue;
		buf[len++] = (uint8_t)l;
		memcpy(buf + len, list[i], l);
		len += l;
	}
	return sl_imgb_str(&c->b, buf, len);
}

static int
add_inbound(struct cc *c, const struct sl_conf_inbound *in)
{
	struct sl_img_inbound rec;
	int rc = 0;

	memset(&rec, 0, sizeof(rec));
	rec.tag = sl_imgb_cstr(&c->b, in->tag);
	rec.listen = sl_imgb_cstr(&c->b, in->listen);
	rec.port = (uint16_t)in->port;
	rec.protocol = in->protocol == SL_IN_VLESS ? SL_IMG_IN_VLESS :
	    SL_IMG_IN_TROJAN;
	rec.security = in->security == SL_SEC_TLS ? SL_IMG_SEC_TLS :
	    SL_IMG_SEC_NONE;
	rec.accept_proxy = (uint8_t)in->accept_proxy_protocol;
	rec.reject_unknown_sni = (uint8_t)in->reject_unknown_sni;
	rec.resumption = (uint8_t)in->resumption;
	rec.tls_min = (uint16_t)in->min_version;
	rec.tls_max = (uint16_t)in->max_version;
	rec.alpn_wire = alpn_wire(c, in);
	rec.server_name = sl_imgb_cstr(&c->b, in->server_name);
	rec.cnt = sl_cnames_id(c->x->names, SL_CN_INBOUND, in->tag);
	if (cc_sniffing(c, in, &rec) == -1)
		rc = -1;
	rec.certs_first = sl_imgb_count(&c->b, SL_SECT_CERTS,
	    sizeof(struct sl_img_cert));
	for (size_t i = 0; i < in->ncerts; i++)
		if (add_cert(c, &in->certs[i]) == 0)
			rec.certs_count++;
		else
			rc = -1;
	add_users(c, in, &rec);
	if (add_fallbacks(c, in, &rec) == -1)
		rc = -1;
	sl_imgb_add(&c->b, SL_SECT_INBOUNDS, &rec, sizeof(rec));
	return rc;
}

static void
add_private_set(struct cc *c)
{
	struct sl_cidr v[32];
	size_t n = sl_private_list(v, SL_ARRAY_LEN(v));

	c->private_set = sl_ipset_build(&c->b, v, n);
}

static void
add_final_rule(struct cc *c, const struct sl_conf_final_rule *r)
{
	struct sl_img_final_rule rec;
	struct sl_img_port_range pr;

	memset(&rec, 0, sizeof(rec));
	rec.action = r->action == SL_FINAL_ALLOW ? SL_IMG_FINAL_ALLOW :
	    SL_IMG_FINAL_BLOCK;
	rec.networks = (uint8_t)r->networks;
	rec.ports_first = sl_imgb_count(&c->b, SL_SECT_PORT_RANGES,
	    sizeof(pr));
	rec.ports_count = (uint32_t)r->nports;
	for (size_t i = 0; i < r->nports; i++) {
		pr.from = r->ports[i].from;
		pr.to = r->ports[i].to;
		sl_imgb_add(&c->b, SL_SECT_PORT_RANGES, &pr, sizeof(pr));
	}
	if (r->nips > 0) {
		rec.has_ips = 1;
		rec.ipset = sl_ipset_build(&c->b, r->ips, r->nips);
	}
	rec.has_block_delay = (uint8_t)r->has_block_delay;
	rec.block_delay_min = r->block_delay_min;
	rec.block_delay_max = r->block_delay_max;
	sl_imgb_add(&c->b, SL_SECT_FINAL_RULES, &rec, sizeof(rec));
}

static const uint8_t out_proto[] = {
	[SL_OUT_FREEDOM] = SL_IMG_OUT_FREEDOM,
	[SL_OUT_BLACKHOLE] = SL_IMG_OUT_BLACKHOLE,
	[SL_OUT_SOCKS] = SL_IMG_OUT_SOCKS,
	[SL_OUT_HTTP] = SL_IMG_OUT_HTTP,
};

/* sendThrough: an address to bind before connecting (port 0). */
static int
add_send_through(struct cc *c, const struct sl_conf_outbound *o,
    uint32_t *idx)
{
	struct sl_img_addr a;
	struct sockaddr_in *in = (struct sockaddr_in *)a.sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a.sa;

	*idx = 0;
	if (o->send_through == NULL || *o->send_through == '\0')
		return 0;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, o->send_through, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		a.len = sizeof(*in);
	} else if (inet_pton(AF_INET6, o->send_through, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		a.len = sizeof(*in6);
	} else {
		sl_errors_add(c->errs, &o->where, "sendThrough: \"%s\" is not "
		    "an IP address", o->send_through);
		return -1;
	}
	*idx = sl_imgb_add(&c->b, SL_SECT_ADDRS, &a, sizeof(a)) + 1;
	return 0;
}

static int
add_proxy_server(struct cc *c, const struct sl_conf_outbound *o,
    struct sl_img_outbound *rec)
{
	char dest[300];

	if (o->protocol != SL_OUT_SOCKS && o->protocol != SL_OUT_HTTP)
		return 0;
	snprintf(dest, sizeof(dest), strchr(o->server_host, ':') ?
	    "[%s]:%d" : "%s:%d", o->server_host, o->server_port);
	rec->server = sl_imgb_cstr(&c->b, dest);
	rec->user = sl_imgb_cstr(&c->b, o->user ? o->user : "");
	rec->pass = sl_imgb_cstr(&c->b, o->pass ? o->pass : "");
	return cc_tcp_addrs(c, &o->where, dest, AF_UNSPEC,
	    &rec->server_addrs_first, &rec->server_addrs_count);
}

static int
add_outbound(struct cc *c, const struct sl_conf_outbound *o)
{
	struct sl_img_outbound rec;
	int rc = 0;

	memset(&rec, 0, sizeof(rec));
	rec.tag = sl_imgb_cstr(&c->b, o->tag);
	rec.protocol = out_proto[o->protocol];
	rec.blackhole_http = (uint8_t)o->blackhole_http;
	rec.strategy = (uint8_t)o->strategy;
	rec.level = (uint32_t)o->user_level;
	rec.default_block_ipset = c->private_set;
	rec.final_first = sl_imgb_count(&c->b, SL_SECT_FINAL_RULES,
	    sizeof(struct sl_img_final_rule));
	rec.final_count = (uint32_t)o->nfinal_rules;
	for (size_t i = 0; i < o->nfinal_rules; i++)
		add_final_rule(c, &o->final_rules[i]);
	rec.redirect_host = sl_imgb_cstr(&c->b, o->redirect_host ?
	    o->redirect_host : "");
	rec.redirect_port = (uint16_t)o->redirect_port;
	rec.server = rec.user = rec.pass = sl_imgb_cstr(&c->b, "");
	rec.cnt = sl_cnames_id(c->x->names, SL_CN_OUTBOUND, o->tag);
	if (add_send_through(c, o, &rec.send_through) == -1 ||
	    add_proxy_server(c, o, &rec) == -1)
		rc = -1;
	sl_imgb_add(&c->b, SL_SECT_OUTBOUNDS, &rec, sizeof(rec));
	return rc;
}

static void
add_levels(struct cc *c)
{
	for (size_t i = 0; i < c->cf->nlevels; i++) {
		const struct sl_conf_level *l = &c->cf->levels[i];
		struct sl_img_level rec = {
			.level = (uint32_t)l->level,
			.handshake_ms = l->handshake_ms,
			.conn_idle_ms = l->conn_idle_ms,
			.uplink_only_ms = l->uplink_only_ms,
			.downlink_only_ms = l->downlink_only_ms,
		};
		sl_imgb_add(&c->b, SL_SECT_LEVELS, &rec, sizeof(rec));
	}
}

static void
set_globals(struct cc *c)
{
	const struct sl_conf *cf = c->cf;

	c->b.globals.loglevel = (uint32_t)cf->log.loglevel;
	c->b.globals.access_log = strcmp(cf->log.access, "none") != 0;
	c->b.globals.relay = (uint32_t)cf->sluice.relay;
	c->b.globals.shutdown_timeout = cf->sluice.shutdown_timeout;
	c->b.globals.default_outbound = 0;	/* Xray: the first outbound */
	c->b.globals.domain_strategy = (uint32_t)cf->routing.domain_strategy;
}

int
sl_compile(const struct sl_conf *cf, const struct sl_compile_extra *x,
    uint64_t generation, uint8_t **out, size_t *outlen,
    struct sl_errors *errs)
{
	static const struct sl_compile_extra none;
	struct cc c = { .cf = cf, .x = x ? x : &none, .errs = errs };
	int rc = 0;

	sl_imgb_init(&c.b);
	set_globals(&c);
	add_levels(&c);
	add_private_set(&c);
	for (size_t i = 0; i < cf->ninbounds; i++)
		if (add_inbound(&c, &cf->inbounds[i]) == -1)
			rc = -1;
	for (size_t i = 0; i < cf->noutbounds; i++)
		if (add_outbound(&c, &cf->outbounds[i]) == -1)
			rc = -1;
	if (cc_routing(&c) == -1)
		rc = -1;
	if (rc == 0 && sl_imgb_finish(&c.b, generation, out, outlen) == -1) {
		sl_errors_add(errs, NULL, "table image: out of memory");
		rc = -1;
	}
	cc_free(&c);
	sl_imgb_free(&c.b);
	return rc;
}

int
sl_compile_check_file(const char *file)
{
	struct sl_errors errs;
	struct sl_conf *cf;
	uint8_t *img = NULL;
	size_t len;
	int rc = -1;

	sl_errors_init(&errs);
	cf = sl_conf_load(file, &errs);
	if (cf != NULL && sl_compile(cf, NULL, 0, &img, &len, &errs) == 0)
		rc = 0;
	if (errs.count > 0)
		fprintf(stderr, "%.*s", (int)errs.len, errs.buf);
	if (rc == 0)
		printf("%s: configuration OK (%zu inbounds, %zu outbounds, "
		    "table image %zu bytes)\n", file, cf->ninbounds,
		    cf->noutbounds, len);
	else if (rc != 0)
		fprintf(stderr, "%s: configuration has %d error%s\n", file,
		    errs.count, errs.count == 1 ? "" : "s");
	free(img);
	sl_conf_free(cf);
	sl_errors_free(&errs);
	return rc;
}
