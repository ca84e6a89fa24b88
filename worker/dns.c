/*
 * dns: asynchronous name resolution for a worker, on c-ares, in the loop.
 *
 * Owns the c-ares channel, one sl_ev per c-ares socket (c-ares tells us
 * which through its socket-state callback), the timer that lets c-ares
 * expire queries, the per-query records and the answer cache.
 *
 * c-ares cannot cancel one query, so a cancelled query keeps its record,
 * flagged, until c-ares reports it done; only then is it freed.  Every call
 * into c-ares is bracketed by dns_enter()/dns_leave(): callbacks run inside
 * those calls, and sl_dns_free() from a callback only marks the resolver
 * dying, the outermost dns_leave() then tears it down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "shm/log.h"
#include "worker/dns.h"
#include "worker/loop.h"

#define DNS_NAME_MAX	253	/* longer names are resolved, never cached */

union dns_addr {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

struct dns_sock {
	struct sl_ev		 ev;
	struct sl_dns		*dns;
	struct dns_sock		*next;
};

struct sl_dns_query {
	struct sl_dns		*dns;
	sl_dns_cb		 cb;
	void			*arg;
	uint16_t		 port;
	int			 family;
	unsigned		 cancelled:1;
	unsigned		 in_resolve:1;	/* inside ares_getaddrinfo() */
	unsigned		 done:1;	/* answered during it */
	char			 name[];
};

/* A positive answer, ports 0, IPv4 first. */
struct cache_ent {
	struct cache_ent	*hnext;		/* hash chain */
	struct cache_ent	*prev, *next;	/* LRU list, head = newest */
	uint64_t		 expires;	/* loop ms */
	uint32_t		 hash;
	int			 family;
	char			 name[DNS_NAME_MAX + 1];
	size_t			 n;
	union dns_addr		 addrs[];
};

struct sl_dns {
	struct sl_loop		*loop;
	ares_channel		 channel;
	struct sl_timer		 timer;
	struct dns_sock		*socks;
	size_t			 pending;
	int			 depth;		/* nested calls into c-ares */
	int			 dying;
	int			 env_hosts;
	struct cache_ent	**buckets;
	size_t			 nbuckets;	/* power of two */
	struct cache_ent	*lru_head, *lru_tail;
	size_t			 ncache, cache_max;
};

static void	dns_destroy(struct sl_dns *);

/* ---- delivering answers ---- */

static void
deliver(sl_dns_cb cb, void *arg, int status, const union dns_addr *a,
    size_t n, uint16_t port)
{
	struct sockaddr_storage ss[SL_DNS_MAX_ADDRS];
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&ss[i], 0, sizeof(ss[i]));
		if (a[i].sa.sa_family == AF_INET) {
			memcpy(&ss[i], &a[i].in, sizeof(a[i].in));
			((struct sockaddr_in *)&ss[i])->sin_port = htons(port);
		} else {
			memcpy(&ss[i], &a[i].in6, sizeof(a[i].in6));
			((struct sockaddr_in6 *)&ss[i])->sin6_port =
			    htons(port);
		}
	}
	cb(arg, status, ares_strerror(status), n ? ss : NULL, n);
}

static void
fail(sl_dns_cb cb, void *arg, int status)
{
	deliver(cb, arg, status, NULL, 0, 0);
}

/* An IP literal answers itself: 1 if it was one (and cb has run). */
static int
resolve_literal(const char *name, uint16_t port, int family, sl_dns_cb cb,
    void *arg)
{
	union dns_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, name, &a.in.sin_addr) == 1)
		a.in.sin_family = AF_INET;
	else if (inet_pton(AF_INET6, name, &a.in6.sin6_addr) == 1)
		a.in6.sin6_family = AF_INET6;
	else
		return 0;
	if (family != AF_UNSPEC && family != a.sa.sa_family)
		fail(cb, arg, ARES_EBADFAMILY);
	else
		deliver(cb, arg, ARES_SUCCESS, &a, 1, port);
	return 1;
}

