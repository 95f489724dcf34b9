"""The function's least-privilege IAM policy, built for the resources one installation touches.

Owns the one list of statements the execution role needs: `LambdaPolicyDefinition.json` is this policy with
placeholders (a test keeps them equal), `template.yaml` builds the same statements from its parameters (a test
compares them), and `bluegreen policy` (or `python -m bluegreen.policy`) prints it for your names. Pure: the
standard library only, no AWS call, so it runs with nothing but the runtime dependencies installed.

Which actions can be scoped, and to what, comes from the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodedeploy.html and the pages of
the other services; parliament ships a copy, which tests/packaging checks every statement against):
CodeDeploy's CreateDeployment, GetDeployment, GetDeploymentGroup, ListDeployments and BatchGetDeployments take
the deployment group's ARN, GetApplicationRevision and RegisterApplicationRevision the application's,
GetDeploymentConfig the deployment config's; StopDeployment, ListDeploymentTargets and
BatchGetDeploymentTargets support no resource-level permission (so the function checks that a deployment is
its own before it stops it: `bluegreen.flow`), nor do CodePipeline's job results and EC2's describes. CodeDeploy's
permissions reference adds that wildcards cannot stand for the region or the account
(https://docs.aws.amazon.com/codedeploy/latest/userguide/auth-and-access-control-permissions-reference.html),
which is why the shipped file names them as placeholders to fill in.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Final

from bluegreen.params import BUCKET_RE as _BUCKET
from bluegreen.params import CODEDEPLOY_NAME_RE as _NAME

POLICY_VERSION: Final = "2012-10-17"
DEFAULT_TOKEN_KEY_SECRET: Final = "bluegreen/token-key"  # noqa: S105 - a name: the console route's (docs/deploy.md)

# What LambdaPolicyDefinition.json says where your values go: names in upper case, so no real name is mistaken
# for one. The region and account are `*`, because linters (parliament) and IAM accept nothing else there that
# is not a real value. If CodeDeploy's reference is right that they cannot be wildcards, a policy left with
# them denies the CodeDeploy calls (a PermissionError naming the action) rather than granting too much.
PLACEHOLDERS: Final = {
    "partition": "aws",
    "region": "*",
    "account": "*",
    "application": "APP_NAME",
    "deployment_group": "DEPLOYMENT_GROUP",
    "deployment_config": "*",
    "bucket": "REVISION_BUCKET",
    "secret_arn": "arn:aws:secretsmanager:*:*:secret:SPOT_TOKEN_SECRET_NAME-??????",
    "token_key_secret_arn": "arn:aws:secretsmanager:*:*:secret:TOKEN_KEY_SECRET_NAME-??????",
    "parameter": "/SPOT_TOKEN_PARAMETER_NAME",
    "kms_key_arn": "arn:aws:kms:*:*:key/KMS_KEY_ID",
    "function_name": "FUNCTION_NAME",
    "pipeline": "PIPELINE_NAME",
}

_SECRET_ARN: Final = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")
_KMS_KEY_ARN: Final = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+")
_ACCOUNT: Final = re.compile(r"\d{12}")
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_PARAMETER: Final = re.compile(r"/?[A-Za-z0-9_.\-/]{1,1011}")
_FUNCTION: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ALARM: Final = re.compile(r"[^\x00-\x1f\x7f:*]{1,255}")  # ':' and '*' would change the ARN's meaning
_PIPELINE: Final = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")  # botocore's PipelineName


@dataclass(frozen=True)
class PolicyScope:
    """The resources one installation of the function may touch.

    `bucket`, `secret_arn`, `parameter` and `kms_key_arn` are optional: a policy without them grants no S3,
    Parameter Store or KMS access, and Secrets Manager access only to the continuation tokens' signing key.
    """

    application: str
    deployment_group: str
    region: str
    account: str
    partition: str = "aws"
    deployment_config: str = "*"
    bucket: str | None = None
    secret_arn: str | None = None
    parameter: str | None = None
    kms_key_arn: str | None = None
    function_name: str = "bluegreen"
    alarms: tuple[str, ...] = ()  # the health gate's alarms (ALARMS); none named: every alarm of the account
    token_key_secret_arn: str | None = None  # None: the default secret name, bluegreen/token-key
    pipeline: str = "*"  # the pipeline(s) whose runs reclaim reads; "*": every pipeline of the account

    @property
    def token_key_arn(self) -> str:
        return self.token_key_secret_arn or self.arn("secretsmanager", f"secret:{DEFAULT_TOKEN_KEY_SECRET}-??????")

    @classmethod
    def placeholders(cls) -> PolicyScope:
        """The scope LambdaPolicyDefinition.json is built from: every name a placeholder, every grant present."""
        names: dict[str, Any] = dict(PLACEHOLDERS)
        return cls(**names)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        where = f"{self.region}:{self.account}" if regional else ":"
        return f"arn:{self.partition}:{service}:{where}:{resource}"


def build_policy(scope: PolicyScope) -> dict[str, Any]:
    """The IAM policy document the function's role needs for `scope`, and nothing more."""
    codedeploy_group = scope.arn("codedeploy", f"deploymentgroup:{scope.application}/{scope.deployment_group}")
    statements: list[dict[str, Any]] = [
        _statement(
            "ReportPipelineJobResultNoResourceLevelSupport",
            ["codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"],
            "*",
        ),
        # Which action execution a job belongs to (the run's identity, from which its GreenIdentifier comes).
        _statement("IdentifyThePipelineRunOfAJobNoResourceLevelSupport", ["codepipeline:GetJobDetails"], "*"),
        # Reclaim: whether CodePipeline still waits for a run (bluegreen.reclaim), on the pipeline's ARN.
        _statement(
            "AskWhetherThePipelineStillWaitsForTheRun",
            ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"],
            scope.arn("codepipeline", scope.pipeline),
        ),
        _statement(
            "DeployToDeploymentGroup",
            [
                "codedeploy:BatchGetDeployments",
                "codedeploy:CreateDeployment",
                "codedeploy:GetDeployment",
                "codedeploy:GetDeploymentGroup",
                "codedeploy:ListDeployments",
            ],
            codedeploy_group,
        ),
        _statement(
            "ReadDeploymentConfigForCreateDeployment",
            "codedeploy:GetDeploymentConfig",
            scope.arn("codedeploy", f"deploymentconfig:{scope.deployment_config}"),
        ),
        _statement(
            "RegisterApplicationRevisionForCreateDeployment",
            ["codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
            scope.arn("codedeploy", f"application:{scope.application}"),
        ),
        # No resource-level permission exists for these: bluegreen.flow checks a deployment's application,
        # group and green marker before it stops it.
        _statement(
            "InspectAndStopDeploymentsNoResourceLevelSupport",
            [
                "codedeploy:BatchGetDeploymentTargets",
                "codedeploy:ListDeploymentTargets",
                "codedeploy:StopDeployment",
            ],
            "*",
        ),
        _statement(
            "FindGreenInstancesNoResourceLevelSupport",
            ["ec2:DescribeInstanceStatus", "ec2:DescribeInstances"],
            "*",
        ),
        # DescribeAlarms takes alarm ARNs (Service Authorization Reference, list_amazoncloudwatch). Read-only, so
        # without --alarm it covers every alarm of the account and region: ALARMS works without editing the
        # policy. A composite alarm is returned only to a role granted DescribeAlarms on "*" (CloudWatch API
        # reference, DescribeAlarms): widen Resource if ALARMS names one.
        _statement(
            "ReadHealthGateAlarms",
            "cloudwatch:DescribeAlarms",
            [scope.arn("cloudwatch", f"alarm:{name}") for name in scope.alarms]
            if scope.alarms
            else scope.arn("cloudwatch", "alarm:*"),
        ),
    ]
    if scope.bucket is not None:
        statements += [
            _statement(
                # GetObjectVersion: preflight reads the exact version a pinned revision names (S3_VERSION).
                "CheckRevisionBundleInS3",
                ["s3:GetObject", "s3:GetObjectVersion"],
                scope.arn("s3", f"{scope.bucket}/*", regional=False),
            ),
            _statement(
                "ListRevisionBucketSoMissingKeyIs404", "s3:ListBucket", scope.arn("s3", scope.bucket, regional=False)
            ),
        ]
    # The continuation tokens' signing key always; the Spot token's secret when it lives in Secrets Manager.
    secrets = [scope.token_key_arn] + ([scope.secret_arn] if scope.secret_arn is not None else [])
    statements.append(
        _statement("ReadTokenKeyAndSpotTokenFromSecretsManager", "secretsmanager:GetSecretValue", secrets)
    )
    if scope.parameter is not None:
        statements.append(
            _statement(
                "ReadSpotTokenFromParameterStore",
                "ssm:GetParameter",
                scope.arn("ssm", _parameter_resource(scope.parameter)),
            )
        )
    if scope.kms_key_arn is not None:
        # Only the token's key, and only when Secrets Manager or SSM decrypts with it for the function.
        decrypt = _statement("DecryptSpotTokenOnlyThroughSecretsManagerOrSsm", "kms:Decrypt", scope.kms_key_arn)
        operator = "StringLike" if "*" in scope.region else "StringEquals"
        services = [f"{service}.{scope.region}.amazonaws.com" for service in ("secretsmanager", "ssm")]
        decrypt["Condition"] = {operator: {"kms:ViaService": services}}
        statements.append(decrypt)
    log_group = f"log-group:/aws/lambda/{scope.function_name}"
    statements += [
        _statement("CreateFunctionLogGroup", "logs:CreateLogGroup", scope.arn("logs", log_group)),
        _statement(
            "WriteFunctionLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            scope.arn("logs", f"{log_group}:log-stream:*"),
        ),
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def render(policy: dict[str, Any]) -> str:
    """The policy as LambdaPolicyDefinition.json holds it: two-space JSON with a final newline."""
    return json.dumps(policy, indent=2) + "\n"


def _statement(sid: str, actions: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _parameter_resource(name: str) -> str:
    # SSM's ARN format: a name with a leading slash follows "parameter" directly, any other gets one.
    return "parameter" + (name if name.startswith("/") else "/" + name)


# ---- the command ------------------------------------------------------------------------------------


def scope_from_args(args: argparse.Namespace) -> PolicyScope:
    """The scope the command line names.

    Raises:
        ValueError: a value is not of its expected form (the message names the option).
    """
    problems = [
        f"{option}: required"
        for option, value in (("--app", args.app), ("--deployment-group", args.deployment_group))
        if not value
    ]

    def check(option: str, value: str | None, pattern: re.Pattern[str], expected: str) -> None:
        if value is not None and not pattern.fullmatch(value):
            problems.append(f"{option}: expected {expected}, got {value!r}")

    check("--app", args.app, _NAME, "a CodeDeploy application name")
    check("--deployment-group", args.deployment_group, _NAME, "a CodeDeploy deployment group name")
    if args.deployment_config != "*":
        check("--deployment-config", args.deployment_config, _NAME, "a CodeDeploy deployment config name")
    check("--region", args.region, _REGION, "an AWS region like us-east-1")
    check("--account", args.account, _ACCOUNT, "a 12-digit AWS account id")
    check("--bucket", args.bucket, _BUCKET, "an S3 bucket name")
    check("--parameter", args.parameter, _PARAMETER, "an SSM parameter name")
    check("--kms-key", args.kms_key, _KMS_KEY_ARN, "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")
    check("--function-name", args.function_name, _FUNCTION, "a Lambda function name")
    if args.pipeline != "*":
        check("--pipeline", args.pipeline, _PIPELINE, "a CodePipeline pipeline name")
    region = args.region or "REGION"
    account = args.account or "ACCOUNT_ID"

    def secret_arn(option: str, secret: str | None) -> str | None:
        if secret is None or _SECRET_ARN.fullmatch(secret):
            return secret
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", secret):
            problems.append(f"{option}: expected a Secrets Manager secret name or ARN, got {secret!r}")
        # A secret's ARN ends in '-' and six random characters that its name does not carry.
        return f"arn:{args.partition}:secretsmanager:{region}:{account}:secret:{secret}-??????"

    secret = secret_arn("--secret", args.secret)
    token_key = secret_arn("--token-key-secret", args.token_key_secret)
    alarms = tuple(dict.fromkeys(args.alarm or ()))
    for name in alarms:
        check("--alarm", name, _ALARM, "a CloudWatch alarm name (1-255 characters, no ':' or '*')")
    if args.kms_key is not None and args.secret is None and args.parameter is None:
        problems.append("--kms-key: only needed with --secret or --parameter (the key that encrypts it)")
    if problems:
        raise ValueError("; ".join(problems))
    return PolicyScope(
        application=args.app,
        deployment_group=args.deployment_group,
        region=region,
        account=account,
        partition=args.partition,
        deployment_config=args.deployment_config,
        bucket=args.bucket,
        secret_arn=secret,
        parameter=args.parameter,
        kms_key_arn=args.kms_key,
        function_name=args.function_name,
        alarms=alarms,
        token_key_secret_arn=token_key,
        pipeline=args.pipeline,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `bluegreen policy` (shared by the `bluegreen` command and `python -m bluegreen.policy`)."""
    parser.add_argument("--app", help="CodeDeploy application (APP_NAME); required")
    parser.add_argument("--deployment-group", help="CodeDeploy deployment group (DEPLOYMENT_GROUP); required")
    parser.add_argument(
        "--bucket",
        help="S3 bucket of fixed revision bundles (S3_BUCKET); omit for GitHub revisions and input artifacts "
        "(read with the pipeline's artifact credentials)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--secret", help="Secrets Manager secret (ARN, or name) holding the Spot token")
    source.add_argument("--parameter", help="SSM SecureString parameter name holding the Spot token")
    parser.add_argument("--kms-key", help="ARN of the customer managed KMS key encrypting the secret or parameter")
    parser.add_argument("--region", help="the function's region (default: a placeholder REGION to replace)")
    parser.add_argument(
        "--account", help="the function's AWS account id (default: a placeholder ACCOUNT_ID to replace)"
    )
    parser.add_argument("--partition", default="aws", choices=("aws", "aws-cn", "aws-us-gov"))
    parser.add_argument(
        "--deployment-config", default="*", help="the group's deployment config name (default: any, read only)"
    )
    parser.add_argument("--function-name", default="bluegreen", help="the Lambda function's name (its log group)")
    parser.add_argument(
        "--alarm",
        action="append",
        help="a CloudWatch alarm of ALARMS (repeat for each); default: read every alarm of the account",
    )
    parser.add_argument(
        "--token-key-secret",
        default=DEFAULT_TOKEN_KEY_SECRET,
        help=f"secret (name or ARN) of the continuation tokens' signing key (default {DEFAULT_TOKEN_KEY_SECRET})",
    )
    parser.add_argument(
        "--pipeline",
        default="*",
        help="the pipeline that invokes the function, whose runs reclaim reads (default: any pipeline)",
    )
    parser.add_argument(
        "--placeholders",
        action="store_true",
        help="print LambdaPolicyDefinition.json: every grant, with placeholders for the names",
    )


def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    """Print the policy for the command line's names; 2 with a message when a value is malformed."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.placeholders:
        out.write(render(build_policy(PolicyScope.placeholders())))
        return 0
    try:
        scope = scope_from_args(args)
    except ValueError as exc:
        err.write(f"bluegreen policy: {exc}\n")
        return 2
    out.write(render(build_policy(scope)))
    missing = [name for name, given in (("--region", args.region), ("--account", args.account)) if given is None]
    if missing:
        err.write(f"bluegreen policy: replace the placeholders of {' and '.join(missing)} before using it\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bluegreen policy", description="Print the least-privilege IAM policy of the function's role."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
