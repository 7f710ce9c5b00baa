// Article "确保配置文件没有问题": `istioctl analyze` must say "No validation issues found";
// any message (Error, Warning or Info) fails the step and is listed.
import type { Step } from '../engine/types.ts';
import { istioctl, probeCmd } from '../engine/local.ts';
import { analyzeResult } from './analyze.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '09-analyze',
  title: 'istioctl analyze finds no issues',
  article: '确保配置文件没有问题 (istioctl analyze)',
  notes: ['-n default stated explicitly: the article relies on the current namespace'],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(istioctl(ctx.env, 'analyze', '-n', NAMESPACE)),
    interpret: (out) => analyzeResult(`${out.stdout}\n${out.stderr}`, out.code),
  }),
};
export default step;
