import pkg from "../package.json" with { type: "json" };

// build.ts defines KOKOCHAT_VERSION; from source we read package.json.
declare const KOKOCHAT_VERSION: string | undefined;

export const VERSION: string = typeof KOKOCHAT_VERSION === "string" ? KOKOCHAT_VERSION : pkg.version;
