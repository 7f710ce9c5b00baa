// Runbook bookinfo: article 5, "Istio on ASK with Bookinfo". Purely cluster-side: istioctl
// and kubectl on this machine against KUBE_CONTEXT, the sample files of an unpacked Istio
// release (ISTIO_DIR). One file per article step.
import path from 'node:path';
import type { Runbook } from '../engine/types.ts';
import * as v from '../engine/validate.ts';
import release from './01-istio-release.ts';
import install from './02-install-istio.ts';
import label from './03-label-namespace.ts';
import deploy from './04-deploy-bookinfo.ts';
import waitPods from './05-wait-pods.ts';
import pods from './06-pods-2-of-2.ts';
import title from './07-productpage-title.ts';
import gateway from './08-gateway.ts';
import analyze from './09-analyze.ts';
import ingress from './10-ingress.ts';
import addons from './11-addons.ts';
import destinationRules from './12-destination-rules.ts';
import allV1 from './13-route-all-v1.ts';
import jason from './14-route-jason.ts';
import login from './15-login-jason.ts';
import verifyJason from './16-verify-jason.ts';
import verifyOthers from './17-verify-others.ts';

const runbook: Runbook = {
  name: 'bookinfo',
  title: 'Istio (demo profile) and Bookinfo, with user-based routing',
  article: 'trying Istio and Bookinfo on Alibaba Cloud Serverless Kubernetes (ASK)',
  summary:
    'istioctl install, injection label, Bookinfo 2/2, title check, gateway, istioctl analyze, ingress ' +
    'address, addons, destination rules, all-v1 and jason routing verified with and without the session.',
  inputs: [
    {
      name: 'ISTIO_DIR',
      description: 'the unpacked Istio release (has samples/ and bin/istioctl); its samples are validated when used',
      required: true,
      example: '/opt/istio-1.22.3',
      check: (val) =>
        !path.isAbsolute(val)
          ? `${JSON.stringify(val)} is not an absolute path; set it to the unpacked release, e.g. /opt/istio-1.22.3`
          : /[\r\n]/.test(val)
            ? 'contains a line break; use a plain path'
            : undefined,
    },
    {
      name: 'INGRESS_NODE_IP',
      description:
        'a node IP for the ingress NodePorts when the gateway has ' +
        "no LoadBalancer address (default: a Bookinfo pod's node)",
      example: '192.168.0.250',
      check: v.ipv4,
    },
  ],
  steps: [
    release,
    install,
    label,
    deploy,
    waitPods,
    pods,
    title,
    gateway,
    analyze,
    ingress,
    addons,
    destinationRules,
    allV1,
    jason,
    login,
    verifyJason,
    verifyOthers,
  ],
};
export default runbook;
