// Article "安装Kubernetes Cluster" (install a Kubernetes cluster), before any change: every
// machine answers over SSH as root, and its kernel and distro (the article used Ubuntu
// 16.04; meshbook knows alinux 2.1903, CentOS 8 and Ubuntu 20.04). The checks are
// the shared preflight (scripts/shared/preflight.ts), reused as is; this step also notes the machines in inventory
// order, which is how later steps tell the control plane from the workers.
// Not done here: installing docker, kubelet, kubeadm and kubectl. The article's
// packages.cloud.google.com / apt.kubernetes.io repository was shut down in 2024
// (packages now live at pkgs.k8s.io, one repository per minor version) and docker is no
// longer a Kubernetes container runtime (containerd or CRI-O is): the machines are
// expected to have kubeadm, kubelet and a runtime installed.
import type { Step } from '../engine/types.ts';
import preflight from '../shared/preflight.ts';
import { noteVm } from './common.ts';

const step: Step = {
  ...preflight,
  title: 'Preflight: SSH, root, kernel and distro of every cluster machine',
  article: '安装Kubernetes Cluster (install a Kubernetes cluster)',
  notes: [
    'the article installs kubelet/kubeadm/kubectl from apt.kubernetes.io, which was shut down in ' +
      '2024: install them from pkgs.k8s.io (one repository per minor version) before this runbook',
    'docker is not a Kubernetes container runtime any more (dockershim was removed in 1.24): use containerd or CRI-O',
    'roles: the VM labelled role: control-plane (else the first VM) runs kubeadm init; the others join as workers',
  ],
  vm: (ctx) => {
    noteVm(ctx);
    return preflight.vm!(ctx);
  },
};
export default step;
