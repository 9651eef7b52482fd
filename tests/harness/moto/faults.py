"""A mitmproxy addon that injects faults between the AWS SDK and moto's server.

Run as a reverse proxy in front of moto:

    mitmdump --mode reverse:http://127.0.0.1:MOTO_PORT -s faults.py --set faults=RULES.json

RULES.json is re-read whenever it changes, so a test can change the faults while a recovery
runs. It holds a list of rules; the first that matches a request applies:

    {"service": "rds", "region": "us-east-1", "operation": "PromoteReadReplica",
     "fault": "dropAnswer", "times": 1}

service and region come from the request's SigV4 credential scope, operation from the protocol
(X-Amz-Target, the query's Action, the CBOR path, or Route 53's, Lambda's and S3's REST paths); a rule without one of
them matches any, and `exceptServices` lists services it spares (a region cut but for the global
control planes signed for it, say). Faults:

    dropAnswer   moto applies the call, the answer is lost (the connection closes)
    reset        the connection closes before the call reaches moto
    timeout      no answer for `seconds` (default 30), then the connection closes
    status       an HTTP `status` (default 503) with the service's own error body
    throttle     the service's own throttling error
    latency      `ms` milliseconds more, then the call goes through

`times` limits how often a rule applies. Every request is appended to RULES.json.log as a JSON
line: service, region, operation, the fault applied (or null), moto's status, and when the
request arrived (`at`, seconds since the epoch).
"""

import asyncio
import json
import os
import re
from urllib.parse import parse_qs

from mitmproxy import ctx, http

CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

# Route 53 speaks REST-XML: its operations are told apart by method and path.
ROUTE53 = [
    ("POST", re.compile(r"/2013-04-01/hostedzone/[^/]+/rrset/?$"), "ChangeResourceRecordSets"),
    ("GET", re.compile(r"/2013-04-01/hostedzone/[^/]+/rrset/?$"), "ListResourceRecordSets"),
    ("GET", re.compile(r"/2013-04-01/change/"), "GetChange"),
    ("POST", re.compile(r"/2013-04-01/healthcheck/[^/]+$"), "UpdateHealthCheck"),
    ("GET", re.compile(r"/2013-04-01/healthcheck/[^/]+$"), "GetHealthCheck"),
    ("GET", re.compile(r"/2013-04-01/healthcheck/[^/]+/status$"), "GetHealthCheckStatus"),
    ("GET", re.compile(r"/2013-04-01/hostedzone/[^/]+$"), "GetHostedZone"),
    ("POST", re.compile(r"/2013-04-01/hostedzone/?$"), "CreateHostedZone"),
    ("POST", re.compile(r"/2013-04-01/healthcheck/?$"), "CreateHealthCheck"),
]

# Lambda speaks REST-JSON too: the operations Rebound calls.
LAMBDA = [
    ("GET", re.compile(r"/2015-03-31/event-source-mappings/[^/]+/?$"), "GetEventSourceMapping"),
    ("PUT", re.compile(r"/2015-03-31/event-source-mappings/[^/]+/?$"), "UpdateEventSourceMapping"),
    ("GET", re.compile(r"/2015-03-31/event-source-mappings/?$"), "ListEventSourceMappings"),
    ("POST", re.compile(r"/2015-03-31/event-source-mappings/?$"), "CreateEventSourceMapping"),
    ("POST", re.compile(r"/2015-03-31/functions/[^/]+/invocations$"), "Invoke"),
    ("POST", re.compile(r"/2015-03-31/functions/?$"), "CreateFunction"),
]
# S3, path-style (the SDK's choice for an IP endpoint): the operations Rebound calls.
S3 = [
    ("PUT", re.compile(r"^/[^/]+/.+"), "PutObject"),
    ("GET", re.compile(r"^/[^/]+/.+"), "GetObject"),
    ("HEAD", re.compile(r"^/[^/]+/.+"), "HeadObject"),
    ("GET", re.compile(r"^/[^/]+/?$"), "ListObjectsV2"),
    ("PUT", re.compile(r"^/[^/]+/?$"), "CreateBucket"),
]
# EKS, REST-JSON: the operations Rebound calls.
EKS = [
    ("GET", re.compile(r"^/clusters/[^/]+/?$"), "DescribeCluster"),
    ("GET", re.compile(r"^/clusters/[^/]+/node-groups/[^/]+/?$"), "DescribeNodegroup"),
    ("POST", re.compile(r"^/clusters/[^/]+/node-groups/[^/]+/update-config$"), "UpdateNodegroupConfig"),
]
REST = {"route53": ROUTE53, "lambda": LAMBDA, "s3": S3, "eks": EKS}

