-- 0004_margin: a futures account's margin, its positions' margin, liquidation warnings and the venue's funding
-- settlements (Margin, LiquidationWarning, FundingPaid on ord.<venue>.<account>.evt.margin / .liq_warning / .funding;
-- specs/gateways.md, "Margin and liquidation warnings"). Additive only; idempotent, like 0001-0003.
-- Same shape as the other execution tables: figures are exact numerics as the venue sent them, `time` is the
-- event's time (ts_event; a settlement's time for funding), a row with a symbol references `symbols` by the pair
-- (symbol_id, exchange_id), and every unique key holds `time`, so a replay or a redelivery inserts nothing twice.
-- NaN sorts above Infinity in PostgreSQL (numeric too), so "< 'Infinity'" also refuses NaN; a signed figure is
-- checked "> '-Infinity' AND < 'Infinity'".

-- One Margin: the account's figures in its settle asset. `positions` = how many position_margins rows came with it
-- (same exchange, account, time and ts_recv).
CREATE TABLE IF NOT EXISTS margin_accounts (
    time               timestamptz NOT NULL,
    exchange_id        smallint NOT NULL REFERENCES exchanges (id),
    account            text NOT NULL,
    asset              text NOT NULL CONSTRAINT margin_accounts_asset CHECK (asset <> ''),
    total              numeric NOT NULL,  -- wallet balance, unrealised PnL excluded
    available          numeric NOT NULL,
    position_margin    numeric NOT NULL,
    order_margin       numeric NOT NULL,
    maintenance_margin numeric NOT NULL,
    unrealised_pnl     numeric NOT NULL,
    positions          integer NOT NULL CONSTRAINT margin_accounts_positions CHECK (positions >= 0),
    correction         boolean NOT NULL,  -- published by a reconcile
    ts_event           bigint NOT NULL,
    ts_recv            bigint NOT NULL,
    ts_pub             bigint NOT NULL,
    ts_rec             bigint NOT NULL,
    CONSTRAINT margin_accounts_margins CHECK (position_margin >= 0 AND position_margin < 'Infinity'
                                              AND order_margin >= 0 AND order_margin < 'Infinity'
                                              AND maintenance_margin >= 0 AND maintenance_margin < 'Infinity'),
    CONSTRAINT margin_accounts_finite CHECK (total > '-Infinity' AND total < 'Infinity'
                                             AND available > '-Infinity' AND available < 'Infinity'
                                             AND unrealised_pnl > '-Infinity' AND unrealised_pnl < 'Infinity'),
    CONSTRAINT margin_accounts_key UNIQUE (exchange_id, account, asset, time, ts_recv)
);

-- One open position inside a Margin (PositionMargin): size and contracts signed alike (> 0 long, < 0 short, never 0:
-- only open positions are published). liq_price 0 = the venue names none; distance NULL = no liquidation price.
CREATE TABLE IF NOT EXISTS position_margins (
    time               timestamptz NOT NULL,
    exchange_id        smallint NOT NULL,
    account            text NOT NULL,
    symbol_id          integer NOT NULL,
    size               numeric NOT NULL,  -- signed base
    contracts          numeric NOT NULL,  -- signed venue contracts
    leverage           integer NOT NULL CONSTRAINT position_margins_leverage CHECK (leverage >= 0),  -- 0 = cross
    entry_price        numeric NOT NULL,
    mark_price         numeric NOT NULL,
    liq_price          numeric NOT NULL,
    margin             numeric NOT NULL,
    maintenance_rate   numeric NOT NULL,
    maintenance_margin numeric NOT NULL,
    unrealised_pnl     numeric NOT NULL,
    distance           numeric,  -- (mark - liq) / mark for a long, (liq - mark) / mark for a short, >= 0
    correction         boolean NOT NULL,
    ts_event           bigint NOT NULL,
    ts_recv            bigint NOT NULL,
    ts_pub             bigint NOT NULL,
    ts_rec             bigint NOT NULL,
    CONSTRAINT position_margins_size CHECK (size <> 0 AND size > '-Infinity' AND size < 'Infinity'
                                            AND contracts > '-Infinity' AND contracts < 'Infinity'
                                            AND sign(size) = sign(contracts)),
    CONSTRAINT position_margins_prices CHECK (entry_price >= 0 AND entry_price < 'Infinity'
                                              AND mark_price >= 0 AND mark_price < 'Infinity'
                                              AND liq_price >= 0 AND liq_price < 'Infinity'),
    CONSTRAINT position_margins_margins CHECK (margin >= 0 AND margin < 'Infinity'
                                               AND maintenance_rate >= 0 AND maintenance_rate < 'Infinity'
                                               AND maintenance_margin >= 0 AND maintenance_margin < 'Infinity'),
    CONSTRAINT position_margins_pnl CHECK (unrealised_pnl > '-Infinity' AND unrealised_pnl < 'Infinity'),
    CONSTRAINT position_margins_distance CHECK (distance >= 0 AND distance < 'Infinity'),
    CONSTRAINT position_margins_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT position_margins_key UNIQUE (exchange_id, account, symbol_id, time, ts_recv)
);

