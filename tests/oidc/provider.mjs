// provider.mjs — a real OpenID Connect provider (oidc-provider) for login-broker tests.
//
//   node provider.mjs --port P --client-id ID --client-secret SECRET --redirect-uri URI
//        [--redirect-uri URI2 ...] [--post-logout-redirect-uri URI]
//        [--token-endpoint-auth-method client_secret_basic|client_secret_post|private_key_jwt]
//        [--client-certificate FILE] [--client-auth-methods M1,M2]
//        [--issuer-path /realms/acme] [--issuer-trailing-slash]
//        [--record-token-requests FILE]
//
// - Listens on 127.0.0.1:P only; issuer is http://127.0.0.1:P[issuer-path] and every
//   route (discovery, auth, token, userinfo, jwks, end_session, interaction pages) lives
//   under that path.
// - --issuer-trailing-slash: the issuer becomes http://127.0.0.1:P[issuer-path]/ (with a
//   trailing /, as LemonLDAP::NG and Auth0 publish it). That exact string is discovery's
//   "issuer", the ID tokens' "iss" and the RFC 9207 "iss" authorization-response parameter;
//   the routes do not move (discovery stays at http://127.0.0.1:P[issuer-path]/.well-known/
//   openid-configuration, OIDC Discovery §4: drop the trailing / before appending) and the
//   endpoint URLs have no double slash (http://127.0.0.1:P/auth, not ...P//auth). A client
//   that simply appends to the issuer (...P//.well-known/...) gets a 404.
// - --record-token-requests FILE: every request that reaches the token endpoint (any
//   method, before client authentication or any other check) appends one JSON line to FILE:
//   {"method":"POST","path":"/realms/acme/token","headers":{"content-length":"123",...}}
//   path is the path as received (no query string); headers are the request headers as
//   received, names lower-cased (a repeated header's values joined with ", "), so
//   "content-length" / "transfer-encoding" show how the body was framed. The line is written
//   (synchronously) before the request is answered. The body is not recorded.
// - --token-endpoint-auth-method private_key_jwt --client-certificate FILE: the client has
//   no secret and authenticates with a JWT signed by the key of the PEM certificate in
//   FILE, registered as its jwks (kid: the key's RFC 7638 thumbprint, as HAS sends it).
//   oidc-provider checks the assertion itself (signature, iss, sub, aud, exp, jti once).
// - --client-auth-methods: the token endpoint's client authentication methods, as discovery
//   lists them in token_endpoint_auth_methods_supported (default: oidc-provider's five).
// - One confidential client (code flow, PKCE S256 required, RS256 ID tokens). Plain
//   http://127.0.0.1 redirect URIs are fine: oidc-provider only forbids http for implicit.
// - Fresh RS256 + ES256 signing keys are generated at every start.
// - Interaction pages are our own (no external fonts, stable selectors):
//     login page   : form#login  input[name=username]  input[name=password]  button[type=submit]
//                    any non-empty username/password is accepted; username X becomes sub X.
//     consent page : form#consent  button[type=submit] "Continue"  — consent is NOT auto-granted;
//                    the user clicks once per (browser session, client); the grant is then
//                    remembered in memory for that user until the provider exits.
// - Claims for user X: sub X, email X@example.com, email_verified true,
//   name "X Example" (capitalised), preferred_username X. They are in the ID token AND at
//   userinfo (conformIdTokenClaims=false).
// - Cookies are named op_* so they cannot clash with the broker's cookies (browsers share
//   cookies between ports of the same host).
// - Prints exactly one line {"issuer":"..."} on stdout when ready; all logs go to stderr.
//   Exits when stdin reaches EOF or on SIGTERM/SIGINT.

import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Provider } from 'oidc-provider';

