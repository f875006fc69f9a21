/** Channel 0x01 carries WebRTC signalling (DESIGN.md: 0x00 is PEX, 0x01 signalling). */
export const SIGNAL_CHANNEL_ID = 0x01;
/** Largest signalling message accepted or sent, in bytes (an SDP offer is ~1–4 KiB). */
export const SIGNAL_MAX_MESSAGE_BYTES = 16 * 1024;
/** Largest SDP text inside an offer or answer, in characters. */
export const SIGNAL_MAX_SDP_CHARS = 12 * 1024;
/**
 * How much of a WebRTC stack's error message goes into ours, in characters: the stack quotes the
 * remote's lines (a refused description's, up to SIGNAL_MAX_SDP_CHARS), and apps print our messages.
 */
export const WEBRTC_MAX_STACK_MESSAGE_CHARS = 300;
/** Largest ICE candidate line, in characters. */
export const SIGNAL_MAX_CANDIDATE_CHARS = 1024;
/** Signalling messages queued per peer before `trySend` refuses. */
export const SIGNAL_SEND_QUEUE_CAPACITY_MESSAGES = 256;
/** Token bucket per peer: sustained signalling messages per second… */
export const SIGNAL_RATE_PER_SECOND = 20;
/** …and the burst a peer may send at once (one connection setup is ~5–20 messages). */
export const SIGNAL_BURST_MESSAGES = 100;
/**
 * What we originate to one peer is paced to this share of the allowance above (a peer with the default
 * limits stops a sender past it): the rest is margin for the network bunching our signals up on the way.
 */
export const SIGNAL_SEND_PACE_SHARE = 0.75;
/** Our signals that may wait for their turn per peer; past them a send is refused (a dozen per negotiation). */
export const SIGNAL_SEND_MAX_WAITING = 256;
/**
 * …and no more than its pace sends in this long: a signal that would wait longer than a negotiation lives
 * (WEBRTC_ACCEPT_TIMEOUT_MS) is refused at once (the negotiation fails with `relay-send`), so a peer that
 * announces a slow pace holds few of our signals.
 */
export const SIGNAL_SEND_MAX_WAIT_MS = 15 * 1000;
/**
 * A peer announces what it takes from us (its `ratePerSecond` and `burstMessages`, in its NodeInfo), and
 * we pace to that, bounded: at least this much, so that a peer announcing a sliver still gets one
 * negotiation's ~14 signals within its life (7 at once, then 0.75 a second), and what waits for it
 * drains (a pace of 0 would never send what waits, nor free the dials waiting on it); past its true
 * limits it cuts us, which costs only it. A peer announcing nothing (or 0) is taken to use the defaults
 * (or ours, if lower).
 */
export const SIGNAL_ANNOUNCED_MIN_PER_SECOND = 1;
export const SIGNAL_ANNOUNCED_MIN_BURST = 10;
/** …and at most this many times the defaults (a higher word buys no more of our sending). */
export const SIGNAL_ANNOUNCED_MAX_FACTOR = 10;
/** Signals a relay forwards to us may be this many times one peer's own rate and burst… */
export const SIGNAL_RELAYED_ALLOWANCE_FACTOR = 10;
/**
 * …and one sender's signals through that relay (by the `from` it names) this many: what the sender
 * could send us directly, a tenth of the relay's allowance. So one sender flooding through a relay that
 * lets it (a relay with higher limits than ours) cannot use up what the relay's other senders need.
 */
export const SIGNAL_RELAYED_SENDER_FACTOR = 1;
/**
 * Senders whose share of one relay's allowance is tracked (the most recently heard): a sender not
 * tracked starts with a full share, so the table stays bounded whatever ids a relay names.
 */
export const SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY = 64;
/**
 * Nodes a peer we dialled has signalled through us, remembered per peer (the most recent ones): only
 * their signals are forwarded to it, since it takes relayed signals from us only while it negotiates
 * through us. Twice its default pending dials through one relay (WEBRTC_MAX_PENDING_DIALS_PER_VIA).
 */
export const SIGNAL_RELAY_ROUTES_PER_PEER = 16;
/**
 * To a peer that dialled us, the signals of its routes go at once, unpaced (its negotiations: it takes
 * them whatever its relayed allowance), but only so many: each signal it sends a node through us lets
 * this many of that node's through at once (a description and 13 trickled candidates under wrtc), at
 * most WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION banked; past them they are paced like anyone's. A
 * flooder it merely answered (as it answers any offer) was a route for as long as it was remembered,
 * unpaced, its signals crossing the peer's link to be dropped there.
 */
