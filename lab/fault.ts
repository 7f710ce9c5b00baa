// meshbook lab: `lab fault <vm>`, the fault knob of the lab's hello app (vm/hello/hello.mjs
// reads fault.json next to itself on every request). It breaks a VM's hello2 the way releases
// break, for the canary's failure paths: a share of 500s, slow answers, or the app stopped.
//
// On the VM (inside its namespaces, as vmExec runs everything) hello2 is either
//   docker   the article's container http_vN (step 05's `docker run`, untouched): the knob is
//            /app/fault.json, written with `docker cp`; --stop is `docker stop`, and --clear
//            `docker start`s a stopped one;
//   process  the lab's stand-in (lab/stand-ins/hello2-process.ts): the knob is
//            /opt/meshbook/hello/fault.json (written and renamed in the VM's own filesystem);
//            --stop kills the pid of its pid file, --clear starts it again as the stand-in
//            does (setsid nohup env -i <hello.env> node hello.mjs, a new pid file).
// The values reach the VM as arguments of a fixed script, never inside a shell string.
import { LabError, type LabOptions } from './config.ts';
import { vmExec } from './exec.ts';
import { preflight } from './preflight.ts';
import { APP, APP_DIR, APP_ENV, LOG, PID_FILE } from './stand-ins/hello2-process.ts';
import { CONTAINERS } from '../scripts/traffic-shift/05-hello2-on-vms.ts';
import { HELLO_PORT } from '../scripts/traffic-shift/common.ts';

export interface Fault {
  /** share of answers that are 500s, 0..1 */
  errorRate: number;
  /** every answer waits this long */
  delayMs: number;
}
export type FaultAction = { set: Fault } | { stop: true } | { clear: true } | { show: true };
export interface FaultResult {
  vm: string;
  runtime: 'docker' | 'process';
  /** the container (docker), or the app's path (process) */
  app: string;
  /** where the knob lives, as the app sees it */
  file: string;
  /** the knob now on the VM (null: no file, no fault) */
  fault: Fault | null;
  /** whether the app runs (a stopped one refuses connections) */
  running: boolean;
  /** what this call did, one line each */
  did: string[];
}

export const MAX_DELAY_MS = 600_000;
const CONTAINER_FILE = '/app/fault.json';

// $1 action (set | stop | clear | show), $2 the knob's JSON (set). Prints key=value lines
// (runtime, app, file, running, fault) and "did <what>" lines; exit 3: no hello2 on the VM.
const SCRIPT = String.raw`
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
action=$1 knob=${'${2:-}'}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
answers() { { exec 3<>/dev/tcp/127.0.0.1/${HELLO_PORT}; } 2>/dev/null && exec 3<&-; }
wait_port() { # $1 up|down: until the port accepts (or refuses) connections, 5 s at most
  for ((i = 0; i < 50; i++)); do
    if answers; then [ "$1" = up ] && return 0; else [ "$1" = down ] && return 0; fi
    sleep 0.1
  done
  echo "hello2 did not come $1 on port ${HELLO_PORT} within 5 s" >&2; exit 1
}
c="" state="" upper=""
containers() { # the article's container (a running one first): sets c, state (running, exited, ...)
  local n st up # and upper, its overlay2 upper dir (the knob, read without a slow docker cp)
  c="" state="" upper=""
  while read -r n st up; do
    if [ -z "$c" ] || [ "$st" = running ]; then c=${'${n#/}'} state=$st upper=$up; fi
  done < <(docker inspect -f '{{.Name}} {{.State.Status}} {{.GraphDriver.Data.UpperDir}}' ${CONTAINERS.join(' ')} 2>/dev/null || true)
}
if command -v docker >/dev/null 2>&1 && [ -S /run/docker.sock ]; then containers; fi
if [ -n "$c" ]; then
  echo runtime=docker; echo "app=$c"; echo file=${CONTAINER_FILE}
  running() { [ "$state" = running ]; }
  case $action in
    set) printf '%s\n' "$knob" > "$tmp/fault.json"; docker cp "$tmp/fault.json" "$c:${CONTAINER_FILE}"
         echo "did docker cp fault.json $c:${CONTAINER_FILE}" ;;
    stop)
      if running; then docker stop -t 5 "$c" >/dev/null; wait_port down; echo "did docker stop $c"; containers; fi ;;
    clear)
      if running; then
        docker exec "$c" node -e 'require("fs").rmSync(process.argv[1], { force: true })' ${CONTAINER_FILE}
      else # no knob can be removed from a stopped container: an empty one, removed once it runs
        echo '{}' > "$tmp/fault.json"; docker cp "$tmp/fault.json" "$c:${CONTAINER_FILE}"
        docker start "$c" >/dev/null; wait_port up; echo "did docker start $c"; containers
        docker exec "$c" node -e 'require("fs").rmSync(process.argv[1], { force: true })' ${CONTAINER_FILE}
      fi
      echo "did remove $c:${CONTAINER_FILE}" ;;
  esac
  running && echo running=true || echo running=false
  if [ -d "$upper" ]; then now=$upper${CONTAINER_FILE} # no such file, or overlayfs' whiteout: no knob
  else now=$tmp/now.json; docker cp "$c:${CONTAINER_FILE}" "$now" 2>/dev/null || true; fi
  [ -f "$now" ] && echo "fault=$(tr -d '\n' < "$now")" || true
  exit 0
fi
[ -f ${APP} ] || { echo "hello2 is not deployed on this VM (no container ${CONTAINERS.join('|')}, no ${APP})" >&2; exit 3; }
echo runtime=process; echo app=${APP}; echo file=${APP_DIR}/fault.json
hello_pid() { # the pid of the pid file when that process runs the app
  pid=""; local a
  [ -r ${PID_FILE} ] && IFS= read -r pid < ${PID_FILE} || true
  [[ $pid =~ ^[0-9]+$ ]] || { pid=""; return 1; }
  while IFS= read -r -d '' a; do [ "$a" = ${APP} ] && return 0; done 2>/dev/null < "/proc/$pid/cmdline" || true
  pid=""; return 1
}
case $action in
  set) printf '%s\n' "$knob" > ${APP_DIR}/.fault.json.tmp; mv -f ${APP_DIR}/.fault.json.tmp ${APP_DIR}/fault.json
       echo "did write ${APP_DIR}/fault.json" ;;
  stop)
    if hello_pid; then
      kill "$pid"
      # gone, or a zombie (no command line left); KILL after 5 s
      gone() { local a=""; IFS= read -r -d '' a 2>/dev/null < "/proc/$pid/cmdline" || true; [ -z "$a" ]; }
      for ((i = 0; i < 50; i++)); do gone && break; sleep 0.1; done
      gone || kill -KILL "$pid" 2>/dev/null || true
      wait_port down; echo "did kill pid $pid"
    fi ;;
  clear)
    rm -f ${APP_DIR}/fault.json; echo "did remove ${APP_DIR}/fault.json"
    if ! hello_pid; then
      mapfile -t envs < ${APP_ENV}
      setsid nohup env -i "PATH=$PATH" "${'${envs[@]}'}" node ${APP} >> ${LOG} 2>&1 < /dev/null &
      echo "$!" > ${PID_FILE}
      wait_port up; echo "did start ${APP} as pid $!"
    fi ;;
esac
hello_pid && echo running=true || echo running=false
[ -f ${APP_DIR}/fault.json ] && echo "fault=$(tr -d '\n' < ${APP_DIR}/fault.json)" || true
`;

