"""gunicorn's settings for the `web` process. The `Procfile` and the API benchmarks in `bench/` run with this
file, so what is measured is what runs.

Each setting can be changed through the environment; the command line overrides them all.
"""

import os

# A worker process per core and then some, each with a few threads: Django releases the interpreter lock while
# it waits for PostgreSQL and Redis, so a few requests of one process overlap. 4 x 4 is the shape the API
# figures in docs/performance.md were measured with on 2 cores.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))

# Close each connection after its response (no HTTP keep-alive), so that every request goes to a worker that
# is free to take it. A kept-alive connection stays with the worker process that accepted it: with a few busy
# clients the split is left to chance (16 connections over 4 workers were measured split 8/8/0/0 as often as
# 4/4/4/4), and a worker holding more connections than it has threads makes them wait while the others idle.
# Behind a load balancer or proxy, which keeps its own connections to the clients, this costs nothing; for
# clients on a slow network that call directly, set WEB_KEEPALIVE to a few seconds.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "0"))
