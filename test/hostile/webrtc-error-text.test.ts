/**
 * The WebRTC stack's own error messages quote what the remote wrote: libwebrtc refusing a description
 * names the offending line ("Invalid value: …", "A BUNDLE group contains a MID='…'"). Those messages
 * reached our errors as they were, so a remote (or a relay forging one) answering our dial put up to a
 * description's 12,000 characters of its choosing, terminal escapes and bidi overrides among them, into
 * the dial's error, which `dial:failed` listeners and logs print. Likewise the label of a data channel
 * the remote opens, which the guard's refusal quotes (JSON.stringify escapes C0 controls, not C1 ones
 * or bidi overrides). Real RTCPeerConnections (@roamhq/wrtc).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SIGNAL_MAX_SDP_CHARS } from '../../src/webrtc/constants.js';
import { stopAll } from '../helpers/nodes.js';
import { errorsOf, reasonsOf, rtcNode, rtcWith, startRelay, stillTakesHonestPeers, wrtc } from './webrtc-scene.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

// Clear the screen, set the window title, and reverse what follows (a newline would end the SDP line).
const HOSTILE = '\u001b[2J\u001b]0;pwned\u0007connected to 0000\u202e';
const UNPRINTABLE = /[\p{Cc}\u202e]/u;

/** Messages of an error and of every error it wraps. */
function messagesOf(errors: Error[]): string[] {
  const messages: string[] = [];
  for (const error of errors) for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages;
}

/** Answers with a bandwidth line libwebrtc refuses, quoting it: escapes, then as much text as a description may hold. */
function withHostileLine(sdp: string): string {
  const room = SIGNAL_MAX_SDP_CHARS - sdp.length - 64;
  return sdp.replace(/a=mid:/, `b=AS:${HOSTILE}${'X'.repeat(room)}\r\na=mid:`);
}

/** An RTCPeerConnection whose answers (as simple-peer reads them back to send) carry the hostile line. */
const answeringWithHostileText = class extends wrtc.RTCPeerConnection {
  constructor(config?: RTCConfiguration) {
    super(config);
    // The description is an own, fixed property of @roamhq/wrtc's connections: a proxy tampers with what is read.
    return new Proxy(this, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === 'localDescription' && value !== null && (value as RTCSessionDescription).type === 'answer') {
          return { type: 'answer', sdp: withHostileLine((value as RTCSessionDescription).sdp) };
        }
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
      set(target, property, value) {
        return Reflect.set(target, property, value, target);
      },
    });
  }
};

describe('a WebRTC remote whose description the stack refuses, quoting it', () => {
  it('fails our dial with an error of bounded, printable text', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const attacker = await rtcNode(relay, rtcWith(answeringWithHostileText));
    const failure = await victim.sw.dial(`webrtc://${attacker.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    // The stack did quote the remote (the test's premise): part of its text is in the message.
    expect(failure!.message).toContain('XXXX');
    // Before: 11,507 characters, the escapes and the bidi override among them.
    expect(failure!.message).not.toMatch(UNPRINTABLE);
    expect(failure!.message.length).toBeLessThanOrEqual(600);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('refuses an answerer\'s own data channel quoting its label printable: a C1 control and a bidi override become U+FFFD', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const errors = errorsOf(victim);
    const labelling = class extends wrtc.RTCPeerConnection {
      constructor(config?: RTCConfiguration) {
        super(config);
        this.addEventListener('datachannel', () => this.createDataChannel(`\u009b2J\u202e${HOSTILE}`));
      }
    };
    const attacker = await rtcNode(relay, rtcWith(labelling));
    const dial = await victim.sw.dial(`webrtc://${attacker.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => undefined,
      (error: Error) => error,
    );
    if (dial !== undefined) errors.push(dial);
    await waitFor(() => reasonsOf(errors).includes('extra-data-channel'), 15_000, 'the victim cuts the attacker');
    const quoting = messagesOf(errors).filter((message) => message.includes('label'));
    expect(quoting.length).toBeGreaterThan(0);
    // Before: "(label \"\u009b2J\u202e…\")": JSON.stringify left the C1 CSI and the override as they were.
    for (const message of quoting) expect(message).not.toMatch(UNPRINTABLE);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);
});