JSON_SERVICES = {"dynamodb", "ecs", "ssm", "states", "secretsmanager", "logs", "events", "lambda", "eks"}
THROTTLE_CODE = {
    "dynamodb": "ThrottlingException",
    "ecs": "ThrottlingException",
    "ssm": "ThrottlingException",
    "lambda": "TooManyRequestsException",
}
# A server error in the service's own words, where it has one (Lambda: ServiceException).
SERVER_ERROR_CODE = {"lambda": "ServiceException"}


def describe(request):
    """(service, region, operation) of an AWS request."""
    match = CREDENTIAL.search(request.headers.get("authorization", ""))
    region, service = (match.group(1), match.group(2)) if match else (None, None)
    operation = None
    target = request.headers.get("x-amz-target")
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif "/operation/" in request.path:
        operation = request.path.rstrip("/").rsplit("/", 1)[-1]
    elif service in REST:
        path = request.path.split("?", 1)[0]
        operation = next(
            (op for method, pattern, op in REST[service] if method == request.method and pattern.search(path)), None
        )
    elif request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        operation = (parse_qs(request.get_text(strict=False) or "").get("Action") or [None])[0]
    return service, region, operation


def error_response(service, status, code, message):
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message})
        return http.Response.make(status, body, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code})
    if service == "route53":
        body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    else:
        body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    return http.Response.make(status, body, {"Content-Type": "text/xml"})


class Faults:
    def __init__(self):
        self.rules = []
        self.mtime = None

    def load(self, loader):
        loader.add_option("faults", str, "", "the JSON file of fault rules")

    def reload(self):
        path = ctx.options.faults
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            self.rules, self.mtime = [], None
            return
        if mtime != self.mtime:
            with open(path, encoding="utf-8") as f:
                self.rules = json.load(f)
            self.mtime = mtime

    def match(self, service, region, operation):
        self.reload()
        for rule in self.rules:
            if rule.get("times") == 0:
                continue
            if any(rule.get(key) not in (None, value) for key, value in
                   (("service", service), ("region", region), ("operation", operation))):
                continue
            if service in rule.get("exceptServices", []):
                continue
            if "times" in rule:
                rule["times"] -= 1
            return rule
        return None

    def record(self, flow, status):
        service, region, operation = flow.metadata["aws"]
        rule = flow.metadata.get("fault")
        line = {"service": service, "region": region, "operation": operation,
                "fault": rule.get("fault") if rule else None, "status": status,
                "at": flow.request.timestamp_start}
        with open(ctx.options.faults + ".log", "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    async def request(self, flow):
        service, region, operation = describe(flow.request)
        flow.metadata["aws"] = (service, region, operation)
        rule = self.match(service, region, operation)
        flow.metadata["fault"] = rule
        if rule is None:
            return
        fault = rule.get("fault")
        if fault == "latency":
            await asyncio.sleep(rule.get("ms", 1000) / 1000)
        elif fault == "reset":
            self.record(flow, None)
            flow.kill()
        elif fault == "timeout":
            # Recorded as it arrives: the caller gives up long before the connection closes.
            self.record(flow, None)
            await asyncio.sleep(rule.get("seconds", 30))
            flow.kill()
        elif fault == "status":
            status = rule.get("status", 503)
            code = SERVER_ERROR_CODE.get(service, "ServiceUnavailable")
            flow.response = error_response(service, status, code, "injected fault")
        elif fault == "throttle":
            code = THROTTLE_CODE.get(service, "Throttling")
            flow.response = error_response(service, 400, code, "Rate exceeded (injected fault)")

    def response(self, flow):
        rule = flow.metadata.get("fault")
        self.record(flow, flow.response.status_code if flow.response else None)
        if rule is not None and rule.get("fault") == "dropAnswer":
            flow.kill()


addons = [Faults()]
