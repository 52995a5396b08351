"""Where the weights come from: a Hub repo, a local folder, or the copy bundled in ``assets/model``; and pushing.

A model folder (:mod:`vae.checkpoint`) holds ``config.json`` and ``model.safetensors``. Weights are
only ever read with safetensors, never unpickled.

Source order: the ``source`` argument, else ``$MELODY_KNOBS_MODEL`` (a Hub repo id or a folder,
with ``$MELODY_KNOBS_REVISION`` to pin a Hub commit), else the bundled folder. When the requested
source fails (Hub unreachable or slow, repo or file missing, corrupt file, config that does not fit
the weights), :func:`load_model` loads the bundled folder instead and says why in
``model.source_info.fallback_reason`` and in the log.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client: its transport errors are how "unreachable" shows up
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, build_model, load_folder
from vae.model import MusicVAE
from vae.resources import asset

logger = logging.getLogger(__name__)

BUNDLED_DIR = asset("model")  # the default (regularised) model, in the checkout's assets/ or the installed wheel
PAPER_DIR = asset("model-paper")  # the paper-recipe model (no attribute regularisation)
ENV_MODEL = "MELODY_KNOBS_MODEL"  # Hub repo id ("user/repo") or a local folder
ENV_REVISION = "MELODY_KNOBS_REVISION"  # branch, tag or commit sha of the Hub repo
DEFAULT_TIMEOUT = 5.0  # s to wait for the Hub to answer a request before falling back
DEFAULT_DOWNLOAD_TIMEOUT = 60.0  # s for both files to arrive (the shipped weights are <= 20 MB)
DEFAULT_COMMIT_MESSAGE = "Upload Melody Knobs model"
_REPO_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


@dataclass(frozen=True)
class SourceInfo:
    """Where a loaded model came from; attached to the model as ``model.source_info``."""

    requested: str | None  # what was asked for (argument or $MELODY_KNOBS_MODEL); None: the default
    source: str  # where the weights were read: "hub", "local" or "bundled"
    path: str  # folder (or Hub cache snapshot) the files were read from
    repo_id: str | None = None  # Hub repo id, when source == "hub"
    revision: str | None = None  # commit sha the Hub resolved, when source == "hub"
    requested_revision: str | None = None  # branch, tag or sha that was asked for
    from_cache: bool = False  # Hub files served from the local cache because the Hub could not be reached
    fallback_reason: str | None = None  # why the requested source was not used; None when it was

    def describe(self) -> str:
        """One sentence for a status line, e.g. 'Weights from the Hub: user/repo @ 1a2b3c4'."""
        if self.source == "hub":
            where = f"the Hub: {self.repo_id} @ {(self.revision or '?')[:7]}"
            text = f"Weights from {where}" + (" (local cache; the Hub could not be reached)" if self.from_cache else "")
        elif self.source == "local":
            text = f"Weights from the folder {self.path}"
        else:
            text = "Weights bundled with the app"
        if self.fallback_reason:
            text += f". {self.requested} could not be used: {self.fallback_reason}"
        return text


# ----------------------------------------------------------------------------- model folders


def _load_bundled(bundled: Path, requested: str | None, reason: str | None) -> MusicVAE:
    if not (bundled / CONFIG_FILE).is_file() or not (bundled / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"there are no bundled weights in {bundled} ({CONFIG_FILE} and {WEIGHTS_FILE} are needed): reinstall "
            f"melody-knobs from its wheel (it carries them), or pass --model / set ${ENV_MODEL} to a Hub repo id or a "
            f"model folder (a clone of the project trains one with training/train.py)")
    model = load_folder(bundled)
    model.source_info = SourceInfo(requested=requested, source="bundled", path=str(bundled), fallback_reason=reason)
    return model


# ----------------------------------------------------------------------------- the Hub


def hub_endpoint() -> str:
    """The Hub URL: ``$HF_ENDPOINT`` read now (huggingface_hub reads it only once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _hub_cache(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path(constants.HF_HUB_CACHE)


@dataclass(frozen=True)
class HubAccess:
    """How to reach the Hub: where, as whom, where to cache, and how long to wait."""

    endpoint: str | None = None  # Hub URL; default $HF_ENDPOINT, read when used (see hub_endpoint)
    token: str | bool | None = None  # default: the saved login or $HF_TOKEN
    cache_dir: str | Path | None = None  # default $HF_HUB_CACHE, else $HF_HOME/hub, else huggingface_hub's
    timeout: float = DEFAULT_TIMEOUT  # s to wait for each answer of the Hub
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT  # s for both files of a model to arrive

    def resolved(self) -> HubAccess:
        """This access with its endpoint and cache folder filled in from the environment now."""
        return HubAccess(self.endpoint or hub_endpoint(), self.token, _hub_cache(self.cache_dir), self.timeout,
                         self.download_timeout)


class _Unreachable(OSError):
    """The Hub did not answer (refused, unresolvable, timed out, offline mode)."""


def _explain(err: Exception, repo_id: str, revision: str | None, endpoint: str, timeout: float) -> OSError:
    """A Hub error as an OSError whose message a person can act on."""
    if isinstance(err, httpx2.TimeoutException):
        return _Unreachable(f"the Hub at {endpoint} did not answer within {timeout:g} s")
    if isinstance(err, (httpx2.TransportError, OfflineModeIsEnabled)):
        return _Unreachable(f"the Hub at {endpoint} could not be reached ({type(err).__name__}: {err})")
    if isinstance(err, GatedRepoError):
        return OSError(f"{repo_id} is a gated repository: accept its terms on the Hub and pass a token")
    if isinstance(err, RepositoryNotFoundError):
        return OSError(f"there is no repository {repo_id!r} on {endpoint} (or it is private: log in or pass a "
                       "token), and no local folder of that name")
    if isinstance(err, RevisionNotFoundError):
        return OSError(f"{repo_id} has no revision {revision or 'main'!r}")
    if isinstance(err, RemoteEntryNotFoundError):
        name = str(getattr(err.response, "url", "")).rsplit("/", 1)[-1] or "a needed file"
        return OSError(f"{repo_id} has no {name} at revision {revision or 'main'!r} (a model repo needs "
                       f"{CONFIG_FILE} and {WEIGHTS_FILE})")
    if isinstance(err, HfHubHTTPError):
        return OSError(f"the Hub answered HTTP {err.response.status_code} for {repo_id}")
    return OSError(f"{type(err).__name__}: {err}")


def _check_reachable(repo_id: str, revision: str | None, *, endpoint: str, token, timeout: float) -> None:
    """Ask for config.json's metadata once, without retries, and raise what went wrong.

    This fails within ``timeout`` where hf_hub_download would retry a refused or silent Hub for ~20 s.
    """
    url = hf_hub_url(repo_id, CONFIG_FILE, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=timeout, endpoint=endpoint)
    except Exception as err:
        raise _explain(err, repo_id, revision, endpoint, timeout) from err
    if not meta.commit_hash:
        raise OSError(f"{endpoint} does not look like a Hugging Face Hub (its answer has no commit id)")


def _download(repo_id: str, revision: str | None, access: HubAccess) -> tuple[Path, Path]:
    """Download config.json at ``revision``, then model.safetensors of the same commit.

    Going through ``revision`` (not only the sha) records it in the cache's refs, so that the
    cache can serve it later when the Hub is down. huggingface_hub retries a stalled download for
    up to a minute, so this runs in a daemon thread that is abandoned (and finishes into the
    cache on its own) when ``access.download_timeout`` passes (``access``: resolved).
    """
    endpoint, cache_dir, token, timeout = access.endpoint, access.cache_dir, access.token, access.timeout
    download_timeout = access.download_timeout
    result: dict = {}

    def work() -> None:
        try:
            config = Path(hf_hub_download(repo_id, CONFIG_FILE, revision=revision, cache_dir=cache_dir,
                                          endpoint=endpoint, token=token, etag_timeout=timeout))
            commit = config.parent.name  # the cache keeps each commit's files in snapshots/<sha>/
            weights = Path(hf_hub_download(repo_id, WEIGHTS_FILE, revision=commit, cache_dir=cache_dir,
                                           endpoint=endpoint, token=token, etag_timeout=timeout))
            result["paths"] = (config, weights)
        except (OSError, ValueError, RuntimeError, httpx2.HTTPError) as err:  # HfHubHTTPError is an OSError
            result["error"] = err

    thread = threading.Thread(target=work, name=f"melody-knobs-download-{repo_id}", daemon=True)
    thread.start()
    thread.join(download_timeout)
    if thread.is_alive():
        raise _Unreachable(f"downloading {repo_id} from {endpoint} took longer than {download_timeout:g} s")
    if "paths" not in result:
        err = result.get("error")
        raise _explain(err, repo_id, revision, endpoint, timeout) if err else OSError(f"downloading {repo_id} failed")
    return result["paths"]


def _from_cache(repo_id: str, revision: str | None, cache_dir: Path) -> tuple[Path, Path] | None:
    """Both files of ``repo_id`` at ``revision`` from the local Hub cache, or None."""
    try:
        return tuple(Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir,
                                          local_files_only=True)) for name in (CONFIG_FILE, WEIGHTS_FILE))
    except (OSError, ValueError):  # LocalEntryNotFoundError is a FileNotFoundError: simply not cached
        return None


