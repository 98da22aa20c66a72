-- POST the create route as many keys in turn (BENCH_KEYS, comma-separated), each with its
-- own prepaid budget: the load of many customers at once, not one.
local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS"), "[^,]+") do keys[#keys + 1] = k end
local body = '{"model_name":"Vidu","model_version":"q2","prompt":"a lighthouse at dusk","output_config":{"duration":1,"resolution":"720P","aspect_ratio":"1:1"}}'
local n = 0
function init(args)
  -- Each wrk thread starts at its own place in the ring.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
  n = math.random(#keys)
end
request = function()
  n = n + 1
  local key = keys[n % #keys + 1]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Key " .. key}, body)
end
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
