import { describe, expect, it } from 'vitest';
import { mediaSectionsOf } from '../../src/webrtc/remote-description.js';

describe('mediaSectionsOf', () => {
  it('finds the audio and video sections of a description, not the data channel, with either line ending', () => {
    const dataOnly = 'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n';
    expect(mediaSectionsOf(dataOnly)).toEqual([]);
    expect(mediaSectionsOf(`${dataOnly}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n`)).toEqual(['audio', 'video']);
    expect(mediaSectionsOf('v=0\nm=video 9 RTP/AVP 96\nm=application 9 DTLS/SCTP 5000\n')).toEqual(['video']);
    expect(mediaSectionsOf(`m=${'x'.repeat(100)} 9`)).toEqual(['x'.repeat(32)]);
  });
});
