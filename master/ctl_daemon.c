/*
 * ctl_daemon: sluicectl's commands for a running sluiced, over its control
 * socket (master/ctlsrv.c): reload, status [--json], stop [--fast]; and
 * the one request/answer exchange other commands use too (sl_ctl_ask).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/ctl.h"

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Everything the daemon says until it closes (NUL-terminated, malloc'd),
 * or NULL on a timeout or error. */
static char *
ctl_read_all(int fd, int timeout_ms)
{
	long long end = mono_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	while (buf != NULL) {
		long long left = end - mono_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (len + 1 == cap) {
			if ((nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		if ((n = read(fd, buf + len, cap - 1 - len)) == 0) {
			buf[len] = '\0';
			return buf;
		}
		if (n < 0 && errno != EINTR)
			break;
		len += n > 0 ? (size_t)n : 0;
	}
	free(buf);
	return NULL;
}

char *
sl_ctl_ask(const char *sock, const char *cmd, int timeout_ms, int *reached)
{
	char line[64], *ans = NULL;
	int fd;

	*reached = 0;
	if ((fd = ctl_connect(sock)) == -1)
		return NULL;
	*reached = 1;
	snprintf(line, sizeof(line), "%s\n", cmd);
	if (write(fd, line, strlen(line)) == (ssize_t)strlen(line))
		ans = ctl_read_all(fd, timeout_ms);
	close(fd);
	return ans;
}

const char *
sl_ctl_body(const char *ans, int *ok)
{
	const char *nl = strchr(ans, '\n');

	*ok = strncmp(ans, "ok\n", 3) == 0;
	return nl != NULL ? nl + 1 : NULL;
}

/* Send CMD, wait for the whole answer; print it; 0 for "ok", 1 for
 * "error", 2 when the daemon cannot be reached. */
static int
ctl_run(const char *sock, const char *cmd, int timeout_ms)
{
	const char *body;
	char *ans;
	int reached, ok;

	if ((ans = sl_ctl_ask(sock, cmd, timeout_ms, &reached)) == NULL) {
		if (!reached)
			fprintf(stderr, "sluicectl: cannot reach sluiced at "
			    "%s: %s\n", sock, strerror(errno));
		else
			fprintf(stderr, "sluicectl: %s: no answer from sluiced "
			    "at %s\n", cmd, sock);
		return 2;
	}
	if ((body = sl_ctl_body(ans, &ok)) == NULL) {
		fprintf(stderr, "sluicectl: %s: sluiced closed the connection\n",
		    cmd);
		free(ans);
		return 2;
	}
	fputs(body, ok ? stdout : stderr);
	free(ans);
	return ok ? 0 : 1;
}

int
sl_ctl_daemon(const char *sock, int stop_wait_s, int argc, char **argv)
{
	const char *cmd = argv[0];
	int json = 0, fast = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(cmd, "status") == 0 && strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(cmd, "stop") == 0 &&
		    strcmp(argv[i], "--fast") == 0)
			fast = 1;
		else {
			fprintf(stderr, "sluicectl: %s: unexpected argument "
			    "%s\n", cmd, argv[i]);
			return 2;
		}
	}
	if (strcmp(cmd, "reload") == 0)
		return ctl_run(sock, "reload", 120000);
	if (strcmp(cmd, "status") == 0)
		return ctl_run(sock, json ? "status json" : "status", 10000);
	return ctl_run(sock, fast ? "stop fast" : "stop",
	    (stop_wait_s + 15) * 1000);
}
