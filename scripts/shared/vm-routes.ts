// Routes from a VM to the cluster's pod and Service CIDRs via a node (article 2's
// "配置虚机加入k8s网络"; article 4 builds on it). The article first adds two /18s (`ip r
// add 10.233.0.0/18 via ...`), finds the pod network still unreachable and ends with one
// /16: the CIDRs are an input (VM_ROUTES). Fixed against the article: `ip r add` fails
// with "File exists" on a second run; `ip route replace` sets the same route
// idempotently, after a check. A CIDR that holds this SSH session's client address is
// refused (the session's replies would go to the node). The route lives until reboot, as
// in the article (persisting it is distro-specific).
import type { VmAction } from '../engine/types.ts';
import { mutate, probe } from '../engine/sh.ts';
// the node and the CIDRs are istio-vm's inputs and facts (its 10-node-ip finds the node)
export { nodeIp, NODE_IP_PLACEHOLDER, routes } from '../istio-vm/common.ts';

export const ROUTE_NOTES = [
  '`ip r add` fails with "File exists" on a re-run: `ip route replace` after a check',
  "the article's two /18s left the pod network unreachable and " +
    'one /16 worked: VM_ROUTES lists the CIDRs (e.g. 10.233.0.0/16)',
  "like the article's, the route is not persistent across a reboot; re-run the runbook after one",
];

// one `ip route show` for every CIDR (ip prints a /32 without its length, and a prefix may
// have several routes, e.g. other metrics: any of them via the node will do)
export const routeCheck = (cidrs: string[], node: string) => probe`
  node=${node}
  rc=0
  all=$(ip -4 route show)
  mapfile -t table <<< "$all"
  for c in ${cidrs}; do
    cur=""; m=""; k=$c; [ "$c" != 0.0.0.0/0 ] || k=default
    for r in "\${table[@]}"; do
      # an indented line (a multipath route's nexthop) belongs to the route above it
      case "$r" in [[:space:]]*) if [ -n "$m" ]; then cur+=" $r"; fi; continue ;; esac
      m=""; case "$r " in "$k "* | "\${k%/32} "*) m=1; cur="\${cur:+$cur | }$r" ;; esac
    done
    case " $cur " in
      *" via $node "*) echo "route $c via $node: present" ;;
      *) echo "route $c: \${cur:-absent}; wants via $node"; rc=10 ;;
    esac
  done
  exit "$rc"
`;

/** Check, set and verify the routes of `cidrs` via `node`. */
export function routesVia(cidrs: string[], node: string): VmAction {
  return {
    check: routeCheck(cidrs, node),
    apply: mutate`
    node=${node}
    ip2n() { local IFS=.; set -- $1; n=$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 )); }
    client=\${SSH_CLIENT:-}; client=\${client%% *}
    for c in ${cidrs}; do
      bits=\${c#*/}; mask=$(( bits == 0 ? 0 : (0xffffffff << (32 - bits)) & 0xffffffff ))
      if [[ $client =~ ^[0-9]+(\.[0-9]+){3}$ ]] && ip2n "$client" && a=$n && ip2n "\${c%/*}" && (( (a & mask) == n )); then
        echo "error: $c holds $client, the address this SSH session comes from: routing it via the node would cut the session; narrow VM_ROUTES" >&2
        exit 1
      fi
    done
    for c in ${cidrs}; do
      ip route replace "$c" via "$node"
      echo "route $c via $node: set"
    done
  `,
    verify: routeCheck(cidrs, node),
  };
}
