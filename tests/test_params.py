import pytest

from course_utils import params
from course_utils.params import Bool, Choice, Float, Int, ParameterError, Str, validate

CORE_OK = {"SEED": 0, "DEVICE": "auto", "SMOKE": False}


def test_validate_accepts_good_values(capsys):
    out = validate({**CORE_OK, "EPOCHS": 3, "LR": 1}, EPOCHS=Int(min=1), LR=Float(min=0))
    assert out == {"SEED": 0, "DEVICE": "auto", "SMOKE": False, "EPOCHS": 3, "LR": 1.0}
    assert "Parameters OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("SEED", "abc", "SEED = 'abc'"),
        ("SEED", -1, "SEED = -1"),
        ("SEED", 1.5, "SEED = 1.5"),
        ("SEED", True, "SEED = True"),
        ("DEVICE", "tpu", "DEVICE = 'tpu'"),
        ("SMOKE", "yes", "SMOKE = 'yes'"),
        ("SMOKE", 1, "SMOKE = 1"),
    ],
)
def test_core_parameters_named_in_errors(name, value, fragment):
    with pytest.raises(ParameterError) as err:
        validate({**CORE_OK, name: value})
    msg = str(err.value)
    assert fragment in msg and "expected" in msg


def test_lesson_rules_and_allowed_values_in_message():
    with pytest.raises(ParameterError, match=r"EPOCHS = -1 .*an integer in \[1, 50\]"):
        validate({**CORE_OK, "EPOCHS": -1}, EPOCHS=Int(min=1, max=50))
    with pytest.raises(ParameterError, match=r"LR = 0 .*\(0"):
        validate({**CORE_OK, "LR": 0}, LR=Float(min=0, min_inclusive=False))
    with pytest.raises(ParameterError, match="one of 'digits', 'mnist'"):
        validate({**CORE_OK, "DATASET": "cifar"}, DATASET=Choice(["digits", "mnist"]))


def test_missing_parameter_is_an_error():
    with pytest.raises(ParameterError, match="EPOCHS is missing"):
        validate(CORE_OK, EPOCHS=Int())
    with pytest.raises(ParameterError, match="SMOKE is missing"):
        validate({"SEED": 0, "DEVICE": "cpu"})


def test_rule_edge_cases():
    assert Float(max=1.0).check("P", 1.0) == 1.0
    with pytest.raises(ParameterError):
        Float(max=1.0, max_inclusive=False).check("P", 1.0)
    with pytest.raises(ParameterError):
        Float().check("P", float("nan"))
    with pytest.raises(ParameterError):
        Float().check("P", True)
    with pytest.raises(ParameterError):
        Choice([0, 1]).check("P", True)
    assert Choice([True, False]).check("P", True) is True
    assert Bool().check("P", False) is False
    assert Str().check("P", "x") == "x"
    with pytest.raises(ParameterError):
        Str().check("P", "  ")
    with pytest.raises(TypeError):
        validate(CORE_OK, X=int)


def test_core_rules_are_exported():
    assert set(params.CORE) == {"SEED", "DEVICE", "SMOKE"}
