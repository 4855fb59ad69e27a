#!/bin/bash
# bench/compare-ws.sh 'PROXY_CMD' — WebSocket messages/s through a TLS-terminating proxy, side by side with HAProxy
# (mode http, the shared harness's https config: TLS ends there, the upgraded stream is tunnelled) in ONE interleaved
# run on loopback. Backend: a Netty WebSocket echo server; load: a Netty wss client (both from the examples jar,
# `ws-echo` and `ws-load`), CONNS connections, each keeping WINDOW text frames of SIZE bytes in flight.
# It reports messages/s, round-trip p50/p99 and the proxy's CPU microseconds per message, medians of REPS.
#
# Uses the shared harness (../shared/bench: lib.sh, certs, HAProxy template); run its setup.sh first.
# PROXY_CMD placeholders as in compare-http.sh: {LISTEN_PORT} {BACKEND_HOST} {BACKEND_PORT} {CERT} {KEY}; e.g.
#   bench/compare-ws.sh 'java -jar examples/target/smartproxy-examples.jar terminate --listen 127.0.0.1:{LISTEN_PORT} --backend {BACKEND_HOST}:{BACKEND_PORT} --cert {CERT} --key {KEY} --max-connections-per-ip 0 --connection-rate-per-minute 0'
# Knobs: TARGETS="haproxy cand" REPS=3 SECS=8 CONNS=64 SIZE=32 WINDOW=1 BASE=22300 JAR=examples/target/smartproxy-examples.jar
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED_BENCH:-$HERE/../../shared/bench}
. "$SHARED/lib.sh"
JAR=${JAR:-$HERE/../examples/target/smartproxy-examples.jar}
PROXY_CMD=${1:-}
TARGETS=${TARGETS:-"haproxy cand"}
[ -z "$PROXY_CMD" ] && TARGETS=$(drop_cand $TARGETS)
REPS=${REPS:-3}; SECS=${SECS:-8}; CONNS=${CONNS:-64}; SIZE=${SIZE:-32}; WINDOW=${WINDOW:-1}; BASE=${BASE:-22300}
CLK=$(getconf CLK_TCK)
[ "$REPS" -ge 1 ] && [ "$REPS" -le 20 ] && [ "$SECS" -le 60 ] && [ "$CONNS" -le 2000 ] || { echo "bounds: REPS 1..20, SECS<=60, CONNS<=2000"; exit 2; }
[ -e "$JAR" ] || { echo "no $JAR: run mvn -B -q -DskipTests install first"; exit 2; }
[ -e "$CERTS/a.test.key" ] || { echo "certs missing: run $SHARED/setup.sh (with the same BENCH_WORK)"; exit 2; }
cat "$CERTS/a.test.crt" "$CERTS/a.test.key" >"$RUN/a.test.pem"
OUTDIR=$RESULTS/ws-$(date +%Y%m%d-%H%M%S); mkdir -p "$OUTDIR"; RAW=$OUTDIR/raw.tsv; : >"$RAW"
trap 'stop_all' EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }

BACK=$BASE
start ws-echo java -Xms256m -Xmx256m -jar "$JAR" ws-echo --listen "127.0.0.1:$BACK" --threads 1
wait_port "$BACK" 30 || exit 1
declare -A PORT PID
i=1
for t in $TARGETS; do
  p=$((BASE + i)); i=$((i + 1)); PORT[$t]=$p
  case $t in
    haproxy) start_haproxy "$p" "$BACK" https ;;
    cand)
      PROXY_CMD=${PROXY_CMD//\{CERT\}/$CERTS/a.test.crt}; PROXY_CMD=${PROXY_CMD//\{KEY\}/$CERTS/a.test.key}
      start_cand "$p" "$BACK" "$OUTDIR/cand-cmd.txt" ;;
    *) log "unknown target $t"; exit 2 ;;
  esac || { log "$t did not start"; exit 1; }
  PID[$t]=$LAST_PID
done

# run_load TARGET SECS -> prints "msgs_s p50_us p99_us cpu_us_per_msg errors"
run_load() {
  local t=$1 s=$2 c0 c1 out rate p50 p99 err
  c0=$(cpu_ticks "${PID[$t]}")
  out=$(timeout $((s + 60)) java -Xms256m -Xmx256m -jar "$JAR" ws-load --url "wss://127.0.0.1:${PORT[$t]}/" \
        --connections "$CONNS" --seconds "$s" --warmup 2 --size "$SIZE" --window "$WINDOW" 2>&1)
  c1=$(cpu_ticks "${PID[$t]}")
  rate=$(grep -o 'msgs_per_s=[0-9.]*' <<<"$out" | cut -d= -f2); p50=$(grep -o 'p50_us=[0-9]*' <<<"$out" | cut -d= -f2)
  p99=$(grep -o 'p99_us=[0-9]*' <<<"$out" | cut -d= -f2); err=$(grep -o 'errors=[0-9]*' <<<"$out" | cut -d= -f2)
  [ -z "$rate" ] && log "$t: load failed: $(tail -3 <<<"$out" | tr '\n' ' ')"
  # CPU over warm-up + measurement, per message counted in the measurement: the warm-up adds the same share to each target.
  echo "${rate:-0} ${p50:-nan} ${p99:-nan} $(awk -v c=$((c1 - c0)) -v k="$CLK" -v r="${rate:-0}" -v s="$s" 'BEGIN{ if(r>0) printf "%.2f", c/k*1e6/(r*(s+2)); else print "nan"}') ${err:-nan}"
}
for t in $TARGETS; do log "warm-up $t"; run_load "$t" 4 >/dev/null; done
for r in $(seq 1 "$REPS"); do
  for t in $TARGETS; do
    read -r rate p50 p99 cpu err < <(run_load "$t" "$SECS")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$rate" "$p50" "$p99" "$cpu" >>"$RAW"
    log "$t rep=$r: $rate msgs/s, p50 ${p50} us, p99 ${p99} us, proxy CPU ${cpu} us/msg, errors ${err}"
  done
done
{
  echo "WebSocket echo through TLS termination ($CONNS connections, window $WINDOW, $SIZE-byte text frames, ${SECS}s x $REPS, interleaved; all on the same cores)"
  printf '%-8s %14s %22s %10s %10s %12s\n' target "msgs/s median" "[min..max]" "p50 us" "p99 us" "CPU us/msg"
  for t in $TARGETS; do
    m=$(awk -v t=$t '$1==t{print $3}' "$RAW" | median); mm=$(awk -v t=$t '$1==t{print $3}' "$RAW" | minmax)
    a=$(awk -v t=$t '$1==t{print $4}' "$RAW" | median); b=$(awk -v t=$t '$1==t{print $5}' "$RAW" | median)
    c=$(awk -v t=$t '$1==t{print $6}' "$RAW" | median)
    printf '%-8s %14s %22s %10s %10s %12s\n' "$t" "$m" "[$mm]" "$a" "$b" "$c"
  done
  if [[ " $TARGETS " == *" cand "* ]]; then
    cm=$(awk '$1=="cand"{print $3}' "$RAW" | median)
    for t in $TARGETS; do [ "$t" = cand ] && continue
      om=$(awk -v t=$t '$1==t{print $3}' "$RAW" | median)
      echo "ratio cand/$t: $(awk -v a="$cm" -v b="$om" 'BEGIN{ if(b>0) printf "%.2f", a/b; else print "nan"}')"
    done
  fi
} | tee "$OUTDIR/summary.txt"
