// Article "以 jason 身份登录" (sign in as jason, in the browser). productpage turns its login
// session into the `end-user: jason` header on its calls to reviews (it does not pass on
// an end-user header it receives), so the route of step 14 is exercised by signing in:
// POST /login through the gateway, as the page's form does, and keep the session cookie
// for step 16. The demo user has no password; the cookie is not a secret.
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { sessionCookie } from './traffic.ts';

export const gatewayOf = (facts: Record<string, unknown>) =>
  (facts.gatewayUrl as string | undefined) ?? '<GATEWAY_URL from step 10-ingress>';

const step: Step = {
  id: '15-login-jason',
  title: 'Sign in to productpage as jason (session cookie)',
  article: '以 jason 身份登录 (sign in as jason)',
  notes: [
    'productpage sets end-user from its login session, not from an incoming header: a request carrying ' +
      "`end-user: jason` to the gateway is routed like anyone's; signing in is what the article's browser does",
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => {
    const gw = gatewayOf(ctx.facts);
    return {
      probe: probeCmd([
        'curl',
        '-sS',
        '--max-time',
        '10',
        '-o',
        '/dev/null',
        '-D',
        '-',
        '-H',
        `Referer: http://${gw}/productpage`,
        '--data-urlencode',
        'username=jason',
        '--data-urlencode',
        'passwd=jason',
        `http://${gw}/login`,
      ]),
      interpret: (out) => {
        if (out.code !== 0)
          return { ok: false, lines: [`error: POST http://${gw}/login failed (curl exit ${out.code})`] };
        const status = /^HTTP\/\S+\s+(\d+)/m.exec(out.stdout)?.[1];
        const cookie = sessionCookie(out.stdout);
        if (!cookie)
          return {
            ok: false,
            lines: [`error: POST /login answered ${status ?? 'no status'} without a session cookie`],
          };
        ctx.facts.jasonCookie = cookie;
        return {
          ok: true,
          lines: [`signed in as jason (HTTP ${status}); session cookie ${cookie.split('=')[0]} kept for step 16`],
        };
      },
    };
  },
};
export default step;
