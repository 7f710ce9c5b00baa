// Article "在实际环境中,需要先把eastwest改成NodePort" and "注意:hosts检查下,如果为空" (istiod
// through a NodePort; an empty hosts file): reads the east-west gateway Service
// (`kubectl -n istio-system get svc istio-eastwestgateway -o json`) and istioctl's files.
// With a LoadBalancer address the files stay as generated; without one, port 15012
// becomes port 15012's nodePort in mesh.yaml's discoveryAddress and in cluster.env's
// CA_ADDR, and the hosts line names the node (NODE_IP or 10's node; INGRESS_IP wins).
// The article does this with jq and `vi mesh.yaml`; here it is computed, shown, and sent
// to the VMs by 14 and 16. istioctl's own output in the work dir is left as it wrote it.
import fs from 'node:fs';
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { EASTWEST_SVC, ISTIO_NS, nodeIp, withFacts } from './common.ts';
import { parseEastWestService, prepareVmFiles } from './parse.ts';

const step: Step = {
  id: '11-istiod-address',
  title: 'Point the VM files at istiod (LoadBalancer or NodePort)',
  article: '在实际环境中,需要先把eastwest改成NodePort (NodePort fix), 注意:hosts检查下 (empty hosts)',
  notes: [
    'the article finds the NodePort with jq and edits mesh.yaml in vi; it also ' +
      'edits CA_ADDR by hand only after the connection fails: both are rewritten here',
    'istioctl writes an empty hosts file when it finds no gateway ' +
      'address: the node IP (or INGRESS_IP) is used and the run says so',
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => ({
    probe: probeCmd(kubectl(ctx.env, '-n', ISTIO_NS, 'get', 'service', EASTWEST_SVC, '-o', 'json')),
    interpret: (out) => {
      if (out.code !== 0)
        return {
          ok: false,
          lines: [
            `error: kubectl exited ${out.code}: ${out.stderr.trim().split('\n').pop()}; ` +
              `is the east-west gateway (05) installed?`,
          ],
        };
      const svc = parseEastWestService(out.stdout);
      if (svc.error) return { ok: false, lines: [`error: ${svc.error}`] };
      const lb = svc.lbIp ?? svc.lbHostname;
      const lines = [
        `${EASTWEST_SVC}: type ${svc.type}, ${lb ? `LoadBalancer ${lb}` : 'no LoadBalancer address'}` +
          (svc.nodePort ? `, nodePort ${svc.nodePort} for 15012` : ''),
      ];
      const dir = ctx.workDir;
      const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
      if (!['cluster.env', 'mesh.yaml', 'hosts', 'root-cert.pem'].every((f) => fs.existsSync(path.join(dir, f)))) {
        return {
          ok: true,
          lines: [...lines, `no istioctl output in ${dir} yet (09 writes it; not under --dry-run)`],
          facts: withFacts(ctx.facts, { istiod: svc, workDir: dir }),
        };
      }
      const p = prepareVmFiles(
        {
          clusterEnv: read('cluster.env'),
          meshYaml: read('mesh.yaml'),
          hosts: read('hosts'),
          rootCert: read('root-cert.pem'),
        },
        { istiod: svc, nodeIp: nodeIp(ctx.facts, ctx.env), ingressIp: ctx.env.INGRESS_IP || undefined },
      );
      if (p.error) return { ok: false, lines: [...lines, ...p.lines, `error: ${p.error}`] };
      return {
        ok: true,
        lines: [...lines, ...p.lines],
        facts: withFacts(ctx.facts, { istiod: svc, workDir: dir, vmFiles: p.files }),
      };
    },
  }),
};
export default step;
