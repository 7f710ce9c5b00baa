// `meshbook verify traffic`: the command line around verifyTraffic. Exit codes: 0 PASS,
// 1 FAIL, 2 INCONCLUSIVE, 3 error (target never answered, or a bad argument).

import type { Command, CommanderError } from 'commander';
import { VerifyArgError } from './errors.ts';
import { redact } from '../engine/redact.ts';
import { PARENT_WATCH_ENV, watchParentIfAsked } from './parent-watch.ts';
import type { VerifyResult, VerifyTrafficOptions } from './traffic.ts';

export { VerifyArgError };
export type { VerifyResult, VerifyTrafficOptions } from './traffic.ts';

/** The verifier (its HTTP client and statistics load when it runs, not with the CLI). */
export async function verifyTraffic(opts: VerifyTrafficOptions = {}): Promise<VerifyResult> {
  return (await import('./traffic.ts')).verifyTraffic(opts);
}

export const EXIT_ERROR = 3;

interface TrafficFlags {
  url?: string;
  env?: string;
  expect?: string;
  classify: string[];
  header: string[];
  byHeader?: string;
  requests: string;
  connections: string;
  qps?: string;
  warmup: string;
  alpha: string;
  minEffect: string;
  deterministic?: boolean;
  slack?: string;
  newConnectionPerRequest?: boolean;
  timeout: string;
  maxBody: string;
  maxTime?: string;
  json?: boolean;
  progress: boolean;
  extendOnce?: boolean;
  exitWithParent?: boolean;
  runsDir?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const HELP_AFTER = `
Verdict (random split, as Envoy/Istio weighted routes pick per request):
  FAIL          any answer in a zero-weight bucket; or chi-square rejects at --alpha and
                some bucket's observed share is off its expected share by more than --min-effect
  PASS          not FAIL, and every bucket's 95 % Wilson interval lies within expected +- min-effect
  INCONCLUSIVE  neither: too few requests to tell
  -n auto       the smallest N at which a correct split PASSes with >= 99 % probability
                (30/60/10 at 5 points: 2,027; a split off by 5 points then PASSes <= 1.2 %)
  --extend-once a two-stage design for runs nobody should re-run by hand (meshbook's own
                traffic-shift step 14 and demo use it): PASS or FAIL at N is final; an
                INCONCLUSIVE (statistical, not interrupted) sends a fresh 2 N whose verdict is
                final. 30/60/10 at 5 points: a correct split fails to PASS <= 5.1e-6 (one stage:
                0.97 %); a split off by 5 points PASSes <= 2.3 % (1.1 %), FAILs 84 % (60 %)
  --deterministic  weighted round-robin (NGINX): counts must be within --slack of exact
Unclassified bodies, non-2xx answers and transport errors are rows of their own; shares are
over the classified answers. A PASS also needs those other rows to stay within min-effect.

Exit codes: 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 error (target never answered, or bad argument).

Examples:
  meshbook verify traffic --url http://$INGRESS_HOST:8004/hello/eric \\
      --expect v1=30,v2=60,v3=10 --classify 'v1=^Hello,v2=^Bonjour,v3=^Hola'
  meshbook verify traffic --env envs/traffic-shift.env --json
  meshbook verify traffic --url http://$INGRESS_HOST:8004/hello/eric --header 'end-user: jason' \\
      --expect v1=0,v2=100,v3=0 --classify 'v1=^Hello,v2=^Bonjour,v3=^Hola'
  meshbook verify traffic --url http://$GATEWAY_URL/productpage --max-body 65536 \\
      --expect v1=0,v2=50,v3=50 --classify 'v2=color="black",v3=color="red",v1=.'
Patterns are tried in --classify order (the first match wins), so a catch-all can go last.
`;

function onCommanderExit(err: CommanderError): never {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
    process.exit(0);
  }
  // commander has already printed its one-line message naming the argument.
  process.exit(EXIT_ERROR);
}

