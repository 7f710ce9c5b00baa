// Article §4 "镜像" (image) and §5 "启动" (start): run the proxy container; the image path:
// the note. Later versions log to /var/log/istio, mounted so diagnostics can read it.
// Unchanged when a container with that image runs; replaced when the image differs.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { ENV_FILE, image } from './common.ts';

const step: Step = {
  id: '04-run-proxy',
  title: 'Run the asm_vm_proxy container',
  article: '§4 镜像 (image), §5 启动 (start)',
  notes: [
    'the change is verified when the proxy answers ready on its status port 15020, not just when the container runs',
    "the article's start script uses the old image path " +
      "registry.cn-beijing.aliyuncs.com/asm_repo/asm_vm_proxy; §4's regional, versioned path is used",
  ],
  target: 'vm',
  vm: (ctx) => {
    const img = image(ctx.env);
    return {
      check: probe`
        cur=$(docker inspect -f '{{.Config.Image}} {{.State.Running}}' asm_vm_proxy 2>/dev/null || true)
        if [ "$cur" = ${`${img} true`} ]; then echo 'asm_vm_proxy runs' ${img}; exit 0; fi
        echo "asm_vm_proxy: \${cur:-no container}"
        exit 10
      `,
      apply: mutate`
        docker rm -f asm_vm_proxy >/dev/null 2>&1 || true
        mkdir -p /var/log/istio
        docker run -d --name=asm_vm_proxy --network=host --restart=always \
          --env-file ${ENV_FILE} --cap-add=NET_ADMIN -v /var/log/istio:/var/log/istio ${img}
      `,
      // running is not ready: the proxy sets its interception rules as it starts, and says it
      // is ready on its status port (15020, --network=host: the VM's)
      verify: probe`
        test "$(docker inspect -f '{{.State.Running}}' asm_vm_proxy)" = true
        for ((i = 0; i < 60; i++)); do
          if { exec 3<>/dev/tcp/127.0.0.1/15020; } 2>/dev/null; then
            printf 'GET /healthz/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; st=""; IFS= read -r -t 5 st <&3 || true; exec 3<&-
            case $st in *' 200 '*) exit 0 ;; esac
          fi
          sleep 0.5
        done
        echo 'asm_vm_proxy runs but its status port 15020 did not answer ready within 30 s' >&2
        exit 1
      `,
    };
  },
};
export default step;
