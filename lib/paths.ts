// Route paths as the table of operations writes them (`/nodes/{nodeId}`): matching a request's path to one.

/**
 * The path parameters if `template` matches the path split into `segments`, else undefined. A `{name}`
 * part takes one segment that `accepts` (by default any non-empty one); every other part must be equal.
 */
export function matchPath(
  template: string,
  segments: readonly string[],
  accepts: (segment: string) => boolean = (segment) => segment !== '',
): Record<string, string> | undefined {
  const parts = template.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i] ?? '';
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name === undefined) {
      if (part !== segment) return undefined;
    } else if (accepts(segment)) params[name] = segment;
    else return undefined;
  }
  return params;
}
