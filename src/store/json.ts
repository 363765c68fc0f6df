/**
 * Older OpenClaw (2026.4.15–2026.6.x): `<state>/devices/paired.json` and
 * `pending.json` (SPEC §3b). Concurrent runs of this tool are serialised by a
 * lock; each file is replaced atomically (0600, folder 0700). The gateway
 * rewrites whole snapshots under an in-process lock only, so after writing we
 * check that our file is still there (else read it back) and redo the merge if
 * it clobbered our change.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, unlinkSync } from "node:fs";
import { gatewayListening } from "../openclaw/gateway.ts";
import { join } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";
import { ensurePrivateDir, fileStamp, writeFileAtomic } from "./atomic.ts";
import { withLock } from "./lock.ts";
import { checkpoint, simulateClobber } from "../testhooks.ts";
import { assertSameKey, isDeviceRecord, isObject, mergeDevice, type Approval, type DeviceEdit, type DeviceRecord, type ListedDevice, type StoreOutcome } from "./device.ts";

const MAX_REDO = 5;

type Files = { dir: string; paired: string; pending: string; lock: string };

/** The JSON store's folder and files (SPEC §3b), and our lock beside them. */
export const jsonFiles = (stateDir: string): Files => {
  const dir = join(stateDir, "devices");
  return { dir, paired: join(dir, "paired.json"), pending: join(dir, "pending.json"), lock: join(dir, "paired.json.kokochat-lock") };
};

type Parsed = { bytes: Buffer; value: Record<string, unknown> };
type Kept = Parsed & { isEntry: (value: unknown) => boolean };

/**
 * Parses kept for one later read of the same bytes: a pairing checks the store
 * before writing anything (preview, which only reads the result) and reads it
 * again under the lock; if the file has not changed, the second read reuses the
 * parse, a big file's main cost. Each is handed out once and then forgotten, so
 * a value the caller goes on to change is never returned for those bytes again.
 */
const kept = new Map<string, Kept>();

const CHUNK = 64 * 1024;

