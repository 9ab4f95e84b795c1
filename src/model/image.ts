/**
 * Container image references (the distribution/reference grammar, simplified to what registries
 * accept): `[registry[:port]/]path[:tag][@sha256:digest]`.
 */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN =
  "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`,
);

export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export function parseImage(text: string): ImageReference | undefined {
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  const repository = m[1] ? `${m[1]}/${m[2]}` : m[2]!;
  return { repository, ...(m[3] ? { tag: m[3] } : {}), ...(m[4] ? { digest: m[4] } : {}) };
}

/** True when the reference names an exact image: a digest, or a tag other than `latest`. */
export function isPinned(ref: ImageReference): boolean {
  return ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== "latest");
}
