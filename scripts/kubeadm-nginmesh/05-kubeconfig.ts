// Article "使用kubectl 命令检查master节点安装结果": the article runs kubectl on the master
// itself. meshbook's cluster steps run kubectl on this machine, so the control plane's
// /etc/kubernetes/admin.conf is read over SSH and saved here as KUBECONFIG_FILE, created
// 0600 before a byte is written (it holds the cluster-admin key, which is registered as a
// secret and never shown). Cluster steps then use `kubectl --kubeconfig KUBECONFIG_FILE`;
// with KUBE_CONTEXT set they use that context of your own kubeconfig and this step skips.
import fs from 'node:fs';
import path from 'node:path';
import { YAML } from '../engine/lazy.ts';
import type { Interpretation, Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { registerSecret } from '../engine/redact.ts';
import { ADMIN_CONF, failWith, isRoles, rolesFor } from './common.ts';
import type { Untyped } from '../engine/untyped.ts';

/** Save an admin kubeconfig (text) at `file` with mode 0600; never echoes its content. */
export function saveKubeconfig(text: string, file: string): Interpretation {
  let doc: Untyped;
  try {
    doc = YAML.parse(text);
  } catch {
    doc = undefined;
  }
  const server = doc?.clusters?.[0]?.cluster?.server;
  if (typeof server !== 'string')
    return { ok: false, lines: [`error: ${ADMIN_CONF} is not a kubeconfig (no clusters[0].cluster.server)`] };
  for (const u of Array.isArray(doc.users) ? doc.users : []) {
    for (const k of ['client-key-data', 'client-certificate-data', 'token', 'password']) registerSecret(u?.user?.[k]);
  }
  const where = path.resolve(file);
  const shown = `${file} (mode 600; it holds the cluster-admin key)`;
  if (fs.existsSync(where) && fs.readFileSync(where, 'utf8') === text && (fs.statSync(where).mode & 0o777) === 0o600) {
    return { ok: true, lines: [`${shown} is up to date; API server ${server}`] };
  }
  fs.mkdirSync(path.dirname(where), { recursive: true, mode: 0o700 });
  const tmp = `${where}.meshbook-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, where);
  return { ok: true, lines: [`saved the control plane's admin kubeconfig as ${shown}; API server ${server}`] };
}

const step: Step = {
  id: '05-kubeconfig',
  title: "Save the control plane's admin kubeconfig for the cluster steps",
  article: '使用kubectl 命令检查master节点安装结果 (kubectl on the master)',
  notes: [
    'the article runs kubectl on the master; meshbook runs it here, with the ' +
      'admin kubeconfig saved 0600 as KUBECONFIG_FILE (or your KUBE_CONTEXT)',
  ],
  target: 'vm',
  gathersFacts: true,
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane !== ctx.vm)
      return { skip: `a worker: the admin kubeconfig is on the control plane ${roles.controlPlane.name}` };
    if (ctx.env.KUBE_CONTEXT)
      return { skip: `KUBE_CONTEXT is set: the cluster steps use context ${ctx.env.KUBE_CONTEXT} of your kubeconfig` };
    return {
      probe: probe`cat ${ADMIN_CONF}`,
      interpret: (out) =>
        out.code !== 0
          ? {
              ok: false,
              lines: [`error: cannot read ${ADMIN_CONF} on ${ctx.vm.name} (is the control plane initialized? step 04)`],
            }
          : saveKubeconfig(out.stdout, ctx.env.KUBECONFIG_FILE),
    };
  },
};
export default step;
