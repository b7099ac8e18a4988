"""Lua scripts for multi-key updates that must agree (SPEC §4): each runs atomically in Redis.

Registered once per Redis client (redis-py `Script`: EVALSHA, reloaded on NOSCRIPT).

Cash is per account on the platform while the seed keys `cash_cents` per market. The
account's available cash is kept once, in `amm:cash`: a script that moves cash changes it
there (`cash_move`) and writes it into the hash of the market it works on; every other
market's `cash_cents` catches up at that market's next quote cycle (CYCLE_BEGIN) or script.
Readers of the AMM read `amm:cash` itself. (Earlier versions added every delta to the hash
of every kept market: O(markets) writes per cash move, O(markets²) per second across the
account, which at 600 markets was a quarter of Redis's CPU; their mirrors are adopted once
by `cash_get` when `amm:cash` is missing.) Scripts touch `amm:cash` and, to adopt, other
markets' keys by name (a single Redis, not a cluster).

Freezing mirrors the platform (SPEC §3.2): a tracked BUY holds `remaining × (price +
ceil(price × max(maker, taker) bps / 10000))` cents out of `cash_cents`; a tracked SELL
holds `remaining` shares out of `{side}_available`. Fills, cancels and replaces release
what the Redis copy of the order holds; a fill of an order that is not tracked (filled at
once, or tracked later) moves the full amounts and is remembered in
`amm:untracked_fills:{m}` so that tracking it later holds only what is still unfilled.
The sums come out equal to the platform's in every interleaving of REST answers and the
fill feed.

Integers: Lua numbers are doubles; money stays exact below 2^53 cents. Values are written
with `%d` so large integers never turn into `1e+15`.
"""
from __future__ import annotations

import redis

import amm.state.keys as K

PRELUDE = f"""
local INV_PREFIX = '{K.INVENTORY_PREFIX}'
local ORD_PREFIX = '{K.ORDERS_PREFIX}'
local MKT_PREFIX = '{K.MARKET_PREFIX}'
local CASH_KEY = '{K.CASH}'
local function int(v)
  if v == false or v == nil then return 0 end
  return tonumber(v) or 0
end
local function s(x) return string.format('%d', x) end
local function fee_per_share(market_key, price)
  local m = redis.call('HMGET', market_key, 'maker_fee_bps', 'taker_fee_bps')
  local bps = math.max(int(m[1]), int(m[2]))
  return math.floor((price * bps + 9999) / 10000)
end
-- the account's available cash, nil while no market was ever kept; a Redis written by an
-- earlier version holds it only as the mirror in every kept market's hash: adopted once
local function cash_get(markets_key)
  local cash = redis.call('GET', CASH_KEY)
  if cash then return tonumber(cash) end
  for _, m in ipairs(redis.call('SMEMBERS', markets_key)) do
    local mirrored = redis.call('HGET', INV_PREFIX .. m, 'cash_cents')
    if mirrored then
      redis.call('SET', CASH_KEY, mirrored)
      return tonumber(mirrored)
    end
  end
  return nil
end
-- cash moved by delta: amm:cash, and the mirror in the hash of the market worked on
local function cash_move(markets_key, inv_key, delta, now)
  if delta == 0 then return end
  local cash = cash_get(markets_key)
  if cash == nil then return end
  cash = cash + delta
  redis.call('SET', CASH_KEY, s(cash))
  if redis.call('EXISTS', inv_key) == 1 then
    redis.call('HSET', inv_key, 'cash_cents', s(cash), 'updated_at_ms', now)
  end
end
-- cost released by selling n of vol shares: cost * n // vol without overflowing 2^53
local function release(cost, n, vol)
  if vol <= 0 or n >= vol then return cost end
  local q = math.floor(cost / vol)
  local r = cost - q * vol
  return q * n + math.floor(r * n / vol)
end
local function held_cash(market_key, o)
  if o.direction ~= 'BUY' then return 0 end
  return o.remaining * (o.price + fee_per_share(market_key, o.price))
end
-- give back what a tracked order holds (cancel, replace, passive cancel)
local function release_order(inv_key, market_key, markets_key, o, now)
  if o.direction == 'BUY' then
    cash_move(markets_key, inv_key, held_cash(market_key, o), now)
  elseif redis.call('EXISTS', inv_key) == 1 then
    redis.call('HINCRBY', inv_key, string.lower(o.side) .. '_available', s(o.remaining))
    redis.call('HSET', inv_key, 'updated_at_ms', now)
  end
end
local function journal(key, maxlen, fields)
  redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*', unpack(fields))
end
"""

