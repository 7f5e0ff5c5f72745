import datetime as dt
import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest
import torch

from course_utils import data


def test_manifest_describes_every_dataset():
    man = data.manifest()
    for name, spec in man.items():
        for key in ("kind", "source", "license", "size"):
            assert key in spec, f"{name} lacks {key}"
        assert spec["kind"] in ("packaged", "generated", "download")
        if spec["kind"] == "download":
            assert len(spec["sha256"]) == 64 and spec["url"].startswith("https://")


def test_data_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "d"))
    assert data.data_dir() == tmp_path / "d" and (tmp_path / "d").is_dir()
    # the repository manifest is still found
    assert "digits" in data.manifest()


def test_load_digits():
    x, y = data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert 0 <= x.min() and x.max() <= 1 and set(y.tolist()) == set(range(10))


def test_digits_on_canvas_split_by_source_and_fixed():
    spec = data.manifest()["digits_canvas"]
    d = data.digits_on_canvas(train_copies=1)
    c = spec["canvas"]
    assert d["x_train"].shape[1:] == (1, c, c) and d["x_test"].shape[1:] == (1, c, c)
    assert len(d["x_test"]) >= 500
    assert not set(d["src_train"].tolist()) & set(d["src_test"].tolist()), "a source digit leaked into test"
    x, y = data.load_digits()
    assert torch.equal(y[d["src_test"]], d["y_test"])
    assert 0 <= d["x_train"].min() and d["x_train"].max() <= 1
    again = data.digits_on_canvas(train_copies=2)
    assert torch.equal(again["x_test"], d["x_test"]), "the test set must not depend on train_copies"
    assert len(again["x_train"]) == 2 * len(d["x_train"])
    with pytest.raises(ValueError):
        data.digits_on_canvas(train_copies=0)


def test_digits_on_canvas_test_copies():
    one = data.digits_on_canvas(train_copies=1, test_copies=1)
    three = data.digits_on_canvas(train_copies=1, test_copies=3)
    n = len(one["x_test"])
    assert len(three["x_test"]) == 3 * n and torch.equal(three["x_test"][:n], one["x_test"]), "copy 1 is the 1-copy set"
    assert torch.equal(three["src_test"], one["src_test"].repeat(3)) and torch.equal(three["y_test"], one["y_test"].repeat(3))
    assert not torch.equal(three["x_test"][n:2 * n], one["x_test"]), "each copy is a new placement"
    assert torch.equal(three["x_train"], one["x_train"]), "the training set must not depend on test_copies"
    assert len(data.digits_on_canvas()["x_test"]) >= 1000, "one test image should move accuracy by < 0.1 point"
    with pytest.raises(ValueError, match="test_copies"):
        data.digits_on_canvas(test_copies=0)


def test_digits_on_canvas_places_digits_at_different_positions():
    d = data.digits_on_canvas(train_copies=1)
    # centre of mass of bright pixels varies a lot: translation matters
    x = d["x_test"][:, 0]
    w = (x > 0.6).float()
    cols = (w.sum(1) * torch.arange(x.shape[-1])).sum(1) / w.sum((1, 2)).clamp(min=1)
    assert cols.std() > 3


def test_shapes_scenes_masks_match_classes():
    s = data.shapes_scenes(6, size=24, seed=1)
    assert s["images"].shape == (6, 3, 24, 24) and s["masks"].shape == (6, 24, 24)
    assert set(s["masks"].unique().tolist()) <= {0, 1, 2, 3}
    assert len(s["factors"]) == 6 and all(1 <= len(f) <= 3 for f in s["factors"])
    again = data.shapes_scenes(6, size=24, seed=1)
    assert torch.equal(s["images"], again["images"])
    r = data.shapes_scenes(6, size=24, seed=1, domain="randomized")
    # fixed domain has a grey background, randomized does not
    bg = s["images"].permute(0, 2, 3, 1)[s["masks"] == 0].mean(0)
    assert torch.allclose(bg, torch.full((3,), 0.5), atol=0.05)
    assert r["images"].permute(0, 2, 3, 1)[r["masks"] == 0].std(0).mean() > 0.1
    with pytest.raises(ValueError):
        data.shapes_scenes(1, size=4)
    with pytest.raises(ValueError, match="domain"):
        data.shapes_scenes(1, domain="random")
    with pytest.raises(ValueError, match="min_gap"):
        data.shapes_scenes(1, min_gap=-1)


