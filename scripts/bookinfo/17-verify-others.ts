// Article "以其他用户身份登录，刷新浏览器。发现星级评分消失了": anyone else (here: not signed
// in) gets reviews v1, no stars. `meshbook verify traffic` without the cookie expects
// 100 % v1, with the same rules as step 16.
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { OTHERS_V1, verdictLines, verifyArgv } from './traffic.ts';
import { gatewayOf } from './15-login-jason.ts';

const step: Step = {
  id: '17-verify-others',
  title: 'Everyone else: 100 % reviews v1 (no stars)',
  article: '以其他用户身份登录 (others see v1)',
  notes: ['same statistics as step 16, without the session cookie'],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(verifyArgv(gatewayOf(ctx.facts), OTHERS_V1)),
    interpret: (out) => verdictLines(out.stdout, out.code, 'not signed in'),
  }),
};
export default step;
