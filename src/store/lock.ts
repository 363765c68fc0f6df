/**
 * A cross-process lock for files only this tool coordinates on: `mkdir` is
 * atomic everywhere. The holder records its pid and a nonce; a lock whose
 * holder is dead (or that is far older than any run) is stale and is broken by
 * renaming it aside, so a crashed run never blocks the next one.
 * A lock folder is removed file by file, then rmdir: no recursive delete,
 * which fails on some Windows file systems (and under wine) with EFAULT.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CliError, errno, fsError } from "../errors.ts";
import { busyTimeoutMs } from "../testhooks.ts";

export type LockOptions = { timeoutMs?: number; staleMs?: number };

type Owner = { pid: number; nonce: string };

const OWNER = "owner.json";

function isAlive(pid: number): boolean {
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

function isStale(lockPath: string, staleMs: number): boolean {
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(lockPath).mtimeMs;
  } catch {
    return false; // gone already: just retry
  }
  if (ageMs > staleMs) return true;
  const owner = readOwner(lockPath);
  if (owner) return !isAlive(owner.pid);
  return ageMs > 2000; // holder died between mkdir and writing its owner file
}

/** Remove a lock folder we hold or broke: its few plain files, then the folder. Already gone is fine. */
function removeLockDir(lockPath: string): void {
  let names: string[];
  try {
    names = readdirSync(lockPath);
  } catch (error) {
    if (errno(error) === "ENOENT") return;
    throw error;
  }
  for (const name of names) {
    try {
      unlinkSync(join(lockPath, name));
    } catch (error) {
      if (errno(error) !== "ENOENT") throw error;
    }
  }
  try {
    rmdirSync(lockPath);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw error;
  }
}

/** True when the stale lock is out of the way; false when it could not be moved (someone else broke it, or Windows holds it open). */
function breakStale(lockPath: string): boolean {
  const aside = `${lockPath}.stale-${randomBytes(6).toString("hex")}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    return errno(error) === "ENOENT"; // gone: someone else broke it first
  }
  try {
    removeLockDir(aside);
  } catch {} // a leftover folder aside blocks no one
  return true;
}

export async function withLock<T>(lockPath: string, what: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? busyTimeoutMs();
  const staleMs = options.staleMs ?? 60_000;
  const nonce = randomBytes(8).toString("hex");
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(lockPath, { mode: 0o700 });
      break;
    } catch (error) {
      if (errno(error) !== "EEXIST") throw fsError(error, `the lock for ${what}`);
    }
    // A stale lock that cannot be moved aside yet is waited on like a live one, within the same deadline.
    if (isStale(lockPath, staleMs) && breakStale(lockPath)) continue;
    if (Date.now() > deadline)
      throw new CliError("busy", `${what} is locked by another kokochat-pairing run: try again in a moment`);
    await Bun.sleep(Math.min(100, 2 + attempt * 2) * (0.5 + Math.random()));
  }
  try {
    writeFileSync(join(lockPath, OWNER), JSON.stringify({ pid: process.pid, nonce }), { mode: 0o600 });
  } catch (error) {
    try {
      removeLockDir(lockPath);
    } catch {}
    throw fsError(error, `the lock for ${what}`);
  }
  try {
    return await fn();
  } finally {
    // Best effort: the work is done; a lock left behind names our pid, which is dead by the next run.
    try {
      if (readOwner(lockPath)?.nonce === nonce) removeLockDir(lockPath);
    } catch {}
  }
}
