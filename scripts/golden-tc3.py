#!/usr/bin/env python3
"""Regenerates the golden TC3 vectors pinned in crates/providers/src/tencent/sign.rs, with the
official Tencent Cloud Python SDK's own request builder and signer:

    python3 -m venv /tmp/tcvenv && /tmp/tcvenv/bin/pip install tencentcloud-sdk-python-common
    /tmp/tcvenv/bin/python scripts/golden-tc3.py

(The SDK is not a dependency of vidgate; this script only documents where the vectors came from.)
"""
import json
from datetime import datetime
from unittest import mock

import tencentcloud
from tencentcloud.common import credential
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile


class VodClient(AbstractClient):
    _apiVersion = "2018-07-17"
    _endpoint = "vod.tencentcloudapi.com"
    _service = "vod"


class Req:
    def __init__(self):
        self.method, self.header, self.data, self.uri = "POST", {}, None, "/"


SID, SKEY = "AKIDgoldenEXAMPLE", "goldenSecretKeyEXAMPLE0123456789"
client = VodClient(credential.Credential(SID, SKEY), "", ClientProfile(httpProfile=HttpProfile(endpoint="vod.tencentcloudapi.com")))
params = {"SubAppId": 251007502, "ModelName": "Kling", "ModelVersion": "2.1",
          "Prompt": "一辆红色的车在海边公路上行驶, golden hour", "OutputConfig": {"Duration": 5.0, "Resolution": "720P"},
          "SessionId": "01a20d47-899d-70d4-9be7-707a64e19659", "TasksPriority": 0}
print("sdk", tencentcloud.__version__)
# A: the SDK's own body (json.dumps escapes non-ASCII) for CreateAigcVideoTask.
with mock.patch("time.time", return_value=1795500000):
    r = Req()
    client._build_req_with_tc3_signature("CreateAigcVideoTask", params, r)
print("A body", r.data)
print("A auth", r.header["Authorization"])
# B: the same parameters as vidgate sends them (compact, raw UTF-8), signed by the SDK.
raw = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
r2 = Req()
r2.header = {"Content-Type": "application/json", "Host": "vod.tencentcloudapi.com", "X-TC-Timestamp": "1795500000"}
r2.data = raw
date = datetime.utcfromtimestamp(1795500000).strftime("%Y-%m-%d")
print("B body", raw)
print("B sig", client._get_tc3_signature(params, r2, date, "vod", SKEY))
# C: DescribeTaskDetail.
with mock.patch("time.time", return_value=1795500100):
    r3 = Req()
    client._build_req_with_tc3_signature("DescribeTaskDetail", {"TaskId": "251007502-AigcVideoTask-abc123t", "SubAppId": 251007502}, r3)
print("C body", r3.data)
print("C auth", r3.header["Authorization"])
