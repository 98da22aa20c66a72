"""Drives vidgate with OpenAI's official Python client (`openai`, pinned in
scripts/requirements-test.txt), unchanged but for base_url and api_key: create, retrieve,
poll to completion, download the MP4 and its thumbnail, list over several pages, a file
upload as input_reference, the SDK's error classes, and delete. Prints one JSON line of what
it saw; tests/api/openai.rs asserts on it."""

import json
import os
import sys
import time
import warnings

import openai
from openai import OpenAI

# The SDK marks client.videos deprecated (OpenAI's own video API closed); gateways serve it.
warnings.simplefilter("ignore", DeprecationWarning)

client = OpenAI(
    base_url=os.environ["VIDGATE_BASE"] + "/v1",
    api_key=os.environ["VIDGATE_KEY"],
    max_retries=0,
)
out_dir = os.environ["OUT_DIR"]
seen = {}


def finish(video):
    deadline = time.time() + 120
    while video.status in ("queued", "in_progress"):
        if time.time() > deadline:
            sys.exit(f"video {video.id} did not finish: {video}")
        time.sleep(0.2)
        video = client.videos.retrieve(video.id)
    return video


video = client.videos.create(
    prompt="a red balloon drifting over a calm sea", model="vidu-q2", seconds="4", size="1280x720"
)
seen["created"] = {
    "object": video.object,
    "status": video.status,
    "model": video.model,
    "seconds": video.seconds,
    "size": video.size,
}
seen["id"] = video.id
video = finish(video)
seen["final"] = {
    "status": video.status,
    "progress": video.progress,
    "completed_after_created": (video.completed_at or 0) >= video.created_at,
    "error": video.error,
}
content = client.videos.download_content(video.id)
mp4 = os.path.join(out_dir, "openai.mp4")
content.write_to_file(mp4)
seen["mp4"] = mp4
thumbnail = client.videos.download_content(video.id, variant="thumbnail").read()
seen["thumbnail_is_jpeg"] = thumbnail[:3] == b"\xff\xd8\xff"

# A reference image uploaded as a file (multipart): the thumbnail just downloaded.
with_frame = client.videos.create(
    prompt="the same balloon, rising",
    model="vidu-q2",
    seconds="4",
    input_reference=("frame.jpg", thumbnail, "image/jpeg"),
)
with_frame = finish(with_frame)
seen["upload_status"] = with_frame.status
seen["upload_error"] = with_frame.error.message if with_frame.error else None

# The same upload twice with one Idempotency-Key: one request.
once = [
    client.videos.create(
        prompt="uploaded once",
        model="vidu-q2",
        seconds="4",
        input_reference=("frame.jpg", thumbnail, "image/jpeg"),
        extra_headers={"Idempotency-Key": "upload-once"},
    ).id
    for _ in range(2)
]
seen["upload_replayed_same_id"] = once[0] == once[1]

# One more, so that listing by two takes several pages.
client.videos.create(prompt="filler", model="vidu-q2", seconds="4")
first_page = client.videos.list(limit=2)
seen["first_page_size"] = len(first_page.data)
seen["first_page_has_more"] = first_page.has_more
seen["listed_desc"] = [v.id for v in client.videos.list(limit=2)]  # auto-paginates
seen["listed_asc"] = [v.id for v in client.videos.list(limit=3, order="asc")]

try:
    client.videos.create(prompt="too big", model="vidu-q2", size="3840x2160")
    seen["bad_size"] = "accepted"
except openai.BadRequestError as e:
    seen["bad_size"] = {"status": e.status_code, "param": e.param, "code": e.code, "type": e.type}

try:
    client.videos.create(prompt="who?", model="no-such-model")
    seen["bad_model"] = "accepted"
except openai.BadRequestError as e:
    seen["bad_model"] = {"status": e.status_code, "param": e.param}

try:
    OpenAI(base_url=client.base_url, api_key="vg_wrong", max_retries=0).videos.retrieve(video.id)
    seen["bad_key"] = "accepted"
except openai.AuthenticationError as e:
    seen["bad_key"] = {"status": e.status_code, "code": e.code}

deleted = client.videos.delete(video.id)
seen["deleted"] = {"id": deleted.id, "object": deleted.object, "deleted": deleted.deleted}
try:
    client.videos.retrieve(video.id)
    seen["after_delete"] = "still there"
except openai.NotFoundError as e:
    seen["after_delete"] = e.status_code

print(json.dumps(seen))