# KEYS: orders, inventory, market, markets, journal, untracked
# ARGV: order_id, side, direction, price, qty, book_type, created_ms, now_ms, track(1/0),
#       client_order_id, platform status, market_id, journal maxlen
# Returns the remaining quantity now tracked (0: not tracked / already tracked).
TRACK = PRELUDE + """
local oid, side, dir = ARGV[1], ARGV[2], ARGV[3]
local price, qty = tonumber(ARGV[4]), tonumber(ARGV[5])
local now, track = ARGV[8], ARGV[9] == '1'
if track and redis.call('HEXISTS', KEYS[1], oid) == 1 then return 0 end
local early = int(redis.call('HGET', KEYS[6], oid))
redis.call('HDEL', KEYS[6], oid)
local remaining = 0
if track and qty - early > 0 then
  remaining = qty - early
  local o = {side=side, direction=dir, price=price, qty=qty, remaining=remaining,
             book_type=ARGV[6], created_ms=tonumber(ARGV[7])}
  redis.call('HSET', KEYS[1], oid, cjson.encode(o))
  if dir == 'BUY' then
    cash_move(KEYS[4], KEYS[2], -held_cash(KEYS[3], o), now)
  elseif redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], string.lower(side) .. '_available', s(-remaining))
    redis.call('HSET', KEYS[2], 'updated_at_ms', now)
  end
end
journal(KEYS[5], ARGV[13], {'event', 'PLACED', 'order_id', oid, 'market_id', ARGV[12],
  'client_order_id', ARGV[10], 'side', side, 'direction', dir, 'book_type', ARGV[6],
  'price', ARGV[4], 'qty', ARGV[5], 'status', ARGV[11], 'created_ms', ARGV[7], 'ts', now})
return remaining
"""

# KEYS: orders, inventory, market, markets, journal
# ARGV: now_ms, event (CANCELLED / REPLACED), market_id, journal maxlen, order ids... ('*' = all)
# Returns how many tracked orders were released.
UNTRACK = PRELUDE + """
local now = ARGV[1]
local ids = {}
if ARGV[5] == '*' then
  ids = redis.call('HKEYS', KEYS[1])
else
  for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, oid in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], oid)
  if raw then
    local o = cjson.decode(raw)
    release_order(KEYS[2], KEYS[3], KEYS[4], o, now)
    redis.call('HDEL', KEYS[1], oid)
    journal(KEYS[5], ARGV[4], {'event', ARGV[2], 'order_id', oid, 'market_id', ARGV[3],
      'remaining', s(o.remaining), 'ts', now})
    n = n + 1
  end
end
return n
"""

