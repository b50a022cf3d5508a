-- Search by last-name prefix: random three-letter prefixes of the surname list, as typed
-- (Öbe, Sjö, Løv; percent-encoded by the loader), first page (limit 50).
package.path = "./?.lua;" .. package.path
local c = require("common")
local prefixes

c.install({
  expected = { [200] = true },
  init = function() prefixes = c.lines("lastname_prefixes.txt") end,
  request = function()
    return wrk.format("GET", c.base .. "/patients?limit=50&last_name=" .. c.pick(prefixes), c.headers)
  end,
})
