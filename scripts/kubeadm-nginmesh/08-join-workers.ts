// Article "在每台工作节点上执行上述kubeadm join命令": every worker joins the cluster. Fixed
// against the article: it pastes `kubeadm join --token ...` on the command line, which puts
// the token in the process list and the shell history. Here the token from step 07 is
// written into a JoinConfiguration file (0600, kubeadm.k8s.io/v1beta4, validated) by the
// script on ssh's stdin (printf is a bash builtin: no argv), `kubeadm join --config FILE`
// reads it, and the file is removed whatever happens. Unchanged once the worker has
// /etc/kubernetes/kubelet.conf.
import type { Step } from '../engine/types.ts';
import { probe, mutate, Secret } from '../engine/sh.ts';
import { JOIN_FILE, JOIN_LOG, KUBELET_CONF, apiEndpoint, argLines, failWith, isRoles, rolesFor } from './common.ts';
import { fill, renderJoinConfig, template, KubeadmConfigError } from './kubeadm-config.ts';
import { joinInfo } from './join.ts';

/** The join config as printf arguments: the token's line is a Secret (masked when shown).
 *  Without a join command (a plan, or step 07 did not run) the file is shown with
 *  placeholders and the token line is empty, which the script refuses to use. */
export function joinConfigLines(
  endpoint: string | undefined,
  info: ReturnType<typeof joinInfo>,
): Array<string | Secret> {
  const t = template('kubeadm-join.yaml');
  const r =
    info && endpoint
      ? renderJoinConfig({ endpoint: info.endpoint, token: info.token.value, caCertHash: info.caCertHashes[0] }, t)
      : fill(t.file, t.text, {
          API_SERVER_ENDPOINT: endpoint ?? '<control plane>:6443',
          JOIN_TOKEN: 'JOIN-TOKEN-PLACEHOLDER',
          CA_CERT_HASH: 'sha256:<from the control plane, step 07>',
        });
  return r.text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => {
      if (!/^\s*token: /.test(l)) return l;
      return new Secret('JOIN_TOKEN', info && endpoint ? l : '');
    });
}

const step: Step = {
  id: '08-join-workers',
  title: 'kubeadm join on every worker (token via a 0600 file, never argv)',
  article: '在每台工作节点上执行kubeadm join (join the workers)',
  notes: [
    "the article pastes the token on kubeadm's command line (process list, shell history): here " +
      'it goes into a 0600 JoinConfiguration file written from ssh stdin and removed after the join',
  ],
  target: 'vm',
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane === ctx.vm) return { skip: 'the control plane does not join' };
    const info = joinInfo(ctx.cluster);
    let lines;
    try {
      lines = joinConfigLines(info?.endpoint ?? apiEndpoint(roles.controlPlane), info);
    } catch (e) {
      // a malformed join command; the message names the field, never the token
      if (e instanceof KubeadmConfigError) return failWith(e.message);
      throw e;
    }
    return {
      check: probe`
        if [ -f ${KUBELET_CONF} ]; then echo ${`joined (${KUBELET_CONF} exists)`}; exit 0; fi
        echo 'not joined yet'
        exit 10
      `,
      apply: mutate`
        install -d -m 0755 /etc/kubernetes
        trap ${`rm -f ${JOIN_FILE}`} EXIT
        printf '%s\n' \
          ${argLines(lines, 10)} \
          | write_file ${JOIN_FILE} 0600
        if ! grep -qE '^ +token: [a-z0-9]{6}\.[a-z0-9]{16}$' ${JOIN_FILE}; then
          echo 'no join token in this run: step 07-join-token did not run or failed on the control plane; rerun from it' >&2
          exit 1
        fi
        rc=0; ( umask 077; kubeadm join --config ${JOIN_FILE} > ${JOIN_LOG} 2>&1 ) || rc=$?
        if [ "$rc" != 0 ]; then
          grep -E '\[ERROR|^error' ${JOIN_LOG} >&2 || true
          echo ${`kubeadm join failed; its output is in ${JOIN_LOG} on this VM`} "(exit $rc)" >&2
          exit "$rc"
        fi
        echo ${`${ctx.vm.name} joined the cluster`}
      `,
      verify: probe`test -f ${KUBELET_CONF}`,
    };
  },
};
export default step;