def _load_from_hub(repo_id: str, revision: str | None, access: HubAccess) -> MusicVAE:
    access = access.resolved()
    from_cache = False
    try:
        _check_reachable(repo_id, revision, endpoint=access.endpoint, token=access.token, timeout=access.timeout)
        paths = _download(repo_id, revision, access)
    except _Unreachable:
        paths = _from_cache(repo_id, revision, access.cache_dir)
        if paths is None:
            raise
        from_cache = True
        logger.warning("The Hub could not be reached; using %s from the local cache", repo_id)
    commit = paths[0].parent.name  # snapshots/<commit sha>/config.json
    model = build_model(*paths)
    model.source_info = SourceInfo(requested=repo_id, source="hub", path=str(paths[0].parent), repo_id=repo_id,
                                   revision=commit, requested_revision=revision, from_cache=from_cache)
    return model


def _is_local(source: str) -> bool:
    """A folder path rather than a Hub repo id ("user/repo")."""
    path = Path(source).expanduser()
    return path.exists() or source.startswith((".", "/", "~")) or "\\" in source or not _REPO_ID.match(source)


# ----------------------------------------------------------------------------- public API


def load_model(source: str | Path | None = None, revision: str | None = None, *, fallback: bool = True,
               bundled_dir: str | Path | None = None, access: HubAccess | None = None) -> MusicVAE:
    """Load a MusicVAE from a Hub repo, a local folder, or the bundled copy.

    Args:
        source: Hub repo id ("user/repo") or a folder; default ``$MELODY_KNOBS_MODEL``, else the
            bundled folder.
        revision: branch, tag or commit sha of a Hub repo; default ``$MELODY_KNOBS_REVISION``,
            else "main". Ignored for folders.
        fallback: when the requested source fails, load the bundled folder and record why
            (True), or raise (False).
        bundled_dir: the fallback folder; default :data:`BUNDLED_DIR` (``assets/model``).
        access: how to reach the Hub (:class:`HubAccess`: endpoint, token for private repos, cache, the seconds
            to wait for an answer and for the download); default: from the environment, ``DEFAULT_TIMEOUT``.

    Returns:
        The model in eval mode, with ``model.source_info`` (a :class:`SourceInfo`) saying where
        its weights came from and, after a fallback, why.

    Raises:
        OSError: the source failed and ``fallback`` is False (the Hub was unreachable, a repo or
            file is missing ...), or there are no bundled weights to fall back to.
        ValueError: the source's files are invalid and ``fallback`` is False.
    """
    bundled = Path(bundled_dir) if bundled_dir is not None else BUNDLED_DIR
    requested = source if source is not None else os.environ.get(ENV_MODEL)
    requested = str(requested).strip() if requested is not None and str(requested).strip() else None
    revision = revision or os.environ.get(ENV_REVISION) or None
    if requested is None:
        return _load_bundled(bundled, None, None)
    try:
        if _is_local(requested):
            folder = Path(requested).expanduser()
            model = load_folder(folder)
            model.source_info = SourceInfo(requested=requested, source="local", path=str(folder.resolve()))
        else:
            model = _load_from_hub(requested, revision, access or HubAccess())
        return model
    except (OSError, ValueError) as err:
        if not fallback:
            raise
        reason = str(err)
    logger.warning("Could not load the model %r (%s); falling back to the bundled weights in %s",
                   requested, reason, bundled)
    try:
        return _load_bundled(bundled, requested, reason)
    except (OSError, ValueError) as err:
        raise OSError(f"could not load {requested!r} ({reason}), and the bundled fallback failed too: {err}") from err


