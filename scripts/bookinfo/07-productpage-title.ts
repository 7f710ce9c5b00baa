// Article "确保网页服务正常": from inside the ratings pod, curl productpage:9080/productpage
// and look for <title>Simple Bookstore App</title>. The article finds the pod with a nested
// `$(kubectl get pod -l app=ratings -o jsonpath=...)`; `kubectl exec deploy/ratings-v1`
// picks one without a second command, and the title is matched here, not with grep.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { NAMESPACE } from './03-label-namespace.ts';

export const TITLE = '<title>Simple Bookstore App</title>';

const step: Step = {
  id: '07-productpage-title',
  title: 'productpage answers inside the mesh (title "Simple Bookstore App")',
  article: '确保网页服务正常 (productpage title)',
  notes: ['kubectl exec deploy/ratings-v1 instead of the nested $(kubectl get pod ...) of the article'],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(
      kubectl(
        ctx.env,
        'exec',
        '-n',
        NAMESPACE,
        'deploy/ratings-v1',
        '-c',
        'ratings',
        '--',
        'curl',
        '-sS',
        '--max-time',
        '10',
        'productpage:9080/productpage',
      ),
    ),
    interpret: (out) => {
      const title = /<title>\s*([^<]*?)\s*<\/title>/i.exec(out.stdout)?.[1];
      if (out.code !== 0)
        return { ok: false, lines: [`error: curl from ratings-v1 to productpage:9080 failed (exit ${out.code})`] };
      if (title === 'Simple Bookstore App')
        return { ok: true, lines: [`productpage:9080/productpage answered ${TITLE}`] };
      return {
        ok: false,
        lines: [
          `error: productpage ` +
            `answered ${title === undefined ? 'without a <title>' : `with <title>${title}</title>`}, expected ${TITLE}`,
        ],
      };
    },
  }),
};
export default step;
