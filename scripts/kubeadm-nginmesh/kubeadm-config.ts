// The kubeadm config files this runbook writes (manifests/kubeadm-nginmesh/*.yaml) and a
// small, explicit validator for the fields it emits. There is no @kubernetes-models schema
// for kubeadm's types, so the engine's render() cannot check them; this does, strictly:
// a field it does not know is an error (a mis-indented key shows up as one), and the
// messages name the file, the object and the field. Placeholders are filled in the parsed
// YAML as the engine does for manifests: a value can never add structure.
import fs from 'node:fs';
import path from 'node:path';
import type ipaddrTypes from 'ipaddr.js';
import { YAML, ipaddr } from '../engine/lazy.ts';
import { MANIFESTS } from '../engine/manifests.ts';
import * as v from '../engine/validate.ts';
import type { Untyped } from '../engine/untyped.ts';

export const API_VERSION = 'kubeadm.k8s.io/v1beta4';
/** v1beta4 is read by kubeadm 1.31 and later. */
export const MIN_MINOR = 31;

export class KubeadmConfigError extends Error {}

export interface KubeadmRendered {
  file: string;
  text: string;
  objects: Array<Record<string, Untyped>>;
}

const VAR = /\$\{([A-Z_][A-Z0-9_]*)\}/g;

/** Fill ${VAR}s in a kubeadm YAML text. */
export function fill(file: string, template: string, vars: Record<string, string | undefined>): KubeadmRendered {
  const docs = YAML.parseAllDocuments(template);
  const missing = new Set<string>();
  for (const doc of docs) {
    if (doc.errors.length)
      throw new KubeadmConfigError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
    YAML.visit(doc, {
      Scalar(_k, node) {
        if (typeof node.value !== 'string' || !node.value.includes('${')) return;
        const whole = /^\$\{[A-Z_][A-Z0-9_]*\}$/.test(node.value) && node.type === YAML.Scalar.PLAIN;
        const filled = node.value.replace(VAR, (_m, name: string) => {
          const val = vars[name];
          if (val === undefined || val === '') {
            missing.add(name);
            return '';
          }
          return val;
        });
        let parsed: unknown = filled;
        if (whole)
          try {
            parsed = YAML.parse(filled);
          } catch {
            parsed = filled;
          }
        node.value = parsed !== null && typeof parsed !== 'object' ? parsed : filled;
      },
    });
  }
  if (missing.size) throw new KubeadmConfigError(`${file}: ${[...missing].map((m) => `\${${m}}`).join(', ')} not set`);
  return {
    file,
    text: docs
      .filter((d) => d.contents !== null)
      .map((d) => d.toString({ lineWidth: 0 }).replace(/^---\n/, ''))
      .join('---\n'),
    objects: docs.map((d) => d.toJS()).filter((o) => o !== null && o !== undefined),
  };
}

export function template(name: string): { file: string; text: string } {
  return {
    file: `manifests/kubeadm-nginmesh/${name}`,
    text: fs.readFileSync(path.join(MANIFESTS, 'kubeadm-nginmesh', name), 'utf8'),
  };
}

// ---- validation ---------------------------------------------------------------------
type Obj = Record<string, Untyped>;
const isMap = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The fields this runbook emits, per kind: a nested map is an object's known keys. */
interface Shape {
  [k: string]: Shape | true;
}
const SHAPES: Record<string, Shape> = {
  InitConfiguration: { apiVersion: true, kind: true, localAPIEndpoint: { advertiseAddress: true, bindPort: true } },
  ClusterConfiguration: {
    apiVersion: true,
    kind: true,
    kubernetesVersion: true,
    networking: { podSubnet: true, serviceSubnet: true },
    apiServer: { extraArgs: true },
  },
  JoinConfiguration: {
    apiVersion: true,
    kind: true,
    discovery: { bootstrapToken: { apiServerEndpoint: true, token: true, caCertHashes: true } },
  },
};

export function kubernetesVersion(val: unknown): string | undefined {
  const m = typeof val === 'string' ? /^v(\d+)\.(\d+)\.(\d+)$/.exec(val) : null;
  if (!m) return `${JSON.stringify(val)} is not a Kubernetes version; write it as v1.MINOR.PATCH, e.g. v1.31.2`;
  if (Number(m[1]) !== 1 || Number(m[2]) < MIN_MINOR)
    return (
      `${val} is older than v1.${MIN_MINOR}; the ${API_VERSION} config ` +
      `needs kubeadm 1.${MIN_MINOR} or later, use v1.${MIN_MINOR}.0 or newer`
    );
  return undefined;
}

