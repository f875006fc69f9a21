/**
 * The little XML that UPnP needs: elements by local name (any namespace prefix), text-only children,
 * CDATA, the five entities and character references. The text comes from whoever answered our SSDP
 * search, so anyone on the LAN: these are forward scanners, linear in the input, where the regular
 * expressions they replace backtracked quadratically (a 256 KiB answer of `<a ` repeated stalled the
 * event loop for 7 s). Each search for a '<', a '>' or a closing tag remembers its answer, so starts
 * that fail never scan the same text twice.
 */

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const WHITESPACE = /\s/;

/** Decodes the five predefined entities and numeric character references. */
export function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (match, entity: string) => {
    if (entity.startsWith('#x')) return safeCodePoint(Number.parseInt(entity.slice(2), 16), match);
    if (entity.startsWith('#')) return safeCodePoint(Number.parseInt(entity.slice(1), 10), match);
    return XML_ENTITIES[entity] ?? match;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]!};`);
}

/** Inner XML of every `<[prefix:]name ...>...</[prefix:]name>` (not nested in itself); '' for `<name/>`. */
export function xmlElements(xml: string, localName: string): string[] {
  const scan = new Scanner(xml);
  const found: string[] = [];
  /** A closing tag of localName was looked for from here and there is none: none after it either. */
  let noCloseFrom = Number.POSITIVE_INFINITY;
  let at = scan.next('<', 0);
  while (at >= 0) {
    const open = scan.openTag(at);
    if (open === undefined || open.name !== localName) {
      at = scan.next('<', at + 1);
      continue;
    }
    if (open.selfClosing) {
      found.push('');
      at = scan.next('<', open.end);
      continue;
    }
    const close = open.end >= noCloseFrom ? undefined : scan.closeTag(open.end, localName);
    if (close === undefined) {
      noCloseFrom = Math.min(noCloseFrom, open.end);
      at = scan.next('<', at + 1);
      continue;
    }
    found.push(xml.slice(open.end, close.start));
    at = scan.next('<', close.end);
  }
  return found;
}

/** Decoded, trimmed text of the first `localName` element, or undefined. */
export function xmlText(xml: string, localName: string): string | undefined {
  const inner = xmlElements(xml, localName)[0];
  return inner === undefined ? undefined : decodeXmlText(stripCdata(inner)).trim();
}

function stripCdata(text: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const open = text.indexOf(CDATA_OPEN, from);
    const close = open < 0 ? -1 : text.indexOf(CDATA_CLOSE, open + CDATA_OPEN.length);
    // No complete section from here on: no later opening can find a close either.
    if (close < 0) return out + text.slice(from);
    out += text.slice(from, open) + text.slice(open + CDATA_OPEN.length, close);
    from = close + CDATA_CLOSE.length;
  }
}

/** The simple child elements of `inner` as name -> decoded text (namespace prefixes dropped). */
export function xmlChildren(inner: string): Record<string, string> {
  const scan = new Scanner(inner);
  const children: Record<string, string> = {};
  let at = scan.next('<', 0);
  while (at >= 0) {
    const open = scan.openTag(at);
    if (open === undefined) {
      at = scan.next('<', at + 1);
      continue;
    }
    if (open.selfClosing) {
      children[open.name] = '';
      at = scan.next('<', open.end);
      continue;
    }
    // Text only: the element's closing tag must be the very next tag.
    const textEnd = scan.next('<', open.end, 'text end');
    const close = textEnd < 0 ? undefined : scan.closeTagAt(textEnd);
    if (close === undefined || close.name !== open.name) {
      at = scan.next('<', at + 1);
      continue;
    }
    children[open.name] = decodeXmlText(inner.slice(open.end, textEnd)).trim();
    at = scan.next('<', close.end);
  }
  return children;
}

interface OpenTag {
  /** Local name (prefix dropped). */
  name: string;
  selfClosing: boolean;
  /** Index just past the tag's '>'. */
  end: number;
}

interface CloseTag {
  name: string;
  /** Index of its '<'. */
  start: number;
  /** Index just past its '>'. */
  end: number;
}

/** Name characters as the replaced patterns had them: [\w.-]. */
function isNameChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x2e || code === 0x2d
  );
}

/** Positions in one text, with memory so that failed starts do not rescan. */
class Scanner {
  private readonly lastFound = new Map<string, { from: number; at: number }>();
  private lastClose: { start: number; tag: CloseTag | undefined } | undefined;

  constructor(private readonly text: string) {}

  /**
   * indexOf(char, from), remembering the last answer per `slot`: a later `from` up to it gets it again
   * free. Each caller's `from` only moves forward, and keeps a slot of its own so that two callers do
   * not evict each other's answer.
   */
  next(char: string, from: number, slot: string = char): number {
    const last = this.lastFound.get(slot);
    if (last !== undefined && from >= last.from && (last.at < 0 || from <= last.at)) return last.at;
    const at = this.text.indexOf(char, from);
    this.lastFound.set(slot, { from, at });
    return at;
  }

  /** `[prefix:]name` starting at `from`: the local name and the index after it. */
  private qualifiedName(from: number): { name: string; end: number } | undefined {
    const text = this.text;
    let end = from;
    while (end < text.length && isNameChar(text.charCodeAt(end))) end++;
    if (end === from) return undefined;
    if (text[end] !== ':') return { name: text.slice(from, end), end };
    const localStart = end + 1;
    let localEnd = localStart;
    while (localEnd < text.length && isNameChar(text.charCodeAt(localEnd))) localEnd++;
    return localEnd === localStart ? undefined : { name: text.slice(localStart, localEnd), end: localEnd };
  }

  /** The opening tag whose '<' is at `at`: `<[p:]name>`, `<[p:]name/>` or `<[p:]name attrs[/]>`. */
  openTag(at: number): OpenTag | undefined {
    const qualified = this.qualifiedName(at + 1);
    if (qualified === undefined) return undefined;
    const { name, end } = qualified;
    const after = this.text[end];
    if (after === '>') return { name, selfClosing: false, end: end + 1 };
    if (after === '/') return this.text[end + 1] === '>' ? { name, selfClosing: true, end: end + 2 } : undefined;
    if (after === undefined || !WHITESPACE.test(after)) return undefined;
    const close = this.next('>', end);
    if (close < 0) return undefined;
    return { name, selfClosing: this.text[close - 1] === '/', end: close + 1 };
  }

  /** The closing tag `</[p:]name\s*>` whose '<' is at `at`, if that is one. */
  closeTagAt(at: number): CloseTag | undefined {
    if (this.lastClose?.start === at) return this.lastClose.tag;
    let tag: CloseTag | undefined;
    if (this.text[at + 1] === '/') {
      const qualified = this.qualifiedName(at + 2);
      if (qualified !== undefined) {
        let end = qualified.end;
        while (end < this.text.length && WHITESPACE.test(this.text[end]!)) end++;
        if (this.text[end] === '>') tag = { name: qualified.name, start: at, end: end + 1 };
      }
    }
    this.lastClose = { start: at, tag };
    return tag;
  }

  /** The first closing tag of local name `name` at or after `from`. */
  closeTag(from: number, name: string): CloseTag | undefined {
    for (let at = this.text.indexOf('</', from); at >= 0; at = this.text.indexOf('</', at + 2)) {
      const tag = this.closeTagAt(at);
      if (tag?.name === name) return tag;
    }
    return undefined;
  }
}
