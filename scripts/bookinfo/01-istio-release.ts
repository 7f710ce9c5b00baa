// Article "下载 Istio" (download Istio): `curl -L https://istio.io/downloadIstio | sh -`,
// then istioctl on the PATH. meshbook does not pipe a download into a shell: unpack the
// release yourself and set ISTIO_DIR to it. This step checks that istioctl answers and
// that every sample file the later steps apply is there and valid (Kubernetes and Istio
// schemas, unknown fields included), before anything is installed.
import fs from 'node:fs';
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { istioctl, probeCmd } from '../engine/local.ts';
import { ManifestError } from '../engine/manifests.ts';
import { SAMPLES, describe, readSample, samplePath } from './samples.ts';

export function releaseVersion(istioDir: string): string | undefined {
  const f = path.join(istioDir, 'manifest.yaml');
  if (!fs.existsSync(f)) return undefined;
  return /^version:\s*"?([^"\s]+)"?/m.exec(fs.readFileSync(f, 'utf8'))?.[1];
}

/** Every sample the runbook applies, validated: one line each, or the first error. */
export function checkSamples(env: Record<string, string>): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  for (const rel of Object.values(SAMPLES)) {
    try {
      const r = readSample(samplePath(env, rel));
      lines.push(`valid: ${rel}: ${describe(r.objects)}`);
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      return { ok: false, lines: [...lines, `error: ${e.message}`] };
    }
  }
  return { ok: true, lines };
}

const step: Step = {
  id: '01-istio-release',
  title: 'istioctl answers and the release samples in ISTIO_DIR are valid',
  article: '下载 Istio (download Istio)',
  notes: [
    'the article pipes https://istio.io/downloadIstio into sh: not done; unpack a release yourself and set ISTIO_DIR',
    'every sample file applied later is validated here first (file, object and field named on an error)',
  ],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(istioctl(ctx.env, 'version', '--remote=false')),
    interpret: (out) => {
      if (out.code !== 0)
        return {
          ok: false,
          lines: [
            `error: istioctl did not answer (exit ${out.code}); put ${path.join(ctx.env.ISTIO_DIR, 'bin')} on the PATH`,
          ],
        };
      const client = /(\d+\.\d+\.\d+[^\s]*)/.exec(out.stdout)?.[1] ?? out.stdout.trim();
      const release = releaseVersion(ctx.env.ISTIO_DIR);
      const lines = [`istioctl ${client}; release in ${ctx.env.ISTIO_DIR}: ${release ?? 'unknown (no manifest.yaml)'}`];
      if (release && client !== release)
        lines.push(`note: istioctl ${client} and the samples of ${release} differ; use the release's own bin/istioctl`);
      const s = checkSamples(ctx.env);
      return { ok: s.ok, lines: [...lines, ...s.lines] };
    },
  }),
};
export default step;
