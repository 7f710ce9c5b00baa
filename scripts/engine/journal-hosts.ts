// Telling the run journal who the hosts are, so that a rebuilt VM or cluster is not taken
// for the one an earlier run worked on (identity.ts says how a host is known).
import type { Journal } from './journal.ts';
import type { Loaded } from './inputs.ts';
import type { RunOptions } from './run-types.ts';
import { runLocal } from './local.ts';
import { CLUSTER_ID_CMD, clusterIdentity, hostKeyIdentity, readKnownHosts } from './identity.ts';
import { CLUSTER } from './action.ts';

/** Tell the journal who the hosts are now: each VM by its host key in meshbook's
 *  known_hosts, the cluster by the lab's generation or kube-system's UID. */
export async function identifyHosts(
  journal: Journal,
  names: string[],
  loaded: Loaded,
  hasCluster: boolean,
  opts: RunOptions,
): Promise<void> {
  const known = readKnownHosts(opts.ssh.knownHosts);
  for (const vm of loaded.inventory.vms)
    journal.identify(names, vm.name, hostKeyIdentity(known, vm.host, vm.port), 'host');
  if (!hasCluster) return;
  const r = loaded.lab ? undefined : await runLocal(CLUSTER_ID_CMD, 15_000).catch(() => undefined);
  journal.identify(names, CLUSTER, clusterIdentity(loaded.env, loaded.lab, r), 'cluster');
}

/** Hosts whose key became known during this run (first contact): record who they are. */
export function learnHosts(journal: Journal, names: string[], loaded: Loaded, opts: RunOptions): void {
  const unknown = loaded.inventory.vms.filter((vm) => !journal.knows(names[0], vm.name));
  if (!unknown.length) return;
  const known = readKnownHosts(opts.ssh.knownHosts);
  for (const vm of unknown) {
    const id = hostKeyIdentity(known, vm.host, vm.port);
    if (id) journal.learn(names, vm.name, id);
  }
}
