#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, type-check, then unit and integration tests in one
# node:test run against a real Elasticsearch and a real kube-apiserver (with etcd) that this
# script starts and stops. The API server is built from source the first time (~4 min, cached in
# .cache/kube), overlapped with lint, type-check and Elasticsearch's start.
# Then the same tests again on the Node the image runs (the Dockerfile's node:22): TEST_NODE_VERSIONS
# lists exact versions to run them on besides this machine's (default below; '' for none), e.g.
# TEST_NODE_VERSIONS="22.23.3 24.21.0", each fetched once by scripts/node-binary.sh.
# TEST_ES_URL=<url> / TEST_KUBECONFIG=<file> use ones you already run instead (nothing is started
# or stopped). Ones started by hand (`npm run es:start`, `scripts/kube-apiserver.sh start --keep`)
# are reused and left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

es_out="$(mktemp)"
kube_out="$(mktemp)"
es_pid=""
kube_pid=""
stop_es=0
stop_kube=0
cleanup() {
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
echo "== tests (${#files[@]} files)"
node --import tsx --test --test-reporter=spec "${files[@]}"
for version in ${TEST_NODE_VERSIONS-22.23.3}; do
  bin_dir="$(bash scripts/node-binary.sh "$version")"
  echo "== the same tests on Node $version"
  PATH="$bin_dir:$PATH" node --import tsx --test --test-reporter=spec "${files[@]}"
done
