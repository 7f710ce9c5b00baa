// bin/meshbook.js runs the compiled CLI (dist/, `npm run build`; `npm ci` builds it) only
// while it is at least as new as every .ts file under scripts/ and lab/, and otherwise the
// TypeScript through tsx; both print the same. Checked in a temporary copy of the
// repository (sources, bin/, a built dist/; node_modules, vm/, manifests/ and envs/ linked),
// so touching a source there changes nothing here.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(import.meta.dirname, '..');
const COPIED = ['bin', 'scripts', 'lab', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
const LINKED = ['node_modules', 'vm', 'manifests', 'envs'];
let dir = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function meshbook(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'meshbook.js'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    // MESHBOOK_SHOW_ENTRY: bin/meshbook.js says on stderr which CLI it runs (and why tsx)
    env: { ...process.env, NO_COLOR: '1', MESHBOOK_SHOW_ENTRY: '1', MESHBOOK_TSX: '', ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMPILED = /^meshbook: compiled dist\/scripts\/cli\.js$/m;
const TSX = /^meshbook: scripts\/cli\.ts through tsx \((.*)\)$/m;

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshbook-startup-'));
  // timestamps kept: a fresh build here is still fresh there
  for (const f of COPIED)
    fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true, preserveTimestamps: true });
  for (const f of LINKED) fs.symlinkSync(path.join(ROOT, f), path.join(dir, f));
  // the repository's own dist/ when it is fresh (as after npm ci), else a build in the copy
  const here = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'meshbook.js'), '-V'], {
    encoding: 'utf8',
    env: { ...process.env, MESHBOOK_SHOW_ENTRY: '1', MESHBOOK_TSX: '' },
  });
  if (COMPILED.test(here.stderr)) {
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true, preserveTimestamps: true });
  } else {
    const b = spawnSync(process.execPath, [path.join(dir, 'bin', 'build.js')], { cwd: dir, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`npm run build in the copy failed:\n${b.stdout}${b.stderr}`);
  }
});

test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// serial: the later tests make the build stale
test.serial('a fresh build runs compiled and prints what the TypeScript prints', (t) => {
  for (const args of [['--help'], ['list'], ['list', '--json'], ['rebuild', '--help'], ['-V']]) {
    const compiled = meshbook(args);
    t.is(compiled.code, 0, `${args.join(' ')}: ${compiled.stderr}`);
    t.regex(compiled.stderr, COMPILED, args.join(' '));
    const viaTsx = meshbook(args, { MESHBOOK_TSX: '1' });
    t.is(viaTsx.code, 0, `${args.join(' ')} (tsx): ${viaTsx.stderr}`);
    t.is(TSX.exec(viaTsx.stderr)?.[1], 'MESHBOOK_TSX=1');
    t.is(compiled.stdout, viaTsx.stdout, args.join(' '));
  }
  t.regex(meshbook(['--help']).stdout, /Usage: meshbook/);
});

test.serial('a source newer than the build falls back to tsx, with the same help', (t) => {
  const compiled = meshbook(['--help']).stdout;
  const src = path.join(dir, 'scripts', 'engine', 'redact.ts');
  const now = new Date();
  fs.utimesSync(src, now, now);
  const r = meshbook(['--help']);
  t.is(r.code, 0, r.stderr);
  t.is(TSX.exec(r.stderr)?.[1], 'scripts/engine/redact.ts is newer than the build (npm run build)');
  t.is(r.stdout, compiled);
  // an edit to a runbook's step (a file --help does not even load) counts as well
  fs.utimesSync(src, new Date(0), new Date(0));
  t.regex(meshbook(['--help']).stderr, COMPILED);
  const step = path.join(dir, 'lab', 'cluster', 'kubectl.ts');
  fs.utimesSync(step, now, now);
  t.is(TSX.exec(meshbook(['list']).stderr)?.[1], 'lab/cluster/kubectl.ts is newer than the build (npm run build)');
});

test.serial('no build stamp (never built, or a build that failed): tsx', (t) => {
  fs.rmSync(path.join(dir, 'dist', '.build-stamp'));
  const r = meshbook(['list']);
  t.is(r.code, 0, r.stderr);
  t.is(TSX.exec(r.stderr)?.[1], 'not built (npm run build)');
  t.regex(r.stdout, /^traffic-shift: /m);
});
