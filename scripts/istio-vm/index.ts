// Runbook istio-vm: article 2, "虚机网格(istio)管理实战篇" (onboarding a VM into open-source
// Istio). The cluster side (IstioOperator values, east-west gateway, istiod exposed,
// namespace, WorkloadGroup, the files istioctl generates, the NodePort fix) and each VM
// (routes via a node, the five files, the istio-sidecar package, hosts line, ownership,
// the istio service), then the checks: istio.log and the auto-registered WorkloadEntry.
// One file per article step.
import type { Runbook } from '../engine/types.ts';
import * as v from '../engine/validate.ts';
import preflight from './01-preflight.ts';
import meshValues from './02-mesh-values.ts';
import istioOperator from './03-istio-operator.ts';
import eastwestManifest from './04-eastwest-manifest.ts';
import eastwestGateway from './05-eastwest-gateway.ts';
import exposeIstiod from './06-expose-istiod.ts';
import namespace from './07-namespace.ts';
import workloadGroup from './08-workloadgroup.ts';
import workloadFiles from './09-workload-files.ts';
import nodeIp from './10-node-ip.ts';
import istiodAddress from './11-istiod-address.ts';
import routes from './12-routes.ts';
import reachNode from './13-reach-node.ts';
import installFiles from './14-install-files.ts';
import sidecarPackage from './15-sidecar-package.ts';
import hosts from './16-hosts.ts';
import ownership from './17-ownership.ts';
import startIstio from './18-start-istio.ts';
import checkLogs from './19-check-logs.ts';
import workloadEntry from './20-workloadentry.ts';
import diagnostics from './21-diagnostics.ts';

const istioVersion = (x: string) =>
  /^\d+\.\d+\.\d+$/.test(x)
    ? undefined
    : `${JSON.stringify(x)} is not an Istio release version; write it as X.Y.Z, e.g. 1.22.3 (the istioctl you run)`;
const absPath = (x: string) =>
  /^\/[^\n\r\0]*$/.test(x) && !x.split('/').includes('..')
    ? undefined
    : `${JSON.stringify(x)} is not an absolute path; point it at ` +
      `the unpacked Istio release (the folder with samples/ and bin/)`;
const mode = (x: string) =>
  x === 'install' || x === 'patch'
    ? undefined
    : `${JSON.stringify(x)} is neither install nor patch; use install (istioctl ` +
      `install -f, the supported way) or patch (an in-cluster IstioOperator named istio)`;
const httpPath = (x: string) =>
  /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(x)
    ? undefined
    : `${JSON.stringify(x)} is not an HTTP path; write one starting with /, e.g. /ready`;
const seconds = (min: number) => (x: string) =>
  /^\d+$/.test(x) && +x >= min && +x <= 31_536_000
    ? undefined
    : `${JSON.stringify(x)} is not a number of seconds from ${min} to 31536000`;
const token = (x: string) =>
  /^[A-Za-z0-9._-]{16,}$/.test(x)
    ? undefined
    : 'is not a token of at least 16 letters, digits, ".", "_" ' +
      'or "-"; run `meshbook lab up` again to rewrite the lab env';

const runbook: Runbook = {
  name: 'istio-vm',
  title: 'Onboard VMs into open-source Istio',
  article: '"虚机网格(istio)管理实战篇" (managing a VM mesh with Istio, in practice), Einic Yeo, 2023-11-17',
  summary:
    'IstioOperator values, east-west gateway, istiod exposed, namespace/SA, WorkloadGroup, ' +
    'istioctl-generated files with the NodePort fix; on each VM routes via a node, the five files, ' +
    'istio-sidecar, hosts line, ownership, the istio service; istio.log and WorkloadEntry checks.',
  inputs: [
    {
      name: 'MESH_ID',
      description: 'the mesh id (values.global.meshID)',
      required: true,
      example: 'mesh1',
      check: v.dnsLabel,
    },
    {
      name: 'CLUSTER_NAME',
      description: 'the cluster name (values.global.multiCluster.clusterName), also istioctl --clusterID',
      required: true,
      example: 'cluster1',
      check: v.labelValue,
    },
    {
      name: 'NETWORK',
      description:
        'the network of the cluster and of the VMs (one network: the VMs reach pods through a route via a node)',
      required: true,
      example: 'network1',
      check: v.labelValue,
    },
    {
      name: 'VM_APP',
      description: 'the app the VMs run (WorkloadGroup name and app label)',
      required: true,
      example: 'hello-service',
      check: v.dnsLabel,
    },
    {
      name: 'VM_NAMESPACE',
      description: 'the namespace of the WorkloadGroup and WorkloadEntries',
      required: true,
      example: 'vm',
      check: v.dnsLabel,
    },
    {
      name: 'SERVICE_ACCOUNT',
      description: 'the ServiceAccount the VMs run as',
      required: true,
      example: 'vm-sa',
      check: v.dnsSubdomain,
    },
    {
      name: 'ISTIO_VERSION',
      description: 'the Istio release (istioctl and the istio-sidecar package must match)',
      required: true,
      example: '1.22.3',
      check: istioVersion,
    },
    {
      name: 'ISTIO_DIR',
      description: 'the unpacked Istio release on this machine (its samples/multicluster scripts are used)',
      required: true,
      example: '/opt/istio-1.22.3',
      check: absPath,
    },
    {
      name: 'ISTIO_CONFIG_MODE',
      description:
        'install: istioctl install -f the IstioOperator; patch: merge it into an in-cluster IstioOperator named istio',
      default: 'install',
      example: 'install',
      check: mode,
    },
    {
      name: 'VM_ROUTES',
      description: "the cluster's pod and Service CIDRs the VMs route via a node, comma-separated",
      required: true,
      example: '10.233.0.0/16',
      check: v.cidrList,
    },
    {
      name: 'NODE_IP',
      description: 'a node address the VMs route through (default: the InternalIP of a Ready node, from kubectl)',
      example: '10.253.17.27',
      check: v.ipv4,
    },
    {
      name: 'INGRESS_IP',
      description: "the east-west gateway's address for istioctl --ingressIP (optional)",
      example: '10.253.17.100',
      check: v.ipv4,
    },
    {
      name: 'REACH_PORT',
      description:
        'a TCP port the node answers on, to check the VMs reach it (default: the istiod NodePort, else ping)',
      example: '6443',
      check: v.port,
    },
    {
      name: 'PROBE_PORT',
      description: 'the VM app port for the WorkloadGroup HTTP readiness probe (optional)',
      example: '8080',
      check: v.port,
    },
    {
      name: 'PROBE_PATH',
      description: 'the HTTP path of that probe',
      default: '/ready',
      example: '/ready',
      check: httpPath,
    },
    {
      name: 'TOKEN_DURATION',
      description: 'lifetime of the istio-token istioctl creates, in seconds',
      default: '3600',
      example: '3600',
      check: seconds(600),
    },
    {
      name: 'LAB_ISTIO_TOKEN',
      description: "lab only: the random stand-in for istioctl's istio-token (written by meshbook lab up)",
      secret: true,
      example: '<secret>',
      check: token,
    },
  ],
  steps: [
    preflight,
    meshValues,
    istioOperator,
    eastwestManifest,
    eastwestGateway,
    exposeIstiod,
    namespace,
    workloadGroup,
    workloadFiles,
    nodeIp,
    istiodAddress,
    routes,
    reachNode,
    installFiles,
    sidecarPackage,
    hosts,
    ownership,
    startIstio,
    checkLogs,
    workloadEntry,
    diagnostics,
  ],
};
export default runbook;
