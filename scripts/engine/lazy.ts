// Packages that the runbooks' modules use only when a step runs or a manifest is rendered
// (zx, yaml, ajv, dotenv, ipaddr.js), loaded on first use instead of when meshbook starts:
// `meshbook --help` and `meshbook list` import every runbook and would otherwise load them
// all (most of their start-up time). Each is a CommonJS build loaded with require, so the
// instance is the one `import` would give (zx's ESM entry wraps the same core.cjs; yaml,
// ajv, dotenv and ipaddr.js are CommonJS). Packages published only as ES modules (ora,
// p-map, chalk) are imported with `await import()` where they are used instead.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * `id`'s exports, required the first time a property is read. Use it as the module:
 * `const YAML = lazy<typeof import('yaml')>('yaml'); YAML.parse(text)`.
 */
export function lazy<T extends object>(id: string): T {
  let mod: T | undefined;
  const load = () => (mod ??= require(id) as T);
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(load(), key),
    has: (_, key) => Reflect.has(load(), key),
  });
}

export const zx = lazy<typeof import('zx/core')>('zx/core');
export const YAML = lazy<typeof import('yaml')>('yaml');
export const ipaddr = lazy<typeof import('ipaddr.js')>('ipaddr.js');
export const dotenv = lazy<typeof import('dotenv')>('dotenv');
export const ajvModule = lazy<typeof import('ajv')>('ajv');

/** zx's `quote` (bash quoting of one value), loading zx on first use. */
export const quote = (s: string): string => zx.quote(s);
