import { writeFileSync } from "node:fs";

/**
 * Fault injection for the crash and cleanup tests, inert unless the variable
 * is set: KOKOCHAT_TEST_FAIL_AT=<step> throws an I/O error at that step,
 * KOKOCHAT_TEST_HANG_AT=<step> stops there until killed.
 * Steps: pair-start, atomic-open, atomic-write, atomic-rename, json-locked, sqlite-in-transaction.
 * KOKOCHAT_TEST_CLOBBER_AT=json-written puts back the snapshot read before our
 * write, once, as a gateway writing between our read and our rename would;
 * =json-unlocked does it just after our locked write, before the settle watch.
 */
export function checkpoint(step: string): void {
  if (process.env.KOKOCHAT_TEST_FAIL_AT === step) throw Object.assign(new Error(`injected failure at ${step}`), { code: "EIO" });
  if (process.env.KOKOCHAT_TEST_HANG_AT === step) {
    process.stderr.write(`test hook: hanging at ${step}\n`);
    for (;;) Bun.sleepSync(1000);
  }
}

let clobbered = false;

export function simulateClobber(step: string, path: string, snapshot: () => string | Uint8Array): void {
  if (process.env.KOKOCHAT_TEST_CLOBBER_AT !== step || clobbered) return;
  clobbered = true;
  writeFileSync(path, snapshot());
}
