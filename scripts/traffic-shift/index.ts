// Runbook traffic-shift: article 4, "VM traffic shift" (feuyeux/asm-best-practises
// http_reciprocal_demo): hello1 (pod) -> hello2 (one app per VM, v1/v2/v3) -> hello3 (pod),
// with hello2's traffic split 30/60/10 over the VMs and the split proven from the ingress.
// One file per article step. The namespace input is HELLO_NS, not NS: NS is asm-vm-proxy's
// (the VMs' own namespace, vm-mesh in the lab), and one env file may serve both runbooks.
import type { InputSpec, Runbook } from '../engine/types.ts';
import * as v from '../engine/validate.ts';
import { ipaddr } from '../engine/lazy.ts';
import { DEFAULT_NS, parseWeights } from './common.ts';
import preflight from './01-preflight.ts';
import namespace from './02-namespace.ts';
import hello1Hello3 from './03-hello1-hello3.ts';
import hello3Ip from './04-hello3-ip.ts';
import hello2OnVms from './05-hello2-on-vms.ts';
import registerHello2 from './06-register-hello2.ts';
import routing from './07-routing.ts';
import versionLabels from './08-workloadentry-versions.ts';
import vmRoutes from './09-vm-routes.ts';
import hello3Dns from './10-hello3-dns.ts';
import vmToHello3 from './11-vm-to-hello3.ts';
import podVmChecks from './12-pod-vm-checks.ts';
import ingressPort from './13-ingress-port.ts';
import verifyTraffic from './14-verify-traffic.ts';

const weights = (val: string) => {
  const r = parseWeights(val);
  return 'problem' in r ? r.problem : undefined;
};

const inServiceCidr = (val: string, all: Record<string, string>) => {
  const bad = v.ipv4(val);
  if (bad || !all.SERVICE_CIDR || v.cidr(all.SERVICE_CIDR)) return bad;
  if (!ipaddr.IPv4.parse(val).match(ipaddr.IPv4.parseCIDR(all.SERVICE_CIDR))) {
    return (
      `${JSON.stringify(val)} is outside SERVICE_CIDR ${all.SERVICE_CIDR}; a ` +
      `clusterIP comes from the Service CIDR (kubectl -n <HELLO_NS> get svc hello3-svc)`
    );
  }
  return undefined;
};

export const INPUTS: InputSpec[] = [
  {
    name: 'HELLO_NS',
    description: "the demo's namespace (pods, Services, Istio objects)",
    default: DEFAULT_NS,
    example: DEFAULT_NS,
    check: v.dnsLabel,
  },
  {
    name: 'WEIGHTS',
    description: "hello2's split over the VM versions, whole numbers summing to 100",
    required: true,
    example: 'v1=30,v2=60,v3=10',
    check: weights,
  },
  {
    name: 'INGRESS_HOST',
    description:
      "the ingress gateway's address the split is verified through (kubectl -n istio-system " +
      "get svc istio-ingressgateway -o jsonpath='{.status.loadBalancer.ingress[0].ip}')",
    required: true,
    example: '192.168.0.100',
    check: v.host,
  },
  {
    name: 'INGRESS_PORT',
    description: 'the port hello-gateway is reached at (8004, or its NodePort)',
    default: '8004',
    example: '8004',
    check: v.port,
  },
  {
    name: 'VERIFY_PATH',
    description: 'the path the verification requests',
    default: '/hello/eric',
    example: '/hello/eric',
    check: (val) =>
      /^\/[^\s]*$/.test(val)
        ? undefined
        : `${JSON.stringify(val)} is not a path; start it with / and leave out spaces (e.g. /hello/eric)`,
  },
  {
    name: 'IMAGE_TAG',
    description: 'tag of the http_springboot_v1..v3 images',
    default: '1.0.1',
    example: '1.0.1',
    check: (val) =>
      /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(val)
        ? undefined
        : `${JSON.stringify(val)} is not an image tag; use letters, digits, '_', '.' and '-' (e.g. 1.0.1)`,
  },
  {
    name: 'HELLO_IMAGE',
    description:
      "the image hello2 runs from on the VMs, {version} standing for v1..v3 (default the article's " +
      'registry.cn-beijing.aliyuncs.com/asm_repo/http_springboot_{version}:IMAGE_TAG; e.g. a mirror)',
    example: 'registry.example.com/asm_repo/http_springboot_{version}:1.0.1',
    check: (val) =>
      /^[a-z0-9][a-z0-9._/:{}-]{0,254}$/.test(val) && !/\{(?!version\})/.test(val)
        ? undefined
        : `${JSON.stringify(val)} is not an image reference; use lowercase letters, digits, . _ / : - and {version}`,
  },
  {
    name: 'VM_REGISTRATION',
    description:
      'asm (aliyun servicemesh AddVmAppToMesh, needs MESH_ID) or istio (apply the ' +
      'ServiceEntry/WorkloadEntries/Service it creates); default asm when MESH_ID is set, else istio',
    example: 'istio',
    check: (val, all) =>
      val !== 'asm' && val !== 'istio'
        ? `${JSON.stringify(val)} is not asm or istio`
        : val === 'asm' && !all.MESH_ID
          ? 'is asm but MESH_ID is not set; set MESH_ID or use istio'
          : undefined,
  },
  {
    name: 'MESH_ID',
    description: 'the ASM service mesh id (registration through ASM; the aliyun CLI uses its own credentials)',
    example: 'c0a1b2c3d4e5f',
    check: v.meshId,
  },
  {
    name: 'VM_ROUTES',
    description:
      'pod and Service CIDRs to route via NODE_IP on each VM, when the ' +
      'VMs are not onboarded with istio-vm already (the lab sets it)',
    example: '172.18.0.0/16,172.19.0.0/20',
    check: v.cidrList,
  },
  {
    name: 'NODE_IP',
    description: 'the node the VMs route the cluster CIDRs through (with VM_ROUTES)',
    example: '192.168.0.100',
    check: (val) => v.ipv4(val),
  },
  {
    name: 'HELLO3_IP',
    description: "hello3-svc's clusterIP, used only when the cluster step cannot read it (the lab)",
    example: '172.19.3.17',
    check: inServiceCidr,
  },
];

const runbook: Runbook = {
  name: 'traffic-shift',
  title: 'Shift traffic over three VM versions of hello2 (30/60/10) and prove the split',
  article:
    'the VM traffic-shift part of the Alibaba Cloud ASM series ' +
    '"非容器应用与K8s工作负载的服务网格化实践" (demo: http_reciprocal_demo of feuyeux/asm-best-practises)',
  summary:
    'hello1/hello3 pods, hello2 on each VM (docker or a Node process), ServiceEntry/WorkloadEntries ' +
    'with version labels, the hello3 hosts line, Gateway/VirtualServices/DestinationRule with ' +
    'WEIGHTS, the pod<->VM reachability matrix and a statistical verdict on the split from the ingress.',
  inputs: INPUTS,
  steps: [
    preflight,
    namespace,
    hello1Hello3,
    hello3Ip,
    hello2OnVms,
    registerHello2,
    routing,
    versionLabels,
    vmRoutes,
    hello3Dns,
    vmToHello3,
    podVmChecks,
    ingressPort,
    verifyTraffic,
  ],
};
export default runbook;
