"""Fill pytest's cache of assertion-rewritten test modules once, before the workers start.

pytest rewrites the ``assert`` statements of every test module and conftest it imports and
keeps the result in ``__pycache__/*-pytest-*.pyc``, checked against a hash of the source. It
writes that cache only where bytecode may be written: with ``PYTHONDONTWRITEBYTECODE`` set (as
on the CI machine) every pytest-xdist worker rewrote all ~320 modules again while collecting,
~9.6 s of its ~20 s collection CPU (measured 2026-12-07, docs/testing.md).

``python3 dev.py test`` loads this plugin in a pytest process of its own, beside mypy (which
keeps one core busy and leaves the other idle): it rewrites the modules the workers will
rewrite (pytest's own ``_should_rewrite`` decides which), writes them to pytest's cache and
stops; nothing is imported or collected. The workers then read the cached code, which is what
pytest does whenever a cache exists, so they run exactly the same rewritten tests.

It uses pytest's private rewrite functions (pytest is pinned in constraints.txt); when those
change, the plugin says so and ``dev.py test`` goes on without the cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["pytest_cmdline_main"]


def _candidates(config: pytest.Config) -> list[Path]:
    roots = [Path(config.rootpath) / p for p in config.getini("testpaths")] or [Path(config.rootpath)]
    return sorted({path for root in roots for path in root.rglob("*.py") if "__pycache__" not in path.parts})


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int:
    """Rewrite and cache every module pytest would rewrite under ``testpaths``, then stop."""
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _read_pyc,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,
    )

    state = config.stash.get(assertstate_key, None)
    hook = state.hook if state is not None else None
    if state is None or hook is None:
        print("pytest's assertion-rewrite cache: not written (assertions are not rewritten: --assert=plain)")
        return 0
    written = cached = 0
    for path in _candidates(config):
        name = ".".join(path.relative_to(config.rootpath).with_suffix("").parts)
        # The import hook's own test: conftests, files matching python_files, registered modules.
        if not hook._should_rewrite(name, str(path), state):
            continue
        pyc = get_cache_dir(path) / (path.name[:-3] + PYC_TAIL)
        if _read_pyc(path, pyc) is not None:  # still matches its source: pytest will use it as it is
            cached += 1
            continue
        source_hash, code = _rewrite_test(path, config)
        pyc.parent.mkdir(exist_ok=True)
        written += _write_pyc(state, code, source_hash, pyc)
    print(f"pytest's assertion-rewrite cache: {written} modules written, {cached} up to date")
    return 0