function unknownFields(o: Obj, shape: Shape, at: string, out: string[]): void {
  for (const [k, val] of Object.entries(o)) {
    const s = shape[k];
    const here = at ? `${at}.${k}` : k;
    if (s === undefined)
      out.push(
        `${here}: unknown field (mis-indented? meshbook writes ` +
          `only ${Object.keys(shape).join(', ')}${at ? ` under ${at}` : ''})`,
      );
    else if (s !== true) {
      if (!isMap(val)) out.push(`${here}: must be a map`);
      else unknownFields(val, s, here, out);
    }
  }
}

export function cidrsOverlap(a: string, b: string): boolean {
  const [na, la] = ipaddr.parseCIDR(a);
  const [nb, lb] = ipaddr.parseCIDR(b);
  return la <= lb
    ? (nb as ipaddrTypes.IPv4).match(na as ipaddrTypes.IPv4, la)
    : (na as ipaddrTypes.IPv4).match(nb as ipaddrTypes.IPv4, lb);
}

/** InitConfiguration: the control plane's advertise address (and bind port, if set). */
function initProblems(o: Obj, p: string[]): void {
  const ep = o.localAPIEndpoint;
  if (!isMap(ep)) {
    p.push("localAPIEndpoint: missing; set advertiseAddress to the control plane's private IP");
    return;
  }
  const e =
    typeof ep.advertiseAddress === 'string'
      ? v.ipv4(ep.advertiseAddress)
      : `${JSON.stringify(ep.advertiseAddress)} is not an IPv4 address`;
  if (e) p.push(`localAPIEndpoint.advertiseAddress: ${e}`);
  if (ep.bindPort !== undefined && (!Number.isInteger(ep.bindPort) || v.port(ep.bindPort)))
    p.push(`localAPIEndpoint.bindPort: ${JSON.stringify(ep.bindPort)} is not a TCP port`);
}

/** ClusterConfiguration networking: pod and service subnets, valid and disjoint. */
function networkingProblems(net: unknown, p: string[]): void {
  if (!isMap(net)) {
    p.push('networking: missing; set podSubnet and serviceSubnet');
    return;
  }
  for (const k of ['podSubnet', 'serviceSubnet']) {
    const e = typeof net[k] === 'string' ? v.cidr(net[k]) : `${JSON.stringify(net[k])} is not a CIDR`;
    if (e) p.push(`networking.${k}: ${e}`);
  }
  if (
    typeof net.podSubnet === 'string' &&
    typeof net.serviceSubnet === 'string' &&
    !v.cidr(net.podSubnet) &&
    !v.cidr(net.serviceSubnet) &&
    cidrsOverlap(net.podSubnet, net.serviceSubnet)
  ) {
    p.push(`networking.serviceSubnet: ${net.serviceSubnet} overlaps podSubnet ${net.podSubnet}; pick disjoint ranges`);
  }
}

/** ClusterConfiguration apiServer.extraArgs: the v1beta4 list of {name, value}. */
function extraArgsProblems(args: unknown, p: string[]): void {
  if (args === undefined) return;
  if (isMap(args)) {
    p.push(
      'apiServer.extraArgs: is a map (the v1beta3 shape); kubeadm.k8s.io/v1beta4 ' +
        'wants a list of {name, value}, e.g. "- name: enable-admission-plugins"',
    );
    return;
  }
  if (!Array.isArray(args)) {
    p.push('apiServer.extraArgs: must be a list of {name, value}');
    return;
  }
  args.forEach((a, i) => {
    const at = `apiServer.extraArgs[${i}]`;
    if (!isMap(a)) {
      p.push(`${at}: must be a map with name and value`);
      return;
    }
    for (const k of Object.keys(a))
      if (k !== 'name' && k !== 'value') p.push(`${at}.${k}: unknown field (only name and value)`);
    if (typeof a.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(a.name))
      p.push(`${at}.name: ${JSON.stringify(a.name)} is not a flag name (lowercase, no leading --)`);
    if (typeof a.value !== 'string') p.push(`${at}.value: must be a string (quote it)`);
  });
}

/** ClusterConfiguration: version, networking, API server flags. */
function clusterProblems(o: Obj, p: string[]): void {
  const ver = kubernetesVersion(o.kubernetesVersion);
  if (ver) p.push(`kubernetesVersion: ${ver}`);
  networkingProblems(o.networking, p);
  extraArgsProblems(o.apiServer?.extraArgs, p);
}

