import test from 'ava';
import fs from 'node:fs';
import { parseList, parseSave, expectAsmProxy } from '../scripts/engine/iptables.ts';

const fixture = (f: string) => fs.readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

test("the article's `iptables -t nat -L -v` output parses and passes every article rule", (t) => {
  const chains = parseList(fixture('article1-iptables-L.txt'));
  t.deepEqual([...chains.keys()], ['ISTIO_INBOUND', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT']);
  t.like(chains.get('ISTIO_INBOUND')![0], { target: 'RETURN', proto: 'tcp', dport: 22 });
  t.like(chains.get('ISTIO_IN_REDIRECT')![0], { target: 'REDIRECT', toPorts: '15006' });
  const out = chains.get('ISTIO_OUTPUT')!;
  t.like(out[0], { target: 'RETURN', outIf: 'lo', src: '127.0.0.6/32' });
  t.like(out[1], { target: 'ISTIO_IN_REDIRECT', dst: '127.0.0.1/32', negDst: true, uidOwner: '1337' });
  t.like(out[2], { target: 'RETURN', uidOwner: '1337', negUid: true });
  t.like(out[8], { target: 'ISTIO_REDIRECT', dst: '172.19.0.0/20' });
  const exp = expectAsmProxy(chains, '172.19.0.0/20');
  t.true(
    exp.every((e) => e.ok),
    JSON.stringify(exp),
  );
});

test('iptables-save text parses to the same rules', (t) => {
  const chains = parseSave(fixture('iptables-save-nat.txt'));
  t.like(chains.get('ISTIO_OUTPUT')![1], {
    target: 'ISTIO_IN_REDIRECT',
    dst: '127.0.0.1/32',
    negDst: true,
    outIf: 'lo',
    uidOwner: '1337',
  });
  t.like(chains.get('ISTIO_OUTPUT')![2], { target: 'RETURN', uidOwner: '1337', negUid: true });
  t.like(chains.get('PREROUTING')![0], { target: 'ISTIO_INBOUND', proto: 'tcp' });
  t.true(expectAsmProxy(chains, '172.19.0.0/20').every((e) => e.ok));
});

test('a wrong Service CIDR, a missing ssh return, or the return after the redirect are reported', (t) => {
  const text = fixture('iptables-save-nat.txt');
  const wrongCidr = expectAsmProxy(parseSave(text), '172.20.0.0/16');
  t.deepEqual(
    wrongCidr.filter((e) => !e.ok).map((e) => e.what),
    ['ISTIO_OUTPUT redirects the Service CIDR 172.20.0.0/16 to ISTIO_REDIRECT'],
  );
  const noSsh = expectAsmProxy(
    parseSave(text.replace(/^-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN\n/m, '')),
    '172.19.0.0/20',
  );
  t.deepEqual(
    noSsh.filter((e) => !e.ok).map((e) => e.what),
    ['ISTIO_INBOUND returns tcp dport 22 (ssh) before redirecting'],
  );
  const late = text.replace(/^(-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN\n)((?:.*\n){2})/m, '$2$1');
  t.not(late, text);
  t.false(expectAsmProxy(parseSave(late), '172.19.0.0/20')[1].ok);
  t.true(expectAsmProxy(parseSave(''), '172.19.0.0/20').every((e) => !e.ok));
});
