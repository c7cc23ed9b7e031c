// Kibana 8.x saved objects from the dashboard spec: data views, a saved search, and dashboards
// whose Lens panels are embedded by value. Stamped for the oldest Kibana supported (spec.ts,
// MIN_KIBANA) with the shapes that version writes (Lens `formBased` layers, 8.6+).
import {
  DASHBOARDS,
  DATA_VIEWS,
  type DashboardSpec,
  type DataViewName,
  type PanelSpec,
  type SavedSearchSpec,
} from './spec.js';

export interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: { type: string; id: string; name: string }[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  managed: boolean;
}

/** Migration stamps of the types used, none newer than MIN_KIBANA. */
export const STAMPS = {
  core: '8.8.0',
  'index-pattern': '8.0.0',
  search: '8.0.0',
  lens: '8.9.0',
  dashboard: '8.9.0',
} as const;

/** Fields holding numbers (their Lens columns are numeric). */
const NUMERIC = new Set(['severity_num', 'HostPID', 'PID', 'PPID', 'UID', 'HostPPID']);

function object(
  type: keyof typeof STAMPS,
  id: string,
  attributes: Record<string, unknown>,
  references: SavedObject['references'],
): SavedObject {
  return {
    type,
    id,
    attributes,
    references,
    coreMigrationVersion: STAMPS.core,
    typeMigrationVersion: STAMPS[type],
    managed: false,
  };
}

function dataView(name: DataViewName): SavedObject {
  const dv = DATA_VIEWS[name];
  return object(
    'index-pattern',
    dv.id,
    {
      title: dv.title,
      name: dv.name,
      timeFieldName: '@timestamp',
      fields: '[]',
      fieldFormatMap: '{}',
      fieldAttrs: '{}',
      runtimeFieldMap: '{}',
      sourceFilters: '[]',
    },
    [],
  );
}

function termsColumn(field: string, size: number, countColumn: string): Record<string, unknown> {
  return {
    label: `Top ${size} values of ${field}`,
    dataType: NUMERIC.has(field) ? 'number' : 'string',
    operationType: 'terms',
    sourceField: field,
    isBucketed: true,
    scale: 'ordinal',
    params: {
      size,
      orderBy: { type: 'column', columnId: countColumn },
      orderDirection: 'desc',
      otherBucket: false,
      missingBucket: false,
      parentFormat: { id: 'terms' },
    },
  };
}

const COUNT = {
  label: 'Count',
  dataType: 'number',
  operationType: 'count',
  sourceField: '___records___',
  isBucketed: false,
  scale: 'ratio',
  params: { emptyAsNull: true },
};
const TIME = {
  label: '@timestamp',
  dataType: 'date',
  operationType: 'date_histogram',
  sourceField: '@timestamp',
  isBucketed: true,
  scale: 'interval',
  params: { interval: 'auto', includeEmptyRows: true, dropPartials: false },
};

/** The Lens attributes of one panel (by value). */
export function lensAttributes(panel: PanelSpec, view: DataViewName): Record<string, unknown> {
  const size = panel.size ?? 10;
  const layerId = panel.id;
  const columns: Record<string, unknown> = { b: termsColumn(panel.field, size, 'c'), c: COUNT };
  let columnOrder = ['b', 'c'];
  let visualizationType: string;
  let visualization: Record<string, unknown>;
  if (panel.chart === 'time') {
    columns.t = TIME;
    columnOrder = ['b', 't', 'c'];
    visualizationType = 'lnsXY';
    visualization = {
      preferredSeriesType: 'bar_stacked',
      legend: { isVisible: true, position: 'right' },
      valueLabels: 'hide',
      layers: [
        {
          layerId,
          layerType: 'data',
          seriesType: 'bar_stacked',
          xAccessor: 't',
          accessors: ['c'],
          splitAccessor: 'b',
        },
      ],
    };
  } else if (panel.chart === 'donut') {
    visualizationType = 'lnsPie';
    visualization = {
      shape: 'donut',
      layers: [
        {
          layerId,
          layerType: 'data',
          primaryGroups: ['b'],
          metrics: ['c'],
          numberDisplay: 'percent',
          categoryDisplay: 'default',
          legendDisplay: 'default',
          nestedLegend: false,
        },
      ],
    };
  } else if (panel.chart === 'bar') {
    const layer: Record<string, unknown> = {
      layerId,
      layerType: 'data',
      seriesType: 'bar_horizontal_stacked',
      xAccessor: 'b',
      accessors: ['c'],
    };
    if (panel.breakdown !== undefined) {
      columns.s = termsColumn(panel.breakdown, size, 'c');
      columnOrder = ['b', 's', 'c'];
      layer.splitAccessor = 's';
    }
    visualizationType = 'lnsXY';
    visualization = {
      preferredSeriesType: 'bar_horizontal_stacked',
      legend: { isVisible: panel.breakdown !== undefined, position: 'right' },
      valueLabels: 'hide',
      layers: [layer],
    };
  } else {
    visualizationType = 'lnsDatatable';
    visualization = {
      layerId,
      layerType: 'data',
      columns: [
        { columnId: 'b', isTransposed: false },
        { columnId: 'c', isTransposed: false },
      ],
    };
  }
  return {
    title: panel.title,
    visualizationType,
    type: 'lens',
    references: [
      { type: 'index-pattern', id: DATA_VIEWS[view].id, name: `indexpattern-datasource-layer-${layerId}` },
    ],
    state: {
      datasourceStates: {
        formBased: { layers: { [layerId]: { columnOrder, columns, incompleteColumns: {} } } },
      },
      visualization,
      query: { language: 'kuery', query: panel.filter ?? '' },
      filters: [],
    },
  };
}