# KEYS: processed, inventory, orders, market, markets, state, journal, untracked, trade cursor,
#       fills counter (amm:metrics:fills)
# ARGV: trade_id, now_ms, processed ttl, market_id, journal maxlen, untracked ttl, n legs,
#       then per leg: order_id, side, direction, own price, qty, fee, book_type
# Legs come in the platform's order (ask, then bid) so a self-trade releases cost as it does.
# The cursor is moved forward to the trade id in the same step, so "cursor = c" always means
# every trade <= c is applied (the feed applies pages in ascending order).
# Returns 1 when applied, 0 when the trade was already processed.
FILL = PRELUDE + """
local trade_id, now = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', KEYS[1], trade_id) == 1 then return 0 end
local inv = KEYS[2]
local kept = redis.call('SISMEMBER', KEYS[5], ARGV[4]) == 1 and redis.call('EXISTS', inv) == 1
local cash_delta, pnl = 0, 0
local nlegs = tonumber(ARGV[7])
for i = 0, nlegs - 1 do
  local b = 8 + i * 7
  local oid, side, dir = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local own, qty, fee = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local lo = string.lower(side)
  local vol_f, cost_f, avail_f = lo .. '_volume', lo .. '_cost_sum_cents', lo .. '_available'
  local raw = redis.call('HGET', KEYS[3], oid)
  local remaining = ''
  local untracked = qty
  if raw then
    local o = cjson.decode(raw)
    local take = math.min(qty, o.remaining)
    if o.direction == 'BUY' then
      cash_delta = cash_delta + take * (o.price + fee_per_share(KEYS[4], o.price))
    end
    untracked = qty - take
    o.remaining = o.remaining - take
    remaining = s(o.remaining)
    if o.remaining <= 0 then
      redis.call('HDEL', KEYS[3], oid)
    else
      redis.call('HSET', KEYS[3], oid, cjson.encode(o))
    end
  end
  if untracked > 0 then
    redis.call('HINCRBY', KEYS[8], oid, s(untracked))
    redis.call('EXPIRE', KEYS[8], ARGV[6])
  end
  if dir == 'BUY' then
    if kept then
      redis.call('HINCRBY', inv, vol_f, s(qty))
      redis.call('HINCRBY', inv, avail_f, s(qty))
      redis.call('HINCRBY', inv, cost_f, s(own * qty))
    end
    cash_delta = cash_delta - own * qty - fee
    pnl = pnl - fee
  else
    if kept then
      local vol, cost = int(redis.call('HGET', inv, vol_f)), int(redis.call('HGET', inv, cost_f))
      local released = release(cost, qty, vol)
      redis.call('HSET', inv, cost_f, s(cost - released), vol_f, s(vol - qty))
      if untracked > 0 then redis.call('HINCRBY', inv, avail_f, s(-untracked)) end
      pnl = pnl + own * qty - released - fee
    else
      pnl = pnl + own * qty - fee
    end
    cash_delta = cash_delta + own * qty - fee
  end
  journal(KEYS[7], ARGV[5], {'event', 'FILL', 'order_id', oid, 'market_id', ARGV[4], 'trade_id', trade_id,
    'side', side, 'direction', dir, 'book_type', ARGV[b + 6], 'price', ARGV[b + 3], 'qty', ARGV[b + 4],
    'fee', ARGV[b + 5], 'remaining', remaining, 'ts', now})
end
cash_move(KEYS[5], inv, cash_delta, now)
redis.call('SADD', KEYS[1], trade_id)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if tonumber(trade_id) > int(redis.call('GET', KEYS[9])) then redis.call('SET', KEYS[9], trade_id) end
if kept then
  redis.call('HSET', inv, 'updated_at_ms', now)
  redis.call('HINCRBY', KEYS[6], 'total_fills_today', 1)
  redis.call('HINCRBY', KEYS[6], 'daily_pnl_cents', s(pnl))
  redis.call('HINCRBY', KEYS[10], ARGV[4], 1)
end
return 1
"""