-- A position's distance to liquidation crossed the gateway's threshold: warning, worse, or cleared (then size and
-- distance may be 0: the position is gone).
CREATE TABLE IF NOT EXISTS liquidation_warnings (
    time        timestamptz NOT NULL,
    exchange_id smallint NOT NULL,
    account     text NOT NULL,
    symbol_id   integer NOT NULL,
    level       text NOT NULL CONSTRAINT liquidation_warnings_level CHECK (level IN ('warning', 'worse', 'cleared')),
    size        numeric NOT NULL,  -- signed base, 0 when the position is gone
    mark_price  numeric NOT NULL,
    liq_price   numeric NOT NULL,
    distance    numeric NOT NULL,
    threshold   numeric NOT NULL,  -- the configured fraction (gateway.liq_warning_fraction)
    ts_event    bigint NOT NULL,
    ts_recv     bigint NOT NULL,
    ts_pub      bigint NOT NULL,
    ts_rec      bigint NOT NULL,
    CONSTRAINT liquidation_warnings_size CHECK (size > '-Infinity' AND size < 'Infinity'),
    CONSTRAINT liquidation_warnings_prices CHECK (mark_price >= 0 AND mark_price < 'Infinity'
                                                  AND liq_price >= 0 AND liq_price < 'Infinity'),
    CONSTRAINT liquidation_warnings_distance CHECK (distance >= 0 AND distance < 'Infinity'),
    CONSTRAINT liquidation_warnings_threshold CHECK (threshold > 0 AND threshold < 1),
    CONSTRAINT liquidation_warnings_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT liquidation_warnings_key UNIQUE (exchange_id, account, symbol_id, level, time, ts_recv)
);

-- The venue's record of one funding settlement on a position (Gate account_book type `fund`): amount in the quote
-- asset, + received, - paid, exact; `time` the settlement's time (ts); rate the applied rate, 0 when unknown. The
-- account is the subject's (ord.<venue>.<account>.evt.funding); the key holds the amount (a venue may book two
-- records of one contract at one time, e.g. both sides of a dual-mode position).
CREATE TABLE IF NOT EXISTS funding_payments (
    time        timestamptz NOT NULL,
    exchange_id smallint NOT NULL,
    account     text NOT NULL CONSTRAINT funding_payments_account CHECK (account <> ''),
    symbol_id   integer NOT NULL,
    amount      numeric NOT NULL,  -- quote: + received, - paid
    rate        double precision NOT NULL,
    ts          bigint NOT NULL,
    ts_rec      bigint NOT NULL,
    CONSTRAINT funding_payments_amount CHECK (amount > '-Infinity' AND amount < 'Infinity'),
    CONSTRAINT funding_payments_rate CHECK (rate > '-Infinity' AND rate < 'Infinity'),
    CONSTRAINT funding_payments_symbol FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    CONSTRAINT funding_payments_key UNIQUE (exchange_id, account, symbol_id, time, amount)
);

CREATE INDEX IF NOT EXISTS funding_payments_time ON funding_payments (time DESC);

-- TimescaleDB: margin rows come every few seconds per account while positions move (and after every reconcile), so
-- they are hypertables, in 1-day chunks (a few thousand rows a day per account: 30-minute chunks would be tiny),
-- compressed segmented by (exchange_id, account) after 7 days. No retention policy: like balances and positions
-- they are the account's history, kept. Funding settlements (a few a day) stay a plain table, like fills.
DO $margin$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        FOREACH t IN ARRAY ARRAY['margin_accounts', 'position_margins', 'liquidation_warnings'] LOOP
            PERFORM create_hypertable(t::regclass, 'time', chunk_time_interval => interval '1 day',
                                      if_not_exists => true, migrate_data => true);
            EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, '
                           'timescaledb.compress_segmentby = ''exchange_id, account'', '
                           'timescaledb.compress_orderby = ''time DESC'')', t);
            PERFORM add_compression_policy(t::regclass, interval '7 days', if_not_exists => true);
        END LOOP;
    END IF;
END
$margin$;
