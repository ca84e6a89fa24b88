/*
 * test_observer: the observer process end to end (worker/observer.c,
 * worker/probe.c through worker/proxyclient.c, shm/observe.c).
 *
 * tests/unit/observer_peers.py runs real peers on 127.0.0.1 (an HTTP and an
 * HTTPS origin, a SOCKS5 proxy with RFC 1929 auth, an HTTP CONNECT proxy
 * with Basic auth, a silent port, a dead port) and logs what reaches them.
 * Each test builds an image by hand, forks sl_observer_run() on it and a
 * fresh region, and reads the region as a worker would until the expected
 * observation appears (or a deadline passes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/boot.h"
#include "shm/image.h"
#include "shm/log.h"
#include "shm/observe.h"
#include "shm/types.h"
#include "tests/unit/helpers.h"

#define DEADLINE_MS	15000

static struct {
	pid_t	 pid;
	int	 in;		/* its stdin: closing it stops the peers */
	int	 http, https, socks, connect, silent, dead;
	char	 ca[512], log[512];
} peers;

/* ---- the peers ---- */

static int
json_int(const char *j, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(j, k);
	return p ? atoi(p + strlen(k)) : -1;
}

static void
json_str(const char *j, const char *key, char *out, size_t cap)
{
	char k[64];
	const char *p, *e;

	snprintf(k, sizeof(k), "\"%s\": \"", key);
	out[0] = '\0';
	if ((p = strstr(j, k)) == NULL)
		return;
	p += strlen(k);
	if ((e = strchr(p, '"')) != NULL && (size_t)(e - p) < cap) {
		memcpy(out, p, (size_t)(e - p));
		out[e - p] = '\0';
	}
}

