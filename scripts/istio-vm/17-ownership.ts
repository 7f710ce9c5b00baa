// Article "把文件 /etc/certs/ 和 /var/lib/istio/envoy/ 的所有权转移给 Istio proxy" (hand the
// files to istio-proxy): `mkdir -p /etc/istio/proxy; chown -R istio-proxy /var/lib/istio
// /etc/certs /etc/istio/proxy /etc/istio/config /var/run/secrets`. The istio-proxy user
// comes with the istio-sidecar package (15): without it there is no one to hand them to,
// so the step stops with that reason instead of chown's "invalid user".
import type { Step } from '../engine/types.ts';
import { mutate, probe } from '../engine/sh.ts';
import { OWNED_BY_PROXY } from './common.ts';

const check = probe`
  if ! id -u istio-proxy >/dev/null 2>&1; then echo 'the istio-proxy user does not exist (the istio-sidecar package creates it)'; exit 10; fi
  for d in ${OWNED_BY_PROXY}; do
    if [ ! -e "$d" ]; then echo "$d is absent"; exit 10; fi
    bad=$(find "$d" ! -user istio-proxy -print -quit)
    if [ -n "$bad" ]; then echo "$bad is not owned by istio-proxy"; exit 10; fi
  done
  echo 'owned by istio-proxy:' ${OWNED_BY_PROXY}
`;

const step: Step = {
  id: '17-ownership',
  title: 'Hand the Istio files to the istio-proxy user',
  article: '所有权转移给 Istio proxy (ownership to istio-proxy)',
  notes: ["the article's list also names /etc/certs/root-cert.pem, already inside /etc/certs"],
  target: 'vm',
  vm: () => ({
    check,
    apply: mutate`
      if ! id -u istio-proxy >/dev/null 2>&1; then echo 'error: there is no istio-proxy user: install the istio-sidecar package first (15-sidecar-package)' >&2; exit 1; fi
      mkdir -p /etc/istio/proxy
      chown -R istio-proxy ${OWNED_BY_PROXY}
      echo 'chown -R istio-proxy' ${OWNED_BY_PROXY}
    `,
    verify: check,
  }),
};
export default step;
