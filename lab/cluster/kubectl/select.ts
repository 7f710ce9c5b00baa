// meshbook lab kubectl: which objects a command names (KIND NAME..., KIND/NAME, -l, --all) and
// the objects of a kind as the cluster shows them (stored, or made by the lab: pods, endpoints, node).
import { randomUUID } from 'node:crypto';
import {
  BUILTIN_NAMESPACES,
  KINDS,
  clone,
  kindOf,
  objKey,
  parseSelector,
  resolveResource,
  type KObject,
  type KindInfo,
} from '../kinds.ts';
import { INGRESS, currentMesh, ingressService, storedObjects } from '../objects.ts';
import { deploymentStatus, gatewayPodObject, podObject } from '../pod-objects.ts';
import { KubectlError, NotInLab, type Ctx } from './common.ts';

export function resourceOf(name: string): KindInfo {
  const info = resolveResource(name);
  if (!info) {
    throw new NotInLab(
      `resource type "${name}" is not in the lab: its cluster knows ${KINDS.filter((k) => !k.notInLab)
        .map((k) => k.plural)
        .join(', ')}`,
    );
  }
  if (info.notInLab) throw new NotInLab(`${info.plural}: ${info.notInLab}`);
  return info;
}

type State = Ctx['st'];

/** Namespaces: the stored ones and the built-in ones, all Active. */
function namespaceObjects(st: State): KObject[] {
  const stored = storedObjects(st).filter((o) => o.kind === 'Namespace');
  const builtins = BUILTIN_NAMESPACES.filter((n) => !stored.some((o) => o.metadata.name === n)).map(
    (n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }) as KObject,
  );
  return [...stored, ...builtins].map((o) => ({ ...clone(o), status: { phase: 'Active' } }));
}

/** Services: the stored ones, plus the ingress gateway's unless one is stored. */
function serviceObjects(st: State): KObject[] {
  const stored = storedObjects(st).filter((o) => o.kind === 'Service');
  const withIngress = stored.some((o) => o.metadata.name === INGRESS.name && o.metadata.namespace === INGRESS.namespace)
    ? stored
    : [...stored, ingressService(st, storedObjects(st))];
  return withIngress.map((o) => ({ ...clone(o), status: o.status ?? { loadBalancer: {} } }));
}

/** Endpoints of every Kubernetes Service, from the mesh the lab derives (pod addresses and ports). */
function endpointsObjects(st: State): KObject[] {
  const mesh = currentMesh(st);
  return [...mesh.services.values()]
    .filter((s) => s.kube)
    .map(
      (s) =>
        ({
          apiVersion: 'v1',
          kind: 'Endpoints',
          metadata: { name: s.kube!.name, namespace: s.namespace },
          subsets: s.kube!.ports.some((p) => p.endpoints.length)
            ? [
                {
                  addresses: [...new Set(s.kube!.ports.flatMap((p) => p.endpoints.map((e) => e.split(':')[0])))].map(
                    (ip) => ({ ip }),
                  ),
                  ports: s.kube!.ports.map((p) => ({
                    name: p.name,
                    port: Number(p.endpoints[0]?.split(':')[1] ?? p.port),
                    protocol: p.protocol,
                  })),
                },
              ]
            : [],
        }) as KObject,
    );
}

