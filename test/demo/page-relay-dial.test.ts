import { describe, expect, it } from 'vitest';
import { isRelayDial } from '../../demo/web/page-config.js';

const RELAY = 'ab'.repeat(20);
const TAB = 'cd'.repeat(20);

describe('the demo page telling a dial of its relay from a dial through it', () => {
  it('takes only an address whose node id is the relay’s, not a WebRTC address that names the relay in via', () => {
    expect(isRelayDial(`ws://${RELAY}@127.0.0.1:8080/`, RELAY)).toBe(true);
    expect(isRelayDial(`wss://${RELAY}@relay.example.org:443/mesh`, RELAY)).toBe(true);
    // Before (address.includes(relayId)): a tab answering our dial with another key made the page say
    // the relay had a new identity and fetch /config.json, once per such dial.
    expect(isRelayDial(`webrtc://${TAB}?via=${RELAY}`, RELAY)).toBe(false);
    expect(isRelayDial(`ws://${TAB}@127.0.0.1:8080/${RELAY}`, RELAY)).toBe(false);
    expect(isRelayDial('not an address', RELAY)).toBe(false);
  });
});
