/** The setup code the phone pastes back (SPEC §5). Never a LAN or direct gateway URL, never the gateway's shared token. */
import { encodeBase64Url } from "../request/base64.ts";
import type { RelayCredentials } from "./credentials.ts";

export type SetupCode = {
  url: string;
  deviceToken: string;
  deviceId: string;
  relay: { id: string; mode: "gateway-tunnel" };
};

export function setupCode(relay: RelayCredentials, deviceId: string, deviceToken: string): string {
  const code: SetupCode = {
    url: `${relay.relayUrl}/v1/gateway/${encodeURIComponent(relay.relayId)}?secret=${encodeURIComponent(relay.relaySecret)}`,
    deviceToken,
    deviceId,
    relay: { id: relay.relayId, mode: "gateway-tunnel" },
  };
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify(code)));
}
