-- 0002_rollups: 1-minute rollups of spreads (book tickers), funding and mark/index prices, plus TimescaleDB's
-- storage policies. Same names and columns in both modes, so the same queries work:
--   * TimescaleDB present: market data become hypertables (30-minute chunks), compressed segmented by (exchange,
--     symbol) ordered by time once older than the late-data window (2 h), dropped after the retention (90 days for
--     market data); bbo_1m, funding_1m and prices_1m are continuous aggregates refreshed every minute.
--   * plain PostgreSQL: bbo_1m, funding_1m and prices_1m are tables the recorder updates in the same transaction
--     as the rows they summarise (only rows it really inserted count, so a replay changes nothing).
-- Averages are sums and counts (mean = sum_x / n), so a minute merges across batches. Idempotent.

DO $rollups$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        FOREACH t IN ARRAY ARRAY['book_tickers', 'book_snapshots', 'trades', 'funding_rates', 'prices',
                                 'book_status'] LOOP
            PERFORM create_hypertable(t::regclass, 'time', chunk_time_interval => interval '30 minutes',
                                      if_not_exists => true, migrate_data => true);
            EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, '
                           'timescaledb.compress_segmentby = ''exchange_id, symbol_id'', '
                           'timescaledb.compress_orderby = ''time DESC'')', t);
            PERFORM add_compression_policy(t::regclass, interval '2 hours', if_not_exists => true);
            PERFORM add_retention_policy(t::regclass, interval '90 days', if_not_exists => true);
        END LOOP;
        EXECUTE $v$
            CREATE MATERIALIZED VIEW IF NOT EXISTS bbo_1m WITH (timescaledb.continuous) AS
            SELECT exchange_id, symbol_id, time_bucket(interval '1 minute', time) AS bucket,
                   count(*) AS n,
                   sum((bid_px + ask_px) / 2) AS sum_mid,
                   sum((ask_px - bid_px) / nullif((bid_px + ask_px) / 2, 0) * 1e4) AS sum_spread_bps,
                   min((bid_px + ask_px) / 2) AS min_mid,
                   max((bid_px + ask_px) / 2) AS max_mid,
                   last(bid_px, time) AS last_bid,
                   last(ask_px, time) AS last_ask,
                   max(time) AS last_time
            FROM book_tickers GROUP BY exchange_id, symbol_id, time_bucket(interval '1 minute', time)
            WITH NO DATA $v$;
        EXECUTE $v$
            CREATE MATERIALIZED VIEW IF NOT EXISTS funding_1m WITH (timescaledb.continuous) AS
            SELECT exchange_id, symbol_id, time_bucket(interval '1 minute', time) AS bucket,
                   count(*) AS n,
                   sum(rate) AS sum_rate,
                   last(rate, time) AS last_rate,
                   last(next_funding_ns, time) AS last_next_funding_ns,
                   max(interval_s) AS interval_s,
                   max(time) AS last_time
            FROM funding_rates GROUP BY exchange_id, symbol_id, time_bucket(interval '1 minute', time)
            WITH NO DATA $v$;
        EXECUTE $v$
            CREATE MATERIALIZED VIEW IF NOT EXISTS prices_1m WITH (timescaledb.continuous) AS
            SELECT exchange_id, symbol_id, kind, time_bucket(interval '1 minute', time) AS bucket,
                   count(*) AS n,
                   sum(price) AS sum_price,
                   last(price, time) AS last_price,
                   max(time) AS last_time
            FROM prices GROUP BY exchange_id, symbol_id, kind, time_bucket(interval '1 minute', time)
            WITH NO DATA $v$;
        FOREACH t IN ARRAY ARRAY['bbo_1m', 'funding_1m', 'prices_1m'] LOOP
            PERFORM add_continuous_aggregate_policy(t::regclass, start_offset => interval '3 hours',
                                                    end_offset => interval '1 minute',
                                                    schedule_interval => interval '1 minute', if_not_exists => true);
        END LOOP;
    ELSE
        CREATE TABLE IF NOT EXISTS bbo_1m (
            exchange_id    smallint NOT NULL,
            symbol_id      integer NOT NULL,
            bucket         timestamptz NOT NULL,
            n              bigint NOT NULL,
            sum_mid        double precision,
            sum_spread_bps double precision,
            min_mid        double precision,
            max_mid        double precision,
            last_bid       double precision,
            last_ask       double precision,
            last_time      timestamptz NOT NULL,
            FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
            PRIMARY KEY (exchange_id, symbol_id, bucket)
        );
        CREATE TABLE IF NOT EXISTS funding_1m (
            exchange_id          smallint NOT NULL,
            symbol_id            integer NOT NULL,
            bucket               timestamptz NOT NULL,
            n                    bigint NOT NULL,
            sum_rate             double precision,
            last_rate            double precision,
            last_next_funding_ns bigint,
            interval_s           integer,
            last_time            timestamptz NOT NULL,
            FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
            PRIMARY KEY (exchange_id, symbol_id, bucket)
        );
        CREATE TABLE IF NOT EXISTS prices_1m (
            exchange_id smallint NOT NULL,
            symbol_id   integer NOT NULL,
            kind        text NOT NULL,
            bucket      timestamptz NOT NULL,
            n           bigint NOT NULL,
            sum_price   double precision,
            last_price  double precision,
            last_time   timestamptz NOT NULL,
            FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
            PRIMARY KEY (exchange_id, symbol_id, kind, bucket)
        );
    END IF;
END
$rollups$;
