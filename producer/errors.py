"""Exceptions of the producer.

    ProducerError                 base of every error this package raises
    ├── ConfigError               a setting is missing or invalid (exit code 2)
    ├── PollError                 a poll failed; nothing was published or stored
    │   ├── ApiError              the API could not be reached or kept failing
    │   ├── BadResponseError      the API answered, but not with usable results
    │   └── PublishError          the Kafka transaction could not be committed
    ├── DeadlineExceeded          a whole poll cycle ran past its deadline
    ├── StateError                the state topic could not be restored
    ├── TopicError                a topic is missing and may not be created
    └── FencedError               another producer took over the transactional id

Programmer mistakes stay ``TypeError``/``ValueError``; these classes are the
runtime failures an operator can act on, and their messages say what came
back and what to check. No message ever carries the API key.
"""

from __future__ import annotations


class ProducerError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ProducerError):
    """A setting is missing or invalid. The message names the setting."""


class PollError(ProducerError):
    """A poll failed. Nothing from it was published and the state is unchanged."""

    outcome = "api_error"


class ApiError(PollError):
    """The API could not be reached, or kept failing after the allowed retries."""

    outcome = "api_error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadResponseError(PollError):
    """The API answered, but with an error status, a non-JSON body or the wrong shape."""

    outcome = "bad_response"


class PublishError(PollError):
    """The poll's Kafka transaction failed and was aborted."""

    outcome = "publish_error"


class DeadlineExceeded(PollError):
    """A whole poll cycle ran past ``POLL_DEADLINE_SECONDS``."""

    outcome = "deadline"


class StateError(ProducerError):
    """The state topic could not be read to its end."""


class TopicError(ProducerError):
    """A topic is missing and ``CREATE_TOPICS`` is off, or it could not be created."""


class FencedError(ProducerError):
    """Another producer with the same ``TRANSACTIONAL_ID`` has taken over."""
