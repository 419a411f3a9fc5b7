"""Uploads waiting for their column mapping (the portal's import wizard).

The wizard reads a file in one request (preview, mapping) and starts the import in a later one,
so the upload is kept in between: in the same private storage as import files, under the
tenant's own folder, named by a random token. Only the token and the original name travel
(in the user's session); a token is only ever looked up in the current tenant's folder, so a
token from another workspace finds nothing. `import_job_create` copies the file into the job,
after which the pending copy is discarded. Uploads whose wizard was abandoned are deleted by
the hourly sweep (`import_uploads_sweep`) once older than PENDING_UPLOAD_MAX_AGE.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from apps.contacts.services.import_files import ImportFileError
from apps.contacts.services.importing import ALLOWED_EXTENSIONS
from apps.core.exceptions import NotFound

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[0-9a-f]{32}")
# Where every workspace keeps its uploads (one folder per schema, each with a `pending` folder).
UPLOADS_ROOT = "imports"
PENDING_FOLDER = "pending"
# A wizard left longer than this is abandoned: nobody maps columns for a day and then goes on.
PENDING_UPLOAD_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class PendingUpload:
    token: str
    name: str  # as uploaded, for display and for the job's original_name


def _extension(name: str) -> str:
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ImportFileError(f"Upload a {', '.join(ALLOWED_EXTENSIONS)} file.", code="import_file_type")
    return extension


def _path(token: str, name: str) -> str:
    if not _TOKEN.fullmatch(token):
        raise NotFound("This upload is no longer available.", code="upload_not_found")
    return f"{UPLOADS_ROOT}/{connection.schema_name}/{PENDING_FOLDER}/{token}{_extension(name)}"


def import_upload_stash(*, stream: IO[bytes], name: str) -> PendingUpload:
    """Keeps an upload until the import is started (or the upload is replaced)."""
    name = os.path.basename(name)[:255]
    _extension(name)
    token = uuid.uuid4().hex
    default_storage.save(_path(token, name), File(stream))
    logger.info("contact_import.upload_stashed", extra={"token": token[:8]})
    return PendingUpload(token=token, name=name)


def import_upload_open(*, upload: PendingUpload) -> File:
    """The stashed file, open for binary reading (the caller closes it)."""
    path = _path(upload.token, upload.name)
    if not default_storage.exists(path):
        raise NotFound("This upload is no longer available. Upload the file again.", code="upload_not_found")
    return default_storage.open(path, "rb")


def import_upload_discard(*, upload: PendingUpload) -> None:
    try:
        path = _path(upload.token, upload.name)
    except (ImportFileError, NotFound):
        return  # never stashed under such a name: nothing to remove
    default_storage.delete(path)


def _listdir(path: str) -> tuple[list[str], list[str]]:
    try:
        return default_storage.listdir(path)
    except FileNotFoundError:
        return [], []


def import_uploads_sweep(*, max_age: timedelta = PENDING_UPLOAD_MAX_AGE) -> int:
    """Deletes pending uploads older than `max_age` in every workspace's folder (by the file's
    modification time: the stash writes it once), including folders of workspaces that are
    gone. Runs from the public schema; returns how many files were deleted."""
    cutoff = timezone.now() - max_age
    deleted = 0
    schemas, _files = _listdir(UPLOADS_ROOT)
    for schema in schemas:
        folder = f"{UPLOADS_ROOT}/{schema}/{PENDING_FOLDER}"
        _dirs, names = _listdir(folder)
        for name in names:
            path = f"{folder}/{name}"
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                deleted += 1
    if deleted:
        logger.info("contact_import.uploads_swept", extra={"deleted": deleted})
    return deleted
