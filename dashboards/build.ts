// `npm run dashboards:build`: writes dashboards/kubearmor.ndjson from the spec. The file is
// committed; a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { savedObjects, toNdjson } from './saved-objects.js';

export const NDJSON_PATH = fileURLToPath(new URL('./kubearmor.ndjson', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const objects = savedObjects();
  writeFileSync(NDJSON_PATH, toNdjson(objects));
  process.stdout.write(`wrote ${objects.length} saved objects to ${NDJSON_PATH}\n`);
}
