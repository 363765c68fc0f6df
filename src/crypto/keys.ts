/** Device identity checks: is a key a real Ed25519 point, and its device id. */
import { Point } from "@noble/ed25519";

/**
 * True when `bytes` is a strict RFC 8032 encoding (y < p, no "negative zero")
 * of a point on Ed25519 that is not of small order.
 */
export function isValidPublicKey(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  try {
    return !Point.fromBytes(bytes, false).isSmallOrder();
  } catch {
    return false;
  }
}

/** OpenClaw's device id: lowercase hex SHA-256 of the raw 32 public-key bytes. */
export const deviceIdOf = (publicKey: Uint8Array): string => Bun.SHA256.hash(publicKey, "hex");
