// Article "安装rpm包到vm" (install the package): istio-sidecar from the Istio release
// bucket, https://storage.googleapis.com/istio-release/releases/<ISTIO_VERSION>/{rpm,deb}/;
// what is fixed against the article: the notes. yum/apt install the file and resolve its
// dependencies. The packages are x86_64 builds: another arch stops here.
import type { Step } from '../engine/types.ts';
import { mutate, probe } from '../engine/sh.ts';
import { profile } from '../engine/distro.ts';

export const packageUrl = (version: string, kind: 'rpm' | 'deb') =>
  `https://storage.googleapis.com/istio-release/releases/${version}/${kind}/istio-sidecar.${kind}`;

function installed(kind: 'rpm' | 'deb', version: string) {
  const query =
    kind === 'rpm'
      ? probe`v=$(rpm -q --qf '%{VERSION}' istio-sidecar 2>/dev/null) || v=''`
      : probe`v=$(dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' istio-sidecar 2>/dev/null | sed -n 's/^ii *//p') || v=''`;
  return probe`
    want=${version}
    ${query}
    if [ "$v" = "$want" ]; then echo "istio-sidecar $v is installed"; exit 0; fi
    echo "istio-sidecar: \${v:-not installed}; wants $want"
    exit 10
  `;
}

function install(kind: 'rpm' | 'deb', version: string) {
  const url = packageUrl(version, kind);
  const file = `istio-sidecar.${kind}`;
  const tool =
    kind === 'rpm'
      ? mutate`yum install -y "$tmp/"${file}`
      : mutate`DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades "$tmp/"${file}`;
  return mutate`
    arch=$(uname -m)
    if [ "$arch" != x86_64 ]; then echo "error: the istio-sidecar packages are x86_64 builds; this VM is $arch" >&2; exit 1; fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    curl -fsSL --retry 3 -o "$tmp/"${file} ${url}
    curl -fsSL --retry 3 -o "$tmp/"${file}.sha256 ${`${url}.sha256`}
    want=$(tr 'A-F' 'a-f' < "$tmp/"${file}.sha256 | cut -d' ' -f1)
    got=$(sha256sum < "$tmp/"${file} | cut -d' ' -f1)
    if [ "$want" != "$got" ]; then echo "error: "${file}" sha256 $got does not match the published $want" >&2; exit 1; fi
    echo ${`${file} ${version}: sha256 verified`}
    ${tool}
  `;
}

const step: Step = {
  id: '15-sidecar-package',
  title: 'Install the istio-sidecar package (.rpm or .deb)',
  article: '安装rpm包到vm (install the package)',
  notes: [
    'the article shows only the rpm: the deb is used on the Debian family',
    'the article installs the 1.11.4 package next to istioctl 1.11.3: ISTIO_VERSION for both',
    'the published .sha256 is checked before installing; `rpm ' +
      '-i` fails on a re-run: the installed version is checked first',
  ],
  target: 'vm',
  perDistro: true,
  vm: (ctx) => {
    if (!ctx.distro) return { skip: 'distro unknown (preflight did not run or failed)' };
    const kind = profile(ctx.distro).family === 'redhat' ? 'rpm' : 'deb';
    const check = installed(kind, ctx.env.ISTIO_VERSION);
    return {
      check,
      apply: install(kind, ctx.env.ISTIO_VERSION),
      verify: check,
    };
  },
};
export default step;
