/**
 * The media sections (`m=` lines) of a remote's offer or answer other than the data channel's
 * `m=application`. Our links carry one data channel and nothing else; an audio or video section would
 * have the RTCPeerConnection set up a receiver for it (and a browser decode whatever the remote then
 * streams), at the remote's word. Returns the kinds found, e.g. ['audio', 'video'].
 */
export function mediaSectionsOf(sdp: string): string[] {
  const kinds: string[] = [];
  for (const line of sdp.split('\n')) {
    if (!line.startsWith(MEDIA_LINE_PREFIX)) continue;
    const kind = line.slice(MEDIA_LINE_PREFIX.length).split(' ', 1)[0]!.trim();
    if (kind !== DATA_CHANNEL_MEDIA) kinds.push(kind.slice(0, 32));
  }
  return kinds;
}

const MEDIA_LINE_PREFIX = 'm=';
const DATA_CHANNEL_MEDIA = 'application';
