// An Elastic Cloud deployment's Cloud ID, as its console shows it: `<name>:<base64>` (the name is
// optional and only a label), the base64 of `<host>[:port]$<es-id>[:port]$<kibana-id>[:port]`.
// Elasticsearch is at https://<es-id>.<host>:<port>, Kibana at https://<kibana-id>.<host>:<port>;
// the port is the host's, 443 unless given. Users copy this one string instead of two URLs, as
// Beats and Logstash take it.

export interface CloudEndpoints {
  elasticsearchUrl: string;
  /** Absent when the ID names no Kibana. */
  kibanaUrl?: string;
}

/** Why a string is not a Cloud ID. */
export class CloudIdError extends Error {}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const PORT = /^[0-9]{1,5}$/;

export function decodeCloudId(cloudId: string): CloudEndpoints {
  if (cloudId.includes('://')) throw new CloudIdError('that is a URL (give it as the URL instead)');
  const encoded = cloudId.slice(cloudId.lastIndexOf(':') + 1).trim();
  if (encoded === '') throw new CloudIdError('nothing after the name');
  // Buffer's decoder skips what is not base64: checked first, so a mistyped ID is not half-read.
  if (!BASE64.test(encoded)) throw new CloudIdError('not base64 after the name');
  const parts = Buffer.from(encoded, 'base64').toString('utf8').split('$');
  // Later parts, should Elastic add any, name other services.
  if (parts.length < 3) throw new CloudIdError('it decodes to fewer than three $-separated parts');
  const [host, defaultPort] = splitPort(parts[0] as string, '443');
  if (host === '') throw new CloudIdError('it names no host');
  const [esId, esPort] = splitPort(parts[1] as string, defaultPort);
  if (esId === '') throw new CloudIdError('it names no Elasticsearch');
  const [kibanaId, kibanaPort] = splitPort(parts[2] as string, defaultPort);
  const elasticsearchUrl = httpsUrl(esId, host, esPort);
  return kibanaId === ''
    ? { elasticsearchUrl }
    : { elasticsearchUrl, kibanaUrl: httpsUrl(kibanaId, host, kibanaPort) };
}

function splitPort(word: string, fallback: string): [string, string] {
  const colon = word.lastIndexOf(':');
  if (colon < 0) return [word, fallback];
  const port = word.slice(colon + 1);
  if (!PORT.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new CloudIdError(`"${port}" in "${word}" is not a port`);
  return [word.slice(0, colon), port];
}

function httpsUrl(id: string, host: string, port: string): string {
  const name = `${id}.${host}`;
  let url: URL;
  try {
    url = new URL(`https://${name}:${port}`);
  } catch {
    throw new CloudIdError(`"${name}" is not a host name`);
  }
  // The URL parser would take a path or credentials in the parts; a host name is all they may be.
  if (url.hostname !== name.toLowerCase() || url.pathname !== '/' || url.username !== '')
    throw new CloudIdError(`"${name}" is not a host name`);
  return `https://${url.host}`;
}
