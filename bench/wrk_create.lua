-- wrk script: POST /api/v1/orders/ with a new 3-line order each time (bench/api_orders.py --wrk runs it).
-- The key comes from the environment (BENCH_API_KEY), the run tag from BENCH_RUN so refs never repeat.
local key = os.getenv("BENCH_API_KEY")
local run = os.getenv("BENCH_RUN") or "w"
local channels = {"web", "app", "mkt"}
local counter = 0
local threads = 0

-- setup runs in the main Lua state, once per wrk thread: each thread gets its own number as the global
-- `thread_id` of its own state (a local of the same name here would hide it, and every thread would send
-- the same references: repeats, answered 200 with the first order).
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed(thread_id * 7919 + os.time())
end

-- A valid CPF from 9 digits (the same rule as api_orders.cpf).
local function cpf(seed)
  local digits = {}
  local s = string.format("%09d", seed % 1000000000)
  for i = 1, 9 do digits[i] = tonumber(s:sub(i, i)) end
  for _, length in ipairs({9, 10}) do
    local total = 0
    for i = 1, length do total = total + digits[i] * (length + 2 - i) end
    digits[length + 1] = total * 10 % 11 % 10
  end
  return table.concat(digits)
end

request = function()
  counter = counter + 1
  local lines = {}
  local used = {}
  while #lines < 3 do
    local sku = math.random(0, 1999)
    if not used[sku] then
      used[sku] = true
      lines[#lines + 1] = string.format('{"sku":"SKU-%05d","qty":%d,"unit_price":"49.90"}', sku, math.random(1, 3))
    end
  end
  local body = string.format(
    '{"channel":"%s","external_ref":"%s-%d-%d","customer":{"name":"Cliente %d","email":"c%d@example.com",' ..
    '"cpf":"%s","phone":"+55119%d"},"delivery":{"mode":"home","deadline_days":3,"address":{"street":"Rua Bench",' ..
    '"number":"%d","district":"Centro","city":"São Paulo","state":"SP","cep":"0%d"}},"lines":[%s]}',
    channels[math.random(1, #channels)], run, thread_id, counter, math.random(0, 999999), math.random(0, 999999),
    cpf(math.random(100000000, 999999999)), math.random(10000000, 99999999), math.random(1, 1999),
    math.random(1000000, 9999999), table.concat(lines, ","))
  return wrk.format("POST", "/api/v1/orders/", {
    ["Authorization"] = "Api-Key " .. key,
    ["Content-Type"] = "application/json",
  }, body)
end
