"""trafilatura's own command line, with ``*.localhost`` resolved to 127.0.0.1.

courlan (trafilatura's URL filter) rejects IP addresses and bare ``localhost`` as hosts
and then loops on the sitemap URL; ``perf.localhost`` passes its checks but the system
resolver does not know it. Nothing else differs from the ``trafilatura`` script:
``python -m tests.perf.trafcli ARGS`` == ``trafilatura ARGS``.
"""

from __future__ import annotations

import socket
import sys

_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_getaddrinfo

if __name__ == "__main__":
    from trafilatura.cli import main

    sys.argv[0] = "trafilatura"
    main()
