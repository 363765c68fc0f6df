/** Text for people about devices: store names, times, and device fields made safe for a terminal. */
import type { DeviceSummary } from "../devices.ts";
import type { StoreTarget } from "../store/select.ts";

/**
 * Names come from phones and from other programs' stores: control characters,
 * bidi overrides and zero-width characters become "?", and the text is bounded,
 * so a device name can never move the cursor, recolour or hide text.
 */
export function safeText(value: string | undefined, max = 60): string {
  if (value === undefined || value === "") return "-";
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|\p{Cs}/gu, "?");
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : clean;
}

/** `2026-11-25 16:30:12Z`, or "never"/"?" when there is no usable time. */
export function when(ms: number | undefined, none = "never"): string {
  if (ms === undefined) return none;
  if (!(Math.abs(ms) <= 8.64e15)) return "?";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function storeName(store: StoreTarget): string {
  if (store.kind === "json") return `JSON store ${store.path}`;
  const version = store.info?.appVersion ? `, OpenClaw ${store.info.appVersion}` : "";
  const schema = store.info?.schemaVersion !== undefined ? `schema ${store.info.schemaVersion}` : `user_version ${store.info?.userVersion ?? "?"}`;
  return `SQLite store ${store.path} (${schema}${version})`;
}

/** "KokoChat (ios, device a1b2c3d4e5f6…)" */
export const who = (d: DeviceSummary) => `${safeText(d.displayName)} (${safeText(d.platform, 20)}, device ${d.shortId}…)`;

function tokenLine(d: DeviceSummary): string {
  const op = d.tokens.find((t) => t.role === "operator");
  if (d.token === "unreadable") return "unreadable (tokens_json is not JSON)";
  if (!op) return "none";
  const parts = [`created ${when(op.createdAtMs, "?")}`];
  if (op.rotatedAtMs !== undefined) parts.push(`rotated ${when(op.rotatedAtMs)}`);
  if (op.revokedAtMs !== undefined) parts.push(`revoked ${when(op.revokedAtMs)}`);
  return `${op.state} (${parts.join(", ")})`;
}

/** One block per device; the full id is on its own line for copying. */
export function deviceBlock(d: DeviceSummary): string {
  const client = [d.clientId, d.clientMode && `(${d.clientMode})`].filter(Boolean).join(" ");
  const head = `${d.shortId}  ${safeText(d.displayName)}${d.operatorLabel ? ` "${safeText(d.operatorLabel)}"` : ""} — ${safeText(d.platform, 20)}${d.deviceFamily ? `/${safeText(d.deviceFamily, 20)}` : ""}, ${safeText(client || undefined)}`;
  const other = d.tokens.filter((t) => t.role !== "operator").map((t) => `${safeText(t.role, 20)} ${t.state}`);
  const lines = [
    head,
    `  device id   ${d.deviceId.replace(/[^0-9a-z]/gi, "?")}`,
    `  role        ${safeText(d.role)}; scopes ${d.scopes.length > 0 ? d.scopes.map((s) => safeText(s, 40)).join(", ") : "-"}`,
    `  token       ${tokenLine(d)}${other.length > 0 ? `; other tokens: ${other.join(", ")}` : ""}`,
    `  paired      ${when(d.createdAtMs, "?")}; approved ${when(d.approvedAtMs, "?")}${d.approvedVia ? ` via ${safeText(d.approvedVia, 20)}` : ""}`,
    `  last used   ${when(d.lastUsedAtMs)}`,
  ];
  if (d.unreadable) lines.push(`  problem     ${d.unreadable.join(", ")} not JSON: check it with 'openclaw devices list'`);
  return lines.join("\n");
}
