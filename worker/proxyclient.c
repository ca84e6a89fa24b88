/*
 * proxyclient: SOCKS5 (RFC 1928, RFC 1929) and HTTP CONNECT client
 * handshakes as incremental state machines over caller-supplied bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "worker/conn.h"
#include "worker/proxyclient.h"

enum {
	S_GREETING,	/* SOCKS5: waiting for the method choice */
	S_AUTH,		/* SOCKS5: waiting for the RFC 1929 status */
	S_REPLY,	/* SOCKS5: waiting for the CONNECT reply */
	S_STATUS,	/* HTTP: reading the status line */
	S_HEADER,	/* HTTP: skipping header lines */
	S_DONE,
	S_FAILED
};

#define SOCKS5_VER		5
#define SOCKS5_NOAUTH		0x00
#define SOCKS5_USERPASS		0x02
#define SOCKS5_CONNECT		1
#define SOCKS5_ATYP_V4		1
#define SOCKS5_ATYP_DOMAIN	3
#define SOCKS5_ATYP_V6		4
#define HTTP_HEADER_MAX		(1u << 20)	/* a proxy that never ends */

static int	fail(struct sl_pxc *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static int
fail(struct sl_pxc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->state = S_FAILED;
	return SL_ERROR;
}

static void
put(struct sl_pxc *p, const void *b, size_t n)
{
	/* Callers size their messages below SL_PXC_OUT_MAX. */
	memcpy(p->out + p->out_len, b, n);
	p->out_len += n;
}

static void
put_byte(struct sl_pxc *p, uint8_t b)
{
	put(p, &b, 1);
}

static void
put_str(struct sl_pxc *p, const char *s)
{
	put(p, s, strlen(s));
}

/* ---- SOCKS5 ---- */

static void
socks_greeting(struct sl_pxc *p)
{
	put_byte(p, SOCKS5_VER);
	put_byte(p, 1);
	put_byte(p, p->user[0] ? SOCKS5_USERPASS : SOCKS5_NOAUTH);
}

static void
socks_auth(struct sl_pxc *p)
{
	put_byte(p, 1);			/* RFC 1929 sub-negotiation version */
	put_byte(p, (uint8_t)strlen(p->user));
	put_str(p, p->user);
	put_byte(p, (uint8_t)strlen(p->pass));
	put_str(p, p->pass);
}

static void
socks_request(struct sl_pxc *p)
{
	const struct sl_target *t = &p->target;
	uint8_t port[2] = { (uint8_t)(t->port >> 8), (uint8_t)t->port };

	put_byte(p, SOCKS5_VER);
	put_byte(p, SOCKS5_CONNECT);
	put_byte(p, 0);
	if (t->atyp == SL_ATYP_IPV4) {
		put_byte(p, SOCKS5_ATYP_V4);
		put(p, t->ip, 4);
	} else if (t->atyp == SL_ATYP_IPV6) {
		put_byte(p, SOCKS5_ATYP_V6);
		put(p, t->ip, 16);
	} else {
		put_byte(p, SOCKS5_ATYP_DOMAIN);
		put_byte(p, (uint8_t)strlen(t->host));
		put_str(p, t->host);
	}
	put(p, port, 2);
}

static const char *
socks_rep_str(uint8_t rep)
{
	static const char *const s[] = {
		"succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused",
		"TTL expired",
		"command not supported",
		"address type not supported",
	};

	return rep < SL_ARRAY_LEN(s) ? s[rep] : "unassigned reply code";
}

/* Length of the CONNECT reply once enough of it is known, else 0. */
static size_t
socks_reply_len(const struct sl_pxc *p, int *bad_atyp)
{
	*bad_atyp = 0;
	if (p->in_len < 4)
		return 0;
	switch (p->in[3]) {
	case SOCKS5_ATYP_V4:
		return 4 + 4 + 2;
	case SOCKS5_ATYP_V6:
		return 4 + 16 + 2;
	case SOCKS5_ATYP_DOMAIN:
		return p->in_len < 5 ? 0 : 4 + 1 + (size_t)p->in[4] + 2;
	}
	*bad_atyp = 1;
	return 0;
}

/* The message in p->in is complete: act on it. */
static int
socks_step(struct sl_pxc *p)
{
	uint8_t want = p->user[0] ? SOCKS5_USERPASS : SOCKS5_NOAUTH;

	switch (p->state) {
	case S_GREETING:
		if (p->in[0] != SOCKS5_VER)
			return fail(p, "SOCKS5 proxy: unexpected version %d",
			    p->in[0]);
		if (p->in[1] != want)
			return fail(p, "SOCKS5 proxy: %s (method %d)",
			    p->in[1] == 0xff ? "no acceptable authentication "
			    "method" : "chose a method not offered", p->in[1]);
		if (want == SOCKS5_USERPASS) {
			socks_auth(p);
			p->state = S_AUTH;
		} else {
			socks_request(p);
			p->state = S_REPLY;
		}
		break;
	case S_AUTH:
		/* RFC 1929 says version 1; some servers echo 5: only the
		 * status matters (as in Xray). */
		if (p->in[1] != 0)
			return fail(p, "SOCKS5 proxy: user name or password "
			    "rejected (status %d)", p->in[1]);
		socks_request(p);
		p->state = S_REPLY;
		break;
	case S_REPLY:
		if (p->in[0] != SOCKS5_VER)
			return fail(p, "SOCKS5 proxy: unexpected version %d",
			    p->in[0]);
		if (p->in[1] != 0)
			return fail(p, "SOCKS5 proxy: %s (reply %d)",
			    socks_rep_str(p->in[1]), p->in[1]);
		p->state = S_DONE;
		return SL_OK;
	}
	p->in_len = 0;
	return SL_AGAIN;
}

static int
socks_input(struct sl_pxc *p, const uint8_t *buf, size_t len, size_t *used)
{
	size_t need;
	int rc, bad;

	for (*used = 0; *used < len; ) {
		p->in[p->in_len++] = buf[(*used)++];
		if (p->state != S_REPLY)
			need = 2;
		else if ((need = socks_reply_len(p, &bad)) == 0) {
			if (bad)
				return fail(p, "SOCKS5 proxy: unknown address "
				    "type %d in its reply", p->in[3]);
			continue;
		}
		if (p->in_len < need)
			continue;
		if ((rc = socks_step(p)) != SL_AGAIN)
			return rc;
	}
	return SL_AGAIN;
}

/* ---- HTTP CONNECT ---- */

static void
http_request(struct sl_pxc *p)
{
	char auth[2 * SL_PXC_CRED_MAX + 2];
	unsigned char b64[4 * ((sizeof(auth) + 2) / 3) + 1];
	char hp[300];

	sl_target_str(&p->target, hp, sizeof(hp));
	put_str(p, "CONNECT ");
	put_str(p, hp);
	put_str(p, " HTTP/1.1\r\nHost: ");
	put_str(p, hp);
	put_str(p, "\r\n");
	if (p->user[0]) {
		int n = snprintf(auth, sizeof(auth), "%s:%s", p->user,
		    p->pass);

		EVP_EncodeBlock(b64, (const unsigned char *)auth, n);
		put_str(p, "Proxy-Authorization: Basic ");
		put_str(p, (const char *)b64);
		put_str(p, "\r\n");
	}
	put_str(p, "\r\n");
}

/* "HTTP/d.d ddd[ reason]" (Go's net/http accepts any 1.x and 2.0). */
static int
http_status_line(struct sl_pxc *p)
{
	const char *l = p->line;

	if (p->line_len >= 1 && p->line[p->line_len - 1] == '\r')
		p->line[--p->line_len] = '\0';
	if (p->line_len < 12 || strncmp(l, "HTTP/", 5) != 0 ||
	    l[5] < '0' || l[5] > '9' || l[6] != '.' || l[7] < '0' ||
	    l[7] > '9' || l[8] != ' ' || l[9] < '0' || l[9] > '9' ||
	    l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (p->line_len > 12 && l[12] != ' '))
		return fail(p, "HTTP proxy: malformed status line \"%.60s\"",
		    l);
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return SL_AGAIN;
}

static int
http_input(struct sl_pxc *p, const uint8_t *buf, size_t len, size_t *used)
{
	for (*used = 0; *used < len; ) {
		uint8_t c = buf[(*used)++];

		if (++p->hdr_bytes > HTTP_HEADER_MAX)
			return fail(p, "HTTP proxy: response header over %u "
			    "bytes", HTTP_HEADER_MAX);
		if (p->state == S_STATUS) {
			if (c != '\n') {
				if (p->line_len < sizeof(p->line) - 1)
					p->line[p->line_len++] = (char)c;
				p->line[p->line_len] = '\0';
				continue;
			}
			if (http_status_line(p) == SL_ERROR)
				return SL_ERROR;
			p->state = S_HEADER;
			p->bol = 1;
			continue;
		}
		/* An empty line ends the header; Go accepts a bare LF. */
		if (c == '\n' && p->bol) {
			p->state = S_DONE;
			if (p->status / 100 != 2)
				return fail(p, "HTTP proxy refused CONNECT: "
				    "\"%.80s\"", p->line);
			return SL_OK;
		}
		p->bol = c == '\n' ? 1 : (c == '\r' && p->bol == 1) ? 2 : 0;
	}
	return SL_AGAIN;
}

/* ---- API ---- */

static int
copy_cred(struct sl_pxc *p, char *dst, const char *src, const char *what)
{
	size_t n = src ? strlen(src) : 0;

	if (n > SL_PXC_CRED_MAX)
		return fail(p, "proxy %s longer than 255 bytes", what);
	memcpy(dst, src ? src : "", n + 1);
	return SL_OK;
}

int
sl_pxc_init(struct sl_pxc *p, int kind, const struct sl_target *t,
    const char *user, const char *pass)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->target = *t;
	p->target.host[sizeof(p->target.host) - 1] = '\0';
	if (copy_cred(p, p->user, user, "user name") == SL_ERROR ||
	    copy_cred(p, p->pass, p->user[0] ? pass : NULL, "password") ==
	    SL_ERROR)
		return SL_ERROR;
	if (t->atyp != SL_ATYP_IPV4 && t->atyp != SL_ATYP_IPV6 &&
	    t->atyp != SL_ATYP_DOMAIN)
		return fail(p, "proxy target: unknown address type %d",
		    t->atyp);
	if (t->atyp == SL_ATYP_DOMAIN && p->target.host[0] == '\0')
		return fail(p, "proxy target: empty domain");
	switch (kind) {
	case SL_PXC_SOCKS5:
		socks_greeting(p);
		p->state = S_GREETING;
		return SL_OK;
	case SL_PXC_HTTP:
		http_request(p);
		p->state = S_STATUS;
		return SL_OK;
	}
	return fail(p, "unknown proxy kind %d", kind);
}

const uint8_t *
sl_pxc_output(const struct sl_pxc *p, size_t *len)
{
	*len = p->out_len - p->out_off;
	return p->out + p->out_off;
}

void
sl_pxc_sent(struct sl_pxc *p, size_t n)
{
	if (n > p->out_len - p->out_off)
		n = p->out_len - p->out_off;
	p->out_off += n;
	if (p->out_off == p->out_len)
		p->out_off = p->out_len = 0;
}

int
sl_pxc_input(struct sl_pxc *p, const uint8_t *buf, size_t len, size_t *used)
{
	*used = 0;
	switch (p->state) {
	case S_DONE:
		return SL_OK;
	case S_FAILED:
		return SL_ERROR;
	}
	if (p->kind == SL_PXC_SOCKS5)
		return socks_input(p, buf, len, used);
	return http_input(p, buf, len, used);
}

const char *
sl_pxc_error(const struct sl_pxc *p)
{
	return p->err[0] ? p->err : "no error";
}

int
sl_pxc_http_status(const struct sl_pxc *p)
{
	return p->kind == SL_PXC_HTTP ? p->status : 0;
}
