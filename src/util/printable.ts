/**
 * Text a peer chose (its moniker and software in NodeInfo, the words of its close reason, a network
 * name we refuse) reaches apps that print it: the quick start logs `reason.message` as is. Control
 * characters there would let a peer drive the operator's terminal (ANSI escapes: clear the screen,
 * recolour, set the window title), forge log lines with a newline, or reorder what is shown with
 * bidirectional overrides. Each such character becomes U+FFFD, so the text keeps its length and shape.
 */
const UNPRINTABLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, '\ufffd');
}

/**
 * `printable`, cut to `maxChars`: for messages of a lower layer (the WebRTC stack's) that quote what the
 * peer wrote. libwebrtc refusing a description names its offending line, up to the 12,000 characters
 * a description may hold, and our error message would carry them all to every log line that prints it.
 */
export function quotedPeerText(text: string, maxChars: number): string {
  return printable(text.length > maxChars ? `${text.slice(0, maxChars)}…` : text);
}
