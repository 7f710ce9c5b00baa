// meshbook lab kubectl: diff -f (exit 0 when nothing would change, 1 with a unified diff).
import YAML from 'yaml';
import { deepEqual } from '../kinds.ts';
import { ok, type Ctx, type Outcome } from './common.ts';
import { merged, readManifests, resolveObject } from './manifests.ts';

export async function diffVerb(ctx: Ctx): Promise<Outcome> {
  const objs = await readManifests(ctx);
  const chunks: string[] = [];
  for (const o of objs) {
    const r = resolveObject(ctx, o);
    const { next, live } = merged(ctx, r);
    if (live && deepEqual(next, live)) continue;
    const id =
      `${r.info.group ? `${r.info.group}.` : ''}${r.obj.apiVersion.split('/').pop()}` +
      `.${r.info.kind}.${r.ns ? `${r.ns}.` : ''}${r.obj.metadata.name}`;
    chunks.push(
      unifiedDiff(live ? YAML.stringify(live) : '', YAML.stringify(next), `/tmp/LIVE/${id}`, `/tmp/MERGED/${id}`),
    );
  }
  return chunks.length ? { code: 1, stdout: chunks.join(''), stderr: '' } : ok();
}

/** A small unified diff (whole files as one hunk; objects are short). */
export function unifiedDiff(a: string, b: string, nameA: string, nameB: string): string {
  const x = a ? a.replace(/\n$/, '').split('\n') : [];
  const y = b ? b.replace(/\n$/, '').split('\n') : [];
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const body: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      body.push(` ${x[i++]}`);
      j++;
    } else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) body.push(`-${x[i++]}`);
    else body.push(`+${y[j++]}`);
  }
  return (
    `diff -u -N ${nameA} ${nameB}\n--- ${nameA}\n+++ ${nameB}\n@@ ` +
    `-${n ? 1 : 0},${n} +${m ? 1 : 0},${m} @@\n${body.join('\n')}\n`
  );
}
