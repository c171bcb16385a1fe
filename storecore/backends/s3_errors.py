"""botocore errors as storecore errors: one translation for the S3 backend, the transfer engine and the cache."""

from __future__ import annotations

from ..errors import BackendUnavailable, InvalidArgument, NotFound, PermissionDenied, StorecoreError

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "ExpiredToken", "InvalidToken"}


def translate(exc: BaseException, uri: str) -> StorecoreError:
    """Map a botocore exception onto the storecore error that describes it."""
    from botocore import exceptions as bx

    if isinstance(exc, StorecoreError):
        return exc
    cause = exc.__cause__ or exc.__context__
    if _is_transfer_failure(exc) and cause is not None and cause is not exc:
        # boto3's managed transfers wrap the real error (S3UploadFailedError around a ClientError)
        return translate(cause, uri)
    if _is_transfer_failure(exc) and any(f"({code})" in str(exc) for code in _DENIED):
        return PermissionDenied(f"{uri}: access denied (check the credentials)", path=uri)
    if isinstance(exc, bx.ClientError) and isinstance(exc.response, dict):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        msg = err.get("Message") or code
        if code == "NoSuchBucket":
            return NotFound(f"{uri}: bucket does not exist", path=uri)
        if code in _NOT_FOUND or status == "404":
            return NotFound(f"{uri}: no such object", path=uri)
        if code in _DENIED or status == "403":
            return PermissionDenied(f"{uri}: access denied ({code or status}: check the credentials)", path=uri)
        if status.startswith("5") or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
            return BackendUnavailable(f"{uri}: service error {code or status}: {msg}", path=uri)
        return StorecoreError(f"{uri}: {code or status}: {msg}", path=uri)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return PermissionDenied(f"{uri}: no usable S3 credentials ({type(exc).__name__})", path=uri)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError):
        return BackendUnavailable(f"{uri}: cannot reach the S3 endpoint ({type(exc).__name__})", path=uri)
    if isinstance(exc, bx.ReadTimeoutError | bx.ResponseStreamingError):
        return BackendUnavailable(f"{uri}: connection to the S3 endpoint failed ({type(exc).__name__})", path=uri)
    if isinstance(exc, bx.HTTPClientError):  # response = None: the connection broke mid-request
        return BackendUnavailable(f"{uri}: the connection to the S3 endpoint was lost mid-request", path=uri)
    if isinstance(exc, bx.ParamValidationError):
        return InvalidArgument(f"{uri}: {exc}", path=uri)
    if isinstance(exc, bx.BotoCoreError):
        return BackendUnavailable(f"{uri}: {type(exc).__name__}", path=uri)
    if isinstance(exc, ConnectionError | TimeoutError):
        return BackendUnavailable(f"{uri}: {type(exc).__name__}: {exc}", path=uri)
    return StorecoreError(f"{uri}: {type(exc).__name__}: {exc}", path=uri)


def _is_transfer_failure(exc: BaseException) -> bool:
    """True for boto3's S3UploadFailedError / S3TransferFailedError (they wrap the error that happened)."""
    return type(exc).__name__ in ("S3UploadFailedError", "S3TransferFailedError", "S3DownloadFailedError")


__all__ = ["translate"]
