// The lab's stand-in for article 4's `docker run` on a VM without a Docker daemon (inventory
// runtime: process; the lab gives daemons to its first VMs, lab/docker/lab.ts): hello2 as
// vm/hello/hello.mjs (the same app as the article's image, in plain Node) under
// /opt/meshbook/hello, started detached with its env file and pid file. Whatever listens
// on 8001 is stopped before hello2 starts, also when the pid file does not name it (a
// hello2 whose pid file was lost, a stray server): else the new app cannot listen, the old
// one answers the verify, and the step is "changed" on every run. It is replaced, not
// adopted: without the pid file nothing says which app text it loaded, and a restart costs
// a second. The verify checks the pid file's process serves the port.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { quote } from '../../scripts/engine/lazy.ts';
import { repoPath } from '../../scripts/engine/repo.ts';
import type { HostCtx, VmAction } from '../../scripts/engine/types.ts';
import { probe, mutate, Raw } from '../../scripts/engine/sh.ts';
import { GREETINGS, HELLO_PORT, svcHost, type Version } from '../../scripts/traffic-shift/common.ts';
import { CONTAINERS } from '../../scripts/traffic-shift/05-hello2-on-vms.ts';

export const APP_SOURCE = repoPath('vm', 'hello', 'hello.mjs');
export const APP_DIR = '/opt/meshbook/hello';
export const APP = `${APP_DIR}/hello.mjs`;
export const APP_ENV = `${APP_DIR}/hello.env`;
export const PID_FILE = '/run/meshbook-hello.pid';
export const LOG = '/var/log/hello.log';
const PORT_HEX = HELLO_PORT.toString(16).toUpperCase().padStart(4, '0'); // as /proc/net/tcp shows it

/** The env the process runs with (and the content of hello.env), one KEY=value per line. */
export function processEnv(ctx: HostCtx, version: Version): string[] {
  return [
    `VERSION=${version}`,
    `PORT=${HELLO_PORT}`,
    `HTTP_HELLO_BACKEND=${svcHost(ctx.env, 'hello3-svc')}`,
    ...(ctx.vm.privateIp ? [`OWN_IP=${ctx.vm.privateIp}`] : []),
  ];
}

// GET /hello/meshbook-check on 127.0.0.1:8001 with bash's /dev/tcp (no curl needed) and the
// read builtin with a time limit (no subprocess: a fleet runs this on every VM); sets $body
// to the first line of the answer's body. The app answers with its greeting even when its
// backend (hello3) is unreachable (then 503 and "...<-ERROR ..."), so this proves the app.
const ANSWER = [
  'hello_answer() {',
  '  local raw=""; body=""',
  '  { exec 3<>/dev/tcp/127.0.0.1/8001; } 2>/dev/null || return 1',
  "  printf 'GET /hello/meshbook-check HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 || { exec 3<&-; return 1; }",
  "  IFS= read -r -d '' -t 8 raw <&3 || true",
  '  exec 3<&-',
  "  raw=${raw//$'\\r'/}",
  "  [[ $raw == *$'\\n\\n'* ]] || return 1",
  "  raw=${raw#*$'\\n\\n'}; body=${raw%%$'\\n'*}",
  '}',
  // the pid in PID_FILE when that process runs APP (builtins only; bash 4.2, as on
  // Alibaba Cloud Linux 2 / CentOS 7: no mapfile -d)
  'hello_pid() {',
  '  pid=""; local a found=""',
  `  [ -r ${PID_FILE} ] && IFS= read -r pid < ${PID_FILE} || true`,
  '  [[ $pid =~ ^[0-9]+$ ]] || { pid=""; return 1; }',
  `  while IFS= read -r -d '' a; do if [ "$a" = ${APP} ]; then ` +
    `found=1; fi; done 2>/dev/null < "/proc/$pid/cmdline" || true`,
  '  [ -n "$found" ] || { pid=""; return 1; }',
  '}',
  // the pids of the processes listening on TCP port 8001, whatever started them (a hello2
  // whose pid file was lost, a stray server): LISTEN sockets' inodes from /proc/net/tcp and
  // tcp6, their holders by /proc/<pid>/fd links (one find): every distro has these, not
  // every VM has ss or lsof. bash 4.2: an empty array is unbound under set -u, hence ${a[@]+...}
  'hello_port_pids() {',
  '  holders=(); local f l st ino inos=() expr=()',
  '  for f in /proc/net/tcp /proc/net/tcp6; do',
  '    [ -r "$f" ] || continue',
  `    while read -r _ l _ st _ _ _ _ _ ino _; do if [ "$st" = 0A ] ` +
    `&& [[ $l == *:${PORT_HEX} ]]; then inos+=("$ino"); fi; done < "$f"`,
  '  done',
  '  for ino in ${inos[@]+"${inos[@]}"}; do expr+=(${expr[0]+-o} -lname "socket:\\[$ino\\]"); done',
  '  [ ${#expr[@]} -gt 0 ] || return 0',
  '  while IFS=/ read -r _ _ f _; do holders+=("$f"); done < <(find ' +
    '/proc/[0-9]*/fd -maxdepth 1 \\( "${expr[@]}" \\) 2>/dev/null || true)',
  '}',
].join('\n');

/** The app's source quoted for bash (and its shown stand-in): read and quoted once per
 *  run, not once per VM and step. */
