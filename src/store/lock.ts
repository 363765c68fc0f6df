/**
 * A cross-process lock for files only this tool coordinates on.
 *
 * The lock is a folder that appears atomically together with its owner file:
 * it is built under a unique temporary name and renamed into place (a rename
 * onto an existing, non-empty folder fails everywhere). A lock whose owner is
 * dead, or that is far older than any run, is stale; it is broken only under a
 * second guard folder and only if it still holds the very owner judged stale,
 * so two breakers can never remove a lock that a third run has just taken.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomHex } from "../crypto/random.ts";
import { CliError, errno, fsError } from "../errors.ts";
import { renameWithRetry } from "./atomic.ts";

export type LockOptions = { timeoutMs?: number; staleMs?: number };

type Owner = { pid: number; nonce: string };

const OWNER = "owner.json";
const GUARD_STALE_MS = 10_000;

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
/** How long to wait for a busy store or lock before exit 75 (KOKOCHAT_BUSY_TIMEOUT_MS, default 15 s). */
export function busyTimeoutMs(): number {
  const value = Number(process.env.KOKOCHAT_BUSY_TIMEOUT_MS);
  return Number.isInteger(value) && value >= 0 ? value : 15_000;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === "EPERM"; // exists, owned by someone else
  }
}

function readOwner(lockPath: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(lockPath, OWNER), "utf8"));
    return typeof owner?.pid === "number" && typeof owner?.nonce === "string" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Remove a folder file by file (a recursive remove of an open folder fails on Windows). */
function removeFolder(path: string): void {
  try {
    for (const name of readdirSync(path)) unlinkSync(join(path, name));
    rmdirSync(path);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw error;
  }
}

/**
 * Take a lock folder away: first rename it to a private name, then empty it.
 * Emptying it in place would leave an empty folder that another run's rename
 * may replace (POSIX allows renaming onto an empty folder) — and we would then
 * remove that run's fresh lock.
 */
function removeLock(lockPath: string): void {
  const aside = `${lockPath}.${randomHex(6)}.gone`;
  try {
    // Windows refuses to rename a folder while a waiting run reads the owner file in it: retry briefly.
    renameWithRetry(lockPath, aside);
  } catch (error) {
    if (errno(error) === "ENOENT") return;
    throw error;
  }
  removeFolder(aside);
}

const ageMs = (path: string) => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/** The owner to break if the lock is stale, `null` for a stale lock without a readable owner, undefined if not stale. */
function staleOwner(lockPath: string, staleMs: number): Owner | null | undefined {
  const age = ageMs(lockPath);
  if (age === undefined) return undefined; // gone already: just retry
  const owner = readOwner(lockPath);
  if (owner) return !isAlive(owner.pid) || age > staleMs ? owner : undefined;
  return age > 2_000 ? null : undefined; // unreadable owner: only after it had time to appear
}

/** True when the stale lock is out of the way; false when another run is breaking it (wait, then look again). */
function breakStale(lockPath: string, judged: Owner | null): boolean {
  const guard = `${lockPath}.break`;
  try {
    mkdirSync(guard);
  } catch {
    if ((ageMs(guard) ?? 0) > GUARD_STALE_MS) removeFolder(guard); // a breaker died mid-break
    return false;
  }
  try {
    const current = readOwner(lockPath);
    if (judged === null ? current === undefined : current?.nonce === judged.nonce) removeLock(lockPath);
  } finally {
    removeFolder(guard);
  }
  return true;
}

function tryAcquire(lockPath: string, owner: Owner): boolean {
  const temp = `${lockPath}.${owner.nonce}.tmp`;
  mkdirSync(temp, { mode: 0o700 });
  try {
    writeFileSync(join(temp, OWNER), JSON.stringify(owner), { mode: 0o600 });
    renameSync(temp, lockPath);
    return true;
  } catch (error) {
    removeFolder(temp);
    const code = errno(error);
    // Held by someone else (Windows says EPERM/EACCES for an existing target); retry until the deadline.
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "EPERM" || code === "EACCES" || code === "EISDIR") return false;
    throw error;
  }
}

export async function withLock<T>(lockPath: string, what: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? busyTimeoutMs();
  const staleMs = options.staleMs ?? 60_000;
  const owner: Owner = { pid: process.pid, nonce: randomHex(8) };
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      if (tryAcquire(lockPath, owner)) break;
    } catch (error) {
      throw fsError(error, `the lock for ${what}`);
    }
    const stale = staleOwner(lockPath, staleMs);
    if (stale !== undefined && breakStale(lockPath, stale)) continue;
    if (Date.now() > deadline) throw new CliError("busy", `${what} is locked by another kokochat-pairing run: try again in a moment`);
    await Bun.sleep(Math.min(100, 2 + attempt * 2) * (0.5 + Math.random()));
  }
  try {
    return await fn();
  } finally {
    // The work is done (or failed on its own): a lock we could not remove names our pid, dead by the next run, which breaks it.
    try {
      if (readOwner(lockPath)?.nonce === owner.nonce) removeLock(lockPath);
    } catch {}
  }
}
