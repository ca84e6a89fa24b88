#!/usr/bin/python3
"""Stand-in for sluiced that runs v2ray 4.34 on the same Xray JSON config, to
check the integration suite against a real VLESS/Trojan server:

    SLUICED=tests/integ/ref_v2ray.py /usr/bin/python3 tests/integ/run.py

Accepts `-f -c FILE [-w N]` (writes the pid file named in the config's
"sluice" object, then execs v2ray in the same process) and `-t -c FILE`.
v2ray 4.34 lacks fallback "name", freedom "finalRules", sluice's log formats
and SIGHUP reloads, so those tests are expected to fail here; everything
else should pass.  Not used by `make test`."""

import json
import os
import sys


def main(argv):
    conf, test = None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-c":
            conf = argv[i + 1]
            i += 1
        elif a in ("-w", "-p"):
            i += 1
        elif a == "-t":
            test = True
        i += 1
    if conf is None:
        print("usage: ref_v2ray.py [-t] -c FILE", file=sys.stderr)
        return 1
    if test:
        os.execvp("v2ray", ["v2ray", "-test", "-config", conf])
    try:
        with open(conf) as f:
            pidfile = json.load(f).get("sluice", {}).get("pidFile")
    except (OSError, ValueError):
        pidfile = None
    if pidfile:
        with open(pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    os.execvp("v2ray", ["v2ray", "-config", conf])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
