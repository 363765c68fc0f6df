/**
 * The one error type a command throws for anything a user can cause, and the
 * exit-code table the README documents (sysexits.h numbering, SPEC §7).
 * Messages are one line: what is wrong, then how to fix it. They never carry
 * a secret or the raw input.
 */
export const EXIT = {
  ok: 0,
  usage: 64,
  "invalid-request": 65,
  "no-request": 66,
  "store-missing": 69,
  internal: 70,
  io: 74,
  busy: 75,
  refused: 77,
  "bad-store": 78,
} as const;

export type ErrorCode = Exclude<keyof typeof EXIT, "ok">;

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
  get exitCode(): number {
    return EXIT[this.code];
  }
}

export const usageError = (message: string) => new CliError("usage", message);

/** Node/Bun system errors carry a string `code` such as ENOENT or EACCES. */
export function errno(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Turn a filesystem failure (an error with an errno code) into a CliError:
 * permission problems are refusals (77), a busy file 75, anything else an I/O
 * error (74). `what` names the file for the user. Errors without an errno are
 * faults of ours and pass through unchanged, to exit 70.
 */
export function fsError(error: unknown, what: string): Error {
  if (error instanceof CliError) return error;
  const code = errno(error);
  if (code === undefined || !/^E[A-Z]+$/.test(code)) return error as Error;
  if (code === "EACCES" || code === "EPERM")
    return new CliError("refused", `permission denied on ${what}: run as the user that owns the OpenClaw state dir`);
  if (code === "EBUSY") return new CliError("busy", `${what} is busy: try again in a moment`);
  return new CliError("io", `cannot access ${what} (${code}): check the disk and the path`);
}