# KEYS: processed, inventory, markets, pending privileged ops, cash epoch
# ARGV: member ('mint:<request_id>'), kind (MINT/BURN), quantity, now_ms, processed ttl,
#       pending field ('<market>:<request_id>'), then optionally the answer's position:
#       yes_volume, yes_cost_sum, no_volume, no_cost_sum.
# The op leaves the pending hash and the cash epoch moves (see REBUILD).
# Weighted-average cost depends on the order of events, and fills the platform cleared just
# before (or after) the mint may reach Redis in the other order. The answer's position is the
# platform's truth at that moment: when Redis, with the delta applied, holds the same volumes
# (it has seen the same fills), the answer's cost sums are adopted and Redis is exact.
# Returns 0 for a repeated answer, 1 when applied (no position given), 3 when applied and
# exact, 2 when applied but the volumes differ (fills still in flight one way or the other):
# the caller then rebuilds the market from the platform.
PRIVILEGED = PRELUDE + """
redis.call('HDEL', KEYS[4], ARGV[6])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('INCR', KEYS[5])
local q, now, inv = tonumber(ARGV[3]), ARGV[4], KEYS[2]
local kept = redis.call('EXISTS', inv) == 1
if ARGV[2] == 'MINT' then
  if kept then
    for _, lo in ipairs({'yes', 'no'}) do
      redis.call('HINCRBY', inv, lo .. '_volume', s(q))
      redis.call('HINCRBY', inv, lo .. '_available', s(q))
      redis.call('HINCRBY', inv, lo .. '_cost_sum_cents', s(50 * q))
    end
  end
  cash_move(KEYS[3], inv, -100 * q, now)
else
  if kept then
    for _, lo in ipairs({'yes', 'no'}) do
      local vol, cost = int(redis.call('HGET', inv, lo .. '_volume')), int(redis.call('HGET', inv, lo .. '_cost_sum_cents'))
      local released = release(cost, q, vol)
      redis.call('HSET', inv, lo .. '_volume', s(vol - q), lo .. '_cost_sum_cents', s(cost - released))
      redis.call('HINCRBY', inv, lo .. '_available', s(-q))
    end
  end
  cash_move(KEYS[3], inv, 100 * q, now)
end
local outcome = 1
if kept and ARGV[7] then
  local v = redis.call('HMGET', inv, 'yes_volume', 'no_volume')
  if int(v[1]) == tonumber(ARGV[7]) and int(v[2]) == tonumber(ARGV[9]) then
    redis.call('HSET', inv, 'yes_cost_sum_cents', ARGV[8], 'no_cost_sum_cents', ARGV[10])
    outcome = 3
  else
    outcome = 2
  end
end
if kept then redis.call('HSET', inv, 'updated_at_ms', now) end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return outcome
"""

# Sum of cash held by tracked BUY orders over every kept market, and this market's cash.
# KEYS: markets, inventory ; returns {cash_cents or -1 when absent, held cash}
CASH_VIEW = PRELUDE + """
local held = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, raw in ipairs(redis.call('HVALS', ORD_PREFIX .. m)) do
    held = held + held_cash(MKT_PREFIX .. m, cjson.decode(raw))
  end
end
local cash = '-1'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local c = cash_get(KEYS[1])
  if c ~= nil then cash = s(c) end
end
return {cash, s(held)}
"""

