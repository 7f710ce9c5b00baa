// Article "将 istiod 主机添加到 /etc/hosts" (istiod in /etc/hosts): the hosts line (the
// gateway's or the node's address, then istiod.istio-system.svc) exactly once; the article's
// `cat hosts >> /etc/hosts`: the note. Every other line for the istiod name is dropped.
import type { Step } from '../engine/types.ts';
import { mutate, probe } from '../engine/sh.ts';
import { ivFacts, NODE_IP_PLACEHOLDER } from './common.ts';
import { planOnly } from './14-install-files.ts';

const ere = (s: string) => s.replace(/[.[\]()*+?^$|\\{}]/g, '\\$&');

/** `line` the only line of /etc/hosts naming `host`, in one atomic rewrite. */
export function hostsLine(host: string, line: string) {
  const pattern = `(^|[[:space:]])${ere(host)}([[:space:]]|$)`;
  return {
    check: probe`
      n=$(grep -cE ${pattern} /etc/hosts || true)
      if [ "$n" = 1 ] && grep -qxF ${line} /etc/hosts; then echo ${`/etc/hosts has: ${line}`}; exit 0; fi
      echo "/etc/hosts has $n line(s) for "${host}", wants exactly:" ${line}
      exit 10
    `,
    apply: mutate`
      { grep -vE ${pattern} /etc/hosts || true; printf '%s\n' ${line}; } | write_file /etc/hosts 0644
      echo ${`/etc/hosts: ${line}`}
    `,
    verify: probe`test "$(grep -cE ${pattern} /etc/hosts)" = 1 && grep -qxF ${line} /etc/hosts`,
  };
}

const step: Step = {
  id: '16-hosts',
  title: 'Add the istiod host line to /etc/hosts (once)',
  article: '将 istiod 主机添加到 /etc/hosts (istiod in /etc/hosts)',
  notes: [
    "the article's `cat hosts >> /etc/hosts` duplicates the line on every run (and " +
      'adds nothing when hosts is empty): one atomic rewrite keeps exactly one line',
  ],
  target: 'vm',
  vm: (ctx) => {
    const f = ivFacts(ctx.cluster);
    if (f.workDir && !f.vmFiles)
      return { skip: `no istioctl output in ${f.workDir} yet: 09-workload-files generates it (not under --dry-run)` };
    if (f.vmFiles) return hostsLine(f.vmFiles.istiodHost, f.vmFiles.hostsLine);
    // a plan (no cluster facts yet): shown with NODE_IP, never run without 11's hosts line
    const host = 'istiod.istio-system.svc';
    const a = hostsLine(host, `${ctx.env.NODE_IP || NODE_IP_PLACEHOLDER} ${host}`);
    const why = 'the hosts line is not known: 11-istiod-address must run first (a full rebuild, not --only/--from)';
    return { check: planOnly(a.check, why), apply: planOnly(a.apply, why), verify: planOnly(a.verify, why) };
  },
};
export default step;
