// Article §6 "链路追踪" (tracing): `<zipkin-slb clusterIP> zipkin.istio-system` in each
// VM's /etc/hosts exactly once, however often it runs. The article deletes with
// `sed -i` and appends with `cat >>` in two ssh calls; here it is one atomic rewrite.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';

const NAME = 'zipkin.istio-system';
const PATTERN = '(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)';

const step: Step = {
  id: '07-tracing',
  title: 'Point zipkin.istio-system at the zipkin SLB in /etc/hosts',
  article: '§6 链路追踪 (tracing)',
  notes: ["one atomic rewrite of /etc/hosts instead of the article's sed -i + cat >>"],
  target: 'vm',
  vm: (ctx) => {
    const ip = ctx.env.ZIPKIN_IP;
    if (!ip)
      return {
        skip:
          'ZIPKIN_IP is not set (tracing is optional); find it with kubectl ' +
          "-n istio-system get svc zipkin-slb -o jsonpath='{.spec.clusterIP}'",
      };
    const line = `${ip} ${NAME}`;
    return {
      check: probe`
        n=$(grep -cE ${PATTERN} /etc/hosts || true)
        if [ "$n" = 1 ] && grep -qxF ${line} /etc/hosts; then echo ${`/etc/hosts has: ${line}`}; exit 0; fi
        echo "/etc/hosts has $n zipkin.istio-system line(s), wants exactly:" ${line}
        exit 10
      `,
      apply: mutate`
        { grep -vE ${PATTERN} /etc/hosts || true; printf '%s\n' ${line}; } | write_file /etc/hosts 0644
      `,
      verify: probe`test "$(grep -cE ${PATTERN} /etc/hosts)" = 1`,
    };
  },
};
export default step;