/** Add `verify` with its `traffic` subcommand to a commander program. */
export function registerVerify(program: Command): void {
  const verify = program
    .command('verify')
    .description('check what the mesh does: prove a traffic split with a statistical verdict')
    .showHelpAfterError(false) // a bad argument is one line (the parent may have turned hints on)
    .exitOverride(onCommanderExit);

  verify
    .command('traffic')
    .description(
      'send N requests, sort the answers into buckets and decide whether the split matches the expected weights',
    )
    .option('--url <url>', 'target URL, e.g. http://INGRESS_HOST:8004/hello/eric')
    .option(
      '--env <file>',
      'take URL, weights and classes from a traffic-shift env file (WEIGHTS, INGRESS_HOST, INGRESS_PORT, VERIFY_PATH)',
    )
    .option('--expect <weights>', 'expected weights, e.g. v1=30,v2=60,v3=10 (a 0 weight must get no traffic)')
    .option(
      '--classify <patterns>',
      "bucket=regex per bucket, e.g. 'v1=^Hello,v2=^Bonjour,v3=^Hola' (repeatable)",
      collect,
      [],
    )
    .option('--header <header>', "request header 'Name: value' (repeatable)", collect, [])
    .option('--by-header <name>', 'classify on this response header instead of the body')
    .option('-n, --requests <n>', "counted requests, or 'auto'", 'auto')
    .option('-c, --connections <n>', 'keep-alive connections, one request in flight on each', '10')
    .option('--qps <q>', 'at most Q requests per second in total')
    .option('--warmup <w>', 'uncounted requests after the first 2xx answer (0: no warm-up)', '5')
    .option('--alpha <a>', 'chi-square significance level', '0.05')
    .option('--min-effect <points>', 'smallest deviation that matters, in percentage points', '5')
    .option('--deterministic', 'weighted round-robin target: check counts exactly within --slack')
    .option(
      '--slack <count>',
      'with --deterministic: allowed deviation per bucket in requests (default: max(4, 0.5 % of N))',
    )
    .option('--new-connection-per-request', 'open a new TCP connection for every request')
    .option('--timeout <ms>', 'per-request timeout (connect, headers, body)', '10000')
    .option('--max-body <bytes>', 'bytes of each body read and classified', '4096')
    .option('--max-time <seconds>', 'stop sending after this long; the verdict covers what was counted')
    .option('--json', 'print one JSON object instead of the report')
    .option('--extend-once', 'an INCONCLUSIVE run is followed by one fresh run of 2 N that decides (see below)')
    .option(
      '--exit-with-parent',
      `stop sending and exit when the process that started this one is gone (also: ${PARENT_WATCH_ENV}=1)`,
    )
    .option('--runs-dir <dir>', 'where the run ledger goes (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)')
    .option('--no-progress', 'no progress bar (drawn only when stderr is a terminal)')
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError(false)
    .exitOverride(onCommanderExit)
    .action(async (flags: TrafficFlags) => {
      process.exitCode = await runTrafficCommand(flags);
    });
}

/** Two SIGINTs closer than this are one Ctrl-C: a terminal sends it to the whole process group,
 *  and a meshbook parent (inLabNamespace) forwards the one it got as well. */
export const SIGINT_SAME_PRESS_MS = 500;
/** Exit code after SIGTERM (128 + 15). */
export const EXIT_SIGTERM = 143;
/** After SIGTERM: the report of what was counted gets this long, then the process exits anyway. */
const SIGTERM_GRACE_MS = 2500;

/** Credentials on the command line (an Authorization or Cookie header, a *token / *key / *secret
 *  header, a URL's user:password) are secrets: masked in the output, the ledger and the report. */
