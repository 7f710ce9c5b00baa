// Shared by the traffic-shift steps: names of the demo's objects, the hello app's versions,
// the WEIGHTS grammar, the hello3 DNS name and clusterIP, and small action helpers.
import type { ClusterAction, Interpretation, VmAction } from '../engine/types.ts';
import type { Vm } from '../engine/inventory.ts';
import { probe } from '../engine/sh.ts';
import { applyManifest, probeCmd } from '../engine/local.ts';
import { splitWeightList } from '../shared/weights.ts';

/** The hello app's greeting per version (http_springboot_v1..v3). */
export const GREETINGS = { v1: 'Hello', v2: 'Bonjour', v3: 'Hola' } as const;
export type Version = keyof typeof GREETINGS;
export const VERSIONS = Object.keys(GREETINGS) as Version[];

export const HELLO_PORT = 8001;
export const HELLO1_PORT = 8004; // hello1-svc's port (-> 8001), and the gateway's
export const DEFAULT_NS = 'http-reciprocal-hello';
export const WORKLOAD_LABEL = 'hello-workload';
export const SERVICE_ENTRY = 'mesh-expansion-hello2-svc';
export const REGISTRY = 'registry.cn-beijing.aliyuncs.com/asm_repo';

export const ns = (env: Record<string, string>) => env.HELLO_NS || DEFAULT_NS;
export const svcHost = (env: Record<string, string>, svc: string) => `${svc}.${ns(env)}.svc.cluster.local`;
/** hello2's image for a version: the article's, or HELLO_IMAGE with {version} replaced (a
 *  mirror's copy; the lab's stand-in image) */
export const image = (env: Record<string, string>, v: Version) =>
  env.HELLO_IMAGE
    ? env.HELLO_IMAGE.replaceAll('{version}', v)
    : `${REGISTRY}/http_springboot_${v}:${env.IMAGE_TAG || '1.0.1'}`;
export const workloadEntryName = (i: number) => `${SERVICE_ENTRY}-${i + 1}`;

/** How the VMs are registered: `asm` (aliyun servicemesh AddVmAppToMesh) or `istio`
 *  (apply the ServiceEntry, WorkloadEntries and Service it would create). */
export function registration(env: Record<string, string>): 'asm' | 'istio' {
  if (env.VM_REGISTRATION === 'asm' || env.VM_REGISTRATION === 'istio') return env.VM_REGISTRATION;
  return env.MESH_ID ? 'asm' : 'istio';
}

// ---- the VM's version (inventory label) --------------------------------------------------

/** The hello2 version a VM runs, from its inventory label `version`; or the problem. */
export function vmVersion(vm: Vm): { version: Version } | { problem: string } {
  const v = vm.labels.version;
  if (v === undefined)
    return {
      problem:
        `inventory VM ${vm.name} has no labels.version; add labels: { ` +
        `version: v1 } (v1, v2 or v3: the hello2 version this VM runs)`,
    };
  if (!(VERSIONS as string[]).includes(v))
    return {
      problem:
        `inventory VM ${vm.name} has labels.version ${JSON.stringify(v)}; ` +
        `use v1, v2 or v3 (the hello2 version this VM runs)`,
    };
  return { version: v as Version };
}

/** Problems with the inventory for this runbook (version labels, private addresses). */
export function inventoryProblems(vms: Vm[]): string[] {
  const out: string[] = [];
  for (const vm of vms) {
    const v = vmVersion(vm);
    if ('problem' in v) out.push(v.problem);
    if (!vm.privateIp)
      out.push(
        `inventory VM ${vm.name} has no privateIp; set it to the ` +
          `address the mesh reaches hello2 at (the WorkloadEntry address)`,
      );
  }
  return out;
}

// ---- WEIGHTS -------------------------------------------------------------------------------

export type Weights = Record<Version, number>;

/** `v1=30,v2=60,v3=10` -> weights per subset (absent subsets 0), or one problem sentence.
 *  Known subsets only, each at most once, whole numbers 0..100, summing to exactly 100. */
