#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into corpus/<target>/.

    python3 tests/fuzz/mkcorpus.py

Deterministic: re-running rewrites the same files.  Each seed is a valid
(or nearly valid) input of its target, so the fuzzers start from the
interesting parts of the formats rather than from nothing.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

UUID = bytes.fromhex("27848e6d1a4cabcd912f3c4e5d6a7b8c")
TROJAN_KEY = b"d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01"
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
VISION = b"\x0a\x10xtls-rprx-vision"
HTTP = b"GET /ws?ed=2048 HTTP/1.1\r\nHost: example.com\r\n\r\n"
H2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CLIENT_HELLO = bytes.fromhex("160301020001000200fc0303") + bytes(32)


def v2(cmd, fam, body):
    return V2SIG + bytes([cmd, fam]) + struct.pack(">H", len(body)) + body


def vless(addons, rest):
    return b"\x00" + UUID + bytes([len(addons)]) + addons + rest


def domain(name):
    return bytes([len(name)]) + name


def trojan(rest):
    return TROJAN_KEY + b"\r\n" + rest


def sniff(sni, alpn, first):
    return bytes([len(sni), len(alpn)]) + sni + alpn + first


V4 = bytes([203, 0, 113, 5, 198, 51, 100, 7]) + struct.pack(">HH", 51234, 443)
V6 = bytes.fromhex("20010db8000000000000000000000001"
                   "20010db8000000000000000000000002") + struct.pack(">HH", 1, 2)

SEEDS = {
    "proxyproto": {
        "v1_tcp4": b"PROXY TCP4 203.0.113.5 198.51.100.7 51234 443\r\n" + CLIENT_HELLO,
        "v1_tcp6": b"PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 1 65535\r\n",
        "v1_unknown": b"PROXY UNKNOWN\r\n",
        "v1_unknown_long": b"PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n",
        "v1_bad_port": b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
        "v2_ipv4": v2(0x21, 0x11, V4) + CLIENT_HELLO,
        "v2_ipv6": v2(0x21, 0x21, V6),
        "v2_local": v2(0x20, 0x00, b""),
        "v2_tlvs": v2(0x21, 0x11, V4 + b"\x01\x00\x02h2\x04\x00\x01\x00"),
        "v2_unix": v2(0x21, 0x31, bytes(216)),
        "v2_local_short": v2(0x20, 0x21, b"abc"),
        "http": HTTP,
        "tls": CLIENT_HELLO,
        # Found by fuzzing: inet_pton stopped at the NUL and accepted.
        "v1_nul_in_addr": b"PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4\0\0\xff 1 65535\r\n",
        "write_v4_v6": bytes([0x11]) + bytes(range(1, 40)),
        "write_v6_v2": bytes([0x25]) + bytes(range(1, 40)),
    },
    "vless": {
        "spec_example": vless(b"", b"\x01\x01\xbb\x02" + domain(b"example.com") + HTTP),
        "ipv4": vless(b"", b"\x01\x00\x50\x01" + bytes([1, 2, 3, 4])),
        "ipv6_udp": vless(b"", b"\x02\x00\x35\x03" + bytes(15) + b"\x01"),
        "vision": vless(VISION, b"\x01\x01\xbb\x02" + domain(b"www.example.com")),
        "mux": vless(VISION, b"\x03"),
        "domain_ip": vless(b"", b"\x01\x01\xbb\x02" + domain(b"[::ffff:1.2.3.4]")),
        "addons_unknown": vless(b"\x18\x96\x01\x1b\x08\x01\x1c\x12\x01x" + VISION,
                                b"\x01\x01\xbb\x01" + bytes(4)),
    },
    "trojan": {
        "connect_domain": trojan(b"\x01\x03" + domain(b"example.com") + b"\x01\xbb\r\n" + HTTP),
        "connect_ipv4": trojan(b"\x01\x01" + bytes([10, 1, 2, 3]) + b"\x00\x50\r\n"),
        "udp_ipv6": trojan(b"\x03\x04" + bytes(15) + b"\x01\x00\x35\r\n"),
        "domain_ip": trojan(b"\x01\x03" + domain(b"8.8.4.4 ") + b"\x00\x35\r\n"),
        "not_trojan": HTTP + HTTP,
        # Found by fuzzing (a wrong bound in the harness): 66-byte header.
        "one_byte_domain": trojan(b"\x01\x03\x01H\x00\x00\x00\x00") + b"Y",
    },
    "fallback_sniff": {
        "get_ws": sniff(b"", b"", HTTP),
        "www_api": sniff(b"www.example.com", b"http/1.1", b"GET /api HTTP/1.1\r\n\r\n"),
        "h2": sniff(b"Example.COM", b"h2", H2),
        "options": sniff(b"sample.net", b"", b"OPTIONS / HTTP/1.1\r\n\r\n"),
        "long_path": sniff(b"x", b"", b"GET /" + b"a" * 58 + b" HTTP/1.1\r\n"),
        "query": sniff(b"example.com", b"h2", b"POST /ws?x HTTP/1.1\r\n\r\n"),
    },
}


def main():
    for target, seeds in SEEDS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
