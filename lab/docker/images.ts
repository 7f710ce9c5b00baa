// meshbook lab: the lab's container images, built offline (no registry is reachable from the
// lab). Each is the lab's stand-in for an image an article pulls, under the lab's own name:
//
//   meshbook-lab/http_springboot_vN-stand-in:lab
//       for registry.cn-beijing.aliyuncs.com/asm_repo/http_springboot_vN:1.0.1:
//       vm/hello/hello.mjs (the same app in plain Node) with VERSION=vN baked in, port 8001
//   meshbook-lab/asm-vm-proxy-stand-in:lab
//       for registry.<REGION>.aliyuncs.com/acs/asm-vm-proxy:<ASM_VERSION>-aliyun:
//       lab/docker/proxy-stand-in.mjs: sets the interception rules istio-iptables sets
//       (vm/istio-iptables.sh) in the host network it runs in and answers on the status port
//
// The root filesystems are assembled from this machine's files (node, bash, iptables and the
// libraries `ldd` lists for them) into layer tars, and written as one `docker save` archive
// whose images share the node layer, so `docker load` stores node once per daemon. Built once
// per state dir and rebuilt only when an input changes (images.json holds the key).
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type LabConfig } from '../config.ts';
import { run } from '../sys.ts';

/** The lab env's names for its images: the runbooks' commands with only the image changed. */
export const HELLO_IMAGE = 'meshbook-lab/http_springboot_{version}-stand-in:lab';
export const ASM_VM_PROXY_IMAGE = 'meshbook-lab/asm-vm-proxy-stand-in:lab';
export const STAND_IN_FOR: Record<string, string> = {
  [HELLO_IMAGE]: 'registry.cn-beijing.aliyuncs.com/asm_repo/http_springboot_{version}:1.0.1',
  [ASM_VM_PROXY_IMAGE]: 'registry.<REGION>.aliyuncs.com/acs/asm-vm-proxy:<ASM_VERSION>-aliyun',
};
const VERSIONS = ['v1', 'v2', 'v3'];
const HELLO_APP = path.join(REPO_ROOT, 'vm', 'hello', 'hello.mjs');
const PROXY_APP = path.join(REPO_ROOT, 'lab', 'docker', 'proxy-stand-in.mjs');
const ISTIO_IPTABLES = path.join(REPO_ROOT, 'vm', 'istio-iptables.sh');
const NODE = process.execPath;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** bumped when the image layout changes, so an old build is not reused */
const LAYOUT = 2;

export interface LabImage {
  ref: string;
  /** sha256:<config digest>, as `docker image inspect -f {{.Id}}` shows it */
  id: string;
}
export interface LabImages {
  /** the `docker save` archive every daemon loads */
  archive: string;
  images: LabImage[];
  /** whether this call built it (else an earlier build was reused) */
  built: boolean;
}

export const dockerDir = (cfg: LabConfig) => path.join(cfg.dir, 'docker');

/** The libraries `ldd` lists for these files (absolute paths, the loader included). */
async function libraries(files: string[]): Promise<string[]> {
  const out = await run(['ldd', ...files], { nothrow: true });
  const libs = new Set<string>();
  for (const m of out.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) libs.add(m[1]);
  return [...libs].sort();
}

/** Copy files (symlinks resolved) into root at the same paths; links: [path, target] symlinks. */
async function assemble(root: string, files: string[], extra: Array<[string, string]>, links: Array<[string, string]>) {
  await fsp.rm(root, { recursive: true, force: true });
  for (const [from, to] of [...files.map((f) => [f, f] as [string, string]), ...extra]) {
    const dest = path.join(root, to);
    await fsp.mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
    await fsp.copyFile(await fsp.realpath(from), dest);
    await fsp.chmod(dest, (await fsp.stat(from)).mode & 0o7777);
  }
  for (const [p, target] of links) {
    await fsp.mkdir(path.dirname(path.join(root, p)), { recursive: true, mode: 0o755 });
    await fsp.symlink(target, path.join(root, p));
  }
}

