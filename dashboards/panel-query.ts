// Each panel as the Elasticsearch query Kibana's Lens sends for it (terms over the panel's field,
// broken down or over time as the chart does, under the panel's KQL filter), so the panels can be
// proven against real data without Kibana.
export interface PanelQuery {
  index: string;
  body: { size: 0; query: Record<string, unknown>; aggs: Record<string, unknown> };
}

/** `field : "value"` and `NOT field : "value"`, joined by `and`, as a bool query. */
export function kqlToQuery(kql: string | undefined): Record<string, unknown> {
  if (kql === undefined || kql.trim() === '') return { match_all: {} };
  const must: unknown[] = [];
  const mustNot: unknown[] = [];
  for (const clause of kql.split(/\s+and\s+/i)) {
    const m = /^\s*(NOT\s+)?([\w.@]+)\s*:\s*"([^"]*)"\s*$/i.exec(clause);
    if (m === null) throw new Error(`unsupported KQL in a panel filter: ${clause}`);
    (m[1] ? mustNot : must).push({ term: { [m[2] as string]: m[3] } });
  }
  return { bool: { must, must_not: mustNot } };
}

/** What a Lens panel (by-value attributes, as in the NDJSON) aggregates. */
export interface LensShape {
  field: string;
  breakdown: string | undefined;
  overTime: boolean;
  size: number;
  filter: string;
}

/** Reads a Lens panel's layer: its terms columns (in order), a date histogram, its KQL query. */
export function lensShape(attributes: unknown): LensShape {
  const a = attributes as {
    state: {
      datasourceStates: {
        formBased: {
          layers: Record<
            string,
            {
              columnOrder: string[];
              columns: Record<
                string,
                { operationType: string; sourceField: string; params?: { size?: number } }
              >;
            }
          >;
        };
      };
      query: { query: string };
    };
  };
  const layers = Object.values(a.state.datasourceStates.formBased.layers);
  if (layers.length !== 1) throw new Error('one layer per panel expected');
  const layer = layers[0] as (typeof layers)[number];
  const columns = layer.columnOrder.map(
    (id) => layer.columns[id] as { operationType: string; sourceField: string; params?: { size?: number } },
  );
  const terms = columns.filter((c) => c.operationType === 'terms');
  if (terms.length === 0 || !columns.some((c) => c.operationType === 'count'))
    throw new Error('a terms and a count column expected');
  return {
    field: (terms[0] as { sourceField: string }).sourceField,
    breakdown: terms[1]?.sourceField,
    overTime: columns.some((c) => c.operationType === 'date_histogram'),
    size: terms[0]?.params?.size ?? 10,
    filter: a.state.query.query,
  };
}

/** The aggregation Lens runs for a panel of this shape, over `index`. */
export function panelQuery(shape: LensShape, index: string): PanelQuery {
  const terms = (field: string) => ({ terms: { field, size: shape.size, order: { _count: 'desc' } } });
  const b: Record<string, unknown> = terms(shape.field);
  if (shape.overTime) b.aggs = { t: { date_histogram: { field: '@timestamp', fixed_interval: '1h' } } };
  else if (shape.breakdown !== undefined) b.aggs = { s: terms(shape.breakdown) };
  return { index, body: { size: 0, query: kqlToQuery(shape.filter), aggs: { b } } };
}

interface Bucket {
  key: string | number;
  doc_count: number;
  s?: { buckets: Bucket[] };
  t?: { buckets: Bucket[] };
}

/** Counts by bucket key (`value` or `value|breakdown`), from a panel query's response. */
export function panelCounts(aggregations: unknown): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of (aggregations as { b: { buckets: Bucket[] } }).b.buckets) {
    if (b.s !== undefined) for (const s of b.s.buckets) out.set(`${b.key}|${s.key}`, s.doc_count);
    else out.set(String(b.key), b.doc_count);
    if (b.t !== undefined) {
      const sum = b.t.buckets.reduce((n, t) => n + t.doc_count, 0);
      if (sum !== b.doc_count)
        throw new Error(`time buckets of ${b.key} add up to ${sum}, not ${b.doc_count}`);
    }
  }
  return out;
}
