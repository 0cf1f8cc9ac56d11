"""An input's bytes before the parsers (pipeline/ingest/files.py) and the inbox's cheap completeness check.

``read_input`` is what the runner reads a claimed file with; it and ``parse_tree`` must refuse the same input in
the same words.  These tests use a temporary folder: links, folders and pipes are files of the system.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.ingest import parse_tree, read_input, syntax_complete

EVENT = b'{"format": "qamqor.case-event/1"}'


def refusal(call, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return info.value


def test_a_regular_file_is_read_whole(tmp_path: Path):
    (tmp_path / "id-e.json").write_bytes(EVENT)
    assert read_input(tmp_path / "id-e.json", "e.json", 1000) == EVENT


def test_a_symbolic_link_is_refused_never_followed(tmp_path: Path):
    (tmp_path / "target.json").write_bytes(EVENT)
    (tmp_path / "link").symlink_to(tmp_path / "target.json")
    err = refusal(read_input, tmp_path / "link", "e.json", 1000)
    assert err.code == "E-FILE-TYPE" and err.detail == "a symbolic link"


def test_a_folder_or_a_pipe_is_not_a_regular_file(tmp_path: Path):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    for name in ("folder", "pipe"):
        err = refusal(read_input, tmp_path / name, "e.json", 1000)
        assert err.code == "E-FILE-TYPE" and err.detail == "not a regular file"


def test_a_name_neither_json_nor_xml_is_refused_as_in_memory(tmp_path: Path):
    (tmp_path / "id-e.txt").write_bytes(EVENT)
    on_disk = refusal(read_input, tmp_path / "id-e.txt", "e.txt", 1000)
    in_memory = refusal(parse_tree, EVENT, filename="e.txt")
    assert on_disk.code == in_memory.code == "E-FILE-TYPE"
    assert on_disk.to_dict() == in_memory.to_dict() and "'e.txt'" in on_disk.message
    assert read_input(tmp_path / "id-e.txt", "E.XML", 1000) == EVENT  # the suffix in any case


def test_a_file_too_large_is_refused_before_it_is_read_as_in_memory(tmp_path: Path):
    (tmp_path / "id-e.json").write_bytes(b" " * 2000)
    on_disk = refusal(read_input, tmp_path / "id-e.json", "e.json", 1000)
    in_memory = refusal(parse_tree, b" " * 2000, filename="e.json", max_bytes=1000)
    assert on_disk.code == in_memory.code == "E-FILE-TOO-LARGE"
    assert on_disk.to_dict() == in_memory.to_dict() and "2000" in on_disk.message and "1000" in on_disk.message


@pytest.mark.parametrize("name", ["e.json", "e.xml"])
def test_syntax_complete_tells_a_whole_file_from_a_half_copied_one(name: str):
    data = EVENT if name.endswith(".json") else b'<?xml version="1.0"?>\n<case_event><event>x</event></case_event>\n'
    assert syntax_complete(data, name)
    assert not syntax_complete(data[: len(data) // 2], name)
    assert not syntax_complete(b"", name)


def test_syntax_complete_reads_xml_as_ingest_does():
    # ingest's parser: entities are never expanded (a "billion laughs" is read, quickly, and refused later by
    # ingest), and ids are not collected, so a repeated xml:id is a complete file (refused later as an attribute)
    laughs = b'<!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">]><a>&l2;</a>'
    assert syntax_complete(laughs, "e.xml")
    assert syntax_complete(b'<a><b xml:id="x"/><b xml:id="x"/></a>', "e.xml")
    err = refusal(parse_tree, b'<a><b xml:id="x"/><b xml:id="x"/></a>', filename="e.xml")
    assert err.code == "E-XML-NAMESPACE"
