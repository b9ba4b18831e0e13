"""Recorded CSV files: wide and long form, the bundled Ciliwung record, and bad files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from schemas import Network
from service.cli import main
from service.recorded import WIB, Columns, RecordingError, parse_recording, read_recording

WIDE = """Waktu,Katulampa_cm,Depok_cm,catatan
2025-03-02 21:00,160,165,hujan
2025-03-02 22:00,190,,hujan
02/03/2025 23:00,110,225,
"""
LONG = """time,station_id,value,status
2025-03-02T21:00:00+07:00,katulampa,1.6,Siaga 2
2025-03-02T22:00:00+07:00,katulampa,1.9,Siaga 2
2025-03-02T21:00:00+07:00,arg-gunung-mas,"12,5",
2025-03-02T23:00:00+07:00,katulampa,"2,05",Awas
"""


def test_wide_form_with_mapping_flags_naive_times_in_wib_and_gaps_skipped(
    network: Network,
) -> None:
    rec = parse_recording(WIDE, network, Columns(
        mapping={"katulampa": "Katulampa_cm", "depok": "Depok_cm"}))
    assert rec.form == "wide" and rec.rows == 3
    assert [(r["station_id"], r["observed_at"], r["value"]) for r in rec.readings] == [
        ("depok", "2025-03-02T21:00:00+07:00", 165.0),
        ("katulampa", "2025-03-02T21:00:00+07:00", 160.0),
        ("katulampa", "2025-03-02T22:00:00+07:00", 190.0),  # Depok's empty cell: a gap
        ("depok", "2025-03-02T23:00:00+07:00", 225.0),
        ("katulampa", "2025-03-02T23:00:00+07:00", 110.0),
    ]
    assert all(r["kind"] == "water_level" and r["unit"] == "cm" for r in rec.readings)


def test_long_form_metres_rainfall_decimal_comma_statuses_and_a_window(
    network: Network,
) -> None:
    rec = parse_recording(LONG, network, Columns(
        status_col="status", unit="m", end=datetime(2025, 3, 2, 23, tzinfo=WIB)))
    assert rec.form == "long"
    assert [(r["station_id"], r["value"], r["unit"]) for r in rec.readings] == [
        ("arg-gunung-mas", 12.5, "mm"), ("katulampa", 1.6, "m"), ("katulampa", 1.9, "m")]
    assert rec.readings[0]["interval_s"] == 3600
    assert rec.series["katulampa"] == [(datetime(2025, 3, 2, 21, tzinfo=WIB), 160.0),
                                       (datetime(2025, 3, 2, 22, tzinfo=WIB), 190.0)]
    assert [lvl for _, lvl in rec.statuses["katulampa"]] == [2, 2]  # 23:00 is outside


def test_the_bundled_ciliwung_record_is_recognised_without_flags(
    network: Network, ciliwung_csv: Path
) -> None:
    rec = read_recording(ciliwung_csv, network, Columns(
        start=datetime(2025, 3, 2, tzinfo=WIB), end=datetime(2025, 3, 5, tzinfo=WIB)))
    assert rec.rows == 31_224  # every row was checked, not only the window
    assert rec.columns == {"katulampa": "Katulampa (air)", "depok": "Depok (air)",
                           "manggarai": "Manggarai (air)"}
    assert len(rec.readings) == 3 * 72
    depok = dict(rec.series["depok"])
    assert depok[datetime(2025, 3, 3, 1, tzinfo=WIB)] == 380.0
    assert depok[datetime(2025, 3, 4, 1, tzinfo=WIB)] == 350.0


@pytest.mark.parametrize(("text", "columns", "message"), [
    ("Waktu,Katulampa_cm\n2025-03-02 21:00,160\n", Columns(
        mapping={"katulampa": "Katulampa"}),
     "line 1, column 'Katulampa': --map katulampa=Katulampa: no such column"),
    ("Tanggal,Katulampa (air)\n2025-03-02 21:00:00,160\nkemarin,170\n", Columns(),
     "line 3, column 'Tanggal': unparseable timestamp 'kemarin'"),
    (LONG.replace("arg-gunung-mas", "atlantis"), Columns(),
     "line 4, column 'value': unknown station 'atlantis' (not in the network)"),
    ("Tanggal,Depok (air)\n2025-03-02 21:00:00,160\n2025-03-02 22:00:00,tinggi\n", Columns(),
     "line 3, column 'Depok (air)': not a number: 'tinggi'"),
    ("Tanggal,Depok (air)\n2025-03-02 21:00:00,160\n2025-03-02 21:00:00,170\n", Columns(),
     "line 3, column 'Depok (air)': second reading of depok"),
    ("Tanggal,Suhu\n2025-03-02 21:00:00,27\n", Columns(), "no column names a station"),
    ("Tanggal,Depok (air)\n2025-03-02 21:00:00,160,9\n", Columns(),
     "line 2: 3 fields where the header has 2"),
])
def test_bad_files_are_refused_naming_line_and_column(
    network: Network, text: str, columns: Columns, message: str
) -> None:
    with pytest.raises(RecordingError) as caught:
        parse_recording(text, network, columns, name="bad.csv")
    assert message in str(caught.value)
    assert str(caught.value).endswith("nothing was sent")


def test_replay_of_a_bad_file_exits_2_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    good_rows = "".join(f"2025-03-02 {h:02d}:00:00,{100 + h}\n" for h in range(20))
    bad.write_text("Tanggal,Depok (air)\n" + good_rows + "2025-03-02 21:00:00,banjir\n")
    # nothing listens on port 9: had it tried to send, the message would say so
    code = main(["replay", str(bad), "--url", "http://127.0.0.1:9", "--token", "x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.csv: line 22, column 'Depok (air)': not a number: 'banjir'" in err
    assert "cannot reach" not in err
