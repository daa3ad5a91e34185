// A real OAuth2 / OpenID Connect server for tests (oidc-provider), standing in for Entra ID.
// Run with plain node (oidc-provider is ESM-only): `node test/support/oidc-provider.mjs`, settings
// in OIDC_TEST_CONFIG (JSON). Prints one line `READY <issuer>` once it listens on 127.0.0.1.
//  - client credentials (the mail daemon), tokens introspectable by the IMAP/SMTP servers'
//    client; the token's `username` claim names the mailbox (what Dovecot's passdb checks);
//  - authorization code + PKCE with the built-in login form (any password; the login name picks
//    the account, `roles` from the config) and consent granted at once;
//  - POST /test/revoke-all: every access token issued so far is destroyed (refused by introspection).
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '{}');
const port = cfg.port;
const issuer = `http://127.0.0.1:${port}`;
const OUTLOOK = 'https://outlook.office365.com/.default';
const issued = [];

const clients = [];
if (cfg.mail) {
  clients.push({
    client_id: cfg.mail.clientId,
    client_secret: cfg.mail.clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    scope: OUTLOOK,
  });
}
if (cfg.resourceServer) {
  clients.push({
    client_id: cfg.resourceServer.clientId,
    client_secret: cfg.resourceServer.clientSecret,
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  });
}
if (cfg.web) {
  clients.push({
    client_id: cfg.web.clientId,
    client_secret: cfg.web.clientSecret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [cfg.web.redirectUri],
    token_endpoint_auth_method: 'client_secret_post',
  });
}
const accounts = cfg.accounts ?? {};

const provider = new Provider(issuer, {
  clients,
  scopes: ['openid', 'profile', 'email', OUTLOOK],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'roles', 'groups'], email: ['email'] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: {
    ClientCredentials: cfg.tokenTtl ?? 600,
    AccessToken: 600,
    IdToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async (_ctx, client) => client.clientId === cfg.resourceServer?.clientId },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
  },
  routes: cfg.tenant ? { token: `/${cfg.tenant}/oauth2/v2.0/token` } : {},
  cookies: { keys: ['test-cookie-key-0123456789'] },
  async findAccount(_ctx, id) {
    const a = accounts[id] ?? { roles: [] };
    return {
      accountId: id,
      claims: () => ({
        sub: id,
        name: a.name ?? id,
        preferred_username: a.username ?? id,
        email: a.username ?? id,
        roles: a.roles ?? [],
        groups: a.groups ?? [],
      }),
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['name', 'preferred_username', 'roles', 'groups', 'email']);
    await grant.save();
    return grant;
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'ClientCredentials') return { username: cfg.mail?.mailbox };
    return undefined;
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.on('client_credentials.saved', (t) => issued.push(t.jti));
provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc-provider server_error: ${err.stack}\n`));

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/test/revoke-all') {
    for (const jti of issued.splice(0)) {
      const t = await provider.ClientCredentials.find(jti);
      if (t) await t.destroy();
    }
    res.end('ok');
    return;
  }
  if (req.method === 'GET' && req.url === '/test/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ clientCredentialsIssued: stats.cc, introspections: stats.introspections }));
    return;
  }
  callback(req, res);
});
const stats = { cc: 0, introspections: 0 };
provider.on('client_credentials.saved', () => stats.cc++);
provider.on('introspection.error', () => {});
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'introspection') stats.introspections++;
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${issuer}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
