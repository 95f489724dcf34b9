"""Where the Spot API token comes from: UserParameters, a Secrets Manager secret or an SSM SecureString.

Owns reading the secret (through Powertools' cached parameters utility) and turning a missing, empty or
unreadable secret into an error that names the source without ever showing a value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bluegreen.aws import wrap_aws_error
from bluegreen.domain import InvalidSpotTokenError, SpotToken
from bluegreen.errors import (
    AccessDeniedError,
    AwsApiError,
    BlueGreenError,
    ConfigurationError,
    ServiceUnavailableError,
)
from bluegreen.params import PlainToken, SecretToken, TokenSource
from bluegreen.state import TokenKey

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300
KEY_CACHE_SECONDS = 86400  # the signing key: one read per container (a cold start), not one per invocation


class TokenResolver:
    """Resolves a `TokenSource` to the token itself, caching secret reads for CACHE_SECONDS."""

    def __init__(self, *, secrets: Callable[[], SecretsProvider], ssm: Callable[[], SSMProvider]) -> None:
        # Factories: a run with a plain token never loads the parameters utility or builds these clients.
        self._secrets = secrets
        self._ssm = ssm
        self._warned_plain_token = False

    def resolve(self, source: TokenSource) -> SpotToken:
        """The token the source holds.

        Raises:
            ConfigurationError: the secret or parameter does not exist, is empty or has no usable token.
            AccessDeniedError: the function's role may not read it.
            ServiceUnavailableError: Secrets Manager or SSM could not be reached.
        """
        if isinstance(source, PlainToken):
            if not self._warned_plain_token:  # once per container: the resolver lives as long as the handler
                self._warned_plain_token = True
                logger.warning(
                    "The Spot token is given as API_TOKEN in UserParameters, readable by everyone who can read the "
                    "pipeline; store it in Secrets Manager and pass API_TOKEN_SECRET instead"
                )
            return source.token
        if isinstance(source, SecretToken):
            secrets, secret_id = self._secrets(), source.secret_id
            raw = self._fetch(
                lambda: secrets.get(secret_id, max_age=CACHE_SECONDS),
                "secretsmanager:GetSecretValue",
                "API_TOKEN_SECRET",
                secret_id,
            )
            return _spot_token(_token_from_secret(raw, source.secret_id), f"API_TOKEN_SECRET: secret {secret_id!r}")
        ssm, name = self._ssm(), source.name
        value = self._fetch(
            lambda: ssm.get(name, max_age=CACHE_SECONDS, decrypt=True), "ssm:GetParameter", "API_TOKEN_PARAMETER", name
        )
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise ConfigurationError(f"API_TOKEN_PARAMETER: parameter {source.name!r} is empty")
        return _spot_token(text, f"API_TOKEN_PARAMETER: parameter {name!r}")

    def signing_key(self, secret_id: str) -> TokenKey:
        """The key continuation tokens are signed with, from the function's own secret.

        Raises:
            ConfigurationError: the secret does not exist, is empty or too short to be a key.
            AccessDeniedError: the function's role may not read it.
            ServiceUnavailableError: Secrets Manager could not be reached.
        """
        secrets = self._secrets()
        raw = self._fetch(
            lambda: secrets.get(secret_id, max_age=KEY_CACHE_SECONDS),
            "secretsmanager:GetSecretValue",
            "BLUEGREEN_TOKEN_KEY_SECRET",
            secret_id,
        )
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigurationError(f"BLUEGREEN_TOKEN_KEY_SECRET: secret {secret_id!r} is empty")
        return TokenKey(raw)

    @staticmethod
    def _fetch(read: Callable[[], object], operation: str, key: str, name: str) -> object:
        try:
            return read()
        except Exception as exc:
            raise _wrap(exc, operation, key, name) from exc


def _spot_token(text: str, where: str) -> SpotToken:
    """The token a secret or parameter holds, checked where it enters (as UserParameters' API_TOKEN is by the parser).

    Raises:
        ConfigurationError: it is no Spot token (its value is never shown).
    """
    try:
        return SpotToken(text)
    except InvalidSpotTokenError as exc:
        raise ConfigurationError(f"{where} holds no usable Spot token: {exc}") from None


def _token_from_secret(raw: object, secret_id: str) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = raw.strip() if isinstance(raw, str) else ""
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigurationError(
                f"API_TOKEN_SECRET: secret {secret_id!r} looks like JSON but does not parse"
            ) from None
        token = document.get("token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError(f'API_TOKEN_SECRET: secret {secret_id!r} is JSON without a non-empty "token" key')
        return token.strip()
    if not text:
        raise ConfigurationError(f"API_TOKEN_SECRET: secret {secret_id!r} is empty")
    return text


def _wrap(exc: Exception, operation: str, key: str, name: str) -> BlueGreenError:
    # Powertools re-raises botocore's error as GetParameterError without `from`: the cause is the context.
    cause = exc.__cause__ or exc.__context__ or exc
    where = f"{key}: {name!r}"
    if cause is exc or not isinstance(cause, Exception):  # not an AWS error (e.g. a Powertools transform)
        return ServiceUnavailableError(f"{where} cannot be read: {type(cause).__name__}")

    read: list[BlueGreenError] = []  # what the codes below were read as: already in this source's words

    def missing(code: str) -> BlueGreenError:
        read.append(ConfigurationError(f"{where} does not exist (in this function's region)"))
        return read[-1]

    def undecryptable(code: str) -> BlueGreenError:
        read.append(AccessDeniedError(f"{where} cannot be decrypted ({code}); grant kms:Decrypt on its key"))
        return read[-1]

    wrapped = wrap_aws_error(
        operation,
        cause,
        codes={
            **dict.fromkeys(("ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"), missing),
            **dict.fromkeys(("DecryptionFailure", "InvalidKeyId", "KMSAccessDeniedException"), undecryptable),
        },
    )
    if wrapped in read:
        return wrapped
    if isinstance(wrapped, AccessDeniedError):
        return AccessDeniedError(
            f"{where} cannot be read: access denied; grant the function's role secretsmanager:GetSecretValue "
            "/ ssm:GetParameter on it (and kms:Decrypt for a customer-managed key)"
        )
    if isinstance(wrapped, AwsApiError):  # a client-side error about this secret or parameter
        return ConfigurationError(f"{where} cannot be read: {wrapped.code}: {wrapped.aws_message}")
    if isinstance(wrapped, ConfigurationError):  # no credentials or region, or a request botocore refused
        return ConfigurationError(f"{where} cannot be read: {wrapped}")
    return ServiceUnavailableError(f"{where} cannot be read: {wrapped}")