export const SIGNAL_ROUTE_REPLIES_PER_SIGNAL = 16;
/**
 * What a relay forwards to a peer that dialled it (a page), past the replies of its routes, is split
 * between the networks of the senders (NetworkShares; a sender's IPv4 /16 or IPv6 /32, as the Switch
 * counts it): keys are free, so 16 keys of one host each sending what the relay takes from one peer spent
 * the page's whole lane, and a node elsewhere offering the page was dropped at the relay. A network holds
 * its share for this long after its last signal (a negotiation's life, WEBRTC_ACCEPT_TIMEOUT_MS)…
 */
export const SIGNAL_RELAY_NETWORK_ACTIVE_MS = 15 * 1000;
/** …and a page's lane gives a seat to at most this many networks (the most recent); one pushed out rests… */
export const SIGNAL_RELAY_NETWORKS_PER_PEER = 16;
/**
 * …and it keeps this many resting networks' shares (the most recent), so that one coming back is not a
 * newcomer: forgotten after SIGNAL_RELAY_NETWORK_ACTIVE_MS, networks taking turns to go quiet took the
 * newcomers' seat at each return. One pushed out of these is a newcomer again.
 */
export const SIGNAL_RELAY_NETWORKS_RESTING_PER_PEER = 64;
/** SCTP messages larger than this are not portable between browsers: writes are split to it. */
export const WEBRTC_MAX_CHUNK_BYTES = 16 * 1024;
/** `write()` returns false while the data channel buffers more than this. */
export const WEBRTC_HIGH_WATER_MARK_BYTES = 1024 * 1024;
/** `bufferedamountlow` is unreliable (never fires under @roamhq/wrtc): bufferedAmount is polled. */
export const WEBRTC_DRAIN_POLL_MS = 5;
/** A data channel cannot stop reading: while paused, chunks are held up to this, then the link drops. */
export const WEBRTC_MAX_PAUSED_BYTES = 4 * 1024 * 1024;
/**
 * How often a WebRTC link compares what its connection received (DTLS) with what its one data channel
 * received (stray-data-watch.ts): data on an SCTP stream with no channel of ours is dropped unseen by
 * the WebRTC stack, after costing us its decryption, so nothing else would ever count it.
 */
export const WEBRTC_STRAY_DATA_CHECK_MS = 5 * 1000;
/**
 * What the connection may receive beyond its channel's bytes: this share of them (SCTP and DTLS headers:
 * 8% measured under @roamhq/wrtc) and of what the channel sent (the remote's acknowledgements: 3%),
 * this much a second (ICE consent checks, SCTP heartbeats), and this much more at any time (a channel's
 * data waiting in SCTP for a lost packet is counted by the connection first). Past it the link is cut.
 */
export const WEBRTC_STRAY_DATA_OVERHEAD_RECEIVED_RATIO = 1 / 4;
export const WEBRTC_STRAY_DATA_OVERHEAD_SENT_RATIO = 1 / 8;
export const WEBRTC_STRAY_DATA_BYTES_PER_SECOND = 16 * 1024;
/**
 * And this much per message the channel received or sent (an SCTP DATA chunk's headers and a DTLS
 * record's for one received, an acknowledgement for one sent): measured under @roamhq/wrtc, a ping-pong
 * of single small messages costs ~81 bytes a round at the transport beyond the messages themselves,
 * whatever their size. Without it, an honest peer exchanging ~3,600 small messages a second each way ran
 * past the slack in under a minute (over ~340 a second, in the end).
 */
export const WEBRTC_STRAY_DATA_OVERHEAD_PER_MESSAGE_BYTES = 64;
export const WEBRTC_STRAY_DATA_SLACK_BYTES = 8 * 1024 * 1024;
/** A received data channel message over this cuts the peer (ours are ≤ WEBRTC_MAX_CHUNK_BYTES). */
export const WEBRTC_MAX_MESSAGE_BYTES = 128 * 1024;
/** `close()` waits at most this long for buffered bytes to leave before tearing down. */
export const WEBRTC_CLOSE_FLUSH_TIMEOUT_MS = 5 * 1000;
/**
 * After asking the remote to hang up (an empty message: hang-up.ts), how long the RTCPeerConnection is kept
 * for it to close first; then it is closed anyway. Only the teardown waits: the link is closed at once.
 */
export const WEBRTC_HANG_UP_TIMEOUT_MS = 2 * 1000;
/** An answering session that has not connected after this long is dropped. */
export const WEBRTC_ACCEPT_TIMEOUT_MS = 15 * 1000;
/**
 * Answering sessions (offers received, not yet connected) kept at once; more offers are ignored, but
 * for one through a relay network holding at least two fewer than the busiest, which takes the place of
 * that network's oldest (Negotiations.answerToReplace).
 */
export const WEBRTC_MAX_PENDING_ACCEPTS = 32;
/**
 * Of those, offers delivered by one peer (a relay, or a peer signalling directly): one peer with made-up
 * `from` ids cannot hold every slot and lock out offers arriving through other relays.
 */
