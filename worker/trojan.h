/*
 * trojan: the Trojan request header (spec 2.1).
 *
 * Pure function over the client's first bytes: no I/O, no allocation.
 * The address reader is the one VLESS uses (worker/vless.h), with SOCKS
 * ATYP numbering mapped onto it.
 */
#ifndef SL_WORKER_TROJAN_H
#define SL_WORKER_TROJAN_H

#include <stddef.h>
#include <stdint.h>

#include "shm/types.h"

struct sl_trojan_req {
	char	 key[56];		/* hex SHA-224 as sent */
	struct sl_target target;	/* cmd: 0x01 CONNECT -> SL_CMD_TCP, 0x03 -> SL_CMD_UDP, anything else -> TCP (Xray leniency) */
	size_t	 header_len;		/* 56+2+1+1+addr+2+2; payload follows */
};

/*
 * SL_DECLINED: not trojan (len < 58 or buf[56] != '\r') -- caller falls
 * back.  SL_OK / SL_AGAIN / SL_ERROR(*why).  ATYP SOCKS numbering 1 ipv4,
 * 3 domain, 4 ipv6; same domain validation as VLESS.  The CRLFs are not
 * checked except buf[56]=='\r' (Xray leniency).
 */
int	 sl_trojan_parse(const uint8_t *buf, size_t len, struct sl_trojan_req *,
	    const char **why);

#endif
