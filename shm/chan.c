/* chan: master <-> worker messages with descriptors (see chan.h). */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shm/chan.h"

int
sl_chan_send(int fd, const struct sl_chan_msg *m, const int *fds)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int) * SL_CHAN_MAXFDS)];
	} u;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (m->nfds > SL_CHAN_MAXFDS) {
		errno = EINVAL;
		return -1;
	}
	if (m->nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * m->nfds);
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*m) ? 0 : -1;
}

/* Take the descriptors of C: up to ROOM into fds, close the rest.
 * Returns how many were kept. */
static uint32_t
take_fds(struct cmsghdr *c, int *fds, uint32_t room)
{
	size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	uint32_t kept = 0;
	int fd;

	for (size_t i = 0; i < n; i++) {
		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		if (kept < room)
			fds[kept++] = fd;
		else
			close(fd);
	}
	return kept;
}

int
sl_chan_recv(int fd, struct sl_chan_msg *m, int *fds)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	uint32_t got = 0;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			got += take_fds(c, fds + got, SL_CHAN_MAXFDS - got);
	if (n != (ssize_t)sizeof(*m) || got != m->nfds) {
		for (uint32_t i = 0; i < got; i++)
			close(fds[i]);
		return -1;
	}
	m->text[sizeof(m->text) - 1] = '\0';
	return 1;
}
