// Article §4 "镜像" (image) and §5 "启动" (start): run the proxy container.
// Fixed against the article: its start script pulls the old path
// registry.cn-beijing.aliyuncs.com/asm_repo/asm_vm_proxy (no region, no version); the
// image is registry.<REGION>.aliyuncs.com/acs/asm-vm-proxy:<ASM_VERSION>-aliyun (§4),
// and later versions log to /var/log/istio, mounted so diagnostics can read it.
// Unchanged when a container with that image runs; replaced when the image differs.
import fs from 'node:fs';
import type { Step } from '../engine/types.ts';
import { probe, mutate, Raw } from '../engine/sh.ts';
import { ENV_FILE, image } from './common.ts';
import { repoPath } from '../engine/repo.ts';

const ISTIO_IPTABLES = repoPath('vm', 'istio-iptables.sh');

const step: Step = {
  id: '04-run-proxy',
  title: 'Run the asm_vm_proxy container',
  article: '§4 镜像 (image), §5 启动 (start)',
  notes: ["the article's start script uses the old image path registry.cn-beijing.aliyuncs.com/asm_repo/asm_vm_proxy; §4's regional, versioned path is used"],
  target: 'vm',
  vm: (ctx) => {
    const img = image(ctx.env);
    const cidr = ctx.env.SERVICE_CIDR;
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
      verify: probe`test "$(docker inspect -f '{{.State.Running}}' asm_vm_proxy)" = true`,
      notInLab: 'the lab has no container engine to run the proxy image',
      labStandIn: {
        what: `the interception rules the proxy sets (vm/istio-iptables.sh, Service CIDR ${cidr}), so the next step checks real rules`,
        check: probe`
          if iptables -t nat -S ISTIO_OUTPUT 2>/dev/null | grep -qF -- ${`-d ${cidr} -j ISTIO_REDIRECT`}; then echo 'interception rules present'; exit 0; fi
          echo 'interception rules absent'
          exit 10
        `,
        apply: mutate`
          SERVICE_CIDR=${cidr}
          ${new Raw(fs.readFileSync(ISTIO_IPTABLES, 'utf8').replace(/^#!.*\n/, ''), '# vm/istio-iptables.sh (see the file)')}
        `,
      },
    };
  },
};
export default step;
