import { CliError } from "../errors.ts";

/** The KokoChat operator scope policy (SPEC §2). */

export const REQUIRED_SCOPES = ["operator.read", "operator.write", "operator.approvals", "operator.talk.secrets"] as const;
export const ADMIN_SCOPE = "operator.admin";

export type ScopeDecision = {
  /** What the device is approved for, in a stable order. */
  granted: string[];
  /** Requested scopes that are never granted (named to the user on stderr). */
  refused: string[];
};

/**
 * Nothing is granted that the phone did not ask for: the required set must be
 * in the request (a missing list means the default set, admin included), and
 * `operator.admin` is granted when asked unless `limited`; anything else is
 * refused. A request without a required scope is invalid (65).
 */
export function decideScopes(requested: readonly string[] | undefined, limited: boolean): ScopeDecision {
  const asked = new Set(requested ?? [ADMIN_SCOPE, ...REQUIRED_SCOPES]);
  const missing = REQUIRED_SCOPES.filter((scope) => !asked.has(scope));
  if (missing.length > 0)
    throw new CliError("invalid-request", `invalid pairing request: request.scopes must include ${missing.join(", ")}: update KokoChat and copy a new code`);
  const granted: string[] = [];
  if (asked.has(ADMIN_SCOPE) && !limited) granted.push(ADMIN_SCOPE);
  granted.push(...REQUIRED_SCOPES);
  const allowed = new Set<string>([ADMIN_SCOPE, ...REQUIRED_SCOPES]);
  const refused = [...asked].filter((scope) => !allowed.has(scope));
  if (limited && asked.has(ADMIN_SCOPE)) refused.unshift(ADMIN_SCOPE);
  return { granted, refused };
}