static int
peers_start(void **state)
{
	char script[512], line[2048], src[] = __FILE__;
	int in[2], out[2];
	size_t len = 0;
	ssize_t n;

	(void)state;
	snprintf(script, sizeof(script), "%s/observer_peers.py", dirname(src));
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		return -1;
	if ((peers.pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	peers.in = in[1];
	/* One JSON line: the ports. */
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		struct pollfd pfd = { out[0], POLLIN, 0 };

		if (poll(&pfd, 1, 20000) != 1 ||
		    (n = read(out[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = '\0';
	close(out[0]);
	peers.http = json_int(line, "http");
	peers.https = json_int(line, "https");
	peers.socks = json_int(line, "socks");
	peers.connect = json_int(line, "connect");
	peers.silent = json_int(line, "silent");
	peers.dead = json_int(line, "dead");
	json_str(line, "ca", peers.ca, sizeof(peers.ca));
	json_str(line, "log", peers.log, sizeof(peers.log));
	if (peers.http <= 0 || peers.dead <= 0 || peers.log[0] == '\0') {
		fprintf(stderr, "observer_peers.py did not start: \"%s\"\n",
		    line);
		return -1;
	}
	/* The observer's TLS client trusts the peers' CA only. */
	setenv("SSL_CERT_FILE", peers.ca, 1);
	setenv("SSL_CERT_DIR", "/nonexistent", 1);
	return 0;
}

static int
peers_stop(void **state)
{
	int st;

	(void)state;
	close(peers.in);
	for (int i = 0; i < 100; i++) {
		if (waitpid(peers.pid, &st, WNOHANG) == peers.pid)
			return 0;
		usleep(50000);
	}
	kill(peers.pid, SIGKILL);
	waitpid(peers.pid, &st, 0);
	return 0;
}

/* Whether the peers' log has a line containing s. */
static int
peer_log_has(const char *s)
{
	char line[1024];
	FILE *f = fopen(peers.log, "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

/* ---- images ---- */

enum { DIRECT, FREE, SOCKS, HTTP, SOCKS_DEAD, SOCKS_BADPW, HOLE, SILENT,
	HTTP_NOAUTH, NOUT };

static const struct {
	const char	*tag;
	uint8_t		 proto;
	const char	*user, *pass;
} outs[NOUT] = {
	[DIRECT] = { "direct", SL_IMG_OUT_FREEDOM, NULL, NULL },
	[FREE] = { "a-free", SL_IMG_OUT_FREEDOM, NULL, NULL },
	[SOCKS] = { "b-socks", SL_IMG_OUT_SOCKS, "u", "p" },
	[HTTP] = { "c-http", SL_IMG_OUT_HTTP, "u", "p" },
	[SOCKS_DEAD] = { "d-socks-dead", SL_IMG_OUT_SOCKS, "u", "p" },
	[SOCKS_BADPW] = { "e-socks-badpw", SL_IMG_OUT_SOCKS, "u", "x" },
	[HOLE] = { "f-hole", SL_IMG_OUT_BLACKHOLE, NULL, NULL },
	[SILENT] = { "g-http-silent", SL_IMG_OUT_HTTP, NULL, NULL },
	[HTTP_NOAUTH] = { "h-http-noauth", SL_IMG_OUT_HTTP, NULL, NULL },
};

static int
proxy_port(int i)
{
	switch (i) {
	case SOCKS:
	case SOCKS_BADPW:
		return peers.socks;
	case HTTP:
	case HTTP_NOAUTH:
		return peers.connect;
	case SOCKS_DEAD:
		return peers.dead;
	case SILENT:
		return peers.silent;
	}
	return 0;
}

static void
add_outbounds(struct sl_img_builder *b)
{
	for (int i = 0; i < NOUT; i++) {
		struct sl_img_outbound o;
		int port = proxy_port(i);

		memset(&o, 0, sizeof(o));
		o.tag = sl_imgb_cstr(b, outs[i].tag);
		o.protocol = outs[i].proto;
		o.send_through = 0;	/* none */
		o.user = sl_imgb_cstr(b, outs[i].user);
		o.pass = sl_imgb_cstr(b, outs[i].pass);
		if (port != 0) {
			struct sl_img_addr a;
			struct sockaddr_in sin = { .sin_family = AF_INET,
			    .sin_port = htons((uint16_t)port),
			    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

			memset(&a, 0, sizeof(a));
			a.len = sizeof(sin);
			memcpy(a.sa, &sin, sizeof(sin));
			o.server_addrs_first = sl_imgb_add(b, SL_SECT_ADDRS, &a,
			    sizeof(a));
			o.server_addrs_count = 1;
		}
		sl_imgb_add(b, SL_SECT_OUTBOUNDS, &o, sizeof(o));
	}
}

struct obs_spec {
	uint32_t	 kind;
	const int	*subjects;
	uint32_t	 nsubjects;
	char		 url[256], connectivity[256];
	const char	*method;
	uint32_t	 interval_ms, sampling, timeout_ms, concurrent;
};

static void
add_observer(struct sl_img_builder *b, const struct obs_spec *s)
{
	struct sl_img_observer r;

	memset(&r, 0, sizeof(r));
	r.kind = s->kind;
	r.subjects_first = sl_imgb_count(b, SL_SECT_U32, sizeof(uint32_t));
	for (uint32_t i = 0; i < s->nsubjects; i++) {
		uint32_t v = (uint32_t)s->subjects[i];

		sl_imgb_add(b, SL_SECT_U32, &v, sizeof(v));
	}
	r.subjects_count = s->nsubjects;
	r.url = sl_imgb_cstr(b, s->url);
	r.connectivity = sl_imgb_cstr(b, s->connectivity);
	r.method = sl_imgb_cstr(b, s->method);
	r.interval_ms = s->interval_ms;
	r.sampling = s->sampling;
	r.timeout_ms = s->timeout_ms;
	r.concurrent = s->concurrent;
	sl_imgb_add(b, SL_SECT_OBSERVERS, &r, sizeof(r));
}

/* A sealed image with these observers; returns its fd. */
static int
image_fd(const struct obs_spec *specs, int n)
{
	struct sl_img_builder b;
	uint8_t *buf;
	size_t len;
	int fd;

	sl_imgb_init(&b);
	b.globals.loglevel = SL_LOGL_ERROR;
	sl_imgb_add(&b, SL_SECT_LEVELS, &(struct sl_img_level){ 0 },
	    sizeof(struct sl_img_level));
	sl_imgb_add(&b, SL_SECT_IPSETS, &(struct sl_img_ipset){ 0 },
	    sizeof(struct sl_img_ipset));
	add_outbounds(&b);
	for (int i = 0; i < n; i++)
		add_observer(&b, &specs[i]);
	assert_int_equal(sl_imgb_finish(&b, 1, &buf, &len), 0);
	sl_imgb_free(&b);
	fd = sl_img_seal(buf, len);
	free(buf);
	assert_true(fd >= 0);
	return fd;
}

/* ---- the observer process ---- */

struct run {
	pid_t			 pid;
	int			 img_fd, rw_fd, ro_fd;
	struct sl_obs_region	 r;	/* read-only, as a worker maps it */
};

static void
run_start(struct run *x, const struct obs_spec *specs, int n)
{
	const char *err = NULL;

	x->img_fd = image_fd(specs, n);
	x->rw_fd = sl_obs_create((uint32_t)n, NOUT, 1, &x->ro_fd, &err);
	assert_true(x->rw_fd >= 0);
	assert_int_equal(sl_obs_map(x->ro_fd, 0, &x->r, &err), 0);
	fflush(NULL);
	if ((x->pid = fork()) == 0) {
		struct sl_boot boot = {
			.slot = -1, .image_fd = x->img_fd, .generation = 1,
			.log_fd = -1, .obs_fd = x->rw_fd,
		};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sl_log_ident("observer");
		exit(sl_observer_run(&boot));
	}
	assert_true(x->pid > 0);
}

/* Stop it as the master does (TERM): it must exit cleanly (status 0;
 * under ASan a leak would make it non-zero). */
static void
run_stop(struct run *x)
{
	int st = 0;

	kill(x->pid, SIGTERM);
	assert_int_equal(waitpid(x->pid, &st, 0), x->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	sl_obs_unmap(&x->r);
	close(x->img_fd);
	close(x->rw_fd);
	close(x->ro_fd);
}

static struct sl_obs_status
get(struct run *x, uint32_t obs, int out)
{
	struct sl_obs_status s;

	sl_obs_read(&x->r, obs, (uint32_t)out, &s);
	return s;
}

typedef int (*pred)(struct run *);

static void
wait_for(struct run *x, pred p, const char *what)
{
	uint64_t end = th_now_ms() + DEADLINE_MS;

	while (!p(x)) {
		if (th_now_ms() > end)
			fail_msg("timed out waiting for %s", what);
		usleep(20000);
	}
}

/* ---- observatory + burstObservatory, all outbound kinds ---- */

static const int plain_subjects[] = { FREE, SOCKS, HTTP, SOCKS_DEAD,
	SOCKS_BADPW, HOLE, SILENT, HTTP_NOAUTH };
static const int burst_subjects[] = { SOCKS_DEAD, HTTP, SOCKS, FREE };

static int
all_known(struct run *x)
{
	for (size_t i = 0; i < SL_ARRAY_LEN(plain_subjects); i++)
		if (!get(x, 0, plain_subjects[i]).known)
			return 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(burst_subjects); i++)
		if (get(x, 1, burst_subjects[i]).all < 2)
			return 0;
	return 1;
}

static void
expect_plain_alive(struct run *x, int out)
{
	struct sl_obs_status s = get(x, 0, out);

	assert_true(s.known);
	assert_true(s.alive);
	assert_false(s.health);
	/* the origin waits 30 ms; a probe has 800 ms */
	assert_in_range(s.delay_ms, 30, 799);
	assert_true(s.last_seen > 0);
	assert_int_equal(s.last_seen, s.last_try);
}

static void
expect_plain_dead(struct run *x, int out)
{
	struct sl_obs_status s = get(x, 0, out);

	assert_true(s.known);
	assert_false(s.alive);
	assert_int_equal(s.delay_ms, 99999999);
	assert_int_equal(s.last_seen, 0);
	assert_true(s.last_try > 0);
}

/* TIMEOUT_MS: the burstObservatory's; a sample that succeeded came first. */
static void
expect_burst_alive(struct run *x, int out, uint32_t timeout_ms)
{
	struct sl_obs_status s = get(x, 1, out);

	assert_true(s.known);
	assert_true(s.alive);
	assert_true(s.health);
	assert_true(s.all >= 2);
	assert_int_equal(s.fail, 0);
	assert_true(s.min_us > 0);
	assert_true(s.min_us <= s.avg_us && s.avg_us <= s.max_us);
	assert_int_equal(s.delay_ms, (int64_t)(s.avg_us / 1000));
	assert_true(s.max_us < (uint64_t)timeout_ms * 1000);
}

static void
test_all_kinds(void **state)
{
	struct obs_spec specs[2] = {
		{ .kind = SL_IMG_OBS_PLAIN, .subjects = plain_subjects,
		  .nsubjects = SL_ARRAY_LEN(plain_subjects), .method = "GET",
		  .interval_ms = 100, .sampling = 1, .timeout_ms = 800,
		  .concurrent = 1 },
		{ .kind = SL_IMG_OBS_BURST, .subjects = burst_subjects,
		  .nsubjects = SL_ARRAY_LEN(burst_subjects), .method = "GET",
		  .interval_ms = 100, .sampling = 3, .timeout_ms = 2000 },
	};
	struct sl_obs_status s;
	struct run x;
	char want[300];

	(void)state;
	snprintf(specs[0].url, sizeof(specs[0].url),
	    "http://localhost:%d/generate_204?delay=30", peers.http);
	snprintf(specs[1].url, sizeof(specs[1].url),
	    "https://localhost:%d/body", peers.https);
	snprintf(specs[1].connectivity, sizeof(specs[1].connectivity),
	    "http://127.0.0.1:%d/connectivity", peers.http);
	run_start(&x, specs, 2);
	wait_for(&x, all_known, "every subject observed");

	expect_plain_alive(&x, FREE);
	expect_plain_alive(&x, SOCKS);
	expect_plain_alive(&x, HTTP);
	expect_plain_dead(&x, SOCKS_DEAD);	/* connection refused */
	expect_plain_dead(&x, SOCKS_BADPW);	/* RFC 1929 status 1 */
	expect_plain_dead(&x, HOLE);
	expect_plain_dead(&x, SILENT);		/* 800 ms timeout */
	expect_plain_dead(&x, HTTP_NOAUTH);	/* 407 */
	/* Not a subject: never written. */
	assert_false(get(&x, 0, DIRECT).known);
	assert_false(get(&x, 1, SOCKS_BADPW).known);

	expect_burst_alive(&x, FREE, specs[1].timeout_ms);
	expect_burst_alive(&x, SOCKS, specs[1].timeout_ms);
	expect_burst_alive(&x, HTTP, specs[1].timeout_ms);
	/* The connectivity URL works: failures are samples, all failed. */
	s = get(&x, 1, SOCKS_DEAD);
	assert_true(s.known);
	assert_false(s.alive);
	assert_true(s.all >= 2);
	assert_int_equal(s.all, s.fail);
	assert_int_equal(s.avg_us, 0);

	for (int i = FREE; i <= HTTP; i++) {
		struct sl_obs_status p = get(&x, 0, i), q = get(&x, 1, i);

		print_message("%-8s observatory %lld ms; burst all %u avg %llu "
		    "dev %llu min %llu max %llu us\n", outs[i].tag,
		    (long long)p.delay_ms, q.all,
		    (unsigned long long)q.avg_us, (unsigned long long)q.dev_us,
		    (unsigned long long)q.min_us, (unsigned long long)q.max_us);
	}

	/* What reached the peers: the proxies got the URL's host as a
	 * domain, with the right credentials; the origins the request. */
	snprintf(want, sizeof(want), "socks connect atyp=3 localhost:%d",
	    peers.http);
	assert_true(peer_log_has(want));
	snprintf(want, sizeof(want), "socks connect atyp=3 localhost:%d",
	    peers.https);
	assert_true(peer_log_has(want));
	snprintf(want, sizeof(want), "connect CONNECT localhost:%d auth=True",
	    peers.http);
	assert_true(peer_log_has(want));
	snprintf(want, sizeof(want), "connect CONNECT localhost:%d auth=False",
	    peers.http);
	assert_true(peer_log_has(want));
	assert_true(peer_log_has("socks auth-failed user=u"));
	snprintf(want, sizeof(want), "http GET /generate_204?delay=30 "
	    "host=localhost:%d", peers.http);
	assert_true(peer_log_has(want));
	snprintf(want, sizeof(want), "https GET /body host=localhost:%d",
	    peers.https);
	assert_true(peer_log_has(want));
	assert_true(peer_log_has("http GET /connectivity"));
	run_stop(&x);
}

/* ---- burst: network down, samples dropped ---- */

static const int down_subjects[] = { FREE, SOCKS_DEAD };

static int
free_sampled(struct run *x)
{
	return get(x, 0, FREE).all == 2;	/* the ring holds `sampling` */
}

static void
test_network_down(void **state)
{
	struct obs_spec spec = {
		.kind = SL_IMG_OBS_BURST, .subjects = down_subjects,
		.nsubjects = 2, .method = "HEAD", .interval_ms = 100,
		.sampling = 2, .timeout_ms = 1000,
	};
	struct sl_obs_status s;
	struct run x;

	(void)state;
	snprintf(spec.url, sizeof(spec.url), "http://127.0.0.1:%d/head",
	    peers.http);
	snprintf(spec.connectivity, sizeof(spec.connectivity),
	    "http://127.0.0.1:%d/", peers.dead);
	run_start(&x, &spec, 1);
	wait_for(&x, free_sampled, "two samples of a-free");
	usleep(500000);		/* two more periods of failed pings */
	s = get(&x, 0, FREE);
	assert_true(s.alive);
	assert_int_equal(s.fail, 0);
	/* Every failure of the dead one was dropped: never observed, so
	 * random and roundRobin still count it alive. */
	assert_false(get(&x, 0, SOCKS_DEAD).known);
	assert_true(peer_log_has("http HEAD /head"));
	run_stop(&x);
}

/* ---- observatory: tag order, one at a time; TLS verification ---- */

static const int seq_subjects[] = { HTTP, FREE };	/* not in tag order */

static int
any_known(struct run *x)
{
	return get(x, 0, FREE).known || get(x, 0, HTTP).known;
}

static int
both_known(struct run *x)
{
	return get(x, 0, FREE).known && get(x, 0, HTTP).known;
}

static void
test_sequential_tls_verify(void **state)
{
	struct obs_spec spec = {
		.kind = SL_IMG_OBS_PLAIN, .subjects = seq_subjects,
		.nsubjects = 2, .method = "GET", .interval_ms = 700,
		.sampling = 1, .timeout_ms = 2000,
	};
	struct run x;
	uint64_t t0;
	char want[128];

	(void)state;
	/* The certificate names localhost, not 127.0.0.1. */
	snprintf(spec.url, sizeof(spec.url), "https://127.0.0.1:%d/ipurl",
	    peers.https);
	run_start(&x, &spec, 1);
	t0 = th_now_ms();
	wait_for(&x, any_known, "the first probe");
	/* "a-free" sorts first; "c-http" waits one probeInterval. */
	assert_true(get(&x, 0, FREE).known);
	assert_false(get(&x, 0, HTTP).known);
	wait_for(&x, both_known, "the second probe");
	assert_true(th_now_ms() - t0 >= 600);
	expect_plain_dead(&x, FREE);
	expect_plain_dead(&x, HTTP);
	/* The handshake failed: no request ever reached the origin. */
	assert_false(peer_log_has("/ipurl"));
	snprintf(want, sizeof(want), "connect CONNECT 127.0.0.1:%d auth=True",
	    peers.https);
	assert_true(peer_log_has(want));
	run_stop(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_kinds),
		cmocka_unit_test(test_network_down),
		cmocka_unit_test(test_sequential_tls_verify),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, peers_start, peers_stop);
}