/** JoinConfiguration: the bootstrap token's endpoint, token (never echoed) and CA hashes. */
function joinProblems(o: Obj, p: string[]): void {
  const bt = o.discovery?.bootstrapToken;
  if (!isMap(bt)) {
    p.push('discovery.bootstrapToken: missing');
    return;
  }
  const ep = typeof bt.apiServerEndpoint === 'string' ? /^(.+):(\d+)$/.exec(bt.apiServerEndpoint) : null;
  if (!ep || v.ipv4(ep[1]) || v.port(ep[2]))
    p.push(`discovery.bootstrapToken.apiServerEndpoint: ${JSON.stringify(bt.apiServerEndpoint)} is not IP:PORT`);
  // the token is a secret: never echoed
  if (typeof bt.token !== 'string' || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(bt.token))
    p.push(
      'discovery.bootstrapToken.token: is not a bootstrap token ' +
        '(6 + 16 lowercase letters or digits, joined by a dot)',
    );
  if (
    !Array.isArray(bt.caCertHashes) ||
    !bt.caCertHashes.length ||
    bt.caCertHashes.some((h: unknown) => typeof h !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(h))
  ) {
    p.push('discovery.bootstrapToken.caCertHashes: must list sha256:<64 hex digits> hashes');
  }
}

/** One line per problem ("field: what is wrong"); empty when the object is valid. */
export function objectProblems(o: Obj): string[] {
  const p: string[] = [];
  if (o.apiVersion !== API_VERSION) {
    p.push(
      `apiVersion: ${JSON.stringify(o.apiVersion)} is not ${API_VERSION} (the article's ` +
        `kubeadm.k8s.io/v1alpha1 MasterConfiguration is gone; v1beta3 reads extraArgs as a map)`,
    );
    return p;
  }
  const shape = SHAPES[o.kind];
  if (!shape) return [`kind: ${JSON.stringify(o.kind)} is not one meshbook writes (${Object.keys(SHAPES).join(', ')})`];
  unknownFields(o, shape, '', p);
  if (o.kind === 'InitConfiguration') initProblems(o, p);
  if (o.kind === 'ClusterConfiguration') clusterProblems(o, p);
  if (o.kind === 'JoinConfiguration') joinProblems(o, p);
  return p;
}

/** Throws KubeadmConfigError naming file, object and field on the first problem. */
export function validateKubeadm(file: string, objects: Obj[], kinds: string[]): void {
  for (const o of objects) {
    const name = `${o?.kind ?? '(no kind)'}`;
    if (!isMap(o)) throw new KubeadmConfigError(`${file}: a document is not a map`);
    const p = objectProblems(o);
    if (p.length) throw new KubeadmConfigError(`${file}: ${name}: ${p[0]}`);
  }
  const got = objects
    .map((o) => o.kind)
    .sort()
    .join(',');
  if (got !== [...kinds].sort().join(','))
    throw new KubeadmConfigError(`${file}: holds ${got || 'nothing'}; expected exactly ${kinds.join(' and ')}`);
}

export interface InitVars {
  advertiseAddress: string;
  kubernetesVersion: string;
  podCidr: string;
  serviceCidr: string;
}

/** The init config (InitConfiguration + ClusterConfiguration), filled and validated. */
export function renderInitConfig(vars: InitVars, t = template('kubeadm-config.yaml')): KubeadmRendered {
  const r = fill(t.file, t.text, {
    ADVERTISE_ADDRESS: vars.advertiseAddress,
    KUBERNETES_VERSION: vars.kubernetesVersion,
    POD_CIDR: vars.podCidr,
    SERVICE_CIDR: vars.serviceCidr,
  });
  validateKubeadm(t.file, r.objects, ['InitConfiguration', 'ClusterConfiguration']);
  return r;
}

export interface JoinVars {
  endpoint: string;
  token: string;
  caCertHash: string;
}

/** The join config, filled and validated. Its text holds the token: send it as a Secret. */
export function renderJoinConfig(vars: JoinVars, t = template('kubeadm-join.yaml')): KubeadmRendered {
  const r = fill(t.file, t.text, {
    API_SERVER_ENDPOINT: vars.endpoint,
    JOIN_TOKEN: vars.token,
    CA_CERT_HASH: vars.caCertHash,
  });
  validateKubeadm(t.file, r.objects, ['JoinConfiguration']);
  return r;
}
