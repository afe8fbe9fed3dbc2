"""The errors Adrastea's domain code raises.

Every error carries a stable ``code`` and an HTTP ``status``; only
``adrastea.server.problems`` turns them into HTTP responses.  The tree::

    AdrasteaError                     500 internal
    ├── BadRequest                    400 bad-request
    │   ├── InvalidPath               400 invalid-path
    │   ├── InvalidNotebook           400 invalid-notebook
    │   ├── InvalidChoice             422 invalid-choice
    │   ├── ParameterError            400 invalid-parameter
    │   ├── WrongType                 400 wrong-type
    │   ├── BadEncoding               400 bad-encoding
    │   └── InvalidUpload             400 invalid-upload
    ├── NotAuthorized                 403 forbidden
    │   └── PermissionDenied          403 permission-denied
    ├── NotFound                      404 not-found
    │   ├── FileNotFound              404 file-not-found
    │   ├── CheckpointNotFound        404 checkpoint-not-found
    │   ├── KernelNotFound            404 kernel-not-found
    │   ├── KernelSpecNotFound        404 kernelspec-not-found
    │   ├── SessionNotFound           404 session-not-found
    │   └── EnvironmentNotFound       404 environment-not-found
    ├── Conflict                      409 conflict
    │   ├── FileExists                409 file-exists
    │   └── KernelNotRunning          409 kernel-not-running
    ├── KernelError                   500 kernel-error
    │   └── KernelStartFailed         503 kernel-start-failed
    ├── InsufficientStorage           507 insufficient-storage
    ├── SlurmError                    502 slurm-error
    └── ConfigError                   500 config-error (raised at start-up only)
"""

from __future__ import annotations

from typing import ClassVar


class AdrasteaError(Exception):
    """Base of every error Adrastea raises on purpose.

    ``detail`` is the message a user reads; ``log_detail`` (optional) is extra
    context for the server log only and is never sent to a client.
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, log_detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.log_detail = log_detail


class BadRequest(AdrasteaError):
    status, code, title = 400, "bad-request", "Bad request"


class InvalidPath(BadRequest):
    """A path that is malformed or escapes the served root."""

    code, title = "invalid-path", "Invalid path"


class InvalidNotebook(BadRequest):
    """A notebook that is not JSON or fails nbformat validation."""

    code, title = "invalid-notebook", "Invalid notebook"


class InvalidChoice(BadRequest):
    """A user choice (environment field, parameter) outside what is allowed."""

    status, code, title = 422, "invalid-choice", "Invalid choice"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


class NotAuthorized(AdrasteaError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AdrasteaError):
    status, code, title = 404, "not-found", "Not found"


class FileNotFound(NotFound):
    code, title = "file-not-found", "No such file or directory"


class CheckpointNotFound(NotFound):
    code, title = "checkpoint-not-found", "No such checkpoint"


class KernelNotFound(NotFound):
    code, title = "kernel-not-found", "No such kernel"


class KernelSpecNotFound(NotFound):
    code, title = "kernelspec-not-found", "No such kernel spec"


class SessionNotFound(NotFound):
    code, title = "session-not-found", "No such session"


class EnvironmentNotFound(NotFound):
    code, title = "environment-not-found", "No such environment"


class Conflict(AdrasteaError):
    status, code, title = 409, "conflict", "Conflict"


class FileExists(Conflict):
    code, title = "file-exists", "File exists"


class KernelError(AdrasteaError):
    code, title = "kernel-error", "Kernel error"


class KernelStartFailed(KernelError):
    status, code, title = 503, "kernel-start-failed", "Kernel failed to start"


class ConfigError(AdrasteaError):
    code, title = "config-error", "Configuration error"


class ParameterError(BadRequest):
    """A notebook parameter or sweep grid that cannot be used (bad name, bad file, bad value)."""

    code, title = "invalid-parameter", "Invalid parameter"


class WrongType(BadRequest):
    """A path that exists but is not the kind asked for (a folder where a file is wanted)."""

    code, title = "wrong-type", "Wrong type"


class BadEncoding(BadRequest):
    """File content that cannot be encoded or decoded as asked (not UTF-8, not base64)."""

    code, title = "bad-encoding", "Bad encoding"


class InvalidUpload(BadRequest):
    """A chunked upload whose chunks arrive out of order or without a start."""

    code, title = "invalid-upload", "Invalid upload"


class PermissionDenied(NotAuthorized):
    """The operating system refused the server access to a file."""

    code, title = "permission-denied", "Permission denied"


class InsufficientStorage(AdrasteaError):
    """The disk is full or the user's quota is exhausted; nothing was written."""

    status, code, title = 507, "insufficient-storage", "Insufficient storage"


class SlurmError(AdrasteaError):
    """A Slurm command failed, could not be run, or did not answer in time.

    Raised by ``adrastea.slurm`` only, translated from the CLI's failure.  Carries
    the ``command`` (argv), its ``returncode`` (None when it never ran or timed
    out) and ``stderr``; ``detail`` is Slurm's own message, for the user.
    """

    status, code, title = 502, "slurm-error", "Slurm error"

    def __init__(
        self,
        detail: str,
        *,
        command: tuple[str, ...] = (),
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        log = f"command {' '.join(command)!r} exited {returncode}: {stderr.strip()}"
        super().__init__(detail, log_detail=log)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


class KernelNotRunning(Conflict):
    """The kernel exists but has no live process (it died, or is being shut down)."""

    code, title = "kernel-not-running", "Kernel not running"
