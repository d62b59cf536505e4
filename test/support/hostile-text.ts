// Strings an attacker sends: any code point (astral, controls, U+2028), NUL, lone surrogates, whole
// graphemes. fast-check's 'binary' unit never makes a lone surrogate and its default never a NUL,
// so both are mixed in here on purpose. The oracle for "must be refused" is independent of the
// project's schemas: String#isWellFormed (Node 20) and includes('\0').
import fc from 'fast-check';

export const NUL = '\u0000';

const codePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
const grapheme = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 });
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n));

// One unit of hostile text: mostly real characters, now and then a NUL or half a surrogate pair.
const hostileUnit = fc.oneof(
  { arbitrary: codePoint, weight: 6 },
  { arbitrary: grapheme, weight: 3 },
  { arbitrary: fc.constant(NUL), weight: 1 },
  { arbitrary: loneSurrogate, weight: 1 },
);

// Any text at all, good or bad.
export const anyText = (maxLength = 40) => fc.string({ unit: hostileUnit, maxLength });

// Text that must be refused: it holds a NUL or a lone surrogate somewhere.
export const refusedText = fc
  .tuple(anyText(20), fc.oneof(fc.constant(NUL), loneSurrogate), anyText(20))
  .map(([before, bad, after]) => before + bad + after)
  .filter(mustBeRefused);

export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

export function mustBeRefused(s: string): boolean {
  return s.includes(NUL) || !isWellFormed(s);
}

// Percent-encodes for a URL as a hostile client would: well-formed code points as UTF-8, a lone
// surrogate as its three generalized-UTF-8 bytes (%ED%xx%xx), which are no UTF-8 at all.
export function percentEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const unit = ch.charCodeAt(0);
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}
