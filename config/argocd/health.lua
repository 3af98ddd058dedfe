-- Argo CD health check for cxloop.dev kinds (DataSource, Metric, Team,
-- ImprovementTask). Health says whether the operator is doing its job, never
-- whether customers are happy: a Metric whose ChangeDetected condition is
-- True is still Healthy, so a GitOps rollout never blocks on a CX drop.
local hs = {status = "Progressing", message = "Waiting for the operator"}

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Evaluation is suspended"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local ready, stalled, reconciling, teamNotFound = nil, nil, nil, nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
  if c.type == "Reconciling" then reconciling = c end
  if c.type == "TeamNotFound" then teamNotFound = c end
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
  return hs
end
-- A Metric whose owner Team is missing is measured, but its tasks are held
-- back: nobody would receive them. That is the manifests' fault, so the
-- rollout shows it.
if teamNotFound ~= nil and teamNotFound.status == "True" then
  hs.status = "Degraded"
  hs.message = "TeamNotFound: " .. (teamNotFound.message or "")
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = (reconciling.reason or "Reconciling") .. ": " .. (reconciling.message or "")
  return hs
end
if ready == nil then
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end
return hs
