/**
 * The Lua health checks dagops ships in `argocd-cm`, keyed by the `argocd-cm` key that installs
 * each. Argo CD runs them with gopher-lua, which implements Lua 5.1: they use nothing newer (no
 * `goto`, no integer division or bitwise operators, no `table.unpack`), and `#` instead of the
 * 5.1-only `table.getn`. `test/unit/charts/health-checks.test.ts` runs every one of them in a real Lua VM
 * against sample objects.
 *
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#custom-health-checks
 */
import { LABEL, MANAGED_BY } from "../contract/labels.ts";

/**
 * Child Applications (sync waves between them wait only with this check). Argo CD removed the
 * built-in one in 1.8; the documented replacement reads only `status.health`, so an app that has
 * not synced the new commit yet still reads Healthy (argo-cd #10550) and the next wave starts
 * before, say, its Namespace exists. This one is Healthy only when the app is Synced, no sync
 * operation is running, and its own health is Healthy; a failed sync is Degraded, so the parent's
 * sync fails with the reason instead of waiting forever.
 */
const APPLICATION = `local hs = { status = "Progressing", message = "" }
if obj.status == nil then
  hs.message = "waiting for the Application's first status"
  return hs
end
local op = obj.status.operationState
local sync = obj.status.sync
local syncStatus = "Unknown"
if sync ~= nil and sync.status ~= nil then
  syncStatus = sync.status
end
if op ~= nil and (op.phase == "Running" or op.phase == "Terminating") then
  hs.message = "sync in progress"
  return hs
end
if syncStatus ~= "Synced" then
  if op ~= nil and (op.phase == "Failed" or op.phase == "Error") then
    hs.status = "Degraded"
    hs.message = "sync failed: " .. (op.message or op.phase)
    return hs
  end
  hs.message = "waiting for sync (" .. syncStatus .. ")"
  return hs
end
if obj.status.health ~= nil and obj.status.health.status ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
`;

/**
 * CronJobs. Argo CD 3.2 and later report a CronJob whose last Job failed as Degraded (and a
 * suspended one as Suspended). For dagops run managers that would turn one failed run into a
 * failed sync: prunes wait (PruneLast), a pipeline deleted from git keeps running, and a fix to a
 * failing pipeline syncs as Failed. A run's outcome is the run's business (its Job, its Events,
 * its summary), not the deployment's: dagops CronJobs are always Healthy, with the last run's
 * outcome in the message. Every other CronJob gets the behaviour of Argo CD's built-in check.
 */
const CRON_JOB = `local hs = {}
local labels = obj.metadata.labels
local ours = labels ~= nil and labels["${LABEL.managedBy}"] == "${MANAGED_BY}"
local st = obj.status
local last = nil
local success = nil
local running = false
if st ~= nil then
  last = st.lastScheduleTime
  success = st.lastSuccessfulTime
  running = st.active ~= nil and #st.active > 0
end
if ours then
  hs.status = "Healthy"
  local state
  if running then
    state = "a run is in progress"
  elseif last == nil then
    state = "no run yet"
  elseif success ~= nil and success >= last then
    state = "last run succeeded at " .. success
  else
    state = "last run, started " .. last .. ", failed (last success: " .. (success or "never") .. "); see the run-manager Job's events"
  end
  if obj.spec.suspend == true then
    hs.message = "suspended: runs only when started by hand; " .. state
  else
    hs.message = state
  end
  return hs
end
if obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "CronJob is suspended"
  return hs
end
if st == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the CronJob's status"
  return hs
end
hs.status = "Healthy"
if last == nil then
  hs.message = "not scheduled yet"
elseif success == nil then
  hs.message = "no run has succeeded yet"
elseif running then
  hs.message = "a run is in progress"
elseif success < last then
  hs.status = "Degraded"
  hs.message = "the last run did not succeed"
else
  hs.message = "the last run succeeded"
end
return hs
`;

/**
 * ACK FargateProfiles. Argo CD had no health for them, so the platform app turned Healthy while a
 * profile was still CREATING or had failed for good, and run-manager pods admitted before the
 * profile is ACTIVE miss Fargate for good (the Fargate scheduler acts at admission). Healthy only
 * when EKS reports ACTIVE; a terminal ACK condition or a failed EKS status is Degraded.
 * https://aws-controllers-k8s.github.io/community/docs/user-docs/cleanup/ (ACK conditions)
 */
const FARGATE_PROFILE = `local hs = { status = "Progressing", message = "waiting for the ACK controller" }
local st = obj.status
if st == nil then
  return hs
end
if st.conditions ~= nil then
  for _, c in ipairs(st.conditions) do
    if c.type == "ACK.Terminal" and c.status == "True" then
      hs.status = "Degraded"
      hs.message = "ACK cannot create this profile: " .. (c.message or c.reason or "terminal condition") .. "; fix platform.config.ts and synth"
      return hs
    end
  end
end
local issues = ""
if st.health ~= nil and st.health.issues ~= nil then
  for _, i in ipairs(st.health.issues) do
    issues = issues .. " " .. (i.code or "") .. ": " .. (i.message or "") .. ";"
  end
end
local s = st.status
if s == "ACTIVE" then
  hs.status = "Healthy"
  hs.message = "ACTIVE"
elseif s == "CREATE_FAILED" or s == "DELETE_FAILED" then
  hs.status = "Degraded"
  hs.message = s .. issues
elseif s == "CREATING" then
  hs.message = "CREATING: pods admitted before the profile is ACTIVE do not run on Fargate"
elseif s == "DELETING" then
  hs.message = "DELETING"
elseif s ~= nil then
  hs.message = s
end
return hs
`;

/** `argocd-cm` key → Lua script. */
export const HEALTH_CHECKS = {
  "resource.customizations.health.argoproj.io_Application": APPLICATION,
  "resource.customizations.health.batch_CronJob": CRON_JOB,
  "resource.customizations.health.eks.services.k8s.aws_FargateProfile": FARGATE_PROFILE,
} as const;
