// An independent OpenID Connect provider (panva/oidc-provider 9) configured like NHS login, for
// the Rust relying party's interop tests. NOT NHS login.
//
// Like NHS login: private_key_jwt with RS512 only, RS512 ID tokens with NHS claims (nhs_number,
// birthdate, family_name, identity_proofing_level, vot, vtm, jti) in the ID token itself, a
// validated `vtr`, `access_denied`/`ConsentNotGiven` when the patient declines, and NHS App
// single sign-on: `prompt=none` with `asserted_login_identity` (a JWT signed by the "NHS App"
// client whose `code` is the jti of an ID token issued to it), else `login_required` /
// `sso_login_required`.
//
// Configuration (environment): CLIENT_ID, CLIENT_JWK (the relying party's public JWK, JSON),
// REDIRECT_URI. Listens on 127.0.0.1, port 0, and prints one JSON line {"port": N, "issuer": ...}
// to stdout when ready.
//
// Test-only extra routes: POST /test/sso-assertion?nhs_number=N mints what the NHS App appends to
// a deep link (an ID token is "issued" to the NHS App client and an assertion signed with its key);
// POST /test/nhs-app-id-token?nhs_number=N answers the ID token this provider issued to the NHS App
// client for that patient (signed with the provider's own key), which the PCA forwards to a portal
// in NHSD-ID-Token.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import * as jose from 'jose';

const clientId = process.env.CLIENT_ID;
const clientJwk = JSON.parse(process.env.CLIENT_JWK || 'null');
const redirectUri = process.env.REDIRECT_URI;
if (!clientId || !clientJwk || !redirectUri) {
  console.error('CLIENT_ID, CLIENT_JWK and REDIRECT_URI are required');
  process.exit(2);
}

const NHS_APP_CLIENT_ID = 'nhs-app-interop';
const P9_VECTORS = ['P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm'];

const patients = {
  // The same people as the portal's demo data (nhs_portal_pas::demo), so the portal's check of
  // NHS login's date of birth against the PAS record passes for them.
  '9000000009': { family_name: 'Whitfield', birthdate: '1968-04-12', level: 'P9' },
  '9000000017': { family_name: 'Okafor', birthdate: '1985-11-02', level: 'P9' },
  '9000000025': { family_name: 'Brown', birthdate: '2015-06-15', level: 'P9' },
  '9000000033': { family_name: 'Nair', birthdate: '1992-07-19', level: 'P5' },
};
const subFor = (nhs) => `interop-${nhs}`;
const nhsFor = (sub) => (sub.startsWith('interop-') ? sub.slice(8) : undefined);

function votFor(level, vtrParam) {
  let vtr = P9_VECTORS;
  if (vtrParam) vtr = JSON.parse(vtrParam);
  return vtr.find((v) => v.startsWith(level)) ?? `${level}.Cp.Cd`;
}

const opKey = (await jose.generateKeyPair('RS512', { extractable: true, modulusLength: 2048 })).privateKey;
const opJwk = { ...(await jose.exportJWK(opKey)), alg: 'RS512', use: 'sig', kid: 'interop-op-1' };
const nhsAppKeys = await jose.generateKeyPair('RS512', { extractable: true, modulusLength: 2048 });
const nhsAppJwk = { ...(await jose.exportJWK(nhsAppKeys.publicKey)), alg: 'RS512', use: 'sig', kid: 'nhs-app-1' };

