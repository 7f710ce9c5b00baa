// The lab's own checks in place of `istioctl analyze` (bookinfo step 09): istioctl is not in
// the lab. A few of istioctl's analyzers, over the objects the lab cluster holds, printed in
// istioctl's format so the step reads them as it reads istioctl: IST0101 (a VirtualService's
// destination host, subset or gateway that does not exist) and IST0102 (the namespace is not
// labelled for injection). Pure. Not istioctl: the step says so ("not in lab").
import type { Untyped } from '../../scripts/engine/untyped.ts';

type Obj = {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Untyped;
};

const short = (host: string, ns: string) => host.replace(new RegExp(`\\.${ns}(\\.svc(\\.cluster\\.local)?)?$`), '');

/** istioctl-style lines for namespace `ns`: messages, or "No validation issues found". */
export function labAnalyze(objects: Obj[], ns: string): string {
  const out: string[] = [];
  const nsOf = (o: Obj) => o.metadata.namespace ?? 'default';
  const nsObj = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === ns);
  if (nsObj?.metadata.labels?.['istio-injection'] !== 'enabled' && !nsObj?.metadata.labels?.['istio.io/rev'])
    out.push(`Info [IST0102] (Namespace ${ns}) The namespace is not enabled for Istio injection.`);
  const services = new Set(
    objects.filter((o) => o.kind === 'Service').map((o) => `${short(o.metadata.name, nsOf(o))}/${nsOf(o)}`),
  );
  const entries = objects.filter((o) => o.kind === 'ServiceEntry').flatMap((o) => (o.spec?.hosts ?? []) as string[]);
  const subsets = new Map<string, Set<string>>();
  for (const dr of objects.filter((o) => o.kind === 'DestinationRule')) {
    const key = `${short(String(dr.spec?.host ?? ''), nsOf(dr))}/${nsOf(dr)}`;
    const set = subsets.get(key) ?? new Set<string>();
    for (const s of (dr.spec?.subsets ?? []) as Untyped[]) set.add(String(s?.name));
    subsets.set(key, set);
  }
  const gateways = new Set(objects.filter((o) => o.kind === 'Gateway').map((o) => `${nsOf(o)}/${o.metadata.name}`));
  for (const vs of objects.filter((o) => o.kind === 'VirtualService' && nsOf(o) === ns)) {
    const where = `(VirtualService ${ns}/${vs.metadata.name})`;
    for (const g of (vs.spec?.gateways ?? []) as string[])
      if (g !== 'mesh' && !gateways.has(g.includes('/') ? g : `${ns}/${g}`))
        out.push(`Error [IST0101] ${where} Referenced gateway not found: "${g}"`);
    for (const r of [...(vs.spec?.http ?? []), ...(vs.spec?.tcp ?? [])] as Untyped[])
      for (const d of (r?.route ?? []) as Untyped[]) {
        const host = String(d?.destination?.host ?? '');
        const key = host.includes('.') && !host.endsWith('.svc.cluster.local') ? host : `${short(host, ns)}/${ns}`;
        if (!services.has(key) && !entries.includes(host))
          out.push(`Error [IST0101] ${where} Referenced host not found: "${host}"`);
        else if (d.destination.subset && !subsets.get(key)?.has(d.destination.subset))
          out.push(
            `Error [IST0101] ${where} Referenced host+subset in destinationrule not found: ` +
              `"${host}+${d.destination.subset}"`,
          );
      }
  }
  return out.length ? out.join('\n') : `✔ No validation issues found when analyzing namespace: ${ns}.`;
}
