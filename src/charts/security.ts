/**
 * Pod Security Standard "restricted" for every pod dagops emits.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 *
 * runAsUser is set (not only runAsNonRoot) so that images whose Dockerfile ends as root still
 * start, as an unprivileged user, instead of failing with CreateContainerConfigError.
 */
export const NON_ROOT_UID = 65532;

/** Functions, not constants: each pod gets its own mutable copy, typed for both cdk8s and kubernetes-models. */
export function podSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: NON_ROOT_UID,
    runAsGroup: NON_ROOT_UID,
    fsGroup: NON_ROOT_UID,
    seccompProfile: { type: "RuntimeDefault" as const },
  };
}

export function containerSecurityContext() {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" as const },
  };
}

/** A writable /tmp for read-only root filesystems. */
export const TMP_SIZE_LIMIT = "1Gi";
export function tmpVolume() {
  return { name: "tmp", emptyDir: { sizeLimit: TMP_SIZE_LIMIT } };
}
export function tmpMount() {
  return { name: "tmp", mountPath: "/tmp" };
}
