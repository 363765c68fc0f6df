/**
 * The pairing request (SPEC §2) as an arktype definition: the one source of
 * truth for its shape. The tool does not load arktype at run time (building
 * its keyword scopes costs far more than a whole pairing). At build time the
 * macros below turn this definition into what arktype itself would make of it
 * at run time: the check it compiles to JavaScript, and its JSON form, which
 * arktype's core (`@ark/schema`) rebuilds to explain a refusal.
 * test/schema-sync.test.ts checks that every form accepts, cleans and refuses
 * alike.
 */
import { NodeCompiler } from "@ark/schema";
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

/*
 * Bun macros (imported `with { type: "macro" }`): they run when the code is
 * bundled or transpiled, and their results are inlined as literals.
 */

/** arktype's JSON form of the schema. */
export const pairingRequestJson = (): object => PairingRequest.json as object;

export type CompiledAllows = { entry: string; source: string };

/**
 * The JavaScript arktype compiles for `PairingRequest.allows` (its JIT output,
 * one method per schema node, as @ark/schema's scope precompiles it): an
 * object literal whose `entry` method is the whole check.
 */
export function pairingRequestAllows(): CompiledAllows {
  const root = PairingRequest.internal;
  const methods = root.references.map((node) => {
    const js = new NodeCompiler({ kind: "Allows" }).indent();
    node.compile(js);
    return js.write(`${node.id}Allows`);
  });
  const source = `{\n${methods.join(",\n")}\n}`;
  // Self-contained only: a reference into arktype's runtime registry would not exist without arktype.
  if (source.includes("$ark")) throw new Error("the compiled PairingRequest check refers to arktype's runtime registry");
  return { entry: `${root.id}Allows`, source };
}