/*
 * RFC 6761: localhost is loopback, never asked of a server.  c-ares 1.18
 * knows that too, but leaks the name when /etc/hosts lacks the family
 * asked for (fixed in 1.19), so answer it here.
 */
static int
resolve_localhost(const char *name, uint16_t port, int family, sl_dns_cb cb,
    void *arg)
{
	union dns_addr a[2];
	size_t n = 0;

	if (strcasecmp(name, "localhost") != 0 &&
	    strcasecmp(name, "localhost.") != 0)
		return 0;
	memset(a, 0, sizeof(a));
	if (family != AF_INET6) {
		a[n].in.sin_family = AF_INET;
		a[n++].in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (family != AF_INET) {
		a[n].in6.sin6_family = AF_INET6;
		a[n++].in6.sin6_addr = in6addr_loopback;
	}
	deliver(cb, arg, ARES_SUCCESS, a, n, port);
	return 1;
}

/* ---- cache ---- */

static uint32_t
cache_hash(const char *name, int family)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;

	for (; *name; name++) {
		h ^= (uint8_t)(*name | 0x20);	/* folds case (and more) */
		h *= 16777619u;
	}
	return h;
}

static void
lru_unlink(struct sl_dns *dns, struct cache_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		dns->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		dns->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct sl_dns *dns, struct cache_ent *e)
{
	e->prev = NULL;
	e->next = dns->lru_head;
	if (dns->lru_head)
		dns->lru_head->prev = e;
	else
		dns->lru_tail = e;
	dns->lru_head = e;
}

