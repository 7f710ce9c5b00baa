// meshbook lab kubectl: exec (inside the pod's namespaces) and logs of a pod or deploy/NAME.
import path from 'node:path';
import { promises as fsp, existsSync } from 'node:fs';
import { $ } from 'zx';
import { CLEAN_ENV, alive, writeIfChanged } from '../../sys.ts';
import { REPO_ROOT } from '../../../scripts/engine/repo.ts';
import { resolveResource } from '../kinds.ts';
import { INGRESS, storedObjects } from '../objects.ts';
import { deploymentPods } from '../pod-objects.ts';
import { podConsole } from '../pods.ts';
import { nsenterPid } from '../proxies.ts';
import type { PodRecord } from '../state.ts';
import { KubectlError, NotInLab, type Ctx, type Outcome } from './common.ts';
import { cannotRun } from './rollout.ts';

function podArg(ctx: Ctx): PodRecord {
  const w = ctx.a.args[0];
  if (!w) throw new KubectlError('error: expected POD or TYPE/NAME');
  const ns = ctx.a.namespace ?? 'default';
  const [t, n] = w.includes('/') ? [w.slice(0, w.indexOf('/')), w.slice(w.indexOf('/') + 1)] : ['pod', w];
  const info = resolveResource(t);
  if (info?.kind === 'Deployment') {
    const d = storedObjects(ctx.st).find(
      (o) => o.kind === 'Deployment' && o.metadata.name === n && (o.metadata.namespace ?? 'default') === ns,
    );
    if (!d) throw new KubectlError(`Error from server (NotFound): deployments.apps "${n}" not found`);
    cannotRun(d);
    const p = deploymentPods(ctx.st, d).ready[0];
    if (!p) throw new KubectlError(`error: deployment ${n} has no running pod`);
    return p;
  }
  if (info?.kind !== 'Pod')
    throw new NotInLab(`kubectl ${ctx.a.verb} ${w}: the lab supports pods and deployments here`);
  if (n === INGRESS.pod && ns === INGRESS.namespace)
    throw new NotInLab(
      'the lab ingress gateway is NGINX in the node namespace, not a pod to exec into or read logs from',
    );
  const p = ctx.st.pods.find((x) => x.name === n && x.namespace === ns);
  if (!p) throw new KubectlError(`Error from server (NotFound): pods "${n}" not found`);
  return p;
}

function checkContainer(ctx: Ctx, p: PodRecord): void {
  const c = ctx.a.container;
  if (c === 'istio-proxy' && p.injected)
    throw new NotInLab(
      'the istio-proxy container is NGINX in the lab: there is no pilot-agent or Envoy admin to exec into',
    );
  if (c && !p.containers.includes(c)) throw new KubectlError(`error: container ${c} is not valid for pod ${p.name}`);
}

const machineHas = (bin: string) => (CLEAN_ENV.PATH ?? '').split(':').some((d) => existsSync(path.join(d, bin)));

export async function execVerb(ctx: Ctx): Promise<Outcome> {
  const p = podArg(ctx);
  checkContainer(ctx, p);
  const cmd = ctx.a.command;
  if (!cmd.length) throw new KubectlError('error: you must specify at least one command for the container');
  if (!alive(p.pid1)) throw new KubectlError(`error: unable to upgrade connection: pod ${p.name} is not running`);
  // pods see the machine's binaries; without curl there (or MESHBOOK_LAB_CURL_LITE=1, for
  // tests), a small Node stand-in (curl-lite) is first on the PATH
  const shim = process.env.MESHBOOK_LAB_CURL_LITE === '1' || !machineHas('curl');
  const env = { ...CLEAN_ENV, ...(shim ? { PATH: `/run/meshlab/bin:${CLEAN_ENV.PATH}` } : {}) };
  if (shim) await installCurlLite(p);
  const out = await $({
    quiet: true,
    nothrow: true,
    input: ctx.a.flags.i ? (ctx.call.stdin ?? '') : '',
    timeout: ctx.call.timeoutMs,
    env,
  })`${nsenterPid(p.pid1!.pid, cmd)}`;
  return { code: out.exitCode ?? 124, stdout: out.stdout, stderr: out.stderr, timedOut: out.exitCode === null };
}

async function installCurlLite(p: PodRecord): Promise<void> {
  const dir = `/proc/${p.pid1!.pid}/root/run/meshlab/bin`;
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const src = path.join(REPO_ROOT, 'lab', 'cluster', 'curl-lite.mjs');
  await writeIfChanged(
    path.join(dir, 'curl'),
    `#!${process.execPath}\n${(await fsp.readFile(src, 'utf8')).replace(/^#!.*\n/, '')}`,
    0o755,
  );
}

export async function logsVerb(ctx: Ctx): Promise<Outcome> {
  const p = podArg(ctx);
  checkContainer(ctx, p);
  let text = await fsp.readFile(podConsole(ctx.cfg, p.name), 'utf8').catch(() => '');
  const n = ctx.a.flags.tail === undefined ? -1 : Number(ctx.a.flags.tail);
  if (n >= 0)
    text =
      text
        .split('\n')
        .filter((l, i, all) => i < all.length - 1 || l)
        .slice(-n)
        .join('\n') + (n ? '\n' : '');
  return { code: 0, stdout: text, stderr: '' };
}
