// `meshbook lab fault <vm> [--error-rate R] [--delay-ms MS] [--stop] [--clear] [--json]`:
// the CLI of lab/fault.ts (the hello app's fault knob on a lab VM).
import { Command, InvalidArgumentError, Option } from 'commander';
import { common, guarded, labOpts, type CommonFlags } from './cli-common.ts';
import type { FaultAction } from './fault.ts';

const MAX_DELAY_MS = 600_000;

function rateArg(v: string): number {
  if (!/^(0|1|0?\.\d+|[01]\.\d+)$/.test(v) || Number(v) > 1)
    throw new InvalidArgumentError('expected a share from 0 to 1');
  return Number(v);
}

function msArg(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > MAX_DELAY_MS)
    throw new InvalidArgumentError(`expected a whole number of ms from 0 to ${MAX_DELAY_MS}`);
  return Number(v);
}

function vmArg(v: string): string {
  if (!/^vm[1-9]\d{0,2}$/.test(v)) throw new InvalidArgumentError('expected a lab VM name (vm1, vm2, ...)');
  return v;
}

type FaultFlags = CommonFlags & {
  errorRate?: number;
  delayMs?: number;
  stop?: boolean;
  clear?: boolean;
  json?: boolean;
};

const FAULT_HELP = `
Breaks the hello app (hello2) on one lab VM the way releases break, for trying the canary's
failure paths. The knob is a file next to the app (fault.json: {"errorRate": R, "delayMs": MS})
that the app reads on every request (it applies within a second, without a restart):
  docker VMs   /app/fault.json in the article's container http_vN (written with docker cp)
  process VMs  /opt/meshbook/hello/fault.json
--error-rate and --delay-ms replace the knob (what is not given is 0); --stop stops hello2
(docker stop, or kill of its pid file's process) so its port refuses connections; --clear
removes the knob and starts a stopped hello2 again. Without an action: show the VM's knob.

Examples:
  sudo meshbook lab fault vm3 --error-rate 0.2     # a fifth of vm3's answers are 500s
  sudo meshbook lab fault vm3 --delay-ms 300       # every answer of vm3 waits 300 ms
  sudo meshbook lab fault vm1 --stop               # hello2 on vm1 stops: connections refused
  sudo meshbook lab fault vm1 --clear              # healthy again (started if stopped)
  sudo meshbook lab fault vm3 --json               # the knob and whether hello2 runs`;

/** Add `meshbook lab fault <vm> ...`. */
export function registerLabFault(lab: Command): void {
  common(
    lab
      .command('fault')
      .description("set or clear the fault knob of a lab VM's hello app (500s, delay), or stop it")
      .argument('<vm>', 'the lab VM (vm1, vm2, ...)', vmArg)
      .option('--error-rate <r>', 'share of answers that are 500s, 0 to 1 (e.g. 0.2)', rateArg)
      .option('--delay-ms <ms>', 'delay every answer by this many ms', msArg)
      .addOption(
        new Option('--stop', 'stop hello2 on the VM (connections refused)').conflicts(['errorRate', 'delayMs']),
      )
      .addOption(
        new Option('--clear', 'remove the fault; start hello2 again if stopped').conflicts([
          'errorRate',
          'delayMs',
          'stop',
        ]),
      )
      .option('--json', 'print JSON')
      .addHelpText('after', FAULT_HELP),
  ).action(async (vm: string, flags: FaultFlags, cmd: Command) => {
    await guarded(cmd, null, async () => {
      const action: FaultAction =
        flags.errorRate !== undefined || flags.delayMs !== undefined
          ? { set: { errorRate: flags.errorRate ?? 0, delayMs: flags.delayMs ?? 0 } }
          : flags.stop
            ? { stop: true }
            : flags.clear
              ? { clear: true }
              : { show: true };
      const { labFault, formatFault } = await import('./fault.ts');
      const r = await labFault(vm, action, labOpts(flags));
      process.stdout.write(flags.json ? JSON.stringify(r, null, 2) + '\n' : formatFault(r) + '\n');
    });
  });
}
