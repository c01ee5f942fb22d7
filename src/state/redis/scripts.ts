/**
 * The server-side scripts: each money or limit operation is one of them, so it runs atomically on
 * the Redis server whatever the number of replicas. Loaded once by SHA (ioredis' defineCommand
 * falls back to EVAL on NOSCRIPT, e.g. after a Redis restart).
 *
 * Amounts are pairs (whole credits, pico remainder): see amount.ts. A pair is stored as two hash
 * fields `<name>_w`, `<name>_r`, or as one string "w r" (holds), and always written with
 * string.format('%.0f'), exact for integers below 2^53 (Lua's tostring would write 1e+15).
 * Every key a script touches is one org's (hash tag `{org}`), so it also runs on Redis Cluster.
 * Time comes from the server (TIME), so replicas' clocks never disagree about a hold's expiry.
 */

const COMMON = `
local P = 1000000000000
local function fmt(x) if x == 0 then return '0' end return string.format('%.0f', x) end
local function norm(w, r) local c = math.floor(r / P) return w + c, r - c * P end
local function add(aw, ar, bw, br) return norm(aw + bw, ar + br) end
local function sub(aw, ar, bw, br) return norm(aw - bw, ar - br) end
local function cmp(aw, ar, bw, br)
  if aw ~= bw then if aw < bw then return -1 end return 1 end
  if ar ~= br then if ar < br then return -1 end return 1 end
  return 0
end
local function get(key, f)
  local v = redis.call('HMGET', key, f .. '_w', f .. '_r')
  return tonumber(v[1] or '0'), tonumber(v[2] or '0')
end
local function put(key, f, w, r) redis.call('HSET', key, f .. '_w', fmt(w), f .. '_r', fmt(r)) end
local function pair(s) local w, r = string.match(s, '^(%-?%d+) (%d+)$') return tonumber(w), tonumber(r) end
local function nowMs() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
-- Drops one hold (if it is still there): it stops counting in what the org has held.
local function dropHold(acct, holds, exp, id)
  local h = redis.call('HGET', holds, id)
  if not h then return false end
  local hw, hr = get(acct, 'held')
  local xw, xr = pair(h)
  put(acct, 'held', sub(hw, hr, xw, xr))
  redis.call('HDEL', holds, id)
  redis.call('ZREM', exp, id)
  return true
end
-- Holds whose TTL ran out (a replica died holding them) stop counting.
local function sweep(acct, holds, exp, now)
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 256)
  if #ids == 0 then return end
  local hw, hr = get(acct, 'held')
  for _, id in ipairs(ids) do
    local h = redis.call('HGET', holds, id)
    if h then
      local xw, xr = pair(h)
      hw, hr = sub(hw, hr, xw, xr)
      redis.call('HDEL', holds, id)
    end
    redis.call('ZREM', exp, id)
  end
  put(acct, 'held', hw, hr)
end
-- Allowance left this period (never below 0), or 0 without an allowance.
local function allowanceLeft(allow, has, aw, ar, period)
  if has ~= '1' then return 0, 0 end
  local uw, ur = get(allow, period)
  local lw, lr = sub(tonumber(aw), tonumber(ar), uw, ur)
  if lw < 0 then return 0, 0 end
  return lw, lr
end
-- Books a charge: paid from the period's allowance first, then the wallet; appended to the org's
-- stream and remembered under its settled marker. Returns the split as the stream and settle give it.
local function bookCharge(acct, allow, stream, marker, markerTtl, id, instance, record, cw, cr, has, allowW, allowR, period)
  local aw, ar = 0, 0
  if has == '1' then
    local lw, lr = allowanceLeft(allow, has, allowW, allowR, period)
    if cmp(cw, cr, lw, lr) < 0 then aw, ar = cw, cr else aw, ar = lw, lr end
    local uw, ur = get(allow, period)
    put(allow, period, add(uw, ur, aw, ar))
  else
    period = '-'
  end
  local fw, fr = sub(cw, cr, aw, ar)
  local ww, wr = get(acct, 'wallet')
  put(acct, 'wallet', sub(ww, wr, fw, fr))
  local gw, gr = get(acct, 'charged')
  put(acct, 'charged', add(gw, gr, cw, cr))
  local split = period .. ' ' .. fmt(aw) .. ' ' .. fmt(ar) .. ' ' .. fmt(fw) .. ' ' .. fmt(fr)
  redis.call('XADD', stream, '*', 'type', 'charge', 'id', id, 'instance', instance, 'split', split, 'record', record)
  redis.call('SET', marker, split, 'EX', tonumber(markerTtl))
  return split
end
`;

export interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

// Rate-limit buckets: level refills at `rate`/s up to `cap`; a key's TTL is how long its state matters.
const BUCKETS = `
local function levelOf(key, cap, rate, now)
  local s = redis.call('HMGET', key, 'l', 'at')
  if not s[1] then return cap end
  return math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) / 1000 * rate)
end
local function storeLevel(key, level, cap, rate, now)
  if level >= cap then redis.call('DEL', key) return end
  redis.call('HSET', key, 'l', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((cap - level) / rate * 1000) + 1000)
end
-- Draws are KEYS[first..] with ARGV triplets (capacity, per second, cost) from ARGV[argAt].
-- Returns 0 when all can be taken (levels in \`levels\`), else the 1-based index of the longest wait, and it.
local function check(first, argAt, now, levels)
  local worst, worstWait = 0, 0
  for i = first, #KEYS do
    local a = argAt + 3 * (i - first)
    local cap, rate, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    levels[i] = levelOf(KEYS[i], cap, rate, now)
    local need = math.min(cost, cap)
    if levels[i] < need then
      local wait = (need - levels[i]) / rate * 1000
      if wait > worstWait then worst, worstWait = i, wait end
    end
  end
  return worst, worstWait
end
-- Takes (or, without a check, adds: negative costs give back) every draw's cost.
local function apply(first, argAt, now, levels)
  for i = first, #KEYS do
    local a = argAt + 3 * (i - first)
    local cap, rate = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local level = levels[i] or levelOf(KEYS[i], cap, rate, now)
    storeLevel(KEYS[i], level - tonumber(ARGV[a + 2]), cap, rate, now)
  end
end
`;

/**
 * Admission in one step: the rate-limit draws and the credit hold, all or nothing.
 * KEYS: acct, allow, holds, holdexp, then one bucket per draw.
 * ARGV: hold id, amount w, amount r (0 0: no hold), has allowance (1/0), allowance w, r, period,
 *       ttl ms, then (capacity, per second, cost) per draw.
 * → {1, available w, r} admitted; {0, available w, r} credits refused (nothing taken);
 *   {2, draw index (0-based), wait ms, level} rate-limited (nothing taken).
 * available = allowance left + wallet − holds (before this one).
 */
const admit: ScriptDefinition = {
  numberOfKeys: -1,
  lua: `${COMMON}${BUCKETS}
local now = nowMs()
local levels = {}
local worst, wait = check(5, 9, now, levels)
if worst > 0 then return {2, worst - 5, tostring(wait), tostring(levels[worst])} end
local mw, mr = tonumber(ARGV[2]), tonumber(ARGV[3])
if mw == 0 and mr == 0 then
  apply(5, 9, now, levels)
  return {1, '0', '0'}
end
sweep(KEYS[1], KEYS[3], KEYS[4], now)
local hw, hr = get(KEYS[1], 'held')
local ww, wr = get(KEYS[1], 'wallet')
local lw, lr = allowanceLeft(KEYS[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
local sw, sr = add(ww, wr, lw, lr)
local aw, ar = sub(sw, sr, hw, hr)
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  local xw, xr = pair(redis.call('HGET', KEYS[3], ARGV[1]))
  aw, ar = add(aw, ar, xw, xr)
  return {1, fmt(aw), fmt(ar)}
end
if cmp(aw, ar, mw, mr) < 0 then return {0, fmt(aw), fmt(ar)} end
apply(5, 9, now, levels)
hw, hr = add(hw, hr, mw, mr)
put(KEYS[1], 'held', hw, hr)
redis.call('HSET', KEYS[3], ARGV[1], fmt(mw) .. ' ' .. fmt(mr))
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[8]), ARGV[1])
return {1, fmt(aw), fmt(ar)}
`,
};

