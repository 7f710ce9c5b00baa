// What the lab does with the bookinfo steps (article 5). The lab cluster runs the lab's own
// Bookinfo for the sample's images and programs its NGINX data plane from the objects the
// runbook applies, so steps 03-10 and 12-17 run for real; the lab env's ISTIO_DIR is the
// lab's stand-in release (lab/istio-release). The lab has no istioctl and no istiod: 01
// validates the samples without istioctl's version, 02 (install) is not run, 09 runs the
// lab's own checks instead of istioctl analyze; 11 (addons) has nothing to install.
import path from 'node:path';
import type { ClusterAction, ClusterLabRule } from '../../scripts/engine/types.ts';
import { kubectl, probeCmd } from '../../scripts/engine/local.ts';
import { analyzeResult } from '../../scripts/bookinfo/analyze.ts';
import { checkSamples, releaseVersion } from '../../scripts/bookinfo/01-istio-release.ts';
import { NAMESPACE } from '../../scripts/bookinfo/03-label-namespace.ts';
import { labAnalyze } from './bookinfo-analyze.ts';

export const LAB_RELEASE_VERSION = 'meshbook-lab';
const NO_ISTIOCTL = 'istioctl is not in the lab (no istiod)';

const notRun = (why: string): ClusterLabRule => ({ inLab: () => ({ notInLab: why }) });

/** 01 in the lab: the release's samples validated for real; istioctl's version cannot be asked. */
function releaseCheck(env: Record<string, string>): ClusterAction {
  const manifest = path.join(env.ISTIO_DIR, 'manifest.yaml');
  return {
    probe: probeCmd(['test', '-r', manifest]),
    interpret: () => {
      const v = releaseVersion(env.ISTIO_DIR);
      const what =
        v === LAB_RELEASE_VERSION
          ? `${env.ISTIO_DIR} is the lab's stand-in release (written for the lab, not Istio's; no bin/istioctl)`
          : `release in ${env.ISTIO_DIR}: ${v ?? 'unknown (no manifest.yaml)'}`;
      const s = checkSamples(env);
      return { ok: s.ok, lines: [what, ...s.lines] };
    },
    notInLab: `${NO_ISTIOCTL}: its version is not checked; the samples above were validated`,
  };
}

/** 09 in the lab: the lab's own checks of the applied objects, in istioctl's format. */
function analyzeCheck(env: Record<string, string>): ClusterAction {
  return {
    probe: probeCmd(
      kubectl(
        env,
        'get',
        'namespaces,services,serviceentries,gateways,virtualservices,destinationrules',
        '-A',
        '-o',
        'json',
      ),
    ),
    interpret: (out) => {
      if (out.code !== 0) return { ok: false, lines: [`error: kubectl get failed (exit ${out.code})`] };
      const text = labAnalyze(JSON.parse(out.stdout).items ?? [], NAMESPACE);
      const r = analyzeResult(text, text.startsWith('✔') ? 0 : 79);
      return { ...r, lines: ['lab checks (IST0101 references, IST0102 injection), not istioctl analyze:', ...r.lines] };
    },
    notInLab: `${NO_ISTIOCTL}: the lab's own checks of the applied objects ran instead (above)`,
  };
}

export const bookinfoRules: Record<string, ClusterLabRule> = {
  '01-istio-release': { inLab: (_real, ctx) => releaseCheck(ctx.env) },
  '02-install-istio': notRun(
    `${NO_ISTIOCTL}: istioctl install cannot run; the lab's data plane is NGINX programmed ` +
      'from the applied objects (lab/cluster), its ingress gateway is always there',
  ),
  '09-analyze': { inLab: (_real, ctx) => analyzeCheck(ctx.env) },
  '11-addons': notRun(
    'the lab has no container engine to run Prometheus, Grafana, Jaeger or Kiali (samples/addons of the ' +
      "lab's release holds none); istioctl dashboard is not in the lab either",
  ),
};
