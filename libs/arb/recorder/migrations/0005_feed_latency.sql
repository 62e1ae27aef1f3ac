-- 0005_feed_latency: a latency histogram per (exchange, symbol, minute) of the book tickers' stamps, so
-- `arb analytics feeds` reads about 1,440 small rows per market for a day instead of every tick (specs/analytics.md).
-- The recorder writes it in the same transaction as the rows it summarises (only rows it really inserted count), in
-- both modes (a continuous aggregate has no histogram merge to offer; on TimescaleDB it is a hypertable, below).
-- Buckets and the stored form: libs/arb/core/latency.py. Idempotent, like 0001-0004; existing book tickers are
-- summarised once.

-- The bucket code of a latency in ns: 256 + sign * (how many bounds are <= |v|); the bounds are latency.BOUNDS.
CREATE OR REPLACE FUNCTION latency_code(bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT 256 + sign($1)::integer * width_bucket(abs($1), '{1000,1091,1189,1297,1414,1542,1682,1834,2000,2181,2378,2594,2828,3084,3364,3668,4000,4362,4757,5187,5657,6169,6727,7336,8000,8724,9514,10375,11314,12338,13454,14672,16000,17448,19027,20749,22627,24675,26909,29344,32000,34896,38055,41499,45255,49351,53817,58688,64000,69792,76109,82998,90510,98701,107635,117377,128000,139585,152219,165995,181019,197403,215269,234753,256000,279170,304437,331991,362039,394806,430539,469506,512000,558340,608874,663982,724077,789612,861078,939012,1024000,1116680,1217748,1327964,1448155,1579224,1722156,1878024,2048000,2233360,2435496,2655927,2896309,3158448,3444312,3756049,4096000,4466720,4870992,5311855,5792619,6316896,6888623,7512097,8192000,8933439,9741985,10623710,11585238,12633791,13777247,15024194,16384000,17866879,19483969,21247419,23170475,25267582,27554494,30048388,32768000,35733757,38967939,42494839,46340950,50535164,55108987,60096777,65536000,71467515,77935877,84989677,92681900,101070329,110217975,120193554,131072000,142935030,155871755,169979354,185363800,202140657,220435950,240387108,262144000,285870059,311743510,339958708,370727600,404281315,440871900,480774216,524288000,571740118,623487020,679917416,741455200,808562629,881743800,961548432,1048576000,1143480236,1246974040,1359834833,1482910400,1617125258,1763487599,1923096863,2097152000,2286960473,2493948080,2719669666,2965820801,3234250517,3526975198,3846193726,4194304000,4573920945,4987896159,5439339331,5931641602,6468501034,7053950396,7692387453,8388608000,9147841890,9975792319,10878678663,11863283203,12937002068,14107900792,15384774906,16777216000,18295683781,19951584637,21757357326,23726566406,25874004135,28215801585,30769549811,33554432000,36591367561,39903169274,43514714651,47453132812,51748008271,56431603169,61539099623,67108864000,73182735122,79806338549,87029429303,94906265624,103496016542,112863206339,123078199246,134217728000,146365470245,159612677097,174058858606,189812531249,206992033083,225726412677,246156398491,268435456000,292730940490,319225354194,348117717212,379625062497,413984066167,451452825355,492312796983,536870912000,585461880979,638450708388,696235434423,759250124994,827968132333,902905650710,984625593966}'::bigint[]) $$;

-- a - b as a bigint, clamped to +-9e18 (the last bucket holds everything from ~985 s, so the code is unchanged): a
-- venue's garbage stamp must not make the backfill fail with "bigint out of range".
CREATE OR REPLACE FUNCTION latency_diff(bigint, bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT greatest(least($1::numeric - $2, 9e18), -9e18)::bigint $$;

-- The pairs of one code and its count: (uint16 code, uint16 count), a count above 65,535 over several pairs.
CREATE OR REPLACE FUNCTION latency_pairs(integer, bigint) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT CASE WHEN $2 <= 65535 THEN substring(int4send($1) FROM 3 FOR 2) || substring(int4send($2::integer) FROM 3 FOR 2)
           ELSE (SELECT string_agg(substring(int4send($1) FROM 3 FOR 2)
                                   || substring(int4send(least($2 - j * 65535, 65535)::integer) FROM 3 FOR 2),
                                   ''::bytea ORDER BY j)
                 FROM generate_series(0::bigint, ($2 - 1) / 65535) AS j) END $$;

-- A histogram's pairs summed per code, in code order.
CREATE OR REPLACE FUNCTION latency_compact(bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT coalesce(string_agg(latency_pairs(code, n), ''::bytea ORDER BY code), ''::bytea)
    FROM (SELECT get_byte($1, i) * 256 + get_byte($1, i + 1) AS code,
                 sum(get_byte($1, i + 2) * 256 + get_byte($1, i + 3)) AS n
          FROM generate_series(0, length($1) - 4, 4) AS i
          GROUP BY 1) x $$;

-- Two histograms of one minute as one: concatenated while small, compacted past 1,024 bytes (256 pairs).
CREATE OR REPLACE FUNCTION latency_merge(bytea, bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE WHEN length($1) + length($2) <= 1024 THEN $1 || $2 ELSE latency_compact($1 || $2) END $$;

CREATE TABLE IF NOT EXISTS feed_latency_1m (
    exchange_id smallint NOT NULL,
    symbol_id   integer NOT NULL,
    bucket      timestamptz NOT NULL,  -- date_trunc('minute', time) of the book tickers it holds
    n           bigint NOT NULL CONSTRAINT feed_latency_1m_n CHECK (n > 0),
    x2p         bytea NOT NULL,  -- ts_pub - ts_event: venue to gateway publish
    p2r         bytea NOT NULL,  -- ts_rec - ts_pub: bus, batching and merge
    x2r         bytea NOT NULL,  -- ts_rec - ts_event
    CONSTRAINT feed_latency_1m_pairs CHECK (length(x2p) % 4 = 0 AND length(p2r) % 4 = 0 AND length(x2r) % 4 = 0),
    FOREIGN KEY (symbol_id, exchange_id) REFERENCES symbols (id, exchange_id),
    PRIMARY KEY (exchange_id, symbol_id, bucket)
);

-- TimescaleDB: a hypertable of 1-day chunks, dropped after 90 days like the book tickers it summarises (about 650 kB
-- a day per symbol and market); not compressed: a minute's row is updated while its minute fills and late data come.
DO $latency$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('feed_latency_1m'::regclass, 'bucket', chunk_time_interval => interval '1 day',
                                  if_not_exists => true, migrate_data => true);
        PERFORM add_retention_policy('feed_latency_1m'::regclass, interval '90 days', if_not_exists => true);
    END IF;
END
$latency$;

-- Summarise book tickers with time in [lo, hi) into feed_latency_1m (minutes already there are left as they are);
-- returns the rows made. The migration runs it once over everything; the analytics benchmark uses it too.
CREATE OR REPLACE FUNCTION feed_latency_backfill(lo timestamptz, hi timestamptz) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$
    WITH t AS (
        SELECT exchange_id, symbol_id, date_trunc('minute', time) AS bucket,
               latency_code(latency_diff(ts_pub, ts_event)) AS a, latency_code(latency_diff(ts_rec, ts_pub)) AS b,
               latency_code(latency_diff(ts_rec, ts_event)) AS c
        FROM book_tickers WHERE time >= lo AND time < hi),
    pa AS (SELECT exchange_id, symbol_id, bucket, sum(k)::bigint AS n,
                  string_agg(latency_pairs(code, k), ''::bytea ORDER BY code) AS h
           FROM (SELECT exchange_id, symbol_id, bucket, a AS code, count(*) AS k FROM t GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3),
    pb AS (SELECT exchange_id, symbol_id, bucket,
                  string_agg(latency_pairs(code, k), ''::bytea ORDER BY code) AS h
           FROM (SELECT exchange_id, symbol_id, bucket, b AS code, count(*) AS k FROM t GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3),
    pc AS (SELECT exchange_id, symbol_id, bucket,
                  string_agg(latency_pairs(code, k), ''::bytea ORDER BY code) AS h
           FROM (SELECT exchange_id, symbol_id, bucket, c AS code, count(*) AS k FROM t GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3),
    ins AS (
        INSERT INTO feed_latency_1m (exchange_id, symbol_id, bucket, n, x2p, p2r, x2r)
        SELECT pa.exchange_id, pa.symbol_id, pa.bucket, pa.n, pa.h, pb.h, pc.h
        FROM pa JOIN pb USING (exchange_id, symbol_id, bucket) JOIN pc USING (exchange_id, symbol_id, bucket)
        ORDER BY 1, 2, 3
        ON CONFLICT (exchange_id, symbol_id, bucket) DO NOTHING
        RETURNING 1)
    SELECT count(*) FROM ins $$;

SELECT feed_latency_backfill('-infinity', 'infinity');
