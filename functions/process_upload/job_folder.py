"""The job folder uploads/{job_id}/ as the flow sees it: which key belongs to which job, which
object plays which role, what identifies a set of versions (fingerprint, input_seq), the user's
own name of each data file (its metadata), and the problems a listing alone reveals (an unknown
or second file, a file over the size limit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import job_rules
from job_errors import FinalError
from job_ports import Deps, ObjectInfo
from memberseg.job_protocol import (
    ANSWERS_MAX_BYTES,
    ANSWERS_NAME,
    AS_OF_METADATA,
    DATA_EXTENSIONS,
    ORIGINAL_NAME_METADATA,
    ROLES,
    UPLOAD_TOKEN_ATTRIBUTE,
    UPLOAD_TOKEN_METADATA,
    ErrorCode,
    decode_original_name,
    file_role,
    parse_as_of,
)


def split_key(key: str, upload_prefix: str = "uploads/") -> tuple[str, str] | None:
    """`uploads/{job_id}/{name}` -> (job_id, name); None for keys outside any job folder."""
    if not key.startswith(upload_prefix):
        return None
    rest = key[len(upload_prefix):]
    job_id, sep, name = rest.partition("/")
    if not sep or not job_id.strip():
        return None
    return job_id, name


classify = file_role     # the contract's rule (the API uses the same one)


def fingerprint_of(objects: list[ObjectInfo]) -> str:
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.identity}\n".encode())
    return digest.hexdigest()[:32]


def input_seq_of(objects: list[ObjectInfo]) -> int:
    """Runs are ordered by their inputs: the newest LastModified (ms) of the set's objects."""
    return max(obj.modified_ms for obj in objects)


def listing(deps: Deps, bucket: str, prefix: str) -> list[ObjectInfo]:
    """The folder's latest versions (folder placeholder keys left out)."""
    return [o for o in deps.objects.list_latest(bucket, prefix) if not o.key.endswith("/")]


def with_original_names(deps: Deps, bucket: str, files: dict[str, ObjectInfo]) -> dict[str, ObjectInfo]:
    """The data files with the user's own names, the as-of date they chose and their upload token, from each
    listed version's metadata (the page's upload sets them; a file dropped straight into the bucket has none
    and keeps its key's name)."""
    def named(obj: ObjectInfo) -> ObjectInfo:
        metadata = deps.objects.metadata(bucket, obj.key, obj.version_id)
        return replace(obj, original_name=decode_original_name(metadata.get(ORIGINAL_NAME_METADATA)),
                       as_of=metadata.get(AS_OF_METADATA) or "",
                       upload_token=metadata.get(UPLOAD_TOKEN_METADATA) or "")

    return {role: named(obj) if role in ROLES else obj for role, obj in files.items()}


def half_of_an_upload(files: dict[str, ObjectInfo]) -> bool:
    """The data files came with two different API requests (two upload tokens): the newer request's other file
    is still landing (job_protocol, "upload tokens"). A plain drop (no token) pairs with anything."""
    tokens = {files[role].upload_token for role in ROLES if role in files}
    return len(tokens) > 1 and "" not in tokens


def chosen_as_of(files: dict[str, ObjectInfo], today: dt.date) -> dt.date | None:
    """The as-of date chosen with these file versions: the memberships file's, else the orders file's
    (job_protocol, "the as-of date the page chose"); None when neither carries one. A value the API would
    refuse (someone else's upload) is a FinalError naming the file."""
    for role in ROLES:
        obj = files.get(role)
        if obj is not None and obj.as_of:
            try:
                return parse_as_of(obj.as_of, today)
            except ValueError as exc:
                raise FinalError(ErrorCode.INVALID_AS_OF, f"The {role} file {obj.name} was uploaded with an as-of "
                                 f"date memberseg cannot use: {exc}. Upload it again with another date.",
                                 file=obj.name) from exc
    return None


def guarded_upload_token(status: dict) -> str | None:
    """The job's current upload token (the API keeps it on the status item) once a run of the job has begun:
    from then on the data files that come through its upload forms are checked (replayed_upload). None before
    the first run (the forms may be used again: the page retrying an upload), and for a job the API never gave
    forms (files dropped straight into the bucket)."""
    token = status.get(UPLOAD_TOKEN_ATTRIBUTE)
    return str(token) if token and status.get("input_seq") is not None else None