static void
cache_remove(struct sl_dns *dns, struct cache_ent *e)
{
	struct cache_ent **pp = &dns->buckets[e->hash & (dns->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(dns, e);
	dns->ncache--;
	free(e);
}

/* A live entry for the key, made newest; expired ones are dropped. */
static struct cache_ent *
cache_get(struct sl_dns *dns, const char *name, int family)
{
	uint32_t h = cache_hash(name, family);
	struct cache_ent *e;

	for (e = dns->buckets[h & (dns->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->family == family &&
		    strcasecmp(e->name, name) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (e->expires <= sl_loop_now(dns->loop)) {
		cache_remove(dns, e);
		return NULL;
	}
	lru_unlink(dns, e);
	lru_push(dns, e);
	return e;
}

static void
cache_put(struct sl_dns *dns, const char *name, int family,
    const union dns_addr *a, size_t n, uint32_t ttl)
{
	struct cache_ent *e, **head;

	if (ttl == 0 || n == 0 || strlen(name) > DNS_NAME_MAX)
		return;
	if (ttl > SL_DNS_TTL_MAX)
		ttl = SL_DNS_TTL_MAX;
	/* Two queries for one name raced: the later answer wins. */
	if ((e = cache_get(dns, name, family)) != NULL)
		cache_remove(dns, e);
	if (dns->ncache >= dns->cache_max)
		cache_remove(dns, dns->lru_tail);
	if ((e = calloc(1, sizeof(*e) + n * sizeof(*a))) == NULL)
		return;		/* a cache miss later, nothing worse */
	e->hash = cache_hash(name, family);
	e->family = family;
	strcpy(e->name, name);
	e->n = n;
	memcpy(e->addrs, a, n * sizeof(*a));
	e->expires = sl_loop_now(dns->loop) + (uint64_t)ttl * 1000;
	head = &dns->buckets[e->hash & (dns->nbuckets - 1)];
	e->hnext = *head;
	*head = e;
	lru_push(dns, e);
	dns->ncache++;
}

void
sl_dns_cache_flush(struct sl_dns *dns)
{
	while (dns->lru_head)
		cache_remove(dns, dns->lru_head);
}

/* ---- c-ares sockets and timer ---- */

static void
dns_arm_timer(struct sl_dns *dns)
{
	struct timeval tv, *tvp;

	if ((tvp = ares_timeout(dns->channel, NULL, &tv)) == NULL) {
		sl_timer_del(dns->loop, &dns->timer);
		return;
	}
	/* Round up: waking early would only spin until it is due. */
	sl_timer_add(dns->loop, &dns->timer,
	    (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) /
	    1000);
}

static void
dns_enter(struct sl_dns *dns)
{
	dns->depth++;
}

/* Returns 1 when the resolver was torn down: touch nothing of it then. */
static int
dns_leave(struct sl_dns *dns)
{
	if (--dns->depth > 0)
		return 0;
	if (dns->dying) {
		dns_destroy(dns);
		return 1;
	}
	dns_arm_timer(dns);
	return 0;
}

static void
dns_sock_cb(struct sl_ev *ev, uint32_t events)
{
	struct dns_sock *s = ev->data;
	struct sl_dns *dns = s->dns;
	ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
	uint32_t fail_ev = EPOLLERR | EPOLLHUP;

	/* Errors go to whichever side c-ares waits on: it reads them. */
	if ((ev->events & EPOLLIN) && (events & (EPOLLIN | fail_ev)))
		r = ev->fd;
	if ((ev->events & EPOLLOUT) && (events & (EPOLLOUT | fail_ev)))
		w = ev->fd;
	/* s may be freed in here (c-ares closed the socket). */
	dns_enter(dns);
	ares_process_fd(dns->channel, r, w);
	dns_leave(dns);
}

static void
dns_timer_cb(struct sl_timer *t)
{
	struct sl_dns *dns = t->data;

	dns_enter(dns);
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_leave(dns);
}

static void
dns_sock_drop(struct sl_dns *dns, struct dns_sock **pp)
{
	struct dns_sock *s = *pp;

	/* c-ares closes the fd right after telling us: remove it first. */
	sl_ev_set(dns->loop, &s->ev, 0);
	sl_loop_forget(dns->loop, &s->ev);
	*pp = s->next;
	free(s);
}

/* c-ares opened, closed or changed interest in one of its sockets. */
static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct sl_dns *dns = data;
	struct dns_sock **pp, *s;
	uint32_t mask = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);

	for (pp = &dns->socks; *pp; pp = &(*pp)->next)
		if ((*pp)->ev.fd == fd)
			break;
	if (mask == 0) {
		if (*pp)
			dns_sock_drop(dns, pp);
		return;
	}
	if ((s = *pp) == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			sl_warn("dns: out of memory for socket %d", fd);
			return;		/* the query times out */
		}
		sl_ev_init(&s->ev, fd, dns_sock_cb, s);
		s->dns = dns;
		s->next = dns->socks;
		dns->socks = s;
	}
	if (sl_ev_set(dns->loop, &s->ev, mask) < 0)
		sl_warn("dns: cannot watch socket %d: %s", fd,
		    strerror(errno));
}

/* ---- answers from c-ares ---- */

static int
addr_seen(const union dns_addr *a, size_t n, const union dns_addr *x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (a[i].sa.sa_family != x->sa.sa_family)
			continue;
		if (x->sa.sa_family == AF_INET ?
		    a[i].in.sin_addr.s_addr == x->in.sin_addr.s_addr :
		    memcmp(&a[i].in6.sin6_addr, &x->in6.sin6_addr, 16) == 0)
			return 1;
	}
	return 0;
}

/* Copy the answer's addresses of one family, without duplicates. */
static size_t
collect_family(const struct ares_addrinfo *res, int family,
    union dns_addr *out, size_t n, uint32_t *ttl)
{
	const struct ares_addrinfo_node *nd;
	union dns_addr a;

	for (nd = res->nodes; nd && n < SL_DNS_MAX_ADDRS; nd = nd->ai_next) {
		if (nd->ai_family != family || nd->ai_addr == NULL)
			continue;
		memset(&a, 0, sizeof(a));
		if (family == AF_INET &&
		    nd->ai_addrlen >= sizeof(struct sockaddr_in))
			memcpy(&a.in, nd->ai_addr, sizeof(a.in));
		else if (family == AF_INET6 &&
		    nd->ai_addrlen >= sizeof(struct sockaddr_in6))
			memcpy(&a.in6, nd->ai_addr, sizeof(a.in6));
		else
			continue;
		a.in.sin_port = 0;	/* same offset in both */
		if (addr_seen(out, n, &a))
			continue;
		out[n++] = a;
		/* /etc/hosts answers carry no TTL: 0, never cached. */
		if (nd->ai_ttl <= 0)
			*ttl = 0;
		else if ((uint32_t)nd->ai_ttl < *ttl)
			*ttl = (uint32_t)nd->ai_ttl;
	}
	return n;
}

static size_t
collect(const struct ares_addrinfo *res, union dns_addr *out, uint32_t *ttl)
{
	const struct ares_addrinfo_cname *cn;
	size_t n;

	*ttl = SL_DNS_TTL_MAX;
	n = collect_family(res, AF_INET, out, 0, ttl);
	n = collect_family(res, AF_INET6, out, n, ttl);
	/* The answer is only as fresh as the CNAMEs that led to it. */
	for (cn = res->cnames; cn; cn = cn->next)
		if (cn->ttl >= 0 && (uint32_t)cn->ttl < *ttl)
			*ttl = (uint32_t)cn->ttl;
	return n;
}

static void
dns_gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct sl_dns_query *q = arg;
	struct sl_dns *dns = q->dns;
	union dns_addr a[SL_DNS_MAX_ADDRS];
	uint32_t ttl = 0;
	size_t n = 0;

	(void)timeouts;
	dns->pending--;
	if (status == ARES_SUCCESS && res != NULL)
		n = collect(res, a, &ttl);
	if (status == ARES_SUCCESS && n == 0)
		status = ARES_ENODATA;
	if (res)
		ares_freeaddrinfo(res);
	if (!dns->dying) {
		/* Cached even when cancelled: the next asker profits. */
		cache_put(dns, q->name, q->family, a, n, ttl);
		if (!q->cancelled)
			deliver(q->cb, q->arg, status, a, n, q->port);
	}
	/* sl_dns_resolve() frees what was answered before it returned. */
	if (q->in_resolve)
		q->done = 1;
	else
		free(q);
}

