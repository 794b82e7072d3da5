"""Readers of the two text corpora in their upstream archive formats, with content checks.

They live in the engine because two plugins read each corpus: the BBC and 20 Newsgroups
targets, and the 20 Newsgroups meta split, which is projected into either target's
feature space.
"""

from __future__ import annotations

import os
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.checks import CorruptDataError, verify_counts
from benchmark.data.sources import UpstreamFile

BBC_ZIP = UpstreamFile(
    dataset="bbc",
    name="bbc-fulltext.zip",
    urls=("http://mlg.ucd.ie/files/datasets/bbc-fulltext.zip",),
)
"""BBC News full text (Greene & Cunningham, ICML 2006); upstream publishes no checksum."""
BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}
"""Documents per class in the upstream corpus (2,225 in all)."""

NEWSGROUPS_TAR = UpstreamFile(
    dataset="20newsgroups",
    name="20news-bydate.tar.gz",
    urls=("http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz",),
    checksums={"sha256": "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"},
    repacked_ok=True,
)
"""20 Newsgroups "bydate" (Jason Rennie). The sha256 is the one scikit-learn checks for
this archive; a re-packed archive is accepted when its per-group counts are right."""
NEWSGROUPS_COUNTS = {
    "alt.atheism": (480, 319),
    "comp.graphics": (584, 389),
    "comp.os.ms-windows.misc": (591, 394),
    "comp.sys.ibm.pc.hardware": (590, 392),
    "comp.sys.mac.hardware": (578, 385),
    "comp.windows.x": (593, 395),
    "misc.forsale": (585, 390),
    "rec.autos": (594, 396),
    "rec.motorcycles": (598, 398),
    "rec.sport.baseball": (597, 397),
    "rec.sport.hockey": (600, 399),
    "sci.crypt": (595, 396),
    "sci.electronics": (591, 393),
    "sci.med": (594, 396),
    "sci.space": (593, 394),
    "soc.religion.christian": (599, 398),
    "talk.politics.guns": (546, 364),
    "talk.politics.mideast": (564, 376),
    "talk.politics.misc": (465, 310),
    "talk.religion.misc": (377, 251),
}
"""(train, test) documents per group of the bydate archive (18,846 in all)."""
NEWSGROUPS_SPLITS = ("train", "test")
_REFETCH = "Delete it and run `python -m benchmark fetch --datasets {}` to get the upstream file."


@dataclass(frozen=True)
class Corpus:
    """Documents with their class names, in archive order sorted by (class, file name)."""

    texts: list[str]
    classes: list[str]
    names: list[str]
    decoded_as_latin1: int = 0


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def read_bbc(path: str | os.PathLike) -> Corpus:
    """The 2,225 BBC documents of ``bbc-fulltext.zip`` (``bbc/<class>/NNN.txt``).

    Files are UTF-8 except one with a bare 0xA3 (a latin-1 pound sign): a file that is
    not valid UTF-8 is decoded as latin-1 and counted. Per-class counts are checked.
    """
    path = Path(path)
    pattern = re.compile(r"^bbc/([a-z]+)/(\d+\.txt)$")
    entries: list[tuple[str, str, bytes]] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                match = pattern.match(member)
                if match:
                    entries.append((match[1], match[2], archive.read(member)))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise CorruptDataError(
            f"{path}: corrupt zip archive ({exc}). {_REFETCH.format('bbc')}"
        ) from exc
    counts: dict[str, int] = {}
    for label, _, _ in entries:
        counts[label] = counts.get(label, 0) + 1
    verify_counts(path, counts, BBC_COUNTS, _REFETCH.format("bbc"))
    entries.sort(key=lambda entry: entry[:2])
    decoded = [_decode(raw) for _, _, raw in entries]
    return Corpus(
        texts=[text for text, _ in decoded],
        classes=[label for label, _, _ in entries],
        names=[f"{label}/{name}" for label, name, _ in entries],
        decoded_as_latin1=sum(fallback for _, fallback in decoded),
    )


def read_newsgroups(path: str | os.PathLike) -> tuple[Corpus, list[str]]:
    """All 18,846 posts of ``20news-bydate.tar.gz`` and each post's split (train/test).

    Posts are decoded as latin-1 (what the archive uses, as scikit-learn does);
    per-group counts of both splits are checked. Order: train then test, each sorted by
    (group, numeric post id).
    """
    path = Path(path)
    pattern = re.compile(r"^(?:\./)?20news-bydate-(train|test)/([a-z.-]+)/(\d+)$")
    entries: list[tuple[int, str, int, bytes]] = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                match = pattern.match(member.name)
                if match and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is None:
                        continue
                    split = NEWSGROUPS_SPLITS.index(match[1])
                    entries.append((split, match[2], int(match[3]), handle.read()))
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise CorruptDataError(
            f"{path}: corrupt tar.gz archive ({exc}). {_REFETCH.format('20newsgroups')}"
        ) from exc
    counts: dict[str, int] = {}
    for split, group, _, _ in entries:
        key = f"{group} ({NEWSGROUPS_SPLITS[split]})"
        counts[key] = counts.get(key, 0) + 1
    expected = {
        f"{group} ({split})": pair[i]
        for group, pair in NEWSGROUPS_COUNTS.items()
        for i, split in enumerate(NEWSGROUPS_SPLITS)
    }
    verify_counts(path, counts, expected, _REFETCH.format("20newsgroups"))
    entries.sort(key=lambda entry: entry[:3])
    corpus = Corpus(
        texts=[raw.decode("latin-1") for *_, raw in entries],
        classes=[group for _, group, _, _ in entries],
        names=[f"{NEWSGROUPS_SPLITS[s]}/{group}/{post}" for s, group, post, _ in entries],
    )
    return corpus, [NEWSGROUPS_SPLITS[split] for split, *_ in entries]


_SUBJECT = re.compile(r"^Subject:(.*)$", re.MULTILINE)
_QUOTE_ATTRIBUTION = re.compile(r"(writes in|writes:|wrote:|says:|said:)\s*$", re.IGNORECASE)


def strip_newsgroup_post(text: str, headers: bool, footers: bool, quotes: bool) -> str:
    """A post without its parts that give the group away instead of the topic.

    headers: the header block up to the first blank line (``From:``, ``Newsgroups:``,
    ``Organization:``...), except the text of ``Subject:``, which the author wrote (without
    it 25 posts of the default target groups would be empty). footers: a trailing
    signature, i.e. what follows the last line made only of dashes (``--``) if that line is
    among the last 10. quotes: lines quoting another post (starting with ``>`` or ``|``)
    and attribution lines ("... writes:").
    """
    if headers:
        head, blank, body = text.partition("\n\n")
        subject = _SUBJECT.search(head)
        text = (f"{subject[1].strip()}\n" if subject else "") + (body if blank else "")
    if quotes:
        text = "\n".join(
            line
            for line in text.split("\n")
            if not line.lstrip().startswith((">", "|")) and not _QUOTE_ATTRIBUTION.search(line)
        )
    if footers:
        lines = text.rstrip().split("\n")
        for index in range(len(lines) - 1, max(len(lines) - 11, -1), -1):
            stripped = lines[index].strip()
            if len(stripped) >= 2 and set(stripped) == {"-"}:
                text = "\n".join(lines[:index])
                break
    return text
