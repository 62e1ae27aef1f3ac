#!/usr/bin/env bash
# `make demo`: simulator + the three market-data gateways + two trading gateways (the simulator's demo accounts) +
# the coordinator in paper mode, all on loopback, for DEMO_SECONDS (default 40). Midway the simulator's Gate
# perpetual is dislocated, the coordinator trades a full cycle, and `arb ctl status` shows the result.
# Uses NATS_URL if set, else a local NATS with JetStream on 127.0.0.1:4222, else starts its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ARB=(".venv/bin/arb")
CFG=deploy/demo.yaml
SECONDS_TO_RUN=${DEMO_SECONDS:-40}
LOGDIR=$(mktemp -d -t arb-demo.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${NATS_URL:-}" ]; then  # this run's streams and buckets (its own subject prefix) go with it
    timeout 20 $PY - "$NATS_URL" "$ARB_NATS__SUBJECT_PREFIX" <<'PYEOF' 2>/dev/null || true
import asyncio, sys
import nats
from arb.bus.streams import stream_name_prefix

async def drop(url: str, prefix: str) -> None:
    nc = await nats.connect(url, connect_timeout=5)
    js = nc.jetstream()
    n = stream_name_prefix(prefix)
    for info in await js.streams_info():
        name = info.config.name
        if name.startswith(n) or name.startswith("KV_" + n):
            await js.delete_stream(name)
    await nc.drain()

asyncio.run(drop(sys.argv[1], sys.argv[2]))
PYEOF
  fi
  echo "demo: logs in $LOGDIR"
}
trap cleanup EXIT INT TERM

if [ -z "${NATS_URL:-}" ]; then
  if $PY -c "import sys; from arb.testing.servers import nats_jetstream_ok; sys.exit(0 if nats_jetstream_ok('nats://127.0.0.1:4222') else 1)"; then
    export NATS_URL=nats://127.0.0.1:4222
  else
    $PY -m arb.testing.servers nats > "$LOGDIR/nats.url" 2> "$LOGDIR/nats.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$LOGDIR/nats.url" ] && break; sleep 0.1; done
    export NATS_URL=$(head -n1 "$LOGDIR/nats.url")
  fi
fi
# A subject prefix of its own: a run starts from a clean slate (no task state left by an earlier run) and leaves
# nothing behind on a shared NATS.
export ARB_NATS__SUBJECT_PREFIX="demo$$."
echo "demo: NATS at $NATS_URL (subjects prefixed $ARB_NATS__SUBJECT_PREFIX)"

ARB_HTTP__PORT=9190 "${ARB[@]}" sim --config "$CFG" --seed 1 > "$LOGDIR/sim.out" 2> "$LOGDIR/sim.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:9190/readyz > /dev/null && break; sleep 0.1; done
cat "$LOGDIR/sim.out"

port=9191
for spec in "mexc spot BTC-USDT,ETH-USDT,NEIRO-ETH" "gateio spot BTC-USDT,ETH-USDT,NEIRO-ETH" "gateio futures BTC-USDT,ETH-USDT"; do
  set -- $spec
  ARB_HTTP__PORT=$port "${ARB[@]}" md-gateway --config "$CFG" --venue "$1" --market "$2" --symbols "$3" \
    2> "$LOGDIR/md-$1-$2.log" &
  pids+=($!)
  echo "demo: md-gateway $1 $2 ($3) metrics http://127.0.0.1:$port/metrics"
  port=$((port + 1))
done

# The simulator's demo accounts (their keys are the simulator's own, printed in its config): one trading gateway each.
export ARB_MEXC_DEMO_API_KEY=mx0vglsimdemokey00000001 ARB_MEXC_DEMO_API_SECRET=simdemosecret0000000000000000001
export ARB_GATEIO_DEMO_API_KEY=simgatedemokey00000000000000001
export ARB_GATEIO_DEMO_API_SECRET=simgatedemosecret000000000000000000000000000000000000000000001
for spec in "mexc spot mexc-demo" "gateio futures gateio-demo"; do
  set -- $spec
  ARB_HTTP__PORT=$port "${ARB[@]}" trade-gateway --config "$CFG" --venue "$1" --market "$2" --account "$3" \
    --symbols BTC-USDT 2> "$LOGDIR/trade-$1-$2.log" &
  pids+=($!)
  echo "demo: trade-gateway $1 $2 ($3) metrics http://127.0.0.1:$port/metrics"
  port=$((port + 1))
done
unset ARB_MEXC_DEMO_API_KEY ARB_MEXC_DEMO_API_SECRET ARB_GATEIO_DEMO_API_KEY ARB_GATEIO_DEMO_API_SECRET

ARB_HTTP__PORT=$port "${ARB[@]}" coordinator --config "$CFG" --paper 2> "$LOGDIR/coordinator.log" &
pids+=($!)
echo "demo: coordinator (paper) metrics http://127.0.0.1:$port/metrics; arb ctl status|halt|resume|flatten"
last_port=$port

# Every strategy event (transitions, orders, exposure, cycles) for the whole run.
"${ARB[@]}" tap "${ARB_NATS__SUBJECT_PREFIX}strat.>" --timeout "$SECONDS_TO_RUN" > "$LOGDIR/strat.jsonl" 2> "$LOGDIR/tap.log" &
tap=$!
echo "demo: BTC-USDT top of book for 3 s (arb tap 'md.*.*.BTC-USDT.bbo'):"
"${ARB[@]}" tap "${ARB_NATS__SUBJECT_PREFIX}md.*.*.BTC-USDT.bbo" --timeout 3 --count 6 || true
wait_s=$(( SECONDS_TO_RUN / 3 ))
sleep "$wait_s"
echo "demo: dislocating the Gate perpetual by +60 bps for 15 s (POST /admin/dislocate)"
curl -sf -X POST http://127.0.0.1:18080/admin/dislocate -H 'content-type: application/json' \
  -d '{"symbol":"BTC-USDT","venue":"gateio","market":"futures","bps":60,"seconds":15}' > /dev/null || echo "demo: dislocate failed"
wait "$tap" || true
echo "demo: strategy transitions (strat.btc.transition):"
grep '\.transition ' "$LOGDIR/strat.jsonl" | sed -E 's/.*"old":"([a-z_]+)","new":"([a-z_]+)","reason":"([^"]*)".*/  \1 -> \2  (\3)/' || true
grep '\.cycle ' "$LOGDIR/strat.jsonl" | sed -E 's/.*"cycle":([0-9]+).*"realised":"([^"]*)".*/  cycle \1 booked: realised \2 USDT/' || true
echo "demo: arb ctl status"
"${ARB[@]}" ctl status --timeout 10 || true
echo "demo: readiness"
for p in $(seq 9190 "$last_port"); do
  printf '  :%s ' "$p"; curl -s "http://127.0.0.1:$p/readyz" || echo "(down)"; echo
done
