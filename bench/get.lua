-- GET one path with the API key (the status route, or anything else).
wrk.headers["Authorization"] = "Key " .. os.getenv("BENCH_KEY")
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
