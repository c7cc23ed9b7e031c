#!/usr/bin/env bash
# A real kube-apiserver (with etcd) for tests, built from the k8s.io/kubernetes Go module pinned in
# daemon/test/kube-apiserver/go.mod (through the Go module proxy), once, into .cache/kube/.
#   scripts/kube-apiserver.sh build           build (or reuse) it; prints the binary's path
#   scripts/kube-apiserver.sh etcd            build (or reuse) etcd from daemon/test/etcd; prints its path
#   scripts/kube-apiserver.sh kubectl         build (or reuse) kubectl from the same module; prints its path
#   scripts/kube-apiserver.sh start [--keep]  build both if needed, start etcd and the API server on
#                                             127.0.0.1 (or reuse running ones); the last line printed
#                                             is an admin kubeconfig's path
#   scripts/kube-apiserver.sh stop            stop both; nothing is left behind
#   scripts/kube-apiserver.sh status          print the kubeconfig path, exit 1 if not ready
# The server has self-generated serving certificates (--cert-dir), a static token file (a random
# admin token made at each start), RBAC authorization and a service-account signing key, so
# ServiceAccount tokens (TokenRequest) work. Its files live in .cache/kube/run: `apiserver.args`
# lets a test start a second server on the same etcd (to stop and restart it at will).
# Measured here: kube-apiserver build cold ~4 min, etcd ~40 s; start ~5 s.
# Environment: KUBE_APISERVER_PORT (26443), KUBE_ETCD_PORT (23790).
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="$repo_dir/daemon/test/kube-apiserver"
out_dir="$repo_dir/.cache/kube"
version="$(sed -n 's/^\(require \)\{0,1\}[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\)$/\2/p' "$module_dir/go.mod")"
bin="$out_dir/kube-apiserver-$version"
kubectl_bin="$out_dir/kubectl-$version"
run_dir="$out_dir/run"
api_port="${KUBE_APISERVER_PORT:-26443}"
etcd_port="${KUBE_ETCD_PORT:-23790}"
kubeconfig="$run_dir/admin.kubeconfig"

log() { echo "kube-apiserver: $*" >&2; }

# go_build <what> <module dir> <output> <package> [ldflags]: builds once; prints the output path.
go_build() {
  local what="$1" dir="$2" out="$3" package="$4" ldflags="${5:-}"
  if [ ! -x "$out" ]; then
    command -v go >/dev/null 2>&1 || { log "Go is needed to build $what"; exit 1; }
    mkdir -p "$out_dir"
    log "building $what (a few minutes the first time)"
    # -s -w: no symbol table or DWARF, a quicker link of a binary only tests run.
    (cd "$dir" && go build -trimpath -o "$out.tmp" -ldflags "-s -w $ldflags" "$package")
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_apiserver() {
  go_build "kube-apiserver $version" "$module_dir" "$bin" k8s.io/kubernetes/cmd/kube-apiserver \
    "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
}

build_kubectl() {
  go_build "kubectl $version" "$module_dir" "$kubectl_bin" k8s.io/kubernetes/cmd/kubectl \
    "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version"
}

build_etcd() {
  local etcd_dir="$repo_dir/daemon/test/etcd" etcd_version
  etcd_version="$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$etcd_dir/go.mod")"
  go_build "etcd $etcd_version" "$etcd_dir" "$out_dir/etcd-$etcd_version" go.etcd.io/etcd/server/v3
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ready() {
  [ -f "$run_dir/admin.token" ] || return 1
  curl -sf --max-time 2 -k -H "Authorization: Bearer $(cat "$run_dir/admin.token")" \
    "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1
}

stop_all() {
  local f pid
  for f in "$run_dir/apiserver.pid" "$run_dir/etcd.pid"; do
    if alive "$f"; then
      pid="$(cat "$f")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

start_all() {
  local apiserver etcd_bin token
  apiserver="$(build_apiserver)"
  etcd_bin="$(build_etcd)"
  mkdir -p "$run_dir"
  build_kubectl >"$run_dir/kubectl.bin"
  if alive "$run_dir/apiserver.pid" && alive "$run_dir/etcd.pid" && ready; then
    log "reusing the running server on 127.0.0.1:$api_port"
    echo "$kubeconfig"
    return
  fi
  stop_all
  mkdir -p "$run_dir/certs"
  rm -rf "$run_dir/etcd-data"
  [ -f "$run_dir/sa.key" ] || openssl genrsa -out "$run_dir/sa.key" 2048 2>/dev/null
  token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "$token" >"$run_dir/admin.token"
  echo "$token,admin,admin-uid,system:masters" >"$run_dir/tokens.csv"
  chmod 600 "$run_dir/admin.token" "$run_dir/tokens.csv" "$run_dir/sa.key"
  "$etcd_bin" --data-dir "$run_dir/etcd-data" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
    --initial-cluster "default=http://127.0.0.1:$((etcd_port + 10))" \
    >"$run_dir/etcd.log" 2>&1 &
  echo $! >"$run_dir/etcd.pid"
  # Everything but the port, one argument per line: tests start more servers from it.
  cat >"$run_dir/apiserver.args" <<ARGS
--etcd-servers=http://127.0.0.1:$etcd_port
--bind-address=127.0.0.1
--advertise-address=127.0.0.1
--cert-dir=$run_dir/certs
--token-auth-file=$run_dir/tokens.csv
--authorization-mode=RBAC
--service-account-key-file=$run_dir/sa.key
--service-account-signing-key-file=$run_dir/sa.key
--service-account-issuer=https://kubernetes.default.svc
--service-cluster-ip-range=10.96.0.0/16
ARGS
  echo "$apiserver" >"$run_dir/apiserver.bin"
  mapfile -t args <"$run_dir/apiserver.args"
  "$apiserver" "${args[@]}" --secure-port="$api_port" >"$run_dir/apiserver.log" 2>&1 &
  echo $! >"$run_dir/apiserver.pid"
  for _ in $(seq 1 120); do
    ready && break
    if ! alive "$run_dir/apiserver.pid" || ! alive "$run_dir/etcd.pid"; then
      tail -n 20 "$run_dir/etcd.log" "$run_dir/apiserver.log" >&2
      stop_all
      log "error: it exited while starting (logs above)"
      exit 1
    fi
    sleep 0.5
  done
  if ! ready; then
    tail -n 20 "$run_dir/apiserver.log" >&2
    stop_all
    log "error: not ready after 60 s"
    exit 1
  fi
  cat >"$kubeconfig" <<CONFIG
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $run_dir/certs/apiserver.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
CONFIG
  chmod 600 "$kubeconfig"
  [ "${1:-}" = "--keep" ] && touch "$run_dir/keep" || rm -f "$run_dir/keep"
  log "ready on https://127.0.0.1:$api_port"
  echo "$kubeconfig"
}

case "${1:-}" in
  build) build_apiserver ;;
  etcd) build_etcd ;;
  kubectl) build_kubectl ;;
  start) start_all "${2:-}" ;;
  stop) stop_all; rm -f "$run_dir/keep" ;;
  status)
    ready || { log "not running"; exit 1; }
    echo "$kubeconfig"
    ;;
  kept) [ -f "$run_dir/keep" ] ;;
  *)
    echo "usage: $0 build | etcd | kubectl | start [--keep] | stop | status" >&2
    exit 2
    ;;
esac
