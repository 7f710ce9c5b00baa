// Article §1 "為VM新增hello3 DNS" (second half): `<hello3-svc clusterIP>
// hello3-svc.<HELLO_NS>.svc.cluster.local` in every VM's /etc/hosts, exactly once, so hello2
// finds its backend. The IP is the one 04-hello3-ip read (HELLO3_IP when the cluster step
// did not run, as in the lab). Runs for real in the lab.
// Fixed against the article: `ssh root@vm "cat >> /etc/hosts" < dns_record` appends a line on
// every run (duplicates; a changed clusterIP leaves the stale line first, which wins); here
// every line naming the host is replaced by the one wanted, in one atomic rewrite.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { hello3Ip, svcHost } from './common.ts';

const step: Step = {
  id: '10-hello3-dns',
  title: 'hello3-svc in /etc/hosts on every VM (once)',
  article: '§1 為VM新增hello3 DNS (hello3 DNS for the VMs)',
  notes: [
    "the article's `cat >> /etc/hosts` adds a duplicate line on " +
      'every run; here the line is replaced atomically, exactly once',
  ],
  target: 'vm',
  vm: (ctx) => {
    const name = svcHost(ctx.env, 'hello3-svc');
    const ip = hello3Ip(ctx.cluster, ctx.env);
    const line = `${ip} ${name}`;
    const pattern = `(^|[[:space:]])${name.replace(/\./g, '\\.')}([[:space:]]|$)`;
    // the IP is checked on the VM too, so a placeholder shown in a plan can never be written
    const guard = probe`
      if ! [[ ${ip} =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then echo ${`error: hello3-svc's clusterIP is unknown (${ip}); run 04-hello3-ip or set HELLO3_IP`}; exit 1; fi
    `;
    // count the lines naming the host and look for the wanted one, with bash builtins (no
    // grep processes: a fleet runs this on every VM)
    const scan = probe`
      re=${pattern}; n=0; have=""; keep=""
      if [ -e /etc/hosts ]; then
        while IFS= read -r l || [ -n "$l" ]; do
          if [[ $l =~ $re ]]; then n=$((n + 1)); if [[ $l == ${line} ]]; then have=1; fi; else keep+="$l"$'\n'; fi
        done < /etc/hosts
      fi
    `;
    return {
      check: probe`
        ${guard}
        ${scan}
        if [ "$n" = 1 ] && [ -n "$have" ]; then echo ${`/etc/hosts has: ${line}`}; exit 0; fi
        echo "/etc/hosts has $n line(s) for" ${name}"; wants exactly:" ${line}
        exit 10
      `,
      apply: mutate`
        ${guard}
        ${scan}
        write_file /etc/hosts 0644 "$keep"${line}$'\n'
      `,
      verify: probe`
        ${scan}
        [ "$n" = 1 ] && [ -n "$have" ]
      `,
    };
  },
};
export default step;
