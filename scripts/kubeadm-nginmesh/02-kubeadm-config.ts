// Article "使用kubeadmin安装kubernetes cluster": the kubeadm-conf file, on the control plane.
// Fixed against the article: its config is kubeadm.k8s.io/v1alpha1 MasterConfiguration with
// an apiServerExtraArgs map; today's API is kubeadm.k8s.io/v1beta4 (InitConfiguration +
// ClusterConfiguration, apiServer.extraArgs a list of {name, value}). It enables the
// Initializers admission plugin for nginmesh's sidecar injection: Initializers were removed
// in Kubernetes 1.14 (injection is a MutatingAdmissionWebhook, enabled by default); the
// deprecated PersistentVolumeLabel is left out and --admission-control (deprecated since
// 1.10) is --enable-admission-plugins. The file is rendered from
// manifests/kubeadm-nginmesh/kubeadm-config.yaml and validated before it is written.
import crypto from 'node:crypto';
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { CONFIG_FILE, argLines, failWith, isRoles, rolesFor } from './common.ts';
import { renderInitConfig, KubeadmConfigError } from './kubeadm-config.ts';

const step: Step = {
  id: '02-kubeadm-config',
  title: `Write the kubeadm config (${CONFIG_FILE}) on the control plane`,
  article: '使用kubeadmin安装kubernetes cluster (kubeadm-conf)',
  notes: [
    "the article's kubeadm.k8s.io/v1alpha1 MasterConfiguration is gone: " +
      'kubeadm.k8s.io/v1beta4 (kubeadm >= 1.31), apiServer.extraArgs as a list of {name, value}',
    'the Initializers admission plugin the article enables was removed in Kubernetes 1.14: ' +
      'sidecar injection is a MutatingAdmissionWebhook today (enabled by default); the deprecated ' +
      'PersistentVolumeLabel is left out and --admission-control is --enable-admission-plugins',
    'the config is validated (apiVersion/kind, CIDRs, extraArgs shape, version) before it is written',
  ],
  target: 'vm',
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane !== ctx.vm)
      return { skip: `a worker: the kubeadm config lives on the control plane ${roles.controlPlane.name}` };
    if (!ctx.vm.privateIp)
      return failWith(
        `${ctx.vm.name} has no privateIp in the inventory; kubeadm advertises the API server on it: set privateIp`,
      );
    let rendered;
    try {
      rendered = renderInitConfig({
        advertiseAddress: ctx.vm.privateIp,
        kubernetesVersion: ctx.env.KUBERNETES_VERSION,
        podCidr: ctx.env.POD_CIDR,
        serviceCidr: ctx.env.SERVICE_CIDR,
      });
    } catch (e) {
      if (e instanceof KubeadmConfigError) return failWith(e.message);
      throw e;
    }
    const content = rendered.text.endsWith('\n') ? rendered.text : `${rendered.text}\n`;
    const lines = content.replace(/\n$/, '').split('\n');
    const digest = crypto.createHash('sha256').update(content).digest('hex');
    return {
      check: probe`
        f=${CONFIG_FILE}
        if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
        if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != ${digest} ]; then echo "$f differs from the inputs"; exit 10; fi
        echo "$f is up to date"
      `,
      apply: mutate`
        install -d -m 0755 /etc/kubernetes
        printf '%s\n' \
          ${argLines(lines, 10)} \
          | write_file ${CONFIG_FILE} 0644
        echo 'wrote' ${CONFIG_FILE}
      `,
      verify: probe`test "$(sha256sum < ${CONFIG_FILE} | cut -d' ' -f1)" = ${digest}`,
    };
  },
};
export default step;
