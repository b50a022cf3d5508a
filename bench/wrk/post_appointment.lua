-- POST appointment under contention. Every thread walks the same list of distinct free slots
-- (slots.txt; the warm-up has its own, slots_warmup.txt) in the same order, so each slot is
-- requested by every thread at about the same time: one booking wins (201), the others lose (409
-- NO_TIMESLOTS_AVAILABLE). Anything but 201 and 409 is an error. Successful bookings per second =
-- the 201 count / the duration.
package.path = "./?.lua;" .. package.path
local c = require("common")
local slots, patients, headers

c.install({
  expected = { [201] = true, [409] = true },
  init = function()
    slots = c.lines(c.warmup and "slots_warmup.txt" or "slots.txt")
    patients = c.lines("patients_emr.txt")
    headers = c.json_headers()
    -- A second warm-up round starts further down its list (BENCH_SLOT_START, 1-based).
    next_slot = math.max(0, math.min(#slots, tonumber(os.getenv("BENCH_SLOT_START") or "1")) - 1)
    wrapped = 0
  end,
  request = function()
    next_slot = next_slot + 1
    if next_slot > #slots then
      next_slot = 1
      wrapped = wrapped + 1
    end
    local resource, start, stop = slots[next_slot]:match("^(%S+) (%S+) (%S+)$")
    local body = string.format(
      '{"start":"%s","end":"%s","patient_id":"emr_id:%s","resource_id":"%s","healthcare_service_id":"C1-general","comment":"Bänkbokning"}',
      start, stop, c.pick(patients), resource)
    return wrk.format("POST", c.base .. "/appointments", headers, body)
  end,
  extra = function(threads)
    local w, furthest = 0, 0
    for _, t in ipairs(threads) do
      w = w + (t:get("wrapped") or 0)
      furthest = math.max(furthest, t:get("next_slot") or 0)
    end
    return string.format("slots_wrapped=%d furthest_slot=%d", w, furthest)
  end,
})