def test_shapes_scenes_instances_boxes_and_polygons():
    s = data.shapes_scenes(40, size=48, max_shapes=4, seed=3)
    for i, scene in enumerate(s["factors"]):
        inst, cls = s["instances"][i], s["masks"][i]
        assert int(inst.max()) <= len(scene) and torch.equal(inst > 0, cls > 0)
        for k, o in enumerate(scene):
            v = inst == k + 1
            assert (cls[v] == data.SHAPE_CLASSES.index(o["shape"])).all()
            if o["box"] is None:
                assert not v.any() and o["visible"] == 0
                continue
            ys, xs = torch.nonzero(v, as_tuple=True)
            assert o["box"] == (xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1)
            assert 0 < o["visible"] <= 1
            # every visible pixel lies inside the shape's outline (up to half a pixel)
            poly = np.array(o["polygon"])
            assert (xs.min() >= poly[:, 0].min() - 0.5) and (xs.max() <= poly[:, 0].max() + 0.5)
            assert (ys.min() >= poly[:, 1].min() - 0.5) and (ys.max() <= poly[:, 1].max() + 0.5)
    assert {len(o["polygon"]) for f in s["factors"] for o in f} == {16, 4, 3}
    # the last shape painted is never hidden
    assert all(f[-1]["visible"] == 1.0 for f in s["factors"])


def test_shapes_scenes_min_gap_keeps_shapes_apart():
    s = data.shapes_scenes(60, size=32, max_shapes=4, seed=0, min_gap=1)
    grow = torch.nn.MaxPool2d(3, stride=1, padding=1)
    for i, scene in enumerate(s["factors"]):
        inst = s["instances"][i]
        assert all(o["visible"] == 1.0 for o in scene)
        for k in range(len(scene)):
            near = grow((inst == k + 1).float()[None, None])[0, 0] > 0
            assert not (near & (inst > 0) & (inst != k + 1)).any()
    assert sum(len(f) for f in s["factors"]) > 60 * 1.5  # most shapes still find room


def test_shapes_scenes_photo_domain_is_shifted():
    fixed = data.shapes_scenes(30, size=32, seed=2)
    photo = data.shapes_scenes(30, size=32, seed=2, domain="photo")
    bg = photo["images"].permute(0, 2, 3, 1)[photo["masks"] == 0]
    assert bg.std(0).mean() > 0.1  # photographs are not flat
    assert not torch.equal(fixed["images"], photo["images"])
    assert torch.equal(photo["images"], data.shapes_scenes(30, size=32, seed=2, domain="photo")["images"])


def test_gaussian_mixture():
    x, lab, centres = data.gaussian_mixture(800, modes=8, std=0.01, seed=0)
    assert x.shape == (800, 2) and centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    assert (x - centres[lab]).norm(dim=1).max() < 0.1
    _, _, grid = data.gaussian_mixture(10, modes=9, layout="grid")
    assert grid.shape == (9, 2)
    with pytest.raises(ValueError):
        data.gaussian_mixture(10, modes=8, layout="grid")
    with pytest.raises(ValueError):
        data.gaussian_mixture(10, layout="spiral")


def test_date_pairs_are_correct_iso_dates():
    pairs = data.date_pairs(50, seed=3)
    assert len(pairs) == 50 and pairs == data.date_pairs(50, seed=3)
    for text, iso in pairs:
        d = dt.date.fromisoformat(iso)
        assert str(d.year) in text
    assert len({t for t, _ in pairs}) > 40
    fr = data.date_pairs(5, locales=("fr_FR",), formats=("long",), start=dt.date(2017, 3, 9), end=dt.date(2017, 3, 9))
    assert fr[0] == ("9 mars 2017", "2017-03-09")


def test_date_words_format():
    d = dt.date(2037, 12, 27)
    assert data.format_date_words(d, "en_US") == "Sunday, the twenty-seventh of December, two thousand and thirty-seven"
    assert data.format_date_words(d, "fr_FR") == "dimanche vingt-sept décembre deux mille trente-sept"
    with pytest.raises(ValueError, match="locale"):
        data.format_date_words(d, "ja_JP")


def test_date_task_is_well_posed_and_split_by_date():
    task = data.date_task(3000, 500, seed=1)
    assert len(task["train"]) == 3000 and len(task["test"]) == 500
    assert task == data.date_task(3000, 500, seed=1)
    styled = data.date_task(3000, 500, seed=1, styles=True)
    assert styled["train"] == task["train"] and styled["test"] == task["test"]
    assert len(styled["train_styles"]) == 3000 and len(styled["test_styles"]) == 500
    for (src, tgt), (loc, fmt) in zip(styled["test"], styled["test_styles"]):
        assert loc in data.DATE_LOCALES and fmt in data.DATE_FORMATS
        day = dt.date.fromisoformat(tgt)
        assert src == data.date_pairs(1, locales=(loc,), formats=(fmt,), start=day, end=day)[0][0]
    assert not {t for _, t in task["train"]} & {t for _, t in task["test"]}  # no date on both sides
    assert max(len(s) for s, _ in task["train"]) > 60  # the spelled-out format makes long inputs
    for src, iso in task["test"][:50]:
        assert dt.date(1950, 1, 1) <= dt.date.fromisoformat(iso) <= dt.date(2049, 12, 31)
    # No string maps to two dates, for every locale and format: every day of two years (all
    # day/month pairs, a leap day included) and one day of every year in the 100-year window.
    days = [dt.date(1999, 1, 1) + dt.timedelta(days=k) for k in range(731)] + [dt.date(y, 2, 28) for y in range(1950, 2050)]
    pairs = [(data.text._render(d, f, loc), d.isoformat()) for loc in data.DATE_LOCALES for f in data.DATE_FORMATS for d in days]
    data.check_unambiguous(pairs)
    with pytest.raises(ValueError, match="ambiguous"):
        data.check_unambiguous([("9/3/17", "2017-09-03"), ("9/3/17", "2017-03-09")])
    with pytest.raises(ValueError, match="short"):
        data.date_task(10, 10, formats=("short",))
    with pytest.raises(ValueError, match="n_train"):
        data.date_task(40000, 1000)


