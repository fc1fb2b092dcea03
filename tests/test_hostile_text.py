"""Hostile and careless text input, through the studio's front door: each case ends in one plain
sentence (a refusal, or a note on what was left out or cut) and changes nothing saved before."""

import pytest

from test_hostile_input import fingerprint, make_zip, one_line
from text_fixtures import REVIEWS
from tlcore.data.encoding import UNKNOWN_ENCODING
from tlcore.data.texts import (BINARY_FILE, BINARY_TABLE, CUT, FILES_LEFT_OUT, MAX_TABLE_BYTES, NO_USABLE_TEXTS,
                               ONE_COLUMN, ONE_LABEL, ROWS_LEFT_OUT, TABLE_TOO_LARGE)
from tlcore.data.texts_audit import MIXED
from tlcore.errors import TLError
from tlcore.studio import audit_texts, import_text_path, import_texts, open_texts
from tlcore.data import store
from tlcore.workspace import workspace_dir

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def _table(rows, header="text,label") -> bytes:
    return ("\n".join([header, *('"' + t.replace('"', '""') + f'",{label}' for t, label in rows)]) + "\n").encode()


@pytest.fixture
def earlier():
    """A text dataset imported before the hostile input, and a fingerprint of the workspace with it."""
    import_texts(_table(REVIEWS), "earlier.csv")
    return fingerprint(workspace_dir())


def _refused(earlier, call, *args) -> str:
    with pytest.raises(TLError) as e:
        call(*args)
    one_line(str(e.value))
    assert fingerprint(workspace_dir()) == earlier
    return str(e.value)


def _added(earlier) -> dict:
    """The workspace's files that the last import added (every earlier file unchanged)."""
    now = fingerprint(workspace_dir())
    assert {k: now.get(k) for k in earlier} == earlier
    return {k: v for k, v in now.items() if k not in earlier}


def test_a_csv_with_one_column_is_refused(earlier):
    data = b"text\n" + b"".join(f'"{t}"\n'.encode() for t, _ in REVIEWS)
    assert _refused(earlier, import_texts, data, "reviews.csv") == ONE_COLUMN.format(name="reviews.csv",
                                                                                      listed="'text'")


def test_labels_all_the_same_are_refused(earlier):
    assert _refused(earlier, import_texts, _table([(t, "spam") for t, _ in REVIEWS]), "reviews.csv") == (
        ONE_LABEL.format(where="reviews.csv", label="spam"))


def test_an_empty_label_cell_leaves_its_row_out_and_says_which(earlier):
    data = import_texts(_table(REVIEWS[:1] + [("Where is my order?", "")] + REVIEWS[1:]), "reviews.csv")
    left_out = ROWS_LEFT_OUT.format(rows="1 row", missing="label", were="was", which="row 3")
    assert data.notes == [left_out]
    assert len(data.items) == 6 and "Where is my order?" not in {i.text for i in data.items}
    assert left_out in audit_texts(data)["lines"]
    assert _added(earlier)


def test_a_200_mb_csv_is_refused_with_its_size_from_a_path_or_an_upload(earlier, tmp_path):
    path = tmp_path / "huge.csv"
    chunk = _table(REVIEWS)[len(b"text,label\n"):] * 20_000  # about 6 MB of rows
    with open(path, "wb") as f:
        f.write(b"text,label\n")
        while f.tell() < 200 * 2**20:
            f.write(chunk)
        f.truncate(200 * 2**20)
    line = TABLE_TOO_LARGE.format(name="huge.csv", mb=200, limit=MAX_TABLE_BYTES // 2**20)
    try:
        assert _refused(earlier, import_text_path, path) == line
        assert _refused(earlier, import_texts, path.read_bytes(), "huge.csv") == line
    finally:
        path.unlink()


def test_a_text_of_100000_characters_is_kept_and_said_to_be_cut(earlier):
    long = "The delivery was late again and the box was damaged. " * 1900
    assert len(long) > 100_000
    data = import_texts(_table([(long, "complaint")] + REVIEWS), "long.csv")
    assert data.items[0].text == long.strip()
    report = audit_texts(data)
    assert report["cut"] == 1 and report["limit"] == 256
    assert CUT.format(texts="1 text", are="is", limit=256, words=190, which="it") in report["lines"]
    assert _added(earlier)


def test_binary_data_named_txt_is_left_out_or_refused_and_named_csv_is_refused(earlier):
    texts = {f"shop/{label}/{k}.txt": text.encode() for k, (text, label) in enumerate(REVIEWS)}
    data = import_texts(make_zip(texts | {"shop/praise/photo.txt": PNG}), "shop.zip")
    left_out = FILES_LEFT_OUT.format(files="1 file", were="was", which=f"photo.txt {BINARY_FILE}", more="")
    assert data.notes == [left_out] and len(data.items) == 6
    assert left_out in audit_texts(data)["lines"]
    before = fingerprint(workspace_dir())
    both = FILES_LEFT_OUT.format(files="2 files", were="were", which=f"1.txt {BINARY_FILE}; 2.txt {BINARY_FILE}",
                                 more="")
    assert _refused(before, import_texts, make_zip({"a/1.txt": PNG, "b/2.txt": PNG}), "photos.zip") == (
        f"{NO_USABLE_TEXTS.format(where='photos')} {both}")
    assert _refused(before, import_texts, PNG, "photo.csv") == BINARY_TABLE.format(name="photo.csv")


def test_a_table_in_an_encoding_that_cannot_be_told_is_refused(earlier):
    russian = _table([("Посылка пришла поздно", "жалоба"), ("Спасибо, всё отлично", "похвала")])
    assert _refused(earlier, import_texts, russian.decode().encode("cp1251"), "ru.csv") == (
        UNKNOWN_ENCODING.format(name="ru.csv"))


def test_html_and_markdown_are_stored_literally_and_escaped_in_the_audit(earlier):
    odd = [('<script>alert("x")</script> **now**', "<b>praise</b>"),
           ('<script>alert("x")</script> **now**', "complaint"),
           ("# [click](http://evil.example) ![x](y.png)", "question")]
    data = import_texts(_table(odd + REVIEWS), "odd.csv")
    folder = next(d["folder"] for d in store.list_datasets() if d["name"] == "odd")
    assert [(i.text, i.label) for i in open_texts(folder).items[:3]] == odd
    assert "<b>praise</b>" in data.classes
    lines = audit_texts(data)["lines"]
    assert MIXED.format(texts="1 text", appear="appears", example="'\\<script\\>alert(\"x\")\\</script\\> \\*\\*now\\*\\*'",
                        first="\\<b\\>praise\\</b\\>", second="complaint") in lines
    assert not any("<" in line.replace("\\<", "") for line in lines)
    assert _added(earlier)
