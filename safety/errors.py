"""One error family for the whole layer, mapped once to CLI exit codes and once to HTTP status.

Every failure that a user can cause (bad media, a missing key, an invalid policy pack) is a
`SealFrameError` whose message is one line; the CLI prints it and exits with `exit_code`, the API
answers `{"detail": message}` with `http_status`. Anything else is a bug.
"""

from __future__ import annotations


class SealFrameError(Exception):
    """Base of all expected failures. The message is one human-readable line."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line reason would break the CLI's contract.
        super().__init__(" ".join(str(message).split()))

    @property
    def reason(self) -> str:
        return str(self)


class BadInputError(SealFrameError):
    """Input the user gave cannot be used (exit 4, HTTP 422)."""

    exit_code = 4
    http_status = 422


class MediaError(BadInputError):
    """A video could not be read or written, or breaks the media limits."""


class MediaTooLargeError(MediaError):
    """A video exceeds a size limit (HTTP 413)."""

    http_status = 413


class PolicyError(BadInputError):
    """A policy pack is missing, malformed or names something unknown."""


class KeyMaterialError(BadInputError):
    """A key or certificate is missing, unreadable or protected by another passphrase."""


class ProvenanceError(SealFrameError):
    """Signing or reading C2PA credentials failed."""

    exit_code = 4
    http_status = 422


class WatermarkError(SealFrameError):
    """Embedding or extracting the watermark failed."""

    exit_code = 4
    http_status = 422


class ModelError(SealFrameError):
    """A model or its weights could not be loaded or run."""

    exit_code = 1
    http_status = 500


class _DecisionOutcome(SealFrameError):
    """A moderation outcome that stops the request; carries the decision and the job it created."""

    def __init__(self, message: str, decision: dict[str, object] | None = None, job_id: str | None = None) -> None:
        super().__init__(message)
        self.decision = decision or {}
        self.job_id = job_id


class BlockedByPolicy(_DecisionOutcome):
    """The moderation decision blocked the request (exit 3, HTTP 403)."""

    exit_code = 3
    http_status = 403


class HeldForReview(_DecisionOutcome):
    """The request was held in the review queue (exit 5, HTTP 202 with status "held")."""

    exit_code = 5
    http_status = 202


class AuditChainBroken(SealFrameError):
    """The audit chain failed verification (exit 6)."""

    exit_code = 6
    http_status = 409