@dataclass(frozen=True)
class PushResult:
    """What :func:`push_model` created on the Hub."""

    repo_id: str
    revision: str  # branch the commit was made on
    commit: str  # commit sha: pin it with load_model(repo_id, revision=commit)
    commit_url: str


def push_model(folder: str | Path, repo_id: str, *, revision: str | None = None, private: bool = False,
               commit_message: str = DEFAULT_COMMIT_MESSAGE, access: HubAccess | None = None) -> PushResult:
    """Upload a model folder to a Hub model repo, creating the repo (and branch) when needed.

    The folder is checked first: config.json and model.safetensors must load strictly.

    Args:
        folder: a folder written by :func:`save_model` (every file in it is uploaded, hidden files excepted).
        repo_id: "user/repo" or "org/repo".
        revision: branch to commit to; default "main".
        private: create the repo as private (ignored when it exists already).
        commit_message: message of the commit.
        access: the Hub's URL (default ``$HF_ENDPOINT`` or https://huggingface.co) and a token with write access
            (default: the saved login or ``$HF_TOKEN``); its cache and timeouts are not used.

    Returns:
        A :class:`PushResult` with the commit sha and its URL.

    Raises:
        FileNotFoundError, ValueError: the folder is not a loadable model folder.
        huggingface_hub.errors.HfHubHTTPError: the Hub refused (bad token, no write access ...); it
            is an OSError, like the error raised when the Hub cannot be reached.
    """
    folder = Path(folder)
    load_folder(folder)
    if not _REPO_ID.match(repo_id) or "/" not in repo_id:
        raise ValueError(f"repo_id must look like 'user/repo', got {repo_id!r}")
    access = (access or HubAccess()).resolved()
    endpoint = access.endpoint
    api = HfApi(endpoint=endpoint, token=access.token)
    branch = revision or constants.DEFAULT_REVISION
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        if branch != constants.DEFAULT_REVISION:
            api.create_branch(repo_id, branch=branch, repo_type="model", exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", revision=branch,
                                 commit_message=commit_message, ignore_patterns=[".*", "**/.*", "__pycache__/*"])
    except httpx2.TransportError as err:
        raise OSError(f"the Hub at {endpoint} could not be reached ({type(err).__name__}: {err})") from err
    return PushResult(repo_id=repo_id, revision=branch, commit=info.oid, commit_url=info.commit_url)


