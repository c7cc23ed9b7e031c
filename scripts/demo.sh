#!/usr/bin/env bash
# `npm start`: the main job. Until the shipper can index (the shipping issue), it brings up the
# local real Elasticsearch the tests use and says what is coming.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
url="${ES_URL:-}"
if [ -z "$url" ]; then
  url="$(bash scripts/elasticsearch.sh start --keep | tail -n 1)"
fi
echo
echo "Elasticsearch is up at $url"
curl -fsS "$url/_cluster/health?pretty" || true
echo
echo "The shipper ($(node dist/kubearmor-shipper.js --version)) cannot tail and index yet; it is being built"
echo "issue by issue. Stop this Elasticsearch with: npm run es:stop"
