// The YAML a runbook applies: files in manifests/<runbook>/ with ${VAR} placeholders.
// Placeholders are filled in the parsed document, never by text splicing, so a value
// cannot add structure: a quoted "${VAR}" stays a string, a plain ${VAR} becomes the
// scalar the value spells (30 -> number). Every object is then validated against
// Istio's and Kubernetes' schemas (@kubernetes-models), plus a check that Istio objects
// carry no field the schema does not know (a mis-indented key shows up as one).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { YAML, ajvModule } from './lazy.ts';
import type { ValidateFunction, ErrorObject } from 'ajv';
import { repoPath } from './repo.ts';
import type { Untyped } from './untyped.ts';

export const MANIFESTS = repoPath('manifests');

export class ManifestError extends Error {}

export interface Rendered {
  file: string; // manifests/<runbook>/<name>.yaml
  text: string; // the YAML that is applied
  objects: Array<Record<string, Untyped>>;
}

const VAR = /\$\{([A-Z_][A-Z0-9_]*)\}/g;

/** Fill ${VAR}s from `vars` in a YAML text; `file` names the source in errors. */
export function renderText(
  file: string,
  template: string,
  vars: Record<string, string | number | undefined>,
): Rendered {
  try {
    return renderUnchecked(file, template, vars);
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    throw new ManifestError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function renderUnchecked(file: string, template: string, vars: Record<string, string | number | undefined>): Rendered {
  const docs = YAML.parseAllDocuments(template);
  const missing = new Set<string>();
  for (const doc of docs) {
    if (doc.errors.length) throw new ManifestError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
    YAML.visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value !== 'string' || !node.value.includes('${')) return;
        const whole = /^\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(node.value);
        const filled = node.value.replace(VAR, (_m, name: string) => {
          const v = vars[name];
          if (v === undefined || v === '') {
            missing.add(name);
            return '';
          }
          return String(v);
        });
        if (whole && node.type === YAML.Scalar.PLAIN) {
          const parsed = YAML.parse(filled);
          node.value = parsed !== null && typeof parsed !== 'object' ? parsed : filled;
        } else node.value = filled;
      },
    });
  }
  if (missing.size)
    throw new ManifestError(
      `${file}: ${[...missing].map((m) => `\${${m}}`).join(', ')} ` +
        `not set; set ${[...missing].join(', ')} in the env file`,
    );
  const objects = docs.map((d) => d.toJS()).filter((o) => o !== null && o !== undefined);
  const text = docs
    .filter((d) => d.contents !== null)
    .map((d) => d.toString())
    .join('---\n');
  const rendered = { file, text, objects };
  for (const o of objects) validateObject(file, o);
  return rendered;
}

export function render(rel: string, vars: Record<string, string | number | undefined>): Rendered {
  const abs = path.join(MANIFESTS, rel);
  return renderText(`manifests/${rel}`, fs.readFileSync(abs, 'utf8'), vars);
}

// ---- schema validation ------------------------------------------------------------
const require = createRequire(import.meta.url);

/** The model class of an apiVersion/kind, from @kubernetes-models/istio or kubernetes-models. */
function modelFor(apiVersion: string, kind: string): { Model?: Untyped; source?: string } {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const candidates = group.endsWith('istio.io')
    ? [`@kubernetes-models/istio/${group}/${version}/${kind}`]
    : [group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`];
  for (const c of candidates) {
    try {
      const mod = require(c);
      if (mod[kind]) return { Model: mod[kind], source: c };
    } catch {
      /* not a known kind */
    }
  }
  return {};
}

/** Istio's schemas allow any extra key; this adds additionalProperties: false to every
 *  object that lists its properties, to catch unknown (often mis-indented) fields. */
function strict(schema: Untyped, top = false): Untyped {
  if (Array.isArray(schema)) return schema.map((s) => strict(s));
  if (!schema || typeof schema !== 'object') return schema;
  const out: Untyped = {};
  for (const [k, v] of Object.entries(schema))
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, strict(pv)]))
        : strict(v);
  if (out.$ref) return {}; // metadata: validated by the model itself
  // the object itself may carry fields a schema leaves out (IstioOperator's has no spec):
  // only what is inside a described field is held to its properties
  if (!top && out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields'])
    out.additionalProperties = false;
  return out;
}

let ajvInstance: InstanceType<typeof ajvModule.default> | undefined;
const ajv = () =>
  (ajvInstance ??= new ajvModule.default({ strict: false, allErrors: true, validateFormats: false, logger: false }));
const strictValidators = new Map<string, ValidateFunction | null>();

function strictValidator(source: string) {
  if (!strictValidators.has(source)) {
    const file = require.resolve(source).replace(/\.js$/, '.mjs');
    const text = fs.readFileSync(fs.existsSync(file) ? file : require.resolve(source), 'utf8');
    const m = /const schema = (\{[\s\S]*?\n\});\n/.exec(text);
    strictValidators.set(source, m ? ajv().compile(strict(JSON.parse(m[1]), true)) : null);
  }
  return strictValidators.get(source);
}

const where = (p: string) =>
  p
    .replace(/^data\/?/, '')
    .replace(/^\//, '')
    .split('/')
    .filter(Boolean)
    .map((x) => (/^\d+$/.test(x) ? `[${x}]` : `.${x}`))
    .join('')
    .replace(/^\./, '');

export function validateObject(file: string, o: Record<string, Untyped>): void {
  const name = `${o?.kind ?? '(no kind)'} ${o?.metadata?.name ?? '(no name)'}`;
  if (!o || typeof o !== 'object' || !o.apiVersion || !o.kind)
    throw new ManifestError(`${file}: ${name}: apiVersion and kind are required`);
  if (!o.metadata?.name) throw new ManifestError(`${file}: ${name}: metadata.name is required`);
  const { Model, source } = modelFor(o.apiVersion, o.kind);
  if (!Model)
    throw new ManifestError(
      `${file}: ${name}: no schema for ${o.apiVersion} ${o.kind}; meshbook validates Istio and Kubernetes objects only`,
    );
  try {
    new Model(o).validate();
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    const m = /^(data\/\S*) (.*)$/.exec(msg);
    const first = m ? `${where(m[1])}: ${m[2]}` : msg;
    throw new ManifestError(`${file}: ${name}: ${first}`);
  }
  if (o.apiVersion.includes('istio.io')) {
    const v = strictValidator(source!);
    if (v && !v(o)) {
      const err = v.errors!.find((x: ErrorObject) => x.keyword === 'additionalProperties') ?? v.errors![0];
      const field =
        err.keyword === 'additionalProperties'
          ? `${where(err.instancePath)}${err.instancePath ? '.' : ''}${(err.params as Untyped).additionalProperty}`
          : where(err.instancePath);
      throw new ManifestError(
        `${file}: ${name}: ${field}: ` +
          `${err.keyword === 'additionalProperties' ? 'unknown field (mis-indented?)' : err.message}`,
      );
    }
  }
}
