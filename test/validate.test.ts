// The validation table: every bad input is one line naming the variable, what is wrong
// and the fix; hostile values are rejected or (where the value is free text) carried inert.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInputs, InputError } from '../scripts/engine/inputs.ts';
import { parseInventory } from '../scripts/engine/inventory.ts';
import * as v from '../scripts/engine/validate.ts';
import rb from '../scripts/asm-vm-proxy/index.ts';

const GOOD: Record<string, string> = {
  ACCESS_KEY_ID: 'LTAI5tExample',
  ACCESS_KEY_SECRET: 'canary-secret-7f3a',
  REGION: 'cn-hangzhou',
  MESH_ID: 'c0ffee',
  NS: 'vm-mesh',
  SA: 'vm-sa',
  POD_NAME: 'vm-pod',
  ASM_VERSION: 'v1.6.9',
  SERVICE_CIDR: '172.19.0.0/20',
  ZIPKIN_IP: '172.19.0.20',
  VM_INVENTORY: 'inv.yaml',
};

function envDir(values: Record<string, string>, inventory = 'vms:\n  - { name: vm1, host: 192.168.0.250 }\n') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-val-'));
  const lines = Object.entries(values).map(([k, val]) => `${k}=${JSON.stringify(val)}`);
  fs.writeFileSync(path.join(dir, 'x.env'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'inv.yaml'), inventory);
  return path.join(dir, 'x.env');
}

function problems(overrides: Record<string, string>, inventory?: string): string[] {
  try {
    loadInputs(envDir({ ...GOOD, ...overrides }, inventory), [rb]);
    return [];
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
}

test('good inputs pass', (t) => {
  t.deepEqual(problems({}), []);
});

const TABLE: Array<[string, string, RegExp]> = [
  ['REGION', 'cn-nowhere', /^REGION: "cn-nowhere" is not one of the 20 regions.*cn-hangzhou/],
  ['REGION', '', /^REGION: missing; set it to/],
  ['NS', 'Vm_Mesh', /^NS: "Vm_Mesh" is not a DNS-1123 label/],
  ['NS', '$(touch /tmp/x)', /^NS: .* is not a DNS-1123 label/],
  ['NS', 'a;b', /^NS: "a;b" is not a DNS-1123 label/],
  ['SA', "vm'sa", /^SA: .* is not a DNS-1123 subdomain/],
  ['POD_NAME', 'pod name', /^POD_NAME: .* is not a DNS-1123 subdomain/],
  ['MESH_ID', 'C0FFEE!', /^MESH_ID: .* is not a service mesh id/],
  ['ASM_VERSION', '1.6.9', /^ASM_VERSION: "1.6.9" is not an ASM version.*v1\.6\.9/],
  ['SERVICE_CIDR', '172.19.0.5/20', /^SERVICE_CIDR: "172.19.0.5\/20" has host bits set; write 172\.19\.0\.0\/20/],
  ['SERVICE_CIDR', '172.19.0.0/33', /^SERVICE_CIDR: .* is not a CIDR/],
  ['SERVICE_CIDR', '::1/128', /^SERVICE_CIDR: .* is not an IPv4 CIDR/],
  ['ZIPKIN_IP', '300.1.1.1', /^ZIPKIN_IP: "300.1.1.1" is not an IPv4 address/],
  ['ACCESS_KEY_ID', 'LTAI\nX=1', /^ACCESS_KEY_ID: contains a line break/],
  ['ACCESS_KEY_ID', ' LTAI', /^ACCESS_KEY_ID: has leading or trailing white space/],
  ['ACCESS_KEY_SECRET', 'bad\nsecret-value', /^ACCESS_KEY_SECRET: contains a line break/],
];

for (const [name, value, re] of TABLE) {
  test(`${name}=${JSON.stringify(value)} is rejected with one clear line`, (t) => {
    const p = problems({ [name]: value });
    t.is(p.length, 1, p.join('\n'));
    t.regex(p[0], re);
  });
}

test('a secret is never echoed in a problem line', (t) => {
  const p = problems({ ACCESS_KEY_SECRET: ' canary-secret-with-space' });
  t.is(p.length, 1);
  t.false(p[0].includes('canary-secret-with-space'));
});

test('several bad inputs are all reported together', (t) => {
  const p = problems({ REGION: 'x', NS: 'A', SERVICE_CIDR: 'y' });
  t.is(p.length, 3);
  t.deepEqual(p.map((l) => l.split(':')[0]).sort(), ['NS', 'REGION', 'SERVICE_CIDR']);
});

test('free-text values that docker --env-file carries literally are accepted (and later sent inert)', (t) => {
  for (const val of ['$(touch /tmp/x)', 'a;b', 'it"s', "it's", '`id`'])
    t.deepEqual(problems({ ACCESS_KEY_ID: val }), [], val);
});

test('inventory problems name the entry and key', (t) => {
  const { problems: p } = parseInventory(
    [
      'vms:',
      '  - { name: vm1, host: 192.168.0.250, port: 70000, distro: debian-12, color: red }',
      '  - { name: vm1, host: "a;b", user: "root;x" }',
      '  - { host: 192.168.0.252, runtime: podman, labels: { version: "v 1" } }',
    ].join('\n'),
    'inv.yaml',
  );
  const want = [
    /vms\[0\]\.color: unknown key/,
    /vms\[0\]\.port: "70000" is not a TCP port/,
    /vms\[0\]\.distro: "debian-12" is not a known distro/,
    /vms\[1\]\.name: "vm1" is used twice/,
    /vms\[1\]\.host: "a;b" is not a hostname/,
    /vms\[1\]\.user: "root;x" is not a POSIX user name/,
    /vms\[2\]\.name: missing/,
    /vms\[2\]\.labels\.version: "v 1" is not a Kubernetes label value/,
    /vms\[2\]\.runtime: "podman" is not docker or process/,
  ];
  for (const re of want)
    t.true(
      p.some((l) => re.test(l)),
      `${re} in\n${p.join('\n')}`,
    );
  t.is(p.length, want.length, p.join('\n'));
});

test('an inventory that is not YAML, or has no VMs, is one line', (t) => {
  t.regex(parseInventory('vms: [', 'x.yaml').problems[0], /not valid YAML/);
  t.regex(parseInventory('hosts: []', 'x.yaml').problems[0], /no `vms:` list/);
});

test('defaults: user root, port 22, privateIp = host, runtime docker', (t) => {
  const { inventory, problems: p } = parseInventory('vms:\n  - { name: a, host: 10.0.0.1 }\n', 'x');
  t.deepEqual(p, []);
  t.like(inventory.vms[0], { user: 'root', port: 22, privateIp: '10.0.0.1', runtime: 'docker' });
});

test('validators on their own', (t) => {
  t.is(v.cidr('10.233.0.0/16'), undefined);
  t.is(v.region('me-east-1'), undefined);
  t.is(v.ASM_REGIONS.length, 20);
  t.truthy(v.dnsLabel('a'.repeat(64)));
  t.is(v.dnsLabel('a'.repeat(63)), undefined);
});
