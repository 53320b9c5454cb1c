// The official TypeScript SDK v2 client (@modelcontextprotocol/client) against a URL, in one
// version-negotiation mode: node ts-sdk-v2.mjs <url> <legacy|auto|pin:VERSION|default>.
// Prints one JSON line with what the server answered. TWINMCP_API_KEY, when set, is sent as a
// bearer token.
import { failure, load, summarize } from './load.mjs';

const [url, mode = 'default', libraryId, question] = process.argv.slice(2);
const { Client, StreamableHTTPClientTransport } = await load('@modelcontextprotocol/client');

const options = {};
if (mode === 'legacy' || mode === 'auto') options.versionNegotiation = { mode };
else if (mode.startsWith('pin:')) options.versionNegotiation = { mode: { pin: mode.slice(4) } };

const client = new Client({ name: 'twinmcp-client-tests', version: '1.0.0' }, options);
const apiKey = process.env.TWINMCP_API_KEY;
const requestInit = apiKey ? { headers: { Authorization: `Bearer ${apiKey}` } } : undefined;
await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
const out = {
  protocolVersion: client.getNegotiatedProtocolVersion(),
  serverInfo: client.getServerVersion(),
  instructions: client.getInstructions?.() ?? null,
};
const listed = await client.listTools();
out.tools = listed.tools.map((t) => t.name);
out.readOnly = listed.tools.map((t) => t.annotations?.readOnlyHint ?? null);
out.resolve = summarize(
  await client.callTool({ name: 'resolve-library-id', arguments: { libraryName: 'fastapi', query: question } }),
);
out.docs = summarize(
  await client.callTool({ name: 'query-docs', arguments: { libraryId, query: question, tokens: 2000 } }),
);
out.missing = summarize(
  await client.callTool({ name: 'query-docs', arguments: { libraryId: '/no/such', query: question } }),
);
try {
  await client.callTool({ name: 'no-such-tool', arguments: {} });
  out.unknownTool = null;
} catch (error) {
  out.unknownTool = failure(error);
}
await client.close();
console.log(JSON.stringify(out));
