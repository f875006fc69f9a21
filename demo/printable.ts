/**
 * Text a peer chose (its moniker, a chat author's name, the message of its close reason) is printed to
 * the operator's terminal by `npm start`. Control characters (C0, DEL, C1: ANSI escape sequences that
 * clear the screen, retitle the window or forge earlier lines) and bidirectional overrides (text that
 * reads differently than it is) are shown as `\u{…}` escapes instead of acting on the terminal.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
}