/* ---- public ---- */

struct sl_dns_query *
sl_dns_resolve(struct sl_dns *dns, const char *name, uint16_t port,
    int family, sl_dns_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct sl_dns_query *q;
	struct cache_ent *e;
	size_t len;

	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
		fail(cb, arg, ARES_EBADFAMILY);
		return NULL;
	}
	if (name == NULL || *name == '\0') {
		fail(cb, arg, ARES_EBADNAME);
		return NULL;
	}
	if (resolve_literal(name, port, family, cb, arg) ||
	    resolve_localhost(name, port, family, cb, arg))
		return NULL;
	if ((e = cache_get(dns, name, family)) != NULL) {
		deliver(cb, arg, ARES_SUCCESS, e->addrs, e->n, port);
		return NULL;
	}
	len = strlen(name);
	if ((q = calloc(1, sizeof(*q) + len + 1)) == NULL) {
		fail(cb, arg, ARES_ENOMEM);
		return NULL;
	}
	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->port = port;
	q->family = family;
	memcpy(q->name, name, len + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	/* We order the answer ourselves (IPv4 first); c-ares' RFC 6724
	 * sort would connect() a probe socket per address. */
	hints.ai_flags = ARES_AI_NOSORT;
	if (dns->env_hosts)
		hints.ai_flags |= ARES_AI_ENVHOSTS;

	dns->pending++;
	q->in_resolve = 1;
	dns_enter(dns);
	ares_getaddrinfo(dns->channel, name, NULL, &hints, dns_gai_cb, q);
	q->in_resolve = 0;
	if (q->done) {
		free(q);
		q = NULL;
	}
	/* Torn down by a callback in there: q went with it. */
	if (dns_leave(dns))
		return NULL;
	return q;
}

