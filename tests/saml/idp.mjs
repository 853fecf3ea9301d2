// idp.mjs — a real SAML 2.0 Identity Provider (samlify) for login-broker integration tests.
//
//   node idp.mjs --port P --acs-url URL --sp-entity-id ID [--audience AUD]
//        [--key FILE] [--cert FILE] [--sign both|response|assertion|none] [--entity-id ID]
//        [--sp-metadata-url URL [--encrypt aes256-cbc|aes128-cbc|aes128-gcm]]
//
// - Listens on 127.0.0.1:P only (P = 0 picks a free port).
// - --key/--cert: the IdP's signing key (PEM) and certificate; default
//   ../fixtures/saml-idp-key.pem and ../fixtures/saml-idp-cert.pem next to this script.
// - --entity-id defaults to http://127.0.0.1:P/metadata; --audience to --sp-entity-id.
// - --sign: which elements of the SAML Response are signed (RSA-SHA256, SHA-256 digest,
//   enveloped signature + exclusive c14n, placed right after the element's <Issuer>):
//   both (default) = Response and Assertion, response = Response only,
//   assertion = Assertion only, none = unsigned.
// - --sp-metadata-url: the service provider is known from its metadata (read at the first
//   AuthnRequest), and its AuthnRequests must be signed (HTTP-Redirect SigAlg and
//   Signature over the query string as received), checked with the signing certificate
//   that metadata publishes; an unsigned or wrongly signed one is answered 400.
//   Single logout then works both ways, by the HTTP-Redirect binding, every message signed
//   and every signature checked (see /slo below).
// - --encrypt: the assertion is encrypted (RSA-OAEP key transport, this content algorithm)
//   to the encryption certificate of that metadata, then the Response is signed.
// - When listening, prints exactly one JSON line on stdout:
//   {"entityId":...,"ssoUrl":"http://127.0.0.1:P/sso","metadataUrl":"http://127.0.0.1:P/metadata","port":P}
//   Everything else (request log, samlify warnings) goes to stderr. Runs until SIGTERM/SIGINT.
//
// Routes:
//   GET  /metadata      IdP EntityDescriptor (signing cert, SingleSignOnService HTTP-Redirect at /sso)
//   GET  /sso           AuthnRequest by HTTP-Redirect (SAMLRequest, RelayState); answers a login page
//   POST /sso/login     username/password (password must be "password"); answers an auto-submitting
//                       HTML form that POSTs SAMLResponse (+ RelayState) to --acs-url
//   GET  /last-request  JSON of the last AuthnRequest received at /sso (404 if none)
//   GET  /slo           (with --sp-metadata-url) the SP's LogoutRequest, answered with a signed
//                       LogoutResponse by redirect; or the SP's LogoutResponse to ours
//   GET  /slo/start?nameId=N&sessionIndex=S  IdP-initiated logout: a signed LogoutRequest
//                       to the SP, by redirect
//   GET  /last-logout   JSON of the last logout message received at /slo (404 if none)
//   GET  /last-response last SAML Response XML sent (404 if none)

import { createServer } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as validator from '@authenio/samlify-xmllint-wasm';
// Default import: samlify is CommonJS and Node's named-export detection misses some of its
// exports (SamlLib).
import samlify from 'samlify';

// stdout carries only the one ready line: samlify and the schema validator may print
// with console.log/info/debug/warn.
console.log = console.info = console.debug = console.warn = console.error;

const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const NAMEID_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const ATTRNAME_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
const AC_PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const GROUPS = ['engineers', 'staff'];
const LIFETIME_MS = 5 * 60 * 1000;
const SKEW_MS = 60 * 1000;

