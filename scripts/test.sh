#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, type-check, then unit and integration tests in one
# node:test run against a real Elasticsearch and a real kube-apiserver (with etcd) that this
# script starts and stops. The API server is built from source the first time (~6 min, cached in
# .cache/kube), overlapped with lint, type-check and Elasticsearch's start.
# The same tests also run, at the same time, on the Node the image runs (the Dockerfile's node:22):
# TEST_NODE_VERSIONS lists exact versions to run them on besides this machine's (default below; ''
# for none), e.g. TEST_NODE_VERSIONS="22.23.3 24.21.0", each fetched once by scripts/node-binary.sh.
# TEST_ES_URL=<url> / TEST_KUBECONFIG=<file> use ones you already run instead (nothing is started
# or stopped). Ones started by hand (`npm run es:start`, `scripts/kube-apiserver.sh start --keep`)
# are reused and left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

es_out="$(mktemp)"
kube_out="$(mktemp)"
es_pid=""
kube_pid=""
extra_pids=()
stop_es=0
stop_kube=0
cleanup() {
  for pid in "${extra_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$es_pid" ] && wait "$es_pid" 2>/dev/null
  [ -n "$kube_pid" ] && wait "$kube_pid" 2>/dev/null
  [ "$stop_es" = 1 ] && bash scripts/elasticsearch.sh stop || true
  [ "$stop_kube" = 1 ] && bash scripts/kube-apiserver.sh stop || true
  rm -f "$es_out" "$kube_out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${TEST_ES_URL:-}" ]; then
  # Elasticsearch takes ~12 s to start: overlap it with lint and type-check.
  bash scripts/elasticsearch.sh start >"$es_out" &
  es_pid=$!
  bash scripts/elasticsearch.sh kept 2>/dev/null || stop_es=1
fi
if [ -z "${TEST_KUBECONFIG:-}" ]; then
  bash scripts/kube-apiserver.sh start >"$kube_out" &
  kube_pid=$!
  bash scripts/kube-apiserver.sh kept 2>/dev/null || stop_kube=1
fi

echo "== lint (biome)"
node_modules/.bin/biome ci --colors=off .
echo "== type-check (tsc)"
node_modules/.bin/tsc --noEmit -p .
echo "== bundle (the image's dist/kubearmor-shipper.js, tested below)"
node scripts/build.mjs

# started <name> <pid> <output file>: waits for a background start (in this shell: `wait` only
# knows its own children); `last_line` is the last line it printed.
started() {
  echo "== $1"
  wait "$2" || { echo "could not start $1" >&2; exit 1; }
  last_line="$(tail -n 1 "$3")"
}
if [ -n "$es_pid" ]; then
  started elasticsearch "$es_pid" "$es_out"
  es_pid=""
  TEST_ES_URL="$last_line"
fi
if [ -n "$kube_pid" ]; then
  started kube-apiserver "$kube_pid" "$kube_out"
  kube_pid=""
  TEST_KUBECONFIG="$last_line"
fi
export TEST_ES_URL TEST_KUBECONFIG
echo "tests use Elasticsearch at $TEST_ES_URL and the kube-apiserver of $TEST_KUBECONFIG"

# Node 20's runner finds no .ts files when given a directory, so pass the list.
mapfile -t files < <(find daemon dashboards deployments scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "no test files found" >&2; exit 1; }
# The passes on other Node versions run at the same time as this machine's, against the same
# Elasticsearch and API server: each uses its own ports for the nodes its tests start, and every
# test its own index prefix and namespace. Their output follows this pass's.
extra_logs=()
i=0
for version in ${TEST_NODE_VERSIONS-22.23.3}; do
  i=$((i + 1))
  bin_dir="$(bash scripts/node-binary.sh "$version")"
  log="$(mktemp)"
  PATH="$bin_dir:$PATH" TEST_ES_OUTAGE_PORT=$((9251 + i)) TEST_ES_SECURE_PORT=$((9260 + i)) \
    node --import tsx --test --test-reporter=spec "${files[@]}" >"$log" 2>&1 &
  extra_pids+=("$!")
  extra_logs+=("$version $log")
done
echo "== tests (${#files[@]} files) on Node $(node --version | cut -c2-)${extra_logs:+, and at the same time on Node ${TEST_NODE_VERSIONS-22.23.3}}"
status=0
node --import tsx --test --test-reporter=spec "${files[@]}" || status=1
for j in "${!extra_pids[@]}"; do
  read -r version log <<<"${extra_logs[$j]}"
  wait "${extra_pids[$j]}" || status=1
  echo "== the same tests on Node $version"
  cat "$log"
  rm -f "$log"
done
extra_pids=()
exit "$status"
