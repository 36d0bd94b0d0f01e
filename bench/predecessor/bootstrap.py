"""A minimal Lambda runtime loop for the predecessor's Python/boto3 handlers (COMPARISON ONLY).

    python bench/predecessor/bootstrap.py functions.scale_tasks

Imports the handler's module (creating its boto3 clients, as the predecessor's functions
did at import time), then asks the Runtime API for work. It is smaller than AWS's own
Python runtime (awslambdaric), so it understates a Python cold start, if anything.
"""

import importlib
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
module_name, _, function_name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"

while True:
    with urllib.request.urlopen(api + "next") as resp:
        request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(resp.read())
    try:
        body, path = json.dumps(handler(event, None)).encode(), request_id + "/response"
    except Exception as err:
        body, path = (
            json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}).encode(),
            request_id + "/error",
        )
    urllib.request.urlopen(urllib.request.Request(api + path, data=body, method="POST")).read()
