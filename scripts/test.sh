#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, type-check, then unit and integration tests in one
# node:test run against a real Elasticsearch and a real kube-apiserver (with etcd) that this
# script starts and stops. The API server is built from source the first time (~6 min, cached in
# .cache/kube), overlapped with lint, type-check and Elasticsearch's start.
# The same tests also run, at the same time, on the Node the image runs (the Dockerfile's node:22):
# TEST_NODE_VERSIONS lists exact versions to run them on besides this machine's (default below; ''
# for none), e.g. TEST_NODE_VERSIONS="22.23.3 24.22.3", each fetched once by scripts/node-binary.sh.
# Those other passes run against a second Elasticsearch, of the version TEST_ES_VERSION_2 (default
# below: the newest 9.x on Maven Central; '' for the same node as this machine's pass), whose own
# test nodes (outage, security) are that version too: every test runs against 8.x and 9.x. 9.x
# needs a JDK 21+ (see scripts/elasticsearch.sh); without one the other passes use the first node.
# The OpenSearch tests (ship-opensearch.test.ts) run against an OpenSearch 2.x node on port 9280
# that every pass shares.
# TEST_ES_URL=<url> / TEST_OPENSEARCH_URL=<url> / TEST_KUBECONFIG=<file> use ones you already run
# instead (nothing is started or stopped; with TEST_ES_URL every pass uses that node). Ones started
# by hand (`npm run es:start`, `ES_DISTRIBUTION=opensearch ES_PORT=9280 scripts/elasticsearch.sh
# start --keep`, `scripts/kube-apiserver.sh start --keep`) are reused and left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