/**
 * KEYS: acct, allow, holds, holdexp, settled marker of this hold, charge stream, then buckets to
 *       correct (TPM counted up front vs the tokens reported).
 * ARGV: hold id, charge w, charge r, has allowance, allowance w, r, period, marker ttl s, record,
 *       instance, then (capacity, per second, correction) per bucket.
 * → {duplicate (1/0), "period fromAllowance_w fromAllowance_r fromWallet_w fromWallet_r"}.
 * The hold is dropped, the charge paid from the period's allowance first, then the wallet, and the
 * charge appended to the org's stream, in one step: a balance and the stream never disagree.
 */
const settle: ScriptDefinition = {
  numberOfKeys: -1,
  lua: `${COMMON}${BUCKETS}
local done = redis.call('GET', KEYS[5])
if done then return {1, done} end
apply(7, 11, nowMs(), {})
dropHold(KEYS[1], KEYS[3], KEYS[4], ARGV[1])
local split = bookCharge(KEYS[1], KEYS[2], KEYS[6], KEYS[5], ARGV[8], ARGV[1], ARGV[10], ARGV[9], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return {0, split}
`,
};

/** KEYS: acct, holds, holdexp. ARGV: hold id. Drops the hold if it is still there. */
const release: ScriptDefinition = {
  numberOfKeys: 3,
  lua: `${COMMON}
if dropHold(KEYS[1], KEYS[2], KEYS[3], ARGV[1]) then return 1 end
return 0
`,
};

/**
 * A credit lease: a slice of what the org can spend, held for one replica (a hold named
 * `lease:<instance>`), which then admits requests against it with no round trip.
 * KEYS: acct, allow, holds, holdexp.
 * ARGV: lease id, mode ('grow' | 'shrink'), amount w, r, has allowance, allowance w, r, period,
 *       ttl ms, share.
 * grow: adds up to `amount`, but never more than 1/share of what the org has available.
 * shrink: gives back what the lease holds above `amount` (a replica returning what it did not use).
 * → {lease w, r}: what the lease holds now.
 */
const lease: ScriptDefinition = {
  numberOfKeys: 4,
  lua: `${COMMON}
local now = nowMs()
sweep(KEYS[1], KEYS[3], KEYS[4], now)
local cw, cr = 0, 0
local current = redis.call('HGET', KEYS[3], ARGV[1])
if current then cw, cr = pair(current) end
local mw, mr = tonumber(ARGV[3]), tonumber(ARGV[4])
local hw, hr = get(KEYS[1], 'held')
local nw, nr = cw, cr
if ARGV[2] == 'grow' then
  local ww, wr = get(KEYS[1], 'wallet')
  local lw, lr = allowanceLeft(KEYS[2], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
  local sw, sr = add(ww, wr, lw, lr)
  local aw, ar = sub(sw, sr, hw, hr)
  if aw >= 0 then
    -- available / share, exactly: whole part, then the remainder carried into the pico part.
    local share = tonumber(ARGV[10])
    local qw = math.floor(aw / share)
    local qr = math.floor(((aw - qw * share) * P + ar) / share)
    if cmp(qw, qr, mw, mr) < 0 then mw, mr = qw, qr end
    nw, nr = add(cw, cr, mw, mr)
  end
elseif cmp(mw, mr, cw, cr) < 0 then
  nw, nr = mw, mr
end
hw, hr = add(hw, hr, sub(nw, nr, cw, cr))
put(KEYS[1], 'held', hw, hr)
if nw == 0 and nr == 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
else
  redis.call('HSET', KEYS[3], ARGV[1], fmt(nw) .. ' ' .. fmt(nr))
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[9]), ARGV[1])
end
return {fmt(nw), fmt(nr)}
`,
};

