/**
 * A readable name for a node id, used as a page's moniker ("amber-otter"), so that people in a chat or
 * on the graph can tell tabs apart. Derived from the id: the same key always gets the same name.
 */
const ADJECTIVES = [
  'amber', 'brave', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'happy', 'icy', 'jolly', 'keen', 'lucky', 'merry', 'nimble', 'odd', 'proud',
  'quick', 'rosy', 'shy', 'tidy', 'urban', 'vivid', 'witty', 'young', 'zesty', 'bold', 'crisp', 'deft', 'fond', 'glad', 'hale', 'lush',
] as const;
const ANIMALS = [
  'otter', 'badger', 'crane', 'dingo', 'eagle', 'ferret', 'gecko', 'heron', 'ibis', 'jackal', 'koala', 'lemur', 'marten', 'newt', 'ocelot', 'panda',
  'quail', 'raven', 'stoat', 'tapir', 'urchin', 'vole', 'walrus', 'yak', 'zebra', 'bison', 'camel', 'dove', 'finch', 'goose', 'hare', 'lynx',
] as const;

export function friendlyName(nodeId: string): string {
  const a = Number.parseInt(nodeId.slice(0, 2), 16) || 0;
  const b = Number.parseInt(nodeId.slice(2, 4), 16) || 0;
  return `${ADJECTIVES[a % ADJECTIVES.length]!}-${ANIMALS[b % ANIMALS.length]!}`;
}

export function shortId(id: string): string {
  return `${id.slice(0, 8)}…`;
}

/** "amber-otter (3f2a9c1e…)", or the short id alone for a node without a name. */
export function label(moniker: string, id: string): string {
  return moniker === '' ? shortId(id) : `${moniker} (${shortId(id)})`;
}