# Rebuild one market from a platform snapshot (startup sync, reconciliation repair).
# KEYS: inventory, orders, state, market, markets, untracked, trade cursor, pending privileged
#       ops, cash epoch
# ARGV: market_id, now_ms, yes_volume, yes_cost, yes_pending, no_volume, no_cost, no_pending,
#       cash mode ('available' | 'total'), cash value, market meta JSON, state JSON (set),
#       state defaults JSON (set when absent), expected cursor, n orders, then
#       (order_id, order JSON) pairs, then the expected cash epoch ('' : not checked) and the
#       age (ms) past which a pending mint/burn no longer counts as in flight (it is dropped).
# The snapshot reflects exactly the trades <= expected cursor; if the fill feed has applied
# a newer trade since (the cursor moved), nothing is written and {'moved', cursor} returns.
# The cash it read must not straddle a mint/burn of any market (their answers move every
# market's cash when applied): with a mint/burn in flight, or one applied since the snapshot
# began (the epoch moved), nothing is written either.
# Cash 'available': the account's available balance read in a quiet window (exact).
# Cash 'total': available + frozen read while the account was busy; available is then
# derived as total minus what tracked BUY orders hold, which no placement race can skew.
# Returns {'ok', cash_cents written}.
REBUILD = PRELUDE + """
local now = ARGV[2]
local cursor = int(redis.call('GET', KEYS[7]))
if cursor ~= tonumber(ARGV[14]) then return {'moved', s(cursor)} end
local n = tonumber(ARGV[15])
local epoch = ARGV[16 + 2 * n]
if epoch and epoch ~= '' then
  if int(redis.call('GET', KEYS[9])) ~= tonumber(epoch) then return {'moved', s(cursor)} end
  local oldest = tonumber(now) - tonumber(ARGV[17 + 2 * n])
  local pending = redis.call('HGETALL', KEYS[8])
  for i = 1, #pending, 2 do
    if tonumber(string.match(pending[i + 1], ':(%d+)$') or '0') >= oldest then return {'moved', s(cursor)} end
    redis.call('HDEL', KEYS[8], pending[i])
  end
end
redis.call('DEL', KEYS[2], KEYS[6])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[2], ARGV[16 + 2 * i], ARGV[17 + 2 * i])
end
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[4])
local meta = cjson.decode(ARGV[11])
for k, v in pairs(meta) do redis.call('HSET', KEYS[4], k, tostring(v)) end
local yv, yc, yp = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local nv, nc, np = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('HSET', KEYS[1], 'yes_volume', s(yv), 'no_volume', s(nv), 'yes_available', s(yv - yp),
  'no_available', s(nv - np), 'yes_cost_sum_cents', s(yc), 'no_cost_sum_cents', s(nc), 'updated_at_ms', now)
local cash = tonumber(ARGV[10])
if ARGV[9] == 'total' then
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    for _, raw in ipairs(redis.call('HVALS', ORD_PREFIX .. m)) do
      cash = cash - held_cash(MKT_PREFIX .. m, cjson.decode(raw))
    end
  end
end
redis.call('SET', CASH_KEY, s(cash))
redis.call('HSET', KEYS[1], 'cash_cents', s(cash))
for k, v in pairs(cjson.decode(ARGV[12])) do redis.call('HSET', KEYS[3], k, tostring(v)) end
for k, v in pairs(cjson.decode(ARGV[13])) do redis.call('HSETNX', KEYS[3], k, tostring(v)) end
return {'ok', s(cash)}
"""

# KEYS: cursor ; ARGV: candidate. Moves the cursor forward only; returns the cursor.
CURSOR_ADVANCE = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then
  redis.call('SET', KEYS[1], string.format('%d', new))
  return string.format('%d', new)
end
return string.format('%d', cur)
"""

# Leases (amm/runtime/lease.py): take one (free, or whoever holds it) with a fencing token
# strictly greater than every earlier acquisition's: max(last + 1, Redis's clock in µs), so
# that it stays ahead of the tokens the platform has seen even when Redis lost the counter
# (a restart without persistence) — unless Redis's clock went back meanwhile. One counter
# serves every resource (larger than any earlier token of any resource, so of this one too: a
# key per market cost 88 bytes each); the resource's own counter older versions kept is taken
# into account once and deleted.
# lease_take(lease, fence (the one counter), the resource's legacy fence, token, ttl ms, steal):
# {fencing token, previous holder's token or ''}, or nil when not free and not stealing.
# lease_release(lease, token): 1 when released, 0 when it was not ours.
LEASE_PRELUDE = """
local function lease_take(lease, fence_key, legacy_key, token, ttl, steal)
  local prev = redis.call('GET', lease)
  if prev and not steal then
    return nil
  end
  redis.call('SET', lease, token, 'PX', ttl)
  local t = redis.call('TIME')
  local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local fence = math.max(tonumber(redis.call('GET', fence_key) or '0') + 1,
                         tonumber(redis.call('GET', legacy_key) or '0') + 1, now_us)
  redis.call('SET', fence_key, string.format('%d', fence))
  redis.call('DEL', legacy_key)
  return {string.format('%d', fence), prev or ''}
end
local function lease_release(lease, token)
  if redis.call('GET', lease) == token then
    redis.call('DEL', lease)
    return 1
  end
  return 0
