// The official TypeScript SDK v2 client (@modelcontextprotocol/client) signing in by OAuth:
// node ts-sdk-oauth.mjs <url> <api key> <libraryId> <question>. The server answers 401, the SDK
// discovers the metadata, registers itself and "opens the browser"; a scripted browser posts
// the consent form with the key; the SDK exchanges the code and connects. Prints one JSON line.
import { failure, load, summarize } from './load.mjs';

const [url, apiKey, libraryId, question] = process.argv.slice(2);
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = await load(
  '@modelcontextprotocol/client',
);
const redirectUrl = 'http://127.0.0.1:33419/callback';
const stored = {};
let verifier = '';
let callback = null;
const pages = [];

async function browse(authorizationUrl) {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  const html = await page.text();
  pages.push(html);
  if (page.status !== 200) throw new Error(`consent page answered ${page.status} (${page.headers.get('location')}): ${html}`);
  const hidden = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
  const cookie = page.headers
    .getSetCookie()
    .map((value) => value.split(';')[0])
    .join('; ');
  const answer = await fetch(new URL('/oauth/authorize', authorizationUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      request_id: hidden('request_id'),
      csrf: hidden('csrf'),
      api_key: apiKey,
      decision: 'approve',
    }),
  });
  if (answer.status !== 303) throw new Error(`consent answered ${answer.status}: ${await answer.text()}`);
  return new URL(answer.headers.get('location'));
}

const provider = {
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: 'TS SDK test client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  // TwinMCP requires state (as Claude Code, VS Code and Cursor send); the SDK sends none without it.
  state: () => {
    stored.state = crypto.randomUUID();
    return stored.state;
  },
  clientInformation: () => stored.client,
  saveClientInformation: (info) => {
    stored.client = info;
  },
  tokens: () => stored.tokens,
  saveTokens: (tokens) => {
    stored.tokens = tokens;
  },
  saveCodeVerifier: (value) => {
    verifier = value;
  },
  codeVerifier: () => verifier,
  redirectToAuthorization: async (authorizationUrl) => {
    callback = await browse(authorizationUrl);
  },
};

const client = new Client({ name: 'twinmcp-oauth-tests', version: '1.0.0' });
const out = { signedIn: false };
let transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
try {
  await client.connect(transport);
} catch (error) {
  if (!(error instanceof UnauthorizedError) || callback === null) throw error;
  if (callback.searchParams.get('state') !== stored.state) throw new Error('state mismatch');
  out.signedIn = true;
  await transport.finishAuth(callback.searchParams);
  transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  await client.connect(transport);
}
out.consentNamesClient = pages.some((html) => html.includes('TS SDK test client'));
out.tokenPrefix = stored.tokens?.access_token?.slice(0, 5) ?? null;
out.hasRefreshToken = Boolean(stored.tokens?.refresh_token);
out.tools = (await client.listTools()).tools.map((t) => t.name);
try {
  out.docs = summarize(
    await client.callTool({ name: 'query-docs', arguments: { libraryId, query: question } }),
  );
} catch (error) {
  out.docs = failure(error);
}
await client.close();
console.log(JSON.stringify(out));
