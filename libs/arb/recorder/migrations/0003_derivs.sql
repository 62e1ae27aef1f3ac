-- 0003_derivs: perpetuals' open interest, public liquidations and candles (OpenInterest, Liquidation, Kline on
-- md.<venue>.<market>.<symbol>.oi / .liquidation / .kline). Additive only; idempotent, like 0001/0002.
-- Same shape as the other market-data tables: `time` is the venue's event time (ts_event), the ns stamps ride along,
-- the symbol is referenced by the pair (symbol_id, exchange_id), and every unique key holds `time` (and ts_recv), so
-- a replay or a redelivery inserts nothing twice.

CREATE TABLE IF NOT EXISTS open_interest (
    time        timestamptz NOT NULL,  -- the venue's time of the statistic (Gate: the contract_stats bucket)
    exchange_id smallint NOT NULL,
    symbol_id   integer NOT NULL,
    size        double precision NOT NULL,  -- base asset
    notional    double precision NOT NULL,  -- quote asset as the venue states it, 0 when it states none
    ts_event    bigint NOT NULL,
    ts_recv     bigint NOT NULL,
    ts_pub      bigint NOT NULL,
    ts_rec      bigint NOT NULL,
    -- NaN sorts above Infinity in PostgreSQL, so "< 'Infinity'" also refuses NaN
    CONSTRAINT open_interest_size CHECK (size >= 0 AND size < 'Infinity'),
    CONSTRAINT open_interest_notional CHECK (notional >= 0 AND notional < 'Infinity'),
    CONSTRAINT open_interest_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT open_interest_key UNIQUE (exchange_id, symbol_id, time, ts_recv)
);

-- One public liquidation order. Several can arrive in one frame (same ts_recv, maybe the same second): the key holds
-- the order's side, price and size too.
CREATE TABLE IF NOT EXISTS liquidations (
    time        timestamptz NOT NULL,
    exchange_id smallint NOT NULL,
    symbol_id   integer NOT NULL,
    price       double precision NOT NULL,
    size        double precision NOT NULL,  -- base asset
    side        text NOT NULL CONSTRAINT liquidations_side CHECK (side IN ('buy', 'sell')),
    source      text NOT NULL CONSTRAINT liquidations_source CHECK (source IN ('ws', 'rest')),
    ts_event    bigint NOT NULL,
    ts_recv     bigint NOT NULL,
    ts_pub      bigint NOT NULL,
    ts_rec      bigint NOT NULL,
    CONSTRAINT liquidations_price CHECK (price >= 0 AND price < 'Infinity'),
    CONSTRAINT liquidations_size CHECK (size > 0 AND size < 'Infinity'),
    CONSTRAINT liquidations_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT liquidations_key UNIQUE (exchange_id, symbol_id, time, ts_recv, side, price, size)
);

-- One candle as published: an open candle comes again on every update (same open_ns, newer values), each a row;
-- `closed` marks the final one. interval_name is the venue's spelling (1m, 5m, 1h, ...).
CREATE TABLE IF NOT EXISTS klines (
    time          timestamptz NOT NULL,
    exchange_id   smallint NOT NULL,
    symbol_id     integer NOT NULL,
    interval_name text NOT NULL CONSTRAINT klines_interval CHECK (interval_name <> ''),
    open_ns       bigint NOT NULL CONSTRAINT klines_open_ns CHECK (open_ns >= 0),
    open          double precision NOT NULL,
    high          double precision NOT NULL,
    low           double precision NOT NULL,
    close         double precision NOT NULL,
    volume        double precision NOT NULL,  -- base asset
    quote_volume  double precision NOT NULL,  -- quote asset, 0 when the venue states none
    closed        boolean NOT NULL,
    ts_event      bigint NOT NULL,
    ts_recv       bigint NOT NULL,
    ts_pub        bigint NOT NULL,
    ts_rec        bigint NOT NULL,
    CONSTRAINT klines_prices CHECK (low >= 0 AND high < 'Infinity'
                                    AND open >= 0 AND open < 'Infinity' AND close >= 0 AND close < 'Infinity'),
    CONSTRAINT klines_range CHECK (high >= low AND open BETWEEN low AND high AND close BETWEEN low AND high),
    CONSTRAINT klines_volume CHECK (volume >= 0 AND volume < 'Infinity'
                                    AND quote_volume >= 0 AND quote_volume < 'Infinity'),
    CONSTRAINT klines_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT klines_key UNIQUE (exchange_id, symbol_id, interval_name, open_ns, time, ts_recv)
);

-- TimescaleDB: hypertables with the same storage policies as the other market data (0002_rollups).
DO $derivs$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        FOREACH t IN ARRAY ARRAY['open_interest', 'liquidations', 'klines'] LOOP
            PERFORM create_hypertable(t::regclass, 'time', chunk_time_interval => interval '30 minutes',
                                      if_not_exists => true, migrate_data => true);
            EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, '
                           'timescaledb.compress_segmentby = ''exchange_id, symbol_id'', '
                           'timescaledb.compress_orderby = ''time DESC'')', t);
            PERFORM add_compression_policy(t::regclass, interval '2 hours', if_not_exists => true);
            PERFORM add_retention_policy(t::regclass, interval '90 days', if_not_exists => true);
        END LOOP;
    END IF;
END
$derivs$;
