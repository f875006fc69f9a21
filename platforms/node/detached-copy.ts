/**
 * A copy of `text` sharing no memory with the string it came from. V8 makes a slice (or a trim) of 13
 * characters or more a view into its parent, and a concatenation keeps its parts the same way, so a short
 * text cut out of a large one kept all of it alive for as long as the short one lived. A round trip
 * through a Buffer always makes a new flat string (`(' ' + s).slice(1)` and the like make views again).
 */
export function detachedCopy(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}
