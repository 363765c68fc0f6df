/**
 * Crash-safe file replacement: a temp file in the same folder, opened
 * exclusively with mode 0600, written, fsynced, renamed over the target, then
 * the folder fsynced (not on Windows, where a folder cannot be opened for
 * fsync: NTFS journals the rename itself). On any failure the temp file is
 * removed and the target is untouched.
 */
import { closeSync, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync, type BigIntStats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomHex } from "../crypto/random.ts";
import { CliError, errno, fsError } from "../errors.ts";
import { checkpoint } from "../testhooks.ts";

const isWindows = process.platform === "win32";

function fsyncDir(dir: string): void {
  if (isWindows) return; // directories cannot be opened for fsync there
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** How long a rename may wait for another program to let go of the target on Windows. */
export const RENAME_RETRY_MS = 2000;
const RENAME_DELAY_CAP_MS = 250;

/** The Windows codes for "someone holds the target open": a reader, an indexer, an antivirus scan. */
const HELD = new Set(["EPERM", "EBUSY", "EACCES"]);

export type RenameDeps = {
  windows: boolean;
  rename: (from: string, to: string) => void;
  sleep: (ms: number) => void;
  now: () => number;
};

const realDeps: RenameDeps = { windows: isWindows, rename: renameSync, sleep: Bun.sleepSync, now: Date.now };

/**
 * rename() over the target. On Windows a program holding the target open makes
 * rename fail for a moment: retry with a short doubling delay for at most
 * RENAME_RETRY_MS, then give up as busy (75). Never falls back to copying over
 * the target, which would not be atomic. Elsewhere a failure is final.
 */
export function renameWithRetry(from: string, to: string, deps: RenameDeps = realDeps): void {
  const deadline = deps.now() + RENAME_RETRY_MS;
  for (let delay = 10; ; delay = Math.min(delay * 2, RENAME_DELAY_CAP_MS)) {
    try {
      return deps.rename(from, to);
    } catch (error) {
      const code = errno(error);
      if (!deps.windows || code === undefined || !HELD.has(code)) throw error;
      const left = deadline - deps.now();
      if (left <= 0)
        throw new CliError("busy", `${basename(to)} is held open by another program (${code}): close it or wait for it, then try again`);
      deps.sleep(Math.min(delay, left));
    }
  }
}

/** All of `data`. A string is written as it is (no copy of a big file into a Buffer first) unless the write comes up short. */
function writeAll(fd: number, data: string | Uint8Array | readonly (string | Uint8Array)[]): void {
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    for (const part of data) writeAll(fd, part);
    return;
  }
  let bytes: Uint8Array;
  if (typeof data === "string") {
    const done = writeSync(fd, data);
    if (done === Buffer.byteLength(data)) return;
    bytes = Buffer.from(data).subarray(done);
  } else bytes = data;
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

/**
 * A file's identity and last write: changes when the file is replaced (a new
 * inode) or written in place (size, mtime to the nanosecond the file system
 * keeps). "missing" when there is no file.
 */
export type FileStamp = string;

const stampOf = (s: BigIntStats): FileStamp => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;

export function fileStamp(path: string): FileStamp {
  try {
    return stampOf(statSync(path, { bigint: true }));
  } catch {
    return "missing";
  }
}

/**
 * Replace `path` with `data` (or its parts, one after another); returns the stamp of the file written, so a
 * caller can tell later, without reading it, that it is still there.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly (string | Uint8Array)[], mode = 0o600): FileStamp {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomHex(6)}.tmp`);
  let fd: number | undefined = openSync(temp, "wx", mode);
  let written: FileStamp;
  try {
    checkpoint("atomic-open");
    fchmodSync(fd, mode);
    writeAll(fd, data);
    checkpoint("atomic-write");
    fsyncSync(fd);
    written = stampOf(fstatSync(fd, { bigint: true }));
    const closing = fd;
    fd = undefined; // closed even when close reports an error: never closed twice
    closeSync(closing);
    checkpoint("atomic-rename");
    renameWithRetry(temp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {}
    throw error;
  }
  fsyncDir(dir);
  return written;
}

/** Create `dir` (mode 0700) unless it exists; `what` names it in an error. */
export function ensurePrivateDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if (errno(error) !== "EEXIST") throw fsError(error, what);
  }
}
