// meshbook lab cluster: the ClusterProvider the runner uses in the lab (RunOptions.cluster).
//
// A cluster step's LocalCmd is carried out as a real cluster would:
//   kubectl ...              against the lab cluster (lab/cluster/kubectl.ts; --context and
//                            other connection flags are dropped: the lab has one cluster)
//   istioctl, aliyun, helm, docker, kubeadm, systemctl, ...
//                            "not in lab" with the reason (notInLab: the step is reported so)
//   anything else            (printf, curl, the verifier, ...) runs where the lab's runner
//                            runs: the workstation namespace (no route out of the lab)
//
// Wiring (the lead's): in the lab, when the lab env has a cluster,
//   runOpts.cluster = loaded.lab ? labClusterFor(loaded.env) : undefined;
// (= hasLabCluster(env) ? labClusterProvider({ env }) : undefined)
import { $ } from 'zx';
import { resolveConfig, type LabOptions } from '../config.ts';
import type { ClusterProvider, LocalCmd, RemoteResult } from '../../scripts/engine/types.ts';
import { parseKubectl, KubectlArgError } from './kubectl-args.ts';
import { kubectl, notInLab } from './kubectl.ts';

export interface LabClusterOptions extends LabOptions {
  /** a lab env (envs/lab.env): LAB_PREFIX and LAB_DIR locate the lab when prefix/dir are not given */
  env?: Record<string, string>;
}

/** Does this env describe a lab with a cluster (written by `lab up` without --no-cluster)? */
export function hasLabCluster(env: Record<string, string | undefined>): boolean {
  return env.LAB === '1' && env.LAB_CLUSTER === '1';
}

/** The provider for a run in the lab, or undefined when the env's lab has no cluster. */
export function labClusterFor(env: Record<string, string>): ClusterProvider | undefined {
  return hasLabCluster(env) ? labClusterProvider({ env }) : undefined;
}

/** Commands the lab cannot carry out, with the reason shown as "not in lab". */
const NOT_IN_LAB: Record<string, string> = {
  istioctl:
    'istioctl is not in the lab: there is no istiod; the lab data ' +
    'plane is NGINX programmed from the applied objects (lab/cluster)',
  aliyun: 'the aliyun CLI (the ASM cloud API) is not in the lab: apply the objects it would create instead',
  helm: 'helm is not in the lab: render the chart and apply the manifests',
  docker: 'docker is not in the lab: it runs no container engine',
  kubeadm: 'kubeadm is not in the lab: its cluster is namespaces on this machine, made by meshbook lab up',
  kubelet: 'kubelet is not in the lab: its cluster is namespaces on this machine, made by meshbook lab up',
  systemctl: 'systemd is not in the lab',
  ssh: 'a cluster step cannot ssh in the lab: VM steps reach the VMs',
};

export function labClusterProvider(opts: LabClusterOptions = {}): ClusterProvider {
  const cfg = resolveConfig({
    ...opts,
    prefix: opts.prefix ?? opts.env?.LAB_PREFIX,
    dir: opts.dir ?? opts.env?.LAB_DIR,
  });
  return {
    name: `lab cluster (${cfg.prefix})`,
    async run(cmd: LocalCmd, timeoutMs: number): Promise<RemoteResult> {
      const tool = (cmd.argv[0] ?? '').split('/').pop()!;
      if (tool === 'kubectl') {
        let args;
        try {
          args = parseKubectl(cmd.argv);
        } catch (e) {
          if (e instanceof KubectlArgError) return { code: 1, stdout: '', stderr: `error: ${e.message}\n` };
          throw e;
        }
        return kubectl({ cfg, args, stdin: cmd.stdin, cwd: cmd.cwd, timeoutMs });
      }
      const why = NOT_IN_LAB[tool];
      if (why) return notInLab(why);
      // the runner's own machine in the lab is the workstation namespace
      const out = await $({
        quiet: true,
        nothrow: true,
        input: cmd.stdin ?? '',
        timeout: timeoutMs,
        cwd: cmd.cwd,
      })`ip netns exec ${cfg.wsNetns} ${cmd.argv}`;
      const timedOut = out.exitCode === null;
      return {
        code: out.exitCode ?? 124,
        stdout: out.stdout,
        stderr: timedOut ? `${out.stderr}\ntimed out after ${timeoutMs} ms` : out.stderr,
        timedOut,
      };
    },
  };
}
