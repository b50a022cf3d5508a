-- GET timeslots of one resource (random R01..R50) for the default range, now to now + 14 days,
-- of the 30-minute service, as Leyr's availability quickstart asks for them.
package.path = "./?.lua;" .. package.path
local c = require("common")
local resources = tonumber(os.getenv("BENCH_RESOURCES") or "50")

c.install({
  expected = { [200] = true },
  request = function()
    local r = string.format("R%02d", math.random(resources))
    return wrk.format("GET", c.base .. "/timeslots?resource_id=" .. r .. "&healthcare_service_id=C1-general", c.headers)
  end,
})
