"""N creates over C keep-alive connections at once (the callgrind harness's client): C=1 is
sequential (each create its own transaction), more lets group commit share commits. With a
fifth argument, a path: N GETs of it instead (status polls)."""
import http.client
import json
import sys
import threading
import urllib.parse

base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 1
get_path = sys.argv[5] if len(sys.argv) > 5 else None
url = urllib.parse.urlparse(base)
body = json.dumps({"model_name": "Vidu", "model_version": "q2", "prompt": "a lighthouse at dusk",
                   "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}})
headers = {"Authorization": f"Key {key}", "Content-Type": "application/json"}
failures = []


def run(count):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    for _ in range(count):
        if get_path:
            conn.request("GET", get_path, headers=headers)
        else:
            conn.request("POST", "/tencent-vod/v1/aigc-video", body, headers)
        r = conn.getresponse()
        r.read()
        if r.status not in ((200, 202) if get_path else (200,)):
            failures.append(r.status)
            return


threads = [threading.Thread(target=run, args=(n // conns + (i < n % conns),)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(f"{'GET' if get_path else 'create'} answered {failures[0]}")
