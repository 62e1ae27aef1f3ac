#!/usr/bin/env bash
# `make demo`: simulator + the three market-data gateways + a tap, all on loopback, for DEMO_SECONDS.
# Uses NATS_URL if set, else a local NATS with JetStream on 127.0.0.1:4222, else starts its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ARB=(".venv/bin/arb")
CFG=deploy/demo.yaml
SECONDS_TO_RUN=${DEMO_SECONDS:-20}
LOGDIR=$(mktemp -d -t arb-demo.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
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
echo "demo: NATS at $NATS_URL"

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

echo "demo: BTC-USDT top of book on every venue for ${SECONDS_TO_RUN}s (arb tap 'md.*.*.BTC-USDT.bbo'):"
"${ARB[@]}" tap 'md.*.*.BTC-USDT.bbo' --timeout "$SECONDS_TO_RUN" --count 60 || true
echo "demo: readiness"
for p in 9190 9191 9192 9193; do
  printf '  :%s ' "$p"; curl -s "http://127.0.0.1:$p/readyz" || echo "(down)"; echo
done
