"""gunicorn settings for casework behind a TLS-terminating proxy (deploy/nginx/casework.conf).

    gunicorn -c deploy/gunicorn.conf.py 'casework:create_app()'

Read from the environment (deploy/casework.env.example), beside the app's own ``CASEWORK_*`` settings:

- ``CASEWORK_WEB_BIND``: the address nginx proxies to (default ``127.0.0.1:8000``). Keep it a TCP
  address on the proxy's side only: the app believes ``X-Forwarded-*`` from the addresses in
  ``CASEWORK_TRUSTED_PROXIES`` and from nothing else, and a Unix socket has no address to check.
- ``CASEWORK_WEB_WORKERS``: worker processes (default: two per CPU core, plus one).
- ``CASEWORK_WEB_TIMEOUT``: seconds a request may take before its worker is replaced (default 60,
  the longest a letter preview may render).
"""

from __future__ import annotations

import os


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"casework cannot start: {name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


bind = [os.environ.get("CASEWORK_WEB_BIND", "").strip() or "127.0.0.1:8000"]
workers = _positive_int("CASEWORK_WEB_WORKERS", 2 * (os.cpu_count() or 1) + 1)
worker_class = "sync"  # nginx buffers request and answer bodies, so slow clients never hold a worker
timeout = _positive_int("CASEWORK_WEB_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter, so they are not all replaced at once).
max_requests = 2000
max_requests_jitter = 200

# gunicorn must not decide the scheme or the client: with its defaults it would believe
# X-Forwarded-Proto from 127.0.0.1 (and from anyone over a Unix socket). The app's TrustedProxies
# middleware decides, from CASEWORK_TRUSTED_PROXIES alone.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# Access log to stdout (the journal under systemd). No query strings and no Referer: status links,
# confirmation codes and the pages they were opened from are secrets. The path is logged; the app's
# RedactSecrets filter (on the gunicorn.access logger) blanks the secret in /c/<secret>/…; %(h)s is
# the client's address as the trusted proxy reported it.
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
proc_name = "casework-web"
