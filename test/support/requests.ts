/** Phone-side identities and pairing requests, made the way KokoChat makes them (SPEC §2). */
import * as ed from "@noble/ed25519";
import { createHash } from "node:crypto";

// Synchronous noble calls need a SHA-512; node:crypto's is the phone-equivalent reference.
ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash("sha512").update(message).digest());

export type Identity = { secretKey: Uint8Array; publicKey: Uint8Array; publicKeyB64: string; deviceId: string };

export function newIdentity(): Identity {
  const secretKey = ed.utils.randomSecretKey();
  const publicKey = ed.getPublicKey(secretKey);
  return {
    secretKey,
    publicKey,
    publicKeyB64: Buffer.from(publicKey).toString("base64url"),
    deviceId: createHash("sha256").update(publicKey).digest("hex"),
  };
}

export const DEFAULT_SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.talk.secrets"];

/** The `client` block of a request (SPEC §2). */
export type PhoneClient = { id: string; version: string; platform: string; mode: string; displayName: string; deviceFamily?: string };

export const IOS_CLIENT: PhoneClient = { id: "openclaw-ios", version: "0.0.1", platform: "ios", mode: "ui", displayName: "KokoChat" };

export function requestJson(id: Identity, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "kokochat.pairingRequest",
    version: 1,
    deviceId: id.deviceId,
    publicKey: id.publicKeyB64,
    role: "operator",
    scopes: DEFAULT_SCOPES,
    client: { ...IOS_CLIENT },
    ...overrides,
  };
}

/** The code the phone shows: base64url (no padding) of the UTF-8 JSON. */
export const encodeRequest = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export const requestCode = (id: Identity, overrides: Record<string, unknown> = {}) => encodeRequest(requestJson(id, overrides));

/** A chat message as the phone composes it: prose, then a shell command holding the code. */
export const chatMessage = (code: string) =>
  `Please pair my KokoChat app with this OpenClaw.\n\nRun:\n\`\`\`bash\nKOKOCHAT_PAIRING_REQUEST='${code}' kokochat-pairing\n\`\`\`\nThen send me the connection code. Thanks!`;

export type SetupCode = { url: string; deviceToken: string; deviceId: string; relay: { id: string; mode: string } };

export const decodeSetupCode = (line: string): SetupCode => JSON.parse(Buffer.from(line.trim(), "base64url").toString("utf8"));
