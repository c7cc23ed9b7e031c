import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CounterName } from '../metrics/counters.js';
import { Counters } from '../metrics/counters.js';
import { COUNTER_METRICS, ShipperMetrics } from './shipper-metrics.js';

const idle = {
  bytesInFlight: () => 0,
  fileLag: () => [{ path: '/var/log/containers/a.log', bytes: 7 }],
  checkpointAgeSeconds: () => 1,
  filesOpen: () => 1,
  filesUnreadable: () => 0,
  relayLogsWithoutEvents: () => 1,
  elasticsearchUp: () => true,
  podWatch: () => ({
    enabled: false,
    watching: false,
    secondsSinceActivity: 0,
    pods: { live: 0, deleted: 0 },
    namespaces: 0,
  }),
};

test('every pipeline counter is on the endpoint, with its label and value, read when scraped', async () => {
  const counters = new Counters();
  const metrics = await ShipperMetrics.create(counters, idle);
  const names = Object.keys(COUNTER_METRICS) as CounterName[];
  names.forEach((name, i) => {
    counters.inc(name, COUNTER_METRICS[name][1] === undefined ? '' : 'some', i + 1);
  });
  const text = await metrics.registry.metrics();
  names.forEach((name, i) => {
    const label = COUNTER_METRICS[name][1];
    const series = `kubearmor_shipper_${name}_total${label === undefined ? '' : `{${label}="some"}`}`;
    assert.ok(text.includes(`\n${series} ${i + 1}\n`), `${series} ${i + 1} in:\n${text.slice(0, 400)}`);
  });
  // The bytes cut from over-long events: counted by the reader, once missing from the endpoint.
  assert.match(text, /\nkubearmor_shipper_bytes_skipped_long_lines_total \d+\n/);

  counters.inc('bytes_lost', 'truncated', 5);
  assert.match(
    await metrics.registry.metrics(),
    /\nkubearmor_shipper_bytes_lost_total\{reason="truncated"\} 5\n/,
  );
  // A gauge of the pipeline's state, read when scraped.
  assert.match(await metrics.registry.metrics(), /\nkubearmor_shipper_relay_logs_without_events 1\n/);
});
