// A real OpenID Provider (panva/oidc-provider) for Tessera's social-login interoperability
// tests, started by tessera-testkit's `OidcProvider`. One confidential client, PKCE (S256)
// required, refresh tokens always issued and rotated, revocation on, the built-in development
// login and consent pages, and test-only counters under /_test/. In memory: nothing survives a
// restart. Never run this anywhere but a test.
//
// Environment:
//   PORT                   listens on 127.0.0.1:PORT (required)
//   ISSUER                 default http://127.0.0.1:PORT
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (comma-separated)   the one client
//   ACCESS_TOKEN_TTL       seconds, default 60
//   ID_TOKEN_SIGNING_ALG   RS256 (default) or EdDSA
//   EMAIL_IN_ID_TOKEN      "1": the ID token carries the scope claims (email, name) like
//                          Google's; otherwise (the default, OpenID Connect Core 5.4) they are
//                          at userinfo only, since the code flow issues an access token.
//
// Test-only endpoints:
//   GET  /_test/stats   {"code_grants", "refresh_grants", "refresh_grants_refused",
//                        "revocations", "reused_refresh_tokens", "refresh_tokens_presented"}
//   POST /_test/reset   zeroes the counters (tokens seen before still count as reused)

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

const env = process.env;

function required(name) {
  const value = env[name];
  if (!value) {
    console.error(`provider.mjs: set ${name}`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const issuer = env.ISSUER || `http://127.0.0.1:${port}`;
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const redirectUris = required('REDIRECT_URIS').split(',').map((uri) => uri.trim()).filter(Boolean);
const accessTokenTtl = Number(env.ACCESS_TOKEN_TTL || 60);
const idTokenAlg = env.ID_TOKEN_SIGNING_ALG || 'RS256';
const emailInIdToken = env.EMAIL_IN_ID_TOKEN === '1';

const DAY = 24 * 60 * 60;

// Fresh signing keys per run, so the provider's dev-keys warning never shows and every test
// fetches the JWKS it verifies with.
function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed25519 = crypto.generateKeyPairSync('ed25519').privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rsa-${crypto.randomUUID()}`, alg: 'RS256', use: 'sig' },
    { ...ed25519.export({ format: 'jwk' }), kid: `ed-${crypto.randomUUID()}`, alg: 'EdDSA', use: 'sig' },
  ];
}

// Any login name signs in (the password is ignored). Login names starting with "unverified"
// get email_verified=false; a login name without "@" gets an address at example.test.
function account(accountId) {
  return {
    accountId,
    async claims() {
      return {
        sub: accountId,
        email: accountId.includes('@') ? accountId : `${accountId}@example.test`,
        email_verified: !accountId.startsWith('unverified'),
        name: accountId,
      };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // The oauth2 crate's default; client_secret_post is accepted as well, since oidc-provider
    // takes either secret method from a client registered with one of them.
    token_endpoint_auth_method: 'client_secret_basic',
    // Web clients may use http redirect URIs on loopback with the code flow (only the implicit
    // flow is refused there), so Tessera's http://127.0.0.1:PORT callback registers as is.
    application_type: 'web',
    id_token_signed_response_alg: idTokenAlg,
  }],
  jwks: { keys: signingKeys() },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  findAccount: async (_ctx, accountId) => account(accountId),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  conformIdTokenClaims: !emailInIdToken,
  // oidc-provider requires PKCE only of public clients by default; Tessera always sends it, so
  // requiring it here catches a flow that forgets it. Version 9 knows S256 only.
  pkce: { required: () => true },
  // A refresh token for every code grant, whether or not offline_access survived consent
  // (oidc-provider drops it without prompt=consent), and one that outlives the login session.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  // Each refresh consumes the presented token and returns a new one. Presenting a consumed one
  // again is refused (invalid_grant) and revokes the whole grant, newest tokens included.
  rotateRefreshToken: true,
  // Revoking any token ends its whole grant, as when a person withdraws the app's access at the
  // provider: the tests revoke the access token they can see to make the stored refresh token die.
  revokeGrantPolicy: () => true,
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: DAY,
    Grant: 30 * DAY,
    RefreshToken: 30 * DAY,
  },
  features: {
    devInteractions: { enabled: true },
    revocation: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
  },
});

const stats = newStats();
// Hashes of every refresh token presented since start; a reset keeps them, so presenting a
// token spent before the reset still counts as reuse.
const presented = new Set();

function newStats() {
  return {
    code_grants: 0,
    refresh_grants: 0,
    refresh_grants_refused: 0,
    revocations: 0,
    reused_refresh_tokens: 0,
    refresh_tokens_presented: [],
  };
}

function sha256(value) {
  return crypto.createHash('sha256').update(value).digest('hex');
}

provider.on('grant.success', (ctx) => {
  const grantType = ctx.oidc.params?.grant_type;
  if (grantType === 'authorization_code') stats.code_grants += 1;
  if (grantType === 'refresh_token') stats.refresh_grants += 1;
});

provider.on('grant.error', (ctx) => {
  if (ctx.oidc?.params?.grant_type === 'refresh_token') stats.refresh_grants_refused += 1;
});

// Before the provider's own routes: the test endpoints, and after each token or revocation
// request, what it presented (the provider has parsed the body by then).
provider.use(async (ctx, next) => {
  if (ctx.path === '/_test/stats' && ctx.method === 'GET') {
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/_test/reset' && ctx.method === 'POST') {
    Object.assign(stats, newStats());
    ctx.status = 204;
    return;
  }
  await next();
  const route = ctx.oidc?.route;
  if (route === 'token') recordRefreshToken(ctx.oidc.params);
  if (route === 'revocation' && ctx.status === 200) stats.revocations += 1;
});

function recordRefreshToken(params) {
  if (params?.grant_type !== 'refresh_token' || !params.refresh_token) return;
  const hash = sha256(params.refresh_token);
  stats.refresh_tokens_presented.push(hash);
  if (presented.has(hash)) stats.reused_refresh_tokens += 1;
  presented.add(hash);
}

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
server.on('error', (err) => {
  // The harness looks for "cannot listen" to retry on another port.
  console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
