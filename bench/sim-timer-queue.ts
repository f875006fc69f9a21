/**
 * The simulated clock's pending timers: a binary min-heap on (due time, creation order). The keys sit
 * in typed arrays beside the items, so a sift reads contiguous numbers instead of chasing each timer
 * object through memory; with tens of thousands of timers pending, those cache misses were most of
 * what a fired timer cost the clock. Sifts move a hole rather than swapping pairs.
 */

const INITIAL_CAPACITY = 1024;

export class TimerQueue<T> {
  private items: (T | undefined)[] = [];
  private dueAt = new Float64Array(INITIAL_CAPACITY);
  private order = new Float64Array(INITIAL_CAPACITY);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The item with the smallest (dueAt, order), or undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[0];
  }

  /** Due time of peek(); Infinity when empty. */
  peekDueAt(): number {
    return this.count === 0 ? Infinity : this.dueAt[0]!;
  }

  push(item: T, dueAt: number, order: number): void {
    if (this.count === this.dueAt.length) this.grow();
    const keys = this.dueAt;
    const orders = this.order;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentDue = keys[parent]!;
      if (parentDue < dueAt || (parentDue === dueAt && orders[parent]! < order)) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, item, dueAt, order);
  }

  /** Removes and returns the smallest item; undefined when empty. */
  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const items = this.items;
    const keys = this.dueAt;
    const orders = this.order;
    const top = items[0];
    const size = --this.count;
    const lastItem = items[size];
    const lastDue = keys[size]!;
    const lastOrder = orders[size]!;
    items[size] = undefined;
    if (size === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (right < size && (keys[right]! < keys[left]! || (keys[right] === keys[left] && orders[right]! < orders[left]!))) child = right;
      const childDue = keys[child]!;
      if (lastDue < childDue || (lastDue === childDue && lastOrder < orders[child]!)) break;
      this.move(child, i);
      i = child;
    }
    this.place(i, lastItem, lastDue, lastOrder);
    return top;
  }

  private move(from: number, to: number): void {
    this.items[to] = this.items[from];
    this.dueAt[to] = this.dueAt[from]!;
    this.order[to] = this.order[from]!;
  }

  private place(at: number, item: T | undefined, dueAt: number, order: number): void {
    this.items[at] = item;
    this.dueAt[at] = dueAt;
    this.order[at] = order;
  }

  private grow(): void {
    const dueAt = new Float64Array(2 * this.dueAt.length);
    dueAt.set(this.dueAt);
    this.dueAt = dueAt;
    const order = new Float64Array(2 * this.order.length);
    order.set(this.order);
    this.order = order;
  }
}
