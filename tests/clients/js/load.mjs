// Imports a package from the pinned .tools/mcp-clients/node_modules (TWINMCP_NODE_MODULES), which is
// not an ancestor of these scripts, by following the package's "exports" map as Node would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

function entry(target) {
  if (typeof target === 'string') return target;
  const chosen = target.import ?? target.default;
  return typeof chosen === 'string' ? chosen : entry(chosen);
}

export async function load(specifier) {
  const modules = process.env.TWINMCP_NODE_MODULES;
  if (!modules) throw new Error('TWINMCP_NODE_MODULES is not set');
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  const root = join(modules, ...parts.slice(0, nameLength));
  const subpath = ['.', ...parts.slice(nameLength)].join('/');
  const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  let target = exports[subpath];
  if (target === undefined) {
    const [prefix, pattern] = Object.entries(exports).find(
      ([key]) => key.endsWith('*') && subpath.startsWith(key.slice(0, -1)),
    );
    target = JSON.parse(JSON.stringify(pattern).replaceAll('*', subpath.slice(prefix.length - 1)));
  }
  return import(pathToFileURL(join(root, entry(target))).href);
}

// What a tool call answered, in a shape the Python side can assert on.
export function summarize(result) {
  return {
    isError: result.isError ?? false,
    text: result.content.map((block) => block.text ?? '').join('\n'),
    contentTypes: result.content.map((block) => block.type),
  };
}

// A thrown JSON-RPC error, reduced to what the tests compare.
export function failure(error) {
  return { code: error.code ?? null, message: String(error.message ?? error) };
}
