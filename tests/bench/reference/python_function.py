"""Reference for the cold-start table: what a user would otherwise write in Python.

A handler module that imports boto3 and requests at load time (as real functions do), run by a
minimal custom-runtime loop against the Lambda Runtime API (like the managed Python runtime's
bootstrap: poll next, call the handler, post the result).
"""

import json
import os
import urllib.request

import boto3  # noqa: F401  (the import cost is what is measured)
import requests  # noqa: F401

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
SESSION = boto3.session.Session(region_name=os.environ.get("AWS_REGION", "us-east-1"))
HTTP = requests.Session()


def handler(event, _context):
    return {"statusCode": 200, "body": json.dumps(event)}


def post(path, payload):
    data = json.dumps(payload).encode()
    req = urllib.request.Request(API + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req).read()


def main():
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(resp.read() or b"null")
        try:
            result = handler(event, None)
        except Exception as err:  # report the error as the managed runtime does
            post(f"/invocation/{request_id}/error", {"errorMessage": str(err), "errorType": type(err).__name__})
            continue
        post(f"/invocation/{request_id}/response", result)


if __name__ == "__main__":
    main()
