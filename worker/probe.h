/*
 * probe: one HTTP health probe through one outbound, on the event loop.
 *
 * Owns a probe's whole life: resolving and connecting, the proxy
 * handshake (worker/proxyclient.h) for socks and http outbounds, TLS for
 * https URLs, the request, and reading the answer.  Like Xray's observers
 * (app/observatory), any HTTP response is a success; the round-trip time
 * runs from the start of the probe to the end of the response header, or
 * to the end of the body when the body is read (burstObservatory's GET).
 *
 * Through an outbound:
 *   freedom	direct TCP to the URL's host (resolved with worker/dns.h);
 *		redirect and sendThrough are not applied to probes
 *   socks/http	TCP to the proxy's first resolved address, then CONNECT to
 *		the URL's host:port (a domain is passed to the proxy as is)
 *   blackhole	fails at once
 *   SL_IMG_NONE	direct, as freedom (burstObservatory's connectivity URL)
 * https: OpenSSL client with SNI, certificate chain and host name checked
 * against the system's trust store (as Go's client would); the trust store
 * is the caller's SSL_CTX.
 */
#ifndef SL_WORKER_PROBE_H
#define SL_WORKER_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "shm/image.h"

struct sl_loop;
struct sl_dns;
struct sl_probe;

struct sl_url {
	int		 https;
	char		 host[256];	/* IPv6 without brackets */
	uint16_t	 port;
	int		 port_given;	/* the URL had an explicit port */
	char		 path[1024];	/* path and query, "/" when empty */
};

/* http:// and https:// URLs; 0, or -1 with *err. */
int	 sl_probe_url_parse(const char *, struct sl_url *, const char **err);

struct sl_probe_env {
	struct sl_loop		*loop;
	struct sl_dns		*dns;
	SSL_CTX			*tls;	/* NULL: https probes fail */
	const struct sl_img	*img;
};

/* ok: any HTTP response; rtt in microseconds; err says why not. */
typedef void (*sl_probe_cb)(void *arg, int ok, uint64_t rtt_us,
    const char *err);

/*
 * Start a probe; the callback always runs later from the loop, never
 * inside this call.  env must outlive the probe.  NULL only when out of
 * memory.  read_body: also read the body (until its length or EOF).
 */
struct sl_probe *sl_probe_start(const struct sl_probe_env *, uint32_t outbound,
		    const struct sl_url *, const char *method,
		    uint32_t timeout_ms, int read_body, sl_probe_cb, void *arg);
/* Stop a probe whose callback has not run; it never will. */
void		 sl_probe_cancel(struct sl_probe *);

/* The client context probes use: TLS 1.2+, peer verified against the
 * default trust store (SSL_CERT_FILE / SSL_CERT_DIR honoured). */
SSL_CTX		*sl_probe_tls_ctx(const char **err);

#endif
