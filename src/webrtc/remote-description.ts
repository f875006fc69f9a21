/**
 * The media sections (`m=` lines) of a remote's offer or answer other than the data channel's
 * `m=application`, at most the first four. Our links carry one data channel and nothing else; an audio
 * or video section would have the RTCPeerConnection set up a receiver for it (and a browser decode
 * whatever the remote then streams), at the remote's word. Returns the kinds found, e.g. ['audio', 'video'].
 */
export function mediaSectionsOf(sdp: string): string[] {
  const kinds: string[] = [];
  // Found by indexOf and not split into lines, and only the first few: every signal of a peer is read
  // here, and a 12 KiB description of 4,000 `m=` lines cost 1.4 ms (4,000 lines, 4,000 kinds) each.
  const text = `\n${sdp}`;
  for (let at = text.indexOf(SECTION_START); at !== -1 && kinds.length < KINDS_REPORTED; at = text.indexOf(SECTION_START, at + 1)) {
    const start = at + SECTION_START.length;
    // A kind longer than the window is no `application`: cut, it is still reported as another kind.
    const kind = text.slice(start, start + KIND_WINDOW).split('\n', 1)[0]!.split(' ', 1)[0]!.trim();
    if (kind !== DATA_CHANNEL_MEDIA) kinds.push(kind.slice(0, 32));
  }
  return kinds;
}

const SECTION_START = '\nm=';
const DATA_CHANNEL_MEDIA = 'application';
const KINDS_REPORTED = 4;
const KIND_WINDOW = 64;
