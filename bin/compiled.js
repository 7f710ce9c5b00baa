// The compiled CLI (dist/, built by `npm run build`, which `npm ci` runs through `prepare`)
// and whether it may run: only when it is not older than the TypeScript it was built from.
// Plain JavaScript with node:fs and node:path only: bin/meshbook.js imports it before
// anything else loads, and it must stay cheap (a stat per .ts file, about 1-2 ms).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');
export const COMPILED_CLI = path.join(DIST, 'scripts', 'cli.js');
/** Written by bin/build.js after a successful build; its mtime is the time the build started. */
export const STAMP = path.join(DIST, '.build-stamp');
/** The directories whose .ts files are compiled (tsconfig.build.json "include"). */
export const SOURCE_DIRS = ['scripts', 'lab'];

/** The first .ts file under SOURCE_DIRS modified at or after `since` (ms), or undefined. */
export function newerSource(since) {
  const stack = SOURCE_DIRS.map((d) => path.join(ROOT, d));
  while (stack.length) {
    const dir = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs >= since) return p;
    }
  }
  return undefined;
}

/** Why the compiled CLI cannot run (missing, unbuilt, a newer source), or undefined when it can. */
export function staleReason() {
  let built;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return 'not built (npm run build)';
  }
  if (!fs.existsSync(COMPILED_CLI)) return `${path.relative(ROOT, COMPILED_CLI)} is missing (npm run build)`;
  const newer = newerSource(built);
  return newer ? `${path.relative(ROOT, newer)} is newer than the build (npm run build)` : undefined;
}
