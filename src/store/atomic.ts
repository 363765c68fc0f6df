/**
 * Crash-safe file replacement: a temp file in the same folder, opened
 * exclusively with mode 0600, written, fsynced, renamed over the target, then
 * the folder fsynced. On any failure the temp file is removed and the target
 * is untouched.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
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

function renameWithRetry(from: string, to: string): void {
  // On Windows a reader holding the target open makes rename fail for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      return renameSync(from, to);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!isWindows || attempt >= 20 || !(code === "EPERM" || code === "EBUSY" || code === "EACCES")) throw error;
      Bun.sleepSync(5 * (attempt + 1));
    }
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined = openSync(temp, "wx", mode);
  try {
    checkpoint("atomic-open");
    fchmodSync(fd, mode);
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
    checkpoint("atomic-write");
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
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
}
