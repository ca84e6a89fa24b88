"""Share links as `sluicectl user link` prints them (the vless:// and
trojan:// format of v2rayN, v2rayNG and NekoBox), read back for tests.

    d = links.parse("vless://UUID@host:443?encryption=none&security=tls&...#a%40x")
    out = links.v2ray_outbound(d, ca_file)          # a v2ray 4.34 outbound

parse() is strict: it raises ValueError for anything a client could not
use (unknown scheme, no credentials, bad port, unknown security or
transport), so a test that parses a link also checks it."""

from urllib.parse import unquote, urlsplit

SECURITIES = ("tls", "none")
TYPES = ("tcp",)


def _query(q):
    """key -> value, percent-decoded; '+' stays '+' (RFC 3986, not forms)."""
    out = {}
    for part in q.split("&") if q else ():
        k, sep, v = part.partition("=")
        if not sep or not k:
            raise ValueError("bad query part %r" % part)
        if k in out:
            raise ValueError("query key %r twice" % k)
        out[k] = unquote(v)
    return out


def _host_port(hostport):
    if hostport.startswith("["):
        host, sep, rest = hostport[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError("bad [address]:port %r" % hostport)
        port = rest[1:]
    else:
        host, sep, port = hostport.rpartition(":")
        if not sep:
            raise ValueError("no port in %r" % hostport)
    if not host:
        raise ValueError("no host in %r" % hostport)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("bad port %r" % port)
    return host, int(port)


def parse(link):
    """A dict: protocol ("vless"|"trojan"), id (vless) or password (trojan),
    host, port, security ("tls"|"none"), sni (None when absent), alpn (list),
    flow ("" when absent), type, header_type, encryption (vless), remark,
    and query (every query parameter, decoded)."""
    u = urlsplit(link.strip())
    if u.scheme not in ("vless", "trojan"):
        raise ValueError("not a vless:// or trojan:// link: %r" % link)
    userinfo, sep, hostport = u.netloc.rpartition("@")
    if not sep or not userinfo:
        raise ValueError("no credentials in %r" % link)
    host, port = _host_port(hostport)
    q = _query(u.query)
    d = {"protocol": u.scheme, "host": host, "port": port,
         "security": q.get("security", "none"), "sni": q.get("sni") or None,
         "alpn": q["alpn"].split(",") if q.get("alpn") else [],
         "flow": q.get("flow", ""), "type": q.get("type", "tcp"),
         "header_type": q.get("headerType", "none"),
         "remark": unquote(u.fragment), "query": q}
    if d["security"] not in SECURITIES:
        raise ValueError("security %r" % d["security"])
    if d["type"] not in TYPES or d["header_type"] != "none":
        raise ValueError("transport %r/%r" % (d["type"], d["header_type"]))
    if u.scheme == "vless":
        d["id"] = unquote(userinfo)
        d["encryption"] = q.get("encryption", "none")
        if d["encryption"] != "none":
            raise ValueError("VLESS encryption %r" % d["encryption"])
    else:
        d["password"] = unquote(userinfo)
        if d["flow"]:
            raise ValueError("flow on a Trojan link")
    return d


def v2ray_outbound(d, ca_file, tag="proxy", address=None):
    """A v2ray 4.34 client outbound for the parsed link d: plain TCP, TLS
    when the link says so, verifying the server against ca_file only, with
    the link's SNI and ALPN.  address replaces the link's host (when the
    host name does not resolve on the test machine).  v2ray 4.34 knows no
    Vision: a link with a flow raises ValueError."""
    host = address or d["host"]
    if d["protocol"] == "vless":
        if d["flow"]:
            raise ValueError("v2ray 4.34 cannot use flow %r" % d["flow"])
        settings = {"vnext": [{"address": host, "port": d["port"],
                               "users": [{"id": d["id"],
                                          "encryption": "none"}]}]}
    else:
        settings = {"servers": [{"address": host, "port": d["port"],
                                 "password": d["password"]}]}
    stream = {"network": "tcp", "security": d["security"]}
    if d["security"] == "tls":
        tls = {"disableSystemRoot": True,
               "certificates": [{"certificateFile": ca_file,
                                 "usage": "verify"}]}
        if d["sni"]:
            tls["serverName"] = d["sni"]
        if d["alpn"]:
            tls["alpn"] = list(d["alpn"])
        stream["tlsSettings"] = tls
    return {"tag": tag, "protocol": d["protocol"], "settings": settings,
            "streamSettings": stream}
