/**
 * The KokoChat phone, as far as pairing is concerned: an Ed25519 device
 * identity (SPEC §2), the pairing request it shows, the setup code it reads
 * (SPEC §5) and the signed `connect` handshake it makes (SPEC §6).
 *
 * Transport-agnostic: `connectPhone` takes a WebSocket URL, so the same client
 * talks to a gateway directly (ws://127.0.0.1:<port>) or through the relay
 * tunnel (<relay>/v1/gateway/<id>?secret=…).
 *
 * Nothing here logs; results carry no secret unless the caller asked for it
 * (a test must never print a token).
 */
import * as ed from "@noble/ed25519";
import { randomUUID } from "node:crypto";
import { DEFAULT_SCOPES, IOS_CLIENT, type Identity, type PhoneClient, type SetupCode } from "./requests.ts";

const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

/**
 * The setup code as the phone reads it: SPEC §5's base64url JSON, and also
 * already-decoded JSON or standard base64 (the spec lets the phone take those).
 */
export function readSetupCode(code: string): Omit<SetupCode, "relay"> & Partial<Pick<SetupCode, "relay">> {
  const text = code.trim();
  const json = text.startsWith("{") ? text : Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
  const value = JSON.parse(json) as SetupCode;
  if (typeof value.deviceToken !== "string" || typeof value.deviceId !== "string" || typeof value.url !== "string")
    throw new TypeError("setup code: expected url, deviceToken and deviceId strings");
  return value;
}

/** The v2 / v3 device-auth payloads the gateway verifies (SPEC §6). */
export function devicePayload(
  version: "v2" | "v3",
  p: {
    deviceId: string;
    clientId: string;
    clientMode: string;
    role: string;
    scopes: readonly string[];
    signedAtMs: number;
    token: string;
    nonce: string;
    platform?: string;
    deviceFamily?: string;
  },
): string {
  const base = [version, p.deviceId, p.clientId, p.clientMode, p.role, p.scopes.join(","), String(p.signedAtMs), p.token, p.nonce];
  if (version === "v2") return base.join("|");
  const norm = (v?: string) => (v ?? "").trim().toLowerCase();
  return [...base, norm(p.platform), norm(p.deviceFamily)].join("|");
}

export type ConnectOptions = {
  identity: Identity;
  /** the device token from the setup code */
  token: string;
  role?: string;
  scopes?: readonly string[];
  client?: PhoneClient;
  /** which signed payload to send (default v3) */
  payload?: "v2" | "v3";
  /** sign with this key instead of the identity's (a forgery) */
  signWith?: Uint8Array;
  /** present this public key / device id instead of the identity's */
  presentPublicKey?: string;
  presentDeviceId?: string;
  minProtocol?: number;
  maxProtocol?: number;
  /** overall budget for the handshake */
  timeoutMs?: number;
  /** send this Origin header (a browser-hosted phone does; a native one does not) */
  origin?: string;
};

export type ConnectError = { code?: string; message?: string; details?: Record<string, unknown> };

export type ConnectResult =
  | { ok: true; role: string | undefined; scopes: string[]; protocol: number | undefined; serverVersion: string | undefined; ms: number }
  | { ok: false; error: ConnectError; ms: number }
  | { ok: false; closed: { code: number; reason: string }; ms: number }
  | { ok: false; timeout: true; ms: number };

export const describeResult = (r: ConnectResult): string => {
  if (r.ok) return `hello-ok role=${r.role} scopes=${r.scopes.join(",")}`;
  if ("error" in r) return `refused ${r.error.code ?? "?"}${r.error.details?.code ? `/${r.error.details.code}` : ""}: ${r.error.message ?? ""}`;
  if ("closed" in r) return `closed ${r.closed.code} ${r.closed.reason}`;
  return `no answer in time`;
};

/**
 * One connect, exactly as the phone makes it: open the socket, wait for the
 * `connect.challenge` event, answer with a signed `connect` request, and
 * report the gateway's answer (hello-ok, an error, or a close).
 */
export async function connectPhone(url: string, options: ConnectOptions): Promise<ConnectResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const role = options.role ?? "operator";
  const scopes = [...(options.scopes ?? DEFAULT_SCOPES)];
  const client = options.client ?? IOS_CLIENT;
  const requestId = randomUUID();

  return new Promise<ConnectResult>((resolve) => {
    let settled = false;
    const ws = options.origin === undefined ? new WebSocket(url) : new WebSocket(url, { headers: { Origin: options.origin } } as any);
    const finish = (result: ConnectResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        ws.close(1000, "done");
      } catch {}
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, timeout: true, ms: elapsed() }), options.timeoutMs ?? 30_000);

    ws.onclose = (event) => finish({ ok: false, closed: { code: event.code, reason: event.reason }, ms: elapsed() });
    ws.onerror = () => {}; // a close always follows
    ws.onmessage = async (event) => {
      let frame: any;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (frame?.type === "event" && frame.event === "connect.challenge") {
        const nonce: string = frame.payload?.nonce;
        const ts: number = typeof frame.payload?.ts === "number" ? frame.payload.ts : Date.now();
        const deviceId = options.presentDeviceId ?? options.identity.deviceId;
        const message = devicePayload(options.payload ?? "v3", {
          deviceId,
          clientId: client.id,
          clientMode: client.mode,
          role,
          scopes,
          signedAtMs: ts,
          token: options.token,
          nonce,
          platform: client.platform,
          deviceFamily: client.deviceFamily,
        });
        const signature = await ed.signAsync(new TextEncoder().encode(message), options.signWith ?? options.identity.secretKey);
        ws.send(
          JSON.stringify({
            type: "req",
            id: requestId,
            method: "connect",
            params: {
              minProtocol: options.minProtocol ?? 3,
              maxProtocol: options.maxProtocol ?? 4,
              client: { ...client },
              role,
              scopes,
              caps: [],
              auth: { token: options.token },
              locale: "en-US",
              userAgent: `kokochat/${client.version}`,
              device: {
                id: deviceId,
                publicKey: options.presentPublicKey ?? options.identity.publicKeyB64,
                signature: b64u(signature),
                signedAt: ts,
                nonce,
              },
            },
          }),
        );
        return;
      }
      if (frame?.type === "res" && frame.id === requestId) {
        if (frame.ok && frame.payload?.type === "hello-ok") {
          const auth = frame.payload.auth ?? {};
          finish({
            ok: true,
            role: auth.role,
            scopes: Array.isArray(auth.scopes) ? [...auth.scopes].sort() : [],
            protocol: frame.payload.protocol,
            serverVersion: frame.payload.server?.version,
            ms: elapsed(),
          });
        } else {
          const error = frame.error ?? {};
          finish({ ok: false, error: { code: error.code, message: error.message, details: error.details }, ms: elapsed() });
        }
      }
    };
  });
}
