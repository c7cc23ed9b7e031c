#!/usr/bin/env bash
# `npm start`: the main job on this machine, end to end. It writes realistic KubeArmor relay logs
# (with kubelet rotations and gzipped files) into demo/, starts the local real Elasticsearch unless
# ES_URL is set, ships the logs with a live progress line, then reads back from Elasticsearch the
# counts by severity, type, operation and action.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f dist/kubearmor-shipper.js ] || node scripts/build.mjs
shipper() { node dist/kubearmor-shipper.js "$@"; }
prefix=kubearmor-demo

url="${ES_URL:-}"
if [ -z "$url" ]; then
  url="$(bash scripts/elasticsearch.sh start --keep | tail -n 1)"
fi
echo "Elasticsearch: $url"
# A fresh demo each time: the previous demo's indices go.
curl -fsS -X DELETE "$url/$prefix-*" >/dev/null 2>&1 || true

rm -rf demo
echo
echo "== generating relay logs into demo/node (CRI format, kubelet rotation every 5 MB)"
shipper generate --out demo/node --lines 100000 --rotate-bytes 5000000 --max-files 50
echo
echo "== shipping them (logs of the shipper in demo/shipper.log)"
shipper run --once --paths 'demo/node/containers/kubearmor-relay-*.log' --checkpoint-dir demo/checkpoints \
  --node-name demo-node --es-url "$url" --es-replicas 0 --index-prefix "$prefix" --http-port 0 \
  --progress >demo/shipper.log
echo
node scripts/demo-report.mjs "$url" "$prefix"
cat <<TXT

Look further:
  curl -s '$url/$prefix-alerts-*/_search?q=action_base:Block&size=1&pretty'
  node dist/kubearmor-shipper.js run --help
Run the shipper again and nothing is sent twice; delete demo/checkpoints and every document
comes back as "already there" (409). Stop Elasticsearch with: npm run es:stop
TXT
