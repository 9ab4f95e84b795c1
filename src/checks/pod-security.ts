/**
 * The Pod Security Standard "restricted" profile (v1.35), checked on every pod template dagops
 * emits. The namespaces also enforce it at admission; this check says so at review time.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

const ALLOWED_VOLUMES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];
const SECCOMP_OK = ["RuntimeDefault", "Localhost"];

/** Field paths (relative to the pod spec) and what is wrong there. */
export function restrictedViolations(spec: IPodSpec): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const pod = spec.securityContext ?? {};
  for (const flag of ["hostNetwork", "hostPID", "hostIPC"] as const)
    if (spec[flag]) out.push({ path: flag, message: `${flag} is forbidden` });
  (spec.volumes ?? []).forEach((v, i) => {
    const type = Object.keys(v).find((k) => k !== "name");
    if (type && !ALLOWED_VOLUMES.includes(type))
      out.push({
        path: `volumes[${i}]`,
        message: `volume type ${type} is not allowed; allowed: ${ALLOWED_VOLUMES.join(", ")}`,
      });
  });
  if (pod.runAsUser === 0) out.push({ path: "securityContext.runAsUser", message: "runAsUser 0 (root) is forbidden" });
  const containers = [
    ...(spec.initContainers ?? []).map((c, i) => [c, `initContainers[${i}]`] as const),
    ...spec.containers.map((c, i) => [c, `containers[${i}]`] as const),
  ];
  for (const [c, at] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged)
      out.push({ path: `${at}.securityContext.privileged`, message: "privileged containers are forbidden" });
    if (sc.allowPrivilegeEscalation !== false)
      out.push({ path: `${at}.securityContext.allowPrivilegeEscalation`, message: "must be false" });
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true)
      out.push({ path: `${at}.securityContext.runAsNonRoot`, message: "must be true (on the container or the pod)" });
    if (sc.runAsUser === 0)
      out.push({ path: `${at}.securityContext.runAsUser`, message: "runAsUser 0 (root) is forbidden" });
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (!seccomp || !SECCOMP_OK.includes(seccomp))
      out.push({
        path: `${at}.securityContext.seccompProfile.type`,
        message: `must be RuntimeDefault or Localhost (on the container or the pod), found ${seccomp ?? "none"}`,
      });
    const caps = sc.capabilities ?? {};
    if (!(caps.drop ?? []).includes("ALL"))
      out.push({ path: `${at}.securityContext.capabilities.drop`, message: 'must include "ALL"' });
    const added = (caps.add ?? []).filter((a) => a !== "NET_BIND_SERVICE");
    if (added.length)
      out.push({
        path: `${at}.securityContext.capabilities.add`,
        message: `only NET_BIND_SERVICE may be added, found ${added.join(", ")}`,
      });
    if ((c.ports ?? []).some((p) => p.hostPort)) out.push({ path: `${at}.ports`, message: "hostPort is forbidden" });
  }
  return out;
}
