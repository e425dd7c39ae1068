"""Shared fixtures: every test gets its own ledger, config and sysfs root.

The fast loop (``make test-fast``: ``-m "not slow"`` with ``HYPOTHESIS_PROFILE=fast``)
leaves out what is slow by nature: the modules below, which start real engines (servers,
schedulers, frameworks, subprocesses), and any test marked ``slow`` where it stands.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# the fast loop's property tests: a handful of examples each. A test's own
# ``@settings(max_examples=...)`` would override the profile, so the fast profile's number is
# also a ceiling, applied below (``_cap_examples``); the full run keeps every test's own number.
FAST_MAX_EXAMPLES = 10
settings.register_profile("fast", max_examples=FAST_MAX_EXAMPLES, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)

# test modules (or folders) that are slow as a whole: real engines, frameworks, subprocesses
SLOW_PATHS = (
    "tests/benchmarks/",
    "tests/e2e/",
    "tests/envaudit/test_track_integration.py",  # audits the live venv: slower as it grows
    "tests/exporters/test_prometheus_server.py",
    "tests/exporters/test_examples.py",
    "tests/golden/",
    "tests/integrations/test_flower.py",
    "tests/integrations/test_huggingface.py",
    "tests/integrations/test_keras.py",
    "tests/integrations/test_lightning.py",
    "tests/integrations/test_mlflow.py",
    "tests/integrations/test_optuna.py",
    "tests/integrations/test_wandb.py",
    "tests/intensity/providers/test_providers_cli.py",  # whole `run`s against local HTTP servers
    "tests/serving/test_serving_e2e.py",
    "tests/store/test_postgres.py",
    "tests/store/test_postgres_merge.py",
    "tests/store/test_postgres_spool.py",
)


# single tests (or parameters) that take a second or more: a real server, a subprocess, a large
# file, a table scan, matplotlib drawing, the CLI fuzzing harness (hundreds of CLI calls). What
# they cover keeps fast tests of its own: tests/cli (in process), the pure chart maths, the
# exporters' in-process tests, the providers' unit tests.
SLOW_IDS = (
    "[env-audit-",
    "[env-audit]",
    "[postgres",
    "-postgres]",
    "postgres-hour-aligned]",
    "tests/store/test_device_hours.py::test_postgres_sums_equal_the_reference",
    "tests/store/test_sample_cells.py::test_postgres_keeps_the_same_cells_as_sqlite",
    "test_fast_bundled_match_agrees_with_the_full_table",
    "test_bad_line_2_of_a_large_file_is_refused_without_reading_the_rest",
    "test_a_standby_takes_over_when_the_measurer_stops",
    "test_four_ranks_count_the_node_once",
    "test_reprice_with_midpoint_step_gives_300",
    # subprocesses
    "tests/cli/test_run_cli.py::",
    "tests/test_tracking.py::test_program_exiting_without_stop_keeps_its_run",
    "tests/exporters/test_prometheus.py::test_run_command_",
    # the fuzzing harness: ~900 CLI calls (its base command lines stay in the fast loop)
    "tests/fuzz/test_cli_fuzz.py::test_quick_hostile_values",
    # matplotlib drawing (the HTML page without charts, and the chart maths, stay fast)
    "tests/report/test_charts.py::test_charts_render_and_escape_user_text",
    "tests/report/test_charts.py::test_unknown_uncertainty_draws_no_error_bar",
    "tests/report/test_html.py::test_hostile_strings_are_escaped_everywhere",
    "tests/report/test_html.py::test_report_is_self_contained_and_complete",
    "tests/report/test_html.py::test_charts_are_inline_svg",
    "tests/report/test_html.py::test_a_failing_chart_is_reported_not_fatal",
    "tests/report/test_html.py::test_several_runs_get_an_overview",
    "tests/report/test_html.py::test_leaderboard_page",
    "tests/report/test_html.py::test_intervals_use_one_unit_for_both_ends",
    "tests/report/test_html.py::test_span_and_sci_intervals_are_shown",
    "tests/report/test_html.py::test_a_tiny_run_is_not_shown_in_kwh",
    "tests/report/test_html.py::test_notes_list_every_warning_escaped",
    "tests/report/test_html.py::test_a_short_run_is_marked_on_the_intensity_chart",
    "tests/cli/test_leaderboard_cli.py::test_html_file",
    "tests/test_plugins.py::test_report_format_from_a_plugin_and_from_the_output_suffix",
    # large inputs, pandas, the contract suite run twice over (its checks run one by one too)
    "tests/intensity/test_series_csv_streaming.py::test_a_year_of_hourly_data_costs_a_few_mb",
    "tests/report/test_frame.py::test_runs_frame_from_ledger_path_and_footprints",
    "tests/store/test_ledger_contract.py::test_the_whole_contract_in_one_call[sqlite]",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = pytest.mark.slow
    for item in items:
        # node ids are relative to the rootdir, the repository: "tests/cli/test_x.py::test_y"
        if item.nodeid.startswith(SLOW_PATHS) or any(k in item.nodeid for k in SLOW_IDS):
            item.add_marker(slow)
        if PROFILE == "fast":
            _cap_examples(item)


def _cap_examples(item: pytest.Item) -> None:
    """At most ``FAST_MAX_EXAMPLES`` examples for a property test, whatever its own settings."""
    test = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
    own = getattr(test, "_hypothesis_internal_use_settings", None)
    if own is not None and own.max_examples > FAST_MAX_EXAMPLES:
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            own, max_examples=FAST_MAX_EXAMPLES, deadline=None
        )


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's config or ledger, or the real environment's settings."""
    for name in list(__import__("os").environ):
        if name.startswith("CARBONLEDGER_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("CARBONLEDGER_LEDGER", str(tmp_path / "ledger.sqlite"))
    return tmp_path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    return SHARED_DATA
