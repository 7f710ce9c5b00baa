// The lab has no istiod and no istioctl, so `istioctl x workload entry configure` never
// runs there. So that the VM-side steps (file installs, modes, hosts line) still run for
// real, the lab gets stand-ins of the five files: cluster.env with the keys istioctl
// writes, a mesh.yaml with a discoveryAddress, a PEM-shaped placeholder,
// the lab's random token (LAB_ISTIO_TOKEN, a Secret) and a hosts line with the lab's
// NODE_IP. Every file says it is a lab stand-in; none of it would let a proxy join a mesh.
import { ISTIOD_PORT, type VmFiles } from '../../scripts/istio-vm/common.ts';

export const STAND_IN_MARK = 'meshbook lab stand-in, not istioctl output';

const q = (v: string) => `'${v.replace(/'/g, `'"'"'`)}'`;

export function labVmFiles(env: Record<string, string>, nodeIp = env.NODE_IP): VmFiles {
  const host = 'istiod.istio-system.svc';
  const network = env.NETWORK ?? '';
  const clusterEnv = [
    `# ${STAND_IN_MARK}: the keys \`istioctl x workload entry configure\` writes`,
    `CA_ADDR=${q(`${host}:${ISTIOD_PORT}`)}`,
    `ISTIO_INBOUND_PORTS='*'`,
    `ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'`,
    `ISTIO_META_AUTO_REGISTER_GROUP=${q(env.VM_APP)}`,
    `ISTIO_META_CLUSTER_ID=${q(env.CLUSTER_NAME)}`,
    `ISTIO_META_DNS_CAPTURE='true'`,
    `ISTIO_META_MESH_ID=${q(env.MESH_ID)}`,
    `ISTIO_META_NETWORK=${q(network)}`,
    `ISTIO_META_WORKLOAD_NAME=${q(env.VM_APP)}`,
    `ISTIO_NAMESPACE=${q(env.VM_NAMESPACE)}`,
    `ISTIO_SERVICE=${q(`${env.VM_APP}.${env.VM_NAMESPACE}`)}`,
    `ISTIO_SERVICE_CIDR='*'`,
    `POD_NAMESPACE=${q(env.VM_NAMESPACE)}`,
    `SERVICE_ACCOUNT=${q(env.SERVICE_ACCOUNT)}`,
    '',
  ].join('\n');
  const meshYaml = [
    `# ${STAND_IN_MARK}`,
    'defaultConfig:',
    `  discoveryAddress: ${host}:${ISTIOD_PORT}`,
    '  proxyMetadata:',
    `    ISTIO_META_AUTO_REGISTER_GROUP: ${JSON.stringify(env.VM_APP)}`,
    `    ISTIO_META_CLUSTER_ID: ${JSON.stringify(env.CLUSTER_NAME)}`,
    `    ISTIO_META_NETWORK: ${JSON.stringify(network)}`,
    `    POD_NAMESPACE: ${JSON.stringify(env.VM_NAMESPACE)}`,
    `    SERVICE_ACCOUNT: ${JSON.stringify(env.SERVICE_ACCOUNT)}`,
    '',
  ].join('\n');
  const body = Buffer.from(
    `${STAND_IN_MARK}: a placeholder shaped like the mesh root certificate; it is not a certificate`,
  ).toString('base64');
  const rootCert = [
    `# ${STAND_IN_MARK}: not the mesh root certificate`,
    '-----BEGIN CERTIFICATE-----',
    ...(body.match(/.{1,64}/g) ?? []),
    '-----END CERTIFICATE-----',
    '',
  ].join('\n');
  return { clusterEnv, meshYaml, rootCert, hostsLine: `${nodeIp} ${host}`, istiodHost: host, source: 'lab stand-in' };
}
