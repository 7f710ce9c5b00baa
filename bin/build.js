#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` runs it): compile scripts/ and lab/ to dist/
// with tsc -p tsconfig.build.json, write `meshbook list`'s data (dist/scripts/listing.json,
// see scripts/listing.ts), then the stamp that lets bin/meshbook.js use it.
// The stamp is removed first and carries the time the build started, so a .ts file saved
// while tsc runs still counts as newer. Without TypeScript (npm ci --omit=dev) nothing is
// built and meshbook runs through tsx.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { DIST, ROOT, STAMP } from './compiled.js';

const started = new Date();
fs.rmSync(STAMP, { force: true });
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error('meshbook build: typescript is not installed; meshbook will run through tsx');
  process.exit(0);
}
fs.rmSync(DIST, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('meshbook build: tsc failed; meshbook will run through tsx until a build succeeds');
  process.exit(r.status ?? 1);
}
// `meshbook list` from the compiled runbooks (scripts/listing.ts), written once here
const list = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `
  import fs from 'node:fs';
  const { RUNBOOKS } = await import('./dist/scripts/runbooks.js');
  const { LISTING_FILE, listingOf } = await import('./dist/scripts/listing.js');
  fs.writeFileSync(LISTING_FILE, JSON.stringify(listingOf(RUNBOOKS)) + '\\n');
`,
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
if (list.status !== 0) {
  console.error('meshbook build: the compiled runbooks do not load; meshbook will run through tsx');
  process.exit(list.status ?? 1);
}
fs.writeFileSync(STAMP, `built ${started.toISOString()} from scripts/ and lab/\n`);
fs.utimesSync(STAMP, started, started);
