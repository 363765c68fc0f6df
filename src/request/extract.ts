/**
 * Find the pairing request in whatever the user pasted: raw JSON, base64url or
 * standard base64, alone or inside a whole chat message (prose plus a shell
 * command). Every candidate is decoded strictly and validated; two different
 * valid requests are refused as ambiguous.
 */
import { CliError } from "../errors.ts";
import { decodeBase64, decodeBase64Url } from "./base64.ts";
import { looksLikeRequest, REQUEST_TYPE, validateRequest, type ValidRequest } from "./schema.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Smallest plausible encoded request: a deviceId and key alone exceed this. */
const MIN_ENCODED = 100;
/** Bound the work a hostile message can cause: candidates tried, and how far one JSON object may reach. */
const MAX_CANDIDATES = 256;
const MAX_OBJECT_CHARS = 64 * 1024;

function parseJsonObject(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined; // includes RangeError from absurd nesting
  }
}

/** Strict decode of one base64 or base64url token to a JSON object, or undefined. */
function decodeToken(token: string): unknown {
  const bytes = /[+/=]/.test(token) ? decodeBase64(token) : decodeBase64Url(token);
  if (!bytes) return undefined;
  try {
    return parseJsonObject(utf8.decode(bytes));
  } catch {
    return undefined; // not UTF-8
  }
}

/** The index just past the `}` closing the object opened at `start` (within MAX_OBJECT_CHARS), honouring JSON strings. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  const end = Math.min(text.length, start + MAX_OBJECT_CHARS);
  for (let i = start; i < end; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i + 1;
  }
  return -1;
}

/** Every decoded object in `text` that might be the request, whole-input forms first. */
function candidates(text: string): unknown[] {
  const found: unknown[] = [];
  const trimmed = text.trim();
  const whole = parseJsonObject(trimmed) ?? decodeToken(trimmed);
  // A whole input that is some other JSON (a chat export, say) may still hold the request: scan it.
  if (looksLikeRequest(whole)) return [whole];

  if (text.includes(REQUEST_TYPE)) {
    // Only an object that opens with a key can be a request; each try scans a bounded window.
    const starts = text.matchAll(/\{\s*"/g);
    let tries = 0;
    for (let next = starts.next(); !next.done && tries++ < MAX_CANDIDATES; next = starts.next()) {
      const i = next.value.index;
      const end = closingBrace(text, i);
      const value = end === -1 ? undefined : parseJsonObject(text.slice(i, end));
      if (looksLikeRequest(value)) found.push(value);
    }
  }

  let tried = 0;
  for (const [run] of text.matchAll(/[A-Za-z0-9+/_-]+={0,2}/g)) {
    if (run.length < MIN_ENCODED) continue;
    if (++tried > MAX_CANDIDATES) break;
    let value = decodeToken(run);
    // A code glued to a path or URL ("…/eyJ…"): try its base64url-only pieces.
    if (value === undefined && /[+/]/.test(run))
      for (const [piece] of run.matchAll(/[A-Za-z0-9_-]+/g))
        if (piece.length >= MIN_ENCODED && looksLikeRequest((value = decodeToken(piece)))) break;
    if (looksLikeRequest(value)) found.push(value);
  }
  return found;
}

/** The one valid request in `text`. Exit 66 when there is none, 65 when invalid or ambiguous. */
export function extractRequest(text: string): ValidRequest {
  const found = candidates(text);
  const whole = found.length === 0 ? parseJsonObject(text) : undefined;
  if (whole !== undefined) return validateRequest(whole); // JSON that is not a request: say what is wrong with it
  if (found.length === 0)
    throw new CliError("no-request", "no KokoChat pairing request found in the input: copy the code from KokoChat's pairing page and pass it whole");
  const valid = new Map<string, ValidRequest>();
  let firstError: unknown;
  for (const value of found) {
    try {
      const request = validateRequest(value);
      valid.set(JSON.stringify(request), request);
    } catch (error) {
      firstError ??= error;
    }
  }
  if (valid.size > 1)
    throw new CliError("invalid-request", `the input holds ${valid.size} different pairing requests: pass only the one you want to approve`);
  const [only] = valid.values();
  if (only) return only;
  throw firstError;
}
