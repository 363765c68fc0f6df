/**
 * Secrets and unique names. Randomness comes only from crypto.getRandomValues
 * (node:crypto's randomBytes would cost every run ~6 MiB to load).
 */
import { encodeBase64Url } from "../request/base64.ts";

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return bytes;
}

/** `n` random bytes as base64url without padding: tokens and relay secrets. */
export const randomToken = (n: number): string => encodeBase64Url(randomBytes(n));

/** `n` random bytes as lowercase hex: temp-file and lock-owner names. */
export const randomHex = (n: number): string => Buffer.from(randomBytes(n)).toString("hex");
