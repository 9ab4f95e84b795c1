/**
 * Heuristics for credentials written as literal values. A false positive costs a rename or a
 * `secretKeyRef`; a false negative puts a credential in git history forever.
 */

/** Env var names that say "this is a credential". */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)/i;
/** Names that match SECRET_NAME but hold no secret. */
const NOT_SECRET_NAME = /(_FILE|_PATH|_DIR|_URL_?TEMPLATE|_ARN|_ID|_NAME|_TTL|_TIMEOUT|_LENGTH)$/i;

const SECRET_VALUE: readonly [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key ID"],
  [/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, "a PEM private key"],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, "a GitHub token"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, "a GitLab token"],
  [/\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, "a JSON Web Token"],
  [/[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]+@/i, "a URL with a password"],
];

/** Why `value` looks like a credential, or undefined. */
export function secretInValue(value: string): string | undefined {
  for (const [re, what] of SECRET_VALUE) if (re.test(value)) return what;
  return undefined;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}
