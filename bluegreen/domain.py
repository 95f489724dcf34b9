"""The deployment's own vocabulary, shared by the edges: what a revision is and the tags that mark a run's things.

Owns values that mean the same to the parser of UserParameters (params.py), the AWS gateway (aws.py), the Spot
client's callers and the flow. Imports nothing of the package: an edge imports this, never another edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

# The tag on every green instance (and the Spot deployment's tag) that names the run's green fleet; CodeDeploy finds
# the greens by it, and a deployment description carries it as `[GreenIdentifier=<value>]`.
GREEN_TAG_KEY: Final = "GreenIdentifier"
DELIVERY_TAG_KEY: Final = "BlueGreenDelivery"  # marks what one delivery of a job started (a Spot tag, a description)

BundleType = Literal["tar", "tgz", "zip", "YAML", "JSON"]

# What a Spot API token is, wherever it comes from (UserParameters, a secret, a parameter): it goes into an HTTP
# header, and a value requests rejects there would be quoted in requests' own exception text.
SPOT_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]{8,4096}")  # printable ASCII, no spaces


class InvalidSpotTokenError(ValueError):
    """A value that is no Spot token. Its message never shows the value: it may be a real token with a typo."""


class SpotToken:
    """The Spot API token, checked once, when it is made (`SPOT_TOKEN_RE`): every SpotToken is a usable one, so
    nothing that receives one checks it again. Its repr and str never show the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Raises: InvalidSpotTokenError when `value` does not match `SPOT_TOKEN_RE` (the value is not shown)."""
        if not SPOT_TOKEN_RE.fullmatch(value):
            raise InvalidSpotTokenError(
                f"expected 8 to 4096 printable ASCII characters without spaces, got {len(value)} characters "
                "(value not shown)"
            )
        self._value = value

    def reveal(self) -> str:
        """The raw token, for the Authorization header and the log scrubber only."""
        return self._value

    def __repr__(self) -> str:
        return "SpotToken('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpotToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class S3Revision:
    """A bundle in S3: named in UserParameters, or the action's input artifact (then `artifact` is its name)."""

    bucket: str
    key: str
    bundle_type: BundleType
    version: str | None = None  # S3_VERSION: CodeDeploy deploys exactly this object version
    etag: str | None = None  # S3_ETAG, without quotes: CodeDeploy checks the object against it
    artifact: str | None = None  # the input artifact's name, when the revision is one
    source_revision: str | None = None  # that artifact's revision (e.g. the commit the build came from)

    def location(self) -> str:
        """`s3://bucket/key`, with `?versionId=` when pinned: what was deployed, for the output variables."""
        where = f"s3://{self.bucket}/{self.key}"
        return f"{where}?versionId={self.version}" if self.version else where

    def describe(self) -> str:
        text = f"{self.location()} ({self.bundle_type})"
        if self.artifact:
            text = f"input artifact {self.artifact} {text}"
            if self.source_revision:
                text += f", source revision {self.source_revision}"
        return text


@dataclass(frozen=True)
class GitHubRevision:
    repository: str
    commit_id: str

    def location(self) -> str:
        """`owner/repo@commit`: what was deployed, for the output variables."""
        return f"{self.repository}@{self.commit_id}"

    def describe(self) -> str:
        return f"github.com/{self.repository}@{self.commit_id[:12]}"


Revision = S3Revision | GitHubRevision
