// Module hooks of the TypeScript loader's thread (ts-load-worker.mjs): reports every import as
// the loader resolved it, parent and child, so that a definition's stamp can name every file
// it imports (src/incremental/stamps.ts). Registered after tsx, so it runs first and sees tsx's answer.
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (context.parentURL) port.postMessage([context.parentURL, resolved.url]);
  return resolved;
}
