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
 * The required set is always granted; `operator.admin` only when the phone asked
 * for it (a missing list means the default set, admin included) and not
 * `limited`; anything else is refused.
 */
export function decideScopes(requested: readonly string[] | undefined, limited: boolean): ScopeDecision {
  const asked = new Set(requested ?? [ADMIN_SCOPE, ...REQUIRED_SCOPES]);
  const granted: string[] = [];
  if (asked.has(ADMIN_SCOPE) && !limited) granted.push(ADMIN_SCOPE);
  granted.push(...REQUIRED_SCOPES);
  const allowed = new Set<string>([ADMIN_SCOPE, ...REQUIRED_SCOPES]);
  const refused = [...asked].filter((scope) => !allowed.has(scope));
  if (limited && asked.has(ADMIN_SCOPE)) refused.unshift(ADMIN_SCOPE);
  return { granted, refused };
}
