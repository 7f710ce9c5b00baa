// meshbook lab kubectl: get (-o json|yaml|name|wide|jsonpath=, tables as kubectl prints them).
import YAML from 'yaml';
import { kindRef, resolveResource, type KObject, type KindInfo } from '../kinds.ts';
import { jsonpath } from '../jsonpath.ts';
import { KubectlError, NotInLab, line, ok, type Ctx, type Outcome } from './common.ts';
import { listKind, selectorOf, targets } from './select.ts';
import type { Untyped } from '../../../scripts/engine/untyped.ts';

function age(ts: unknown): string {
  const t = typeof ts === 'string' ? Date.parse(ts) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.floor(s / 60)}m`
      : s < 172800
        ? `${Math.floor(s / 3600)}h`
        : `${Math.floor(s / 86400)}d`;
}

function table(infos: KindInfo[], items: KObject[], wide: boolean, allNs: boolean, prefixKind: boolean): string {
  const info = infos[0];
  const name = (o: KObject) => (prefixKind ? `${kindRef(info)}/${o.metadata.name}` : o.metadata.name);
  let head: string[];
  let row: (o: KObject) => string[];
  switch (info.kind) {
    case 'Pod':
      head = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE'] : [])];
      row = (o) => {
        const cs = (o.status?.containerStatuses ?? []) as Untyped[];
        return [
          name(o),
          `${cs.filter((c) => c.ready).length}/${cs.length}`,
          o.status?.phase,
          String(cs[0]?.restartCount ?? 0),
          age(o.metadata.creationTimestamp),
          ...(wide ? [o.status?.podIP, o.spec?.nodeName] : []),
        ];
      };
      break;
    case 'Service':
      head = ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', ...(wide ? ['SELECTOR'] : [])];
      row = (o) => [
        name(o),
        o.spec?.type ?? 'ClusterIP',
        o.spec?.clusterIP ?? '<none>',
        (o.status?.loadBalancer?.ingress ?? []).map((i: Untyped) => i.ip).join(',') ||
          (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>'),
        ((o.spec?.ports ?? []) as Untyped[]).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
        age(o.metadata.creationTimestamp),
        ...(wide
          ? [
              Object.entries(o.spec?.selector ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(',') || '<none>',
            ]
          : []),
      ];
      break;
    case 'Deployment':
      head = ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
      row = (o) => [
        name(o),
        `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
        String(o.status?.updatedReplicas ?? 0),
        String(o.status?.availableReplicas ?? 0),
        age(o.metadata.creationTimestamp),
      ];
      break;
    case 'Namespace':
      head = ['NAME', 'STATUS', 'AGE'];
      row = (o) => [name(o), 'Active', age(o.metadata.creationTimestamp)];
      break;
    default:
      head = ['NAME', 'AGE'];
      row = (o) => [name(o), age(o.metadata.creationTimestamp)];
  }
  const rows = [
    allNs && info.namespaced ? ['NAMESPACE', ...head] : head,
    ...items.map((o) =>
      (allNs && info.namespaced ? [o.metadata.namespace ?? '', ...row(o)] : row(o)).map((c) => String(c ?? '')),
    ),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const asList = (items: KObject[]) => ({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } });

export async function getVerb(ctx: Ctx): Promise<Outcome> {
  const a = ctx.a;
  const ns = a.allNamespaces ? undefined : (a.namespace ?? 'default');
  const sel = selectorOf(ctx);
  const groups = targets(a.args);
  const errors: string[] = [];
  const found: Array<{ info: KindInfo; items: KObject[] }> = [];
  let single = groups.length === 1 && groups[0].names.length === 1;
  for (const g of groups) {
    const all = listKind(ctx, g.info, g.info.namespaced ? ns : undefined).filter(sel);
    if (!g.names.length) {
      found.push({ info: g.info, items: all });
      continue;
    }
    const items: KObject[] = [];
    for (const n of g.names) {
      const o = all.find((x) => x.metadata.name === n);
      if (o) items.push(o);
      else if (!a.flags['ignore-not-found'])
        errors.push(
          `Error from server (NotFound): ${g.info.plural}${g.info.group ? `.${g.info.group}` : ''} "${n}" not found`,
        );
    }
    found.push({ info: g.info, items });
  }
  const items = found.flatMap((f) => f.items);
  if (single && !items.length) single = false;
  const o = a.output ?? '';
  let stdout = '';
  if (o === 'json') stdout = JSON.stringify(single ? items[0] : asList(items), null, 4) + '\n';
  else if (o === 'yaml') stdout = YAML.stringify(single ? items[0] : asList(items));
  else if (o === 'name')
    stdout = items.map((x) => `${kindRef(resolveResource(x.kind)!)}/${x.metadata.name}`).join('\n');
  else if (o.startsWith('jsonpath=') || o.startsWith('jsonpath-as-json=')) {
    const tpl = o.slice(o.indexOf('=') + 1);
    stdout = jsonpath(tpl.replace(/^'(.*)'$/s, '$1'), single ? items[0] : asList(items));
  } else if (o === '' || o === 'wide') {
    const multi = found.length > 1;
    stdout = found
      .filter((f) => f.items.length)
      .map((f) => table([f.info], f.items, o === 'wide', a.allNamespaces, multi))
      .join('\n');
    if (!items.length && !errors.length) return ok('', `No resources found${ns ? ` in ${ns} namespace` : ''}.`);
  } else if (o.startsWith('custom-columns') || o.startsWith('go-template') || o.startsWith('template'))
    throw new NotInLab(
      `kubectl get -o ${o.split('=')[0]} is not in the lab: use -o json, yaml, name, wide or jsonpath`,
    );
  else
    throw new KubectlError(
      `error: unable to match a printer suitable for the output ` +
        `format "${o}", allowed formats are: json,jsonpath,name,wide,yaml`,
    );
  // as kubectl: jsonpath output ends where the template ends (no newline added)
  return errors.length
    ? { code: 1, stdout, stderr: line(errors.join('\n')) }
    : { code: 0, stdout: o === '' || o === 'wide' || o === 'name' ? line(stdout) : stdout, stderr: '' };
}
