-- POST the create route with a small sandbox request (each one a durable insert).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Key " .. os.getenv("BENCH_KEY")
wrk.body = '{"model_name":"Vidu","model_version":"q2","prompt":"a lighthouse at dusk","output_config":{"duration":1,"resolution":"720P","aspect_ratio":"1:1"}}'
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