const issuedIdTokens = new Map(); // ID-token jti -> account id
const usedAssertionJtis = new Set();

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      id_token_signed_response_alg: 'RS512',
      jwks: { keys: [clientJwk] },
    },
    {
      client_id: NHS_APP_CLIENT_ID,
      redirect_uris: ['https://nhs-app.invalid/callback'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      id_token_signed_response_alg: 'RS512',
      jwks: { keys: [nhsAppJwk] },
    },
  ],
  jwks: { keys: [opJwk] },
  clientAuthMethods: ['private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['RS512'],
    idTokenSigningAlgValues: ['RS512'],
  },
  responseTypes: ['code'],
  routes: { authorization: '/authorize', userinfo: '/userinfo', jwks: '/.well-known/jwks.json', token: '/token' },
  scopes: ['openid', 'profile'],
  claims: {
    openid: ['sub', 'vot', 'vtm', 'jti'],
    profile: ['nhs_number', 'birthdate', 'family_name', 'identity_proofing_level'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['interop-only-not-secret'] },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: false } },
  ttl: { AccessToken: 300, AuthorizationCode: 600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  extraParams: {
    vtr(ctx, value) {
      if (value === undefined) return;
      let parsed;
      try { parsed = JSON.parse(value); } catch { throw new errors.InvalidRequest('vtr is not valid JSON'); }
      if (!Array.isArray(parsed) || parsed.length === 0
        || !parsed.every((v) => typeof v === 'string' && /^P(0|5|9)(\.C[pdkm])+$/.test(v))) {
        throw new errors.InvalidRequest('vtr is not valid');
      }
    },
    async asserted_login_identity(ctx, value) {
      if (value === undefined) return;
      const fail = (msg) => new errors.CustomOIDCProviderError('sso_login_required', msg);
      let payload;
      try {
        ({ payload } = await jose.jwtVerify(value, nhsAppKeys.publicKey, {
          algorithms: ['RS512'], issuer: NHS_APP_CLIENT_ID, maxTokenAge: '60s', requiredClaims: ['code', 'jti', 'iat', 'exp'],
        }));
      } catch (e) {
        throw fail(`the assertion is not valid: ${e.code ?? e.message}`);
      }
      if (usedAssertionJtis.has(payload.jti)) throw fail('the assertion was already used');
      usedAssertionJtis.add(payload.jti);
      const accountId = issuedIdTokens.get(payload.code);
      if (!accountId) throw fail('the assertion refers to no known sign-in');
      const level = patients[nhsFor(accountId)].level;
      ctx.oidc.session.loginAccount({ accountId, acr: votFor(level, ctx.oidc.params.vtr) });
    },
  },
  async loadExistingGrant(ctx) {
    // No consent screen: every sign-in gets a grant for the requested OIDC scopes.
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id, token) {
    const nhs = nhsFor(id);
    const p = nhs && patients[nhs];
    if (!p) return undefined;
    return {
      accountId: id,
      async claims(use) {
        const c = {
          sub: id,
          nhs_number: nhs,
          birthdate: p.birthdate,
          family_name: p.family_name,
          identity_proofing_level: p.level,
        };
        if (use === 'id_token') {
          c.vot = token?.acr ?? votFor(p.level);
          c.vtm = `${issuer}/trustmark/127.0.0.1`;
          c.jti = randomUUID();
          issuedIdTokens.set(c.jti, id);
        }
        return c;
      },
    };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>Interop OP (not NHS login)</title><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`;
  },
});
provider.proxy = false;

const page = (body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>oidc-provider interop OP – not NHS login</title></head><body><h1>oidc-provider interop OP – not NHS login</h1>${body}</body></html>`;

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([^/]+)$/);
    if (m && req.method === 'GET') {
      const details = await provider.interactionDetails(req, res);
      const radios = Object.keys(patients)
        .map((n, i) => `<label><input type="radio" name="nhs_number" value="${n}"${i === 0 ? ' checked' : ''}> ${n}</label>`)
        .join('\n');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page(`<form method="post" action="/interaction/${details.uid}">${radios}<button>Continue</button></form>
<form method="post" action="/interaction/${details.uid}"><button name="decision" value="deny">I do not want to use NHS login</button></form>`));
      return;
    }
    if (m && req.method === 'POST') {
      const details = await provider.interactionDetails(req, res);
      const form = await readForm(req);
      let result;
      if (form.get('decision') === 'deny') {
        result = { error: 'access_denied', error_description: 'ConsentNotGiven' };
      } else {
        const nhs = form.get('nhs_number');
        if (!patients[nhs]) {
          res.statusCode = 400;
          res.end(page('<p>Unknown test patient.</p>'));
          return;
        }
        result = { login: { accountId: subFor(nhs), acr: votFor(patients[nhs].level, details.params.vtr) } };
      }
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname === '/test/sso-assertion' && req.method === 'POST') {
      const nhs = url.searchParams.get('nhs_number');
      if (!patients[nhs]) { res.statusCode = 404; res.end(); return; }
      const idTokenJti = randomUUID();
      issuedIdTokens.set(idTokenJti, subFor(nhs));
      const assertion = await new jose.SignJWT({ code: idTokenJti })
        .setProtectedHeader({ alg: 'RS512', typ: 'JWT', kid: 'nhs-app-1' })
        .setIssuer(NHS_APP_CLIENT_ID).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s')
        .sign(nhsAppKeys.privateKey);
      res.setHeader('content-type', 'text/plain');
      res.end(assertion);
      return;
    }
    if (url.pathname === '/test/nhs-app-id-token' && req.method === 'POST') {
      const nhs = url.searchParams.get('nhs_number');
      const p = patients[nhs];
      if (!p) { res.statusCode = 404; res.end(); return; }
      const jti = randomUUID();
      issuedIdTokens.set(jti, subFor(nhs));
      const idToken = await new jose.SignJWT({
        nhs_number: nhs,
        birthdate: p.birthdate,
        family_name: p.family_name,
        identity_proofing_level: p.level,
        vot: votFor(p.level),
        vtm: `${issuer}/trustmark/127.0.0.1`,
      })
        .setProtectedHeader({ alg: 'RS512', typ: 'JWT', kid: opJwk.kid })
        .setIssuer(issuer).setSubject(subFor(nhs)).setAudience(NHS_APP_CLIENT_ID)
        .setJti(jti).setIssuedAt().setExpirationTime('1h')
        .sign(opKey);
      res.setHeader('content-type', 'text/plain');
      res.end(idToken);
      return;
    }
    callback(req, res);
  } catch (e) {
    res.statusCode = 500;
    res.end(page(`<pre>${String(e.message).replace(/</g, '&lt;')}</pre>`));
  }
});

process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