def replayed_upload(deps: Deps, bucket: str, files: dict[str, dict], bound: dict[str, dict],
                    current_token: str | None) -> str | None:
    """The key of a data file in `files` (role -> file entry) that came through a spent upload form: a version
    that is not the one `bound` (the begun run's entries) holds for its role, carrying a token that is not the
    job's `current_token` (an older request's form) or the current one, which the held version of its role
    carries already (the form was used). A version without a token is never a replay. Reads the metadata of
    changed versions only, and the held version's when a changed one carries the current token; None without
    a current token (no read at all)."""
    if not current_token:
        return None
    for role in ROLES:
        entry, held = files.get(role), bound.get(role) or {}
        if entry is None or (entry["key"], entry["version_id"]) == (held.get("key"), held.get("version_id")):
            continue
        token = _upload_token(deps, bucket, entry)
        if token and (token != current_token or (held and _upload_token(deps, bucket, held) == token)):
            return str(entry["key"])
    return None


def _upload_token(deps: Deps, bucket: str, entry: dict) -> str:
    """The upload token a file version (a file entry) carries; "" for none, or for a version gone since."""
    return deps.objects.metadata(bucket, entry["key"], entry["version_id"] or None).get(UPLOAD_TOKEN_METADATA) or ""


def file_entry(obj: ObjectInfo) -> dict:
    """One input as the job table records it (the status item's and the run item's `files`)."""
    return {"key": obj.key, "version_id": obj.version_id or "", "size": obj.size}


def file_entries(files: dict[str, ObjectInfo]) -> dict[str, dict]:
    return {role: file_entry(obj) for role, obj in files.items()}


def inspect_folder(objects: list[ObjectInfo],
                   prefix: str) -> tuple[dict[str, ObjectInfo], list[str], FinalError | None]:
    """Map roles to objects; report the first folder problem (unknown or ambiguous file)."""
    by_role: dict[str, list[ObjectInfo]] = {}
    unknown: list[str] = []
    for obj in objects:
        name = obj.key[len(prefix):]
        role = classify(name)
        if role is None:
            unknown.append(name)
        else:
            by_role.setdefault(role, []).append(obj)
    files = {role: objs[0] for role, objs in by_role.items()}
    missing = [role for role in ROLES if role not in by_role]
    if unknown:
        name = sorted(unknown)[0]
        others = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        return files, missing, FinalError(
            ErrorCode.UNRECOGNISED_FILE,
            f"'{name}'{others} is not part of the job protocol: a job folder holds one file whose name "
            f"starts with 'memberships' and one starting with 'orders' ({', '.join(DATA_EXTENSIONS)}), "
            "plus an optional rules.yaml or rules.toml (and the page's answers.json). Remove it and upload the job "
            "again.",
            file=name)
    for role, objs in sorted(by_role.items()):
        if len(objs) > 1:
            names = sorted(o.key[len(prefix):] for o in objs)
            return files, missing, FinalError(
                ErrorCode.AMBIGUOUS_FILE,
                f"The job folder holds more than one {role} file ({', '.join(names)}); keep exactly one and "
                "upload again.", file=names[0])
    return files, missing, None


def size_problem(files: dict[str, ObjectInfo], max_file_bytes: int) -> FinalError | None:
    """Refuse from the listing, before any download: a rules file over 64 KB, a data file over the limit
    (named as with_original_names named it)."""
    answers = files.get("answers")
    if answers is not None and answers.size > ANSWERS_MAX_BYTES:
        return FinalError("invalid_answers", f"The job's {ANSWERS_NAME} is {answers.size:,} bytes; at most "
                          f"{ANSWERS_MAX_BYTES // 1024} KB of answers are read.", file=ANSWERS_NAME)
    rules = files.get("rules")
    if rules is not None and rules.size > job_rules.RULES_MAX_BYTES:
        err = job_rules.rules_too_large(rules.key.rsplit("/", 1)[-1], rules.size)
        return FinalError(err.code, err.message, err.file)
    for role in ROLES:
        obj = files.get(role)
        if obj is not None and obj.size > max_file_bytes:
            name = obj.name
            return FinalError(ErrorCode.FILE_TOO_LARGE,
                              f"The {role} file {name} is {obj.size / 1e6:,.1f} MB; the limit is "
                              f"{max_file_bytes / 1e6:,.0f} MB. Export fewer rows or columns and upload again.",
                              file=name)
    return None
