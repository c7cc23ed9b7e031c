// Every dashboard panel, as the aggregation Kibana would run, against documents our own pipeline
// indexed into the real Elasticsearch from generated relay logs. Each panel's buckets must equal
// counts computed independently from the lines the generator wrote.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { NDJSON_PATH } from '../../../dashboards/build.js';
import { type LensShape, lensShape, panelCounts, panelQuery } from '../../../dashboards/panel-query.js';
import { generateRelayLogs } from '../../src/generate/kubelet-log-writer.js';
import type { GeneratedLine } from '../../src/generate/relay-records.js';
import { cleanUp, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { runShipper, shipArgs } from '../support/shipper-process.js';

let client: Client;
let dir: string;
const prefix = uniquePrefix('panels');
const written: GeneratedLine[] = [];

before(async () => {
  client = testClient();
  dir = await mkdtemp(join(tmpdir(), 'panels-'));
  const corpus = await generateRelayLogs({
    out: join(dir, 'node'),
    records: 8000,
    seed: 61,
    rotateBytes: 2_000_000,
    maxFiles: 1000,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
    onLine: (line) => written.push(line),
  });
  const run = await runShipper([
    'run',
    '--once',
    ...shipArgs({ paths: corpus.glob, checkpointDir: join(dir, 'cp'), esUrl: testEsUrl(), prefix }),
    '--no-http',
  ]);
  assert.equal(run.code, 0, run.stderr);
  await client.indices.refresh({ index: `${prefix}-*` });
});
after(async () => {
  await cleanUp(client, prefix);
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

/** A field of a generated record as the dashboards see it, derived here without the shipper's code. */
function fieldOf(doc: Record<string, unknown>, field: string): string | undefined {
  if (field === 'severity_num')
    return typeof doc.Severity === 'string' && /^\d+$/.test(doc.Severity) ? doc.Severity : undefined;
  if (field === 'action_base')
    return typeof doc.Action === 'string'
      ? doc.Action.startsWith('Audit')
        ? 'Audit'
        : doc.Action
      : undefined;
  const v = doc[field];
  return v === undefined ? undefined : String(v);
}

function matches(doc: Record<string, unknown>, filter: string | undefined): boolean {
  for (const clause of (filter ?? '').split(/\s+and\s+/i).filter((c) => c.trim() !== '')) {
    const m = /^\s*(NOT\s+)?(\w+)\s*:\s*"([^"]*)"\s*$/i.exec(clause) as RegExpExecArray;
    const equal = fieldOf(doc, m[2] as string) === m[3];
    if (m[1] ? equal : !equal) return false;
  }
  return true;
}

function expectedCounts(panel: LensShape, kind: 'alert' | 'log'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of written) {
    if (line.kind !== kind) continue;
    const doc = JSON.parse(line.text) as Record<string, unknown>;
    if (!matches(doc, panel.filter)) continue;
    const value = fieldOf(doc, panel.field);
    if (value === undefined) continue;
    let key = value;
    if (panel.breakdown !== undefined) {
      const second = fieldOf(doc, panel.breakdown);
      if (second === undefined) continue;
      key = `${value}|${second}`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

// The panels as shipped: every Lens panel of every dashboard in the committed NDJSON.
const objects = readFileSync(NDJSON_PATH, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { type: string; id: string; attributes: Record<string, unknown> });
const dataViews = new Map(
  objects.filter((o) => o.type === 'index-pattern').map((o) => [o.id, String(o.attributes.title)]),
);

for (const dashboard of objects.filter((o) => o.type === 'dashboard')) {
  const panels = JSON.parse(String(dashboard.attributes.panelsJSON)) as {
    type: string;
    title: string;
    embeddableConfig: { attributes?: { references: { id: string }[] } };
  }[];
  for (const panel of panels.filter((p) => p.type === 'lens')) {
    test(`${dashboard.id} / ${panel.title}`, async () => {
      const lens = panel.embeddableConfig.attributes as { references: { id: string }[] };
      const pattern = dataViews.get(lens.references[0]?.id ?? '') as string;
      const shape = lensShape(lens);
      const q = panelQuery(shape, pattern.replace(/^kubearmor-/, `${prefix}-`));
      const res = await client.search({ index: q.index, ...q.body });
      const actual = panelCounts(res.aggregations);
      const expected = expectedCounts(shape, pattern.includes('-alerts-') ? 'alert' : 'log');
      assert.ok(actual.size > 0, 'the panel shows something');
      for (const [key, n] of actual) assert.equal(n, expected.get(key), `bucket ${key}`);
      if (shape.breakdown === undefined) {
        // The top values are the top values: nothing left out counts more than the smallest shown.
        assert.equal(actual.size, Math.min(shape.size, expected.size));
        const smallest = Math.min(...actual.values());
        for (const [key, n] of expected)
          if (!actual.has(key)) assert.ok(n <= smallest, `${key} (${n}) should be shown`);
      }
    });
  }
}
