// Prints what the demo shipped, read back from Elasticsearch with aggregations.
import { Client } from '@elastic/elasticsearch';

const [url, prefix] = process.argv.slice(2);
const client = new Client({ node: url });
await client.indices.refresh({ index: `${prefix}-*` });
const counts = await client.search({
  index: `${prefix}-*`,
  size: 0,
  aggs: { by_index: { terms: { field: '_index', size: 50 } } },
});
const perKind = {};
for (const b of counts.aggregations.by_index.buckets) {
  const kind = b.key.slice(prefix.length + 1).replace(/-\d{4}\.\d{2}\.\d{2}$/, '');
  perKind[kind] = (perKind[kind] ?? 0) + b.doc_count;
}
console.log('== in Elasticsearch');
console.log(
  Object.entries(perKind)
    .map(([k, n]) => `${k}=${n}`)
    .join('  '),
);
const alerts = await client.search({
  index: `${prefix}-alerts-*`,
  size: 0,
  track_total_hits: true,
  aggs: {
    severity: { terms: { field: 'severity_num', size: 20, missing: 0, order: { _key: 'desc' } } },
    type: { terms: { field: 'Type', size: 20 } },
    operation: { terms: { field: 'Operation', size: 20 } },
    action: { terms: { field: 'action_base', size: 20 } },
    raw_action: { terms: { field: 'Action', size: 20 } },
  },
});
const line = (title, agg, label = (k) => k) =>
  console.log(`${title.padEnd(22)}${agg.buckets.map((b) => `${label(b.key)}=${b.doc_count}`).join('  ')}`);
console.log(`\n== alerts (${alerts.hits.total.value})`);
line('by severity', alerts.aggregations.severity, (k) => (k === 0 ? 'none' : k));
line('by type', alerts.aggregations.type);
line('by operation', alerts.aggregations.operation);
line('by action', alerts.aggregations.action);
line('by action (raw)', alerts.aggregations.raw_action);
await client.close();
