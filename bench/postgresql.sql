-- PostgreSQL settings for the benchmarks: what a tuning guide (pgtune's "web application" profile) gives for
-- this machine (2 cores, 24 GiB, SSD), instead of the packaged defaults (shared_buffers 128 MB, max_wal_size 1 GB)
-- that no production database runs with. Apply to the machine's server, then restart it:
--   psql -h 127.0.0.1 -U postgres -f bench/postgresql.sql && pg_ctlcluster 15 main restart
-- Undo: ALTER SYSTEM RESET ALL; and restart. `make test` starts its own server and is not affected.
ALTER SYSTEM SET shared_buffers = '6GB';
ALTER SYSTEM SET effective_cache_size = '18GB';
ALTER SYSTEM SET maintenance_work_mem = '1GB';
ALTER SYSTEM SET work_mem = '16MB';
ALTER SYSTEM SET wal_buffers = '16MB';
ALTER SYSTEM SET min_wal_size = '1GB';
ALTER SYSTEM SET max_wal_size = '4GB';
ALTER SYSTEM SET checkpoint_completion_target = 0.9;
ALTER SYSTEM SET wal_compression = 'lz4';
ALTER SYSTEM SET random_page_cost = 1.1;
ALTER SYSTEM SET effective_io_concurrency = 200;
