/**
 * One list of hostile values, fed to every entry point that takes outside
 * input (codec, extraction, schema fields, the binary's argv/env/stdin).
 * Each must be refused cleanly: a typed error or `undefined`, never a crash.
 */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "\n\r\t",
  "null",
  "undefined",
  "[]",
  "{}",
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  "{".repeat(100_000),
  `kokochat.pairingRequest ${'{"'.repeat(200_000)}`,
  `kokochat.pairingRequest ${"{".repeat(400_000)}`,
  "[".repeat(100_000),
  "A".repeat(101),
  "A".repeat(4097) + "=",
  "=".repeat(10),
  "eyJ",
  "\u202eevil\u202c",
  "\ud800",
  "\uffff\ufffe",
  "😀".repeat(50),
  "$(rm -rf ~)",
  "`id`",
  "'; DROP TABLE device_pairing_paired; --",
  "../../../../etc/passwd",
  "\x1b[31mred\x1b[0m",
  "%00%0a",
  "9".repeat(400),
  "-1",
  "1e309",
];

/** Values of every JSON type, for schema fields. */
export const HOSTILE_VALUES: readonly unknown[] = [
  ...HOSTILE_STRINGS,
  null,
  true,
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER + 2,
  [],
  [null],
  {},
  { toString: "x" },
  "x".repeat(10_000),
];