/** The lab's one node (its namespace), Ready, a control plane. */
function nodeObject(st: State): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: st.node.netns,
      labels: { 'kubernetes.io/hostname': st.node.netns, 'node-role.kubernetes.io/control-plane': '' },
    },
    spec: { podCIDR: st.plan.podSubnet },
    status: {
      addresses: [{ type: 'InternalIP', address: st.plan.nodeAddress }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

/** Every object of a kind, in any namespace: stored, or made by the lab (pods, endpoints, node). */
function objectsOfKind(ctx: Ctx, info: KindInfo): KObject[] {
  const { st, cfg } = ctx;
  switch (info.kind) {
    case 'Namespace':
      return namespaceObjects(st);
    case 'Pod':
      return [...st.pods.map((p) => podObject(cfg, st, p)), gatewayPodObject(cfg, st)];
    case 'Service':
      return serviceObjects(st);
    case 'Deployment':
      return storedObjects(st)
        .filter((o) => o.kind === 'Deployment')
        .map((o) => ({ ...clone(o), status: deploymentStatus(st, o) }));
    case 'Endpoints':
      return endpointsObjects(st);
    case 'Node':
      return [nodeObject(st)];
    default:
      return storedObjects(st)
        .filter((o) => kindOf(o.apiVersion, o.kind) === info)
        .map((o) => clone(o));
  }
}

/** The objects of a kind the cluster shows (namespace: one, or all when undefined). */
export function listKind(ctx: Ctx, info: KindInfo, ns: string | undefined): KObject[] {
  const inNs = (o: KObject) => !info.namespaced || ns === undefined || (o.metadata.namespace ?? 'default') === ns;
  return objectsOfKind(ctx, info)
    .filter(inNs)
    .sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
      ),
    );
}

/** KIND[,KIND] NAME... or KIND/NAME ...: [kind, names[]] pairs (names empty: all). */
export function targets(args: string[]): Array<{ info: KindInfo; names: string[] }> {
  if (!args.length) throw new KubectlError('error: You must specify the type of resource to get.');
  if (args.every((x) => x.includes('/'))) {
    const out: Array<{ info: KindInfo; names: string[] }> = [];
    for (const x of args) {
      const [t, n] = [x.slice(0, x.indexOf('/')), x.slice(x.indexOf('/') + 1)];
      const info = resourceOf(t);
      const cur = out.find((o) => o.info === info);
      if (cur) cur.names.push(n);
      else out.push({ info, names: [n] });
    }
    return out;
  }
  const types = args[0].split(',').flatMap((t) => (t === 'all' ? ['pods', 'services', 'deployments'] : [t]));
  return types.map((t) => ({ info: resourceOf(t), names: args.slice(1) }));
}

export function selectorOf(ctx: Ctx) {
  if (!ctx.a.selector) return () => true;
  const s = parseSelector(ctx.a.selector);
  if (typeof s === 'string') throw new KubectlError(`error: ${s}`);
  return (o: KObject) => s(o.metadata.labels);
}

/** Stored objects named by KIND NAME... / KIND/NAME / -l / --all (built-in namespaces are stored on first change). */
export function pickStored(
  ctx: Ctx,
  words: string[],
): { picked: Array<{ info: KindInfo; key: string; name: string }>; missing: string[] } {
  const groups = targets(words);
  const ns = ctx.a.namespace ?? 'default';
  const sel = selectorOf(ctx);
  const picked: Array<{ info: KindInfo; key: string; name: string }> = [];
  const missing: string[] = [];
  for (const g of groups) {
    if (g.info.virtual && g.info.kind !== 'Pod')
      throw new NotInLab(`${g.info.plural} are made by the lab cluster and cannot be changed`);
    const names = g.names.length
      ? g.names
      : ctx.a.selector || ctx.a.flags.all
        ? listKind(ctx, g.info, g.info.namespaced ? ns : undefined)
            .filter(sel)
            .map((o) => o.metadata.name)
        : [];
    if (!names.length && !g.names.length)
      throw new KubectlError('error: resource(s) were provided, but no name was specified');
    for (const n of names) {
      const key = objKey(g.info, ns, n);
      if (!ctx.st.objects[key] && g.info.kind === 'Namespace' && BUILTIN_NAMESPACES.includes(n)) {
        ctx.st.objects[key] = {
          live: {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: {
              name: n,
              uid: randomUUID(),
              creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            },
          },
        };
      }
      if (g.info.kind === 'Pod' ? ctx.st.pods.some((p) => p.name === n && p.namespace === ns) : !!ctx.st.objects[key])
        picked.push({ info: g.info, key, name: n });
      else missing.push(`Error from server (NotFound): ${g.info.plural} "${n}" not found`);
    }
  }
  return { picked, missing };
}
