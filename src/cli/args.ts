/**
 * Strict option parsing; any unknown or malformed option is a usage error (64).
 *
 * The rules are node:util parseArgs's strict mode (`--name value`,
 * `--name=value`, `-x` for a declared short name, `--` ends the options), kept
 * here because loading node:util costs every run ~2 ms and ~3 MiB.
 */
import { usageError } from "../errors.ts";
import type { StoreChoice } from "../store/select.ts";

type Spec = { type: "string"; short?: string; default?: string } | { type: "boolean"; short?: string; default?: boolean };
type Options = Record<string, Spec>;

type Value<S extends Spec> = S extends { type: "string" } ? string : boolean;
type Values<O extends Options> = {
  [K in keyof O]: O[K] extends { default: unknown } ? Value<O[K]> : Value<O[K]> | undefined;
};

const fail = (message: string) => usageError(`${message}: see 'kokochat-pairing --help'`);

export function parse<O extends Options>(argv: string[], options: O, allowPositionals = true): { values: Values<O>; positionals: string[] } {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(options).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])));

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith("-") || word === "-") {
      positionals.push(word);
      continue;
    }
    const long = word.startsWith("--");
    const eq = long ? word.indexOf("=") : -1;
    const key = long ? word.slice(2, eq < 0 ? undefined : eq) : word.slice(1);
    const name = long ? key : byShort.get(key);
    const spec = name !== undefined && Object.hasOwn(options, name) ? options[name]! : undefined;
    const shown = long ? `--${key}` : `-${key}`;
    if (spec === undefined) throw fail(`unknown option '${shown}'`);
    if (spec.type === "boolean") {
      if (eq >= 0) throw fail(`option '${shown}' does not take a value`);
      values[name!] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = word.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw fail(`option '${shown}' needs a value`);
      // `--state-dir --json` is a forgotten value, not a folder named "--json".
      if (value.startsWith("-")) throw fail(`option '${shown}' needs a value (write ${shown}=${value} if it really starts with '-')`);
    }
    values[name!] = value;
  }

  if (!allowPositionals && positionals.length > 0) throw fail(`unexpected argument '${positionals[0]}'`);
  for (const [name, spec] of Object.entries(options)) if (!Object.hasOwn(values, name) && spec.default !== undefined) values[name] = spec.default;
  return { values: values as Values<O>, positionals };
}

/** `--state-dir DIR` and `--store auto|sqlite|json`, as pair, devices and revoke take them. */
export const STORE_OPTIONS = { "state-dir": { type: "string" }, store: { type: "string", default: "auto" } } as const;

const STORE_CHOICES: readonly string[] = ["auto", "sqlite", "json"] satisfies StoreChoice[];

/** Those two options, checked: a `--store` other than auto, sqlite or json is a usage error (64). */
export function storeOptions(values: { "state-dir"?: string; store: string }): { stateDir?: string; store: StoreChoice } {
  if (!STORE_CHOICES.includes(values.store)) throw fail("--store must be auto, sqlite or json");
  return { ...(values["state-dir"] !== undefined && { stateDir: values["state-dir"] }), store: values.store as StoreChoice };
}
