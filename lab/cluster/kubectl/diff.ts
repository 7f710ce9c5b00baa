// meshbook lab kubectl: diff -f (exit 0 when nothing would change, 1 with a unified diff).
import YAML from 'yaml';
import { structuredPatch } from 'diff';
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

/** `diff -u -N` of two texts (three lines of context, as kubectl diff shows it), through jsdiff. */
export function unifiedDiff(a: string, b: string, nameA: string, nameB: string): string {
  const { hunks } = structuredPatch(nameA, nameB, a, b, '', '', { context: 3 });
  const body = hunks.map(
    (h) =>
      // an empty side starts at line 0, as GNU diff writes it
      `@@ -${h.oldLines ? h.oldStart : 0},${h.oldLines} +${h.newLines ? h.newStart : 0},${h.newLines} @@\n` +
      `${h.lines.join('\n')}\n`,
  );
  return `diff -u -N ${nameA} ${nameB}\n--- ${nameA}\n+++ ${nameB}\n${body.join('')}`;
}
