// Article §1 "為VM新增hello3 DNS" (first half): hello3-svc's clusterIP, which every VM
// needs in /etc/hosts (step 10). Read once per run (also when resuming) into the run's
// cluster facts (hello3Ip); VM steps fall back to HELLO3_IP (the lab has no cluster).
// Fixed against the article: it reads the Service from namespace `hybrid-hello` (a leftover
// of another demo) while hello3 lives in http-reciprocal-hello: HELLO_NS everywhere here.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import * as v from '../engine/validate.ts';
import { ns } from './common.ts';

const step: Step = {
  id: '04-hello3-ip',
  title: "Read hello3-svc's clusterIP",
  article: '§1 為VM新增hello3 DNS (hello3 DNS for the VMs)',
  notes: ["the article reads hello3-svc from namespace hybrid-hello (another demo's); HELLO_NS is used"],
  target: 'cluster',
  gathersFacts: true,
  cluster: ({ env }) => ({
    probe: probeCmd(kubectl(env, '-n', ns(env), 'get', 'svc', 'hello3-svc', '-o', 'jsonpath={.spec.clusterIP}')),
    interpret: (out) => {
      const ip = out.stdout.trim();
      if (out.code !== 0)
        return {
          ok: false,
          lines: [`error: hello3-svc not found in ${ns(env)}: ${out.stderr.trim().split('\n')[0] ?? ''}`],
        };
      if (v.ipv4(ip))
        return {
          ok: false,
          lines: [`error: hello3-svc has no IPv4 clusterIP (${JSON.stringify(ip)}); it must be a ClusterIP Service`],
        };
      if (env.HELLO3_IP && env.HELLO3_IP !== ip)
        return {
          ok: true,
          lines: [`hello3-svc clusterIP ${ip} (HELLO3_IP=${env.HELLO3_IP} is ignored)`],
          facts: { hello3Ip: ip },
        };
      return { ok: true, lines: [`hello3-svc clusterIP ${ip}`], facts: { hello3Ip: ip } };
    },
  }),
};
export default step;
