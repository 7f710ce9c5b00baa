// Article "istio 控制面配置" (control plane), first half: which meshID / clusterName /
// network Istio runs with now. The article edits blindly ("if Istio is installed, patch;
// otherwise install"); this reads the values first so 03 changes only what differs:
// install mode reads the istio-sidecar-injector ConfigMap's values (where istioctl itself
// reads clusterName from), patch mode the in-cluster IstioOperator `istio`.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { ISTIO_NS, showValues, wantedValues, withFacts } from './common.ts';
import { parseMeshValues } from './parse.ts';

const notFound = (s: string) => /NotFound|not found/i.test(s);

const step: Step = {
  id: '02-mesh-values',
  title: 'Read the mesh values Istio runs with',
  article: 'istio 控制面配置 (control plane)',
  notes: [
    'the article patches or installs without looking; the current values are read first, so a re-run changes nothing',
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => {
    const patch = ctx.env.ISTIO_CONFIG_MODE === 'patch';
    return {
      probe: probeCmd(
        patch
          ? kubectl(ctx.env, '-n', ISTIO_NS, 'get', 'istiooperators.install.istio.io', 'istio', '-o', 'json')
          : kubectl(ctx.env, '-n', ISTIO_NS, 'get', 'configmap', 'istio-sidecar-injector', '-o', 'json'),
      ),
      interpret: (out) => {
        const want = `wanted: ${showValues(wantedValues(ctx.env))}`;
        if (out.code !== 0) {
          if (!notFound(out.stderr))
            return { ok: false, lines: [`error: kubectl exited ${out.code}: ${out.stderr.trim().split('\n').pop()}`] };
          if (patch)
            return {
              ok: false,
              lines: [
                `error: there is no IstioOperator istio in ${ISTIO_NS} ` +
                  `(no in-cluster operator); set ISTIO_CONFIG_MODE=install`,
              ],
            };
          return {
            ok: true,
            lines: ['Istio is not installed here yet (no istio-sidecar-injector ConfigMap): 03 installs it', want],
            facts: withFacts(ctx.facts, { meshValues: null }),
          };
        }
        const v = parseMeshValues(out.stdout, patch ? 'patch' : 'install');
        if ('error' in v) return { ok: false, lines: [`error: ${v.error}`] };
        return {
          ok: true,
          lines: [`Istio runs with ${showValues(v)}`, want],
          facts: withFacts(ctx.facts, { meshValues: v }),
        };
      },
    };
  },
};
export default step;
