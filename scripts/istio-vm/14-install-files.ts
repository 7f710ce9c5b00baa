// Article "将文件从 ${WORK_DIR}安全上传到虚拟机" and the four installs after it (root-cert.pem
// to /etc/certs, istio-token to /var/run/secrets/tokens, cluster.env to /var/lib/istio/envoy,
// mesh.yaml to /etc/istio/config/mesh); what is fixed against it: the notes (and the
// article's `cp` leaves the token readable by all). Each file is compared (mode and sha256)
// and rewritten atomically, its mode set before its content.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { probe, mutate, Secret, type Script } from '../engine/sh.ts';
import { registerSecret } from '../engine/redact.ts';
import { VM_FILES, ivFacts, type VmFiles } from './common.ts';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export function join(kind: Script['kind'], parts: Script[]): Script {
  return { kind, text: parts.map((p) => p.text).join('\n'), display: parts.map((p) => p.display).join('\n') };
}

/** Shown as the script with placeholders; if ever run, it stops with `why`. */
export function planOnly(s: Script, why: string): Script {
  return { kind: s.kind, text: probe`echo ${`error: ${why}`} >&2; exit 1`.text, display: s.display };
}

interface Entry {
  dest: string;
  mode: string;
  content: string | Secret;
  digest: string | Secret;
}

const SAME = probe`same() { [ -f "$1" ] && [ "$(stat -c %a "$1")" = "$2" ] && [ "$(sha256sum < "$1" | cut -d' ' -f1)" = "$3" ]; }`;

export function fileScripts(entries: Entry[], banner: string) {
  const check = join('probe', [
    SAME,
    probe`echo ${banner}`,
    probe`rc=0`,
    ...entries.map(
      (e) =>
        probe`if same ${e.dest} ${e.mode} ${e.digest}; then echo ${`${e.dest}: up to date (mode ${e.mode})`}; else echo ${`${e.dest}: absent or different, wants mode ${e.mode}`}; rc=10; fi`,
    ),
    probe`exit "$rc"`,
  ]);
  const dirs = [...new Set(entries.map((e) => path.dirname(e.dest)))];
  const apply = join('mutate', [
    SAME,
    mutate`echo ${banner}`,
    mutate`mkdir -p ${dirs}`,
    ...entries.map(
      (e) =>
        mutate`if ! same ${e.dest} ${e.mode} ${e.digest}; then printf '%s' ${e.content} | write_file ${e.dest} ${'0' + e.mode}; echo ${`${e.dest}: written (mode ${e.mode})`}; fi`,
    ),
  ]);
  return {
    check,
    apply,
    verify: join('probe', [SAME, ...entries.map((e) => probe`same ${e.dest} ${e.mode} ${e.digest}`)]),
  };
}

/** The four files' check, install and verify, with `banner` saying where they came from. */
export function installFiles(files: VmFiles, token: Secret, banner: string) {
  return fileScripts(entries(files, token), banner);
}

function entries(files: VmFiles, token: Secret, placeholder = false): Entry[] {
  const plain = (c: string) => ({ content: c, digest: placeholder ? '<sha256 of the file>' : sha(c) });
  return [
    { dest: VM_FILES.rootCert.dest, mode: VM_FILES.rootCert.mode, ...plain(files.rootCert) },
    {
      dest: VM_FILES.token.dest,
      mode: VM_FILES.token.mode,
      content: token,
      digest: new Secret('sha256 of istio-token', sha(token.value)),
    },
    { dest: VM_FILES.clusterEnv.dest, mode: VM_FILES.clusterEnv.mode, ...plain(files.clusterEnv) },
    { dest: VM_FILES.mesh.dest, mode: VM_FILES.mesh.mode, ...plain(files.meshYaml) },
  ];
}

const PLACEHOLDER: VmFiles = {
  rootCert: '<root-cert.pem from istioctl (09), at run time>',
  clusterEnv: '<cluster.env from istioctl (09) with the NodePort fix (11), at run time>',
  meshYaml: '<mesh.yaml from istioctl (09) with the NodePort fix (11), at run time>',
  hostsLine: '<hosts line from 11, at run time>',
  istiodHost: 'istiod.istio-system.svc',
  source: 'istioctl',
};

const step: Step = {
  id: '14-install-files',
  title: 'Install root-cert.pem, istio-token, cluster.env and mesh config',
  article: '将文件上传到虚拟机 / 将根证书安装 / 将令牌安装 / cluster.env / mesh (copy and install the files)',
  notes: [
    "the article's `scp-r ${WORK_DIR}node3:/root/vm` is missing its spaces and leaves the " +
      "token in /root/vm: the files travel inside the script over the VM's SSH connection instead",
    'istio-token is a secret: mode 0600 before a byte is written, masked in every plan and log',
    'files are rewritten only when they differ, so istio is restarted (18) only when something changed',
    "/var/run is a tmpfs on most distros (as the article's path assumes): " +
      'the token does not survive a reboot; re-run the runbook after one',
  ],
  target: 'vm',
  vm: (ctx) => {
    const f = ivFacts(ctx.cluster);
    if (f.vmFiles && f.workDir) {
      const t = fs.readFileSync(path.join(f.workDir, 'istio-token'), 'utf8');
      registerSecret(t.trim());
      return installFiles(
        f.vmFiles,
        new Secret('istio-token', t),
        `files: istioctl's output from ${f.workDir}, prepared by 11-istiod-address`,
      );
    }
    if (f.workDir)
      return { skip: `no istioctl output in ${f.workDir} yet: 09-workload-files generates it (not under --dry-run)` };
    // a plan (no cluster facts yet): the same scripts with placeholders, which never run
    const s = fileScripts(
      entries(PLACEHOLDER, new Secret('istio-token', '<istio-token from istioctl (09)>'), true),
      "files: istioctl's output, prepared by 11-istiod-address",
    );
    const why =
      'the generated files are not known: 09-workload-files and ' +
      '11-istiod-address must run first (a full rebuild, not --only/--from)';
    return { check: planOnly(s.check, why), apply: planOnly(s.apply, why), verify: planOnly(s.verify, why) };
  },
};
export default step;
