// A real OpenID Provider (npm oidc-provider) on loopback, for the sign-in tests.
//
//   node provider.mjs            (reads the settings below from the environment)
//   OIDC_PORT        port on 127.0.0.1 (issuer http://127.0.0.1:PORT)
//   OIDC_REDIRECTS   comma-separated redirect URIs of the test client
//   OIDC_CLIENT_ID / OIDC_CLIENT_SECRET
//
// Users (password = "<login>-password"):
//   alice  alice@example.test  email_verified: true
//   bob    bob@example.test    email_verified: false
//
// Test hook: POST /__test/tamper makes the next token response carry an ID token whose payload
// was altered after signing (its signature no longer matches).
import http from "node:http";
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const redirects = (process.env.OIDC_REDIRECTS || "").split(",").filter(Boolean);

const USERS = {
  alice: { sub: "alice-0001", email: "alice@example.test", email_verified: true, name: "Alice Liddell" },
  bob: { sub: "bob-0002", email: "bob@example.test", email_verified: false, name: "Bob Unverified" },
};

let tamperNext = false;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID || "lorastudio-test",
      client_secret: process.env.OIDC_CLIENT_SECRET || "lorastudio-test-secret",
      redirect_uris: redirects,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  cookies: { keys: ["test-only-cookie-key-0123456789"] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const user = Object.values(USERS).find((u) => u.sub === sub);
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ ...user }) };
  },
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && tamperNext && ctx.body && ctx.body.id_token) {
    tamperNext = false;
    const [header, payload, signature] = ctx.body.id_token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    claims.sub = "mallory-9999";
    const forged = Buffer.from(JSON.stringify(claims)).toString("base64url");
    ctx.body = { ...ctx.body, id_token: `${header}.${forged}.${signature}` };
  }
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test identity provider</h1>
${error ? `<p id="idp-error">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in to the test IdP</button>
</form></body></html>`;
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("interaction mismatch");
  const { prompt, params, session } = details;
  if (prompt.name === "login") {
    if (req.method === "POST" && action === "login") {
      const form = await readForm(req);
      const user = USERS[form.login];
      if (!user || form.password !== `${form.login}-password`) {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(loginPage(uid, "Wrong username or password."));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end(loginPage(uid, ""));
    return;
  }
  // Consent: granted at once for the test client.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/__test/tamper" && req.method === "POST") {
      tamperNext = true;
      res.writeHead(204).end();
      return;
    }
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login))?$/);
    if (match) {
      await interaction(req, res, match[1], match[2]);
      return;
    }
    callback(req, res);
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`test IdP error: ${err.message}`);
  }
});

server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  console.log(`oidc-provider listening on http://127.0.0.1:${address.port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
