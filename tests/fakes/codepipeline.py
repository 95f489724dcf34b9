"""A fake CodePipeline job-result endpoint (JSON protocol on loopback) that records every report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.awsjson import AwsFault


@dataclass
class Report:
    operation: str
    job_id: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        if self.operation == "PutJobFailureResult":
            return "failure"
        return "in_progress" if "continuationToken" in self.body else "success"


@dataclass
class FakeCodePipeline:
    reports: list[Report] = field(default_factory=list)
    closed_jobs: set[str] = field(default_factory=set)
    faults: list[AwsFault] = field(default_factory=list)

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.faults:
            raise self.faults.pop(0)
        job_id = body["jobId"]
        if job_id in self.closed_jobs:
            raise AwsFault("InvalidJobStateException", f"Job {job_id} is not in progress")
        self.closed_jobs.add(job_id)
        self.reports.append(Report(operation, job_id, body))
        return {}
