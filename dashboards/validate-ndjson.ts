// Checks a saved-objects NDJSON file the way Kibana's import would, without Kibana: one object per
// line with the envelope fields, JSON-string attributes that parse, every reference resolving to an
// object in the file, unique panel ids and references, panels inside the 48-column grid and not
// overlapping, and no version stamp newer than the oldest Kibana supported.

export interface Problem {
  line: number;
  id: string;
  message: string;
}

const JSON_STRING_ATTRIBUTES = [
  'panelsJSON',
  'optionsJSON',
  'fields',
  'fieldFormatMap',
  'fieldAttrs',
  'runtimeFieldMap',
  'sourceFilters',
];

function newer(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  }
  return false;
}

export function validateNdjson(text: string, minKibana: string): Problem[] {
  const problems: Problem[] = [];
  const objects: { line: number; o: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    try {
      const o = JSON.parse(raw) as Record<string, unknown>;
      if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('not an object');
      objects.push({ line, o });
    } catch (err) {
      problems.push({ line, id: '?', message: `not one JSON object per line: ${(err as Error).message}` });
    }
  });
  const ids = new Set<string>();
  for (const { line, o } of objects) {
    const id = String(o.id ?? '?');
    const add = (message: string) => problems.push({ line, id, message });
    for (const key of [
      'type',
      'id',
      'attributes',
      'references',
      'coreMigrationVersion',
      'typeMigrationVersion',
    ]) {
      if (o[key] === undefined) add(`missing ${key}`);
    }
    if (ids.has(`${o.type}:${id}`)) add('duplicate id');
    ids.add(`${o.type}:${id}`);
    for (const key of ['coreMigrationVersion', 'typeMigrationVersion']) {
      if (typeof o[key] === 'string' && newer(o[key] as string, minKibana))
        add(`${key} ${o[key]} is newer than Kibana ${minKibana}`);
    }
    const attributes = (o.attributes ?? {}) as Record<string, unknown>;
    for (const key of JSON_STRING_ATTRIBUTES) {
      if (attributes[key] === undefined) continue;
      if (typeof attributes[key] !== 'string') add(`attributes.${key} must be a JSON string`);
      else {
        try {
          JSON.parse(attributes[key] as string);
        } catch {
          add(`attributes.${key} does not parse`);
        }
      }
    }
    const meta = attributes.kibanaSavedObjectMeta as { searchSourceJSON?: unknown } | undefined;
    if (meta?.searchSourceJSON !== undefined) {
      try {
        JSON.parse(meta.searchSourceJSON as string);
      } catch {
        add('kibanaSavedObjectMeta.searchSourceJSON does not parse');
      }
    }
  }
  // References resolve; dashboard panels are consistent with them and with the grid.
  for (const { line, o } of objects) {
    const id = String(o.id);
    const add = (message: string) => problems.push({ line, id, message });
    const refs = (o.references ?? []) as { type: string; id: string; name: string }[];
    const names = new Set<string>();
    for (const r of refs) {
      if (!ids.has(`${r.type}:${r.id}`)) add(`reference ${r.name} → ${r.type}:${r.id} is not in the file`);
      if (names.has(r.name)) add(`reference name ${r.name} is used twice`);
      names.add(r.name);
    }
    if (o.type !== 'dashboard') continue;
    let panels: Record<string, unknown>[];
    try {
      panels = JSON.parse(String((o.attributes as Record<string, unknown>).panelsJSON)) as Record<
        string,
        unknown
      >[];
    } catch {
      continue;
    }
    const indexes = new Set<string>();
    const boxes: { x: number; y: number; w: number; h: number; p: string }[] = [];
    for (const panel of panels) {
      const p = String(panel.panelIndex);
      if (indexes.has(p)) add(`panelIndex ${p} is used twice`);
      indexes.add(p);
      const g = panel.gridData as { x: number; y: number; w: number; h: number; i: string };
      if (g.i !== p) add(`panel ${p}: gridData.i is not its panelIndex`);
      if (g.x < 0 || g.y < 0 || g.w <= 0 || g.h <= 0 || g.x + g.w > 48)
        add(`panel ${p}: outside the 48-column grid`);
      for (const b of boxes) {
        if (g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h)
          add(`panels ${b.p} and ${p} overlap`);
      }
      boxes.push({ ...g, p });
      if (panel.panelRefName !== undefined && !names.has(`${p}:${panel.panelRefName}`)) {
        add(`panel ${p}: no reference named ${p}:${panel.panelRefName}`);
      }
      const lens = (panel.embeddableConfig as { attributes?: { references?: { name: string }[] } })
        .attributes;
      for (const r of lens?.references ?? []) {
        if (!names.has(`${p}:${r.name}`)) add(`panel ${p}: the dashboard lacks reference ${p}:${r.name}`);
      }
    }
  }
  return problems;
}