void
sl_dns_cancel(struct sl_dns *dns, struct sl_dns_query *q)
{
	(void)dns;
	if (q != NULL)
		q->cancelled = 1;
}

size_t
sl_dns_pending(const struct sl_dns *dns)
{
	return dns->pending;
}

static size_t
pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p *= 2;
	return p;
}

static int
dns_init_channel(struct sl_dns *dns, const struct sl_dns_opts *o)
{
	struct ares_options ao;
	int mask = ARES_OPT_SOCK_STATE_CB, rc;

	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = dns_sock_state;
	ao.sock_state_cb_data = dns;
	if (o && o->timeout_ms > 0) {
		ao.timeout = o->timeout_ms;
		mask |= ARES_OPT_TIMEOUTMS;
	}
	if (o && o->tries > 0) {
		ao.tries = o->tries;
		mask |= ARES_OPT_TRIES;
	}
	if ((rc = ares_init_options(&dns->channel, &ao, mask)) != ARES_SUCCESS)
		return rc;
	if (o && o->servers &&
	    (rc = ares_set_servers_ports_csv(dns->channel, o->servers)) !=
	    ARES_SUCCESS) {
		ares_destroy(dns->channel);
		return rc;
	}
	return ARES_SUCCESS;
}

struct sl_dns *
sl_dns_new_opts(struct sl_loop *loop, const struct sl_dns_opts *o,
    const char **err)
{
	struct sl_dns *dns;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		goto fail;
	rc = ARES_ENOMEM;
	if ((dns = calloc(1, sizeof(*dns))) == NULL)
		goto fail_lib;
	dns->loop = loop;
	dns->env_hosts = o && o->env_hosts;
	dns->cache_max = o && o->cache_max ? o->cache_max : SL_DNS_CACHE_MAX;
	dns->nbuckets = pow2_at_least(dns->cache_max);
	sl_timer_init(&dns->timer, dns_timer_cb, dns);
	if ((dns->buckets = calloc(dns->nbuckets, sizeof(*dns->buckets))) ==
	    NULL)
		goto fail_dns;
	if ((rc = dns_init_channel(dns, o)) != ARES_SUCCESS)
		goto fail_dns;
	return dns;

fail_dns:
	free(dns->buckets);
	free(dns);
fail_lib:
	ares_library_cleanup();
fail:
	if (err)
		*err = ares_strerror(rc);
	return NULL;
}

struct sl_dns *
sl_dns_new_servers(struct sl_loop *loop, const char *servers_csv,
    const char **err)
{
	struct sl_dns_opts o = { .servers = servers_csv };

	return sl_dns_new_opts(loop, &o, err);
}

struct sl_dns *
sl_dns_new(struct sl_loop *loop, const char **err)
{
	return sl_dns_new_opts(loop, NULL, err);
}

static void
dns_destroy(struct sl_dns *dns)
{
	dns->dying = 1;
	/* Ends every query (dns_gai_cb frees them, silently) and closes
	 * every socket (dns_sock_state drops their handlers). */
	ares_destroy(dns->channel);
	while (dns->socks)
		dns_sock_drop(dns, &dns->socks);
	sl_timer_del(dns->loop, &dns->timer);
	sl_dns_cache_flush(dns);
	free(dns->buckets);
	free(dns);
	ares_library_cleanup();
}

void
sl_dns_free(struct sl_dns *dns)
{
	if (dns == NULL)
		return;
	dns->dying = 1;
	if (dns->depth == 0)
		dns_destroy(dns);
}
