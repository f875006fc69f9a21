import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownMachine } from '../../platforms/node/own-machine.js';

describe('ownMachine (Node)', () => {
  it("reads Linux's ephemeral port range and this machine's addresses, in a candidate target's spelling", () => {
    const machine = ownMachine(() => '32768\t60999\n');
    expect(machine?.ephemeralPorts).toEqual({ min: 32_768, max: 60_999 });
    const addresses = machine!.addresses();
    expect(addresses.has('127.0.0.1')).toBe(true);
    for (const entry of Object.values(networkInterfaces()).flat()) expect(addresses.has(entry!.address.toLowerCase()), entry!.address).toBe(true);
  });

  it('is undefined where the range cannot be read or makes no sense: no range is guessed', () => {
    expect(ownMachine(() => { throw new Error('ENOENT'); })).toBeUndefined();
    for (const text of ['', '32768', '60999 32768', '0 60999', '32768 70000', 'a b']) expect(ownMachine(() => text), text).toBeUndefined();
  });

  it('reads this machine\'s range by default (Linux)', () => {
    const [min, max] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    expect(ownMachine()?.ephemeralPorts).toEqual({ min, max });
  });
});
