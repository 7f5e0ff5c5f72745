import json

import numpy as np
import pytest
import torch

from course_utils import checks, record
from course_utils.checks import NotYet


@pytest.fixture(autouse=True)
def _clean():
    checks.reset_milestones()
    yield
    checks.reset_milestones()


def test_check_passes_and_fails_with_hint(capsys):
    checks.check(True, "no")
    assert "✓" in capsys.readouterr().out
    with pytest.raises(NotYet, match="Hint: try harder"):
        checks.check(False, "not yet", hint="try harder")


def test_check_close_reports_worst_element():
    checks.check_close(torch.tensor([1.0, 2.0]), [1.0, 2.0], "x")
    checks.check_close(np.float64(0.5), 0.5, "y")
    with pytest.raises(NotYet, match=r"element 1 .* 2\.5.* expected 2"):
        checks.check_close([1.0, 2.5], [1.0, 2.0], "x")
    with pytest.raises(NotYet, match="None"):
        checks.check_close(None, [1.0], "x")
    with pytest.raises(NotYet, match="not a number"):
        checks.check_close([None, None], [1.0, 2.0], "x")
    with pytest.raises(NotYet, match="has 1 values, expected 2"):
        checks.check_close([1.0], [1.0, 2.0], "x")
    with pytest.raises(NotYet):
        checks.check_close([float("nan")], [1.0], "x")


def test_check_close_accepts_every_container_and_refuses_text(capsys):
    checks.check_close(torch.tensor([True, False]), [1, 0], "bools")
    checks.check_close([torch.tensor(1.0), torch.tensor(2.0)], np.array([1.0, 2.0]), "a list of tensors")
    checks.check_close((torch.tensor([1.0, 2.0]), 3), [1, 2, 3], "a tuple of a tensor and a number")
    big = torch.randn(64, 3, 16, 16)
    checks.check_close(big, big.double().numpy(), "a large tensor against an array")
    assert "(49152 values)" in capsys.readouterr().out
    with pytest.raises(NotYet, match="at element 1 you have nan"):
        checks.check_close([1.0, float("nan"), 5.0], [1.0, 2.0, 3.0], "nan")
    with pytest.raises(NotYet, match="not a number"):
        checks.check_close("abc", [1.0, 2.0, 3.0], "text")


def test_check_shape():
    checks.check_shape(torch.zeros(2, 3), (2, None), "t")
    with pytest.raises(NotYet, match=r"shape \(2, 3\), expected \(3, 2\)"):
        checks.check_shape(torch.zeros(2, 3), (3, 2), "t")
    with pytest.raises(NotYet, match="t is None: the TODO has not been filled in yet"):
        checks.check_shape(None, (2, 3), "t")
    with pytest.raises(NotYet, match="should be a tensor"):
        checks.check_shape([1, 2], (2,), "t")


def test_milestones_report_margins_and_assert_at_the_end(capsys):
    checks.milestone("acc", 0.97, 0.95)
    checks.milestone("loss", 0.30, 0.25, op="<=")
    ms = checks.milestones()
    assert ms["acc"]["met"] and ms["acc"]["margin"] == pytest.approx(0.02)
    assert not ms["loss"]["met"] and ms["loss"]["margin"] == pytest.approx(-0.05)
    checks.assert_milestones(smoke=True)  # reported, not asserted
    assert "not asserted" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="loss"):
        checks.assert_milestones()


def test_expected_milestone_never_recorded_fails():
    checks.milestone("acc", 1.0, 0.5)
    with pytest.raises(AssertionError, match="never recorded"):
        checks.assert_milestones(expected=["acc", "other"])
    checks.assert_milestones(expected=["acc"])


def test_bad_op():
    with pytest.raises(ValueError):
        checks.milestone("x", 1, 1, op="==")


def test_metric_roundtrip_through_notebook_json(capsys):
    assert record.metric("steps", np.int64(12), unit="steps") is None
    rec = record._record("steps", np.int64(12), unit="steps")
    assert rec == {"name": "steps", "value": 12, "unit": "steps"}
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {record.MIME: rec, "text/plain": "x"}}]},
        {"cell_type": "code", "outputs": [
            {"output_type": "display_data", "data": {record.MIME: json.dumps({"name": "steps", "value": 13})}}]}]}
    assert record.read_metrics(nb)["steps"]["value"] == 13
    with pytest.raises(ValueError):
        record.metric("", 1)
    with pytest.raises(TypeError):
        record.metric("obj", object())
    assert record._record("inf", float("inf"))["value"] == "inf"
