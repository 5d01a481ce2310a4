-- kv_write.lua - wrk script for durable KV v2 writes.
-- Each request is POST /v1/secret/data/bench/<tag>-t<thread>-<counter> with body
-- {"data":{"v":"..."}}: every request creates a new secret, so no two writers touch
-- the same key (no check-and-set or row contention; pure commit throughput).
-- The token comes from wrk's -H "X-Vault-Token: ..."; the tag from the first script
-- argument (wrk ... URL -- TAG) so repeated runs never collide.
-- With a second argument "random", keys are drawn at random from 100,000 instead
-- (upserts of existing secrets once the space fills).

local thread_id = 0

function setup(thread)
	thread:set("tid", thread_id)
	thread_id = thread_id + 1
end

local counter = 0
local tag = "w"
local random_keys = false
local body = '{"data":{"v":"' .. string.rep("x", 64) .. '"}}'

function init(args)
	if args[1] then tag = args[1] end
	random_keys = args[2] == "random"
	wrk.method = "POST"
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
	math.randomseed(os.time() + (tid or 0))
end

function request()
	counter = counter + 1
	local key
	if random_keys then
		key = string.format("%s-r%d", tag, math.random(100000))
	else
		key = string.format("%s-t%d-%d", tag, tid or 0, counter)
	end
	return wrk.format(nil, "/v1/secret/data/bench/" .. key)
end