let appRaw: Raw | undefined;
function appSource(): Raw {
  if (!appRaw) {
    const code = fs.readFileSync(APP_SOURCE, 'utf8');
    const sum = crypto.createHash('sha256').update(code).digest('hex');
    appRaw = new Raw(
      quote(code),
      quote(`<contents of vm/hello/hello.mjs, ${Buffer.byteLength(code)} bytes, sha256 ${sum.slice(0, 12)}...>`),
    );
  }
  return appRaw;
}

export function processAction(ctx: HostCtx, version: Version): VmAction {
  const app = appSource();
  const envLines = processEnv(ctx, version);
  const envText = `${envLines.join('\n')}\n`;
  const expected = `${GREETINGS[version]} meshbook-check(`;
  const helpers = new Raw(ANSWER, ANSWER);
  return {
    // files and the process compared with builtins (read, mapfile), not sha256sum/grep/tr
    check: probe`
      ${helpers}
      if ! hello_pid; then echo ${`hello2 is not running (no live ${APP} process in ${PID_FILE})`}; exit 10; fi
      cur=""; [ -r ${APP} ] && IFS= read -r -d '' cur < ${APP} || true
      if [[ $cur != ${app} ]]; then echo ${`${APP} differs from vm/hello/hello.mjs`}; exit 10; fi
      cur=""; [ -r ${APP_ENV} ] && IFS= read -r -d '' cur < ${APP_ENV} || true
      if [[ $cur != ${envText} ]]; then echo ${`${APP_ENV} differs from the inputs (version ${version})`}; exit 10; fi
      declare -A penv=()
      while IFS= read -r -d '' e; do penv["$e"]=1; done 2>/dev/null < "/proc/$pid/environ" || true
      for kv in ${envLines}; do
        if [ -z "\${penv[$kv]:-}" ]; then echo "the running hello2 (pid $pid) lacks $kv"; exit 10; fi
      done
      if ! hello_answer; then echo "hello2 (pid $pid) does not answer on 127.0.0.1:8001"; exit 10; fi
      case "$body" in
        ${expected}*) echo ${`hello2 ${version} runs as pid`} "$pid; it answers: $body" ;;
        *) echo "hello2 (pid $pid) does not answer as" ${version}: "$body"; exit 10 ;;
      esac
    `,
    apply: mutate`
      ${helpers}
      [ -d ${APP_DIR} ] || install -d -m 0755 ${APP_DIR}
      # another runtime's hello2 would hold port 8001
      if command -v docker >/dev/null 2>&1; then docker rm -f ${CONTAINERS} >/dev/null 2>&1 || true; fi
      write_file ${APP} 0644 ${app}
      write_file ${APP_ENV} 0644 ${envText}
      # stop whatever holds port 8001 (the new app could not listen): the pid file's hello2
      # and any other listener, e.g. a hello2 whose pid file was lost; TERM, then KILL after 5 s
      hello_port_pids
      stop=(\${holders[@]+"\${holders[@]}"})
      if hello_pid; then stop+=("$pid"); fi
      stopped=()
      for p in \${stop[@]+"\${stop[@]}"}; do
        [ "$p" -gt 1 ] && [ "$p" != $$ ] && [[ " \${stopped[*]-} " != *" $p "* ]] || continue
        cmd=""; while IFS= read -r -d '' a; do cmd+="\${cmd:+ }$a"; done 2>/dev/null < "/proc/$p/cmdline" || true
        if kill "$p" 2>/dev/null; then stopped+=("$p"); echo "stopped pid $p ($cmd)"; fi
      done
      # gone, or a zombie (no command line left)
      for ((i = 0; i < 50; i++)); do
        left=()
        for p in \${stopped[@]+"\${stopped[@]}"}; do
          a=""; IFS= read -r -d '' a 2>/dev/null < "/proc/$p/cmdline" || true
          [ -z "$a" ] || left+=("$p")
        done
        [ \${#left[@]} -gt 0 ] || break
        nap 0.1
      done
      if [ \${#left[@]} -gt 0 ]; then kill -KILL "\${left[@]}" 2>/dev/null || true; nap 0.2; fi
      mapfile -t envs < ${APP_ENV}
      nap_close
      setsid nohup env -i "PATH=$PATH" "\${envs[@]}" node ${APP} > ${LOG} 2>&1 < /dev/null &
      write_file ${PID_FILE} 0644 "$!"$'\n'
      echo ${`started hello2 ${version} (${APP}) as pid`} "$!"
    `,
    verify: probe`
      ${helpers}
      for ((i = 0; i < 50; i++)); do
        if hello_answer && [ -n "$body" ]; then
          case "$body" in ${expected}*) ;; *) echo "hello2 answers with another greeting: $body" >&2; exit 1 ;; esac
          # and it is the process just started that serves the port
          want=""; IFS= read -r want < ${PID_FILE} || true
          hello_port_pids
          if [ "\${holders[*]-}" = "$want" ]; then exit 0; fi
          echo "port ${HELLO_PORT} is served by pid(s) \${holders[*]-none found}, not by the hello2 started (pid $want in ${PID_FILE})" >&2; exit 1
        fi
        nap 0.1
      done
      echo ${`hello2 did not answer on 127.0.0.1:8001 within 5 s; the end of ${LOG}:`} >&2
      tail -n 5 ${LOG} >&2 || true
      exit 1
    `,
  };
}