/** Whether the file at `path` holds exactly `bytes`: compared a chunk at a time, never read whole again. */
function holds(path: string, bytes: Buffer): boolean {
  const fd = openSync(path, "r");
  try {
    if (fstatSync(fd).size !== bytes.length) return false;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (let offset = 0; ; ) {
      const n = readSync(fd, chunk, 0, CHUNK, offset);
      if (n === 0) return offset === bytes.length;
      if (offset + n > bytes.length || !chunk.subarray(0, n).equals(bytes.subarray(offset, offset + n))) return false;
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A JSON object file of objects, with the bytes it was parsed from; missing
 * means empty (no bytes). Anything else is refused, the file untouched.
 * `keep`: the caller will not change the result, so it may be handed to the
 * next read of the same unchanged file.
 */
function readObjectFile(path: string, name: string, isEntry: (value: unknown) => boolean, keep = false): Parsed {
  const earlier = kept.get(path);
  kept.delete(path);
  let bytes: Buffer;
  try {
    if (earlier && earlier.isEntry === isEntry && holds(path, earlier.bytes)) return earlier;
    bytes = readFileSync(path);
  } catch (error) {
    if (errno(error) === "ENOENT") return { bytes: Buffer.alloc(0), value: {} };
    throw fsError(error, name);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new CliError("bad-store", `${name} is not valid JSON; nothing was changed: repair or move it aside, then pair again`);
  }
  if (!isObject(parsed) || !Object.values(parsed).every(isEntry))
    throw new CliError("bad-store", `${name} is not an object of device entries; nothing was changed: repair or move it aside, then pair again`);
  if (keep) kept.set(path, { isEntry, bytes, value: parsed });
  return { bytes, value: parsed };
}

type PairedFile = { bytes: Buffer; value: Record<string, DeviceRecord> };
const readPaired = (f: Files, keep = false) => readObjectFile(f.paired, "devices/paired.json", isDeviceRecord, keep) as PairedFile;
const readPending = (f: Files, keep = false) => readObjectFile(f.pending, "devices/pending.json", isObject, keep).value as Record<string, DeviceRecord>;

const entryLine = (key: string, entry: unknown) => `  ${JSON.stringify(key)}: ${JSON.stringify(entry)}`;

/**
 * One entry per line: as readable as an indented file and as fast as a compact
 * one (JSC's indenting stringify is ~20× slower: 19 ms for 1,000 devices).
 */
const serialise = (value: Record<string, unknown>) => {
  const entries = Object.entries(value)
    .filter(([, entry]) => entry !== undefined) // as JSON.stringify leaves them out
    .map(([key, entry]) => entryLine(key, entry));
  return entries.length === 0 ? "{}\n" : `{\n${entries.join(",\n")}\n}\n`;
};

/** JSON's blanks: space, tab, line feed, carriage return. */
const isBlank = (byte: number | undefined) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

/**
 * `file` with one more entry, `key` (not in it), as the new last line: the
 * file's own bytes up to its last entry, then the new entry and the closing
 * brace. No other entry is decoded or encoded again (the main cost of a big
 * file), and the gateway's own layout survives. `file.bytes` parsed as a JSON
 * object, so its last non-blank byte is that object's `}`.
 */
function withEntryAdded(file: PairedFile, key: string, entry: unknown): (string | Uint8Array)[] {
  const { bytes } = file;
  let end = bytes.length;
  while (isBlank(bytes[end - 1])) end--;
  if (Object.keys(file.value).length === 0 || bytes[end - 1] !== 0x7d) return [serialise({ ...file.value, [key]: entry })];
  end--; // the closing brace
  while (isBlank(bytes[end - 1])) end--;
  return [bytes.subarray(0, end), `,\n${entryLine(key, entry)}\n}\n`];
}

/** Under the lock no run of ours is writing: any temp file left is a crashed run's copy (holding tokens). */
function removeOrphanTemps(dir: string): void {
  for (const name of readdirSync(dir))
    if (/^\.(paired|pending)\.json\.[0-9a-f]+\.tmp$/.test(name))
      try {
        unlinkSync(join(dir, name));
      } catch {}
}

/**
 * Read, decide and write one device under the store's lock (SPEC §3b): read
 * paired.json (and pending.json when the device's pending requests are to go),
 * let `edit` decide, replace the file(s) atomically, then check (by stamp, else
 * by reading it back) and redo the whole step if the gateway's own snapshot
 * clobbered our write. The
 * devices folder must exist. Shared by pair and revoke; the result is the one
 * `edit` gave on the first attempt (the store as we found it).
 */
export async function modifyDeviceJson<T>(stateDir: string, deviceId: string, edit: DeviceEdit<T>, settleMs = 0): Promise<T> {
  const f = jsonFiles(stateDir);
  let first: { result: T } | undefined;
  /** How to recognise our change; undefined while the last step wrote nothing (nothing to watch then). */
  let applied: ((record: DeviceRecord | undefined) => boolean) | undefined;
  let asRead = (): Uint8Array => new Uint8Array(); // paired.json as the last step read it, for the test hook only
  const step = () =>
    withLock(f.lock, "devices/paired.json", () => {
      checkpoint("json-locked");
      removeOrphanTemps(f.dir);
      for (let attempt = 0; attempt < MAX_REDO; attempt++) {
        const file = readPaired(f);
        const paired = file.value;
        const before = Object.hasOwn(paired, deviceId) ? paired[deviceId] : undefined;
        const change = edit(before);
        first ??= { result: change.result };
        if (!change.next) {
          applied = undefined;
          return;
        }
        const pending = change.dropPending ? readPending(f) : {};
        // A new device is appended to the text as read; a changed one means writing every entry.
        const written = before === undefined ? withEntryAdded(file, deviceId, change.next) : serialise(Object.assign(paired, { [deviceId]: change.next }));
        const ours = writeFileAtomic(f.paired, written);
        asRead = () => file.bytes; // for the test hook
        simulateClobber("json-written", f.paired, asRead);
        const stale = Object.keys(pending).filter((key) => pending[key]?.deviceId === deviceId);
        if (stale.length > 0) {
          for (const key of stale) delete pending[key];
          writeFileAtomic(f.pending, serialise(pending));
        }
        const next = change.next;
        applied = change.isApplied ?? ((record) => JSON.stringify(record) === JSON.stringify(next));
        // The gateway may have written its own snapshot between our read and our rename.
        // Our file still there (same inode, size and mtime) settles it without reading
        // the file again (the big cost with many devices); anything else is parsed and
        // must hold our change.
        if (fileStamp(f.paired) === ours) return;
        try {
          if (applied(readPaired(f).value[deviceId])) return;
        } catch {
          // caught mid-write by a writer without our lock: treat it as a clobber and redo
        }
      }
      throw new CliError("busy", "devices/paired.json kept changing under us (is the gateway rewriting it?): try again in a moment");
    });
  try {
    await step();
    simulateClobber("json-unlocked", f.paired, asRead);
    if (settleMs > 0) await settle(f, deviceId, () => applied, step, settleMs);
  } catch (error) {
    throw fsError(error, "devices/paired.json");
  }
  return first!.result;
}

/**
 * A running older gateway rewrites the whole paired.json on every connect from
 * a snapshot it read earlier, under its in-process lock only: such a stale
 * snapshot can land after our read-back confirmed our change and silently undo
 * it. So, while that gateway runs, keep watching for `settleMs` (outside our
 * lock, so parallel pairings do not queue behind it); if the file changes and
 * our change is gone, do the whole locked step again and watch anew.
 */
async function settle(
  f: Files,
  deviceId: string,
  applied: () => ((record: DeviceRecord | undefined) => boolean) | undefined,
  step: () => Promise<void>,
  settleMs: number,
): Promise<void> {
  // Read the file at least once: a stale snapshot may have landed between our
  // read-back and this first look, and a stamp taken now would call it "ours".
  let seen = "";
  let deadline = Date.now() + settleMs;
  for (let redo = 0; Date.now() < deadline; ) {
    const isOurs = applied();
    if (!isOurs) return; // the last step wrote nothing: there is no change to keep
    await Bun.sleep(10);
    const now = fileStamp(f.paired);
    if (now === seen) continue;
    seen = now;
    let record: DeviceRecord | undefined;
    try {
      record = readPaired(f).value[deviceId];
    } catch {
      continue; // caught mid-write by someone without our lock: look again
    }
    if (isOurs(record)) continue;
    if (++redo > MAX_REDO)
      throw new CliError("busy", "the gateway keeps rewriting devices/paired.json over our change: try again in a moment");
    await step();
    seen = "";
    deadline = Date.now() + settleMs;
  }
}

/**
 * How long to watch paired.json after writing it: KOKOCHAT_JSON_SETTLE_MS, else
 * 1 s while the local gateway listens (it is the one rewriting the file), else 0.
 */
export async function jsonSettleMs(gatewayUrl: string): Promise<number> {
  const fixed = Number(process.env.KOKOCHAT_JSON_SETTLE_MS);
  if (process.env.KOKOCHAT_JSON_SETTLE_MS !== undefined && Number.isInteger(fixed) && fixed >= 0) return fixed;
  return (await gatewayListening(gatewayUrl)) ? 1000 : 0;
}

const operatorToken = (record: DeviceRecord | undefined) => (record?.tokens as { operator?: { token?: unknown } } | undefined)?.operator?.token;

export async function approveJson(stateDir: string, approval: Approval, settleMs = 0): Promise<StoreOutcome> {
  ensurePrivateDir(jsonFiles(stateDir).dir, "the devices folder");
  const rotated = await modifyDeviceJson(stateDir, approval.request.deviceId, (existing) => ({
    next: mergeDevice(existing, approval),
    dropPending: true,
    isApplied: (record) => operatorToken(record) === approval.token,
    result: existing !== undefined,
  }), settleMs);
  return { rotated };
}

/** Every paired device of devices/paired.json (none when it does not exist), newest approval first. */
export function listDevicesJson(stateDir: string): ListedDevice[] {
  const paired = readPaired(jsonFiles(stateDir)).value;
  const approved = (r: DeviceRecord) => (typeof r.approvedAtMs === "number" ? r.approvedAtMs : 0);
  return Object.entries(paired)
    .map(([id, record]) => ({ id, record, unreadable: [] }))
    .sort((a, b) => approved(b.record) - approved(a.record) || (a.id < b.id ? -1 : 1));
}

export function previewJson(stateDir: string, approval: Approval): StoreOutcome {
  const f = jsonFiles(stateDir);
  // Only read here: the parses are kept for approveJson's reads under the lock.
  const existing = readPaired(f, true).value[approval.request.deviceId];
  readPending(f, true);
  assertSameKey(existing, approval);
  return { rotated: existing !== undefined };
}
