"""The durable outbox: pending batches survive, corrupt files are set aside, rejects
keep their reasons."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.batch import encode_document
from pipelines.outbox import Outbox, PendingBatch

DOC = {"title": "T", "content": "C", "url": "https://e.com/", "metadata": {"language": "en"}}


def _read_pending(outbox: Outbox) -> list[PendingBatch]:
    """What a later run sends first: each pending file, oldest first, read when its turn comes."""
    return [batch for path in outbox.pending_paths() if (batch := outbox.load(path))]


def test_pending_batches_survive_and_are_removed_when_done(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    first = outbox.add_pending([DOC], {"https://e.com/": {"parts": 1, "in_batch": 1}})
    outbox.add_pending([DOC, DOC])
    assert not list(outbox.pending_dir.glob(".*.tmp"))  # written atomically

    again = _read_pending(Outbox(tmp_path, "site"))  # a later run
    assert [len(b.documents) for b in again] == [1, 2]
    assert again[0].pages == {"https://e.com/": {"parts": 1, "in_batch": 1}}
    outbox.done(first)
    assert outbox.pending_count() == 1


def test_corrupt_pending_file_is_set_aside(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    outbox.add_pending([DOC])
    broken = outbox.pending_dir / "zzz.json"
    broken.write_text('{"documents": [')
    assert len(_read_pending(outbox)) == 1
    assert (outbox.pending_dir / "zzz.corrupt").exists()


def test_a_released_batch_is_read_back_whole(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    batch = outbox.new_batch([DOC, DOC], {"https://e.com/": {"parts": 2, "in_batch": 2}})
    batch.release()
    assert batch.documents is not None  # not on disk yet: kept
    outbox.save(batch)
    batch.release()
    assert batch.documents is None and batch.pages == {}
    back = outbox.load(batch.path)
    assert back is not None and back.documents == [DOC, DOC]
    assert back.pages == {"https://e.com/": {"parts": 2, "in_batch": 2}}
    outbox.done(back)
    assert outbox.load(batch.path) is None  # sent meanwhile: nothing to read, no error


def test_a_batch_is_written_from_its_encoded_documents(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    other = dict(DOC, title="Ünïcode 中文")
    pages = {"https://e.com/": {"parts": 2, "in_batch": 2}}
    batch = outbox.new_batch([DOC, other], pages, [encode_document(DOC), encode_document(other)])
    batch.attempts = 3
    outbox.save(batch)
    raw = batch.path.read_bytes()
    assert encode_document(other) in raw  # the very bytes the POST carries
    back = outbox.load(batch.path)
    assert back is not None and back.documents == [DOC, other]
    assert back.pages == pages and back.attempts == 3
    batch.release()
    assert batch.encoded is None  # released with the documents


def test_rejected_documents_keep_the_reason(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    outbox.reject(DOC, "INVALID_REQUEST", "documents[0] contains invalid characters")
    lines = next(outbox.rejected_dir.glob("*.jsonl")).read_text().splitlines()
    record = json.loads(lines[0])
    assert record["reason"] == {
        "code": "INVALID_REQUEST",
        "message": "documents[0] contains invalid characters",
    }
    assert record["document"] == DOC


def test_no_token_sink_writes_the_posted_shape(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "site")
    outbox.write_documents([DOC, DOC])
    outbox.close()
    lines = outbox.jsonl_path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [DOC, DOC]
