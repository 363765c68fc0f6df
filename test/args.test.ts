import { describe, expect, it } from "bun:test";
import { parse } from "../src/cli/args.ts";
import { CliError } from "../src/errors.ts";

const OPTIONS = {
  "state-dir": { type: "string" },
  store: { type: "string", default: "auto" },
  json: { type: "boolean", default: false },
  yes: { type: "boolean", short: "y" },
} as const;

/** The usage error (64) `parse` throws, or a failure when it throws nothing. */
function refusal(argv: string[], allowPositionals = true): string {
  try {
    parse(argv, OPTIONS, allowPositionals);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(64);
    return (error as CliError).message;
  }
  throw new Error(`parse accepted ${JSON.stringify(argv)}`);
}

describe("option parsing (strict, as node:util parseArgs)", () => {
  it("takes --name value, --name=value, booleans, a short name, and fills defaults", () => {
    expect<unknown>(parse(["--state-dir", "/a", "--json", "-y", "code"], OPTIONS)).toEqual({
      values: { "state-dir": "/a", store: "auto", json: true, yes: true },
      positionals: ["code"],
    });
    expect<unknown>(parse(["--store=json", "--state-dir=-odd-but-explicit"], OPTIONS).values).toEqual({ store: "json", "state-dir": "-odd-but-explicit", json: false });
    expect(parse(["--store=", "x"], OPTIONS).values.store).toBe("");
  });

  it("leaves an absent option without a default undefined, and the last of a repeated option wins", () => {
    const { values } = parse(["--store", "sqlite", "--store", "json"], OPTIONS);
    expect(values.store).toBe("json");
    expect("state-dir" in values).toBe(false);
    expect(values.yes).toBeUndefined();
  });

  it("treats everything after -- and a lone - as positionals", () => {
    expect<unknown>(parse(["a", "-", "--", "--json", "-y"], OPTIONS)).toEqual({ values: { store: "auto", json: false }, positionals: ["a", "-", "--json", "-y"] });
  });

  it("refuses unknown options, even names every object inherits", () => {
    expect(refusal(["--bogus"])).toContain("unknown option '--bogus'");
    expect(refusal(["-x"])).toContain("unknown option '-x'");
    expect(refusal(["--toString"])).toContain("unknown option '--toString'");
    expect(refusal(["--__proto__=1"])).toContain("unknown option '--__proto__'");
  });

  it("refuses a string option without its value, or with another option where the value should be", () => {
    expect(refusal(["--state-dir"])).toContain("option '--state-dir' needs a value");
    expect(refusal(["--state-dir", "--json"])).toContain("write --state-dir=--json");
  });

  it("refuses a value given to a boolean", () => {
    expect(refusal(["--json=false"])).toContain("option '--json' does not take a value");
  });

  it("refuses positionals where a command takes none, and every message points at --help", () => {
    expect(refusal(["stray"], false)).toContain("unexpected argument 'stray'");
    for (const argv of [["--bogus"], ["--state-dir"], ["--json=1"]]) expect(refusal(argv)).toEndWith("see 'kokochat-pairing --help'");
  });
});
