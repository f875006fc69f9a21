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

  it('reports the first four: a description of thousands of sections is read no further', () => {
    const sdp = `v=0\r\n${'m=\n'.repeat(4000)}`;
    expect(mediaSectionsOf(sdp)).toEqual(['', '', '', '']);
    expect(mediaSectionsOf(`v=0\r\nm=application 9 x\r\n${'m=video 9 x\r\n'.repeat(10)}`)).toEqual(['video', 'video', 'video', 'video']);
  });

  it('reads only what starts a line, and the whole kind', () => {
    expect(mediaSectionsOf('v=0\r\na=x-m=audio\r\nm=application 9 x\r\n')).toEqual([]);
    expect(mediaSectionsOf(`m=application${'x'.repeat(100)} 9`)).toEqual(['application'.padEnd(32, 'x')]);
    expect(mediaSectionsOf('m=application\r\nm=audio')).toEqual(['audio']);
  });
});
