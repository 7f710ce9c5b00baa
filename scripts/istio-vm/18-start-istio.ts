// Article "Istio 虚拟机启动" (start istio on the VM): `systemctl start istio`; enabled and
// restarted as the notes say (the article's troubleshooting restarts by hand with
// `systemctl stop istio; killall envoy istio; systemctl start istio`). The token is not
// among the files that call for a restart: istio-agent reads it whenever it asks for a
// certificate.
import type { Step } from '../engine/types.ts';
import { mutate, probe } from '../engine/sh.ts';
import { VM_FILES } from './common.ts';

const STARTUP_FILES = [VM_FILES.rootCert.dest, VM_FILES.clusterEnv.dest, VM_FILES.mesh.dest, '/etc/hosts'];

const check = probe`
  if ! systemctl is-enabled --quiet istio 2>/dev/null; then echo 'istio.service is not enabled'; exit 10; fi
  if ! systemctl is-active --quiet istio 2>/dev/null; then echo 'istio.service is not running'; exit 10; fi
  since=$(systemctl show istio -p ActiveEnterTimestamp --value)
  start=$(date -d "$since" +%s)
  for f in ${STARTUP_FILES}; do
    if [ -e "$f" ] && [ "$(stat -c %Y "$f")" -gt "$start" ]; then echo "$f changed after istio started ($since): restart needed"; exit 10; fi
  done
  echo "istio.service is enabled and running since $since, with the current files"
`;

const step: Step = {
  id: '18-start-istio',
  title: 'Enable and (re)start the istio service',
  article: 'Istio 虚拟机启动 (start istio)',
  notes: [
    '`systemctl start` alone does not survive a reboot: enable as well',
    'the article restarts by hand (stop, killall envoy istio, start) after editing ' +
      'the files: restarted here when a file changed after the service started',
  ],
  target: 'vm',
  vm: () => ({
    check,
    apply: mutate`
      systemctl enable istio
      systemctl restart istio
      echo 'istio.service enabled and (re)started'
    `,
    verify: probe`systemctl is-active --quiet istio`,
  }),
};
export default step;
