// Article "刷新浏览器，看到每个评论旁边显示星级评分": signed in as jason, every page shows
// reviews v2 (black stars). `meshbook verify traffic` with jason's session cookie expects
// 100 % v2: a single v1 or v3 page fails the step (zero-weight rule), and -n auto (73
// requests for a 100/0/0 split) catches a route that misses 5 % of the time 97.6 % of the
// time. Classification and the reasoning are in traffic.ts.
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { JASON_ONLY_V2, verdictLines, verifyArgv } from './traffic.ts';
import { gatewayOf } from './15-login-jason.ts';

const step: Step = {
  id: '16-verify-jason',
  title: 'Signed in as jason: 100 % reviews v2 (black stars)',
  article: '以 jason 身份登录, 刷新浏览器 (jason sees v2)',
  notes: [
    'statistical check instead of refreshing a browser: 73 ' +
      'requests (-n auto for 100/0/0), any page from v1 or v3 fails it',
  ],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(
      verifyArgv(
        gatewayOf(ctx.facts),
        JASON_ONLY_V2,
        (ctx.facts.jasonCookie as string | undefined) ?? 'session=<from step 15-login-jason>',
      ),
    ),
    interpret: (out) => verdictLines(out.stdout, out.code, 'signed in as jason'),
  }),
};
export default step;
