"""Getting a benchmark's files: ``python -m gptnas.bench download NAME [--to DIR] [--url URL] [--sha256 HEX]``.

A download is resumable (a ``.part`` file continues with an HTTP range request), shows a progress bar, is checked
against a SHA-256 digest before it takes its final name, is unpacked (the dataset downloader's safe extraction: no
links out of the folder, no device files), and is then imported once into the table cache, so the first search
starts at once. Where the files go: ``--to DIR``, else the default data folder (:func:`default_data_root`), which
``--data`` then need not name.

The authors publish NAS-Bench-201 (as NATS-Bench) on Google Drive, behind a page a browser must open, and publish
no SHA-256: without ``--url`` (or ``$GPTNAS_MIRROR``, a base URL where your lab keeps copies) the command prints
the manual steps. With a URL and no digest to compare with, it prints the file's digest so the next download can
be pinned with ``--sha256``.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..core.paths import default_data_root
from ..datasets.cifar import extract_archive
from ..errors import DataError

log = logging.getLogger(__name__)

MIRROR_ENV = "GPTNAS_MIRROR"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Release:
    """One benchmark's official release, as its authors publish it."""

    title: str
    file: str            # the release's file name
    size: str            # as the authors give it (for the reader; the digest is the check)
    page: str            # where the authors publish it
    licence: str
    folder: str          # the data root's sub-folder the release is unpacked into
    sha256: Optional[str] = None  # a published or pinned digest (None: the authors publish none)
    readable: bool = True  # whether gptnas reads the file itself (else: the conversion to do, in ``steps``)
    steps: str = ""


RELEASES = {
    "nb201": Release(
        title="NAS-Bench-201 (the NATS-Bench topology search space, 'simple' archive)",
        file="NATS-tss-v1_0-3ffb9-simple.tar", size="about 1 GB unpacked; one bz2 pickle per cell",
        page="https://github.com/D-X-Y/NATS-Bench", licence="MIT", folder="nb201"),
    "tnb101": Release(
        title="TransNAS-Bench-101 (micro space)", file="transnas-bench_v10141024.pth",
        size="a torch pickle of all 7,352 networks (micro and macro)",
        page="the TransNAS-Bench-101 paper's project page (Duan et al., CVPR 2021)", licence="Apache-2.0",
        folder="tnb101", readable=False,
        steps="gptnas does not unpickle it (unpickling runs code from the file): load it once in a sandbox with "
              "torch.load(path, weights_only=True) and write tnb101_micro.csv (columns space, arch, class_scene, "
              "room_layout, class_object, jigsaw; see gptnas/bench/tnb101.py) into DIR/tnb101/"),
}


def manual_steps(name: str, root: Path) -> str:
    """What to do by hand, in one line."""
    r = RELEASES[name]
    tail = (f"then: {r.steps.replace('DIR', str(root))}" if not r.readable else
            f"unpack it into {root / r.folder}/ (or pass --url to this command with a copy you host)")
    return f"download {r.file} ({r.title}) from {r.page} by hand; {tail}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, sha256: Optional[str] = None, progress: bool = True, timeout: float = 30.0) -> str:
    """Download ``url`` to ``dest``, continuing a ``dest.part`` left by an interrupted download; check its SHA-256
    (``sha256``) before it takes the name ``dest``. Returns the digest. A wrong digest deletes the download."""
    import httpx
    from tqdm.auto import tqdm
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as r:
            if r.status_code == 416:  # the part is already whole
                pass
            elif r.status_code not in (200, 206):
                raise DataError(f"downloading {url} failed: HTTP {r.status_code}")
            else:
                if r.status_code == 200 and have:  # the server cannot continue a download: start over
                    log.info("%s: the server ignores ranges; downloading it whole again", dest.name)
                    have = 0
                total = r.headers.get("content-length")
                total = have + int(total) if total and total.isdigit() else None
                with open(part, "ab" if have else "wb") as f, \
                        tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name,
                             disable=not progress) as bar:
                    for block in r.iter_bytes(CHUNK):
                        f.write(block)
                        bar.update(len(block))
    except httpx.HTTPError as e:
        kept = f"; {part.stat().st_size:,} bytes kept in {part}, a rerun continues" if part.exists() else ""
        raise DataError(f"could not download {url} ({type(e).__name__}: {str(e)[:100]}): offline, or the address "
                        f"is wrong{kept}") from None
    digest = sha256_of(part)
    if sha256 and digest != sha256.lower():
        part.unlink()
        raise DataError(f"{dest.name}: SHA-256 {digest} is not the expected {sha256.lower()}: the download was "
                        f"damaged or is another file; it was deleted, run the command again")
    os.replace(part, dest)
    return digest


def download(name: str, to: Optional[str] = None, url: Optional[str] = None, sha256: Optional[str] = None,
             progress: bool = True) -> Path:
    """Download, check, unpack and import benchmark ``name`` (``nb201``) into ``to`` (default
    :func:`default_data_root`). Returns the folder ``--data`` may name (the data root)."""
    if name not in RELEASES:
        raise DataError(f"unknown benchmark {name!r}: choose one of {', '.join(RELEASES)}")
    release = RELEASES[name]
    root = Path(to).expanduser() if to else default_data_root()
    if not release.readable:
        raise DataError(f"{name}: {manual_steps(name, root)}")
    mirror = os.environ.get(MIRROR_ENV)
    url = url or (mirror.rstrip("/") + "/" + release.file if mirror else None)
    unpacked = root / release.folder / release.file.split(".")[0]
    if url is None and unpacked.is_dir():  # nothing asked of the network: say where it already is
        print(f"{name}: already in {unpacked}; nothing to download (--url fetches it again)")
        return root
    if url is None:
        raise DataError(f"{name}: its authors publish it behind a page a browser must open: {manual_steps(name, root)}")
    dest = root / release.file
    if dest.exists():
        log.info("%s is already downloaded", dest)
        digest = sha256_of(dest)
        if (sha256 or release.sha256) and digest != (sha256 or release.sha256).lower():
            raise DataError(f"{dest} is there but its SHA-256 is {digest}, not the expected one: delete it and "
                            f"run the command again")
    else:
        digest = fetch(url, dest, sha256 or release.sha256, progress=progress)
    if not (sha256 or release.sha256):
        print(f"{release.file}: SHA-256 {digest} (its authors publish none to compare with; pass --sha256 {digest} "
              "to pin it next time)")
    (root / release.folder).mkdir(parents=True, exist_ok=True)
    # the release's one folder, moved into place whole; a member that would land outside is refused
    extract_archive(dest, root / release.folder, dest.name.split(".")[0])
    from .importers import open_table  # imported once, cached: the first search starts at once
    table = open_table(root / release.folder)
    present = ", ".join(f"{ds} {table.num_present(ds):,}" for ds in table.datasets)
    print(f"{name}: unpacked into {root / release.folder} and imported ({present} architectures); "
          f"--data {root} (or nothing, if that is the default folder) finds it")
    return root
