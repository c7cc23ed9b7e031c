// The bootstrap's Secrets, through @kubernetes/client-node (in-cluster account, or a kubeconfig).
import type { SecretStore } from './bootstrap.js';

const LABELS = {
  'app.kubernetes.io/part-of': 'kubearmor-elasticstack-logging',
  'app.kubernetes.io/managed-by': 'kubearmor-shipper-bootstrap',
};

function decode(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export async function kubernetesSecretStore(namespace: string, kubeconfig?: string): Promise<SecretStore> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async get(name) {
      try {
        return decode((await core.readNamespacedSecret({ name, namespace })).data);
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async create(name, data) {
      try {
        await core.createNamespacedSecret({
          namespace,
          body: { metadata: { name, namespace, labels: LABELS }, type: 'Opaque', stringData: data },
        });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
    async replace(name, data) {
      await core.replaceNamespacedSecret({
        name,
        namespace,
        body: { metadata: { name, namespace, labels: LABELS }, type: 'Opaque', stringData: data },
      });
    },
  };
}