function fail(message) {
  process.stderr.write(`idp.mjs: ${message}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'acs-url': { type: 'string' },
      'sp-entity-id': { type: 'string' },
      audience: { type: 'string' },
      key: { type: 'string' },
      cert: { type: 'string' },
      sign: { type: 'string', default: 'both' },
      'entity-id': { type: 'string' },
      'sp-metadata-url': { type: 'string' },
      encrypt: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  fail(e.message);
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${args.port}`);
if (!args['acs-url']) fail('--acs-url is required');
if (!args['sp-entity-id']) fail('--sp-entity-id is required');
if (!['both', 'response', 'assertion', 'none'].includes(args.sign)) fail(`bad --sign ${args.sign}`);
const CONTENT_ENCRYPTION = {
  'aes256-cbc': 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'aes128-cbc': 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'aes128-gcm': 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
};
if (args.encrypt !== undefined && !CONTENT_ENCRYPTION[args.encrypt]) fail(`bad --encrypt ${args.encrypt}`);
if (args.encrypt !== undefined && (args['sp-metadata-url'] === undefined || args.sign === 'none')) {
  fail('--encrypt needs --sp-metadata-url (the certificate to encrypt to) and a signature');
}
const acsUrl = args['acs-url'];
const spEntityId = args['sp-entity-id'];
const audience = args.audience ?? spEntityId;
const fixture = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const privateKey = readFileSync(args.key ?? fixture('saml-idp-key.pem'), 'utf8');
const signingCert = readFileSync(args.cert ?? fixture('saml-idp-cert.pem'), 'utf8');

// Real XSD validation (libxml2 compiled to wasm) of the inbound AuthnRequest against the
// SAML 2.0 protocol schema. The IdP's parsing is not what the tests exercise, but a
// schema-invalid AuthnRequest from the SP is a bug worth a 400.
samlify.setSchemaValidator(validator);

// The login response template: every field the SP's checks look at. Values are filled by
// samlify's replaceTagsByValue (which XML-escapes them) in customTagReplacement below.
// Element order follows the SAML 2.0 schema; samlify inserts each <ds:Signature> right
// after the element's <saml:Issuer>.
const groupValues = GROUPS.map((_, i) =>
  `<saml:AttributeValue xsi:type="xs:string">{Group${i}}</saml:AttributeValue>`).join('');
const LOGIN_RESPONSE_TEMPLATE =
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
  + ' ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">'
  + '<saml:Issuer>{Issuer}</saml:Issuer>'
  + '<samlp:Status><samlp:StatusCode Value="{StatusCode}"/></samlp:Status>'
  + '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
  + ' ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">'
  + '<saml:Issuer>{Issuer}</saml:Issuer>'
  + '<saml:Subject>'
  + '<saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>'
  + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
  + '<saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Recipient}" InResponseTo="{InResponseTo}"/>'
  + '</saml:SubjectConfirmation>'
  + '</saml:Subject>'
  + '<saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}">'
  + '<saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction>'
  + '</saml:Conditions>'
  + '<saml:AuthnStatement AuthnInstant="{AuthnInstant}" SessionIndex="{SessionIndex}">'
  + '<saml:AuthnContext><saml:AuthnContextClassRef>{AuthnContextClassRef}</saml:AuthnContextClassRef></saml:AuthnContext>'
  + '</saml:AuthnStatement>'
  + '<saml:AttributeStatement>'
  + `<saml:Attribute Name="email" NameFormat="${ATTRNAME_BASIC}"><saml:AttributeValue xsi:type="xs:string">{Email}</saml:AttributeValue></saml:Attribute>`
  + `<saml:Attribute Name="displayName" NameFormat="${ATTRNAME_BASIC}"><saml:AttributeValue xsi:type="xs:string">{DisplayName}</saml:AttributeValue></saml:Attribute>`
  + `<saml:Attribute Name="groups" NameFormat="${ATTRNAME_BASIC}">${groupValues}</saml:Attribute>`
  + '</saml:AttributeStatement>'
  + '</saml:Assertion>'
  + '</samlp:Response>';

// Fields of the AuthnRequest remembered for GET /last-request (samlify's Extractor).
const attr = (key, name) => ({ key, localPath: ['AuthnRequest'], attributes: [name] });
const AUTHN_REQUEST_FIELDS = [
  attr('id', 'ID'),
  attr('version', 'Version'),
  attr('issueInstant', 'IssueInstant'),
  attr('destination', 'Destination'),
  attr('forceAuthn', 'ForceAuthn'),
  attr('isPassive', 'IsPassive'),
  attr('assertionConsumerServiceUrl', 'AssertionConsumerServiceURL'),
  attr('assertionConsumerServiceIndex', 'AssertionConsumerServiceIndex'),
  attr('protocolBinding', 'ProtocolBinding'),
  { key: 'issuer', localPath: ['AuthnRequest', 'Issuer'], attributes: [] },
  { key: 'nameIdPolicyFormat', localPath: ['AuthnRequest', 'NameIDPolicy'], attributes: ['Format'] },
  { key: 'nameIdPolicyAllowCreate', localPath: ['AuthnRequest', 'NameIDPolicy'], attributes: ['AllowCreate'] },
  { key: 'requestedAuthnContextComparison', localPath: ['AuthnRequest', 'RequestedAuthnContext'], attributes: ['Comparison'] },
  { key: 'requestedAuthnContextClassRefs', localPath: [['AuthnRequest', 'RequestedAuthnContext', 'AuthnContextClassRef']], attributes: [] },
];

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}
const text = (res, status, body) => send(res, status, 'text/plain; charset=utf-8', `${body}\n`);
const html = (res, status, title, body) => send(res, status, 'text/html; charset=utf-8',
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n`
  + `<body><main>\n${body}\n</main></body></html>\n`);

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function loginPage(key, { username = '', error = '' } = {}) {
  return '<h1>Sign in to the test SAML IdP</h1>\n'
    + (error ? `<p role="alert" id="error">${escapeHtml(error)}</p>\n` : '')
    + '<form id="login" method="post" action="/sso/login">\n'
    + `<input type="hidden" name="key" value="${escapeHtml(key)}">\n`
    + '<p><label for="username">Username</label>\n'
    + `<input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" required></p>\n`
    + '<p><label for="password">Password</label>\n'
    + '<input type="password" id="password" name="password" autocomplete="current-password" required></p>\n'
    + '<p><button type="submit">Sign in</button></p>\n'
    + '</form>';
}

