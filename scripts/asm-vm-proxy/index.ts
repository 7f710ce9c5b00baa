// Runbook asm-vm-proxy: article 1, "installing ASM-VM-PROXY" on three VMs
// (alinux 2.1903, CentOS 8, Ubuntu 20.04). One file per article step.
import type { Runbook } from '../engine/types.ts';
import * as v from '../engine/validate.ts';
import preflight from './01-preflight.ts';
import installDocker from './02-install-docker.ts';
import envFile from './03-env-file.ts';
import runProxy from './04-run-proxy.ts';
import checkInterception from './05-check-interception.ts';
import diagnostics from './06-diagnostics.ts';
import tracing from './07-tracing.ts';

const runbook: Runbook = {
  name: 'asm-vm-proxy',
  title: 'Install the ASM VM proxy on VMs',
  article:
    '"非容器应用与K8s工作负载的服务网格化实践-1 ASM-VM-PROXY的安装" (service-meshing non-container applications ' +
    'alongside K8s workloads, part 1: installing ASM-VM-PROXY), Alibaba Cloud ASM series',
  summary:
    'Docker per distro, the proxy env file (0600), docker run of asm-vm-proxy, ' +
    'the iptables interception check, diagnostics, the zipkin hosts line.',
  inputs: [
    {
      name: 'ACCESS_KEY_ID',
      description: 'the Alibaba Cloud AccessKey ID the proxy uses',
      required: true,
      example: 'LTAI5t...',
      check: v.envFileValue,
    },
    {
      name: 'ACCESS_KEY_SECRET',
      description: 'the AccessKey secret (never shown)',
      required: true,
      secret: true,
      example: '<secret>',
      check: v.envFileValue,
    },
    {
      name: 'REGION',
      description: 'the region id of the mesh',
      required: true,
      example: 'cn-hangzhou',
      check: v.region,
    },
    {
      name: 'MESH_ID',
      description: 'the ASM service mesh id',
      required: true,
      example: 'c0a1b2c3d4e5f',
      check: v.meshId,
    },
    { name: 'NS', description: 'the namespace the VMs join', required: true, example: 'vm-mesh', check: v.dnsLabel },
    {
      name: 'SA',
      description: 'the ServiceAccount the VMs use',
      required: true,
      example: 'vm-sa',
      check: v.dnsSubdomain,
    },
    {
      name: 'POD_NAME',
      description: 'the pod-level name the VMs use',
      required: true,
      example: 'vm-pod',
      check: v.dnsSubdomain,
    },
    {
      name: 'ASM_VERSION',
      description: 'the ASM version shown in the console',
      required: true,
      example: 'v1.6.9',
      check: v.asmVersion,
    },
    {
      name: 'SERVICE_CIDR',
      description: "the cluster's Service CIDR the proxy intercepts",
      required: true,
      example: '172.19.0.0/20',
      check: v.cidr,
    },
    {
      name: 'ASM_VM_PROXY_IMAGE',
      description:
        'the proxy image to run (default registry.<REGION>.aliyuncs.com/acs/asm-vm-proxy:<ASM_VERSION>-aliyun; ' +
        'e.g. a mirror)',
      example: 'registry.example.com/acs/asm-vm-proxy:v1.6.9-aliyun',
      check: (val) =>
        /^[a-z0-9][a-z0-9._/:-]{0,254}$/.test(val)
          ? undefined
          : `${JSON.stringify(val)} is not an image reference; use lowercase letters, digits, . _ / : and -`,
    },
    {
      name: 'ZIPKIN_IP',
      description: 'clusterIP of zipkin-slb in istio-system (optional: tracing)',
      example: '172.19.0.20',
      check: v.ipv4,
    },
  ],
  steps: [preflight, installDocker, envFile, runProxy, checkInterception, diagnostics, tracing],
};
export default runbook;
