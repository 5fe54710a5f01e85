"""The organisation's own profiles, `profiles/*.yaml` (and .yml) in the input bucket, as one job
reads them: listed within caps, each refused from its listed size above the rules-file bound (and
checked again once downloaded: it may have been replaced in between), downloaded into the job's work
folder. job_rules.prepare then validates them with the job's rules file in its bounded worker.

Every job reads every profile there, so a layout confirmed once is recognised in every later upload.
An upload under profiles/ never starts a job: the trigger rule matches uploads/ only, and
job_folder.split_key ignores any other key. The caps (memberseg.job_protocol.MAX_PROFILE_FILES, the
rules-file bound memberseg.rules.bounded.RULES_MAX_BYTES) keep what every job downloads and parses small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from job_errors import FinalError
from job_ports import Deps, ObjectInfo
from job_rules import FIX_PROFILE
from memberseg.job_protocol import (
    MAX_PROFILE_FILES,
    PROFILES_PREFIX,
    ErrorCode,
    profile_file_name,
)
from memberseg.rules.bounded import RULES_MAX_BYTES

LISTING_LIMIT = 1000        # one ListObjectsV2 page: a profiles/ folder holding more objects is refused


@dataclass(frozen=True)
class LocalProfile:
    key: str        # profiles/acme.yaml: what messages say, and the profile's origin
    path: Path      # its downloaded copy


def _too_many(count: int) -> FinalError:
    return FinalError("invalid_rules", f"The input bucket's {PROFILES_PREFIX} folder holds {count:,} profile files; "
                      f"a job reads at most {MAX_PROFILE_FILES}. Remove the profiles no export needs any more "
                      "(every job reads them all), then upload the job's files again.", file=PROFILES_PREFIX)


def _too_large(key: str, size: int) -> FinalError:
    return FinalError(ErrorCode.RULES_TOO_LARGE, f"The profile file {key} is {size:,} bytes; a profile file may be "
                      f"at most {RULES_MAX_BYTES // 1024} KB. " + FIX_PROFILE.format(key=key), file=key)


def _same_profile_twice(profiles: Sequence[ObjectInfo]) -> FinalError | None:
    seen: dict[str, str] = {}
    for obj in profiles:
        name = PurePosixPath(obj.key).stem
        if name in seen:
            return FinalError("invalid_rules", f"The profile files {seen[name]} and {obj.key} both define the "
                              f"profile '{name}'; keep one of them, then upload the job's files again.", file=obj.key)
        seen[name] = obj.key
    return None


def listed_profiles(deps: Deps, bucket: str) -> list[ObjectInfo]:
    """The profile files under profiles/, in key order (the order they merge in); FinalError past a cap.
    Other objects there (a folder placeholder, a README, a sub-folder) are not profiles and are left alone."""
    listed = deps.objects.list_objects(bucket, PROFILES_PREFIX, LISTING_LIMIT)
    profiles = sorted((obj for obj in listed if profile_file_name(obj.key) is not None), key=lambda obj: obj.key)
    if len(listed) >= LISTING_LIMIT or len(profiles) > MAX_PROFILE_FILES:
        raise _too_many(len(profiles) if len(listed) < LISTING_LIMIT else len(listed))
    for obj in profiles:
        if obj.size > RULES_MAX_BYTES:
            raise _too_large(obj.key, obj.size)
    twice = _same_profile_twice(profiles)
    if twice is not None:
        raise twice
    skipped = [obj.key for obj in listed if profile_file_name(obj.key) is None and not obj.key.endswith("/")]
    if skipped:
        deps.logger.info("objects under profiles/ that are not profile files were left alone",
                         extra={"keys": skipped[:10]})
    return profiles


def fetch_profiles(deps: Deps, bucket: str, dest: Path) -> list[LocalProfile]:
    """Download the listed profile files into `dest` (their latest versions)."""
    profiles = listed_profiles(deps, bucket)
    if not profiles:
        return []
    dest.mkdir(parents=True)
    local = []
    for obj in profiles:
        path = dest / obj.key[len(PROFILES_PREFIX):]
        deps.objects.download(bucket, obj.key, None, path)
        size = path.stat().st_size
        if size > RULES_MAX_BYTES:           # replaced by a larger file since the listing
            raise _too_large(obj.key, size)
        local.append(LocalProfile(obj.key, path))
    deps.logger.info("organisation profiles read", extra={"profiles": [p.key for p in local]})
    return local
