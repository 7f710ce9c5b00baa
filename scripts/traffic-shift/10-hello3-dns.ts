// Article §1 "為VM新增hello3 DNS" (second half): `<hello3-svc clusterIP>
// hello3-svc.<HELLO_NS>.svc.cluster.local` in every VM's /etc/hosts, exactly once, so hello2
// finds its backend. The IP is the one 04-hello3-ip read (HELLO3_IP when the cluster step
// did not run, as in the lab). Runs for real in the lab.
// Fixed against the article: `ssh root@vm "cat >> /etc/hosts" < dns_record` appends a line on
// every run (duplicates; a changed clusterIP leaves the stale line first, which wins); here
// every line naming the host is replaced by the one wanted, in one atomic rewrite.
// Also fixed: a `--network host` container gets a copy of /etc/hosts made when it starts, so
// the hello2 container of step 05 would never see the line; a running http_vN whose copy lacks
// it is restarted (its --restart=always container comes back with the new copy).
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { hello3Ip, svcHost } from './common.ts';
import { CONTAINERS } from './05-hello2-on-vms.ts';

const step: Step = {
  id: '10-hello3-dns',
  title: 'hello3-svc in /etc/hosts on every VM (once)',
  article: '§1 為VM新增hello3 DNS (hello3 DNS for the VMs)',
  notes: [
    "the article's `cat >> /etc/hosts` adds a duplicate line on " +
      'every run; here the line is replaced atomically, exactly once',
    "a --network host container reads a copy of /etc/hosts taken when it started: the article's " +
      'hello2 (started in §1 before this line exists) would not resolve hello3; a running http_vN ' +
      'whose copy lacks the line is restarted',
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
    // the running hello2 containers whose copy of /etc/hosts lacks the line (none without docker)
    const stale = probe`
      stale=()
      if command -v docker >/dev/null 2>&1; then
        while read -r c hp; do
          if [ -n "$hp" ] && ! grep -qxF -- ${line} "$hp" 2>/dev/null; then stale+=("$c"); fi
        done < <(docker inspect -f '{{.Name}} {{if .State.Running}}{{.HostsPath}}{{end}}' ${CONTAINERS} 2>/dev/null || true)
      fi
    `;
    return {
      check: probe`
        ${guard}
        ${scan}
        ${stale}
        if [ \${#stale[@]} -gt 0 ]; then echo "\${stale[*]#/} started before the line: its copy of /etc/hosts lacks it"; exit 10; fi
        if [ "$n" = 1 ] && [ -n "$have" ]; then echo ${`/etc/hosts has: ${line}`}; exit 0; fi
        echo "/etc/hosts has $n line(s) for" ${name}"; wants exactly:" ${line}
        exit 10
      `,
      apply: mutate`
        ${guard}
        ${scan}
        if [ "$n" != 1 ] || [ -z "$have" ]; then write_file /etc/hosts 0644 "$keep"${line}$'\n'; fi
        ${stale}
        for c in \${stale[@]+"\${stale[@]}"}; do docker restart "\${c#/}" >/dev/null; echo "restarted \${c#/} (it reads /etc/hosts as it was when it started)"; done
      `,
      verify: probe`
        ${scan}
        [ "$n" = 1 ] && [ -n "$have" ]
      `,
    };
  },
};
export default step;