// oidc-provider prints notices with console.info; keep stdout for the one JSON line.
console.log = console.info = console.debug = console.error;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'token-endpoint-auth-method': { type: 'string', default: 'client_secret_basic' },
    'issuer-path': { type: 'string', default: '' },
    'issuer-trailing-slash': { type: 'boolean', default: false },
    'record-token-requests': { type: 'string' },
    'client-certificate': { type: 'string' },
    'client-auth-methods': { type: 'string' },
  },
});
for (const req of ['port', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!args[req]) { console.error(`missing --${req}`); process.exit(2); }
}
if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(args['token-endpoint-auth-method'])) {
  console.error('--token-endpoint-auth-method must be client_secret_basic, client_secret_post or private_key_jwt');
  process.exit(2);
}
const keyAuth = args['token-endpoint-auth-method'] === 'private_key_jwt';
if (keyAuth !== Boolean(args['client-certificate'])) {
  console.error('--client-certificate goes with --token-endpoint-auth-method private_key_jwt, and only with it');
  process.exit(2);
}
// An RSA key's RFC 7638 thumbprint: SHA-256 of its required members in lexical order.
function clientJwks(file) {
  const jwk = createPublicKey(readFileSync(file)).export({ format: 'jwk' });
  const kid = createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest('base64url');
  return { keys: [{ ...jwk, kid }] };
}
const clientCredentials = keyAuth
  ? { jwks: clientJwks(args['client-certificate']) }
  : { client_secret: args['client-secret'] };
const port = Number(args.port);
const prefix = args['issuer-path'].replace(/\/+$/, '');
if (prefix && !prefix.startsWith('/')) { console.error('--issuer-path must start with /'); process.exit(2); }
// Routes always hang off `prefix` (never ends with /); --issuer-trailing-slash only changes the
// issuer string. oidc-provider builds endpoint URLs from the mount path, not the issuer string.
const issuer = `http://127.0.0.1:${port}${prefix}${args['issuer-trailing-slash'] ? '/' : ''}`;