end
"""
# KEYS: lease, fence (the one counter), the resource's legacy fence ; ARGV: token, ttl ms, steal (0/1).
LEASE_ACQUIRE = LEASE_PRELUDE + """
return lease_take(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3] == '1')
"""
# Renew only while the token is still ours.
# KEYS: lease ; ARGV: token, ttl ms. Returns 1 when renewed, 0 when the lease is not ours.
LEASE_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# KEYS: lease ; ARGV: token.
LEASE_RELEASE = LEASE_PRELUDE + """
return lease_release(KEYS[1], ARGV[1])
"""

# Job markers (amm/runtime/unique_jobs.py): at most one queued-or-running job per key.
# KEYS: marker, rerun ; ARGV: marker value, ttl ms, reason.
# Returns 1 when the marker was taken (enqueue the job), 0 when a job is queued or running
# (it is asked to run again). Atomic against JOB_FINISH, so no request is ever lost.
JOB_REQUEST = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
redis.call('SET', KEYS[2], ARGV[3])
return 0
"""
# job_finish(marker, rerun, ttl ms): the job's end: a pending rerun request is taken and the
# marker kept (returned: run again), else the marker is deleted (returns false).
JOB_PRELUDE = """
local function job_finish(marker, rerun, ttl)
  local again = redis.call('GET', rerun)
  if again then
    redis.call('DEL', rerun)
    redis.call('PEXPIRE', marker, ttl)
    return again
  end
  redis.call('DEL', marker)
  return false
end
"""
# KEYS: marker, rerun ; ARGV: ttl ms.
JOB_FINISH = JOB_PRELUDE + """
return job_finish(KEYS[1], KEYS[2], ARGV[1])
"""

# KEYS: marker1, rerun1, marker2, rerun2, ... ; ARGV: job id prefix, ttl ms, reason, batch
# size, rerun ('1': a key whose job is queued or running is asked to run once more, as
# JOB_REQUEST does; '0': it is left alone — a periodic tick is served by the job there is).
# The markers taken are dealt out in order to batches of `batch size`, the n-th batch's
# markers holding '<prefix>-b<n>' (its job id). Returns the 1-based indexes of those taken.
JOB_REQUEST_MANY = """
local taken, size = {}, tonumber(ARGV[4])
for i = 1, #KEYS, 2 do
  local jid = ARGV[1] .. '-b' .. math.floor(#taken / size)
  if redis.call('SET', KEYS[i], jid, 'NX', 'PX', ARGV[2]) then
    taken[#taken + 1] = (i + 1) / 2
  elseif ARGV[5] == '1' then
    redis.call('SET', KEYS[i + 1], ARGV[3])
  end
end
return taken
"""

# Periodic cycles for the workers' tick lanes (amm/runtime/tick_lane.py): the markers taken as
# JOB_REQUEST_MANY does with rerun '0' (a market whose cycle is queued or running is left to
# it), and the markets taken pushed onto the lane list in batches, with the claim: a batch
# never exists without its markers, nor markers without their batch.
# KEYS: amm:ticks, then one job marker per market ; ARGV: batch id prefix, marker ttl ms,
# batch size, now ms, reason, then the market ids (one per marker, in KEYS' order).
# Each batch is JSON [now ms, reason, [market ids]], its markers holding '<prefix>-b<n>'.
# Returns the number of markets taken.
TICKS_REQUEST = """
local size, taken = tonumber(ARGV[3]), {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1] .. '-b' .. math.floor(#taken / size), 'NX', 'PX', ARGV[2]) then
    taken[#taken + 1] = ARGV[i + 4]
  end
end
for first = 1, #taken, size do
  local batch = {}
  for j = first, math.min(first + size - 1, #taken) do batch[#batch + 1] = taken[j] end
  redis.call('RPUSH', KEYS[1], cjson.encode({ARGV[4], ARGV[5], batch}))
end
return #taken
"""

