"""CLI logging: libraries stay quiet unless --debug, known harmless warnings are dropped, --debug works anywhere."""

from __future__ import annotations

import logging

import pytest

from auditor.cli.logs import hoist_debug, setup_logging


def test_debug_after_the_command_moves_to_the_front() -> None:
    assert hoist_debug(["scan", "--debug", "-q"]) == ["--debug", "scan", "-q"]
    assert hoist_debug(["--debug", "scan"]) == ["--debug", "scan"]
    assert hoist_debug(["scan", "-q"]) == ["scan", "-q"]
    assert hoist_debug(["query", "render", "x", "--", "--debug"]) == ["query", "render", "x", "--", "--debug"]


def test_library_loggers_stay_at_warning_and_harmless_warnings_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging(debug=False)
    weasyprint = logging.getLogger("weasyprint")
    weasyprint.info("rendering step")
    logging.getLogger("fontTools.subset").info("subsetting")
    weasyprint.warning('Unable to subset "%s" with HarfBuzz', "DejaVu Sans")
    weasyprint.warning("Ignored `foo: bar` at 1:1, unknown property.")
    err = capsys.readouterr().err
    assert "rendering step" not in err and "subsetting" not in err and "HarfBuzz" not in err
    assert "WARNING weasyprint: Ignored `foo: bar` at 1:1, unknown property." in err
    setup_logging(debug=True)
    try:
        weasyprint.warning('Unable to subset "%s" with HarfBuzz', "DejaVu Sans")
        logging.getLogger("fontTools.subset").debug("subsetting")
        err = capsys.readouterr().err
        assert 'Unable to subset "DejaVu Sans" with HarfBuzz' in err and "subsetting" in err
    finally:
        setup_logging(debug=False)
    assert len([h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler"]) == 1