/** A reproducible layer tar of root; returns its diff id (sha256 of the tar). */
async function layerTar(root: string, tar: string): Promise<string> {
  await run([
    'tar',
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    root,
    '-cf',
    tar,
    '.',
  ]);
  const h = createHash('sha256');
  for await (const chunk of (await fsp.open(tar)).createReadStream()) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

interface Layer {
  name: string;
  root: string;
  files: string[];
  extra: Array<[string, string]>;
  links: Array<[string, string]>;
}

async function layers(work: string): Promise<Layer[]> {
  const iptablesExt = '/usr/lib/x86_64-linux-gnu/xtables';
  const extDir = existsSync(iptablesExt)
    ? (await fsp.readdir(iptablesExt)).filter((f) => f.endsWith('.so')).map((f) => path.join(iptablesExt, f))
    : [];
  const xtables = await fsp.realpath('/usr/sbin/xtables-nft-multi');
  const bash = await fsp.realpath('/bin/bash');
  // the iptables extensions need only libxtables and libc, as xtables-nft-multi does (ldd on
  // each of them would cost seconds)
  const [nodeLibs, toolLibs] = await Promise.all([libraries([NODE]), libraries([bash, xtables])]);
  const proxyLibs = toolLibs.filter((l) => !nodeLibs.includes(l));
  const sbin = ['iptables', 'iptables-save', 'iptables-restore'];
  return [
    {
      name: 'node',
      root: path.join(work, 'node'),
      files: nodeLibs,
      extra: [[NODE, '/usr/local/bin/node']],
      links: [],
    },
    { name: 'hello', root: path.join(work, 'hello'), files: [], extra: [[HELLO_APP, '/app/hello.mjs']], links: [] },
    {
      name: 'proxy',
      root: path.join(work, 'proxy'),
      files: [...proxyLibs, ...extDir],
      extra: [
        [bash, '/bin/bash'],
        ['/usr/bin/tail', '/usr/bin/tail'],
        ['/usr/bin/cat', '/usr/bin/cat'],
        [xtables, '/usr/sbin/xtables-nft-multi'],
        [PROXY_APP, '/lab/proxy-stand-in.mjs'],
        [ISTIO_IPTABLES, '/lab/istio-iptables.sh'],
      ],
      links: [['/bin/sh', 'bash'], ...sbin.map((s) => [`/usr/sbin/${s}`, 'xtables-nft-multi'] as [string, string])],
    },
  ];
}

/** What the build depends on: the layout, the Service CIDR, and every input file's size and mtime. */
async function buildKey(serviceCidr: string): Promise<string> {
  const h = createHash('sha256').update(`${LAYOUT}\0${serviceCidr}\0`);
  for (const f of [NODE, HELLO_APP, PROXY_APP, ISTIO_IPTABLES, '/usr/sbin/xtables-nft-multi', '/bin/bash']) {
    const st = await fsp.stat(f);
    h.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  return h.digest('hex');
}

function imageConfig(diffIds: string[], env: string[], cmd: string[], label: string) {
  return JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: {
      Env: [PATH_ENV, ...env],
      Cmd: cmd,
      WorkingDir: '/',
      Labels: { 'org.opencontainers.image.description': label },
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'meshbook lab: assembled offline' })),
  });
}

/**
 * The lab's images as one `docker save` archive under <state>/docker: built when missing or
 * when an input changed, else reused. serviceCidr is baked into the proxy stand-in (the real
 * proxy learns it from the mesh).
 */
export async function buildImages(cfg: LabConfig, serviceCidr: string): Promise<LabImages> {
  const dir = dockerDir(cfg);
  const archive = path.join(dir, 'lab-images.tar');
  const meta = path.join(dir, 'images.json');
  const key = await buildKey(serviceCidr);
  const prev = JSON.parse(await fsp.readFile(meta, 'utf8').catch(() => '{}')) as { key?: string; images?: LabImage[] };
  if (prev.key === key && prev.images && existsSync(archive)) return { archive, images: prev.images, built: false };
  const work = path.join(dir, 'build');
  const out = path.join(work, 'archive');
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.mkdir(out, { recursive: true, mode: 0o700 });
  const diff: Record<string, string> = {};
  for (const l of await layers(work)) {
    await assemble(l.root, l.files, l.extra, l.links);
    await fsp.mkdir(path.join(out, l.name), { recursive: true });
    diff[l.name] = await layerTar(l.root, path.join(out, l.name, 'layer.tar'));
  }
  const wanted: Array<{ ref: string; layers: string[]; env: string[]; cmd: string[]; label: string }> = [
    ...VERSIONS.map((v) => ({
      ref: HELLO_IMAGE.replace('{version}', v),
      layers: ['node', 'hello'],
      env: [`VERSION=${v}`, 'PORT=8001'],
      cmd: ['node', '/app/hello.mjs'],
      label: `meshbook lab stand-in for ${STAND_IN_FOR[HELLO_IMAGE].replace('{version}', v)}: vm/hello/hello.mjs`,
    })),
    {
      ref: ASM_VM_PROXY_IMAGE,
      layers: ['node', 'proxy'],
      env: [`SERVICE_CIDR=${serviceCidr}`],
      cmd: ['node', '/lab/proxy-stand-in.mjs'],
      label: `meshbook lab stand-in for ${STAND_IN_FOR[ASM_VM_PROXY_IMAGE]} (not the ASM proxy)`,
    },
  ];
  const manifest = [];
  const images: LabImage[] = [];
  for (const w of wanted) {
    const config = imageConfig(
      w.layers.map((l) => diff[l]),
      w.env,
      w.cmd,
      w.label,
    );
    const digest = createHash('sha256').update(config).digest('hex');
    await fsp.writeFile(path.join(out, `${digest}.json`), config);
    manifest.push({ Config: `${digest}.json`, RepoTags: [w.ref], Layers: w.layers.map((l) => `${l}/layer.tar`) });
    images.push({ ref: w.ref, id: `sha256:${digest}` });
  }
  await fsp.writeFile(path.join(out, 'manifest.json'), JSON.stringify(manifest));
  await run(['tar', '-C', out, '-cf', `${archive}.tmp`, '.']);
  await fsp.rename(`${archive}.tmp`, archive);
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.writeFile(meta, JSON.stringify({ key, images }, null, 2) + '\n', { mode: 0o600 });
  return { archive, images, built: true };
}
