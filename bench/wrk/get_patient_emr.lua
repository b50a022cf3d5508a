-- GET a patient by emr_id: random ids from the loader's sample. Also drives the baseline.
package.path = "./?.lua;" .. package.path
local c = require("common")
local ids

c.install({
  expected = { [200] = true },
  init = function() ids = c.lines("patients_emr.txt") end,
  request = function()
    return wrk.format("GET", c.base .. "/patients/emr_id:" .. c.pick(ids), c.headers)
  end,
})
