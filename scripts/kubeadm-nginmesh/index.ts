// Runbook kubeadm-nginmesh: article 3, "installing nginmesh on a kubeadm cluster". The
// inventory's VMs are the cluster's machines (role: control-plane | worker labels; the
// first VM is the control plane by default). One file per article step.
import type { Runbook } from '../engine/types.ts';
import * as v from '../engine/validate.ts';
import { cidrsOverlap, kubernetesVersion } from './kubeadm-config.ts';
import preflight from './01-preflight.ts';
import kubeadmConfig from './02-kubeadm-config.ts';
import dryRun from './03-kubeadm-dry-run.ts';
import init from './04-kubeadm-init.ts';
import kubeconfig from './05-kubeconfig.ts';
import joinStatus from './06-join-status.ts';
import joinToken from './07-join-token.ts';
import joinWorkers from './08-join-workers.ts';
import podNetwork from './09-pod-network.ts';
import nodesReady from './10-nodes-ready.ts';
import nodePort from './11-nodeport.ts';
import proxyInit from './12-proxy-init.ts';
import checkInterception from './13-check-interception.ts';

const overlapsPods = (val: string, all: Record<string, string>): string | undefined => {
  const e = v.cidr(val);
  if (e || !all.POD_CIDR || v.cidr(all.POD_CIDR) || !cidrsOverlap(val, all.POD_CIDR)) return e;
  return (
    `${JSON.stringify(val)} overlaps POD_CIDR ${all.POD_CIDR}; ` +
    `pick disjoint ranges (e.g. 172.19.0.0/20 beside 172.18.0.0/16)`
  );
};

const runbook: Runbook = {
  name: 'kubeadm-nginmesh',
  title: 'A kubeadm cluster and nginmesh-style sidecar interception',
  article: 'an nginmesh installation guide on a kubeadm cluster (Ubuntu 16.04)',
  summary:
    'kubeadm config (v1beta4) and init on the control plane, workers joined with a secret ' +
    "token, Calico, nodes Ready, NodePort access, proxy_init's iptables rules and their check.",
  inputs: [
    {
      name: 'KUBERNETES_VERSION',
      description: 'the Kubernetes version kubeadm installs (v1.31 or later: the v1beta4 config needs it)',
      required: true,
      example: 'v1.31.2',
      check: (val) => kubernetesVersion(val),
    },
    {
      name: 'POD_CIDR',
      description: "the pod network's CIDR (kubeadm networking.podSubnet; Calico takes it from there)",
      required: true,
      example: '172.18.0.0/16',
      check: v.cidr,
    },
    {
      name: 'SERVICE_CIDR',
      description: "the Services' CIDR (kubeadm networking.serviceSubnet)",
      required: true,
      example: '172.19.0.0/20',
      check: overlapsPods,
    },
    {
      name: 'CALICO_VERSION',
      description: 'the Calico release whose manifest is applied',
      required: true,
      example: '3.28.2',
      check: (val) =>
        /^\d+\.\d+\.\d+$/.test(val)
          ? undefined
          : `${JSON.stringify(val)} is not a Calico release; write it as X.Y.Z without the v, e.g. 3.28.2`,
    },
    {
      name: 'KUBECONFIG_FILE',
      description: "where the control plane's admin kubeconfig is saved on this machine (0600) for the cluster steps",
      default: '.meshbook/kubeadm-nginmesh/admin.conf',
      check: (val) => (/[\r\n]/.test(val) ? 'contains a line break; use a plain path' : undefined),
    },
    {
      name: 'INGRESS_NAMESPACE',
      description: "the ingress gateway Service's namespace",
      default: 'istio-system',
      check: v.dnsLabel,
    },
    {
      name: 'INGRESS_SERVICE',
      description:
        "the ingress gateway Service (istio-ingressgateway; the article's istio-ingress is Istio 0.2's name)",
      default: 'istio-ingressgateway',
      check: v.dnsLabel,
    },
    {
      name: 'INGRESS_NODE_IP',
      description: "a node IP for NodePort access (default: the control plane's private IP)",
      example: '192.168.0.250',
      check: v.ipv4,
    },
    {
      name: 'PROXY_PORT',
      description: "the proxy's port prepare_proxy.sh redirects to (-p)",
      default: '15001',
      check: v.port,
    },
    {
      name: 'PROXY_UID',
      description: "the proxy's uid whose traffic is not redirected (-u)",
      default: '1337',
      check: (val) =>
        /^\d{1,10}$/.test(val) && Number(val) < 4294967295
          ? undefined
          : `${JSON.stringify(val)} is not a uid; write a whole number such as 1337`,
    },
    {
      name: 'PROXY_CIDRS',
      description: 'CIDRs whose outbound traffic is redirected (-i); empty: all outbound TCP',
      example: '172.19.0.0/20',
      check: v.cidrList,
    },
    {
      name: 'PROXY_NETNS',
      description: 'the network namespace standing for the pod on each VM, where the rules go',
      default: 'nginmesh-pod',
      check: (val) =>
        /^[a-z0-9][-a-z0-9_.]{0,30}$/.test(val)
          ? undefined
          : `${JSON.stringify(val)} is not a network namespace name; use lowercase letters, digits, '-', '_' and '.'`,
    },
  ],
  steps: [
    preflight,
    kubeadmConfig,
    dryRun,
    init,
    kubeconfig,
    joinStatus,
    joinToken,
    joinWorkers,
    podNetwork,
    nodesReady,
    nodePort,
    proxyInit,
    checkInterception,
  ],
};
export default runbook;
