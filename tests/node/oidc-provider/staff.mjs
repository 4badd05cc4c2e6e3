// A stand-in for a trust's staff identity provider (panva/oidc-provider 9), for the staff
// worklist's OpenID Connect sign-in tests. NOT a real identity provider.
//
// Like a trust's provider (Entra ID, Keycloak): RS256 ID tokens carrying a `groups` claim, the
// code flow with PKCE required, a confidential client authenticating with `client_secret_basic`
// (or `private_key_jwt` when CLIENT_JWK is given), and one-use codes.
//
// Configuration (environment): CLIENT_ID, REDIRECT_URI, and CLIENT_SECRET or CLIENT_JWK (the
// portal's public JWK, JSON). Listens on 127.0.0.1, port 0, and prints one JSON line
// {"port": N, "issuer": ...} to stdout when ready; exits when stdin closes.
//
// People: `sam` (in the group `booking-team`) and `alex` (only in `estates`). The sign-in page
// at /interaction/{uid} takes the form field `user`.
//
// Test-only extra route: POST /test/forge-next-id-token?iss=URL makes the next token response's
// ID token claim that issuer (re-signed with this provider's own key), as a token from another
// issuer would arrive.

import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const clientId = process.env.CLIENT_ID;
const redirectUri = process.env.REDIRECT_URI;
const clientSecret = process.env.CLIENT_SECRET;
const clientJwk = JSON.parse(process.env.CLIENT_JWK || 'null');
if (!clientId || !redirectUri || !(clientSecret || clientJwk)) {
  console.error('CLIENT_ID, REDIRECT_URI and CLIENT_SECRET or CLIENT_JWK are required');
  process.exit(2);
}

const people = {
  sam: { name: 'Sam Booking', groups: ['booking-team', 'all-staff'] },
  alex: { name: 'Alex Estates', groups: ['estates', 'all-staff'] },
};

const opKey = (await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 })).privateKey;
const opJwk = { ...(await jose.exportJWK(opKey)), alg: 'RS256', use: 'sig', kid: 'staff-idp-1' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const client = {
  client_id: clientId,
  redirect_uris: [redirectUri],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  id_token_signed_response_alg: 'RS256',
};
if (clientJwk) {
  Object.assign(client, {
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS256',
    jwks: { keys: [clientJwk] },
  });
} else {
  Object.assign(client, { client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic' });
}

const provider = new Provider(issuer, {
  clients: [client],
  jwks: { keys: [opJwk] },
  clientAuthMethods: ['client_secret_basic', 'private_key_jwt'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  routes: { authorization: '/authorize', jwks: '/jwks', token: '/token' },
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['name', 'groups'] },
  conformIdTokenClaims: false,
  cookies: { keys: ['staff-stand-in-only-not-secret'] },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: false } },
  ttl: { AccessToken: 300, AuthorizationCode: 600, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
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
  async findAccount(ctx, id) {
    const p = people[id];
    if (!p) return undefined;
    return { accountId: id, async claims() { return { sub: id, name: p.name, groups: p.groups }; } };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>Staff IdP stand-in</title><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`;
  },
});
provider.proxy = false;

const page = (body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Staff identity provider stand-in – not a real provider</title></head><body><h1>Staff identity provider stand-in – not a real provider</h1>${body}</body></html>`;

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

let forgeIssuer = null;

/// Rewrites the ID token of the token response `res` is about to send.
function forgeOnEnd(res, iss) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    (async () => {
      const body = JSON.parse(Buffer.from(chunk).toString('utf8'));
      if (body.id_token) {
        const claims = jose.decodeJwt(body.id_token);
        body.id_token = await new jose.SignJWT({ ...claims, iss })
          .setProtectedHeader({ alg: 'RS256', kid: opJwk.kid })
          .sign(opKey);
      }
      const out = JSON.stringify(body);
      res.setHeader('content-length', Buffer.byteLength(out));
      end(out, ...rest.filter((r) => typeof r === 'function'));
    })();
    return res;
  };
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([^/]+)$/);
    if (m && req.method === 'GET') {
      const details = await provider.interactionDetails(req, res);
      const radios = Object.keys(people)
        .map((u, i) => `<label><input type="radio" name="user" value="${u}"${i === 0 ? ' checked' : ''}> ${u}</label>`)
        .join('\n');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page(`<form method="post" action="/interaction/${details.uid}">${radios}<button>Sign in</button></form>`));
      return;
    }
    if (m && req.method === 'POST') {
      await provider.interactionDetails(req, res);
      const form = await readForm(req);
      const user = form.get('user');
      if (!people[user]) {
        res.statusCode = 400;
        res.end(page('<p>Unknown person.</p>'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: user } }, { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname === '/test/forge-next-id-token' && req.method === 'POST') {
      forgeIssuer = url.searchParams.get('iss');
      res.statusCode = 204;
      res.end();
      return;
    }
    if (url.pathname === '/token' && forgeIssuer) {
      forgeOnEnd(res, forgeIssuer);
      forgeIssuer = null;
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
