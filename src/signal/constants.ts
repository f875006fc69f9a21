/** Channel 0x01 carries WebRTC signalling (DESIGN.md: 0x00 is PEX, 0x01 signalling). */
export const SIGNAL_CHANNEL_ID = 0x01;
/** Largest signalling message accepted or sent, in bytes (an SDP offer is ~1–4 KiB). */
export const SIGNAL_MAX_MESSAGE_BYTES = 16 * 1024;
/** Largest SDP text inside an offer or answer, in characters. */
export const SIGNAL_MAX_SDP_CHARS = 12 * 1024;
/** Largest ICE candidate line, in characters. */
export const SIGNAL_MAX_CANDIDATE_CHARS = 1024;
/** Signalling messages queued per peer before `trySend` refuses. */
export const SIGNAL_SEND_QUEUE_CAPACITY_MESSAGES = 256;
/** Token bucket per peer: sustained signalling messages per second… */
export const SIGNAL_RATE_PER_SECOND = 20;
/** …and the burst a peer may send at once (one connection setup is ~5–20 messages). */
export const SIGNAL_BURST_MESSAGES = 100;
