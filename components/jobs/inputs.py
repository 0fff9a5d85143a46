"""Staging a job's inputs: every file the request names, copied into the job's own folder.

Gradio's temp cache is cleaned while jobs run and after they end; history, recovery after a
restart and "restore this edit" all need the files later, so a job owns copies from the start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from components.atomic import atomic_output
from components.digest import file_digest
from components.edit.request import EditRequest, Element
from components.errors import InputError
from components.guard.scratch import Scratch


def copy_inputs(request: EditRequest, folder: Path) -> EditRequest:
    """The request with every input file copied into ``folder``, so history and recovery can use
    them after gradio's temp cache is cleaned. A file used twice is copied once."""
    folder.mkdir(parents=True, exist_ok=True)
    copies: dict[Path, Path] = {}
    for source in request.files():
        if source in copies:
            continue
        # One numbered folder per file keeps the user's file name, which error messages quote.
        target = folder / f"{len(copies):02d}" / source.name
        target.parent.mkdir()
        with _still_there(source):
            link_or_copy(source, target)
        copies[source] = target
    return _with_files(request, copies)


def staging_cost(request: EditRequest, folder: Path) -> tuple[int, int]:
    """(bytes, files) that ``copy_inputs`` of ``request`` into ``folder``'s file system writes: every
    file is a new file there, and its bytes are written only where no link can be made (another
    file system, such as a Space's /data beside its temp folder)."""
    device = os.stat(folder).st_dev
    files = list(dict.fromkeys(request.files()))
    sizes = []
    for source in files:
        with _still_there(source):
            st = os.stat(source)
        sizes.append(0 if st.st_dev == device else st.st_size)
    return sum(sizes), len(files)


def restored_inputs(request: EditRequest, scratch: Scratch) -> EditRequest:
    """The request with every input file as the scratch folder's one copy of its content: what a
    history pick gives back to the page as its attachments (a client may open scratch files; job
    folders stay private). Picking the same edit again, or another edit of the same clip, writes
    nothing more (thirty picks were thirty copies, 62 MB); on one file system a copy is a link."""
    copies: dict[Path, Path] = {}
    for source in request.files():
        with _still_there(source):
            folder = scratch.folder_for(file_digest(source))
            target = folder / source.name
            if not target.is_file():
                with atomic_output(target) as part:  # never a half-made copy under the name
                    link_or_copy(source, part)
        copies[source] = target
    return _with_files(request, copies)


@contextlib.contextmanager
def _still_there(source: Path) -> Iterator[None]:
    """A file gone meanwhile (gradio's cache or retention cleaned it) is the user's sentence."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"The file {source.name} is no longer on the server.",
                         fix="Add it again and resubmit.") from None


def _with_files(request: EditRequest, copies: dict[Path, Path]) -> EditRequest:
    return replace(
        request,
        video=copies[request.video],
        images=tuple(copies[p] for p in request.images),
        elements=tuple(Element(frontal=copies[e.frontal] if e.frontal else None,
                               references=tuple(copies[r] for r in e.references))
                       for e in request.elements),
    )


def stub_request(request_id: str) -> EditRequest:
    """What a job reattached by id records: this studio never saw its prompt or inputs."""
    return EditRequest(prompt="", video=Path(""), extra={"stub": True, "reattached_request_id": request_id})


def link_or_copy(source: Path, target: Path) -> None:
    """Give ``target`` the bytes of ``source`` for free when both are on one file system."""
    # A hard link costs nothing for a 200 MB clip and survives gradio deleting its copy; across
    # file systems it is impossible, so the bytes are copied.
    try:
        os.link(source, target)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        shutil.copy2(source, target)
