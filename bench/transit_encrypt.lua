-- transit_encrypt.lua - wrk script: POST /v1/<mount>/encrypt/<key> with a fixed
-- 1 KiB plaintext (base64 in the JSON body, as every transit client sends it).
-- Arguments (wrk ... URL -- MOUNT KEY PLAINTEXT_B64); the token comes from
-- wrk's -H "X-Vault-Token: ...".

function init(args)
	local mount = args[1] or "transit"
	local key = args[2] or "bench"
	wrk.method = "POST"
	wrk.path = "/v1/" .. mount .. "/encrypt/" .. key
	wrk.body = '{"plaintext":"' .. (args[3] or "") .. '"}'
	wrk.headers["Content-Type"] = "application/json"
end

function request()
	return wrk.format(nil, wrk.path)
end
