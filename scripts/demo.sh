#!/usr/bin/env bash
# `npm start`: the main job, on this machine. Until the shipper indexes into Elasticsearch (the
# shipping issue), it brings up the local real Elasticsearch, writes realistic KubeArmor relay
# logs (with kubelet rotations) into demo/, and shows what the shipper makes of them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f dist/kubearmor-shipper.js ] || node scripts/build.mjs
shipper() { node dist/kubearmor-shipper.js "$@"; }

url="${ES_URL:-}"
if [ -z "$url" ]; then
  url="$(bash scripts/elasticsearch.sh start --keep | tail -n 1)"
fi
echo "Elasticsearch: $url"

rm -rf demo
echo
echo "== generating relay logs into demo/node (CRI format, kubelet rotation every 2 MB)"
shipper generate --out demo/node --lines 20000 --rotate-bytes 2000000 --max-files 20
echo
echo "== reading them (dry run): one JSON document per record into demo/documents.ndjson"
shipper run --once --dry-run --paths 'demo/node/containers/kubearmor-relay-*.log' \
  --checkpoint-dir demo/checkpoints --node-name demo-node >demo/documents.ndjson
echo
echo "== the first alert, as it will be indexed"
grep -m1 '"index":"kubearmor-alerts-' demo/documents.ndjson | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(o.index, o.id);console.log(JSON.stringify(o.document,null,1).slice(0,1500))})'
echo
echo "Run it again and nothing new is printed (positions are in demo/checkpoints):"
echo "  node dist/kubearmor-shipper.js run --once --dry-run --paths 'demo/node/containers/kubearmor-relay-*.log' --checkpoint-dir demo/checkpoints"
echo "Indexing into Elasticsearch is the next step being built. Stop Elasticsearch with: npm run es:stop"