export const WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA = 8;
/**
 * …and by all relays of one network (the relay's IPv4 /16 or IPv6 /32, as the Switch counts it:
 * Peer.holder). Relay ids are free keys: one host connected to us with 4 of them held all 32 slots.
 * Twice one relay's, so two honest relays behind one NAT (or on one machine) still get their own. With
 * these taken, an offer through a host of the network holding at least two fewer than its busiest host
 * takes the place of that host's oldest (Negotiations.answerToReplace).
 */
export const WEBRTC_MAX_PENDING_ACCEPTS_PER_NETWORK = 2 * WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA;
/**
 * Of those, offers from one sender through the relays of one host (an IPv4 address, an IPv6 /64, as the
 * Switch counts it): one negotiation per (relay, sender) already gives a sender at most one slot of a
 * relay's; this stops one sender taking a slot at every relay key of a host (keys are free). Not
 * counted over all relays, nor over a network's: the sender is only a relay's word, and relays of two
 * networks, or on two other hosts of the honest relay's own network, naming an honest node as the
 * sender of offers held both its slots. The relays of one network still answer at most
 * WEBRTC_MAX_PENDING_ACCEPTS_PER_NETWORK in all, whichever senders they name.
 */
export const WEBRTC_MAX_PENDING_ACCEPTS_PER_SENDER = 2;
/**
 * Our own offers in flight at once, in all and through one relay. Each holds an RTCPeerConnection, and
 * a browser refuses one past 500 not yet garbage collected (uncollected-connections.ts): a flood of
 * addresses must not become one.
 */
export const WEBRTC_MAX_PENDING_DIALS = 16;
export const WEBRTC_MAX_PENDING_DIALS_PER_VIA = 8;
/**
 * Signals (offer or answer, ICE candidates) one remote may send into one negotiation: a browser sends
 * a description and a handful of candidates. Each candidate makes the RTCPeerConnection probe the
 * address it names, so a flood of them would turn us into a prober of others' hosts.
 */
export const WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION = 64;
/**
 * Of those, TCP candidates handed on; the rest are dropped. Our ICE agent connects to each at once (a
 * UDP candidate only shares its ~20 checks a second in all), so 60 had us open 240 TCP connections in
 * 2.5 s to host:ports of the remote's choosing (a LAN's services). An honest remote names one TCP
 * candidate per local address (Node's wrtc: passive ones; browsers: active ones, never connected to).
 */
export const WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION = 8;
/**
 * New answering RTCPeerConnections we open per minute, and at once, for offers delivered by one peer
 * (relay), and in all. A browser refuses its 501st RTCPeerConnection until garbage collection frees
 * closed ones (Chromium: ~26 s after a page goes idle; one under an offer storm collected once in 4
 * minutes), and an offer that fails at once frees its slot at once: without this a relay sending
 * failing offers from made-up senders made us open one per offer (240 in 3 s).
 */
export const WEBRTC_ANSWERS_PER_MINUTE_PER_VIA = 12;
export const WEBRTC_ANSWERS_BURST_PER_VIA = 8;
/** …and for offers delivered by all relays of one network (as WEBRTC_MAX_PENDING_ACCEPTS_PER_NETWORK): twice one relay's. */
export const WEBRTC_ANSWERS_PER_MINUTE_PER_NETWORK = 2 * WEBRTC_ANSWERS_PER_MINUTE_PER_VIA;
export const WEBRTC_ANSWERS_BURST_PER_NETWORK = 2 * WEBRTC_ANSWERS_BURST_PER_VIA;
export const WEBRTC_ANSWERS_PER_MINUTE = 60;
export const WEBRTC_ANSWERS_BURST = 32;
/**
 * New RTCPeerConnections our own dials open per minute, and at once, in all and through one relay. The
 * pending-dial caps hold how many are open at once, but a dial that fails at once (the relay answers
 * `unreachable`) frees its slot at once: peers handing a page made-up `webrtc://…?via=<peer>` addresses
 * through 8 of its peers had its PEX open ~10 a second, past a browser's 500 before garbage collection.
 * A page dials at most its few outbound peers, each address backing off after a failure.
 */
export const WEBRTC_DIALS_PER_MINUTE = 60;
export const WEBRTC_DIALS_BURST = WEBRTC_MAX_PENDING_DIALS;
export const WEBRTC_DIALS_PER_MINUTE_PER_VIA = 30;
export const WEBRTC_DIALS_BURST_PER_VIA = WEBRTC_MAX_PENDING_DIALS_PER_VIA;
/**
 * A network of relays we dialled through, or that delivered offers we answer, counts as sharing that
 * allowance for this long after its last ask (ConnectionAllowance): the networks in use split it, with
 * one share more for newcomers.
 */
export const WEBRTC_ALLOWANCE_NETWORK_ACTIVE_MS = 60 * 1000;
/** Delivering peers whose answer allowance is tracked (the most recent); one forgotten starts full. */
export const WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED = 256;
