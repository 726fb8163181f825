"""Without --unisafe-model the plugin adds nothing, writes nothing, imports nothing heavy."""

from __future__ import annotations

import pytest

HEAVY = ("unisafe_pytest.pytest_plugin.session", "unisafe_pytest.suites",
         "unisafe_pytest.report.terminal", "unisafe_pytest.schema",
         "unisafe_pytest.adapters.base", "unisafe_pytest.judges.base",
         "unisafe_pytest.adapters.openai_chat", "unisafe_pytest.metrics.unisafe", "httpx",
         "pydantic", "PIL", "tabulate", "jsonlines")


def test_inactive_run_adds_no_items_and_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("unisafe*")
    assert not (pytester.path / ".unisafe").exists()


def test_inactive_run_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import sys
        def test_modules():
            loaded = [m for m in {HEAVY!r} if m in sys.modules]
            assert loaded == []
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_inactive_run_imports_nothing_heavy_up_to_exit(pytester: pytest.Pytester) -> None:
    """Checked at the process's exit, so pytest_unconfigure's imports count too (the plugin
    once imported the session there, and the package top imported pydantic and the schema,
    on every run of a team's suite). Failed on the old code."""
    seen = pytester.path / "loaded.txt"
    pytester.makeconftest(f"""
        import atexit, sys

        def _write():
            loaded = [m for m in {HEAVY!r} if m in sys.modules]
            with open({str(seen)!r}, "w") as f:
                f.write(" ".join(loaded) or "none")

        atexit.register(_write)
    """)
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert seen.read_text() == "none"


def test_the_public_api_is_imported_on_first_use() -> None:
    import unisafe_pytest
    from unisafe_pytest.adapters.base import Adapter
    from unisafe_pytest.schema import Verdict

    assert unisafe_pytest.Adapter is Adapter and unisafe_pytest.Verdict is Verdict
    assert set(unisafe_pytest.__all__) <= set(dir(unisafe_pytest))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(unisafe_pytest, "nope".strip())


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*multimodal safety evaluation*", "*--unisafe-model=NAME*"])


def test_a_conftest_model_fixture_activates_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def unisafe_model():
            return lambda instance: "I'm sorry, I can't help with that."
    """)
    result = pytester.runpytest("--unisafe-suite=smoke", "--unisafe-task=TT", "-q")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*UniSAFE: conftest:unisafe_model*"])


def test_library_layers_do_not_import_pytest(pytester: pytest.Pytester) -> None:
    script = pytester.makepyfile(check="""
        import sys
        import unisafe_pytest.judges.panel, unisafe_pytest.suites, unisafe_pytest.metrics.unisafe
        import unisafe_pytest.report.terminal, unisafe_pytest.cli, unisafe_pytest.runtime.instance
        print("PYTEST LOADED" if "pytest" in sys.modules else "PYTEST ABSENT")
    """)
    result = pytester.run(sys_executable(), str(script))
    result.stdout.fnmatch_lines(["PYTEST ABSENT"])


def sys_executable() -> str:
    import sys

    return sys.executable
