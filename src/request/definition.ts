/**
 * The pairing request (SPEC §2) as an arktype definition: the one source of
 * truth for its shape. The tool does not load arktype at run time (building
 * its keyword scopes costs far more than a whole pairing): at build time the
 * macro below turns this definition into arktype's own JSON form of the
 * schema, which schema.ts hands to arktype's core (`@ark/schema`).
 * test/schema-sync.test.ts checks that both forms accept and refuse the same
 * inputs with the same messages.
 */
import { type } from "arktype";

export const REQUEST_TYPE = "kokochat.pairingRequest";

// Printable: no control, format (bidi overrides, zero-width), surrogate, private-use or unassigned code points.
const printable = (max: number) => type(new RegExp(`^[^\\p{C}]{1,${max}}$`, "u")).describe(`1–${max} printable characters`);

export const PairingRequest = type({
  "+": "delete",
  type: `'${REQUEST_TYPE}'`,
  version: "1",
  deviceId: type(/^[0-9a-f]{64}$/).describe("64 lowercase hex characters (SHA-256 of the public key)"),
  publicKey: type(/^[A-Za-z0-9_-]{43}$/).describe("base64url without padding of a 32-byte Ed25519 key"),
  "role?": "'operator'",
  "scopes?": printable(64).array().atMostLength(32),
  "client?": {
    "+": "delete",
    "id?": "'openclaw-ios' | 'openclaw-android' | 'webchat'",
    "version?": printable(64),
    "platform?": printable(32),
    "mode?": "'ui' | 'webchat'",
    "displayName?": printable(64),
    "deviceFamily?": printable(64),
  },
});
export type PairingRequest = typeof PairingRequest.infer;

/**
 * Bun macro (imported `with { type: "macro" }`): runs when the code is bundled
 * or transpiled, and its result is inlined as a literal.
 */
export const pairingRequestJson = (): object => PairingRequest.json as object;
