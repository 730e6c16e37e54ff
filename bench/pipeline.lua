-- bench/pipeline.lua -- a wrk script that writes PIPELINE (default 16) requests for the URL's path at once, for bench/http.sh's pipelined figure.
-- wrk counts every answer as a request, so its req/s is answers per second.

local depth = tonumber(os.getenv("PIPELINE") or "16")
local batch

init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, nil)
    end
    batch = table.concat(r)
end

request = function()
    return batch
end
