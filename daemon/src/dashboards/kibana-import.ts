// `kubearmor-shipper dashboards import`: waits until Kibana is ready, then imports the saved
// objects (overwriting ours; in a non-default space with compatibilityMode, so the ids that links
// use keep working), and reports from the response's errors[], not just its status.
import { setTimeout as sleep } from 'node:timers/promises';

export interface ImportOptions {
  kibanaUrl: string;
  space?: string | undefined;
  auth?: { username: string; password: string } | { apiKey: string } | undefined;
  /** How long to wait for Kibana to be ready. */
  waitMs: number;
  pollMs?: number;
  log: (line: string) => void;
}

export interface ImportOutcome {
  ok: boolean;
  imported: { type: string; id: string; title?: string }[];
  errors: { type: string; id: string; error: string }[];
}

function headers(options: ImportOptions): Record<string, string> {
  const h: Record<string, string> = { 'kbn-xsrf': 'kubearmor-shipper' };
  const auth = options.auth;
  if (auth !== undefined && 'apiKey' in auth) h.authorization = `ApiKey ${auth.apiKey}`;
  else if (auth !== undefined)
    h.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return h;
}

/** Resolves once Kibana reports itself available; throws after `waitMs`. */
export async function waitForKibana(options: ImportOptions): Promise<void> {
  const deadline = Date.now() + options.waitMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`${options.kibanaUrl}/api/status`, { headers: headers(options) });
      if (res.status === 401 || res.status === 403)
        throw new Error(`Kibana refused the credentials (${res.status})`);
      const body = (await res.json().catch(() => ({}))) as {
        status?: { overall?: { level?: string; state?: string } };
      };
      const overall = body.status?.overall;
      if (res.ok && (overall?.level === 'available' || overall?.state === 'green')) return;
      last = `status ${res.status}, ${overall?.level ?? overall?.state ?? 'no overall status'}`;
    } catch (err) {
      if ((err as Error).message.startsWith('Kibana refused')) throw err;
      // fetch's own message is only "fetch failed": why (refused, a certificate) is in its cause.
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      last = cause === undefined ? (err as Error).message : `${(err as Error).message}: ${cause}`;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `Kibana at ${options.kibanaUrl} was not ready within ${options.waitMs / 1000} s (${last})`,
      );
    options.log(`waiting for Kibana (${last})`);
    await sleep(options.pollMs ?? 2000);
  }
}

export async function importSavedObjects(ndjson: string, options: ImportOptions): Promise<ImportOutcome> {
  await waitForKibana(options);
  const base =
    options.space === undefined || options.space === 'default'
      ? options.kibanaUrl
      : `${options.kibanaUrl}/s/${encodeURIComponent(options.space)}`;
  const query =
    options.space === undefined || options.space === 'default'
      ? 'overwrite=true'
      : 'overwrite=true&compatibilityMode=true';
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'kubearmor.ndjson');
  const res = await fetch(`${base}/api/saved_objects/_import?${query}`, {
    method: 'POST',
    headers: headers(options),
    body: form,
  });
  const text = await res.text();
  let body: {
    success?: boolean;
    successResults?: { type: string; id: string; destinationId?: string; meta?: { title?: string } }[];
    errors?: { type: string; id: string; title?: string; error?: { type?: string; message?: string } }[];
    message?: string;
  };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = { message: text.slice(0, 500) };
  }
  const errors = (body.errors ?? []).map((e) => ({
    type: e.type,
    id: e.id,
    error: `${e.error?.type ?? 'error'}${e.error?.message ? `: ${e.error.message}` : ''}`,
  }));
  if (!res.ok)
    errors.push({
      type: 'file',
      id: '-',
      error: `HTTP ${res.status}: ${body.message ?? text.slice(0, 300)}`,
    });
  const imported = (body.successResults ?? []).map((r) => ({
    type: r.type,
    id: r.destinationId ?? r.id,
    ...(r.meta?.title ? { title: r.meta.title } : {}),
  }));
  return { ok: res.ok && body.success === true && errors.length === 0, imported, errors };
}
