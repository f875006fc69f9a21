import { describe, expect, it } from 'vitest';
import { AddressAdmission } from '../../src/pex/address-book-admission.js';
import { BanList } from '../../src/pex/address-book-bans.js';
import { parseAddress } from '../../src/transport/address.js';
import { nodeId, publicHost, tcp } from './address-book-helpers.js';

const SOURCE = tcp(9999, publicHost(77));

function admission(allowLocal = false): { gate: AddressAdmission; bans: BanList } {
  const bans = new BanList(16);
  return { gate: new AddressAdmission(bans, allowLocal), bans };
}

describe('AddressAdmission (what may enter the address book)', () => {
  it('admits a routable address naming a node, filed under its group and its source group', () => {
    const { gate } = admission();
    const address = tcp(1, publicHost(1));
    expect(gate.examine(address, SOURCE, 0)).toEqual({
      address,
      nodeId: nodeId(1),
      group: 'ipv4:21.0',
      source: SOURCE,
      sourceGroup: 'ipv4:97.0',
      sourceNodeId: nodeId(9999),
    });
  });

  it('says why it refuses: malformed, no node id, port 0, bad source, ourselves, banned, unroutable', () => {
    const { gate, bans } = admission();
    expect(gate.examine('nonsense', SOURCE, 0)).toBe('invalid-address');
    expect(gate.examine(`tcp://${publicHost(1)}:26656`, SOURCE, 0)).toBe('no-node-id');
    expect(gate.examine(`tcp://${nodeId(1)}@${publicHost(1)}:0`, SOURCE, 0)).toBe('invalid-address');
    expect(gate.examine(tcp(1, publicHost(1)), 'not a source', 0)).toBe('invalid-source');
    gate.addOurNodeId(nodeId(2).toUpperCase());
    expect(gate.examine(tcp(2, publicHost(2)), SOURCE, 0)).toBe('self');
    gate.addOurLocation('tcp://23.0.0.2:26656');
    expect(gate.isOurs(parseAddress(tcp(3, publicHost(3))))).toBe(true);
    expect(gate.examine(tcp(3, publicHost(3)), SOURCE, 0)).toBe('self');
    bans.ban(nodeId(4), 1000, []);
    expect(gate.examine(tcp(4, publicHost(4)), SOURCE, 10)).toBe('banned');
    expect(gate.examine(tcp(4, publicHost(4)), SOURCE, 2000)).not.toBe('banned');
    expect(gate.examine(tcp(5, '10.0.0.5'), SOURCE, 0)).toBe('unroutable');
    expect(admission(true).gate.examine(tcp(5, '10.0.0.5'), SOURCE, 0)).toMatchObject({ group: 'ipv4:10.0' });
  });
});
