/** A parsed YAML or JSON document (a Kubernetes object, kubectl's output) whose shape is checked at run
 *  time: by a schema (Ajv, kubernetes-models) or by the code that reads it. The one place meshbook opts
 *  out of static types; every use is named, so `grep Untyped` finds them all. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type Untyped = any;