def model_file(source_info: SourceInfo, name: str, access: HubAccess | None = None) -> Path | None:
    """A companion file of a loaded model's folder (dims.json, report.json, README.md), or None.

    For a local or bundled model the file is read from its folder; for a Hub model it is
    downloaded from the same commit as the weights (or taken from the local cache when the Hub
    cannot be reached). A file that the folder or repo lacks is None, never an error.

    Args:
        source_info: ``model.source_info`` of a model returned by :func:`load_model`.
        name: a plain file name, e.g. "dims.json".
        access: as for :func:`load_model` (its download timeout aside).
    """
    if Path(name).name != name:
        raise ValueError(f"name must be a plain file name, got {name!r}")
    local = Path(source_info.path) / name
    if source_info.source != "hub" or local.is_file():
        return local if local.is_file() else None
    access = (access or HubAccess()).resolved()
    for offline in (True,) if source_info.from_cache else (False, True):
        try:
            return Path(hf_hub_download(source_info.repo_id, name, revision=source_info.revision,
                                        cache_dir=access.cache_dir, endpoint=access.endpoint, token=access.token,
                                        etag_timeout=access.timeout, local_files_only=offline))
        except (OSError, ValueError, httpx2.HTTPError) as err:  # missing file, Hub down, offline mode
            logger.info("%s of %s is not available (%s)", name, source_info.repo_id, err)
    return None
