/**
 * Device identity checks and secret generation. Randomness comes only from
 * crypto.getRandomValues.
 */
import { Point } from "@noble/ed25519";
import { createHash } from "node:crypto";
import { encodeBase64Url } from "../request/base64.ts";

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
export const deviceIdOf = (publicKey: Uint8Array): string => createHash("sha256").update(publicKey).digest("hex");

/** `n` random bytes as base64url without padding. */
export function randomToken(n: number): string {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return encodeBase64Url(bytes);
}
