"""gunicorn settings of the production web server (README "Deployment").

Run: gunicorn --config deploy/gunicorn.conf.py --bind 127.0.0.1:8000 smcbridge.wsgi
(only the proxy in front may reach it: README "Deployment")
"""

# Workers are processes: the app keeps no state in memory that they would need to share.
workers = 3
timeout = 60
graceful_timeout = 30
# One access line per request on stdout, without credentials: no user name (%(u)s is the Basic
# auth user), no query string (%(r)s and %(q)s carry it, and SAP MC's tools or a mistyped link
# may put a secret there), no Referer (it carries other pages' query strings), no headers other
# than the correlation id. %(U)s is the path alone.
accesslog = "-"
errorlog = "-"
access_log_format = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms '
    'correlation_id=%({x-correlation-id}o)s "%(a)s"'
)
# Behind a proxy on the same host; widen to the proxy's address when it runs elsewhere.
forwarded_allow_ips = "127.0.0.1"