es_out="$(mktemp)"
kube_out="$(mktemp)"
main_log=""
failures=""
es_pid=""
es2_out="$(mktemp)"
es2_pid=""
es2_version="${TEST_ES_VERSION_2-9.2.4}"
es2_port=9270
stop_es2=0
os_out="$(mktemp)"
os_pid=""
stop_os=0
# A node for the tests of one file only: the C1 compiler alone, about half the CPU of a full start.
os_env=(ES_DISTRIBUTION=opensearch ES_PORT=9280 ES_JAVA_EXTRA_OPTS=-XX:TieredStopAtLevel=1)
kube_pid=""
extra_pids=()
stop_es=0
stop_kube=0
# The ports of the nodes the tests start of their own: this pass's, then each other pass's.
own_ports=(9251 9260)
cleanup() {
  # Every step, whatever failed before it: a failed start used to end the cleanup at its first
  # `wait`, leaving the other servers running.
  set +e
  for pid in "${extra_pids[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "$es_pid" ] && wait "$es_pid" 2>/dev/null
  [ -n "$es2_pid" ] && wait "$es2_pid" 2>/dev/null
  [ -n "$os_pid" ] && wait "$os_pid" 2>/dev/null
  [ -n "$kube_pid" ] && wait "$kube_pid" 2>/dev/null
  [ "$stop_es" = 1 ] && bash scripts/elasticsearch.sh stop || true
  [ "$stop_es2" = 1 ] && ES_VERSION="$es2_version" ES_PORT="$es2_port" bash scripts/elasticsearch.sh stop || true
  [ "$stop_os" = 1 ] && env "${os_env[@]}" bash scripts/elasticsearch.sh stop || true
  [ "$stop_kube" = 1 ] && bash scripts/kube-apiserver.sh stop || true
  # The nodes tests start of their own (an outage's, a secured one's) are stopped by those tests;
  # here too, should a test process die first: one left running holds its port for the next run.
  for port in "${own_ports[@]}"; do
    for version in "" "$es2_version"; do
      env ${version:+ES_VERSION=$version} ES_PORT="$port" bash scripts/elasticsearch.sh stop >/dev/null 2>&1
    done
  done
  rm -f "$es_out" "$es2_out" "$os_out" "$kube_out" "$main_log" "$failures"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${TEST_ES_URL:-}" ]; then
  # Elasticsearch takes ~12 s to start: overlap it with lint and type-check.
  bash scripts/elasticsearch.sh start >"$es_out" &
  es_pid=$!
  bash scripts/elasticsearch.sh kept 2>/dev/null || stop_es=1
  # Only for passes on other Node versions, and only with a JDK that runs it.
  [ -n "${TEST_NODE_VERSIONS-22.23.3}" ] || es2_version=""
  if [ -n "$es2_version" ] && ! ES_VERSION="$es2_version" bash scripts/elasticsearch.sh java >/dev/null; then
    echo "== no JDK for Elasticsearch $es2_version: the other Node versions' tests use the first node too"
    es2_version=""
  fi
  if [ -n "$es2_version" ]; then
    ES_VERSION="$es2_version" ES_PORT="$es2_port" bash scripts/elasticsearch.sh start >"$es2_out" &
    es2_pid=$!
    ES_VERSION="$es2_version" ES_PORT="$es2_port" bash scripts/elasticsearch.sh kept 2>/dev/null || stop_es2=1
  fi
fi
if [ -z "${TEST_OPENSEARCH_URL:-}" ]; then
  env "${os_env[@]}" bash scripts/elasticsearch.sh start >"$os_out" &
  os_pid=$!
  env "${os_env[@]}" bash scripts/elasticsearch.sh kept 2>/dev/null || stop_os=1
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
es2_url="$TEST_ES_URL"
if [ -n "$es2_pid" ]; then
  started "elasticsearch $es2_version" "$es2_pid" "$es2_out"
  es2_pid=""
  es2_url="$last_line"
fi
if [ -n "$os_pid" ]; then
  started opensearch "$os_pid" "$os_out"
  os_pid=""
  TEST_OPENSEARCH_URL="$last_line"
fi
if [ -n "$kube_pid" ]; then
  started kube-apiserver "$kube_pid" "$kube_out"
  kube_pid=""
  TEST_KUBECONFIG="$last_line"
fi
export TEST_ES_URL TEST_OPENSEARCH_URL TEST_KUBECONFIG
echo "tests use Elasticsearch at $TEST_ES_URL, OpenSearch at $TEST_OPENSEARCH_URL and the kube-apiserver of $TEST_KUBECONFIG"
[ "$es2_url" = "$TEST_ES_URL" ] || echo "the other Node versions' tests use Elasticsearch $es2_version at $es2_url"

# Node 20's runner finds no .ts files when given a directory, so pass the list.
mapfile -t files < <(find daemon dashboards deployments scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "no test files found" >&2; exit 1; }
# The passes on other Node versions run at the same time as this machine's, against the second
# Elasticsearch (or the same one) and the same API server: each uses its own ports for the nodes
# its tests start, and every test its own index prefix and namespace. Their output follows this
# pass's.
extra_logs=()
i=0
for version in ${TEST_NODE_VERSIONS-22.23.3}; do
  i=$((i + 1))
  bin_dir="$(bash scripts/node-binary.sh "$version")"
  log="$(mktemp)"
  es2_env=()
  if [ "$es2_url" != "$TEST_ES_URL" ]; then es2_env=(ES_VERSION="$es2_version"); fi
  own_ports+=($((9251 + i)) $((9260 + i)))
  env PATH="$bin_dir:$PATH" TEST_ES_URL="$es2_url" TEST_ES_OUTAGE_PORT=$((9251 + i)) TEST_ES_SECURE_PORT=$((9260 + i)) \
    "${es2_env[@]}" node --import tsx --test --test-reporter=spec "${files[@]}" >"$log" 2>&1 &
  extra_pids+=("$!")
  extra_logs+=("$version $log")
done
echo "== tests (${#files[@]} files) on Node $(node --version | cut -c2-)${extra_logs:+, and at the same time on Node ${TEST_NODE_VERSIONS-22.23.3}}"
status=0
main_log="$(mktemp)"
node --import tsx --test --test-reporter=spec "${files[@]}" 2>&1 | tee "$main_log" || status=1
failures="$(mktemp)"
# failing <pass> <log>: the runner's own list of failures, which it prints after its summary.
failing() {
  if grep -q '^✖ failing tests:' "$2"; then
    echo "== failed on $1:"
    sed -n '/^✖ failing tests:/,$p' "$2" | head -c 20000
  fi >>"$failures"
}
failing "Node $(node --version | cut -c2-)" "$main_log"
for j in "${!extra_pids[@]}"; do
  read -r version log <<<"${extra_logs[$j]}"
  wait "${extra_pids[$j]}" || status=1
  echo "== the same tests on Node $version, against Elasticsearch at $es2_url"
  cat "$log"
  failing "Node $version" "$log"
  rm -f "$log"
done
extra_pids=()
# Again at the very end, so that an excerpt of the output's last lines shows what failed where.
if [ -s "$failures" ]; then
  echo "== what failed, on every pass"
  cat "$failures"
fi
exit "$status"
