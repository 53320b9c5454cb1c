// The official TypeScript SDK v1 client (@modelcontextprotocol/sdk) against a URL:
// node ts-sdk-v1.mjs <url> <libraryId> <question>. Prints one JSON line.
import { failure, load, summarize } from './load.mjs';

const [url, libraryId, question] = process.argv.slice(2);
const { Client } = await load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await load('@modelcontextprotocol/sdk/client/streamableHttp.js');

const client = new Client({ name: 'twinmcp-client-tests', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const out = {
  protocolVersion: transport.protocolVersion ?? null,
  sessionId: transport.sessionId ?? null,
  serverInfo: client.getServerVersion(),
  instructions: client.getInstructions(),
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
await client.ping();
await transport.terminateSession().catch((error) => {
  out.terminateError = String(error.message ?? error);
});
await client.close();
console.log(JSON.stringify(out));
