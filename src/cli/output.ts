/**
 * stdout carries only the result (one line, or one JSON object); everything
 * meant for people goes to stderr, without colour unless stderr is a terminal
 * and NO_COLOR is unset.
 */
let fs: typeof import("node:fs") | undefined;
/** node:fs, loaded at the first write: `--version` and `--help` print without it (~1.5 ms, ~3 MiB). */
const writeSync = (fd: number, bytes: Uint8Array, offset: number) => (fs ??= require("node:fs") as typeof import("node:fs")).writeSync(fd, bytes, offset);

const useColour = (): boolean => process.stderr.isTTY === true && !process.env.NO_COLOR;

const paint = (code: string, text: string) => (useColour() ? `\x1b[${code}m${text}\x1b[0m` : text);

// Synchronous writes: the process may exit right after, and a pipe must get every byte.
function write(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as { code?: string }).code === "EAGAIN") continue;
      if ((error as { code?: string }).code === "EPIPE") return;
      throw error;
    }
  }
}

export const result = (line: string) => write(1, `${line}\n`);
/** Text of several lines (a unit file, say), as it is, ending with one newline. */
export const resultText = (text: string) => write(1, text.endsWith("\n") ? text : `${text}\n`);

/**
 * For `--version` and `--help`, which load nothing else: the runtime's own
 * write, awaited before the process exits. A reader that went away is not an
 * error, as for `result`.
 */
export const resultAlone = (line: string): Promise<void> =>
  Bun.write(Bun.stdout, `${line}\n`).then(
    () => {},
    (error) => {
      if ((error as { code?: string }).code !== "EPIPE") throw error;
    },
  );
export const resultJson = (value: unknown) => write(1, `${JSON.stringify(value)}\n`);
export const info = (line: string) => write(2, `${line}\n`);
export const warn = (line: string) => write(2, `${paint("33", "warning:")} ${line}\n`);
/** One line, whatever a path or option in the message held: control characters become "?". */
const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?");

export const errorLine = (line: string) => write(2, `${paint("31", "error:")} ${oneLine(line)}\n`);
