// Shared by the kubeadm-nginmesh steps: the machines' roles, the kubectl argv for the new
// cluster, and the file paths.
//
// Roles. The inventory's VMs are the cluster's machines: the one labelled
// `role: control-plane` is the control plane, the others are workers (`role: worker` may be
// written out); without any role label the first VM is the control plane. A VM step only
// sees its own VM (HostCtx has no inventory), so the runbook notes the VMs in the order
// the engine hands them to the first step (preflight, which runs on every VM in
// inventory order before any other step, in plans and in runs alike) and cluster steps,
// which do see the inventory, note it whole. The list is kept per run (keyed by the run's
// env object), never across runs.
import type { ClusterCtx, HostCtx, VmAction } from '../engine/types.ts';
import type { Vm } from '../engine/inventory.ts';
import { kubectl } from '../engine/local.ts';
import { probe, mutate, Secret, type Script } from '../engine/sh.ts';

export const CONFIG_FILE = '/etc/kubernetes/meshbook-kubeadm.yaml';
export const JOIN_FILE = '/etc/kubernetes/meshbook-join.yaml';
export const ADMIN_CONF = '/etc/kubernetes/admin.conf';
export const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';
export const INIT_LOG = '/var/log/meshbook-kubeadm-init.log';
export const JOIN_LOG = '/var/log/meshbook-kubeadm-join.log';
export const API_PORT = 6443;

// ---- roles --------------------------------------------------------------------------
const seen = new WeakMap<object, Vm[]>();

/** Called by the first step for every VM (inventory order). */
export function noteVm(ctx: HostCtx): void {
  const list = seen.get(ctx.env) ?? [];
  if (!list.includes(ctx.vm)) list.push(ctx.vm);
  seen.set(ctx.env, list);
}

/** Called by cluster steps, which see the whole inventory. */
export function noteVms(ctx: ClusterCtx): void {
  seen.set(ctx.env, ctx.vms);
}

export interface Roles {
  controlPlane: Vm;
  workers: Vm[];
}

/** Roles of an inventory, or the problem that prevents telling them. */
export function rolesOf(vms: Vm[]): Roles | { problem: string } {
  if (!vms.length) return { problem: 'the inventory has no VMs' };
  const bad = vms.find(
    (v) => v.labels.role !== undefined && v.labels.role !== 'control-plane' && v.labels.role !== 'worker',
  );
  if (bad) return { problem: `VM ${bad.name} has role: ${bad.labels.role}; use role: control-plane or role: worker` };
  const cps = vms.filter((v) => v.labels.role === 'control-plane');
  if (cps.length > 1)
    return {
      problem:
        `VMs ${cps.map((v) => v.name).join(', ')} are all labelled role: ` +
        `control-plane; kubeadm init makes one control plane: label only one`,
    };
  const cp = cps[0] ?? vms[0];
  if (cp.labels.role === 'worker')
    return {
      problem:
        `no VM is labelled role: control-plane and the first VM ` +
        `(${cp.name}) is labelled role: worker; label the control plane`,
    };
  return { controlPlane: cp, workers: vms.filter((v) => v !== cp) };
}

/** The roles as this VM step can see them. */
export function rolesFor(ctx: HostCtx): Roles | { problem: string } {
  return rolesOf(seen.get(ctx.env) ?? [ctx.vm]);
}

export const isRoles = (r: Roles | { problem: string }): r is Roles => 'controlPlane' in r;

/** A VM action that fails with one clear line, before anything runs. */
export function failWith(message: string): VmAction {
  return {
    probe: probe`printf '%s\n' ${`meshbook: ${message}`} >&2; exit 1`,
    interpret: () => ({ ok: false, lines: [`error: ${message}`] }),
  };
}

/** The address kubeadm advertises and workers join: the control plane's private IP. */
export function apiEndpoint(cp: Vm): string | undefined {
  return cp.privateIp ? `${cp.privateIp}:${API_PORT}` : undefined;
}

// ---- kubectl for the new cluster ------------------------------------------------------
/** kubectl against the cluster this runbook builds: the admin kubeconfig saved by step
 *  05 (KUBECONFIG_FILE), unless KUBE_CONTEXT names a context of your own kubeconfig (or
 *  in the lab, whose cluster is its own). */
export function kube(ctx: ClusterCtx, ...args: string[]): string[] {
  const { env } = ctx;
  return env.KUBE_CONTEXT || ctx.lab
    ? kubectl(env, ...args)
    : ['kubectl', '--kubeconfig', env.KUBECONFIG_FILE, ...args];
}

// ---- scripts ---------------------------------------------------------------------------
/** Values joined by `sep` as one script fragment, built through the sh tag itself (a
 *  template made at run time), so every value is quoted by zx and every Secret stays a
 *  Secret for whoever renders the script: revealed on ssh stdin, masked in plans, a
 *  reference in the Ansible export. */
function joined(values: Array<string | Secret | Script>, sep: string): Script {
  const strings = ['', ...values.slice(1).map(() => sep), ''];
  const template = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return mutate(template, ...values);
}

/** Arguments one per line (`\` continuations). `indent` is the continuation lines'
 *  indentation in the template (template indentation + 2). */
export function argLines(items: Array<string | Secret>, indent: number): Script {
  return joined(items, ` \\\n${' '.repeat(indent)}`);
}

/** Several one-line commands as one fragment, a line each at the template's `indent`. */
export function commandLines(scripts: Script[], indent: number): Script {
  return joined(scripts, `\n${' '.repeat(indent)}`);
}
