// The Istio release's sample files the article applies (ISTIO_DIR/samples/...). They do
// not exist before the release is unpacked, so meshbook cannot check them ahead of time:
// each is read and validated when its step is built (run time), through the engine's
// renderText with no placeholders to fill (a `${NAME}` inside a sample, e.g. in a Grafana
// dashboard, is kept as written), and applied from stdin; an invalid file stops the run
// with the file, the object and the field. Before the release is there (a plan made
// ahead of time) the step shows the article's `kubectl apply -f FILE`.
import fs from 'node:fs';
import path from 'node:path';
import type { ClusterAction } from '../engine/types.ts';
import { kubectl, probeCmd, mutateCmd, applyManifest } from '../engine/local.ts';
import { renderText, ManifestError, type Rendered } from '../engine/manifests.ts';
import type { Untyped } from '../engine/untyped.ts';

export const SAMPLES = {
  bookinfo: 'samples/bookinfo/platform/kube/bookinfo.yaml',
  gateway: 'samples/bookinfo/networking/bookinfo-gateway.yaml',
  addons: 'samples/addons',
  destinationRules: 'samples/bookinfo/networking/destination-rule-all.yaml',
  allV1: 'samples/bookinfo/networking/virtual-service-all-v1.yaml',
  reviewsJason: 'samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml',
} as const;

/** Every ${NAME} of a text mapped to itself: nothing is filled, nothing is reported missing. */
export function keepPlaceholders(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => [m[1], m[0]]));
}

/** A YAML text validated as is (file names it in errors). */
export function validateSampleText(file: string, text: string): Rendered {
  return renderText(file, text, keepPlaceholders(text));
}

/** A sample file, or a directory's *.yaml|*.yml|*.json files in name order (as `kubectl
 *  apply -f DIR` takes them), validated. Throws ManifestError. */
export function readSample(abs: string): Rendered {
  if (!fs.existsSync(abs))
    throw new ManifestError(
      `${abs} does not exist; set ISTIO_DIR to the unpacked Istio release (it has samples/ and bin/istioctl)`,
    );
  if (!fs.statSync(abs).isDirectory()) return validateSampleText(abs, fs.readFileSync(abs, 'utf8'));
  const files = fs
    .readdirSync(abs)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  if (!files.length) throw new ManifestError(`${abs} has no .yaml/.yml/.json files`);
  const parts = files.map((f) => validateSampleText(path.join(abs, f), fs.readFileSync(path.join(abs, f), 'utf8')));
  return { file: abs, text: parts.map((p) => p.text).join('---\n'), objects: parts.flatMap((p) => p.objects) };
}

/** "Gateway bookinfo-gateway, VirtualService bookinfo" (or counts per kind when many). */
export function describe(objects: Array<Record<string, Untyped>>): string {
  if (objects.length <= 4) return objects.map((o) => `${o.kind} ${o.metadata?.name}`).join(', ');
  const n = new Map<string, number>();
  for (const o of objects) n.set(o.kind, (n.get(o.kind) ?? 0) + 1);
  return [...n].map(([k, c]) => `${k} x${c}`).join(', ');
}

export const samplePath = (env: Record<string, string>, rel: string) => path.join(env.ISTIO_DIR, rel);

/** Apply a sample: `kubectl diff` as the check, `kubectl apply` of the validated text. */
export function sampleAction(env: Record<string, string>, rel: string, ns?: string): ClusterAction {
  const abs = samplePath(env, rel);
  const nsArgs = ns ? ['-n', ns] : [];
  if (!fs.existsSync(abs)) {
    // not unpacked yet (a plan ahead of time): the article's command; kubectl names the missing path
    return {
      check: probeCmd(kubectl(env, 'diff', ...nsArgs, '-f', abs), { changeCodes: [1] }),
      apply: [mutateCmd(kubectl(env, 'apply', ...nsArgs, '-f', abs))],
    };
  }
  try {
    const r = readSample(abs);
    const m = applyManifest(env, { file: abs, text: r.text }, ns);
    return { check: m.check, apply: [m.apply] };
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    return {
      probe: probeCmd(['test', '-r', abs]),
      interpret: () => ({
        ok: false,
        lines: [`error: ${e.message}`, 'nothing was applied from this file; fix it or unpack the release again'],
      }),
    };
  }
}
