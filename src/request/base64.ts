/**
 * Strict, canonical base64 (RFC 4648 §4) and base64url (§5) codecs.
 * Canonical means: only the alphabet's characters, no whitespace, padding only
 * where allowed and exactly as long as needed, and zero unused trailing bits —
 * so each byte string has exactly one accepted text form.
 */

const URL_RE = /^[A-Za-z0-9_-]*$/;

/** Unused bits in the last character must be zero; a length of 4n+1 can never be valid. */
function canonicalLength(body: string, alphabetIndex: (c: string) => number): boolean {
  const rem = body.length % 4;
  if (rem === 1) return false;
  if (rem === 0) return true;
  const last = alphabetIndex(body[body.length - 1]!);
  const unusedBits = rem === 2 ? 4 : 2;
  return (last & ((1 << unusedBits) - 1)) === 0;
}

const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** base64url without padding, canonical. Returns undefined when `text` is not exactly that. */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  if (!URL_RE.test(text) || !canonicalLength(text, (c) => URL_ALPHABET.indexOf(c))) return undefined;
  return new Uint8Array(Buffer.from(text, "base64url"));
}

/** Standard base64, padded or unpadded (padding, if present, must be exact), canonical. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(text);
  if (!match) return undefined;
  const body = match[1]!;
  // A padded form is a whole number of quads; with that, the pad count is forced by the body length.
  if (match[2]!.length > 0 && text.length % 4 !== 0) return undefined;
  if (!canonicalLength(body, (c) => STD_ALPHABET.indexOf(c))) return undefined;
  return new Uint8Array(Buffer.from(body, "base64"));
}

export const encodeBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");
