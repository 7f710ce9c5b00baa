// IstioOperator manifests: the VM values (vm-cluster.yaml) and the east-west gateway that
// gen-eastwest-gateway.sh prints. The published IstioOperator schema (@kubernetes-models/
// istio) says nothing about `spec`, so beyond the engine's rendering and model check the
// spec is held to the IstioOperator fields (istio/api operator/v1alpha1 and the values the
// charts read), unknown keys rejected where meshbook writes, so a mis-indented meshID or
// clusterName is named instead of silently ignored by istioctl.
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ajvModule, lazy } from '../engine/lazy.ts';
import { MANIFESTS, ManifestError, renderText, type Rendered } from '../engine/manifests.ts';
import type { Untyped } from '../engine/untyped.ts';

// loaded when an IstioOperator is first validated, not when meshbook starts
const models = lazy<typeof import('@kubernetes-models/istio/install.istio.io/v1alpha1')>(
  '@kubernetes-models/istio/install.istio.io/v1alpha1',
);
const obj = { type: 'object' };
const str = { type: 'string' };
const bool = { type: 'boolean' };

// values.global keys of the Istio charts (values_types.proto Global); unknown ones are
// rejected so that e.g. `clusterName` one level too high is caught.
const GLOBAL_KEYS = [
  'arch',
  'autoscalingv2API',
  'caAddress',
  'caName',
  'certSigners',
  'configCluster',
  'configValidation',
  'defaultNodeSelector',
  'defaultPodDisruptionBudget',
  'defaultResources',
  'defaultTolerations',
  'externalIstiod',
  'hub',
  'imagePullPolicy',
  'imagePullSecrets',
  'ipFamilies',
  'ipFamilyPolicy',
  'istioNamespace',
  'istiod',
  'jwtPolicy',
  'logAsJson',
  'logging',
  'meshID',
  'meshNetworks',
  'mountMtlsCerts',
  'multiCluster',
  'nativeNftables',
  'network',
  'networkPolicy',
  'omitSidecarInjectorConfigMap',
  'operatorManageWebhooks',
  'pilotCertProvider',
  'platform',
  'priorityClassName',
  'proxy',
  'proxy_init',
  'remotePilotAddress',
  'resourceScope',
  'sds',
  'sts',
  'tag',
  'trustBundleName',
  'variant',
  'waypoint',
];
const VALUES_KEYS = [
  'base',
  'cni',
  'compatibilityVersion',
  'defaultRevision',
  'experimental',
  'gateways',
  'global',
  'istio_cni',
  'istiodRemote',
  'meshConfig',
  'ownerName',
  'pilot',
  'platform',
  'profile',
  'revision',
  'revisionTags',
  'sidecarInjectorWebhook',
  'telemetry',
  'ztunnel',
];

const SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    profile: str,
    revision: str,
    hub: str,
    tag: {},
    namespace: str,
    installPackagePath: str,
    meshConfig: obj,
    components: obj,
    unvalidatedValues: obj,
    values: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...Object.fromEntries(VALUES_KEYS.map((k) => [k, {}])),
        global: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...Object.fromEntries(GLOBAL_KEYS.map((k) => [k, {}])),
            meshID: str,
            network: str,
            multiCluster: {
              type: 'object',
              additionalProperties: false,
              properties: { enabled: bool, clusterName: str, globalDomainSuffix: str, includeEnvoyFilter: bool },
            },
          },
        },
      },
    },
  },
};
let specValidator: ValidateFunction | undefined;
const specCheck = () =>
  (specValidator ??= new ajvModule.default({ strict: false, allErrors: true }).compile(SPEC_SCHEMA));

const where = (p: string) =>
  p
    .split('/')
    .filter(Boolean)
    .map((x) => (/^\d+$/.test(x) ? `[${x}]` : `.${x}`))
    .join('');

/** Validate one IstioOperator object; throws ManifestError naming file, object and field. */
export function validateIstioOperator(file: string, o: Record<string, Untyped>): void {
  const name = `${o?.kind ?? '(no kind)'} ${o?.metadata?.name ?? '(no name)'}`;
  if (o?.apiVersion !== 'install.istio.io/v1alpha1' || o?.kind !== 'IstioOperator') {
    throw new ManifestError(`${file}: ${name}: expected apiVersion install.istio.io/v1alpha1, kind IstioOperator`);
  }
  try {
    new models.IstioOperator(o as Untyped).validate();
  } catch (e) {
    throw new ManifestError(`${file}: ${name}: ${(e as Error).message.split('\n')[0]}`);
  }
  const extra = Object.keys(o).filter((k) => !['apiVersion', 'kind', 'metadata', 'spec'].includes(k));
  if (extra.length) throw new ManifestError(`${file}: ${name}: ${extra[0]}: unknown field (mis-indented?)`);
  const checkSpec = specCheck();
  if (o.spec !== undefined && !checkSpec(o.spec)) {
    const err =
      checkSpec.errors!.find((x: ErrorObject) => x.keyword === 'additionalProperties') ?? checkSpec.errors![0];
    const field =
      err.keyword === 'additionalProperties'
        ? `spec${where(err.instancePath)}.${(err.params as { additionalProperty: string }).additionalProperty}`
        : `spec${where(err.instancePath)}`;
    throw new ManifestError(
      `${file}: ${name}: ${field}: ` +
        `${err.keyword === 'additionalProperties' ? 'unknown field (mis-indented?)' : err.message}`,
    );
  }
}

/** Fill ${VAR}s as every manifest is filled (engine renderText: in the parsed YAML, model
 *  validation), then hold the spec to the IstioOperator fields meshbook writes. */
export function renderIstioOperatorText(
  file: string,
  template: string,
  vars: Record<string, string | number | undefined>,
): Rendered {
  const r = renderText(file, template, vars);
  if (!r.objects.length) throw new ManifestError(`${file}: no IstioOperator in it`);
  for (const o of r.objects) validateIstioOperator(file, o);
  return r;
}

export function renderIstioOperator(rel: string, vars: Record<string, string | number | undefined>): Rendered {
  return renderIstioOperatorText(`manifests/${rel}`, fs.readFileSync(path.join(MANIFESTS, rel), 'utf8'), vars);
}
