import type { KnownAddress } from './known-address.js';

const NONE: readonly KnownAddress[] = Object.freeze([]);

/**
 * The book's entries by node id, in the order they were indexed. Almost every node id has exactly one
 * address, so that one is stored bare; a small array (at most maxAddressesPerNodeId) only for the
 * others. A Set per node id cost more than the entry it indexed, and a book holds thousands of entries.
 */
export class NodeIdIndex {
  private readonly byId = new Map<string, KnownAddress | KnownAddress[]>();

  /** Node ids indexed. */
  get size(): number {
    return this.byId.size;
  }

  /** How many entries the node id has. */
  count(nodeId: string): number {
    const held = this.byId.get(nodeId);
    return held === undefined ? 0 : Array.isArray(held) ? held.length : 1;
  }

  /** The node id's entries in indexing order (a fresh array for a single one; do not keep it across changes). */
  entriesOf(nodeId: string): readonly KnownAddress[] {
    const held = this.byId.get(nodeId);
    return held === undefined ? NONE : Array.isArray(held) ? held : [held];
  }

  has(entry: KnownAddress): boolean {
    const held = this.byId.get(entry.nodeId);
    return held === entry || (Array.isArray(held) && held.includes(entry));
  }

  /** Caller guarantees the entry is not indexed yet. */
  add(entry: KnownAddress): void {
    const held = this.byId.get(entry.nodeId);
    if (held === undefined) this.byId.set(entry.nodeId, entry);
    else if (Array.isArray(held)) held.push(entry);
    else this.byId.set(entry.nodeId, [held, entry]);
  }

  delete(entry: KnownAddress): void {
    const held = this.byId.get(entry.nodeId);
    if (held === entry) {
      this.byId.delete(entry.nodeId);
    } else if (Array.isArray(held)) {
      const at = held.indexOf(entry);
      if (at < 0) return;
      held.splice(at, 1);
      if (held.length === 1) this.byId.set(entry.nodeId, held[0]!);
    }
  }

  /** Every node id with its entries, in the order node ids were first indexed. */
  *entries(): IterableIterator<[string, readonly KnownAddress[]]> {
    for (const [nodeId, held] of this.byId) yield [nodeId, Array.isArray(held) ? held : [held]];
  }

  /** Every node id with its number of entries; allocates nothing per node id. */
  forEachCount(visit: (nodeId: string, count: number) => void): void {
    for (const [nodeId, held] of this.byId) visit(nodeId, Array.isArray(held) ? held.length : 1);
  }

  clear(): void {
    this.byId.clear();
  }
}
