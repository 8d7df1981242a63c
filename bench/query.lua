-- wrk script for `make bench`: every request POSTs one JSON-RPC body, given by bench/run.py
-- in the environment variable BENCH_BODY.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json-rpc"
