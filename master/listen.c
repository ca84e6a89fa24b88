/* listen: SO_REUSEPORT listening sockets held by the master. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/listen.h"
#include "shm/log.h"

static int
make_addr(const char *host, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static int
open_socket(const struct sl_conf_inbound *in, const char **why)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, zero = 0;
	/* Go (and so Xray) listens on both families for 0.0.0.0. */
	const char *host = strcmp(in->listen, "0.0.0.0") == 0 ? "::" :
	    in->listen;

	if (make_addr(host, in->port, &ss, &len) == -1) {
		*why = "listen is not an IP address";
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		*why = "socket";
		return -1;
	}
	/* The master, not the worker, owns the socket: each worker gets the
	 * fd of its slot at fork (FD_CLOEXEC is cleared then, never here). */
	/* TCP_NODELAY is inherited by accepted sockets: one setsockopt
	 * here instead of one per connection in the workers. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
		*why = "setsockopt";
		goto fail;
	}
	if (ss.ss_family == AF_INET6 && strcmp(in->listen, "0.0.0.0") == 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
		*why = "setsockopt";
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		*why = "bind";
		goto fail;
	}
	if (listen(fd, 4096) == -1) {
		*why = "listen";
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static struct sl_listen_sock *
find(struct sl_listen_set *ls, const char *key, int slot)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->socks[i].fd >= 0 && ls->socks[i].slot == slot &&
		    strcmp(ls->socks[i].key, key) == 0)
			return &ls->socks[i];
	return NULL;
}

static struct sl_listen_sock *
add(struct sl_listen_set *ls, const char *key, int slot, int fd)
{
	struct sl_listen_sock *s;

	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;

		s = realloc(ls->socks, cap * sizeof(*s));
		if (s == NULL)
			return NULL;
		ls->socks = s;
		ls->cap = cap;
	}
	s = &ls->socks[ls->n++];
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->slot = slot;
	s->fd = fd;
	s->used = 1;
	return s;
}

int
sl_listen_update(struct sl_listen_set *ls, const struct sl_conf *cf,
    int slots, struct sl_boot_listener *out, struct sl_errors *errs)
{
	size_t first_new = ls->n, k = 0;
	int rc = 0;

	for (size_t i = 0; i < ls->n; i++)
		ls->socks[i].used = 0;
	for (int slot = 0; slot < slots; slot++) {
		for (size_t i = 0; i < cf->ninbounds; i++) {
			const struct sl_conf_inbound *in = &cf->inbounds[i];
			struct sl_listen_sock *s;
			const char *why = "";
			char key[80];
			int fd;

			snprintf(key, sizeof(key), "%s|%d", in->listen,
			    in->port);
			if ((s = find(ls, key, slot)) == NULL) {
				if ((fd = open_socket(in, &why)) == -1) {
					sl_errors_add(errs, &in->where,
					    "listen %s:%d: %s: %s", in->listen,
					    in->port, why, strerror(errno));
					rc = -1;
					continue;
				}
				if ((s = add(ls, key, slot, fd)) == NULL) {
					close(fd);
					rc = -1;
					continue;
				}
			}
			s->used = 1;
			out[k].fd = s->fd;
			out[k++].inbound = (uint32_t)i;
		}
	}
	if (rc == -1) {
		/* Leave the running generation exactly as it was. */
		for (size_t i = first_new; i < ls->n; i++)
			close(ls->socks[i].fd);
		ls->n = first_new;
		for (size_t i = 0; i < ls->n; i++)
			ls->socks[i].used = 1;
	}
	return rc;
}

size_t
sl_listen_prune(struct sl_listen_set *ls)
{
	size_t o = 0, closed = 0;

	for (size_t i = 0; i < ls->n; i++) {
		if (ls->socks[i].used)
			ls->socks[o++] = ls->socks[i];
		else {
			close(ls->socks[i].fd);
			closed++;
		}
	}
	ls->n = o;
	return closed;
}

int
sl_listen_migrates(void)
{
	char c = '0';
	int fd = open("/proc/sys/net/ipv4/tcp_migrate_req", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

void
sl_listen_close_all(struct sl_listen_set *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		close(ls->socks[i].fd);
	free(ls->socks);
	memset(ls, 0, sizeof(*ls));
}
