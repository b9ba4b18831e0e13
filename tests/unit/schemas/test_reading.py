from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import ReadingIn

BASE = {"station_id": "katulampa", "observed_at": "2019-04-25T20:20:00+07:00",
        "kind": "water_level", "value": 141.0, "unit": "cm"}


def test_the_design_examples_validate() -> None:
    level = ReadingIn.model_validate(BASE)
    assert level.observed_at.utcoffset() is not None
    rain = ReadingIn.model_validate({
        "station_id": "arg-gunung-mas", "observed_at": "2025-03-02T21:00:00+07:00",
        "kind": "rainfall", "value": 12.5, "unit": "mm", "interval_s": 3600})
    assert rain.normalized().unit == "mm"


def test_metres_become_centimetres() -> None:
    reading = ReadingIn.model_validate({**BASE, "value": 1.41, "unit": "m"}).normalized()
    assert reading.value == pytest.approx(141.0)
    assert reading.unit == "cm"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"observed_at": "2019-04-25T20:20:00"}, "timezone"),
        ({"value": float("nan")}, "finite"),
        ({"value": float("inf")}, "finite"),
        ({"value": 1e308}, "less than or equal"),
        ({"unit": "ft"}, "'cm', 'm' or 'mm'"),
        ({"unit": "mm"}, "does not fit kind"),
        ({"kind": "rainfall", "unit": "mm"}, "needs interval_s"),
        ({"interval_s": 60}, "rainfall only"),
        ({"station_id": "Katulampa Bogor"}, "pattern"),
        ({"colour": "brown"}, "Extra inputs"),
    ],
)
def test_bad_readings_say_what_is_wrong(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReadingIn.model_validate({**BASE, **change})
