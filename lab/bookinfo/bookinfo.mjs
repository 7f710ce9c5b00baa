#!/usr/bin/env node
// The lab's own Bookinfo (article 5), written for the lab: the four services of Istio's
// sample with its names, port, call graph and visible behaviour, in plain Node (node:http
// only). Not Istio's code: only what the runbook and the verifier look at.
//
//   SERVICE=productpage  GET /productpage: a page titled "Simple Bookstore App" with the
//                        book's details and the reviews of whichever reviews version
//                        answered; POST /login (form field username) sets a session
//                        cookie, GET /logout clears it; signed in, the call to reviews
//                        carries `end-user: <name>` (as the sample's productpage does);
//                        GET /api/v1/products[/0[/reviews|/ratings]], GET /static/...
//   SERVICE=details      GET /details/0
//   SERVICE=reviews      GET /reviews/0; VERSION v1: no stars; v2: black stars; v3: red
//                        stars (v2 and v3 ask ratings)
//   SERVICE=ratings      GET /ratings/0
//
// Every service: GET /health. Calls go to the sample's service names on port 9080
// (details, reviews, ratings), so in a pod they pass through the lab's sidecar.
//
// Environment: SERVICE, VERSION (v1), PORT (9080), SERVICES_DOMAIN (appended to the names
// when set), BACKEND_TIMEOUT_MS (3000). One log line per request on stdout.
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';

const SERVICE = process.env.SERVICE || 'productpage';
const VERSION = process.env.VERSION || 'v1';
const PORT = Number(process.env.PORT || 9080);
const DOMAIN = process.env.SERVICES_DOMAIN ? `.${process.env.SERVICES_DOMAIN}` : '';
const TIMEOUT_MS = Number(process.env.BACKEND_TIMEOUT_MS || 3000);
const FORWARD = ['end-user', 'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled'];
const KNOWN = { productpage: ['v1'], details: ['v1'], ratings: ['v1'], reviews: ['v1', 'v2', 'v3'] };
const SECRET = randomBytes(32);

if (!KNOWN[SERVICE]?.includes(VERSION)) {
  process.stderr.write(`bookinfo: SERVICE=${SERVICE} VERSION=${VERSION} is not one the lab Bookinfo has\n`);
  process.exit(2);
}

const BOOK = {
  id: 0,
  title: 'The Comedy of Errors',
  descriptionHtml:
    '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: ' +
    "The Comedy of Errors is one of William Shakespeare's early plays.",
};
const DETAILS = {
  id: 0,
  author: 'William Shakespeare',
  year: 1595,
  type: 'paperback',
  pages: 200,
  publisher: 'PublisherA',
  language: 'English',
  'ISBN-10': '1234567890',
  'ISBN-13': '123-1234567890',
};
const RATINGS = { Reviewer1: 5, Reviewer2: 4 };
const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  {
    reviewer: 'Reviewer2',
    text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays.',
  },
];
const CSS = 'body{font-family:sans-serif;margin:2em}.stars{letter-spacing:2px}\n';

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** GET a JSON document from another Bookinfo service; resolves { ok, status, body }. */
function call(service, path, incoming, extra = {}) {
  return new Promise((resolve) => {
    const headers = { ...extra };
    for (const h of FORWARD) if (incoming.headers[h] && !(h in headers)) headers[h] = incoming.headers[h];
    const req = http.get({ host: `${service}${DOMAIN}`, port: 9080, path, headers, timeout: TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ ok: res.statusCode === 200 && body !== undefined, status: res.statusCode, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, status: 503, error: e.message }));
  });
}

function send(res, status, body, type = 'application/json', headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// ---- the session (productpage): a signed cookie holding the user name -------------------------

const sign = (v) => createHmac('sha256', SECRET).update(v).digest('base64url');
const sessionCookie = (user) => {
  const v = Buffer.from(user).toString('base64url');
  return `session=${v}.${sign(v)}; Path=/; HttpOnly`;
};
function sessionUser(req) {
  const m = /(?:^|;\s*)session=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '');
  if (!m || sign(m[1]) !== m[2]) return undefined;
  return Buffer.from(m[1], 'base64url').toString();
}

function readForm(req) {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      if (text.length < 8192) text += c;
    });
    req.on('end', () => resolve(new URLSearchParams(text)));
  });
}

// ---- the page ----------------------------------------------------------------------------------

function starsHtml(rating) {
  if (!rating) return '';
  if (rating.error) return `<p class="ratings-error"><i>${esc(rating.error)}</i></p>`;
  const full = '&#9733;'.repeat(rating.stars) + '&#9734;'.repeat(5 - rating.stars);
  return `<p class="stars"><font color="${esc(rating.color)}">${full}</font></p>`;
}

function reviewsHtml(r) {
  if (!r.ok)
    return (
      '<h4 class="reviews-error">Error fetching product reviews!</h4>' +
      '<p>Sorry, product reviews are currently unavailable for this book.</p>'
    );
  const version = esc(r.body.version ?? 'unknown');
  const items = r.body.reviews
    .map((x) => `<blockquote><p>${esc(x.text)}</p><small>${esc(x.reviewer)}</small>${starsHtml(x.rating)}</blockquote>`)
    .join('\n');
  return `<div class="reviews reviews-${version}" data-version="${version}">\n<p>reviews ${version} (${esc(r.body.podname ?? '')})</p>\n${items}\n</div>`;
}

