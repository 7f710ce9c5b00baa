// The repository root, found from this module's own location by walking up to the first
// directory with a package.json: the same answer whether this file runs as TypeScript
// (scripts/engine/repo.ts, through tsx) or compiled (dist/scripts/engine/repo.js, see
// tsconfig.build.json). Every file meshbook reads at run time (vm/, manifests/, envs/,
// lab/*.sh, lab/cluster/curl-lite.mjs, package.json, bin/meshbook.js) is found from here,
// never from import.meta.url, which differs between the two.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`meshbook: no package.json above ${from}`);
  }
}

export const REPO_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** An absolute path inside the repository: repoPath('vm', 'hello', 'hello.mjs'). */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}
