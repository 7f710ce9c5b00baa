// A round trip: several steps' scripts sent to a VM as one script, each part followed by
// a marker with its exit code, and the output split back into per-step results.
import type { RemoteResult } from './types.ts';
import type { Script } from './sh.ts';

/** One part of a round trip: a step's check, change or verify, or a probe. */
export interface Part {
  kind: 'check' | 'change' | 'verify' | 'probe';
  script: Script;
}

/** One or more steps in one round trip. Per step: the check; on exit 10 the change and
 *  then the verify; on 0 the next step; anything else (or a failed change or verify) ends
 *  the trip. A probe is judged on the workstation, so it only ever comes last. Each part
 *  runs in its own subshell under `set -e` (as when sent alone), a marker with its exit
 *  code after each on stdout and stderr. The whole text is one compound command, read
 *  before any of it runs, with stdin from /dev/null: no part can swallow the ones after. */
export function chainScript(steps: Part[][], nonce: string): Script {
  const mark = (k: string) =>
    `rc=$?; printf '\\n__MESHBOOK_${nonce} ${k} %d\\n' "$rc"; printf '\\n__MESHBOOK_${nonce} ${k} %d\\n' "$rc" >&2`;
  const body = (f: 'text' | 'display') => {
    const run = (p: Part) => ['( set -e', p.script[f], ')', mark(p.kind)];
    const out = ['{', 'set +e'];
    for (const [first, ...rest] of steps) {
      out.push(...run(first));
      if (first.kind === 'probe') break;
      out.push('if [ "$rc" = 10 ]; then');
      for (const p of rest) out.push(...run(p), '[ "$rc" = 0 ] || exit 0');
      out.push('elif [ "$rc" != 0 ]; then exit 0; fi');
    }
    out.push('exit 0', '} </dev/null');
    return out.join('\n');
  };
  return { kind: 'mutate', text: body('text'), display: body('display') };
}

/** The trip's output, per step the results of the parts that ran; the part that was cut
 *  off (lost connection, time limit, Ctrl-C) gets the whole command's exit code, and the
 *  steps after it get nothing (they did not run). */
export function splitChain(r: RemoteResult, nonce: string, steps: Part[][]): RemoteResult[][] {
  const re = new RegExp(`\\n__MESHBOOK_${nonce} \\w+ (\\d+)\\n`);
  let out = r.stdout,
    err = r.stderr;
  const all: RemoteResult[][] = [];
  outer: for (const parts of steps) {
    const mine: RemoteResult[] = [];
    all.push(mine);
    for (let i = 0; i < parts.length; i++) {
      const mo = re.exec(out),
        me = re.exec(err);
      if (!mo) {
        const code = r.code === 0 ? 255 : r.code;
        mine.push({
          ...r,
          code,
          stdout: out,
          stderr: r.code === 0 ? `${err}\nthe remote script ended before this part finished` : err,
        });
        break outer;
      }
      const code = Number(mo[1]);
      mine.push({ code, stdout: out.slice(0, mo.index), stderr: me ? err.slice(0, me.index) : err });
      out = out.slice(mo.index + mo[0].length);
      if (me) err = err.slice(me.index + me[0].length);
      if (parts[i].kind === 'probe') break outer;
      if (i === 0 && code === 0) break;
      if ((i === 0 && code !== 10) || (i > 0 && code !== 0)) break outer;
    }
  }
  while (all.length < steps.length) all.push([]);
  return all;
}

/** How many of the trip's steps are decided by the output so far: every part that ran
 *  has its marker on stdout and on stderr (the two pipes arrive independently). A step
 *  that ends the trip decides the ones after it too (they will not run). */
export function decidedSteps(stdout: string, stderr: string, nonce: string, steps: Part[][]): number {
  const re = new RegExp(`\\n__MESHBOOK_${nonce} \\w+ (\\d+)\\n`, 'g');
  const codes = [...stdout.matchAll(re)].map((m) => Number(m[1]));
  const have = Math.min(codes.length, [...stderr.matchAll(re)].length);
  let k = 0;
  for (const [i, parts] of steps.entries()) {
    for (let j = 0; j < parts.length; j++) {
      if (k >= have) return i;
      const code = codes[k++];
      if (parts[j].kind === 'probe') return steps.length;
      if (j === 0 && code === 0) break;
      if ((j === 0 && code !== 10) || (j > 0 && code !== 0)) return steps.length;
    }
  }
  return steps.length;
}
