// Offline validation of manifests against Kubernetes' own OpenAPI v3 schemas: the files
// api/openapi-spec/v3/*.json of the k8s.io/kubernetes module the test API server is built from
// (same release), found through the Go module cache. Checks types, enums, required fields and —
// what kubernetes-models does not — unknown fields.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

interface Spec {
  components: { schemas: Record<string, Schema> };
}

const moduleDir = join(import.meta.dirname, '..', 'kube-apiserver');

/** The directory of the OpenAPI v3 files of the pinned k8s.io/kubernetes module. */
export function openApiDir(): string {
  const dir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'k8s.io/kubernetes'], {
    cwd: moduleDir,
    encoding: 'utf8',
  }).trim();
  const specs = join(dir, 'api', 'openapi-spec', 'v3');
  if (!existsSync(specs)) throw new Error(`no OpenAPI specs in ${dir} (run scripts/kube-apiserver.sh build)`);
  return specs;
}

export class OpenApiValidator {
  private readonly specs = new Map<string, Spec>();

  constructor(private readonly dir: string) {}

  /** Problems of one object; empty if valid. */
  validate(object: Record<string, unknown>): string[] {
    const apiVersion = String(object.apiVersion ?? '');
    const kind = String(object.kind ?? '');
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const file = group === '' ? `api__${version}_openapi.json` : `apis__${group}__${version}_openapi.json`;
    let spec = this.specs.get(file);
    if (spec === undefined) {
      const path = join(this.dir, file);
      if (!existsSync(path)) return [`unknown apiVersion ${apiVersion}`];
      spec = JSON.parse(readFileSync(path, 'utf8')) as Spec;
      this.specs.set(file, spec);
    }
    const root = Object.values(spec.components.schemas).find((s) =>
      s['x-kubernetes-group-version-kind']?.some(
        (g) => g.group === group && g.version === version && g.kind === kind,
      ),
    );
    if (root === undefined) return [`unknown kind ${kind} in ${apiVersion}`];
    const errors: string[] = [];
    this.walk(spec, object, root, kind, errors);
    return errors;
  }

  private resolve(spec: Spec, schema: Schema): Schema {
    let s = schema;
    for (;;) {
      if (s.$ref !== undefined)
        s = spec.components.schemas[s.$ref.replace('#/components/schemas/', '')] ?? {};
      else if (s.allOf?.length === 1 && s.properties === undefined) s = s.allOf[0] as Schema;
      else return s;
    }
  }

  private walk(spec: Spec, value: unknown, schema: Schema, path: string, errors: string[]): void {
    const s = this.resolve(spec, schema);
    if (value === null || value === undefined) return;
    if (s['x-kubernetes-int-or-string']) {
      if (typeof value !== 'string' && !Number.isInteger(value))
        errors.push(`${path}: not an integer or string`);
      return;
    }
    const alternatives = s.oneOf ?? s.anyOf;
    if (alternatives !== undefined) {
      const fits = alternatives.some((alt) => {
        const sub: string[] = [];
        this.walk(spec, value, alt, path, sub);
        return sub.length === 0;
      });
      if (!fits) errors.push(`${path}: matches none of the allowed shapes`);
      return;
    }
    if (s.enum !== undefined && !s.enum.includes(value))
      errors.push(`${path}: ${JSON.stringify(value)} not one of ${s.enum.join(', ')}`);
    switch (s.type) {
      case 'object': {
        if (typeof value !== 'object' || Array.isArray(value)) {
          errors.push(`${path}: not an object`);
          return;
        }
        const o = value as Record<string, unknown>;
        for (const r of s.required ?? []) if (!(r in o)) errors.push(`${path}.${r}: required`);
        if (s.properties === undefined && s.additionalProperties === undefined) return; // free-form
        for (const [k, v] of Object.entries(o)) {
          const prop = s.properties?.[k];
          if (prop !== undefined) this.walk(spec, v, prop, `${path}.${k}`, errors);
          else if (typeof s.additionalProperties === 'object')
            this.walk(spec, v, s.additionalProperties, `${path}.${k}`, errors);
          else if (s.additionalProperties !== true && !s['x-kubernetes-preserve-unknown-fields'])
            errors.push(`${path}.${k}: unknown field`);
        }
        return;
      }
      case 'array':
        if (!Array.isArray(value)) errors.push(`${path}: not an array`);
        else if (s.items !== undefined) {
          const items = s.items;
          for (let i = 0; i < value.length; i++) this.walk(spec, value[i], items, `${path}[${i}]`, errors);
        }
        return;
      case 'string':
        if (typeof value !== 'string') errors.push(`${path}: not a string`);
        return;
      case 'integer':
        if (!Number.isInteger(value)) errors.push(`${path}: not an integer`);
        return;
      case 'number':
        if (typeof value !== 'number') errors.push(`${path}: not a number`);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') errors.push(`${path}: not a boolean`);
        return;
      default:
        return;
    }
  }
}
