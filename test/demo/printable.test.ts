import { describe, expect, it } from 'vitest';
import { printable } from '../../demo/printable.js';

describe('printable (what npm start prints of peer-chosen text)', () => {
  it('shows ANSI escapes, other control characters and bidi overrides as escapes, and leaves other text alone', () => {
    expect(printable('\u001b[2J\u001b]0;pwned\u0007relay')).toBe('\\u{1b}[2J\\u{1b}]0;pwned\\u{7}relay');
    expect(printable('line\r\nforged: connected to bank')).toBe('line\\u{d}\\u{a}forged: connected to bank');
    expect(printable('\u009b31mred\u007f')).toBe('\\u{9b}31mred\\u{7f}');
    expect(printable('abc\u202edcba\u2066')).toBe('abc\\u{202e}dcba\\u{2066}');
    expect(printable('relay-2 (ünïcødé, 中文, 🙂)')).toBe('relay-2 (ünïcødé, 中文, 🙂)');
  });
});
