// Symptoms seen in the articles and reported in istio/istio issues, each with its cause and fix. The
// runner matches a failed command's output against them and prints the first match.
export interface KnownFailure {
  symptom: RegExp;
  cause: string;
  fix: string;
}

export const KNOWN_FAILURES: KnownFailure[] = [
  // article 1: ASM VM proxy
  {
    symptom: /Cannot connect to the Docker daemon/i,
    cause: 'the Docker daemon is not running',
    fix: 'systemctl enable --now docker, then rerun',
  },
  {
    symptom: /pull access denied|manifest (for .* )?unknown|not found: manifest unknown/i,
    cause: 'the proxy image does not exist for this REGION/ASM_VERSION',
    fix: 'check ASM_VERSION against the ASM console (e.g. v1.6.9) and REGION against the 20 published regions',
  },
  {
    symptom: /problem with installed package (podman|runc)|conflicts with.*(podman|runc)|containerd\.io.*conflict/i,
    cause: 'CentOS 8 ships podman/runc, which conflict with containerd.io',
    fix: 'allow --allowerasing (rebuild --yes) or remove podman and runc first',
  },
  {
    symptom: /Failed to download metadata for repo|Cannot find a valid baseurl|mirrorlist\.centos\.org/i,
    cause: 'CentOS 8 is end of life and its mirrors moved to vault.centos.org',
    fix: 'repoint /etc/yum.repos.d to vault.centos.org (the install-docker step does this) and rerun',
  },
  {
    symptom: /unknown distro ID=/,
    cause: 'the VM runs a distro meshbook has no profile for',
    fix: 'use an alinux-2.1903, centos-8 or ubuntu-20.04 VM, or declare a compatible `distro:` in the inventory',
  },
  {
    symptom: /sudo: a password is required|sudo: .*not allowed/i,
    cause: 'the SSH user cannot become root without a password',
    fix: 'use user: root in the inventory or grant passwordless sudo',
  },
  {
    symptom: /Permission denied \(publickey/i,
    cause: 'the VM does not accept the SSH key',
    fix: "set identity: in the inventory to a key in the VM user's authorized_keys",
  },
  {
    symptom: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i,
    cause: "the VM's host key differs from the one recorded in meshbook's known_hosts",
    fix: 'verify the VM is the one you expect, then remove its line from SSH_KNOWN_HOSTS (.meshbook/known_hosts)',
  },
  {
    symptom: /Read-only file system|No space left on device/i,
    cause: 'the VM cannot write the file (read-only or full filesystem)',
    fix: 'free space or remount read-write, then rerun (nothing was half-written)',
  },
  // article 2: Istio VM onboarding
  {
    symptom: /dial tcp [^ ]*:15012: connect: connection refused/,
    cause: 'the VM cannot reach istiod: no LoadBalancer for the east-west gateway',
    fix: 'use the east-west gateway NodePort for 15012 in mesh.yaml discoveryAddress and CA_ADDR (or --ingressIP)',
  },
  {
    symptom: /Could not auto-detect IP for istiod/,
    cause: 'istioctl found no address for the east-west gateway',
    fix: 'pass --ingressIP to `istioctl x workload entry configure`',
  },
  {
    symptom: /client claims to be in cluster "[^"]*"/,
    cause: "--clusterID does not match the mesh's clusterName",
    fix: 'rerun `istioctl x workload entry configure` with --clusterID equal to the IstioOperator clusterName',
  },
  {
    symptom: /Token has expired|istio-token: no such file|failed to read token/i,
    cause: "the VM's istio-token is missing or expired (default lifetime 1 h)",
    fix: 'regenerate the files with `istioctl x workload entry configure` (--tokenDuration) and copy istio-token again',
  },
  {
    symptom: /healthcheck failure threshold hit/,
    cause: 'the app is not listening on the WorkloadGroup probe port',
    fix: 'start the app or fix spec.probe in the WorkloadGroup',
  },
  {
    symptom: /no WorkloadEntry|workloadentries[^\n]*not found|No resources found in \S+ namespace[^\n]*workloadentr/i,
    cause: 'no WorkloadEntry was registered',
    fix: 'apply the WorkloadGroup and configure the VM with --autoregister',
  },
  {
    symptom: /i\/o timeout|context deadline exceeded.*svc\.cluster\.local|hangs after DNS/i,
    cause: 'the VM resolves the Service but has no route to the pod/Service CIDR',
    fix: 'add a route to the pod and Service CIDRs via a node (the article needed a /16 where two /18s failed)',
  },
  // generic: after every specific symptom (istiod's `dial tcp ...:15012: connect: connection refused` is not SSH)
  {
    symptom:
      /ssh: connect to host .*(Connection timed out|Connection refused|No route to host)|Could not resolve hostname/i,
    cause: 'the VM is not reachable over SSH',
    fix: 'check host/port in the inventory, that sshd runs, and security groups/firewalls',
  },
];

export function explain(text: string): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.symptom.test(text));
}
