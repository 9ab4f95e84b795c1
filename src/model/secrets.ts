/**
 * Heuristics for credentials written as literal values. A false positive costs a rename or a
 * `secretKeyRef`; a false negative puts a credential in git history forever.
 */

/** Env var names that say "this is a credential". */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)/i;
/** Names that match SECRET_NAME but hold no secret. */
const NOT_SECRET_NAME = /(_FILE|_PATH|_DIR|_URL_?TEMPLATE|_ARN|_ID|_NAME|_TTL|_TIMEOUT|_LENGTH)$/i;

/**
 * Patterns applied to user text of up to tens of kilobytes per value. Each must run in linear
 * time: a pattern that can restart a long scan at every position (nested or overlapping
 * repetition before a required character) turns a 1 MiB pipeline into minutes of CPU. The ones
 * below either anchor on a literal prefix whose run cannot contain another start, or stop at
 * their first match; the two that could not are written as scans (`jwtIn`, `urlPasswordIn`).
 */
const SECRET_VALUE: readonly [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key ID"],
  [/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, "a PEM private key"],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, "a GitHub token"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10}/, "a Slack token"],
  [/\bglpat-[A-Za-z0-9_-]{20}/, "a GitLab token"],
];

/** Why `value` looks like a credential, or undefined. Linear in the length of `value`. */
export function secretInValue(value: string): string | undefined {
  for (const [re, what] of SECRET_VALUE) if (re.test(value)) return what;
  if (jwtIn(value)) return "a JSON Web Token";
  if (urlPasswordIn(value)) return "a URL with a password";
  return undefined;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const WORD = /[A-Za-z0-9_]/;

/**
 * `eyJ…(10+).eyJ…(10+).…(10+)` (a header and a payload that are base64url JSON objects): split
 * into dot-separated segments once, then compare neighbours.
 */
function jwtIn(value: string): boolean {
  if (!value.includes("eyJ")) return false;
  const segments = value.split(".");
  for (let i = 0; i + 2 < segments.length; i++) {
    const head = segments[i]!;
    // The header segment may follow other text: take its base64url tail after the last non-member.
    let start = head.length;
    while (start > 0 && /[A-Za-z0-9_-]/.test(head[start - 1]!)) start--;
    let tail = head.slice(start);
    const at = tail.indexOf("eyJ");
    if (at < 0) continue;
    // A word boundary before "eyJ": the tail starts there, or "-" precedes it.
    if (at > 0 && WORD.test(tail[at - 1]!)) {
      const again = tail.lastIndexOf("-eyJ");
      if (again < 0) continue;
      tail = tail.slice(again + 1);
    } else tail = tail.slice(at);
    const payload = segments[i + 1]!;
    const signature = segments[i + 2]!;
    let sigRun = 0;
    while (sigRun < signature.length && /[A-Za-z0-9_-]/.test(signature[sigRun]!)) sigRun++;
    if (tail.length >= 13 && payload.startsWith("eyJ") && payload.length >= 13 && B64URL.test(payload) && sigRun >= 10)
      return true;
  }
  return false;
}

/**
 * `scheme://user:password@`: for every "://", the scheme before it and the user-info after it,
 * up to the first whitespace, "/" or "@". A scan from one "://" stops at the next one's "/", so
 * the whole value is read a bounded number of times.
 */
function urlPasswordIn(value: string): boolean {
  for (let at = value.indexOf("://"); at >= 0; at = value.indexOf("://", at + 3)) {
    const before = value[at - 1];
    if (before === undefined || !/[a-z0-9+.-]/i.test(before)) continue;
    let s = at - 1;
    while (s > 0 && /[a-z0-9+.-]/i.test(value[s - 1]!)) s--;
    // The scheme must start with a letter; a shorter scheme ending here may, so find the first letter.
    while (s < at && !/[a-z]/i.test(value[s]!)) s++;
    if (s >= at) continue;
    let colon = -1;
    let end = at + 3;
    for (; end < value.length; end++) {
      const c = value[end]!;
      if (c === "@" || c === "/" || /\s/.test(c)) break;
      if (c === ":" && colon < 0) colon = end;
    }
    if (value[end] === "@" && colon > at + 3 && end > colon + 1) return true;
  }
  return false;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}
