"""The fault matrix's expectations, written down: for each call the matrix faults, fault kind -> expected outcome.

Read with tests/test_fault_matrix.py, which runs one CodePipeline invocation per (call, fault kind) and checks it
against the row here. The rows are data for a reviewer to read and challenge, not rules recomputed from the code's
own: a comment justifies each group, citing the README (Troubleshooting, Guarantees) where it states the rule.
`# KNOWN:` marks a row that records today's behaviour although it looks wrong; each is reported to the lead.

Each row says:
- result: success; failure (with the CodePipeline failure type); raise (the report call itself failed, so the
  handler raises for Lambda to retry); dropped (CodePipeline no longer waits for the job: nothing is reported);
- phase: the phase the failure message starts with (`START: ...`), or None for no phase prefix;
- mentions: words that must ALL be in the message (the summary, or the raised error for `raise`);
- cleanup: what became of what the run launched (see Cleanup below), checked in the fakes and in the message;
- recorded: whether the CodePipeline fake recorded the report (not when the fault proxy answered in its stead);
- logged: words the invocation's log must contain.

The scenario each call runs in (tests/test_fault_matrix.py CALLS) decides the outcome without the fault: a dry run
(preflight calls), a deployment that succeeds, one whose CodeDeploy deployment fails, parameters that are refused,
greens that never come (TIMEOUT 600), a CodeDeploy deployment still running at the deadline. Those outcomes are
named below (DRY_RUN_PASSES, DEPLOYED, ...), and a row that names one says: the fault made no difference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Result = Literal["success", "failure", "raise", "dropped"]
Phase = Literal["START", "WAIT_GREEN", "DEPLOY", "WAIT_DEPLOY"]
Cleanup = Literal[
    "nothing launched",  # no Spot deployment carries the run's tag, no stop was sent, the message has no `Cleanup`
    "left running",  # success: the run's one Spot deployment runs on, no stop was sent
    "spot stopped",  # the run's one Spot deployment was stopped, and the message says `Cleanup: stopped Spot ...`
    "both stopped",  # the CodeDeploy deployment was stopped with rollback too, and the message says so
    "codedeploy stop accepted",  # as "both stopped" in the message; CodeDeploy's 200 came from the fault proxy
    "codedeploy by hand",  # the Spot deployment was stopped; the CodeDeploy stop failed and is listed to do by hand
    "spot by hand",  # the Spot stop failed: the deployment was not stopped, and is listed to stop by hand
    "spot had ended",  # Spot had ended the deployment itself, and the message says so
    "look by hand",  # the start's outcome is unknown and none is listed: the message says which tag to look for
]
NOTHING: Cleanup = "nothing launched"
KEPT: Cleanup = "left running"
SPOT_STOPPED: Cleanup = "spot stopped"
BOTH_STOPPED: Cleanup = "both stopped"
STOP_ACCEPTED: Cleanup = "codedeploy stop accepted"
CODEDEPLOY_BY_HAND: Cleanup = "codedeploy by hand"
SPOT_BY_HAND: Cleanup = "spot by hand"
SPOT_ENDED: Cleanup = "spot had ended"
LOOK_BY_HAND: Cleanup = "look by hand"


@dataclass(frozen=True)
class Expect:
    result: Result
    failure_type: str | None = None
    phase: Phase | None = None
    mentions: tuple[str, ...] = ()
    cleanup: Cleanup = NOTHING
    recorded: bool = True
    logged: tuple[str, ...] = ()  # words the invocation's log must contain
    not_logged: tuple[str, ...] = ()  # words it must not contain
    green_from_job_id: bool = False  # the run's GreenIdentifier came from the job id (GetJobDetails unreadable)


UNKNOWN_WORD = "<the cell's unknown Spot state word>"  # Spot's client logs each word it does not know, once


def logging_the_word(outcome: Expect) -> Expect:
    """The outcome, with the unknown Spot state word in the log, saying how it was read."""
    return replace(outcome, logged=(UNKNOWN_WORD,))


def fails(failure_type: str, phase: Phase | None, *mentions: str, cleanup: Cleanup) -> Expect:
    return Expect("failure", failure_type, phase, mentions, cleanup)


def dropped(outcome: Expect) -> Expect:
    """CodePipeline says the job is no longer in progress: the outcome is returned, and nothing is reported."""
    return replace(outcome, result="dropped", recorded=False, logged=("no longer waits for this job",))


def unrecorded(outcome: Expect) -> Expect:
    """The outcome, reported with a 200 that the fault proxy gave in CodePipeline's stead (so the fake saw none)."""
    return replace(outcome, recorded=False)


NO_IDENTITY = "reclaim cannot find this run"  # the warning of a run that could not read its action execution


def under_the_job_id(outcome: Expect) -> Expect:
    """GetJobDetails could not be read: the run goes on under a GreenIdentifier from the job id, and warns that
    reclaim cannot find it (Troubleshooting: `reclaim cannot find this run`)."""
    return replace(outcome, logged=(NO_IDENTITY,), green_from_job_id=True)


def identified(outcome: Expect) -> Expect:
    """GetJobDetails was read (boto3's retries absorbed the fault): the GreenIdentifier is the action execution's."""
    return replace(outcome, not_logged=(NO_IDENTITY,))


CANNOT_TELL = "why cannot be told"
NOTHING_DEPLOYED = "nothing was deployed"


def refused_and_judged(verdict: str) -> Expect:
    """The dry run's report is refused (a person stopped and abandoned the execution); reading CodePipeline then
    tells that the run ended, so the log says nothing was deployed, or fails, so the log names what to stop by
    hand (README Troubleshooting: `why cannot be told ... stop by hand`)."""
    other = NOTHING_DEPLOYED if verdict == CANNOT_TELL else CANNOT_TELL
    return replace(dropped(DRY_RUN_PASSES), logged=("no longer waits for this job", verdict), not_logged=(other,))


def raised(call: str) -> Expect:
    """The report call failed: the handler raises, naming it, so that Lambda retries the event."""
    return Expect("raise", mentions=(call,), recorded=False, logged=("Could not report the result to CodePipeline",))


# ---- the outcomes of the scenarios without a fault ------------------------------------------------------------

DRY_RUN_PASSES = Expect("success", mentions=("Dry run: all checks passed",), cleanup=NOTHING)
DEPLOYED = Expect("success", mentions=("Deployed s3://revisions/app/v2.zip",), cleanup=KEPT)
# The CodeDeploy deployment fails on its instances: the message shows the failed hook, the greens are stopped.
DEPLOYMENT_FAILED = fails(
    "JobFailed", "WAIT_DEPLOY", "HEALTH_CONSTRAINTS", "AfterInstall ScriptFailed", cleanup=SPOT_STOPPED
)
PARAMETERS_REFUSED = fails("ConfigurationError", None, "GROUP_ID", cleanup=NOTHING)  # GROUP_ID "abc", before any call
GREENS_TIMED_OUT = fails("JobFailed", "WAIT_GREEN", "Timed out", cleanup=SPOT_STOPPED)
DEPLOY_TIMED_OUT = fails("JobFailed", "WAIT_DEPLOY", "Timed out", cleanup=BOTH_STOPPED)