# A quote cycle's start in one round trip (amm/state/quote_cycle.py `cycle_begin`): its job
# run starts (the rerun request it serves taken, the marker's running TTL set, as
# job_markers.job_started), the market's lease taken when free, and — only then — the
# cycle's read (the keys of quote_cycle.CYCLE_READ, in that order; the fills taken).
# The market's `cash_cents` mirror is brought to `amm:cash` first (see cash_move), so the
# inventory read holds the account's cash.
# KEYS: job marker, rerun, lease, fence (the one counter), then the read's keys (5-19: the tape
# a sorted set), then the resource's legacy fence (20), amm:cash (21)
# ARGV: job ttl ms ('' : no job), lease token, lease ttl ms, the config's version field
# Returns {rerun reason or nil, fencing token or nil, then the read's values when the lease
# was taken: hashes as flat field/value lists}.
CYCLE_BEGIN = LEASE_PRELUDE + """
local again = false
if ARGV[1] ~= '' then
  again = redis.call('GETDEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local got = lease_take(KEYS[3], KEYS[4], KEYS[20], ARGV[2], ARGV[3], false)
if not got then return {again, false} end
local cash = redis.call('GET', KEYS[21])
if cash and redis.call('EXISTS', KEYS[5]) == 1 and redis.call('HGET', KEYS[5], 'cash_cents') ~= cash then
  redis.call('HSET', KEYS[5], 'cash_cents', cash)
end
local function hash(k) return redis.call('HGETALL', k) end
local function str(k) return redis.call('GET', k) end
local fills = redis.call('LRANGE', KEYS[13], 0, -1)
redis.call('DEL', KEYS[13])
return {again, got[1],
  hash(KEYS[5]), hash(KEYS[6]), hash(KEYS[7]), redis.call('HGET', KEYS[8], ARGV[4]), hash(KEYS[9]),
  hash(KEYS[10]), str(KEYS[11]), hash(KEYS[12]), fills, hash(KEYS[14]), str(KEYS[15]), str(KEYS[16]),
  str(KEYS[17]), redis.call('ZRANGE', KEYS[18], 0, -1), str(KEYS[19])}
"""

# A quote cycle's end in one round trip (`cycle_close`): what it committed (as cycle_commit
# writes it), the run's last-cycle heartbeat and the cycle's latency, the lease released
# (only while the token is ours) and its job run finished (as JOB_FINISH).
# And the job queue's head, peeked at for the batch of cycles the job belongs to (it gives way
# to a single market's cycle waiting there: amm/runtime/cycle_runs.py).
# KEYS: run, latency histogram, lease, job marker, rerun, state, strategy, book, runtime, queue,
#       tape
# ARGV: [1] last_cycle_ms, [2] latency bucket field ('' : no latency), [3] its sum field,
#       [4] latency µs, [5] lease token ('' : nothing to release), [6] job ttl ms ('' : no job),
#       [7] '1' : commit the fields below, [8] strategy text ('' : not written), [9] book text
#       ('' : not written), [10] '1' : peek at the queue, [11] '1' : drop the kept book (the
#       cycle read the pushed one) unless [9] writes one, [12] the tape's last trade id seen
#       ('' : none; the tape's trades up to it are removed), [13] n state fields, then n (field,
#       value) pairs of amm:state, then (field, value) pairs of amm:runtime to the end.
# Returns {the job's rerun reason (run again) or nil, the queue's head or nil}.
CYCLE_CLOSE = LEASE_PRELUDE + JOB_PRELUDE + """
if ARGV[7] == '1' then
  local n = tonumber(ARGV[13])
  if n > 0 then redis.call('HSET', KEYS[6], unpack(ARGV, 14, 13 + 2 * n)) end
  if ARGV[8] ~= '' then redis.call('SET', KEYS[7], ARGV[8]) end
  if ARGV[9] ~= '' then
    redis.call('SET', KEYS[8], ARGV[9])
  elseif ARGV[11] == '1' then
    redis.call('DEL', KEYS[8])
  end
  if ARGV[12] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf', ARGV[12]) end
  if #ARGV > 13 + 2 * n then redis.call('HSET', KEYS[9], unpack(ARGV, 14 + 2 * n, #ARGV)) end
  redis.call('HINCRBY', KEYS[9], 'cycles', 1)
end
redis.call('HSET', KEYS[1], 'last_cycle_ms', ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])
end
if ARGV[5] ~= '' then lease_release(KEYS[3], ARGV[5]) end
local again = false
if ARGV[6] ~= '' then again = job_finish(KEYS[4], KEYS[5], ARGV[6]) end
local head = false
if ARGV[10] == '1' then head = redis.call('LINDEX', KEYS[10], 0) end
return {again, head}
"""

