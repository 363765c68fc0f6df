import { parseArgs, type ParseArgsConfig } from "node:util";
import { usageError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict option parsing; any unknown or malformed option is a usage error (64). */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw usageError(`${message}: see 'kokochat-pairing --help'`);
  }
}
