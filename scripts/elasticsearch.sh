#!/usr/bin/env bash
# A real, local, single-node Elasticsearch (or OpenSearch) for tests and demos.
#
#   scripts/elasticsearch.sh start [--keep]   start (or reuse) it; the last line printed is its URL
#   scripts/elasticsearch.sh stop             stop it; no process is left behind
#   scripts/elasticsearch.sh status           print its URL and health, exit 1 if it is not up
#   scripts/elasticsearch.sh url              print the URL it serves (whether up or not)
#   scripts/elasticsearch.sh home             fetch the distribution if needed, print its directory
#                                             and, on a second line, the JDK it runs on
#   scripts/elasticsearch.sh java             print the JDK it would run on (exit 1 if none fits)
#
# It is Elastic's runnable integ-test distribution from Maven Central (no bundled JDK, only the
# transport-netty4, x-pack-core, x-pack-security and apm modules). Security is off: this instance
# listens on 127.0.0.1 only and exists for tests. Environment:
#   ES_VERSION    (default below)      ES_PORT      HTTP port (default 9250)
#   ES_HEAP       heap size (512m)     ES_JAVA_HOME a JDK 17+ (21+ for 9.x; default: the `java` on
#                                      PATH if new enough, else the newest under /usr/lib/jvm)
#   ES_STATE_DIR  where the distribution, data and logs live (default .cache/elasticsearch)
#   ES_USER       unprivileged user used when run as root (default kubearmor-es)
#   ES_JAVA_EXTRA_OPTS  more JVM options; the tests' short-lived nodes pass -XX:TieredStopAtLevel=1
#                    (no C2 compiler: about half the CPU to start, slower once up)
#   ES_SECURE_CERTS  a directory with ca.crt, tls.crt, tls.key (PEM): security on, TLS on HTTP
#                    and transport, with ES_PASSWORD as the `elastic` user's bootstrap password
#                    (the tests of the Kubernetes setup Job use this; pick another ES_PORT)
# API keys and service tokens live in the `.security` index, whose analyzer needs three analysis
# components of the `analysis-common` module this distribution lacks (and Maven Central does not
# carry): scripts/elasticsearch-security-analysis/ supplies them as a plugin, compiled here with
# the JDK's javac against the distribution's own jars.
# ES_DISTRIBUTION=opensearch runs OpenSearch's integ-test distribution instead (default version
# 2.19.6, on a JDK 17; 3.x needs 21), the same way: its own data under node-<port>-opensearch-<version>,
# no security (ES_SECURE_CERTS is refused).
# `--keep` marks the node as started by hand, so the test command reuses it and leaves it running.
set -euo pipefail

ES_DISTRIBUTION="${ES_DISTRIBUTION:-elasticsearch}"
case "$ES_DISTRIBUTION" in
  elasticsearch)
    ES_VERSION="${ES_VERSION:-8.19.21}"
    flavour=""
    artifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch"
    ;;
  opensearch)
    ES_VERSION="${ES_VERSION:-2.19.6}"
    flavour="opensearch-"
    artifact="org.opensearch.distribution.integ-test-zip:opensearch"
    ;;
  *)
    echo "elasticsearch: ES_DISTRIBUTION is elasticsearch or opensearch, not $ES_DISTRIBUTION" >&2
    exit 2
    ;;
esac
ES_PORT="${ES_PORT:-9250}"
ES_HEAP="${ES_HEAP:-512m}"
ES_USER="${ES_USER:-kubearmor-es}"
START_TIMEOUT_S="${ES_START_TIMEOUT_S:-180}"

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_SECURE_CERTS="${ES_SECURE_CERTS:-}"
if [ -n "$ES_SECURE_CERTS" ]; then
  [ "$ES_DISTRIBUTION" = elasticsearch ] || { echo "elasticsearch: ES_SECURE_CERTS is for Elasticsearch only" >&2; exit 2; }
  [ -n "${ES_PASSWORD:-}" ] || { echo "elasticsearch: ES_SECURE_CERTS needs ES_PASSWORD" >&2; exit 2; }
  url="https://127.0.0.1:${ES_PORT}"
  curl_auth=(--cacert "$ES_SECURE_CERTS/ca.crt" -u "elastic:$ES_PASSWORD")
else
  url="http://127.0.0.1:${ES_PORT}"
  curl_auth=()
fi

