"""The AWS operations a handler calls, recorded with a botocore event hook on the boto3 session it is given.

Owns `AwsCallRecorder`: it registers on a session's `before-send` event, which botocore emits once per HTTP request
a client of that session sends, retries included, after signing (botocore/endpoint.py), and counts each request as
"iamprefix:Operation": the operation as botocore's service model names it (the event is
`before-send.<service id>.<Operation>`) under the IAM service prefix of the SigV4 credential scope
(`Credential=<key id>/<date>/<region>/<signing name>/aws4_request`, AWS's Signature Version 4 reference), e.g.
"codedeploy:CreateDeployment", "secretsmanager:GetSecretValue", "cloudwatch:DescribeAlarms".

Requests signed with the session's own credentials (on Lambda: the function's role) are the ones the role needs
permission for. Requests signed with credentials given to one client (the handler's S3 client for the pipeline's
input artifact, built with the job's artifact credentials) are kept apart in `other_credentials`: the role needs no
permission for them. Only what the handler's clients send is seen: setup code uses other sessions.

It must not change a request or answer one (it returns nothing from the hook), and imports only boto3.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3

_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
# SigV4 signing names that differ from the IAM service prefix: CloudWatch's model signs as "monitoring"
# (botocore/data/cloudwatch/*/service-2.json, metadata.signingName), its IAM actions are "cloudwatch:..." (the
# Service Authorization Reference). The services the handler calls sign as their IAM prefix otherwise.
_IAM_PREFIX = {"monitoring": "cloudwatch"}


@dataclass
class AwsCallRecorder:
    """Counts the requests of every session it registered on, split by which credentials signed them."""

    calls: Counter[str] = field(default_factory=Counter)  # signed with the session's own credentials
    other_credentials: Counter[str] = field(default_factory=Counter)  # signed with credentials given to a client
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def session(self) -> boto3.session.Session:
        """A new boto3 session (one Lambda container's) whose clients' requests are recorded."""
        session = boto3.session.Session()
        self.register(session)
        return session

    def register(self, session: boto3.session.Session) -> None:
        """Record the requests of the clients `session` creates from now on (botocore copies a session's
        handlers into each client it creates)."""
        session.events.register("before-send", partial(self._before_send, session))

    @property
    def operations(self) -> frozenset[str]:
        """The operations called with the session's own credentials."""
        with self._lock:
            return frozenset(self.calls)

    def _before_send(self, session: boto3.session.Session, request: Any, event_name: str, **_: Any) -> None:
        _, service_id, operation = event_name.split(".", 2)
        authorization = request.headers.get("Authorization") or ""
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        scope = _SCOPE.search(authorization)
        own = session.get_credentials()
        signed_by_own = scope is None or own is None or scope["key"] == own.access_key
        service = scope["service"] if scope is not None else service_id
        call = f"{_IAM_PREFIX.get(service, service)}:{operation}"
        with self._lock:
            (self.calls if signed_by_own else self.other_credentials)[call] += 1
