"""Named errors raised by the library; the edges turn them into user wording."""

from __future__ import annotations

REBUILD_HINT = "rebuild it with: hingecoach ingest"


class HingeCoachError(Exception):
    """Base class: the message is a complete one-line sentence for a user."""


class IndexMissingError(HingeCoachError):
    """No index at the given directory."""


class IndexMismatchError(HingeCoachError):
    """The index was built with another model, dimension or format."""


class IndexCorruptError(HingeCoachError):
    """The index files are unreadable, truncated or inconsistent."""


class CorpusError(HingeCoachError):
    """The corpus cannot be ingested (missing folder, nothing usable)."""


class BadQuestionError(HingeCoachError):
    """The question cannot be answered as given (empty, too long, ...)."""


class LLMError(HingeCoachError):
    """The language-model endpoint failed, timed out or sent an unusable reply."""


class FeedbackStoreError(HingeCoachError):
    """The question log cannot be opened, or a rating is not 'up' or 'down'."""


class BadCueError(HingeCoachError):
    """The cue cannot be checked as given (empty, too long, no words to look for)."""


class QuestionSetError(HingeCoachError):
    """A labelled question set for evaluation is missing or malformed."""