function savedSearch(search: SavedSearchSpec): SavedObject {
  return object(
    'search',
    search.id,
    {
      title: search.title,
      description: '',
      columns: search.columns,
      sort: [['@timestamp', 'desc']],
      grid: {},
      hideChart: false,
      isTextBasedQuery: false,
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({
          query: { query: '', language: 'kuery' },
          filter: [],
          indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
        }),
      },
    },
    [
      {
        type: 'index-pattern',
        id: DATA_VIEWS[search.dataView].id,
        name: 'kibanaSavedObjectMeta.searchSourceJSON.index',
      },
    ],
  );
}

function dashboard(spec: DashboardSpec): SavedObject {
  const panels: Record<string, unknown>[] = [];
  const references: SavedObject['references'] = [];
  if (spec.markdown !== undefined) {
    const m = spec.markdown;
    panels.push({
      panelIndex: m.id,
      gridData: { ...m.grid, i: m.id },
      type: 'visualization',
      embeddableConfig: {
        enhancements: {},
        savedVis: {
          type: 'markdown',
          title: '',
          description: '',
          params: { markdown: m.text, fontSize: 12, openLinksInNewTab: false },
          uiState: {},
          data: { aggs: [], searchSource: {} },
        },
        hidePanelTitles: true,
      },
    });
  }
  for (const panel of spec.panels) {
    const attributes = lensAttributes(panel, spec.dataView);
    panels.push({
      panelIndex: panel.id,
      gridData: { ...panel.grid, i: panel.id },
      type: 'lens',
      title: panel.title,
      embeddableConfig: { enhancements: {}, attributes },
    });
    for (const ref of attributes.references as SavedObject['references'])
      references.push({ ...ref, name: `${panel.id}:${ref.name}` });
  }
  if (spec.search !== undefined) {
    const s = spec.search;
    panels.push({
      panelIndex: s.id,
      gridData: { ...s.grid, i: s.id },
      type: 'search',
      panelRefName: `panel_${s.id}`,
      embeddableConfig: { enhancements: {} },
    });
    references.push({ type: 'search', id: s.id, name: `${s.id}:panel_${s.id}` });
  }
  return object(
    'dashboard',
    spec.id,
    {
      title: spec.title,
      description: spec.description,
      version: 1,
      timeRestore: true,
      timeFrom: 'now-24h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 60_000 },
      optionsJSON: JSON.stringify({
        useMargins: true,
        syncColors: false,
        syncCursor: true,
        syncTooltips: false,
        hidePanelTitles: false,
      }),
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }),
      },
      panelsJSON: JSON.stringify(panels),
    },
    references,
  );
}

/** Every saved object, in import order: data views, saved searches, dashboards. */
export function savedObjects(): SavedObject[] {
  const searches = DASHBOARDS.flatMap((d) => (d.search === undefined ? [] : [savedSearch(d.search)]));
  return [dataView('alerts'), dataView('logs'), ...searches, ...DASHBOARDS.map(dashboard)];
}

export function toNdjson(objects: readonly SavedObject[]): string {
  return `${objects.map((o) => JSON.stringify(o)).join('\n')}\n`;
}
