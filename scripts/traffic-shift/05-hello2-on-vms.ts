// Article §1 "啟動hello2應用" (start the hello2 app): on each VM the hello app of the VM's
// version (inventory labels.version), calling hello3-svc.<HELLO_NS>.svc.cluster.local:
//   runtime: docker  -> `docker run -d --restart=always --network host --name http_vN ...`
//   runtime: process -> vm/hello/hello.mjs under /opt/meshbook/hello (hello2-process.ts)
// Changing a VM's version replaces the old version's container or process (they would
// share port 8001).
import type { HostCtx, Step, VmAction } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { image, svcHost, vmProblem, vmVersion, type Version } from './common.ts';
import { APP, CONTAINERS, PID_FILE, processAction } from './hello2-process.ts';

function dockerAction(ctx: HostCtx, version: Version): VmAction {
  const name = `http_${version}`;
  const img = image(ctx.env, version);
  const backend = `HTTP_HELLO_BACKEND=${svcHost(ctx.env, 'hello3-svc')}`;
  const others = CONTAINERS.filter((c) => c !== name);
  return {
    check: probe`
      cur=$(docker inspect -f '{{.Config.Image}} {{.State.Running}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.NetworkMode}}' ${name} 2>/dev/null || true)
      if [ "$cur" != ${`${img} true always host`} ]; then echo ${`${name}:`} "\${cur:-no container}"; exit 10; fi
      if ! docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${name} | grep -qxF -- ${backend}; then echo ${`${name} lacks ${backend}`}; exit 10; fi
      for c in ${others}; do
        if [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null || true)" = true ]; then echo "$c runs as well (it holds port 8001)"; exit 10; fi
      done
      echo ${`${name} runs ${img}`}
    `,
    apply: mutate`
      # a hello2 started as a process (runtime: process) would hold port 8001
      pid=$(cat ${PID_FILE} 2>/dev/null || true)
      if [ -n "$pid" ] && grep -qaF ${APP} "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" || true; rm -f ${PID_FILE}; fi
      docker rm -f ${CONTAINERS} >/dev/null 2>&1 || true
      docker run -d --restart=always --network host --name ${name} -e ${backend} ${img}
    `,
    verify: probe`test "$(docker inspect -f '{{.State.Running}}' ${name})" = true`,
  };
}

const step: Step = {
  id: '05-hello2-on-vms',
  title: "Run hello2 on each VM (the VM's version)",
  article: '§1 啟動hello2應用 (start the hello2 app)',
  notes: [
    'the article runs `docker run --rm` in the foreground of an ssh session (dated: the app dies ' +
      'with the session and nothing restarts it); here `docker run -d --restart=always`, checked first',
    'runtime: process runs vm/hello/hello.mjs (the same app in plain Node) with the ' +
      "VM's node, detached, with /opt/meshbook/hello/hello.env and /run/meshbook-hello.pid",
    "each VM's version comes from its inventory label version: v1|v2|v3 (the article's ssh1.sh..ssh3.sh)",
  ],
  target: 'vm',
  vm: (ctx) => {
    const v = vmVersion(ctx.vm);
    if ('problem' in v) return vmProblem(v.problem);
    return ctx.vm.runtime === 'process' ? processAction(ctx, v.version) : dockerAction(ctx, v.version);
  },
};
export default step;
