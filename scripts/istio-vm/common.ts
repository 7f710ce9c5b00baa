// What the istio-vm steps share: the VM-side paths, the facts the cluster
// steps hand to later steps, and how a VM step picks a value: a cluster fact first, then
// the env file (the lab's values come from there), else a readable placeholder for plans.
import type { Facts } from '../engine/types.ts';

export const ISTIO_NS = 'istio-system';
export const EASTWEST_SVC = 'istio-eastwestgateway';
export const ISTIOD_PORT = 15012;

/** Where each generated file goes on the VM, and its mode. */
export const VM_FILES = {
  rootCert: { src: 'root-cert.pem', dest: '/etc/certs/root-cert.pem', mode: '644' },
  token: { src: 'istio-token', dest: '/var/run/secrets/tokens/istio-token', mode: '600' },
  clusterEnv: { src: 'cluster.env', dest: '/var/lib/istio/envoy/cluster.env', mode: '644' },
  mesh: { src: 'mesh.yaml', dest: '/etc/istio/config/mesh', mode: '644' },
} as const;
export const GENERATED = ['cluster.env', 'hosts', 'istio-token', 'mesh.yaml', 'root-cert.pem'] as const;
/** The runbook's own record of the inputs the files in the work dir were generated from. */
export const STAMP = '.meshbook-inputs';

/** The article's `chown -R istio-proxy ...` list (its extra /etc/certs/root-cert.pem is inside /etc/certs). */
export const OWNED_BY_PROXY = [
  '/var/lib/istio',
  '/etc/certs',
  '/etc/istio/proxy',
  '/etc/istio/config',
  '/var/run/secrets',
];

export const LOG = '/var/log/istio/istio.log';
export const ERR_LOG = '/var/log/istio/istio.err.log';

/** The non-secret content the VM steps send (the token is read from the work dir by the
 *  step that sends it, so it never sits in the shared facts). */
export interface VmFiles {
  clusterEnv: string;
  meshYaml: string;
  rootCert: string;
  hostsLine: string; // "<ip> istiod.istio-system.svc"
  istiodHost: string; // istiod.istio-system.svc (istiod-<rev>... with a revision)
  source: 'istioctl' | 'lab stand-in';
}

export interface MeshValues {
  meshID: string;
  clusterName: string;
  network: string;
}

export interface IstiodAddress {
  lbIp?: string;
  lbHostname?: string;
  nodePort?: number; // port 15012's nodePort when there is no LoadBalancer address
}

/** Facts the cluster steps of this runbook leave for later steps (kept under one key so
 *  other runbooks' facts in the same run cannot collide with them). */
export interface IstioVmFacts {
  meshValues?: MeshValues | null; // null: Istio not installed (no values found)
  eastwestIop?: string; // the YAML gen-eastwest-gateway.sh printed
  node?: { ip: string; name: string };
  istiod?: IstiodAddress;
  workDir?: string;
  vmFiles?: VmFiles;
}

const KEY = 'istio-vm';
export function ivFacts(f: Facts): IstioVmFacts {
  return (f[KEY] ?? {}) as IstioVmFacts;
}
/** True once a cluster step of this runbook left facts (at run time; never in a plan). */
export const hasFacts = (f: Facts) => KEY in f;
/** For an interpretation's `facts`: this runbook's facts with `add` merged in. */
export function withFacts(f: Facts, add: IstioVmFacts): Partial<Facts> {
  return { [KEY]: { ...ivFacts(f), ...add } };
}

/** The node the VM routes through: found by 10-node-ip, else NODE_IP from the env. */
export function nodeIp(cluster: Facts, env: Record<string, string>): string | undefined {
  return ivFacts(cluster).node?.ip ?? (env.NODE_IP || undefined);
}
export const NODE_IP_PLACEHOLDER = '<NODE_IP: a node InternalIP, found by 10-node-ip at run time>';

export const routes = (env: Record<string, string>) =>
  (env.VM_ROUTES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Wanted IstioOperator values. */
export const wantedValues = (env: Record<string, string>): MeshValues => ({
  meshID: env.MESH_ID,
  clusterName: env.CLUSTER_NAME,
  network: env.NETWORK,
});

export const showValues = (v: MeshValues) =>
  `meshID=${JSON.stringify(v.meshID)}, ` +
  `clusterName=${JSON.stringify(v.clusterName)}, network=${JSON.stringify(v.network)}`;
