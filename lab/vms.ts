// meshbook lab: the lab's TypeScript API in one place for the tests and the bench (lab/README.md);
// the code lives in modules by concern: state, preflight, switch, exec, vm, keys, up, down, status.
export { LabError, resolveConfig, type LabConfig, type LabOptions, type LabUpOptions, type VmSpec } from './config.ts';
export { preflight } from './preflight.ts';
export { readState, type CreatedDir, type LabState, type VmState } from './state.ts';
export { attachToSwitch, detachFromSwitch, type AttachOptions } from './switch.ts';
export { sshArgv, vmExec, wsExec } from './exec.ts';
export { labUp, newGeneration, type LabUpResult } from './up.ts';
export { labDown, type LabDownResult } from './down.ts';
export { labStatus, type LabStatus, type SshdState, type VmStatus } from './status.ts';
export { createNetns, deleteNetns, killNetnsProcesses, netnsInode } from './sys.ts';
