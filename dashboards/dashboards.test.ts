import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { kubeArmorMappings } from '../daemon/src/ship/index-templates.js';
import { NDJSON_PATH } from './build.js';
import { savedObjects, toNdjson } from './saved-objects.js';
import { DASHBOARDS, MIN_KIBANA } from './spec.js';
import { validateNdjson } from './validate-ndjson.js';

const committed = readFileSync(NDJSON_PATH, 'utf8');

test('the committed NDJSON is what the spec generates (run `npm run dashboards:build`)', () => {
  assert.equal(committed, toNdjson(savedObjects()));
});

test('the NDJSON passes the import checks', () => {
  assert.deepEqual(validateNdjson(committed, MIN_KIBANA), []);
  const types = committed
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { type: string }).type);
  assert.deepEqual(types, ['index-pattern', 'index-pattern', 'search', 'dashboard', 'dashboard']);
});

test('the validator catches what Kibana would refuse or render broken', () => {
  const objects = savedObjects();
  const dash = objects.find((o) => o.type === 'dashboard') as (typeof objects)[number];
  const panels = JSON.parse(dash.attributes.panelsJSON as string) as {
    gridData: { x: number; y: number; w: number };
  }[];
  const mutate = (f: (o: typeof objects) => void) => {
    const copy = structuredClone(objects);
    f(copy);
    return validateNdjson(toNdjson(copy), MIN_KIBANA).map((p) => p.message);
  };
  assert.ok(
    mutate((o) => ((o[0] as { typeMigrationVersion: string }).typeMigrationVersion = '9.1.0')).some((m) =>
      /newer than Kibana/.test(m),
    ),
  );
  assert.ok(mutate((o) => o.splice(0, 1)).some((m) => /is not in the file/.test(m)));
  const overlapping = structuredClone(panels);
  (overlapping[1] as { gridData: { y: number } }).gridData.y = 0;
  assert.ok(
    mutate((o) => {
      (o[3] as { attributes: Record<string, unknown> }).attributes.panelsJSON = JSON.stringify(overlapping);
    }).some((m) => /overlap/.test(m)),
  );
  const wide = structuredClone(panels);
  (wide[0] as { gridData: { w: number } }).gridData.w = 60;
  assert.ok(
    mutate((o) => {
      (o[3] as { attributes: Record<string, unknown> }).attributes.panelsJSON = JSON.stringify(wide);
    }).some((m) => /48-column/.test(m)),
  );
  assert.ok(
    mutate((o) => (o[3] as { references: unknown[] }).references.pop()).some((m) =>
      /lacks reference|no reference/.test(m),
    ),
  );
  assert.ok(validateNdjson('{"type":"dashboard"\n', MIN_KIBANA).length > 0);
});

/** The mapping type of a dotted field in the template (undefined if it is not mapped). */
function mappedType(field: string): string | undefined {
  let node: { properties?: Record<string, unknown> } = kubeArmorMappings as {
    properties?: Record<string, unknown>;
  };
  for (const part of field.split('.')) {
    const next = node.properties?.[part] as
      | { properties?: Record<string, unknown>; type?: string }
      | undefined;
    if (next === undefined) return undefined;
    node = next;
  }
  return (node as { type?: string }).type;
}

test('every field a panel uses is in the index template with an aggregatable type', () => {
  const aggregatable = new Set([
    'keyword',
    'long',
    'integer',
    'short',
    'date',
    'date_nanos',
    'boolean',
    'ip',
  ]);
  for (const d of DASHBOARDS) {
    for (const p of d.panels) {
      for (const field of [p.field, p.breakdown, '@timestamp']) {
        if (field === undefined) continue;
        const type = mappedType(field);
        assert.ok(
          type !== undefined && aggregatable.has(type),
          `${d.id}/${p.id}: ${field} is ${type ?? 'not mapped'}`,
        );
      }
      for (const m of (p.filter ?? '').matchAll(/(\w+) :/g)) {
        assert.ok(
          aggregatable.has(mappedType(m[1] as string) ?? ''),
          `${d.id}/${p.id}: filter field ${m[1]}`,
        );
      }
    }
    for (const column of d.search?.columns ?? [])
      assert.ok(mappedType(column) !== undefined, `${d.id}: column ${column}`);
  }
});
