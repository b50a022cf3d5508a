-- GET a patient by se_personal_number: random numbers of loaded patients.
package.path = "./?.lua;" .. package.path
local c = require("common")
local ids

c.install({
  expected = { [200] = true },
  init = function() ids = c.lines("patients_se.txt") end,
  request = function()
    return wrk.format("GET", c.base .. "/patients/se_personal_number:" .. c.pick(ids), c.headers)
  end,
})
