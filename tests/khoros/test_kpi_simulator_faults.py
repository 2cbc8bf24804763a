"""The Khoros simulator's fault modes that move an export's rows and columns: their params."""

from __future__ import annotations

import pytest

from simulators.faults import FaultBoard, FaultError


def test_a_repeated_row_takes_same_or_changed_numbers_only():
    board = FaultBoard()
    board.add("export_download", "csv_row_repeated")
    board.add("export_download", "csv_row_repeated", params={"numbers": "changed"})
    with pytest.raises(FaultError, match=r"param numbers must be same \| changed, got .twice."):
        board.add("export_download", "csv_row_repeated", params={"numbers": "twice"})
    with pytest.raises(FaultError, match="does not apply"):
        board.add("export_status", "csv_row_repeated")


@pytest.mark.parametrize("mode", ["csv_columns_swapped", "csv_column_inserted"])
def test_moved_columns_take_no_params(mode):
    board = FaultBoard()
    board.add("export_download", mode)
    with pytest.raises(FaultError, match=f"{mode} takes no param"):
        board.add("export_download", mode, params={"columns": "101,103"})
