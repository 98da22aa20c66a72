"""Drives vidgate with fal's official Python client, unchanged: only FAL_KEY and
FAL_QUEUE_RUN_HOST point it at vidgate (and SSL_CERT_FILE trusts the test's certificate).
Prints one JSON object with what it saw; exits non-zero on any failure."""
import json
import sys
import time

import fal_client

APP = "tencent-vod/v1/aigc-video"


def request(prompt, duration=1):
    return {"model_name": "Vidu", "model_version": "q2", "prompt": prompt,
            "output_config": {"duration": duration, "resolution": "720P"}}


def main():
    seen = {}
    # subscribe: submit, poll status with logs, fetch the result.
    updates = []
    result = fal_client.subscribe(APP, arguments=request("fal subscribe"), with_logs=True,
                                  on_queue_update=updates.append)
    seen["subscribe_video_url"] = result["video"]["url"]
    seen["subscribe_update_kinds"] = sorted({type(u).__name__ for u in updates})
    seen["subscribe_log_messages"] = [l["message"] for u in updates
                                      if isinstance(u, fal_client.InProgress) and u.logs for l in u.logs]

    # submit, then the handle's own calls and the module's by-id calls (fal builds those URLs
    # itself, without the app's sub-path).
    handle = fal_client.submit(APP, arguments=request("fal submit"))
    first = handle.status(with_logs=True)
    seen["first_status"] = type(first).__name__
    by_id = fal_client.status(APP, handle.request_id, with_logs=True)
    seen["status_by_id"] = type(by_id).__name__
    got = handle.get()
    seen["handle_result_width"] = got["video"]["width"]
    again = fal_client.result(APP, handle.request_id)
    seen["result_by_id_same"] = again == got
    done = handle.status()
    seen["completed_metrics"] = sorted(done.metrics.keys()) if isinstance(done, fal_client.Completed) else None

    # cancel a request that waits behind another one.
    blocker = fal_client.submit(APP, arguments=request("fal blocker", duration=3))
    waiting = fal_client.submit(APP, arguments=request("fal to cancel"))
    queued = waiting.status()
    seen["waiting_status"] = type(queued).__name__
    seen["waiting_position"] = getattr(queued, "position", None)
    fal_client.cancel(APP, waiting.request_id)
    for _ in range(100):
        s = waiting.status()
        if isinstance(s, fal_client.Completed):
            seen["cancelled_error_type"] = s.error_type
            break
        time.sleep(0.1)
    try:
        waiting.get()
        seen["cancelled_result"] = "returned"
    except fal_client.FalClientHTTPError as e:
        seen["cancelled_result"] = e.status_code
    blocker.get()
    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, then fail
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