def test_date_length_buckets_edges():
    lengths = [0, 19, 20, 39, 40, 59, 60, 200]
    assert data.date_length_bucket(lengths).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(data.DATE_LENGTH_BUCKETS) == len(data.DATE_BUCKET_KEYS) == 4


def test_char_vocab_round_trip_padding_and_unknowns():
    vocab = data.CharVocab(["9 mars 2017", "2017-03-09"])
    assert len(vocab) == 4 + len(set("9 mars 2017-03-09"))
    ids = vocab.encode("mars", bos=True, eos=True)
    assert ids[0] == vocab.BOS and ids[-1] == vocab.EOS and vocab.decode(ids) == "mars"
    assert vocab.encode("mÄrs")[1] == vocab.UNK and vocab.decode(vocab.encode("mÄrs")) == "m?rs"
    batch = vocab.batch(["2017", "9 mars"], eos=True)
    assert batch.shape == (2, 7) and batch.dtype.is_floating_point is False
    assert batch[0, 5:].tolist() == [vocab.PAD, vocab.PAD] and batch[0, 4] == vocab.EOS
    assert [vocab.decode(r) for r in batch] == ["2017", "9 mars"]
    assert vocab.decode([vocab.encode("20")[0], vocab.EOS, vocab.encode("1")[0]]) == "2"


def test_number_pairs():
    pairs = data.number_pairs(20, seed=0)
    assert all(t.isdigit() and not w.isdigit() for w, t in pairs)
    (w, t), = data.number_pairs(1, langs=("fr",), max_value=0)
    assert (w, t) == ("zéro", "0")
    assert data.number_pairs(3, words_first=False, seed=1)[0][0].isdigit()


def test_text_corpus_is_real_english():
    docs = data.text_corpus(1790, 1800)
    assert docs[0]["year"] == 1790 and "Fellow-Citizens" in docs[0]["text"]
    assert all(1790 <= d["year"] <= 1800 for d in docs)
    words = sum(len(d["text"].split()) for d in data.text_corpus())
    assert words > 1_500_000
    with pytest.raises(ValueError):
        data.text_corpus(1900, 1800)


# ----------------------------------------------------------------------------- downloads


@pytest.fixture()
def local_server(tmp_path):
    """Serve tmp_path/www on loopback, like a download host."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _use_manifest(monkeypatch, tmp_path, body):
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)
    (d / "manifest.toml").write_text(body)
    monkeypatch.setenv("COURSE_DATA_DIR", str(d))
    return d


def test_fetch_verifies_and_refetches_corrupt_files(tmp_path, monkeypatch, local_server):
    www, url = local_server
    payload = b"tiny data set\n" * 100
    (www / "set.txt").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    d = _use_manifest(monkeypatch, tmp_path, f'[tiny]\nkind = "download"\nurl = "{url}/set.txt"\nsha256 = "{sha}"\n'
                                           'source = "test"\nlicense = "CC0"\nsize = "1 KB"\n')
    path = data.fetch("tiny")
    assert path.read_bytes() == payload and path.parent == d / "downloads"
    path.write_bytes(b"corrupted")  # a damaged cache is fetched again, never used
    assert data.fetch("tiny").read_bytes() == payload


def test_fetch_refuses_a_download_that_does_not_verify(tmp_path, monkeypatch, local_server):
    www, url = local_server
    (www / "set.txt").write_bytes(b"not what the manifest promised")
    _use_manifest(monkeypatch, tmp_path, f'[tiny]\nkind = "download"\nurl = "{url}/set.txt"\nsha256 = "{"0" * 64}"\n')
    with pytest.raises(data.DownloadError, match="SHA-256"):
        data.fetch("tiny")
    assert not list((tmp_path / "data" / "downloads").glob("set.txt"))


def test_fetch_offline_message(tmp_path, monkeypatch):
    _use_manifest(monkeypatch, tmp_path, f'[tiny]\nkind = "download"\nurl = "http://127.0.0.1:9/none.txt"\nsha256 = "{"0" * 64}"\n')
    with pytest.raises(data.DownloadError, match="offline"):
        data.fetch("tiny")


def test_fetch_unknown_or_not_a_download(tmp_path, monkeypatch):
    with pytest.raises(KeyError, match="not in datasets/manifest.toml"):
        data.fetch("nope")
    with pytest.raises(ValueError, match="not a download"):
        data.fetch("digits")