GAVE_UP = "gave up after 4 attempts"  # SpotClient's 4 attempts (max_attempts), each one sent

# ---- fault kind -> expected outcome, per call ------------------------------------------------------------------

EXPECTED: dict[str, dict[str, Expect]] = {
    "spot:GET group": {
        # Spot refuses: 400/404 is a wrong GROUP_ID or ACCOUNT_ID, 401/403 a token Spot rejects (README Troubleshooting:
        # `Spot GET group failed, HTTP 404` / `HTTP 400`; `Spot ... HTTP 401` / `HTTP 403`).
        "400": fails("ConfigurationError", "START", "GET group", "HTTP 400", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "GET group", "HTTP 401", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "GET group", "HTTP 403", cleanup=NOTHING),
        "404": fails("ConfigurationError", "START", "GET group", "HTTP 404", cleanup=NOTHING),
        # A blip: SpotClient retries 429 (after X-RateLimit-Reset/Retry-After), 5xx, resets and read timeouts, 4
        # attempts in all (Guarantees: Spot's rate limit is respected and absorbed).
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "read-timeout-once": DRY_RUN_PASSES,
        # Outlasting the 4 attempts: SystemUnavailable, a person re-runs the stage (Troubleshooting: `Spot ... HTTP 429`
        # / `HTTP 5xx` / `ConnectionError` / `ReadTimeout`).
        "429-persistent": fails("SystemUnavailable", "START", "GET group", "HTTP 429", GAVE_UP, cleanup=NOTHING),
        "500-persistent": fails("SystemUnavailable", "START", "GET group", "HTTP 500", GAVE_UP, cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", "START", "GET group", "HTTP 502", GAVE_UP, cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", "START", "GET group", "HTTP 503", GAVE_UP, cleanup=NOTHING),
        "reset-persistent": fails(
            "SystemUnavailable", "START", "GET group", "no reply from Spot (ConnectionError)", GAVE_UP, cleanup=NOTHING
        ),
        "read-timeout-persistent": fails(
            "SystemUnavailable", "START", "GET group", "no reply from Spot (ReadTimeout)", GAVE_UP, cleanup=NOTHING
        ),
        # A reply that cannot be read, a flood or a drip: SystemUnavailable naming the call; a flood is never asked for
        # again (Guarantees: every Spot call is bounded in time and bytes; Troubleshooting: `reply larger than 2048 KiB`
        # / `no complete reply from Spot within 30 s`). The drip is cut at each attempt's 30 s budget.
        "not-json": fails("SystemUnavailable", "START", "GET group", "non-JSON body", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", "START", "GET group", "unexpected reply", cleanup=NOTHING),
        "drip-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET group",
            "no complete reply from Spot within 30 s",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        "huge-body": fails("SystemUnavailable", "START", "GET group", "reply larger than 2048 KiB", cleanup=NOTHING),
    },
    "spot:GET group status": {
        # Spot refuses: 400/404 is a wrong GROUP_ID or ACCOUNT_ID, 401/403 a token Spot rejects (README Troubleshooting:
        # `Spot GET group failed, HTTP 404` / `HTTP 400`; `Spot ... HTTP 401` / `HTTP 403`).
        "400": fails("ConfigurationError", "START", "GET group status", "HTTP 400", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "GET group status", "HTTP 401", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "GET group status", "HTTP 403", cleanup=NOTHING),
        "404": fails("ConfigurationError", "START", "GET group status", "HTTP 404", cleanup=NOTHING),
        # A blip: SpotClient retries 429 (after X-RateLimit-Reset/Retry-After), 5xx, resets and read timeouts, 4
        # attempts in all (Guarantees: Spot's rate limit is respected and absorbed).
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "read-timeout-once": DRY_RUN_PASSES,
        # Outlasting the 4 attempts: SystemUnavailable, a person re-runs the stage (Troubleshooting: `Spot ... HTTP 429`
        # / `HTTP 5xx` / `ConnectionError` / `ReadTimeout`).
        "429-persistent": fails("SystemUnavailable", "START", "GET group status", "HTTP 429", GAVE_UP, cleanup=NOTHING),
        "500-persistent": fails("SystemUnavailable", "START", "GET group status", "HTTP 500", GAVE_UP, cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", "START", "GET group status", "HTTP 502", GAVE_UP, cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", "START", "GET group status", "HTTP 503", GAVE_UP, cleanup=NOTHING),
        "reset-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET group status",
            "no reply from Spot (ConnectionError)",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        "read-timeout-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET group status",
            "no reply from Spot (ReadTimeout)",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        # A reply that cannot be read, a flood or a drip: SystemUnavailable naming the call; a flood is never asked for
        # again (Guarantees: every Spot call is bounded in time and bytes; Troubleshooting: `reply larger than 2048 KiB`
        # / `no complete reply from Spot within 30 s`). The drip is cut at each attempt's 30 s budget.
        "not-json": fails("SystemUnavailable", "START", "GET group status", "non-JSON body", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", "START", "GET group status", "unexpected reply", cleanup=NOTHING),
        "drip-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET group status",
            "no complete reply from Spot within 30 s",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        "huge-body": fails(
            "SystemUnavailable", "START", "GET group status", "reply larger than 2048 KiB", cleanup=NOTHING
        ),
    },
    "spot:GET deployments": {
        # Spot refuses: 400/404 is a wrong GROUP_ID or ACCOUNT_ID, 401/403 a token Spot rejects (README Troubleshooting:
        # `Spot GET group failed, HTTP 404` / `HTTP 400`; `Spot ... HTTP 401` / `HTTP 403`).
        "400": fails("ConfigurationError", "START", "GET blue/green deployments", "HTTP 400", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "GET blue/green deployments", "HTTP 401", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "GET blue/green deployments", "HTTP 403", cleanup=NOTHING),
        "404": fails("ConfigurationError", "START", "GET blue/green deployments", "HTTP 404", cleanup=NOTHING),
        # A blip: SpotClient retries 429 (after X-RateLimit-Reset/Retry-After), 5xx, resets and read timeouts, 4
        # attempts in all (Guarantees: Spot's rate limit is respected and absorbed).
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "read-timeout-once": DRY_RUN_PASSES,
        # Outlasting the 4 attempts: SystemUnavailable, a person re-runs the stage (Troubleshooting: `Spot ... HTTP 429`
        # / `HTTP 5xx` / `ConnectionError` / `ReadTimeout`).
        "429-persistent": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "HTTP 429", GAVE_UP, cleanup=NOTHING
        ),
        "500-persistent": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "HTTP 500", GAVE_UP, cleanup=NOTHING
        ),
        "502-persistent": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "HTTP 502", GAVE_UP, cleanup=NOTHING
        ),
        "503-persistent": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "HTTP 503", GAVE_UP, cleanup=NOTHING
        ),
        "reset-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET blue/green deployments",
            "no reply from Spot (ConnectionError)",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        "read-timeout-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET blue/green deployments",
            "no reply from Spot (ReadTimeout)",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        # A reply that cannot be read, a flood or a drip: SystemUnavailable naming the call; a flood is never asked for
        # again (Guarantees: every Spot call is bounded in time and bytes; Troubleshooting: `reply larger than 2048 KiB`
        # / `no complete reply from Spot within 30 s`). The drip is cut at each attempt's 30 s budget.
        "not-json": fails("SystemUnavailable", "START", "GET blue/green deployments", "non-JSON body", cleanup=NOTHING),
        "bad-shape": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "unexpected reply", cleanup=NOTHING
        ),
        "drip-persistent": fails(
            "SystemUnavailable",
            "START",
            "GET blue/green deployments",
            "no complete reply from Spot within 30 s",
            GAVE_UP,
            cleanup=NOTHING,
        ),
        "huge-body": fails(
            "SystemUnavailable", "START", "GET blue/green deployments", "reply larger than 2048 KiB", cleanup=NOTHING
        ),
        # Another run's deployment in a word nobody published counts as ended (Spot itself refuses a concurrent start):
        # the dry run passes and the word is logged (README START; Guarantees: Spot's words are read conservatively).
        "unknown-state": logging_the_word(DRY_RUN_PASSES),
    },
    "spot:GET deployments (stall check)": {
        # The stall check (greens not growing for 5 minutes: did Spot give up?) is a real call of the run: its failure
        # fails the run like any Spot call's, and the Spot deployment the run started is stopped (Guarantees: no green
        # capacity left behind). Decision: a failed question ends the run early rather than leaving it to its TIMEOUT.
        "400": fails(
            "ConfigurationError", "WAIT_GREEN", "GET blue/green deployments", "HTTP 400", cleanup=SPOT_STOPPED
        ),
        "401": fails("PermissionError", "WAIT_GREEN", "GET blue/green deployments", "HTTP 401", cleanup=SPOT_STOPPED),
        "403": fails("PermissionError", "WAIT_GREEN", "GET blue/green deployments", "HTTP 403", cleanup=SPOT_STOPPED),
        "404": fails(
            "ConfigurationError", "WAIT_GREEN", "GET blue/green deployments", "HTTP 404", cleanup=SPOT_STOPPED
        ),
        # Retried within the call; Spot has not given up, the greens never come, so the run ends at its TIMEOUT (the
        # scenario without the fault).
        "429-once": GREENS_TIMED_OUT,
        "500-once": GREENS_TIMED_OUT,
        "502-once": GREENS_TIMED_OUT,
        "503-once": GREENS_TIMED_OUT,
        "reset-once": GREENS_TIMED_OUT,
        "read-timeout-once": GREENS_TIMED_OUT,
        # Outlasting the 4 attempts: SystemUnavailable, a person re-runs the stage (Troubleshooting: `Spot ... HTTP 429`
        # / `HTTP 5xx` / `ConnectionError` / `ReadTimeout`).
        "429-persistent": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "HTTP 429", GAVE_UP, cleanup=SPOT_STOPPED
        ),
        "500-persistent": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "HTTP 500", GAVE_UP, cleanup=SPOT_STOPPED
        ),
        "502-persistent": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "HTTP 502", GAVE_UP, cleanup=SPOT_STOPPED
        ),
        "503-persistent": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "HTTP 503", GAVE_UP, cleanup=SPOT_STOPPED
        ),
        "reset-persistent": fails(
            "SystemUnavailable",
            "WAIT_GREEN",
            "GET blue/green deployments",
            "no reply from Spot (ConnectionError)",
            GAVE_UP,
            cleanup=SPOT_STOPPED,
        ),
        "read-timeout-persistent": fails(
            "SystemUnavailable",
            "WAIT_GREEN",
            "GET blue/green deployments",
            "no reply from Spot (ReadTimeout)",
            GAVE_UP,
            cleanup=SPOT_STOPPED,
        ),
        # A reply that cannot be read, a flood or a drip: SystemUnavailable naming the call; a flood is never asked for
        # again (Guarantees: every Spot call is bounded in time and bytes; Troubleshooting: `reply larger than 2048 KiB`
        # / `no complete reply from Spot within 30 s`). The drip is cut at each attempt's 30 s budget.
        "not-json": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "non-JSON body", cleanup=SPOT_STOPPED
        ),
        "bad-shape": fails(
            "SystemUnavailable", "WAIT_GREEN", "GET blue/green deployments", "unexpected reply", cleanup=SPOT_STOPPED
        ),
        "drip-persistent": fails(
            "SystemUnavailable",
            "WAIT_GREEN",
            "GET blue/green deployments",
            "no complete reply from Spot within 30 s",
            GAVE_UP,
            cleanup=SPOT_STOPPED,
        ),
        "huge-body": fails(
            "SystemUnavailable",
            "WAIT_GREEN",
            "GET blue/green deployments",
            "reply larger than 2048 KiB",
            cleanup=SPOT_STOPPED,
        ),
        # Our own deployment in a word nobody published is kept watching, not taken as ended: the run goes on to its
        # TIMEOUT, and the word is logged (Guarantees: this run's own is kept watching).
        "unknown-state": logging_the_word(GREENS_TIMED_OUT),
    },
    "spot:POST start": {
        # Spot refuses the start: 400 most likely because a deployment runs on the group (Troubleshooting: `Spot refuses
        # a start while another blue/green deployment runs on the group`), 404 a wrong group, 401/403 the token. Nothing
        # was started.
        "400": fails("ConfigurationError", "START", "POST start blue/green deployment", "HTTP 400", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "POST start blue/green deployment", "HTTP 401", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "POST start blue/green deployment", "HTTP 403", cleanup=NOTHING),
        "404": fails("ConfigurationError", "START", "POST start blue/green deployment", "HTTP 404", cleanup=NOTHING),
        # Retried: a 429 is safe to re-send; after a 5xx, reset or timeout the outcome is unknown, so the list is
        # searched for the tag first (nothing), then the POST is sent again (Guarantees: a POST whose outcome is unknown
        # is not repeated before looking).
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "read-timeout-once": DEPLOYED,
        # A 429 says Spot did not act: nothing may have started. After 5xx, resets, timeouts or a drip the outcome stays
        # unknown: SystemUnavailable, `may have started`, and the cleanup says which tag to look for (Troubleshooting:
        # `may have started, and none is listed yet`).
        "429-persistent": fails(
            "SystemUnavailable", "START", "POST start blue/green deployment", "HTTP 429", GAVE_UP, cleanup=NOTHING
        ),
        "500-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "HTTP 500",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "502-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "HTTP 502",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "503-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "HTTP 503",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "reset-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "no reply from Spot (ConnectionError)",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "read-timeout-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "no reply from Spot (ReadTimeout)",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        # An OK reply that cannot be read means Spot may have started it: looked for three times, not re-sent, then the
        # same `may have started` failure as above.
        "not-json": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "non-JSON body",
            "gave up after 1 attempt",
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "bad-shape": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "unexpected reply",
            "gave up after 1 attempt",
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        "drip-persistent": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "no complete reply from Spot within 30 s",
            GAVE_UP,
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        # A flood is never asked for again: one POST was sent, and the message says so (it said 4 attempts until the
        # table was written).
        "huge-body": fails(
            "SystemUnavailable",
            "START",
            "POST start blue/green deployment",
            "reply larger than 2048 KiB",
            "gave up after 1 attempt;",
            "may have started",
            cleanup=LOOK_BY_HAND,
        ),
        # Spot answers the start with a word nobody published: the start's reply is not judged by its state; the
        # deployment is ours and is followed to success.
        "unknown-state": DEPLOYED,
        # Spot started it but answered 503, its list lags, and the re-sent POST is refused: the refusal means `look
        # again`, and the deployment found is adopted (Guarantees: a start whose outcome is unknown is found and
        # adopted, never lost). The test also asserts one deployment, reported as the run's.
        "ambiguous-then-refused": DEPLOYED,
    },
    "spot:PUT stop": {
        # 400/404: a refused stop is checked with a GET; Spot still lists the deployment as running, so a person must
        # stop it (README: a stop that Spot refuses is checked with a GET). 401/403: the stop failed; the message says
        # what to stop by hand (Troubleshooting: `Cleanup FAILED, do this by hand`).
        "400": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "may still be running",
            "HTTP 400",
            cleanup=SPOT_BY_HAND,
        ),
        "401": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 401",
            cleanup=SPOT_BY_HAND,
        ),
        "403": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 403",
            cleanup=SPOT_BY_HAND,
        ),
        "404": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "may still be running",
            "HTTP 404",
            cleanup=SPOT_BY_HAND,
        ),
        # The cleanup of a failed deployment: the run fails for CodeDeploy's own reason whatever the stop does. Retried
        # within the call, the stop goes through.
        "429-once": DEPLOYMENT_FAILED,
        "500-once": DEPLOYMENT_FAILED,
        "502-once": DEPLOYMENT_FAILED,
        "503-once": DEPLOYMENT_FAILED,
        "reset-once": DEPLOYMENT_FAILED,
        "read-timeout-once": DEPLOYMENT_FAILED,
        # The stop failed after its retries: what to stop by hand is listed.
        "429-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 429",
            cleanup=SPOT_BY_HAND,
        ),
        "500-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 500",
            cleanup=SPOT_BY_HAND,
        ),
        "502-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 502",
            cleanup=SPOT_BY_HAND,
        ),
        "503-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "HTTP 503",
            cleanup=SPOT_BY_HAND,
        ),
        "reset-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "no reply from Spot (ConnectionError)",
            cleanup=SPOT_BY_HAND,
        ),
        "read-timeout-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "no reply from Spot (ReadTimeout)",
            cleanup=SPOT_BY_HAND,
        ),
        # A 200 whose body cannot be read is not taken as a stop (the conservative reading): listed to stop by hand.
        "not-json": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "non-JSON body",
            cleanup=SPOT_BY_HAND,
        ),
        "bad-shape": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "unexpected reply",
            cleanup=SPOT_BY_HAND,
        ),
        "drip-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "no complete reply from Spot within 30 s",
            cleanup=SPOT_BY_HAND,
        ),
        "huge-body": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "PUT stop blue/green deployment",
            "reply larger than 2048 KiB",
            cleanup=SPOT_BY_HAND,
        ),
        # Spot refused the stop because it had ended the deployment itself, and its list confirms it: nothing is left to
        # stop.
        "refused-ended": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "AfterInstall ScriptFailed",
            "had already ended",
            cleanup=SPOT_ENDED,
        ),
    },
    "ec2:DescribeInstances": {
        # EC2 speaks XML: a bare status with an empty body is a reply botocore cannot parse (`AWS's reply could not be
        # read`), and on a poll that is a blip the next poll outlives (README: a poll that fails ... is tried again at
        # the next interval; three in a row fail the run).
        "400": DEPLOYED,
        "401": DEPLOYED,
        "403": DEPLOYED,
        "404": DEPLOYED,
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Every attempt of MAX_POLL_FAILURES polls in a row: SystemUnavailable, and the Spot deployment is stopped
        # (README: three in a row fail the run; Troubleshooting: `AWS ... EndpointConnectionError` / `InternalError` ...
        # after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
        "502-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
        "503-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
        "reset-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
        # Unreadable once, on a poll: a blip, retried at the next interval, and a poll that failed never reports
        # success.
        "not-json": DEPLOYED,
        "bad-shape": DEPLOYED,
        # A denial is not a blip: PermissionError at once (Troubleshooting: `AWS <service>:<Action> failed:
        # AccessDenied`), and the Spot deployment is stopped.
        "access-denied": fails("PermissionError", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
        # InvalidInstanceID.NotFound on a call that names no instance (it filters by tag): the function has no rule for
        # it, so JobFailed (errors.AwsApiError) naming the call and the code.
        "not-found": fails("JobFailed", "WAIT_GREEN", "ec2:DescribeInstances", cleanup=SPOT_STOPPED),
    },
    "ec2:DescribeInstanceStatus": {
        # EC2 speaks XML: a bare status with an empty body is a reply botocore cannot parse (`AWS's reply could not be
        # read`), and on a poll that is a blip the next poll outlives (README: a poll that fails ... is tried again at
        # the next interval; three in a row fail the run).
        "400": DEPLOYED,
        "401": DEPLOYED,
        "403": DEPLOYED,
        "404": DEPLOYED,
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Every attempt of MAX_POLL_FAILURES polls in a row: SystemUnavailable, and the Spot deployment is stopped
        # (README: three in a row fail the run; Troubleshooting: `AWS ... EndpointConnectionError` / `InternalError` ...
        # after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstanceStatus", cleanup=SPOT_STOPPED),
        "502-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstanceStatus", cleanup=SPOT_STOPPED),
        "503-persistent": fails("SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstanceStatus", cleanup=SPOT_STOPPED),
        "reset-persistent": fails(
            "SystemUnavailable", "WAIT_GREEN", "ec2:DescribeInstanceStatus", cleanup=SPOT_STOPPED
        ),
        # Unreadable once, on a poll: a blip, retried at the next interval, and a poll that failed never reports
        # success.
        "not-json": DEPLOYED,
        "bad-shape": DEPLOYED,
        # A denial is not a blip: PermissionError at once (Troubleshooting: `AWS <service>:<Action> failed:
        # AccessDenied`), and the Spot deployment is stopped.
        "access-denied": fails("PermissionError", "WAIT_GREEN", "ec2:DescribeInstanceStatus", cleanup=SPOT_STOPPED),
        # EC2 is eventually consistent: an instance just launched may not be described yet, so the next poll asks again
        # (aws.AwsGateway.instance_health).
        "not-found": DEPLOYED,
    },
    "codedeploy:GetDeploymentGroup": {
        # Preflight: nothing is launched, so nothing to clean up. JSON services: a bare 400/404 is read as an error
        # whose code is the status. A 4xx is a refusal, not a blip (only throttled, unreachable or unreadable calls are
        # retried), and the function has no rule for these codes: JobFailed (errors.AwsApiError) naming the call.
        # 401/403: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "404": fails("JobFailed", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # Outlasting boto3's retries: SystemUnavailable (Troubleshooting: `AWS ... Throttling` / `InternalError` /
        # `EndpointConnectionError` ... after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "reset-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "429-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "throttling-persistent": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        # Outside a poll an unreadable reply fails the call: SystemUnavailable (Troubleshooting: `AWS's reply could not
        # be read`).
        "not-json": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        # The role lacks the action: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "access-denied": fails("PermissionError", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
        # DeploymentGroupDoesNotExistException: the names do not exist in the function's region (Troubleshooting:
        # ConfigurationError).
        "not-found": fails("ConfigurationError", "START", "codedeploy:GetDeploymentGroup", cleanup=NOTHING),
    },
    "codedeploy:ListDeployments": {
        # DEPLOY: the Spot deployment started in START, so every failure stops it (Guarantees: no green capacity left
        # behind). JSON services: a bare 400/404 is read as an error whose code is the status. A 4xx is a refusal, not a
        # blip (only throttled, unreachable or unreadable calls are retried), and the function has no rule for these
        # codes: JobFailed (errors.AwsApiError) naming the call. 401/403: PermissionError (Troubleshooting: `AWS
        # <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "401": fails("PermissionError", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "403": fails("PermissionError", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "404": fails("JobFailed", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Outlasting boto3's retries: SystemUnavailable (Troubleshooting: `AWS ... Throttling` / `InternalError` /
        # `EndpointConnectionError` ... after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "502-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "503-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "reset-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        # Outside a poll an unreadable reply fails the call: SystemUnavailable (Troubleshooting: `AWS's reply could not
        # be read`).
        "not-json": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        "bad-shape": fails("SystemUnavailable", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        # The role lacks the action: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "access-denied": fails("PermissionError", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
        # ApplicationDoesNotExistException (Troubleshooting: ConfigurationError).
        "not-found": fails("ConfigurationError", "DEPLOY", "codedeploy:ListDeployments", cleanup=SPOT_STOPPED),
    },
    "codedeploy:BatchGetDeployments": {
        # DEPLOY: the Spot deployment started in START, so every failure stops it (Guarantees: no green capacity left
        # behind). JSON services: a bare 400/404 is read as an error whose code is the status. A 4xx is a refusal, not a
        # blip (only throttled, unreachable or unreadable calls are retried), and the function has no rule for these
        # codes: JobFailed (errors.AwsApiError) naming the call. 401/403: PermissionError (Troubleshooting: `AWS
        # <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "401": fails("PermissionError", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "403": fails("PermissionError", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "404": fails("JobFailed", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Outlasting boto3's retries: SystemUnavailable (Troubleshooting: `AWS ... Throttling` / `InternalError` /
        # `EndpointConnectionError` ... after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "502-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "503-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "reset-persistent": fails(
            "SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED
        ),
        # Outside a poll an unreadable reply fails the call: SystemUnavailable (Troubleshooting: `AWS's reply could not
        # be read`).
        "not-json": fails("SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        "bad-shape": fails("SystemUnavailable", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        # The role lacks the action: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "access-denied": fails("PermissionError", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
        # BatchLimitExceededException: no rule, JobFailed naming the call and the code.
        "limit": fails("JobFailed", "DEPLOY", "codedeploy:BatchGetDeployments", cleanup=SPOT_STOPPED),
    },
    "codedeploy:CreateDeployment": {
        # DEPLOY: the Spot deployment started in START, so every failure stops it (Guarantees: no green capacity left
        # behind). JSON services: a bare 400/404 is read as an error whose code is the status. A 4xx is a refusal, not a
        # blip (only throttled, unreachable or unreadable calls are retried), and the function has no rule for these
        # codes: JobFailed (errors.AwsApiError) naming the call. 401/403: PermissionError (Troubleshooting: `AWS
        # <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "401": fails("PermissionError", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "403": fails("PermissionError", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "404": fails("JobFailed", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        # boto3's own retries (standard mode, 3 attempts) absorb a throttle. A 5xx or a reset may have been carried
        # out (CreateDeployment has no idempotency token): boto3 does not re-send it; the function looks for the
        # deployment by its marker, finds none (the proxy answered in CodeDeploy's stead) and sends it again.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Outlasting the 3 attempts: SystemUnavailable (Troubleshooting: `AWS ... Throttling` / `InternalError` /
        # `EndpointConnectionError` ... after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "502-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "503-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "reset-persistent": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        # Outside a poll an unreadable reply fails the call: SystemUnavailable (Troubleshooting: `AWS's reply could not
        # be read`).
        "not-json": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        "bad-shape": fails("SystemUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        # The role lacks the action: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "access-denied": fails("PermissionError", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        # RevisionDoesNotExistException: CodeDeploy cannot read the revision (Troubleshooting: RevisionUnavailable).
        "not-found": fails("RevisionUnavailable", "DEPLOY", "codedeploy:CreateDeployment", cleanup=SPOT_STOPPED),
        # DeploymentLimitExceededException and no deployment carrying our tag (no twin to follow): JobFailed, `another
        # deployment is already running` (Troubleshooting).
        "limit": fails(
            "JobFailed",
            "DEPLOY",
            "codedeploy:CreateDeployment",
            "another deployment is already running on this deployment group",
            cleanup=SPOT_STOPPED,
        ),
    },
    "codedeploy:GetDeployment": {
        # WAIT_DEPLOY's poll. JSON services: a bare 400/404 is read as an error whose code is the status. A 4xx is a
        # refusal, not a blip (only throttled, unreachable or unreadable calls are retried), and the function has no
        # rule for these codes: JobFailed (errors.AwsApiError) naming the call. 401/403: PermissionError
        # (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        # Meanwhile CodeDeploy has succeeded: the cleanup's StopDeployment is told DeploymentAlreadyCompletedException,
        # one more GetDeployment shows Succeeded, and the Spot deployment is left running as after a success (README:
        # once CodeDeploy succeeded, stopping it could leave nothing serving). The run still fails: its health was not
        # watched to the end. (Until this row was written down, the Spot deployment was stopped here.)
        "400": fails("JobFailed", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT),
        "401": fails(
            "PermissionError", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        "403": fails(
            "PermissionError", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        "404": fails("JobFailed", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DEPLOYED,
        "500-once": DEPLOYED,
        "502-once": DEPLOYED,
        "503-once": DEPLOYED,
        "reset-once": DEPLOYED,
        "throttling-once": DEPLOYED,
        # Every attempt of MAX_POLL_FAILURES polls in a row: SystemUnavailable (README: three in a row fail the run);
        # CodeDeploy had succeeded meanwhile, as above.
        "500-persistent": fails(
            "SystemUnavailable", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        "502-persistent": fails(
            "SystemUnavailable", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        "503-persistent": fails(
            "SystemUnavailable", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        "reset-persistent": fails(
            "SystemUnavailable", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        # Unreadable once, on a poll: a blip, retried at the next interval.
        "not-json": DEPLOYED,
        "bad-shape": DEPLOYED,
        # A denial is not a blip: PermissionError at once. CodeDeploy had succeeded: as for the refusals above.
        "access-denied": fails(
            "PermissionError", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
        # DeploymentDoesNotExistException for the deployment the run created: no rule, JobFailed naming the call. As
        # above, CodeDeploy had succeeded.
        "not-found": fails(
            "JobFailed", "WAIT_DEPLOY", "codedeploy:GetDeployment", "had already succeeded", cleanup=KEPT
        ),
    },
    "cloudwatch:DescribeAlarms": {
        # Preflight: nothing is launched, so nothing to clean up. JSON services: a bare 400/404 is read as an error
        # whose code is the status. A 4xx is a refusal, not a blip (only throttled, unreachable or unreadable calls are
        # retried), and the function has no rule for these codes: JobFailed (errors.AwsApiError) naming the call.
        # 401/403: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "401": fails("PermissionError", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "403": fails("PermissionError", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "404": fails("JobFailed", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # Outlasting boto3's retries: SystemUnavailable (Troubleshooting: `AWS ... Throttling` / `InternalError` /
        # `EndpointConnectionError` ... after boto3's retries).
        "500-persistent": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "reset-persistent": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        # Outside a poll an unreadable reply fails the call: SystemUnavailable (Troubleshooting: `AWS's reply could not
        # be read`).
        "not-json": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
        # The role lacks the action: PermissionError (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "access-denied": fails("PermissionError", "START", "cloudwatch:DescribeAlarms", cleanup=NOTHING),
    },
    "cloudwatch:DescribeAlarms (poll)": {
        # The health gate's poll while CodeDeploy deploys (still running at the deadline, so a failure stops it with
        # rollback and stops the Spot deployment). JSON services: a bare 400/404 is read as an error whose code is the
        # status. A 4xx is a refusal, not a blip (only throttled, unreachable or unreadable calls are retried), and the
        # function has no rule for these codes: JobFailed (errors.AwsApiError) naming the call. 401/403: PermissionError
        # (Troubleshooting: `AWS <service>:<Action> failed: AccessDenied`).
        "400": fails("JobFailed", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "401": fails("PermissionError", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "403": fails("PermissionError", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "404": fails("JobFailed", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        # A failed DescribeAlarms is a poll blip, never a success (Guarantees: the health gate): the run goes on to its
        # TIMEOUT, the scenario without the fault.
        "429-once": DEPLOY_TIMED_OUT,
        "500-once": DEPLOY_TIMED_OUT,
        "502-once": DEPLOY_TIMED_OUT,
        "503-once": DEPLOY_TIMED_OUT,
        "reset-once": DEPLOY_TIMED_OUT,
        "throttling-once": DEPLOY_TIMED_OUT,
        # Three polls in a row: the gate could not be checked, so no success: SystemUnavailable (Troubleshooting:
        # `cloudwatch:DescribeAlarms failed`).
        "500-persistent": fails("SystemUnavailable", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "502-persistent": fails("SystemUnavailable", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "503-persistent": fails("SystemUnavailable", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
        "reset-persistent": fails(
            "SystemUnavailable", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED
        ),
        # Unreadable once: a poll blip, as above.
        "not-json": DEPLOY_TIMED_OUT,
        "bad-shape": DEPLOY_TIMED_OUT,
        # The role may not read the alarms: PermissionError at once (Troubleshooting: `AWS cloudwatch:DescribeAlarms
        # failed: AccessDenied`).
        "access-denied": fails("PermissionError", "WAIT_DEPLOY", "cloudwatch:DescribeAlarms", cleanup=BOTH_STOPPED),
    },
    "codedeploy:StopDeployment": {
        # The stop failed: the Spot deployment is still stopped, and the message says to stop the CodeDeploy deployment
        # by hand (Troubleshooting: `Cleanup FAILED, do this by hand`).
        "400": fails("JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND),
        "401": fails("JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND),
        "403": fails("JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND),
        "404": fails("JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND),
        # The cleanup at the deadline (TIMEOUT passed while CodeDeploy deploys): the run fails for its timeout whatever
        # the stop does. Retried within the call, the stop goes through.
        "429-once": DEPLOY_TIMED_OUT,
        "500-once": DEPLOY_TIMED_OUT,
        "502-once": DEPLOY_TIMED_OUT,
        "503-once": DEPLOY_TIMED_OUT,
        "reset-once": DEPLOY_TIMED_OUT,
        "throttling-once": DEPLOY_TIMED_OUT,
        # As above, after boto3's retries.
        "500-persistent": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
        "502-persistent": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
        "503-persistent": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
        "reset-persistent": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
        # A 200 is CodeDeploy's acceptance: StopDeployment's reply body is not needed, so the stop counts as made (here
        # the proxy answered in CodeDeploy's stead, so the fake's deployment runs on).
        "not-json": fails("JobFailed", "WAIT_DEPLOY", "Timed out", cleanup=STOP_ACCEPTED),
        "bad-shape": fails("JobFailed", "WAIT_DEPLOY", "Timed out", cleanup=STOP_ACCEPTED),
        # The role lacks codedeploy:StopDeployment: stop it by hand.
        "access-denied": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
        # DeploymentDoesNotExistException: listed to stop by hand all the same (the safe reading).
        "not-found": fails(
            "JobFailed", "WAIT_DEPLOY", "Timed out", "codedeploy:StopDeployment", cleanup=CODEDEPLOY_BY_HAND
        ),
    },
    "codedeploy:ListDeploymentTargets": {
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "400": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "401": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "403": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "404": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # Diagnostics of a failed deployment (the failed instances' lifecycle events): retried within the call, so the
        # message shows the failed hook.
        "429-once": DEPLOYMENT_FAILED,
        "500-once": DEPLOYMENT_FAILED,
        "502-once": DEPLOYMENT_FAILED,
        "503-once": DEPLOYMENT_FAILED,
        "reset-once": DEPLOYMENT_FAILED,
        "throttling-once": DEPLOYMENT_FAILED,
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "500-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "502-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "503-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "reset-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "not-json": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "bad-shape": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "access-denied": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "not-found": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:ListDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
    },
    "codedeploy:BatchGetDeploymentTargets": {
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "400": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "401": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "403": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "404": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # Diagnostics of a failed deployment (the failed instances' lifecycle events): retried within the call, so the
        # message shows the failed hook.
        "429-once": DEPLOYMENT_FAILED,
        "500-once": DEPLOYMENT_FAILED,
        "502-once": DEPLOYMENT_FAILED,
        "503-once": DEPLOYMENT_FAILED,
        "reset-once": DEPLOYMENT_FAILED,
        "throttling-once": DEPLOYMENT_FAILED,
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "500-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "502-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "503-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "reset-persistent": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "not-json": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        "bad-shape": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "access-denied": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "not-found": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
        # A diagnostic read never changes the outcome: the run fails for CodeDeploy's own reason (HEALTH_CONSTRAINTS)
        # and says the lifecycle events could not be read, naming the call.
        "limit": fails(
            "JobFailed",
            "WAIT_DEPLOY",
            "HEALTH_CONSTRAINTS",
            "codedeploy:BatchGetDeploymentTargets",
            "lifecycle events could not be read",
            cleanup=SPOT_STOPPED,
        ),
    },
    "s3:HeadObject": {
        # Preflight's check of the revision. 400: botocore answers a 400 on HEAD by checking the bucket's region, and
        # retries. 401: the general rule (status 401 is PermissionError; S3 itself answers a denial with 403). 403/404:
        # the bundle is missing or the role may not read it, which S3 does not tell apart without s3:ListBucket
        # (Troubleshooting: RevisionUnavailable, `revision s3://... cannot be read with the function's role`).
        "400": DRY_RUN_PASSES,
        "401": fails("PermissionError", "START", "s3:HeadObject", cleanup=NOTHING),
        "403": fails(
            "RevisionUnavailable",
            "START",
            "s3://revisions/app/v2.zip",
            "cannot be read with the function's role",
            cleanup=NOTHING,
        ),
        "404": fails(
            "RevisionUnavailable",
            "START",
            "s3://revisions/app/v2.zip",
            "cannot be read with the function's role",
            cleanup=NOTHING,
        ),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # Outlasting boto3's retries: SystemUnavailable naming the call.
        "500-persistent": fails("SystemUnavailable", "START", "s3:HeadObject", cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", "START", "s3:HeadObject", cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", "START", "s3:HeadObject", cleanup=NOTHING),
        "reset-persistent": fails("SystemUnavailable", "START", "s3:HeadObject", cleanup=NOTHING),
        # AccessDenied on the revision: RevisionUnavailable, as for 403 above (Troubleshooting).
        "access-denied": fails(
            "RevisionUnavailable",
            "START",
            "s3://revisions/app/v2.zip",
            "cannot be read with the function's role",
            cleanup=NOTHING,
        ),
        # NoSuchKey: RevisionUnavailable (Troubleshooting).
        "not-found": fails(
            "RevisionUnavailable",
            "START",
            "s3://revisions/app/v2.zip",
            "cannot be read with the function's role",
            cleanup=NOTHING,
        ),
    },
    "secretsmanager:GetSecretValue": {
        # The token source named in UserParameters cannot be used: 400/404 ConfigurationError (`cannot be read`),
        # 401/403 PermissionError (Troubleshooting: `cannot be read: access denied`); the message names the key, not the
        # call.
        # No phase prefix: the token is read before the run begins, so the message starts with the key it names
        # (Troubleshooting's introduction says so since the table was written; it claimed a phase for every message).
        "400": fails("ConfigurationError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "401": fails("PermissionError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "403": fails("PermissionError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "404": fails("ConfigurationError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # Outlasting boto3's retries: SystemUnavailable.
        "500-persistent": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "reset-persistent": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        # An unreadable reply: SystemUnavailable (`AWS's reply could not be read`).
        "not-json": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        # Troubleshooting: PermissionError, `cannot be read: access denied`.
        "access-denied": fails("PermissionError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
        # Troubleshooting: ConfigurationError, `API_TOKEN_SECRET: ... does not exist`.
        "not-found": fails("ConfigurationError", None, "API_TOKEN_SECRET", cleanup=NOTHING),
    },
    "ssm:GetParameter": {
        # The token source named in UserParameters cannot be used: 400/404 ConfigurationError (`cannot be read`),
        # 401/403 PermissionError (Troubleshooting: `cannot be read: access denied`); the message names the key, not the
        # call.
        # No phase prefix: the token is read before the run begins, so the message starts with the key it names
        # (Troubleshooting's introduction says so since the table was written; it claimed a phase for every message).
        "400": fails("ConfigurationError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "401": fails("PermissionError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "403": fails("PermissionError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "404": fails("ConfigurationError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # Outlasting boto3's retries: SystemUnavailable.
        "500-persistent": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "502-persistent": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "503-persistent": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "reset-persistent": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        # An unreadable reply: SystemUnavailable (`AWS's reply could not be read`).
        "not-json": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        "bad-shape": fails("SystemUnavailable", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        # Troubleshooting: PermissionError, `cannot be read: access denied`.
        "access-denied": fails("PermissionError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
        # Troubleshooting: ConfigurationError, `API_TOKEN_SECRET: ... does not exist`.
        "not-found": fails("ConfigurationError", None, "API_TOKEN_PARAMETER", cleanup=NOTHING),
    },
    "codepipeline:PutJobSuccessResult": {
        # The report itself failed: logged and raised, so Lambda's retry reports (Guarantees: no exception escapes the
        # handler except when the report call itself fails; Troubleshooting: `Could not report the result to
        # CodePipeline`).
        "400": raised("codepipeline:PutJobSuccessResult"),
        "401": raised("codepipeline:PutJobSuccessResult"),
        "403": raised("codepipeline:PutJobSuccessResult"),
        "404": raised("codepipeline:PutJobSuccessResult"),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": DRY_RUN_PASSES,
        "500-once": DRY_RUN_PASSES,
        "502-once": DRY_RUN_PASSES,
        "503-once": DRY_RUN_PASSES,
        "reset-once": DRY_RUN_PASSES,
        "throttling-once": DRY_RUN_PASSES,
        # As for the refusals: raised.
        "500-persistent": raised("codepipeline:PutJobSuccessResult"),
        "502-persistent": raised("codepipeline:PutJobSuccessResult"),
        "503-persistent": raised("codepipeline:PutJobSuccessResult"),
        "reset-persistent": raised("codepipeline:PutJobSuccessResult"),
        # HTTP 200: CodePipeline took the result, and its (empty) reply body is not read. The proxy answered in
        # CodePipeline's stead, so the fake recorded no report.
        "not-json": unrecorded(DRY_RUN_PASSES),
        "bad-shape": unrecorded(DRY_RUN_PASSES),
        # As for the refusals: raised.
        "access-denied": raised("codepipeline:PutJobSuccessResult"),
        # JobNotFoundException: another delivery already reported the job; nothing is raised and the log says
        # CodePipeline no longer waits for this job.
        "not-found": dropped(DRY_RUN_PASSES),
        # OutputVariablesSizeExceededException: raised, as for the refusals.
        "limit": raised("codepipeline:PutJobSuccessResult"),
    },
    "codepipeline:PutJobFailureResult": {
        # The report itself failed: logged and raised, so Lambda's retry reports (Guarantees: no exception escapes the
        # handler except when the report call itself fails; Troubleshooting: `Could not report the result to
        # CodePipeline`).
        "400": raised("codepipeline:PutJobFailureResult"),
        "401": raised("codepipeline:PutJobFailureResult"),
        "403": raised("codepipeline:PutJobFailureResult"),
        "404": raised("codepipeline:PutJobFailureResult"),
        # boto3's own retries (standard mode, 3 attempts) absorb it.
        "429-once": PARAMETERS_REFUSED,
        "500-once": PARAMETERS_REFUSED,
        "502-once": PARAMETERS_REFUSED,
        "503-once": PARAMETERS_REFUSED,
        "reset-once": PARAMETERS_REFUSED,
        "throttling-once": PARAMETERS_REFUSED,
        # As for the refusals: raised.
        "500-persistent": raised("codepipeline:PutJobFailureResult"),
        "502-persistent": raised("codepipeline:PutJobFailureResult"),
        "503-persistent": raised("codepipeline:PutJobFailureResult"),
        "reset-persistent": raised("codepipeline:PutJobFailureResult"),
        # HTTP 200: CodePipeline took the result, and its (empty) reply body is not read. The proxy answered in
        # CodePipeline's stead, so the fake recorded no report.
        "not-json": unrecorded(PARAMETERS_REFUSED),
        "bad-shape": unrecorded(PARAMETERS_REFUSED),
        # As for the refusals: raised.
        "access-denied": raised("codepipeline:PutJobFailureResult"),
        # JobNotFoundException: another delivery already reported the job; nothing is raised and the log says
        # CodePipeline no longer waits for this job.
        "not-found": dropped(PARAMETERS_REFUSED),
    },
    "codepipeline:GetJobDetails": {
        # Which action execution the job belongs to. Any failure leaves the run as it was without it: it goes on
        # under the job id, warning that reclaim cannot find it (README Troubleshooting: `reclaim cannot find this
        # run`); the deployment itself is not affected (phases: START).
        "400": under_the_job_id(DEPLOYED),
        "401": under_the_job_id(DEPLOYED),
        "403": under_the_job_id(DEPLOYED),
        "404": under_the_job_id(DEPLOYED),
        # boto3's own retries (standard mode, 3 attempts) absorb it: the action execution is known.
        "429-once": identified(DEPLOYED),
        "500-once": identified(DEPLOYED),
        "502-once": identified(DEPLOYED),
        "503-once": identified(DEPLOYED),
        "reset-once": identified(DEPLOYED),
        "throttling-once": identified(DEPLOYED),
        # Outlasting boto3's retries, an unreadable reply, no permission, an unknown job: under the job id.
        "500-persistent": under_the_job_id(DEPLOYED),
        "502-persistent": under_the_job_id(DEPLOYED),
        "503-persistent": under_the_job_id(DEPLOYED),
        "reset-persistent": under_the_job_id(DEPLOYED),
        "not-json": under_the_job_id(DEPLOYED),
        "bad-shape": under_the_job_id(DEPLOYED),
        "access-denied": under_the_job_id(DEPLOYED),
        "not-found": under_the_job_id(DEPLOYED),
    },
    "codepipeline:GetPipelineExecution": {
        # Read after the dry run's report was refused. When boto3's retries absorb the fault, CodePipeline says the
        # execution is Stopped and the action Abandoned: the run ended, and as a dry run nothing was deployed. Any
        # fault that persists means the verdict cannot be told: an ERROR names what to stop by hand. Nothing is
        # stopped either way, and nothing is reported (the job is no longer in progress).
        "400": refused_and_judged(CANNOT_TELL),
        "401": refused_and_judged(CANNOT_TELL),
        "403": refused_and_judged(CANNOT_TELL),
        "404": refused_and_judged(CANNOT_TELL),
        "429-once": refused_and_judged(NOTHING_DEPLOYED),
        "500-once": refused_and_judged(NOTHING_DEPLOYED),
        "500-persistent": refused_and_judged(CANNOT_TELL),
        "502-once": refused_and_judged(NOTHING_DEPLOYED),
        "502-persistent": refused_and_judged(CANNOT_TELL),
        "503-once": refused_and_judged(NOTHING_DEPLOYED),
        "503-persistent": refused_and_judged(CANNOT_TELL),
        "reset-once": refused_and_judged(NOTHING_DEPLOYED),
        "reset-persistent": refused_and_judged(CANNOT_TELL),
        "not-json": refused_and_judged(CANNOT_TELL),
        "bad-shape": refused_and_judged(CANNOT_TELL),
        "throttling-once": refused_and_judged(NOTHING_DEPLOYED),
        "access-denied": refused_and_judged(CANNOT_TELL),
        "not-found": refused_and_judged(CANNOT_TELL),
    },
    "codepipeline:ListActionExecutions": {
        # As for GetPipelineExecution, except an unreadable list (not JSON, the wrong shape) reads as empty: with the
        # execution Stopped, a run it no longer lists has ended all the same (bluegreen.reclaim.judge).
        "400": refused_and_judged(CANNOT_TELL),
        "401": refused_and_judged(CANNOT_TELL),
        "403": refused_and_judged(CANNOT_TELL),
        "404": refused_and_judged(CANNOT_TELL),
        "429-once": refused_and_judged(NOTHING_DEPLOYED),
        "500-once": refused_and_judged(NOTHING_DEPLOYED),
        "500-persistent": refused_and_judged(CANNOT_TELL),
        "502-once": refused_and_judged(NOTHING_DEPLOYED),
        "502-persistent": refused_and_judged(CANNOT_TELL),
        "503-once": refused_and_judged(NOTHING_DEPLOYED),
        "503-persistent": refused_and_judged(CANNOT_TELL),
        "reset-once": refused_and_judged(NOTHING_DEPLOYED),
        "reset-persistent": refused_and_judged(CANNOT_TELL),
        "not-json": refused_and_judged(NOTHING_DEPLOYED),
        "bad-shape": refused_and_judged(NOTHING_DEPLOYED),
        "throttling-once": refused_and_judged(NOTHING_DEPLOYED),
        "access-denied": refused_and_judged(CANNOT_TELL),
        "not-found": refused_and_judged(CANNOT_TELL),
    },
}
