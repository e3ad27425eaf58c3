-- wrk script for bench/verify.sh: spreads requests over every access token in
-- $TOKENS_FILE (one per line), sent as "Authorization: Bearer <token>" beside
-- the headers given with -H.
--
-- Measured runs: thread k of $TOKENS_THREADS (wrk -t, default 2) starts at
-- token 1 + k * n / threads and walks ALL tokens round robin from there, so the
-- threads are on different tokens at any moment.
--
-- Warm-up pass ($TOKENS_WARM set to a directory): thread k sends each token of
-- its own slice [k * n / threads, (k + 1) * n / threads) once, so together the
-- threads touch every token once; when all its replies are in, the thread
-- stops and creates $TOKENS_WARM/done-<k> (verify.sh then ends wrk with
-- SIGINT: wrk itself always sleeps the whole -d). done() prints per thread how
-- many replies came back and how many were not 200/204.
--
-- The request text is built once per thread around the token (no wrk.format
-- per request), and the 1-token baseline uses this same script with a file of
-- one token, so both sides of the 100k / 1 ratio pay wrk the same Lua cost.

local threads = {}
local nextid = 0

function setup(thread)
    thread:set("id", nextid)
    nextid = nextid + 1
    table.insert(threads, thread)
end

function init(args)
    local path = os.getenv("TOKENS_FILE") or error("TOKENS_FILE is not set")
    local f = assert(io.open(path, "r"))
    tokens = {}
    for line in f:lines() do
        if #line > 0 then tokens[#tokens + 1] = line end
    end
    f:close()
    n = #tokens
    if n == 0 then error("no tokens in " .. path) end
    local nthreads = tonumber(os.getenv("TOKENS_THREADS") or "2")
    local lo = math.floor(id * n / nthreads) + 1
    local hi = math.floor((id + 1) * n / nthreads)
    warmdir = os.getenv("TOKENS_WARM")
    if warmdir == "" then warmdir = nil end
    if warmdir then
        first, last = lo, hi -- this thread's slice, each token once
        want = hi - lo + 1
    else
        first, last = 1, n -- every token, from this thread's offset on
        want = 0
    end
    i = lo
    if i > last then i = first end
    got, bad, finished = 0, 0, false

    local hdrs = {}
    for k, v in pairs(wrk.headers) do hdrs[k] = v end
    hdrs["Authorization"] = "Bearer @TOKEN@"
    local req = wrk.format(nil, nil, hdrs)
    local a, b = req:find("@TOKEN@", 1, true)
    pre, post = req:sub(1, a - 1), req:sub(b + 1)
end

function request()
    local t = tokens[i]
    i = i + 1
    if i > last then i = first end
    return pre .. t .. post
end

if (os.getenv("TOKENS_WARM") or "") ~= "" then
    function response(status, headers, body)
        got = got + 1
        if status ~= 200 and status ~= 204 then bad = bad + 1 end
        if not finished and got >= want then
            finished = true
            local f = io.open(warmdir .. "/done-" .. id, "w")
            if f then f:close() end
            wrk.thread:stop()
        end
    end
end

function done(summary, latency, requests)
    if (os.getenv("TOKENS_WARM") or "") == "" then return end
    for _, t in ipairs(threads) do
        io.write(string.format("warm thread %d: %d of %d replies, %d not 200/204\n",
            t:get("id"), t:get("got"), t:get("want"), t:get("bad")))
    end
end
