"""N sequential creates over one keep-alive connection (the callgrind harness's client)."""
import http.client
import json
import sys
import urllib.parse

base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
body = json.dumps({"model_name": "Vidu", "model_version": "q2", "prompt": "a lighthouse at dusk",
                   "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}})
headers = {"Authorization": f"Key {key}", "Content-Type": "application/json"}
for _ in range(n):
    conn.request("POST", "/tencent-vod/v1/aigc-video", body, headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"create answered {r.status}")
