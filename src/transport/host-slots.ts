/**
 * The host group to take a slot from when a pool of pending connections is full: the one holding the
 * most, if it holds more than `newcomerHolds` (what the newcomer's host holds already); undefined when
 * none does. Taking the busiest host's oldest connection, rather than dropping the newcomer, means a few
 * hosts' silent connections cannot keep everyone else out: a host with one pending is the last to lose it.
 */
export function busiestHost(pendingByHost: ReadonlyMap<string, number>, newcomerHolds: number): string | undefined {
  let busiest: string | undefined;
  let most = newcomerHolds;
  for (const [host, count] of pendingByHost) {
    if (count > most) [busiest, most] = [host, count];
  }
  return busiest;
}
