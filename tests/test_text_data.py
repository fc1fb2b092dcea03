"""Reading text datasets: tables (columns guessed or given, a split column), folders and zips of class
folders of .txt files, and every bad input refused or left out in one plain line, nothing written."""

import zipfile
from pathlib import Path

import pytest

from test_hostile_input import fingerprint, one_line
from text_fixtures import REVIEWS
from tlcore.data.encoding import READ_AS_WESTERN, UNKNOWN_ENCODING
from tlcore.data.texts import (AT_LINE, BAD_SPLIT, BINARY_FILE, BINARY_TABLE, CUT, EMPTY_FILE, EMPTY_TABLE,
                               FILES_LEFT_OUT, MAX_TABLE_BYTES, NO_COLUMN, NOT_A_TABLE, NOT_TEXTS, NOT_TXT, ONE_COLUMN,
                               ONE_LABEL, ROWS_LEFT_OUT, TABLE_TOO_LARGE, UNSURE_COLUMNS, cut_note, guess_columns,
                               read_table, read_text_folder, read_texts)
from tlcore.errors import TLError



def _csv(tmp_path, text, name="reviews.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(TLError) as e:
        call(*args, **kwargs)
    one_line(str(e.value))
    return str(e.value)


def _table(rows, header="text,label"):
    quoted = ['"' + t.replace('"', '""') + f'",{label}' for t, label in rows]
    return "\n".join([header, *quoted]) + "\n"


def test_a_csv_with_named_columns_is_read_as_written(tmp_path):
    data = read_table(_csv(tmp_path, _table(REVIEWS)))
    assert data.classes == ["complaint", "praise", "question"] and data.columns == ("text", "label")
    assert [(i.text, i.label) for i in data.items] == REVIEWS
    assert data.items[0].origin == "row 2" and data.items[0].split == "" and data.notes == []
    assert data.counts() == {"complaint": 2, "praise": 2, "question": 2}


def test_columns_are_guessed_from_their_contents_and_a_split_column_is_honoured(tmp_path):
    lines = ["id;Kind;What they wrote;Split"] + [f"{k};{label};{text};{'test' if k % 3 == 0 else 'Train'}"
                                                 for k, (text, label) in enumerate(REVIEWS * 2)]
    data = read_table(_csv(tmp_path, "\n".join(lines)))  # semicolons, as European Excel writes
    assert data.columns == ("What they wrote", "Kind")
    assert [i.split for i in data.items] == ["test" if k % 3 == 0 else "train" for k in range(12)]


def test_the_guess_is_withheld_when_it_is_not_obvious(tmp_path):
    assert guess_columns({"a": ["x", "y", "x", "y"], "b": ["p", "q", "q", "p"]}) is None
    path = _csv(tmp_path, "first,second\n" + "".join(f"{t[:10]},{t[-10:]}\n" for t, _ in REVIEWS))
    message = _refused(read_table, path)
    assert message == UNSURE_COLUMNS.format(name="reviews.csv", listed="'first', 'second'")
    assert len(read_table(path, "first", "second").items) == 6  # chosen, it reads


def test_a_tsv_saved_by_excel_as_unicode_text_is_read(tmp_path):
    body = "sentence\tintent\n" + "".join(f"{t}\t{label}\n" for t, label in REVIEWS)
    data = read_table(_csv(tmp_path, body, "intents.tsv", encoding="utf-16"))
    assert [(i.text, i.label) for i in data.items] == REVIEWS and data.notes == []


def test_html_and_markdown_stay_literal(tmp_path):
    odd = [('<b>Great</b> <script>alert("x")</script> &amp; more', "praise"),
           ("**Awful** [link](http://example.com) | a | table |", "complaint"),
           ("=SUM(A1:A2) a formula-looking text", "question")]
    data = read_table(_csv(tmp_path, _table(odd + REVIEWS)))
    assert [(i.text, i.label) for i in data.items[:3]] == odd


def test_quoted_texts_keep_their_commas_quotes_and_line_breaks(tmp_path):
    rows = [('He said "no", then left.\nSecond line, too.', "complaint")] + REVIEWS
    assert read_table(_csv(tmp_path, _table(rows))).items[0].text == rows[0][0]


def test_a_table_with_one_column_is_refused(tmp_path):
    path = _csv(tmp_path, "text\n" + "".join(f'"{t}"\n' for t, _ in REVIEWS))
    assert _refused(read_table, path) == ONE_COLUMN.format(name="reviews.csv", listed="'text'")


def test_a_table_whose_labels_are_all_the_same_is_refused(tmp_path):
    path = _csv(tmp_path, _table([(t, "spam") for t, _ in REVIEWS]))
    assert _refused(read_table, path) == ONE_LABEL.format(where="reviews.csv", label="spam")


def test_rows_with_an_empty_label_or_text_are_left_out_and_counted(tmp_path):
    rows = REVIEWS[:2] + [("No label on this one", " "), ("", "praise")] + REVIEWS[2:] + [("Nor this", "")]
    data = read_table(_csv(tmp_path, _table(rows)))
    assert len(data.items) == 6
    assert data.notes == [ROWS_LEFT_OUT.format(rows="2 rows", missing="label", were="were", which="rows 4, 10"),
                          ROWS_LEFT_OUT.format(rows="1 row", missing="text", were="was", which="row 5")]


def test_a_200_mb_table_is_refused_with_its_size(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.write(_table(REVIEWS).encode())
        f.truncate(200 * 2**20)  # sparse: nothing is written to the disk
    before = fingerprint(tmp_path)
    assert _refused(read_table, path) == TABLE_TOO_LARGE.format(name="huge.csv", mb=200, limit=MAX_TABLE_BYTES // 2**20)
    assert fingerprint(tmp_path) == before


def test_a_100000_character_text_is_kept_and_said_to_be_cut_at_the_models_limit(tmp_path):
    from tlcore.models.catalog import get_spec
    from tlcore.models.text_net import text_tokenizer

    long = "The delivery was late again and the box was damaged. " * 1900
    assert len(long) > 100_000
    data = read_table(_csv(tmp_path, _table([(long, "complaint")] + REVIEWS)))
    assert data.items[0].text == long.strip()
    spec = get_spec("all_minilm_l6_v2")
    note = cut_note(text_tokenizer(spec).lengths([i.text for i in data.items]), spec.max_tokens)
    assert note == CUT.format(texts="1 text", are="is", limit=256, words=190, which="it")


def test_binary_data_is_refused_as_a_table_and_left_out_as_a_txt_file(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert _refused(read_table, _csv(tmp_path, png, "photo.csv")) == BINARY_TABLE.format(name="photo.csv")
    root = _folder(tmp_path / "texts")
    (root / "praise" / "photo.txt").write_bytes(png)
    data = read_text_folder(root)
    assert len(data.items) == 6
    assert data.notes == [FILES_LEFT_OUT.format(files="1 file", were="was", which=f"photo.txt {BINARY_FILE}",
                                                more="")]


def test_windows_1252_is_read_and_said_other_encodings_are_refused(tmp_path):
    rows = [("Café crème brûlée, très bon – merci", "praise")] + REVIEWS
    data = read_table(_csv(tmp_path, _table(rows), encoding="cp1252"))
    assert data.items[0].text == rows[0][0]
    assert data.notes == [READ_AS_WESTERN.format(name="reviews.csv")]
    russian = _table([("Посылка пришла поздно, коробка была повреждена", "жалоба"),
                      ("Спасибо, всё отлично", "похвала")])
    assert _refused(read_table, _csv(tmp_path, russian, "ru.csv", encoding="cp1251")) == (
        UNKNOWN_ENCODING.format(name="ru.csv"))


def test_unreadable_tables_and_missing_columns_are_refused_in_words(tmp_path):
    bad = _csv(tmp_path, "text,label\n" + "a,b\n" * 3 + "one,two,three,four\n")
    assert _refused(read_table, bad) == NOT_A_TABLE.format(name="reviews.csv", where=AT_LINE.format(line=5))
    good = _csv(tmp_path, _table(REVIEWS), "good.csv")
    assert _refused(read_table, good, "review", "label") == (
        NO_COLUMN.format(name="good.csv", given="review", listed="'text', 'label'"))
    split = _csv(tmp_path, "text,label,split\n" + "".join(f'"{t}",{label},later\n' for t, label in REVIEWS))
    assert _refused(read_table, split) == BAD_SPLIT.format(name="reviews.csv", value="later", row=2)
    assert _refused(read_table, _csv(tmp_path, "", "empty.csv")) == EMPTY_TABLE.format(name="empty.csv")


def _folder(root: Path, splits: tuple[str, ...] = ()) -> Path:
    for k, (text, label) in enumerate(REVIEWS):
        folder = root / (splits[k % len(splits)] if splits else "") / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{k}.txt").write_text(text + "\n", encoding="utf-8")
    return root


def test_a_folder_of_class_folders_with_split_folders_is_read(tmp_path):
    root = _folder(tmp_path / "wrapper" / "shop", splits=("train", "Validation", "test"))
    (root / "train" / "complaint" / "notes.md").write_text("not an example")
    (root / "train" / "complaint" / "empty.txt").write_text("  \n")
    data = read_text_folder(tmp_path / "wrapper")
    assert data.classes == ["complaint", "praise", "question"]
    assert sorted((i.text, i.label, i.split) for i in data.items) == sorted(
        (t, label, ("train", "val", "test")[k % 3]) for k, (t, label) in enumerate(REVIEWS))
    assert data.notes == [FILES_LEFT_OUT.format(files="2 files", were="were",
                                                which=f"empty.txt {EMPTY_FILE}; notes.md {NOT_TXT}", more="")]


def test_a_zip_of_class_folders_is_unpacked_once_and_read(tmp_path):
    archive = tmp_path / "shop.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for k, (text, label) in enumerate(REVIEWS):
            z.writestr(f"shop/{label}/{k}.txt", text)
    store = tmp_path / "datasets"
    data = read_texts(archive, store)
    assert data.name == "shop" and len(data.items) == 6
    before = fingerprint(store)
    assert read_texts(archive, store).counts() == data.counts() and fingerprint(store) == before


def test_a_folder_with_one_class_or_another_kind_of_file_is_refused(tmp_path):
    root = tmp_path / "one"
    (root / "praise").mkdir(parents=True)
    for k in range(3):
        (root / "praise" / f"{k}.txt").write_text(f"Great service {k}")
    assert _refused(read_texts, root, tmp_path) == ONE_LABEL.format(where="one", label="praise")
    other = _csv(tmp_path, b"{}", "data.json")
    assert _refused(read_texts, other, tmp_path) == NOT_TEXTS.format(name="data.json")