log() { echo "$ES_DISTRIBUTION: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as the user Elasticsearch runs as (ES refuses to run as root).
as_es_user() {
  if is_root; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

ensure_es_user() {
  is_root || return 0
  if ! id "$ES_USER" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$ES_USER" || die "could not create user $ES_USER"
  fi
}

# The state directory must be reachable by the unprivileged user; a checkout under a private
# home directory is not, so fall back to a fixed place under /var/tmp.
choose_state_dir() {
  if [ -n "${ES_STATE_DIR:-}" ]; then
    state_dir="$ES_STATE_DIR"
  else
    state_dir="$repo_dir/.cache/elasticsearch"
    if is_root && id "$ES_USER" >/dev/null 2>&1; then
      mkdir -p "$state_dir"
      if ! runuser -u "$ES_USER" -- test -x "$state_dir" 2>/dev/null; then
        state_dir="/var/tmp/kubearmor-elasticstack-logging/elasticsearch"
      fi
    fi
  fi
  mkdir -p "$state_dir"
  dist_dir="$state_dir/dist"
  es_home="$dist_dir/$ES_DISTRIBUTION-$ES_VERSION"
  # Per version too: a node's data, once a newer major has opened it, cannot go back to an older one.
  node_dir="$state_dir/node-$ES_PORT-$flavour$ES_VERSION"
  pid_file="$node_dir/es.pid"
  keep_file="$node_dir/keep"
}

# The feature version of the java in a JDK home (17, 21, 25…), or 0.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1 | cut -d. -f1 || echo 0
}

# ES_JAVA_HOME, else the `java` on PATH if new enough for this version (Elasticsearch 8.x and
# OpenSearch 2.x: 17, newer: 21), else the newest JDK under /usr/lib/jvm that is.
find_java_home() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then
    echo "$ES_JAVA_HOME"
    return
  fi
  local need=17 home candidate best="" best_major=0 major
  case "$flavour$ES_VERSION" in 8.* | opensearch-2.*) ;; *) need=21 ;; esac
  if command -v java >/dev/null 2>&1; then
    home="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p' | head -n 1)"
    if [ -n "$home" ] && [ "$(java_major "$home")" -ge "$need" ]; then
      echo "$home"
      return
    fi
  fi
  for candidate in /usr/lib/jvm/*; do
    [ -x "$candidate/bin/java" ] || continue
    major="$(java_major "$candidate")"
    if [ "${major:-0}" -gt "$best_major" ]; then
      best="$candidate"
      best_major="$major"
    fi
  done
  [ "$best_major" -ge "$need" ] || die "$ES_DISTRIBUTION $ES_VERSION needs a JDK $need+: none on PATH or under /usr/lib/jvm; set ES_JAVA_HOME"
  echo "$best"
}

fetch_distribution() {
  [ -x "$es_home/bin/$ES_DISTRIBUTION" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch $ES_DISTRIBUTION from Maven Central"
  local zip="$dist_dir/$ES_DISTRIBUTION-$ES_VERSION.zip"
  mkdir -p "$dist_dir"
  if [ ! -s "$zip" ]; then
    log "fetching $artifact:$ES_VERSION (50 to 100 MB)"
    mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
      -Dartifact="$artifact:$ES_VERSION:zip" \
      -DoutputDirectory="$dist_dir" >&2 || die "Maven could not fetch $ES_DISTRIBUTION $ES_VERSION"
  fi
  rm -rf "$es_home.tmp"
  mkdir -p "$es_home.tmp"
  unzip -q "$zip" -d "$es_home.tmp"
  mv "$es_home.tmp/$ES_DISTRIBUTION-$ES_VERSION" "$es_home"
  rm -rf "$es_home.tmp"
}

# Fetches the distribution and builds the test plugin, one start at a time: the test command starts
# two versions at once, and Maven's local repository and the build directories are shared.
prepare_distribution() {
  exec 8>"$state_dir/.lock-distributions"
  flock 8
  fetch_distribution
  [ "$ES_DISTRIBUTION" = opensearch ] || install_security_analysis
  flock -u 8
}

# The test plugin of the `.security` index's analysis components (see the top of this file),
# rebuilt when its source changes.
install_security_analysis() {
  local src="$repo_dir/scripts/elasticsearch-security-analysis"
  local dest="$es_home/plugins/security-analysis"
  local stamp
  stamp="$ES_VERSION $(cat "$src"/src/org/kubearmor/securityanalysis/*.java | sha256sum | cut -c1-16)"
  [ "$(cat "$dest/.built-from" 2>/dev/null)" = "$stamp" ] && return 0
  # The JDK the node runs on compiles it: 9.x's jars are Java 21 class files, which a JDK 17 cannot read.
  local javac
  javac="$(find_java_home)/bin/javac"
  [ -x "$javac" ] || javac="$(command -v javac)" || die "javac (a JDK 17+) is needed to build $src"
  local release=17
  case "$ES_VERSION" in 8.*) ;; *) release=21 ;; esac
  local build="$dist_dir/security-analysis-$ES_VERSION.build"
  rm -rf "$build" "$dest"
  mkdir -p "$build/classes" "$dest"
  "$javac" --release "$release" -nowarn -d "$build/classes" -cp "$es_home/lib/*" \
    "$src"/src/org/kubearmor/securityanalysis/*.java >&2 || die "could not compile $src"
  (cd "$build/classes" && jar cf "$dest/security-analysis.jar" .)
  sed "s/@ES_VERSION@/$ES_VERSION/" "$src/plugin-descriptor.properties" >"$dest/plugin-descriptor.properties"
  echo "$stamp" >"$dest/.built-from"
  rm -rf "$build"
}

write_config() {
  local conf="$node_dir/config"
  mkdir -p "$conf" "$node_dir/data" "$node_dir/logs"
  # Start from the distribution's config (jvm.options, log4j2) and write our own elasticsearch.yml.
  cp -n "$es_home/config/jvm.options" "$es_home/config/log4j2.properties" "$conf/" 2>/dev/null || true
  [ -d "$conf/jvm.options.d" ] || mkdir -p "$conf/jvm.options.d"
  local yml="$conf/$ES_DISTRIBUTION.yml"
  cat >"$yml" <<EOF
# Written by scripts/elasticsearch.sh: a local test node. Not a production configuration.
cluster.name: kubearmor-test
node.name: local
path.data: $node_dir/data
path.logs: $node_dir/logs
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  # OpenSearch's integ-test distribution has no security plugin to turn off.
  [ "$ES_DISTRIBUTION" = opensearch ] && return
  if [ -z "$ES_SECURE_CERTS" ]; then
    echo "xpack.security.enabled: false" >>"$yml"
    return
  fi
  mkdir -p "$conf/certs"
  cp "$ES_SECURE_CERTS/ca.crt" "$ES_SECURE_CERTS/tls.crt" "$ES_SECURE_CERTS/tls.key" "$conf/certs/"
  cat >>"$yml" <<EOF
xpack.security.enabled: true
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.certificate: certs/tls.crt
xpack.security.http.ssl.key: certs/tls.key
xpack.security.http.ssl.certificate_authorities: certs/ca.crt
xpack.security.transport.ssl.enabled: true
xpack.security.transport.ssl.verification_mode: certificate
xpack.security.transport.ssl.certificate: certs/tls.crt
xpack.security.transport.ssl.key: certs/tls.key
xpack.security.transport.ssl.certificate_authorities: certs/ca.crt
EOF
  rm -f "$conf/elasticsearch.keystore"
  ES_PATH_CONF="$conf" ES_JAVA_HOME="$(find_java_home)" "$es_home/bin/elasticsearch-keystore" create -s
  printf '%s' "$ES_PASSWORD" | ES_PATH_CONF="$conf" ES_JAVA_HOME="$(find_java_home)" \
    "$es_home/bin/elasticsearch-keystore" add -x -s bootstrap.password
}

# Prints the pid if our node's process is alive.
our_pid() {
  [ -s "$pid_file" ] || return 1
  local pid
  pid="$(cat "$pid_file")"
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be a JVM running our node's config.
  grep -qa -- "-Dkubearmor.es.node=$node_dir" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Every JVM that runs this node's config, whatever the pid file says (covers a lost pid file).
node_pids() {
  pgrep -f -- "-Dkubearmor.es.node=$node_dir( |$)" || true
}

port_in_use() {
  [ -n "$(ss -Hltn "sport = :$ES_PORT" 2>/dev/null)" ]
}

port_owner() {
  ss -Hltnp "sport = :$ES_PORT" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
}

healthy() {
  curl -fsS --max-time 5 "${curl_auth[@]}" "$url/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1
}

cmd_start() {
  local keep="$1"
  ensure_es_user
  choose_state_dir
  exec 9>"$state_dir/.lock-$ES_PORT"
  flock 9
  if [ -n "$ES_SECURE_CERTS" ]; then
    # A secured node is made for one test: its certificates and password are new each time.
    stop_node_processes
    rm -rf "$node_dir/data"
  fi
  if pid="$(our_pid)"; then
    if healthy || wait_healthy "$pid"; then
      [ "$keep" = 1 ] && touch "$keep_file"
      log "reusing the node already running (pid $pid)"
      echo "$url"
      return 0
    fi
  fi
  if port_in_use; then
    die "port $ES_PORT is already in use by something else ($(port_owner)); set ES_PORT to another port"
  fi
  # Leftovers of a killed run that never opened the port: stop them before starting anew.
  stop_node_processes
  prepare_distribution
  write_config
  rm -f "$pid_file" "$keep_file"
  # This node's directory and its distribution only: the other nodes' data (a test's second node,
  # the other pass's) and the other distributions being prepared change meanwhile, and a file gone
  # mid-walk fails chown -R (it failed a clean-clone run once).
  if is_root; then
    chown "$ES_USER:" "$state_dir" "$dist_dir"
    chown -R "$ES_USER:" "$es_home" "$node_dir"
  fi
  local java_home started_at
  java_home="$(find_java_home)"
  started_at="$(date +%s%N)"
  log "starting $ES_DISTRIBUTION $ES_VERSION on $url (heap $ES_HEAP, java $java_home)"
  # OpenSearch reads the same variables under its own prefix. The node must not inherit our lock
  # descriptors (OpenSearch keeps them open, so a later `stop` would wait on its own lock forever).
  local env_prefix=ES
  [ "$ES_DISTRIBUTION" = opensearch ] && env_prefix=OPENSEARCH
  if ! as_es_user env "${env_prefix}_JAVA_HOME=$java_home" "${env_prefix}_PATH_CONF=$node_dir/config" \
    "${env_prefix}_JAVA_OPTS=-Xms$ES_HEAP -Xmx$ES_HEAP -Dkubearmor.es.node=$node_dir ${ES_JAVA_EXTRA_OPTS:-}" \
    "$es_home/bin/$ES_DISTRIBUTION" -d -p "$pid_file" -s >"$node_dir/start.out" 2>&1 8>&- 9>&-; then
    tail -n 40 "$node_dir/start.out" >&2 || true
    tail -n 40 "$node_dir/logs/kubearmor-test.log" >&2 2>/dev/null || true
    die "$ES_DISTRIBUTION did not start"
  fi
  # Elasticsearch detaches once started; OpenSearch 2.x may detach before it writes its pid file.
  local deadline=$((SECONDS + 30))
  until pid="$(our_pid)"; do
    [ -n "$(node_pids)" ] && [ "$SECONDS" -lt "$deadline" ] || die "$ES_DISTRIBUTION exited right after start; see $node_dir/logs"
    sleep 0.2
  done
  wait_healthy "$pid" || die "$ES_DISTRIBUTION did not become healthy within ${START_TIMEOUT_S}s; see $node_dir/logs"
  [ "$keep" = 1 ] && touch "$keep_file"
  local ms=$((($(date +%s%N) - started_at) / 1000000))
  local rss_kb
  rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
  log "up in ${ms} ms, pid $pid, RSS $((rss_kb / 1024)) MiB"
  echo "$url"
}

wait_healthy() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    healthy && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

stop_node_processes() {
  local pids
  pids="$(node_pids)"
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while [ -n "$(node_pids)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.3; done
  pids="$(node_pids)"
  if [ -n "$pids" ]; then
    log "still running after 30 s; killing $pids"
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.5
  fi
}

cmd_stop() {
  choose_state_dir
  exec 9>"$state_dir/.lock-$ES_PORT"
  flock 9
  if [ -z "$(node_pids)" ]; then
    log "not running"
  else
    stop_node_processes
    log "stopped"
  fi
  rm -f "$pid_file" "$keep_file"
}

cmd_status() {
  choose_state_dir
  if pid="$(our_pid)" && healthy; then
    log "up (pid $pid)$([ -f "$keep_file" ] && echo ', started by hand')"
    curl -fsS "${curl_auth[@]}" "$url/_cluster/health" >&2
    echo >&2
    echo "$url"
  else
    log "not running on $url"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start "$([ "${2:-}" = --keep ] && echo 1 || echo 0)" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "$url" ;;
  java) find_java_home ;;
  home)
    choose_state_dir
    prepare_distribution
    echo "$es_home"
    find_java_home
    ;;
  kept)
    choose_state_dir
    [ -f "$keep_file" ]
    ;;
  *)
    echo "usage: $0 start [--keep] | stop | status | url | java | home | kept" >&2
    exit 2
    ;;
esac