export function parseWeights(raw: string): { weights: Weights } | { problem: string } {
  const example = 'e.g. v1=30,v2=60,v3=10';
  const show = JSON.stringify(raw);
  const items = splitWeightList(raw);
  if (!raw.trim() || items.some((x) => !x.item))
    return { problem: `${show} has an empty entry; write subset=weight pairs separated by commas (${example})` };
  const weights: Weights = { v1: 0, v2: 0, v3: 0 };
  const seen = new Set<string>();
  for (const { item, name, value: w } of items) {
    if (name === undefined || w === undefined)
      return { problem: `${show}: ${JSON.stringify(item)} is not subset=weight; write it like v1=30 (${example})` };
    if (!(VERSIONS as string[]).includes(name))
      return {
        problem:
          `${show}: subset ${JSON.stringify(name)} is not one ` +
          `of ${VERSIONS.join(', ')} (the hello2 versions hello2-dr defines)`,
      };
    if (seen.has(name)) return { problem: `${show}: subset ${name} is given twice; give each subset once` };
    seen.add(name);
    if (!/^\d+$/.test(w) || Number(w) > 100)
      return { problem: `${show}: weight ${JSON.stringify(w)} for ${name} is not a whole number from 0 to 100` };
    weights[name as Version] = Number(w);
  }
  const sum = VERSIONS.reduce((a, v) => a + weights[v], 0);
  if (sum !== 100)
    return { problem: `${show} sums to ${sum}, not 100; make the weights add up to exactly 100 (${example})` };
  return { weights };
}

export function weightsOf(env: Record<string, string>): Weights {
  const r = parseWeights(env.WEIGHTS ?? '');
  if ('problem' in r) throw new Error(`WEIGHTS: ${r.problem}`); // inputs are checked before any step is built
  return r.weights;
}

/** `v1=30,v2=60,v3=0`: every subset, so a hit on a zero-weight subset is caught. */
export const expectArg = (w: Weights) => VERSIONS.map((v) => `${v}=${w[v]}`).join(',');

// ---- hello3's clusterIP (a cluster fact, or HELLO3_IP) ------------------------------------

export const HELLO3_IP_PLACEHOLDER = '<clusterIP of hello3-svc, read by 04-hello3-ip>';

/** The clusterIP 04-hello3-ip read, else HELLO3_IP, else a placeholder that the VM script refuses. */
export function hello3Ip(cluster: Record<string, unknown>, env: Record<string, string>): string {
  const fact = cluster.hello3Ip;
  return typeof fact === 'string' && fact ? fact : env.HELLO3_IP || HELLO3_IP_PLACEHOLDER;
}

// ---- what a failed hop usually means ----------------------------------------------------------

const HINTS: Array<[RegExp, string]> = [
  [
    /getaddrinfo (ENOTFOUND|EAI_AGAIN) hello3-svc|hello3-svc[^ ]*: Name or service not known/,
    'the VM cannot resolve hello3-svc: its /etc/hosts lacks the hello3 ' +
      "line; fix: run 09-hello3-dns (the article's 為VM新增hello3 DNS)",
  ],
  [
    /(ENETUNREACH|EHOSTUNREACH|Network is unreachable|No route to host)/,
    "the VM has no route to hello3-svc's clusterIP; fix: the VM's sidecar " +
      'must intercept the Service CIDR (asm-vm-proxy or istio-vm on the VMs)',
  ],
  [
    /timed out after \d+ ms calling hello3-svc|ETIMEDOUT/,
    "hello3-svc's address does not answer from the VM; fix: check the VM's sidecar and the route to the Service CIDR",
  ],
  [
    /Could not resolve host: hello2-svc/,
    "hello2-svc is not in the cluster's DNS; fix: register the VMs (06-register-hello2)",
  ],
  [
    /no healthy upstream/,
    "hello2-svc has no endpoint for a subset; fix: the WorkloadEntries' " +
      "version labels (08-workloadentry-versions) and the VMs' sidecars",
  ],
  [
    /Failed to connect to [0-9.]+ port 8001|ECONNREFUSED [0-9.]+:8001/,
    "nothing listens on the VM's port 8001; fix: run 05-hello2-on-vms",
  ],
];

/** One `cause; fix` line per distinct known symptom in the failed answers. */
export function hints(details: string[]): string[] {
  const out = new Set<string>();
  for (const d of details)
    for (const [re, hint] of HINTS)
      if (re.test(d)) {
        out.add(`hint: ${hint}`);
        break;
      }
  return [...out];
}

// ---- actions that only report a problem -----------------------------------------------------

/** A VM action that fails with one line (nothing is changed). */
export function vmProblem(problem: string): VmAction {
  return {
    probe: probe`printf '%s\n' ${`error: ${problem}`}; exit 1`,
    interpret: () => ({ ok: false, lines: [`error: ${problem}`] }),
  };
}

/** A cluster action that fails with one line (nothing is changed). */
export function clusterProblem(problem: string): ClusterAction {
  return {
    probe: probeCmd(['printf', '%s\n', `error: ${problem}`]),
    interpret: (): Interpretation => ({ ok: false, lines: [`error: ${problem}`] }),
  };
}

/** kubectl diff as the check, kubectl apply -f - with the rendered YAML on stdin. */
export const applyRendered = (env: Record<string, string>, m: { file: string; text: string }) => applyManifest(env, m);
