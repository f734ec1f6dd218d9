// The one place in local/ that reads the route table: the server routes by it, the bench builds its
// events from it. Swapping the table's source (lib/operations.ts) is a change to this file alone.
import { ROUTES, type Route } from '../lib/operations';

export { ROUTES, type Route };

/** The route of `method` on the path template `path`, exactly as the table names it. */
export function routeOf(method: string, path: string): Route {
  const route = ROUTES.find((r) => r.method === method && r.path === path);
  if (!route) throw new Error(`no route ${method} ${path}`);
  return route;
}
