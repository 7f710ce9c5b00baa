// Article §2 "安装Docker" (install Docker), per distro; what is fixed against it: the notes.
// get.docker.com is not used: it refuses alinux and stalls on CentOS 8 / Ubuntu 20.04.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';

const DOCKER_REPO = 'https://download.docker.com/linux/centos/docker-ce.repo';
const PACKAGES = ['docker-ce', 'docker-ce-cli', 'containerd.io'];

export const installScripts: Record<string, ReturnType<typeof mutate>> = {
  'alinux-2.1903': mutate`
    yum install -y yum-utils
    yum-config-manager --add-repo ${DOCKER_REPO}
    yum install -y ${PACKAGES}
    systemctl enable --now docker
  `,
  'centos-8': mutate`
    # CentOS 8 is end of life: its mirrors moved to vault.centos.org
    if grep -qs '^mirrorlist=' /etc/yum.repos.d/CentOS-*.repo; then
      sed -i -e 's|^mirrorlist=|#mirrorlist=|' -e 's|^#\?baseurl=http://mirror.centos.org|baseurl=http://vault.centos.org|' /etc/yum.repos.d/CentOS-*.repo
    fi
    dnf install -y yum-utils
    yum-config-manager --add-repo ${DOCKER_REPO}
    # containerd.io conflicts with the preinstalled podman/runc: --allowerasing removes them
    dnf install -y --allowerasing ${PACKAGES}
    systemctl enable --now docker
  `,
  'ubuntu-20.04': mutate`
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
    systemctl enable --now docker
  `,
};

const serverAnswers = probe`
  if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
  echo 'no Docker server answers'
  exit 10
`;

const step: Step = {
  id: '02-install-docker',
  title: 'Install Docker for the distro',
  article: '§2 安装Docker (install Docker)',
  notes: [
    'the article runs `yum update` (upgrades everything, prompts): not done',
    "the article's CentOS containerd.io rpm is a Fedora 30 build: CentOS 8 is EOL, " +
      'repos are repointed to vault.centos.org and --allowerasing is used (needs consent)',
    'docker is enabled as well as started, so the --restart=always proxy survives a reboot',
  ],
  target: 'vm',
  perDistro: true,
  vm: (ctx) => {
    const apply = ctx.distro ? installScripts[ctx.distro] : undefined;
    if (!apply) return { skip: 'distro unknown (preflight did not run or failed)' };
    return {
      check: serverAnswers,
      apply,
      verify: serverAnswers,
      consent:
        ctx.distro === 'centos-8' ? 'dnf --allowerasing removes podman and runc from this CentOS 8 VM' : undefined,
    };
  },
};
export default step;
