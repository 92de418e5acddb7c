"""One exception family for every failure a user can fix.

Stages and the CLI catch `MusicGenreError` and print its message as one line, so a message must
name the file or parameter at fault and say what is wrong with it.
"""


class MusicGenreError(Exception):
    """A failure caused by input, parameters or the environment, not by a bug."""


class ConfigError(MusicGenreError):
    """A value in params.yaml is missing, unknown, of the wrong type or out of range."""


class DownloadError(MusicGenreError):
    """A file could not be fetched or failed verification."""


class ChecksumError(DownloadError):
    """A downloaded file's hash differs from the expected one."""


class NetworkUnreachableError(DownloadError):
    """No mirror could be reached at all."""


class ArchiveError(MusicGenreError):
    """An archive is unreadable or holds a member that would escape the target directory."""


class AudioError(MusicGenreError):
    """An audio file cannot be decoded, is empty, or is too short."""


class ValidationFailed(MusicGenreError):
    """The dataset did not pass validation under the `fail` policy."""
