// The dashboards, as data: what each panel shows. saved-objects.ts turns this into Kibana saved
// objects; `npm run dashboards:build` writes dashboards/kubearmor.ndjson from it.

export type DataViewName = 'alerts' | 'logs';

export interface PanelSpec {
  /** Stable id: the panel's panelIndex and layer id. */
  id: string;
  title: string;
  /** time: bars over @timestamp; donut/bar: top values; table: top values with counts. */
  chart: 'time' | 'donut' | 'bar' | 'table';
  /** The field bucketed (the split for `time` charts). */
  field: string;
  /** A second field each bucket is broken down by (bar charts). */
  breakdown?: string;
  /** KQL, restricted to `field : "value"` and `NOT field : "value"` joined by `and`. */
  filter?: string;
  /** Top values shown (default 10). */
  size?: number;
  grid: { x: number; y: number; w: number; h: number };
}

export interface SavedSearchSpec {
  id: string;
  title: string;
  dataView: DataViewName;
  columns: string[];
  grid: { x: number; y: number; w: number; h: number };
}

export interface DashboardSpec {
  id: string;
  title: string;
  description: string;
  dataView: DataViewName;
  panels: PanelSpec[];
  markdown?: { id: string; text: string; grid: { x: number; y: number; w: number; h: number } };
  search?: SavedSearchSpec;
}

export const DATA_VIEWS: Record<DataViewName, { id: string; title: string; name: string }> = {
  alerts: { id: 'kubearmor-alerts-dv', title: 'kubearmor-alerts-*', name: 'KubeArmor alerts' },
  logs: { id: 'kubearmor-logs-dv', title: 'kubearmor-logs-*', name: 'KubeArmor visibility logs' },
};

/** The oldest Kibana these objects are stamped for; never stamp anything newer. */
export const MIN_KIBANA = '8.11.0';

const row = (y: number) => ({ y, h: 12 });

export const ALERTS_DASHBOARD: DashboardSpec = {
  id: 'kubearmor-alerts',
  title: 'KubeArmor — Alerts',
  description: 'KubeArmor policy alerts by severity, type, operation and action',
  dataView: 'alerts',
  panels: [
    {
      id: 'alerts-over-time',
      title: 'Alerts over time by severity',
      chart: 'time',
      field: 'severity_num',
      grid: { x: 0, w: 48, ...row(0) },
    },
    {
      id: 'by-type',
      title: 'Alerts by type',
      chart: 'donut',
      field: 'Type',
      grid: { x: 0, w: 12, ...row(12) },
    },
    {
      id: 'by-operation',
      title: 'Alerts by operation',
      chart: 'donut',
      field: 'Operation',
      grid: { x: 12, w: 12, ...row(12) },
    },
    {
      id: 'by-action',
      title: 'Alerts by action',
      chart: 'donut',
      field: 'action_base',
      grid: { x: 24, w: 12, ...row(12) },
    },
    {
      id: 'by-raw-action',
      title: 'Alerts by action (as KubeArmor wrote it)',
      chart: 'bar',
      field: 'Action',
      grid: { x: 36, w: 12, ...row(12) },
    },
    {
      id: 'top-namespaces',
      title: 'Top namespaces',
      chart: 'bar',
      field: 'NamespaceName',
      grid: { x: 0, w: 24, ...row(24) },
    },
    { id: 'top-pods', title: 'Top pods', chart: 'bar', field: 'PodName', grid: { x: 24, w: 24, ...row(24) } },
    {
      id: 'policy-action',
      title: 'Policies by action (without DefaultPosture)',
      chart: 'bar',
      field: 'PolicyName',
      breakdown: 'Action',
      filter: 'NOT PolicyName : "DefaultPosture"',
      grid: { x: 0, w: 24, ...row(36) },
    },
    {
      id: 'namespace-severity',
      title: 'Namespaces by severity',
      chart: 'bar',
      field: 'NamespaceName',
      breakdown: 'severity_num',
      grid: { x: 24, w: 24, ...row(36) },
    },
    {
      id: 'blocked-processes',
      title: 'Top blocked processes',
      chart: 'table',
      field: 'ProcessName',
      filter: 'action_base : "Block"',
      grid: { x: 0, w: 24, ...row(48) },
    },
    {
      id: 'blocked-resources',
      title: 'Top blocked resources',
      chart: 'table',
      field: 'Resource',
      filter: 'action_base : "Block"',
      grid: { x: 24, w: 24, ...row(48) },
    },
  ],
  search: {
    id: 'kubearmor-alerts-table',
    title: 'KubeArmor alerts',
    dataView: 'alerts',
    columns: [
      'severity_num',
      'Type',
      'action_base',
      'Action',
      'PolicyName',
      'NamespaceName',
      'PodName',
      'ContainerName',
      'ProcessName',
      'Operation',
      'Resource',
      'Result',
      'HostName',
    ],
    grid: { x: 0, y: 60, w: 48, h: 15 },
  },
};

export const LOGS_DASHBOARD: DashboardSpec = {
  id: 'kubearmor-logs',
  title: 'KubeArmor — Visibility logs',
  description: 'What workloads do: processes, network destinations and files, from KubeArmor visibility logs',
  dataView: 'logs',
  markdown: {
    id: 'logs-help',
    text:
      '**Filtering.** Click a bar or slice to filter the whole dashboard by it, or type KQL in the query bar, for example ' +
      '`NamespaceName : "payments"`, `Operation : "Network"`, `NOT Result : "Passed"`. ' +
      'Pod metadata is under `kubernetes.*`; the raw `Data` and `Resource` strings are searchable as `Data.text` and `Resource.text`.',
    grid: { x: 0, y: 0, w: 48, h: 5 },
  },
  panels: [
    {
      id: 'logs-over-time',
      title: 'Logs over time by operation',
      chart: 'time',
      field: 'Operation',
      grid: { x: 0, y: 5, w: 48, h: 12 },
    },
    {
      id: 'top-processes',
      title: 'Top processes',
      chart: 'bar',
      field: 'ProcessName',
      grid: { x: 0, y: 17, w: 16, h: 14 },
    },
    {
      id: 'network-destinations',
      title: 'Network destinations',
      chart: 'table',
      field: 'Resource',
      filter: 'Operation : "Network"',
      grid: { x: 16, y: 17, w: 16, h: 14 },
    },
    {
      id: 'files-touched',
      title: 'Files touched',
      chart: 'table',
      field: 'Resource',
      filter: 'Operation : "File"',
      grid: { x: 32, y: 17, w: 16, h: 14 },
    },
  ],
};

export const DASHBOARDS: readonly DashboardSpec[] = [ALERTS_DASHBOARD, LOGS_DASHBOARD];