/** The knob's text as the app reads it, or null for no fault (as hello.mjs: bad values count as 0). */
function parseKnob(text: string | undefined): Fault | null {
  if (text === undefined) return null;
  let j: { errorRate?: unknown; delayMs?: unknown };
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  const rate = typeof j?.errorRate === 'number' && j.errorRate >= 0 && j.errorRate <= 1 ? j.errorRate : 0;
  const delay = Number.isInteger(j?.delayMs) && (j.delayMs as number) <= MAX_DELAY_MS ? (j.delayMs as number) : 0;
  return rate || delay ? { errorRate: rate, delayMs: Math.max(0, delay) } : null;
}

/** Set, clear or show a VM's fault knob, or stop its hello2 (see the header). */
export async function labFault(vm: string, action: FaultAction, opts: LabOptions = {}): Promise<FaultResult> {
  preflight('fault');
  if ('set' in action) {
    const { errorRate, delayMs } = action.set;
    if (!(errorRate >= 0 && errorRate <= 1)) throw new LabError(`error rate ${errorRate} is not from 0 to 1`);
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS)
      throw new LabError(`delay ${delayMs} ms is not a whole number from 0 to ${MAX_DELAY_MS}`);
  }
  const name = 'set' in action ? 'set' : 'stop' in action ? 'stop' : 'clear' in action ? 'clear' : 'show';
  const knob = 'set' in action ? JSON.stringify(action.set) : '';
  const out = await vmExec(vm, ['bash', '-c', SCRIPT, 'lab-fault', name, knob], { ...opts, nothrow: true });
  const lines = out.stdout.split('\n').filter(Boolean);
  if (out.exitCode !== 0) {
    const why = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new LabError(`lab fault ${vm}: ${why || `exit ${out.exitCode}`}`);
  }
  const get = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  return {
    vm,
    runtime: get('runtime') === 'docker' ? 'docker' : 'process',
    app: get('app') ?? '',
    file: get('file') ?? '',
    fault: parseKnob(get('fault')),
    running: get('running') === 'true',
    did: lines.filter((l) => l.startsWith('did ')).map((l) => l.slice(4)),
  };
}

/** One line for a person: the VM, its runtime, the knob and whether hello2 runs. */
export function formatFault(r: FaultResult): string {
  const knob = r.fault
    ? `error rate ${r.fault.errorRate}, delay ${r.fault.delayMs} ms (${r.file})`
    : `no fault (no ${r.file})`;
  const app = r.runtime === 'docker' ? `container ${r.app}` : r.app;
  return `lab fault ${r.vm}: hello2 ${r.running ? 'running' : 'STOPPED'} (${r.runtime}, ${app}); ${knob}`;
}