export function registerCredentials(flags: Pick<TrafficFlags, 'header' | 'url'>, register: (v: string) => void): void {
  for (const h of flags.header) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(h);
    if (m && /authorization|cookie|token|secret|key|password|auth/i.test(m[1])) {
      register(m[2].trim());
      const cred = /^\S+\s+(\S+)$/.exec(m[2].trim()); // `Bearer abc`: the credential alone, too
      if (cred) register(cred[1]);
    }
  }
  try {
    const u = new URL(flags.url ?? '');
    if (u.password) register(decodeURIComponent(u.password));
    if (u.username && u.password) register(`${u.username}:${u.password}`);
  } catch {
    // not a URL: the verifier says so
  }
}

/** This run's ledger (none when a rebuild runs the verifier: the rebuild's ledger has its result). */
async function ledgerFor(flags: TrafficFlags) {
  const { registerSecret } = await import('../engine/redact.ts');
  registerCredentials(flags, registerSecret);
  const { openRun } = await import('../ledger/ledger.ts');
  const warn = (l: string) => process.stderr.write(`${l}\n`);
  return openRun({ command: 'verify traffic', envFile: flags.env, runsDir: flags.runsDir }, warn);
}

async function runTrafficCommand(flags: TrafficFlags): Promise<number> {
  // a verifier meshbook started exits when meshbook is gone (kill -9 included)
  const stopWatch = watchParentIfAsked(flags.exitWithParent);
  const ac = new AbortController();
  let interrupts = 0;
  let lastInterrupt = 0;
  let terminated = false;
  const onSigint = () => {
    const now = Date.now();
    if (interrupts > 0 && now - lastInterrupt < SIGINT_SAME_PRESS_MS) return;
    interrupts++;
    lastInterrupt = now;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: stopping; the verdict covers what was counted (Ctrl-C again to quit now)\n');
    ac.abort();
  };
  // SIGTERM: stop sending at once, print the verdict on what was counted, exit 143 (a second
  // SIGTERM, or the grace running out, exits at once)
  const onSigterm = () => {
    if (terminated) process.exit(EXIT_SIGTERM);
    terminated = true;
    process.stderr.write('\nterminated: stopping; the verdict covers what was counted\n');
    ac.abort();
    setTimeout(() => process.exit(EXIT_SIGTERM), SIGTERM_GRACE_MS).unref();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const opts: VerifyTrafficOptions = {
    url: flags.url,
    env: flags.env,
    expect: flags.expect,
    classify: flags.classify.length ? flags.classify : undefined,
    header: flags.header,
    byHeader: flags.byHeader,
    n: flags.requests,
    connections: flags.connections,
    qps: flags.qps,
    warmup: flags.warmup,
    alpha: flags.alpha,
    minEffect: flags.minEffect,
    deterministic: flags.deterministic,
    slack: flags.slack,
    newConnectionPerRequest: flags.newConnectionPerRequest,
    timeout: flags.timeout,
    maxBody: flags.maxBody,
    maxTime: flags.maxTime,
    extendOnce: flags.extendOnce,
    signal: ac.signal,
    progress: flags.progress,
  };
  const ledger = await ledgerFor(flags);
  try {
    const result = await verifyTraffic(opts);
    const { renderJson, renderText } = await import('./report.ts');
    process.stdout.write(
      redact(flags.json ? renderJson(result) + '\n' : renderText(result, { color: process.stdout.isTTY })),
    );
    ledger.event('verify-result', { result });
    ledger.end(terminated ? EXIT_SIGTERM : result.exitCode, { verdict: result.verdict });
    return terminated ? EXIT_SIGTERM : result.exitCode;
  } catch (e) {
    const message = e instanceof VerifyArgError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
    process.stderr.write(`meshbook verify traffic: ${message}\n`);
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          tool: 'meshbook verify traffic',
          schemaVersion: 1,
          verdict: 'ERROR',
          exitCode: EXIT_ERROR,
          error: message,
          ...(e instanceof VerifyArgError ? { argument: e.arg } : {}),
        }) + '\n',
      );
    }
    ledger.end(EXIT_ERROR, { error: message });
    return EXIT_ERROR;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    stopWatch();
  }
}
