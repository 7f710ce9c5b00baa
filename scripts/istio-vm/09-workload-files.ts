// Article "生成配置文件" (generate the files): `istioctl x workload entry configure -f
// workloadgroup.yaml -o WORK_DIR --clusterID CLUSTER --autoregister` writes cluster.env,
// hosts, istio-token, mesh.yaml and root-cert.pem (where and how: the notes). INGRESS_IP
// becomes --ingressIP. Nothing runs while the files there came from the same inputs and
// the token is still valid.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { istioctl, mutateCmd } from '../engine/local.ts';
import { registerSecret } from '../engine/redact.ts';
import { GENERATED, STAMP } from './common.ts';
import { tokenExpiry } from './parse.ts';
import { renderWorkloadGroup } from './08-workloadgroup.ts';

export const MIN_TOKEN_LEFT_S = 300;

/** A one-way digest of everything the generated files depend on. */
export function inputsDigest(env: Record<string, string>, workloadGroupText: string): string {
  const inputs = {
    wg: workloadGroupText,
    clusterID: env.CLUSTER_NAME,
    ingressIP: env.INGRESS_IP ?? '',
    tokenDuration: env.TOKEN_DURATION,
    context: env.KUBE_CONTEXT ?? '',
  };
  return crypto.createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}

/** Are the files in `dir` current? (Reads local files only; the token is never shown.) */
export function currentFiles(dir: string, digest: string, nowS = Date.now() / 1000): { ok: boolean; reason: string } {
  const missing = GENERATED.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) return { ok: false, reason: `${dir} lacks ${missing.join(', ')}` };
  const stamp = fs.existsSync(path.join(dir, STAMP)) ? fs.readFileSync(path.join(dir, STAMP), 'utf8').trim() : '';
  if (stamp !== digest) return { ok: false, reason: 'the files were generated from other inputs' };
  const token = fs.readFileSync(path.join(dir, 'istio-token'), 'utf8');
  registerSecret(token.trim());
  const exp = tokenExpiry(token);
  if (exp === undefined) return { ok: false, reason: 'istio-token is not a readable token' };
  const left = Math.floor(exp - nowS);
  if (left < MIN_TOKEN_LEFT_S)
    return { ok: false, reason: left <= 0 ? 'istio-token has expired' : `istio-token expires in ${left} s` };
  return {
    ok: true,
    reason:
      `the files in ${dir} are current (same inputs; istio-token ` + `valid for ${Math.floor(left / 60)} more minutes)`,
  };
}

const step: Step = {
  id: '09-workload-files',
  title: 'Generate the VM files with istioctl',
  article: '生成配置文件 (generate the files)',
  notes: [
    "the files go to meshbook's work dir (mode 0700; istio-token made " +
      '0600) instead of $HOME/vm; the WorkloadGroup from 08 is read from stdin',
    '--clusterID is CLUSTER_NAME, the IstioOperator clusterName: a different ' +
      'value makes istiod reject the VM (client claims to be in cluster ...)',
    'the token expires (TOKEN_DURATION, default 1 h): a re-run ' +
      'regenerates the files once it has less than 5 minutes left',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const wg = renderWorkloadGroup(ctx.env);
    const dir = ctx.workDir;
    const digest = inputsDigest(ctx.env, wg.text);
    const cur = currentFiles(dir, digest);
    if (cur.ok) return { skip: cur.reason };
    const ingress = ctx.env.INGRESS_IP ? ['--ingressIP', ctx.env.INGRESS_IP] : [];
    return {
      apply: [
        mutateCmd(['install', '-d', '-m', '0700', dir]),
        mutateCmd(
          istioctl(
            ctx.env,
            'x',
            'workload',
            'entry',
            'configure',
            '-f',
            '/dev/stdin',
            '-o',
            dir,
            '--clusterID',
            ctx.env.CLUSTER_NAME,
            '--autoregister',
            '--tokenDuration',
            ctx.env.TOKEN_DURATION,
            ...ingress,
          ),
          { stdin: wg.text, stdinLabel: `${wg.file} (rendered)` },
        ),
        mutateCmd(['chmod', '0600', path.join(dir, 'istio-token')]),
        mutateCmd(['cp', '/dev/stdin', path.join(dir, STAMP)], {
          stdin: `${digest}\n`,
          stdinLabel: 'a digest of the inputs above',
        }),
      ],
    };
  },
};
export default step;