function page(user, details, reviews) {
  const who = user
    ? `<p class="user">signed in as <b>${esc(user)}</b> <a href="logout">sign out</a></p>`
    : '<form method="post" action="login"><input name="username" placeholder="User Name">' +
      '<input name="passwd" type="password" placeholder="Password"><button type="submit">Sign in</button></form>';
  const d = details.ok
    ? `<dl class="details">${Object.entries(details.body)
        .filter(([k]) => k !== 'id')
        .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
        .join('')}</dl>`
    : '<h4 class="details-error">Error fetching product details!</h4>';
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Simple Bookstore App</title>
<link rel="stylesheet" href="static/css/style.css">
</head>
<body>
<nav><a href="productpage">BookInfo Sample</a> (meshbook lab)</nav>
${who}
<h3>${esc(BOOK.title)}</h3>
<p>${BOOK.descriptionHtml}</p>
<h4>Book Details</h4>
${d}
<h4>Book Reviews</h4>
${reviewsHtml(reviews)}
</body>
</html>
`;
}

async function productpage(req, res, url) {
  const p = url.pathname;
  if (p === '/' || p === '/index.html')
    return send(
      res,
      200,
      '<!DOCTYPE html><html><head><title>Simple Bookstore App</title></head>' +
        '<body><a href="productpage">productpage</a></body></html>\n',
      'text/html; charset=utf-8',
    );
  if (p === '/productpage') {
    const user = sessionUser(req);
    const extra = user ? { 'end-user': user } : {};
    const [details, reviews] = await Promise.all([
      call('details', '/details/0', req),
      call('reviews', '/reviews/0', req, extra),
    ]);
    return send(res, 200, page(user, details, reviews), 'text/html; charset=utf-8');
  }
  if (p === '/login' && req.method === 'POST') {
    const user = ((await readForm(req)).get('username') ?? '').trim().slice(0, 64);
    if (!user) return send(res, 302, '', 'text/plain', { location: 'productpage' });
    return send(res, 302, '', 'text/plain', { location: 'productpage', 'set-cookie': sessionCookie(user) });
  }
  if (p === '/logout')
    return send(res, 302, '', 'text/plain', { location: 'productpage', 'set-cookie': 'session=; Path=/; Max-Age=0' });
  if (p === '/api/v1/products')
    return send(res, 200, [{ id: BOOK.id, title: BOOK.title, descriptionHtml: BOOK.descriptionHtml }]);
  const api = /^\/api\/v1\/products\/(\d+)(?:\/(reviews|ratings))?$/.exec(p);
  if (api) {
    if (!api[2]) return send(res, 200, DETAILS);
    const r = await call(api[2], `/${api[2]}/${api[1]}`, req);
    return send(res, r.ok ? 200 : r.status, r.ok ? r.body : { error: `${api[2]} unavailable` });
  }
  if (p === '/static/css/style.css') return send(res, 200, CSS, 'text/css');
  return send(res, 404, { error: `not found: ${p}` });
}

async function reviews(req, res, url) {
  if (!/^\/reviews\/\d+$/.test(url.pathname)) return send(res, 404, { error: 'not found: GET /reviews/{id}' });
  let ratings;
  if (VERSION !== 'v1') {
    const r = await call('ratings', '/ratings/0', req);
    ratings = r.ok ? r.body.ratings : undefined;
  }
  const color = VERSION === 'v2' ? 'black' : 'red';
  const list = REVIEWS.map((x) => ({
    ...x,
    ...(VERSION === 'v1'
      ? {}
      : {
          rating: ratings
            ? { stars: ratings[x.reviewer], color }
            : { error: 'Ratings service is currently unavailable' },
        }),
  }));
  return send(res, 200, {
    id: '0',
    podname: process.env.HOSTNAME ?? '',
    clustername: 'meshbook-lab',
    version: VERSION,
    reviews: list,
  });
}

const handlers = {
  productpage,
  reviews,
  details: (req, res, url) =>
    /^\/details\/\d+$/.test(url.pathname) ? send(res, 200, DETAILS) : send(res, 404, { error: 'not found' }),
  ratings: (req, res, url) =>
    /^\/ratings\/\d+$/.test(url.pathname)
      ? send(res, 200, { id: 0, ratings: RATINGS })
      : send(res, 404, { error: 'not found' }),
};

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname === '/health') send(res, 200, { status: `${SERVICE} is healthy` });
    else if (req.method !== 'GET' && req.method !== 'HEAD' && !(SERVICE === 'productpage' && url.pathname === '/login'))
      send(res, 405, { error: 'method not allowed' });
    else await handlers[SERVICE](req, res, url);
  } catch (e) {
    if (!res.headersSent) send(res, 500, { error: String(e?.message ?? e) });
  }
  process.stdout.write(
    `${new Date().toISOString()} ${SERVICE}-${VERSION} ${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - started}ms${req.headers['end-user'] ? ` end-user=${req.headers['end-user']}` : ''}\n`,
  );
});
server.keepAliveTimeout = 65000;
server.on('error', (e) => {
  process.stderr.write(`bookinfo: cannot listen on port ${PORT}: ${e.message}\n`);
  process.exit(2);
});
server.listen(PORT, '0.0.0.0', () =>
  process.stdout.write(`bookinfo ${SERVICE} ${VERSION} listening on port ${PORT}\n`),
);
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  });
