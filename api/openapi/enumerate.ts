/**
 * The routes an Express 5 app serves, read from its router: `app.router.stack` holds one layer
 * per `app.use`/`app.get`…; a route's layer has `route` (its `path` and `methods`), a mounted
 * router's layer has `handle.stack` (walked in turn, under the mount path, which router 2 keeps
 * as the layer's `rawPath`; `slash` marks a mount at `/`). The contract test compares this list
 * with the document.
 */
export interface ServedRoute {
  method: string;
  /** Express's path, `:name` for parameters. */
  path: string;
}

interface LayerLike {
  route?: { path?: unknown; methods?: Record<string, boolean> };
  handle?: unknown;
  rawPath?: unknown;
  slash?: boolean;
}

function stackOf(handle: unknown): LayerLike[] | undefined {
  if ((typeof handle !== 'function' && typeof handle !== 'object') || handle === null) return undefined;
  const stack: unknown = (handle as { stack?: unknown }).stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

function join(prefix: string, path: string): string {
  const joined = `${prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
}

function walk(stack: LayerLike[], prefix: string, into: ServedRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        if (typeof path !== 'string') throw new Error(`a route with a non-string path: ${String(path)}`);
        for (const [method, on] of Object.entries(layer.route.methods ?? {})) {
          if (on && method !== '_all') into.push({ method, path: join(prefix, path) });
        }
      }
      continue;
    }
    const nested = stackOf(layer.handle);
    if (nested) {
      const mount = layer.slash || typeof layer.rawPath !== 'string' ? '' : layer.rawPath;
      walk(nested, join(prefix, mount), into);
    }
  }
}

/** Every (method, path) the app routes, in registration order. */
export function servedRoutes(app: { router: unknown }): ServedRoute[] {
  const stack = stackOf(app.router);
  if (!stack) throw new Error('not an Express 5 app: app.router has no stack');
  const routes: ServedRoute[] = [];
  walk(stack, '', routes);
  return routes;
}
