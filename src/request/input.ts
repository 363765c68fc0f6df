/**
 * Where the pairing request comes from: env KOKOCHAT_PAIRING_REQUEST, else the
 * command-line words, else stdin when it is piped. More than 1 MiB is refused
 * before any parsing.
 */
import { CliError } from "../errors.ts";

const MAX_INPUT_BYTES = 1024 * 1024;

export type InputSource = "env" | "arguments" | "stdin";
export type Input = { text: string; source: InputSource };

const tooLarge = (source: InputSource) =>
  new CliError("invalid-request", `the ${source} input is larger than 1 MiB: pass only the pairing request or the chat message holding it`);

const noRequest = () =>
  new CliError("no-request", "no pairing request given: pass the code from KokoChat's pairing page as an argument, in KOKOCHAT_PAIRING_REQUEST, or on stdin");

async function readStdin(limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Bun.stdin.stream()) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge("stdin");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `stdinIsTty` may be a function, asked only when neither env nor arguments
 * hold the request: touching `process.stdin` sets up Node's stream machinery,
 * which costs a run ~4 ms and ~3 MiB.
 */
export async function readInput(words: string[], env: NodeJS.ProcessEnv, stdinIsTty: boolean | (() => boolean)): Promise<Input> {
  const fromEnv = env.KOKOCHAT_PAIRING_REQUEST;
  let input: Input;
  if (fromEnv !== undefined && fromEnv.trim() !== "") input = { text: fromEnv, source: "env" };
  else if (words.length > 0) input = { text: words.join(" "), source: "arguments" };
  else if (!(typeof stdinIsTty === "function" ? stdinIsTty() : stdinIsTty)) input = { text: await readStdin(MAX_INPUT_BYTES), source: "stdin" };
  else throw noRequest();
  if (Buffer.byteLength(input.text) > MAX_INPUT_BYTES) throw tooLarge(input.source);
  if (input.text.trim() === "") throw noRequest();
  return input;
}
