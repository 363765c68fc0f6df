/**
 * Older OpenClaw (2026.4.15–2026.6.x): `<state>/devices/paired.json` and
 * `pending.json` (SPEC §3b). Concurrent runs of this tool are serialised by a
 * lock; each file is replaced atomically (0600, folder 0700). The gateway
 * rewrites whole snapshots under an in-process lock only, so after writing we
 * read back and redo the merge if it clobbered our change.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { withLock } from "./lock.ts";
import { checkpoint, simulateClobber } from "../testhooks.ts";
import { assertSameKey, isDeviceRecord, isObject, mergeDevice, type Approval, type DeviceRecord } from "./device.ts";

const MAX_REDO = 5;

export const devicesDir = (stateDir: string) => join(stateDir, "devices");

type Files = { dir: string; paired: string; pending: string; lock: string };

const filesOf = (stateDir: string): Files => {
  const dir = devicesDir(stateDir);
  return { dir, paired: join(dir, "paired.json"), pending: join(dir, "pending.json"), lock: join(dir, "paired.json.kokochat-lock") };
};

type Kept = { isEntry: (value: unknown) => boolean; text: string; value: Record<string, unknown> };

/**
 * Parses kept for one later read of the same bytes: a pairing checks the store
 * before writing anything (preview, which only reads the result) and reads it
 * again under the lock; if the file has not changed, the second read reuses the
 * parse, a big file's main cost. Each is handed out once and then forgotten, so
 * a value the caller goes on to change is never returned for those bytes again.
 */
const kept = new Map<string, Kept>();

/**
 * A JSON object file of objects; missing means empty. Anything else is refused,
 * the file untouched. `keep`: the caller will not change the result, so it may
 * be handed to the next read of the same unchanged file.
 */
export function readObjectFile(path: string, name: string, isEntry: (value: unknown) => boolean, keep = false): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    kept.delete(path);
    if (errno(error) === "ENOENT") return {};
    throw fsError(error, name);
  }
  const earlier = kept.get(path);
  kept.delete(path);
  if (earlier && earlier.isEntry === isEntry && earlier.text === text) return earlier.value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError("bad-store", `${name} is not valid JSON; nothing was changed: repair or move it aside, then pair again`);
  }
  if (!isObject(parsed) || !Object.values(parsed).every(isEntry))
    throw new CliError("bad-store", `${name} is not an object of device entries; nothing was changed: repair or move it aside, then pair again`);
  if (keep) kept.set(path, { isEntry, text, value: parsed });
  return parsed;
}

const readPaired = (f: Files, keep = false) => readObjectFile(f.paired, "devices/paired.json", isDeviceRecord, keep) as Record<string, DeviceRecord>;
const readPending = (f: Files, keep = false) => readObjectFile(f.pending, "devices/pending.json", isObject, keep) as Record<string, DeviceRecord>;

/** The file's text, or undefined when it cannot be read (the caller then reads it the checked way). */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

const serialise = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export type JsonOutcome = { rotated: boolean };

/** Under the lock no run of ours is writing: any temp file left is a crashed run's copy (holding tokens). */
function removeOrphanTemps(dir: string): void {
  for (const name of readdirSync(dir))
    if (/^\.(paired|pending)\.json\.[0-9a-f]+\.tmp$/.test(name))
      try {
        unlinkSync(join(dir, name));
      } catch {}
}

export async function approveJson(stateDir: string, approval: Approval): Promise<JsonOutcome> {
  const f = filesOf(stateDir);
  const id = approval.request.deviceId;
  try {
    if (!existsSync(f.dir)) mkdirSync(f.dir, { mode: 0o700 });
  } catch (error) {
    if (errno(error) !== "EEXIST") throw fsError(error, "the devices folder");
  }
  return withLock(f.lock, "devices/paired.json", () => {
    checkpoint("json-locked");
    removeOrphanTemps(f.dir);
    let rotated: boolean | undefined;
    for (let attempt = 0; attempt < MAX_REDO; attempt++) {
      const paired = readPaired(f);
      const pending = readPending(f);
      const before = paired[id];
      rotated ??= before !== undefined;
      paired[id] = mergeDevice(before, approval);
      const written = serialise(paired);
      writeFileAtomic(f.paired, written);
      // Test hook; the snapshot (paired.json as read) is serialised only when it is armed.
      simulateClobber("json-written", f.paired, () => serialise({ ...paired, [id]: before }));
      const stale = Object.keys(pending).filter((key) => pending[key]?.deviceId === id);
      if (stale.length > 0) {
        for (const key of stale) delete pending[key];
        writeFileAtomic(f.pending, serialise(pending));
      }
      // The gateway may have written its own snapshot between our read and our rename.
      // Our bytes still there settle it without parsing the file again (the big cost
      // with many devices); anything else is parsed and must hold our token.
      if (readText(f.paired) === written) return { rotated };
      const token = (readPaired(f)[id]?.tokens as { operator?: { token?: unknown } } | undefined)?.operator?.token;
      if (token === approval.token) return { rotated };
    }
    throw new CliError("busy", "devices/paired.json kept changing under us (is the gateway rewriting it?): try again in a moment");
  }).catch((error) => {
    throw fsError(error, "devices/paired.json");
  });
}

export function previewJson(stateDir: string, approval: Approval): JsonOutcome {
  const f = filesOf(stateDir);
  // Only read here: the parses are kept for approveJson's reads under the lock.
  const existing = readPaired(f, true)[approval.request.deviceId];
  readPending(f, true);
  assertSameKey(existing, approval);
  return { rotated: existing !== undefined };
}
