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