function signingKey(type, alg, opts) {
  const { privateKey } = generateKeyPairSync(type, opts);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>${body}</body></html>`;
const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    ...clientCredentials,
    redirect_uris: args['redirect-uri'],
    post_logout_redirect_uris: args['post-logout-redirect-uri'] ?? [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: args['token-endpoint-auth-method'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: {
    keys: [
      signingKey('rsa', 'RS256', { modulusLength: 2048 }),
      signingKey('ec', 'ES256', { namedCurve: 'P-256' }),
    ],
  },
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  ...(args['client-auth-methods'] ? { clientAuthMethods: args['client-auth-methods'].split(',') } : {}),
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  responseTypes: ['code'],
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `<h1>Sign out from the test provider?</h1>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
          <button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => { ctx.body = page('Signed out', '<h1>You have been signed out.</h1>'); },
    },
  },
  interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({
      sub,
      email: `${sub}@example.com`,
      email_verified: true,
      name: `${capitalise(sub)} Example`,
      preferred_username: sub,
    }),
  }),
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><pre id="error">${esc(JSON.stringify(out, null, 2))}</pre>`);
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// Koa middleware added with provider.use() runs before oidc-provider's own routes, in the
// order added. ctx.path is the path below the issuer path (see handle()).
const tokenPath = provider.pathFor('token', { mountPath: '' });

// --record-token-requests: one JSON line per request to the token endpoint. Only headers are
// read; the body stream is left untouched for the middleware below and oidc-provider.
if (args['record-token-requests']) {
  const file = args['record-token-requests'];
  provider.use(async (ctx, next) => {
    if (ctx.path === tokenPath) {
      const headers = {};
      const raw = ctx.req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        headers[name] = name in headers ? `${headers[name]}, ${raw[i + 1]}` : raw[i + 1];
      }
      const path = (ctx.req.originalUrl ?? ctx.req.url).split('?')[0];
      appendFileSync(file, `${JSON.stringify({ method: ctx.method, path, headers })}\n`);
    }
    await next();
  });
}

// oidc-provider accepts client_secret_basic and client_secret_post interchangeably; enforce
// the registered method at /token*, so a broker that uses the wrong one fails. The body is
// read here and handed over as req.body, which oidc-provider uses when the stream is consumed.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path.startsWith('/token')) {
    const raw = await readBody(ctx.req);
    ctx.req.body = raw;
    const usedBasic = /^basic /i.test(ctx.get('authorization'));
    const usedPost = new URLSearchParams(raw).has('client_secret');
    const method = args['token-endpoint-auth-method'];
    if ((method === 'client_secret_basic' && usedPost) || (method === 'client_secret_post' && usedBasic)) {
      ctx.status = 401;
      ctx.set({ 'content-type': 'application/json', 'cache-control': 'no-store' });
      ctx.body = JSON.stringify({ error: 'invalid_client', error_description: `client must authenticate with ${method}` });
      return;
    }
  }
  await next();
});


function loginPage(uid, error = '') {
  return page('Sign in', `<h1>Sign in to the test provider</h1>${error ? `<p id="error">${esc(error)}</p>` : ''}
    <form id="login" method="post" action="${prefix}/interaction/${uid}/login" autocomplete="off">
      <label>Username <input type="text" id="username" name="username" required autofocus></label>
      <label>Password <input type="password" id="password" name="password" required></label>
      <button type="submit">Sign in</button>
    </form>`);
}

function consentPage(uid, clientId, scope) {
  return page('Authorize', `<h1>Authorize ${esc(clientId)}</h1><p>Requested scopes: ${esc(scope)}</p>
    <form id="consent" method="post" action="${prefix}/interaction/${uid}/confirm">
      <button type="submit" name="consent" value="yes">Continue</button>
    </form>`);
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}
const readForm = async (req) => new URLSearchParams(await readBody(req));

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

// Our interaction routes: GET .../interaction/:uid, POST .../login, POST .../confirm.
async function interaction(req, res, rest) {
  const [, uid, action] = rest.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/) ?? [];
  if (!uid) return false;
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') send(res, 200, loginPage(uid));
    else send(res, 200, consentPage(uid, params.client_id, params.scope));
  } else if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const username = (form.get('username') ?? '').trim();
    if (!username || !form.get('password')) send(res, 400, loginPage(uid, 'Username and password are required'));
    else await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
  } else if (req.method === 'POST' && action === 'confirm') {
    await readForm(req);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  } else {
    send(res, 405, page('Error', 'method not allowed'));
  }
  return true;
}

const callback = provider.callback();
async function handle(req, res) {
  const path = req.url.split('?')[0];
  if (prefix && path !== prefix && !path.startsWith(`${prefix}/`)) return send(res, 404, page('Not found', 'not found'));
  const rest = req.url.slice(prefix.length) || '/';
  try {
    if (rest.startsWith('/interaction/') && await interaction(req, res, rest.split('?')[0])) return;
  } catch (err) {
    console.error('interaction error:', err.message);
    return send(res, 400, page('Error', `<h1>Error</h1><pre id="error">${esc(err.message)}</pre>`));
  }
  // Mounted under the issuer path: oidc-provider derives its mount path from originalUrl.
  req.originalUrl = req.url;
  req.url = rest;
  return callback(req, res);
}

const server = createServer((req, res) => handle(req, res).catch((err) => {
  console.error('request error:', err);
  if (!res.headersSent) send(res, 500, page('Error', 'internal error'));
}));

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
  console.error(`provider.mjs: issuer ${issuer}, client ${args['client-id']} (${args['token-endpoint-auth-method']})`);
});
server.on('error', (err) => { console.error('listen error:', err.message); process.exit(1); });

const stop = (why) => { console.error(`provider.mjs: exiting (${why})`); process.exit(0); };
process.stdin.on('end', () => stop('stdin EOF'));
process.stdin.on('error', () => stop('stdin error'));
process.stdin.resume();
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
