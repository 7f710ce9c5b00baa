#!/usr/bin/env node
// Start-up cost of the meshbook CLI next to a bare `node -e 0`, measured side by side:
// each round runs every command once (in a rotating order), through /usr/bin/time, so a
// loaded machine slows them alike; prints the median wall and CPU (user + sys) and the
// ratio to `node -e 0`. `node bench/startup.mjs [ROUNDS]` (default 21), from the repo root
// after `npm run build`; BENCH_MORE=1 adds rows (see below).
import { spawnSync } from 'node:child_process';

const rounds = Number(process.argv[2] ?? 21);
const CMDS = [
  ['node -e 0', ['node', '-e', '0']],
  ['meshbook --help', ['node', 'bin/meshbook.js', '--help']],
  ['meshbook list', ['node', 'bin/meshbook.js', 'list']],
  // BENCH_MORE=1: the compiled CLI without bin/meshbook.js's freshness check, and tsx
  ...(process.env.BENCH_MORE
    ? [
        ['dist/scripts/cli.js --help', ['node', 'dist/scripts/cli.js', '--help']],
        ['meshbook --help (MESHBOOK_TSX=1)', ['env', 'MESHBOOK_TSX=1', 'node', 'bin/meshbook.js', '--help']],
      ]
    : []),
];
const wall = CMDS.map(() => []);
const cpu = CMDS.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < CMDS.length; k++) {
    const i = (k + r) % CMDS.length;
    const p = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', ...CMDS[i][1]], { encoding: 'utf8' });
    const m = /TIME (\S+) (\S+) (\S+)\s*$/.exec(p.stderr);
    if (p.status !== 0 || !m) throw new Error(`${CMDS[i][0]}: exit ${p.status}\n${p.stderr}`);
    wall[i].push(+m[1]);
    cpu[i].push(+m[2] + +m[3]);
  }
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};
const ms = (s) => `${Math.round(s * 1000)} ms`.padStart(8);
console.log(`${rounds} rounds, medians${' '.repeat(13)}wall   (ratio)      cpu   (ratio)`);
for (let i = 0; i < CMDS.length; i++) {
  const w = median(wall[i]),
    c = median(cpu[i]);
  console.log(
    `${CMDS[i][0].padEnd(30)} ${ms(w)} (${(w / median(wall[0])).toFixed(2)}` +
      `x) ${ms(c)} (${(c / median(cpu[0])).toFixed(2)}x)`,
  );
}
