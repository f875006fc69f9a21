/**
 * Text a peer chose (its moniker, a chat author's name, the message of its close reason) is printed to
 * the operator's terminal by `npm start`. Control characters (C0, DEL, C1: ANSI escape sequences that
 * clear the screen, retitle the window or forge earlier lines) and bidirectional overrides (text that
 * reads differently than it is) are shown as `\u{…}` escapes instead of acting on the terminal.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
}

/**
 * The same characters as U+FFFD, as the SDK does for a NodeInfo moniker: for what a peer writes in the
 * demo's own messages (a chat author's name and text, a topology announcement's moniker), which the
 * page shows. An unclosed bidi override in a chat author's name reversed the rest of its line (the route
 * and the text after it), and one in a moniker every label drawn after it.
 */
export function peerText(text: string): string {
  return text.replace(UNPRINTABLE, '\ufffd');
}
