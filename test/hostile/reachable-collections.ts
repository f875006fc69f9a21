/**
 * The size of every Map, Set and array reachable from an object through its own properties (private
 * fields included), by path: a census of what a node keeps, so that a test can see any table grow,
 * including one no test names yet. Sockets and servers are not walked (Node's own bookkeeping), nor
 * binary data; each collection's first 64 entries are walked into, enough to reach the tables of
 * every peer, agent and transport of a node.
 */
const NOT_WALKED = new Set(['Socket', 'Server', 'WebSocketServer', 'WebSocket', 'ClientRequest', 'IncomingMessage']);
const ENTRIES_WALKED = 64;
const MAX_DEPTH = 16;

export function reachableCollectionSizes(root: object, rootName = 'root'): Map<string, number> {
  const sizes = new Map<string, number>();
  const seen = new WeakSet<object>();
  const queue: { value: unknown; path: string; depth: number }[] = [{ value: root, path: rootName, depth: 0 }];
  for (let next = 0; next < queue.length; next++) {
    const { value, path, depth } = queue[next]!;
    if (typeof value !== 'object' || value === null || depth > MAX_DEPTH || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || NOT_WALKED.has(value.constructor?.name ?? '')) continue;
    const walk = (child: unknown, at: string): void => void queue.push({ value: child, path: at, depth: depth + 1 });
    if (value instanceof Map || value instanceof Set || Array.isArray(value)) {
      const kind = value instanceof Map ? 'Map' : value instanceof Set ? 'Set' : 'Array';
      sizes.set(`${path}(${kind})`, Array.isArray(value) ? value.length : value.size);
      let walked = 0;
      for (const entry of value instanceof Map ? value.entries() : value.values()) {
        if (walked++ >= ENTRIES_WALKED) break;
        if (value instanceof Map) {
          const [key, item] = entry as [unknown, unknown];
          walk(item, `${path}.<value>`);
          walk(key, `${path}.<key>`);
        } else walk(entry, `${path}[]`);
      }
      continue;
    }
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(value, key);
      // Own data properties only: a getter may compute, allocate or throw.
      if (descriptor !== undefined && 'value' in descriptor) walk(descriptor.value, `${path}.${String(key)}`);
    }
  }
  return sizes;
}

/** The collections of `after` that hold at least `margin` more entries than in `before`, largest growth first. */
export function grownCollections(before: Map<string, number>, after: Map<string, number>, margin: number): { path: string; before: number; after: number }[] {
  return [...after]
    .map(([path, size]) => ({ path, before: before.get(path) ?? 0, after: size }))
    .filter(({ before: was, after: is }) => is - was >= margin)
    .sort((a, b) => b.after - b.before - (a.after - a.before));
}