function continuePage(samlResponse, relayState) {
  return '<h1>Continue to the application</h1>\n'
    + `<form id="saml-response" method="post" action="${escapeHtml(acsUrl)}">\n`
    + `<input type="hidden" name="SAMLResponse" value="${escapeHtml(samlResponse)}">\n`
    + (relayState != null ? `<input type="hidden" name="RelayState" value="${escapeHtml(relayState)}">\n` : '')
    + '<p><button type="submit">Continue</button></p>\n'
    + '</form>\n'
    + '<script>document.forms[0].submit();</script>';
}

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const actualPort = server.address().port;
  const base = `http://127.0.0.1:${actualPort}`;
  const entityId = args['entity-id'] ?? `${base}/metadata`;
  const ssoUrl = `${base}/sso`;

  const spFromMetadata = args['sp-metadata-url'] !== undefined;
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    signingCert,
    privateKey,
    wantAuthnRequestsSigned: spFromMetadata,
    wantLogoutRequestSigned: spFromMetadata,
    wantLogoutResponseSigned: spFromMetadata,
    singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: `${base}/slo` }],
    isAssertionEncrypted: args.encrypt !== undefined,
    dataEncryptionAlgorithm: CONTENT_ENCRYPTION[args.encrypt],
    keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    nameIDFormat: [NAMEID_EMAIL, NAMEID_UNSPECIFIED],
    singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: ssoUrl }],
    loginResponseTemplate: { context: LOGIN_RESPONSE_TEMPLATE, attributes: [] },
  });
  // samlify signs the Assertion when the SP wants assertions signed, and the Response when
  // the SP wants messages signed or does not want assertions signed. --sign none skips
  // samlify's signing step altogether (see buildResponse).
  const wantMessageSigned = args.sign === 'both' || args.sign === 'response';
  let sp = spFromMetadata ? null : samlify.ServiceProvider({
    entityID: spEntityId,
    authnRequestsSigned: false,
    wantAssertionsSigned: args.sign === 'both' || args.sign === 'assertion',
    wantMessageSigned,
    assertionConsumerService: [{ Binding: BINDING_POST, Location: acsUrl }],
  });
  // The service provider as its metadata describes it, read once.
  async function serviceProvider() {
    if (sp) return sp;
    const answer = await fetch(args['sp-metadata-url']);
    if (!answer.ok) throw new Error(`the SP metadata answered ${answer.status}`);
    // The IdP signs what it sends the SP: its LogoutRequests and LogoutResponses.
    sp = samlify.ServiceProvider({
      metadata: await answer.text(), wantMessageSigned, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
    });
    return sp;
  }
  const metadataXml = idp.getMetadata();

  // What a redirect's signature covers: the parameters as received, in the binding's order.
  function signedParameters(url, field) {
    const raw = url.search.slice(1).split('&');
    return [field, 'RelayState', 'SigAlg']
      .map((name) => raw.find((pair) => pair.startsWith(`${name}=`)))
      .filter((pair) => pair !== undefined)
      .join('&');
  }

  let lastLogout = null;
  async function handleSlo(res, url) {
    if (!spFromMetadata) return text(res, 404, 'single logout needs --sp-metadata-url');
    const query = Object.fromEntries(url.searchParams);
    const field = query.SAMLRequest ? 'SAMLRequest' : 'SAMLResponse';
    const request = { query, octetString: signedParameters(url, field) };
    try {
      if (field === 'SAMLRequest') {
        const parsed = await idp.parseLogoutRequest(await serviceProvider(), 'redirect', request);
        lastLogout = { type: 'LogoutRequest', sigAlg: query.SigAlg ?? null, extract: parsed.extract };
        const { context } = idp.createLogoutResponse(await serviceProvider(), parsed, 'redirect', query.RelayState ?? '');
        return send(res, 302, 'text/plain; charset=utf-8', '', { Location: context });
      }
      const parsed = await idp.parseLogoutResponse(await serviceProvider(), 'redirect', request);
      lastLogout = { type: 'LogoutResponse', sigAlg: query.SigAlg ?? null, extract: parsed.extract };
      return html(res, 200, 'Signed out', '<h1>Signed out at the test SAML IdP</h1>');
    } catch (e) {
      return text(res, 400, `invalid logout message: ${e?.message ?? e}`);
    }
  }

  async function startLogout(res, url) {
    if (!spFromMetadata) return text(res, 404, 'single logout needs --sp-metadata-url');
    const user = { logoutNameID: url.searchParams.get('nameId'), sessionIndex: url.searchParams.get('sessionIndex') };
    const { id, context } = idp.createLogoutRequest(await serviceProvider(), 'redirect', user, 'idp-relay');
    return send(res, 302, 'text/plain; charset=utf-8', '', { Location: context, 'X-Logout-Request-Id': id });
  }

  const pending = new Map(); // opaque key -> remembered AuthnRequest
  let lastRequest = null;
  let lastResponseXml = null;

  async function handleSso(res, url) {
    const query = Object.fromEntries(url.searchParams);
    if (!query.SAMLRequest) return text(res, 400, 'missing SAMLRequest');
    const octetString = signedParameters(url, 'SAMLRequest');
    let parsed;
    try {
      parsed = await idp.parseLoginRequest(await serviceProvider(), 'redirect', { query, octetString });
    } catch (e) {
      // samlify reports schema and XML errors as ERR_INVALID_XML; the validator has
      // logged the details to stderr.
      const hint = e?.message === 'ERR_INVALID_XML' ? ' (not well-formed or not schema-valid; details on the IdP\'s stderr)' : '';
      return text(res, 400, `invalid AuthnRequest: ${e?.message ?? e}${hint}`);
    }
    const x = samlify.Extractor.extract(parsed.samlContent, AUTHN_REQUEST_FIELDS);
    const f = (v) => (v === undefined ? null : v);
    const request = {
      id: f(x.id), version: f(x.version), issueInstant: f(x.issueInstant), destination: f(x.destination),
      forceAuthn: f(x.forceAuthn), isPassive: f(x.isPassive),
      nameIdPolicyFormat: f(x.nameIdPolicyFormat), nameIdPolicyAllowCreate: f(x.nameIdPolicyAllowCreate),
      requestedAuthnContextComparison: f(x.requestedAuthnContextComparison),
      requestedAuthnContextClassRefs: x.requestedAuthnContextClassRefs ?? [],
      issuer: f(x.issuer),
      assertionConsumerServiceUrl: f(x.assertionConsumerServiceUrl),
      assertionConsumerServiceIndex: f(x.assertionConsumerServiceIndex),
      protocolBinding: f(x.protocolBinding),
      relayState: query.RelayState ?? null,
      sigAlg: query.SigAlg ?? null,
      signature: query.Signature ?? null,
      xml: parsed.samlContent,
    };
    lastRequest = request;
    if (!request.id) return text(res, 400, 'AuthnRequest has no ID');
    if (request.issuer !== spEntityId) {
      return text(res, 400, `AuthnRequest Issuer ${JSON.stringify(request.issuer)} is not the SP entity id ${JSON.stringify(spEntityId)}`);
    }
    if (request.assertionConsumerServiceUrl != null && request.assertionConsumerServiceUrl !== acsUrl) {
      return text(res, 400, `AuthnRequest AssertionConsumerServiceURL ${JSON.stringify(request.assertionConsumerServiceUrl)} is not ${JSON.stringify(acsUrl)}`);
    }
    if (request.protocolBinding != null && request.protocolBinding !== BINDING_POST) {
      return text(res, 400, `AuthnRequest ProtocolBinding ${JSON.stringify(request.protocolBinding)} is not supported (only ${BINDING_POST})`);
    }
    const key = randomBytes(16).toString('hex');
    pending.set(key, request);
    if (pending.size > 1000) pending.delete(pending.keys().next().value);
    return html(res, 200, 'Sign in', loginPage(key));
  }

  async function buildResponse(request, username) {
    const now = Date.now();
    const iso = (ms) => new Date(ms).toISOString();
    const hasAt = username.includes('@');
    const values = {
      ID: `_${randomUUID()}`,
      AssertionID: `_${randomUUID()}`,
      IssueInstant: iso(now),
      Destination: acsUrl,
      InResponseTo: request.id,
      Issuer: entityId,
      StatusCode: STATUS_SUCCESS,
      NameIDFormat: hasAt ? NAMEID_EMAIL : NAMEID_UNSPECIFIED,
      NameID: username,
      NotOnOrAfter: iso(now + LIFETIME_MS),
      Recipient: acsUrl,
      NotBefore: iso(now - SKEW_MS),
      Audience: audience,
      AuthnInstant: iso(now),
      SessionIndex: `_sess_${randomBytes(16).toString('hex')}`,
      AuthnContextClassRef: request.requestedAuthnContextClassRefs[0] ?? AC_PPT,
      Email: hasAt ? username : `${username}@example.com`,
      DisplayName: `User ${username}`,
      ...Object.fromEntries(GROUPS.map((g, i) => [`Group${i}`, g])),
    };
    const fill = (template) => ({ id: values.ID, context: samlify.SamlLib.replaceTagsByValue(template, values) });
    if (args.sign === 'none') return fill(LOGIN_RESPONSE_TEMPLATE).context;
    const { context } = await idp.createLoginResponse(await serviceProvider(), { extract: { request: { id: request.id } } }, 'post',
      { email: username }, { customTagReplacement: fill, relayState: request.relayState ?? undefined, encryptThenSign: true });
    return Buffer.from(context, 'base64').toString('utf8');
  }

  async function handleLogin(req, res) {
    const form = new URLSearchParams(await readBody(req));
    const request = pending.get(form.get('key') ?? '');
    if (!request) return text(res, 400, 'unknown or missing login key (GET /sso first)');
    const username = form.get('username') ?? '';
    if (!username || form.get('password') !== 'password') {
      return html(res, 401, 'Sign in', loginPage(form.get('key'), { username, error: 'Wrong password' }));
    }
    const xml = await buildResponse(request, username);
    lastResponseXml = xml;
    return html(res, 200, 'Continue', continuePage(Buffer.from(xml, 'utf8').toString('base64'), request.relayState));
  }

  async function route(req, res) {
    const url = new URL(req.url, base);
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /metadata':
        return send(res, 200, 'application/samlmetadata+xml', metadataXml);
      case 'GET /sso':
        return handleSso(res, url);
      case 'POST /sso/login':
        return handleLogin(req, res);
      case 'GET /slo':
        return handleSlo(res, url);
      case 'GET /slo/start':
        return startLogout(res, url);
      case 'GET /last-logout':
        if (!lastLogout) return text(res, 404, 'no logout message yet');
        return send(res, 200, 'application/json', `${JSON.stringify(lastLogout)}\n`);
      case 'GET /last-request':
        if (!lastRequest) return text(res, 404, 'no AuthnRequest yet');
        return send(res, 200, 'application/json', `${JSON.stringify(lastRequest)}\n`);
      case 'GET /last-response':
        if (!lastResponseXml) return text(res, 404, 'no SAML Response yet');
        return send(res, 200, 'text/xml; charset=utf-8', lastResponseXml);
      default:
        return text(res, 404, 'not found');
    }
  }

  server.on('request', (req, res) => {
    res.on('finish', () => {
      process.stderr.write(`idp: ${req.method} ${req.url.slice(0, 120)} -> ${res.statusCode}\n`);
    });
    route(req, res).catch((e) => {
      process.stderr.write(`idp: error: ${e?.stack ?? e}\n`);
      if (!res.headersSent) text(res, 500, `internal error: ${e?.message ?? e}`);
      else res.destroy();
    });
  });

  process.stdout.write(`${JSON.stringify({ entityId, ssoUrl, metadataUrl: `${base}/metadata`, port: actualPort })}\n`);
});
server.on('error', (e) => fail(`listen: ${e.message}`));

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