# KEYS: oracle health hash ; ARGV: error, now_ms, alert_after, interval_ms, backoff_max_ms.
# One more consecutive failure: the count, the back-off (the source is not asked again
# before now + min(interval * (2^(n-1) - 1), max)), and whether this failure is the one that
# raises the run's alert (the n-th with n >= alert_after, once until a success). Returns
# {failures, claimed 0/1, retry_at_ms}.
ORACLE_FAILED = """
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local now = tonumber(ARGV[2])
local extra = tonumber(ARGV[4]) * (2 ^ math.min(n - 1, 40) - 1)
local retry_at = now + math.min(extra, tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'last_error', ARGV[1], 'last_error_ms', ARGV[2], 'retry_at_ms', string.format('%d', retry_at))
local claimed = 0
if n >= tonumber(ARGV[3]) and redis.call('HGET', KEYS[1], 'alerted') ~= '1' then
  redis.call('HSET', KEYS[1], 'alerted', '1')
  claimed = 1
end
return {n, claimed, string.format('%d', retry_at)}
"""

# Drop what older versions of the runtime kept of one market: the fields of `amm:runtime:{m}`
# named in ARGV (once the hash held a long value Redis keeps its hashtable encoding until the
# key is written anew: rewritten without them) and the old list tape.
# KEYS: runtime, legacy tape. ARGV: legacy field names. Returns 1 when the hash was rewritten.
RUNTIME_COMPACT = """
redis.call('DEL', KEYS[2])
local legacy = {}
local found = false
for _, name in ipairs(ARGV) do
  legacy[name] = true
  if redis.call('HEXISTS', KEYS[1], name) == 1 then found = true end
end
if not found then return 0 end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
for i = 1, #all, 2 do
  if not legacy[all[i]] then redis.call('HSET', KEYS[1], all[i], all[i + 1]) end
end
return 1
"""

# `amm:pushbook:{m}` only forward: two feeds write it (the WebSocket book feed's book, the event
# feed's deltas applied to it), each book exact at its sequence; one older than the stored is dropped.
# KEYS: the books. ARGV: (value, sequence_id) for each key in turn. Returns how many were written.
PUSH_BOOKS_FORWARD = """
local written = 0
for i, key in ipairs(KEYS) do
  local value, seq = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local cur = redis.call('GET', key)
  local stored = nil
  if cur then
    local ok, v = pcall(cjson.decode, cur)
    if ok and type(v) == 'table' then stored = tonumber(v[1] or v['sequence_id']) end
  end
  if stored == nil or stored <= seq then
    redis.call('SET', key, value)
    written = written + 1
  end
end
return written
"""

SOURCES = {
    "job_request": JOB_REQUEST,
    "job_request_many": JOB_REQUEST_MANY,
    "ticks_request": TICKS_REQUEST,
    "job_finish": JOB_FINISH,
    "lease_acquire": LEASE_ACQUIRE,
    "lease_renew": LEASE_RENEW,
    "lease_release": LEASE_RELEASE,
    "cycle_begin": CYCLE_BEGIN,
    "cycle_close": CYCLE_CLOSE,
    "track": TRACK,
    "untrack": UNTRACK,
    "fill": FILL,
    "privileged": PRIVILEGED,
    "cash_view": CASH_VIEW,
    "rebuild": REBUILD,
    "cursor_advance": CURSOR_ADVANCE,
    "oracle_failed": ORACLE_FAILED,
    "runtime_compact": RUNTIME_COMPACT,
    "push_books_forward": PUSH_BOOKS_FORWARD,
}


_REGISTERED: dict[int, tuple[redis.Redis, dict]] = {}


def script(client: redis.Redis, name: str):
    """The registered Script `name` for this client (registered once per client)."""
    entry = _REGISTERED.get(id(client))
    if entry is None or entry[0] is not client:
        entry = (client, {n: client.register_script(source) for n, source in SOURCES.items()})
        _REGISTERED[id(client)] = entry
    return entry[1][name]
