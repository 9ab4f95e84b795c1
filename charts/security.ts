/**
 * Pod Security Standard "restricted" for every pod dagops emits.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 *
 * runAsUser is set (not only runAsNonRoot) so that images whose Dockerfile ends as root still
 * start, as an unprivileged user, instead of failing with CreateContainerConfigError.
 */
export const NON_ROOT_UID = 65532;

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: NON_ROOT_UID,
  runAsGroup: NON_ROOT_UID,
  fsGroup: NON_ROOT_UID,
  seccompProfile: { type: "RuntimeDefault" },
} as const;

export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
} as const;

/** A writable /tmp for read-only root filesystems. */
export const TMP_VOLUME = { name: "tmp", emptyDir: { sizeLimit: "1Gi" } } as const;
export const TMP_MOUNT = { name: "tmp", mountPath: "/tmp" } as const;
