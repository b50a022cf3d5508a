-- POST patient (create-or-return) with new, checksum-valid national ids: 90% Swedish personnummer,
-- 10% Norwegian fødselsnummer, all born 2005–2024 (the loader's patients are born 1925–2004; the
-- warm-up uses 1900–1919, its second round further serial numbers: BENCH_K0), numbered per thread so
-- no two requests share a number. Expected: 201.
-- A 200 (the EMR held the number already) is not an error but would show a fixture problem.
package.path = "./?.lua;" .. package.path
local c = require("common")
local firsts, lasts, headers
local SPAN = 7305 -- days, 20 years

-- Days since 1970-01-01 → y, m, d (H. Hinnant's civil_from_days).
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function luhn(nine)
  local sum = 0
  for i = 1, 9 do
    local v = tonumber(nine:sub(i, i)) * (i % 2 == 1 and 2 or 1)
    if v > 9 then v = v - 9 end
    sum = sum + v
  end
  return (10 - sum % 10) % 10
end

local function mod11(digits, weights)
  local sum = 0
  for i = 1, #weights do sum = sum + tonumber(digits:sub(i, i)) * weights[i] end
  local k = 11 - sum % 11
  if k == 11 then return 0 end
  return k
end

local W1 = { 3, 7, 6, 1, 8, 9, 4, 5, 2 }
local W2 = { 5, 4, 3, 2, 7, 6, 5, 4, 3, 2 }

c.install({
  expected = { [201] = true, [200] = true },
  init = function()
    firsts = c.lines("names_first.txt")
    lasts = c.lines("names_last.txt")
    headers = c.json_headers()
    day0 = days_from_civil(c.warmup and 1900 or 2005, 1, 1)
    k0 = tonumber(os.getenv("BENCH_K0") or "0") -- a second warm-up round starts further on
    se_n, no_n, n, no_next = 0, 0, 0, {}
  end,
  request = function()
    n = n + 1
    local id, phone
    if n % 10 == 0 then
      -- Norwegian: per day, this thread's individual numbers in turn, skipping those without valid control digits.
      while true do
        local day = no_n % SPAN
        no_n = no_n + 1
        local y, m, d = civil(day0 + day)
        local lo = y >= 2000 and 500 or 0
        local k = no_next[day] or 0
        local found = nil
        while true do
          local individual = lo + tid + c.threads * (k + k0)
          k = k + 1
          if individual > lo + 499 then break end
          local nine = string.format("%02d%02d%02d%03d", d, m, y % 100, individual)
          local k1 = mod11(nine, W1)
          if k1 ~= 10 then
            local k2 = mod11(nine .. k1, W2)
            if k2 ~= 10 then found = nine .. k1 .. k2; break end
          end
        end
        no_next[day] = k
        if found then id = "no_personal_number:" .. found; break end
      end
      phone = string.format("+474%07d", math.random(0, 9999999))
    else
      -- Swedish: day by day, then the next of this thread's serial numbers.
      local day = se_n % SPAN
      local serial = 1 + tid + c.threads * (math.floor(se_n / SPAN) + k0)
      se_n = se_n + 1
      local y, m, d = civil(day0 + day)
      local nine = string.format("%02d%02d%02d%03d", y % 100, m, d, serial % 1000)
      id = string.format("se_personal_number:%04d%02d%02d%03d%d", y, m, d, serial % 1000, luhn(nine))
      phone = string.format("+4670%07d", math.random(0, 9999999))
    end
    local body = string.format('{"first_name":"%s","last_name":"%s","external_id":"%s","phones":["%s"]}',
      c.pick(firsts), c.pick(lasts), id, phone)
    return wrk.format("POST", c.base .. "/patients", headers, body)
  end,
})