/**
 * The charges of requests admitted against a lease, many in one step: each booked as settle books
 * it (allowance first, then wallet; streamed; idempotent per hold id), and the lease shrinks by
 * what was charged (what exceeds it is debt, like usage above a hold).
 * KEYS: acct, allow, holds, holdexp, charge stream, then the settled marker of each charge.
 * ARGV: lease id, has allowance, allowance w, r, marker ttl s, instance, lease ttl ms, then per
 *       charge: hold id, w, r, period, record.
 * → per charge: {duplicate (1/0), split} as settle returns them; last: {lease w, r}.
 */
const settleLeased: ScriptDefinition = {
  numberOfKeys: -1,
  lua: `${COMMON}
local now = nowMs()
local ew, er = 0, 0
local current = redis.call('HGET', KEYS[3], ARGV[1])
if current then ew, er = pair(current) end
local hw, hr = get(KEYS[1], 'held')
local out = {}
for i = 6, #KEYS do
  local a = 8 + 5 * (i - 6)
  local done = redis.call('GET', KEYS[i])
  if done then
    out[#out + 1] = {1, done}
  else
    local cw, cr = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    out[#out + 1] = {0, bookCharge(KEYS[1], KEYS[2], KEYS[5], KEYS[i], ARGV[5], ARGV[a], ARGV[6], ARGV[a + 4], cw, cr, ARGV[2], ARGV[3], ARGV[4], ARGV[a + 3])}
    -- The lease gives up what was charged, as far as it goes.
    local xw, xr = cw, cr
    if cmp(ew, er, xw, xr) < 0 then xw, xr = ew, er end
    ew, er = sub(ew, er, xw, xr)
    hw, hr = sub(hw, hr, xw, xr)
  end
end
put(KEYS[1], 'held', hw, hr)
if current then
  redis.call('HSET', KEYS[3], ARGV[1], fmt(ew) .. ' ' .. fmt(er))
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[7]), ARGV[1])
end
out[#out + 1] = {fmt(ew), fmt(er)}
return out
`,
};

/**
 * KEYS: acct, grants, charge stream. ARGV: grant id, w, r, entry, instance.
 * → {created (1/0), the entry recorded under this id}.
 */
const grant: ScriptDefinition = {
  numberOfKeys: 3,
  lua: `${COMMON}
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {0, existing} end
local mw, mr = tonumber(ARGV[2]), tonumber(ARGV[3])
local ww, wr = get(KEYS[1], 'wallet')
ww, wr = add(ww, wr, mw, mr)
put(KEYS[1], 'wallet', ww, wr)
local gw, gr = get(KEYS[1], 'granted')
gw, gr = add(gw, gr, mw, mr)
put(KEYS[1], 'granted', gw, gr)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('XADD', KEYS[3], '*', 'type', 'grant', 'id', ARGV[1], 'instance', ARGV[5], 'record', ARGV[4])
return {1, ARGV[4]}
`,
};

/**
 * KEYS: acct, allow, holds, holdexp. ARGV: has allowance, allowance w, r, period.
 * → {wallet w, r, granted w, r, charged w, r, held w, r, allowance used w, r}.
 */
const balance: ScriptDefinition = {
  numberOfKeys: 4,
  lua: `${COMMON}
sweep(KEYS[1], KEYS[3], KEYS[4], nowMs())
local ww, wr = get(KEYS[1], 'wallet')
local gw, gr = get(KEYS[1], 'granted')
local cw, cr = get(KEYS[1], 'charged')
local hw, hr = get(KEYS[1], 'held')
local uw, ur = 0, 0
if ARGV[1] == '1' then uw, ur = get(KEYS[2], ARGV[4]) end
return {fmt(ww), fmt(wr), fmt(gw), fmt(gr), fmt(cw), fmt(cr), fmt(hw), fmt(hr), fmt(uw), fmt(ur)}
`,
};

/** KEYS: one bucket per draw. ARGV: capacity, per second, cost for each draw: adds every cost without a check (negative gives back). */
const adjust: ScriptDefinition = {
  numberOfKeys: -1,
  lua: `${COMMON}${BUCKETS}
apply(1, 1, nowMs(), {})
return 1
`,
};

export const SCRIPTS = { admit, settle, release, lease, settleLeased, grant, balance, adjust } as const;
export type ScriptName = keyof typeof SCRIPTS;
