// Article §1 "啟動hello2應用" (start the hello2 app): on each VM the hello app of the VM's
// version (inventory labels.version), calling hello3-svc.<HELLO_NS>.svc.cluster.local:
//   docker run -d --restart=always --network host --name http_vN -e HTTP_HELLO_BACKEND=... IMAGE
// Changing a VM's version replaces the old version's container (they would share port 8001).
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { image, svcHost, vmProblem, vmVersion } from './common.ts';

export const CONTAINERS = ['http_v1', 'http_v2', 'http_v3'];

const step: Step = {
  id: '05-hello2-on-vms',
  title: "Run hello2 on each VM (the VM's version)",
  article: '§1 啟動hello2應用 (start the hello2 app)',
  notes: [
    'the article runs `docker run --rm` in the foreground of an ssh session (dated: the app dies ' +
      'with the session and nothing restarts it); here `docker run -d --restart=always`, checked first',
    "each VM's version comes from its inventory label version: v1|v2|v3 (the article's ssh1.sh..ssh3.sh)",
  ],
  target: 'vm',
  vm: (ctx) => {
    const v = vmVersion(ctx.vm);
    if ('problem' in v) return vmProblem(v.problem);
    const name = `http_${v.version}`;
    const img = image(ctx.env, v.version);
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
        docker rm -f ${CONTAINERS} >/dev/null 2>&1 || true
        docker run -d --restart=always --network host --name ${name} -e ${backend} ${img}
      `,
      verify: probe`test "$(docker inspect -f '{{.State.Running}}' ${name})" = true`,
    };
  },
};
export default step;
